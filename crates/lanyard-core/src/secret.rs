//! Types that hold secret material.
//!
//! Both types redact themselves in `Debug` and `Display` (they print `***`), zeroize their buffer on drop (through
//! [`secrecy`]), and do not implement `Serialize`: the only way to read the material is the explicitly named
//! `expose_secret` method, which makes every such place easy to find in review.

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretSlice};
use serde::{Deserialize, Deserializer};

use crate::options::REDACTED;

// Our types wrap `secrecy::SecretBox`, whose `Drop` zeroizes its content; that needs `Zeroize` on the content.
const _: fn() = || {
    fn zeroized_on_drop<T: zeroize::Zeroize + ?Sized>() {}
    zeroized_on_drop::<str>();
    zeroized_on_drop::<[u8]>();
};

/// A secret UTF-8 string: a password, a token, a credentials JSON document.
#[derive(Clone)]
pub struct SecretString(secrecy::SecretString);

impl SecretString {
    /// Takes ownership of `value`; the buffer is zeroized when the secret is dropped.
    pub fn new(value: impl Into<String>) -> Self {
        Self(secrecy::SecretString::from(value.into()))
    }

    /// The material. Every call site is a place where a secret leaves its box: keep them few and reviewed.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length of the material in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the material is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the material into a [`SecretBytes`].
    pub fn to_bytes(&self) -> SecretBytes {
        SecretBytes::new(self.expose_secret().as_bytes().to_vec())
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// Equality compares the material. It is meant for tests and AST comparison, not for authentication (it is not
/// constant-time; token checks compare hashes instead).
impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

/// Secret binary material: an encryption key, a certificate's private key, an opaque value from a backend.
#[derive(Clone)]
pub struct SecretBytes(SecretSlice<u8>);

impl SecretBytes {
    /// Takes ownership of `value`; the buffer is zeroized when the secret is dropped.
    pub fn new(value: Vec<u8>) -> Self {
        Self(SecretBox::from(value))
    }

    /// The material. Every call site is a place where a secret leaves its box.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// Length of the material in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the material is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The material as a [`SecretString`] if it is valid UTF-8. The error says only that it is not UTF-8.
    pub fn to_secret_string(&self) -> Option<SecretString> {
        std::str::from_utf8(self.expose_secret()).ok().map(SecretString::new)
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(value: Vec<u8>) -> Self {
        Self::new(value)
    }
}

/// Equality compares the material; not constant-time (see [`SecretString`]).
impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-7f3a9c-secret";

    #[test]
    fn debug_and_display_redact() {
        let s = SecretString::new(CANARY);
        let b = SecretBytes::new(CANARY.as_bytes().to_vec());
        for text in [format!("{s}"), format!("{s:?}"), format!("{s:#?}"), format!("{b}"), format!("{b:?}")] {
            assert_eq!(text, "***");
        }
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose_secret(), CANARY);
        assert_eq!(b.expose_secret(), CANARY.as_bytes());
        assert_eq!(b.to_secret_string().unwrap(), s);
        assert_eq!(s.to_bytes(), b);
    }

    #[test]
    fn deserializes_from_json() {
        let s: SecretString = serde_json::from_str(&format!("\"{CANARY}\"")).unwrap();
        assert_eq!(s.expose_secret(), CANARY);
    }
}
