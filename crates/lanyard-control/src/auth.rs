//! Principals, roles, permissions and API tokens.
//!
//! A token is 256 random bits, shown once at creation as `lyd_<base64url>`, and stored only as its SHA-256 hash.
//! Every request presents one; [`crate::ControlPlane::authenticate`] turns it into a [`Caller`], whose role grants
//! the permissions of [`Permission::granted_to`].

use std::fmt;

use base64::Engine as _;
pub use lanyard_core::Role;
use lanyard_core::SecretString;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// What a route needs. The names are the spec's (`connections:read`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// SHOW / DESCRIBE CONNECTION.
    ConnectionsRead,
    /// CREATE / ALTER / DROP CONNECTION.
    ConnectionsWrite,
    /// TEST CONNECTION.
    ConnectionsTest,
    /// SHOW / DESCRIBE VAULT and CREDENTIAL STORAGE, TEST CREDENTIAL STORAGE.
    VaultRead,
    /// CREATE / ALTER / DROP VAULT and CREDENTIAL STORAGE.
    VaultWrite,
    /// SHOW LINKS, SHOW CREATE LINK.
    LinksRead,
    /// CREATE / ALTER / DROP LINK.
    LinksWrite,
    /// SHOW PIPELINES.
    PipelinesRead,
    /// CREATE / START / STOP / DROP PIPELINE.
    PipelinesWrite,
    /// The audit log.
    AuditRead,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 10] = [
        Self::ConnectionsRead,
        Self::ConnectionsWrite,
        Self::ConnectionsTest,
        Self::VaultRead,
        Self::VaultWrite,
        Self::LinksRead,
        Self::LinksWrite,
        Self::PipelinesRead,
        Self::PipelinesWrite,
        Self::AuditRead,
    ];

    /// `connections:read`, …
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionsRead => "connections:read",
            Self::ConnectionsWrite => "connections:write",
            Self::ConnectionsTest => "connections:test",
            Self::VaultRead => "vault:read",
            Self::VaultWrite => "vault:write",
            Self::LinksRead => "links:read",
            Self::LinksWrite => "links:write",
            Self::PipelinesRead => "pipelines:read",
            Self::PipelinesWrite => "pipelines:write",
            Self::AuditRead => "audit:read",
        }
    }

    /// Whether `role` grants this permission: the admin everything, the operator every read plus
    /// `connections:test` and `pipelines:write`, the viewer reads only.
    pub const fn granted_to(self, role: Role) -> bool {
        match role {
            Role::Admin => true,
            Role::Operator => self.is_read() || matches!(self, Self::ConnectionsTest | Self::PipelinesWrite),
            Role::Viewer => self.is_read(),
        }
    }

    /// Whether this permission only reads.
    pub const fn is_read(self) -> bool {
        matches!(
            self,
            Self::ConnectionsRead | Self::VaultRead | Self::LinksRead | Self::PipelinesRead | Self::AuditRead
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: an authenticated principal and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The principal's name (recorded in the audit log).
    pub principal: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// A caller for in-process use (the CLI's offline admin commands, tests): the name is recorded in the audit log.
    pub fn local(principal: impl Into<String>, role: Role) -> Self {
        Self { principal: principal.into(), role }
    }

    /// Whether the caller holds `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        permission.granted_to(self.role)
    }
}

/// The prefix of every token Lanyard issues (so secret scanners can recognise them).
pub const TOKEN_PREFIX: &str = "lyd_";

/// A new random token: `lyd_` and 256 random bits in unpadded base64url.
pub fn generate_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    zeroize::Zeroize::zeroize(&mut bytes);
    SecretString::new(token)
}

/// The stored form of a token: lowercase hex SHA-256. A 256-bit random token needs no salt or slow hash.
pub fn hash_token(token: &str) -> String {
    // Into a buffer rather than `hex::encode`, which builds the string a `char` at a time (on every request).
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut hex).expect("32 bytes are 64 hex digits");
    std::str::from_utf8(&hex).expect("hex digits are ASCII").to_owned()
}

/// Checks the shape of a presented token before any lookup: printable ASCII, at most 256 bytes.
pub(crate) fn plausible_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 256 && token.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_the_spec_says() {
        for p in Permission::ALL {
            assert!(p.granted_to(Role::Admin));
            assert_eq!(p.granted_to(Role::Viewer), p.as_str().ends_with(":read"), "{p}");
        }
        let operator: Vec<_> = Permission::ALL.into_iter().filter(|p| p.granted_to(Role::Operator)).collect();
        assert!(operator.contains(&Permission::ConnectionsTest));
        assert!(operator.contains(&Permission::PipelinesWrite));
        assert!(!operator.contains(&Permission::ConnectionsWrite));
        assert!(!operator.contains(&Permission::VaultWrite));
        assert!(!operator.contains(&Permission::LinksWrite));
    }

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with(TOKEN_PREFIX));
        assert_eq!(a.expose_secret().len(), TOKEN_PREFIX.len() + 43);
        let hash = hash_token(a.expose_secret());
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(a.expose_secret()));
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn role_parse_errors_list_the_roles() {
        assert_eq!("Operator".parse::<Role>().unwrap(), Role::Operator);
        let error = "root".parse::<Role>().unwrap_err();
        assert_eq!(error.to_string(), "unknown role \"root\": use admin, operator, viewer");
    }
}
