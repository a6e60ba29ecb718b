//! Validated object names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest name accepted, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 128;

/// A validated, case-preserving display name of a catalog object (connection, vault entry, backend, link, pipeline,
/// database, principal).
///
/// Invariants: not empty, at most [`MAX_NAME_CHARS`] characters, no control characters, and no leading or trailing
/// whitespace. Names compare case-sensitively: `Prod` and `prod` are two names.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a string is not a valid [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("name must not be empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_CHARS`].
    #[error("name is {chars} characters long; the limit is {max}", max = MAX_NAME_CHARS)]
    TooLong {
        /// Length of the rejected name, in characters.
        chars: usize,
    },
    /// The name contains a control character (newline, tab, NUL, …).
    #[error("name contains control character U+{code:04X} at character {index}")]
    ControlCharacter {
        /// The offending character's code point.
        code: u32,
        /// Zero-based character index of the offending character.
        index: usize,
    },
    /// The name starts or ends with whitespace.
    #[error("name must not start or end with whitespace")]
    SurroundingWhitespace,
}

impl Name {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        Self::validate(&name)?;
        Ok(Self(name))
    }

    /// Checks `name` against the invariants without allocating.
    pub fn validate(name: &str) -> Result<(), NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        let mut chars = 0;
        for (index, c) in name.chars().enumerate() {
            if c.is_control() {
                return Err(NameError::ControlCharacter { code: c as u32, index });
            }
            chars += 1;
        }
        if chars > MAX_NAME_CHARS {
            return Err(NameError::TooLong { chars });
        }
        if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
            return Err(NameError::SurroundingWhitespace);
        }
        Ok(())
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the name, returning the string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for Name {
    type Error = NameError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_and_unicode_names() {
        for ok in ["prod_pg", "OS Keychain", "Ünïcødé-名前", "a", "select * from x"] {
            assert_eq!(Name::new(ok).unwrap().as_str(), ok);
        }
        assert_eq!(Name::new("x".repeat(MAX_NAME_CHARS)).unwrap().as_str().len(), MAX_NAME_CHARS);
    }

    #[test]
    fn rejects_bad_names_with_clear_errors() {
        assert_eq!(Name::new("").unwrap_err().to_string(), "name must not be empty");
        assert_eq!(
            Name::new("x".repeat(10_000)).unwrap_err().to_string(),
            "name is 10000 characters long; the limit is 128"
        );
        assert_eq!(Name::new("a\nb").unwrap_err().to_string(), "name contains control character U+000A at character 1");
        assert_eq!(Name::new(" a").unwrap_err(), NameError::SurroundingWhitespace);
        assert_eq!(Name::new("a\t").unwrap_err(), NameError::ControlCharacter { code: 9, index: 1 });
    }

    #[test]
    fn names_are_case_sensitive() {
        assert_ne!(Name::new("Prod").unwrap(), Name::new("prod").unwrap());
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<Name>("\"\"").is_err());
        assert_eq!(serde_json::from_str::<Name>("\"ok\"").unwrap(), "ok");
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_agrees_with_new(s in any::<String>()) {
            prop_assert_eq!(Name::validate(&s).is_ok(), Name::new(s.clone()).is_ok());
        }
    }
}
