//! Temporary directories, free ports and unique names.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// A uniquely named directory under the system temp dir, removed (with everything in it) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<temp>/lanyard-<tag>-<random>`.
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(&format!("lanyard-{tag}-")));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("lanyard-testsupport: cannot remove {}: {e}", self.path.display()),
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
///
/// Another process may take it before the caller binds it; the harnesses here that start servers on such a port
/// retry with another one when the bind fails.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    listener.local_addr().expect("a bound listener has an address").port()
}

/// `prefix` followed by 12 random lowercase hex digits: a name no other test (or test run) uses, for buckets,
/// secrets, users and databases on shared services.
pub fn unique_name(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &random[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dir_is_removed_on_drop() {
        let dir = TempDir::new("dirs-test");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/file"), "x").unwrap();
        let path = dir.path().to_owned();
        assert!(path.is_dir());
        assert!(path.file_name().unwrap().to_string_lossy().starts_with("lanyard-dirs-test-"));
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn free_port_can_be_bound() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn unique_names_differ() {
        let (a, b) = (unique_name("t_"), unique_name("t_"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
        assert!(a[2..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{a}");
    }
}
