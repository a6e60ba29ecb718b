//! Validated object names: NFC, no control or invisible characters, and a skeleton to tell names that look alike.

use std::fmt;

use unicode_normalization::UnicodeNormalization as _;
use unicode_security::GeneralSecurityProfile as _;
use unicode_security::general_security_profile::IdentifierType;

use serde::{Deserialize, Serialize};

/// The longest name accepted, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 128;

/// A validated, case-preserving display name of a catalog object (connection, vault entry, backend, link, pipeline,
/// database, principal).
///
/// Invariants: in Unicode Normalization Form C (NFC: [`Name::new`] composes `e` + U+0301 into `é`, so the two spellings
/// are one name), not empty, at most [`MAX_NAME_CHARS`] characters, no control characters, no invisible characters
/// (bidirectional controls such as U+202E, zero-width characters, and every other default-ignorable code point;
/// see [`invisible_character`]), and no leading or trailing whitespace. Names compare case-sensitively: `Prod` and
/// `prod` are two names. Two names that differ but look alike ([`Name::looks_like`]) may both be valid; the catalog
/// refuses the second one.
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
    /// The name contains an invisible character: a bidirectional control (U+202E, which can make `gpj.exe` read
    /// `exe.jpg`), a zero-width character, or another default-ignorable code point.
    #[error(
        "name contains {what} U+{code:04X} at character {index}; such characters are invisible, so two names could look alike"
    )]
    InvisibleCharacter {
        /// What the character is: `bidirectional control character` or `invisible format character`.
        what: &'static str,
        /// The offending character's code point.
        code: u32,
        /// Zero-based character index of the offending character, in the name as given.
        index: usize,
    },
}

/// The bidirectional controls: embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069), the marks
/// U+200E, U+200F and U+061C.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// What `c` is when it is invisible and so has no place in a name or an option key: `Some("bidirectional control
/// character")` for the controls of [`is_bidi_control`], `Some("invisible format character")` for every other
/// default-ignorable code point of UTS #39 (zero-width space and joiners, U+2060–U+206F, soft hyphen, variation
/// selectors, tag characters, the Hangul fillers, U+FEFF, …) and for the line and paragraph separators U+2028 and
/// U+2029 (which break a line like a newline but are not control characters); `None` otherwise.
pub fn invisible_character(c: char) -> Option<&'static str> {
    if is_bidi_control(c) {
        Some("bidirectional control character")
    } else if c.identifier_type() == Some(IdentifierType::Default_Ignorable) || matches!(c, '\u{2028}' | '\u{2029}') {
        Some("invisible format character")
    } else {
        None
    }
}

impl Name {
    /// Validates `name` and normalises it to NFC.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        Self::validate(&name)?;
        let name = nfc(name);
        Self::check_length(&name)?;
        Ok(Self(name))
    }

    /// Checks `name` against the invariants (positions in errors count the characters of `name` as given), without
    /// allocating unless `name` is not in NFC.
    pub fn validate(name: &str) -> Result<(), NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        for (index, c) in name.chars().enumerate() {
            if c.is_control() {
                return Err(NameError::ControlCharacter { code: c as u32, index });
            }
            if let Some(what) = invisible_character(c) {
                return Err(NameError::InvisibleCharacter { what, code: c as u32, index });
            }
        }
        if unicode_normalization::is_nfc(name) {
            Self::check_length(name)
        } else {
            Self::check_length(&name.nfc().collect::<String>())
        }
    }

    /// A name read back from the catalog, checked against the invariants names had before they were normalised
    /// (not empty, at most [`MAX_NAME_CHARS`] characters, no control characters, no surrounding whitespace) and kept
    /// as stored: a row written by an earlier version with an invisible character (U+200B, an emoji's U+FE0F) or in
    /// decomposed form stays readable, listable and droppable rather than making its whole table unreadable. New
    /// names go through [`Name::new`].
    pub fn from_stored(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some((index, c)) = name.chars().enumerate().find(|(_, c)| c.is_control()) {
            return Err(NameError::ControlCharacter { code: c as u32, index });
        }
        Self::check_length(&name)?;
        Ok(Self(name))
    }

    fn check_length(name: &str) -> Result<(), NameError> {
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(NameError::TooLong { chars });
        }
        if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
            return Err(NameError::SurroundingWhitespace);
        }
        Ok(())
    }

    /// The name as stored: NFC of what was written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTS #39 skeleton of the name: two names with the same skeleton are confusable (`payroll` and `pаyroll`
    /// with a Cyrillic `а`).
    pub fn skeleton(&self) -> String {
        skeleton(&self.0)
    }

    /// Whether `other` is another name that looks like this one: the two differ, have the same skeleton, and at
    /// least one of them is not plain ASCII. Pairs of plain-ASCII names are left alone although UTS #39 counts some
    /// as confusable (`rn`/`m`, `0`/`O`, `1`/`l`/`I`): refusing them would refuse ordinary names such as `db1` next
    /// to `dbl`, or `tern` next to `tem`, and typing either takes no unusual character.
    pub fn looks_like(&self, other: &str) -> bool {
        let other = nfc_str(other);
        self.0 != other && (!self.0.is_ascii() || !other.is_ascii()) && skeleton(&self.0) == skeleton(&other)
    }

    /// Consumes the name, returning the string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// `text` in NFC.
fn nfc(text: String) -> String {
    if unicode_normalization::is_nfc(&text) { text } else { text.nfc().collect() }
}

/// `text` in NFC, borrowed when it already is.
pub fn nfc_str(text: &str) -> std::borrow::Cow<'_, str> {
    if unicode_normalization::is_nfc(text) { text.into() } else { text.nfc().collect::<String>().into() }
}

/// The UTS #39 skeleton of `text`.
fn skeleton(text: &str) -> String {
    unicode_security::skeleton(text).collect()
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
    fn stored_names_keep_the_old_invariants_only() {
        assert_eq!(Name::from_stored("a\u{200B}b").unwrap().as_str(), "a\u{200B}b");
        assert_eq!(Name::from_stored("Cafe\u{301}").unwrap().as_str(), "Cafe\u{301}");
        assert_eq!(Name::from_stored("\u{2764}\u{FE0F}").unwrap().as_str(), "\u{2764}\u{FE0F}");
        assert_eq!(Name::from_stored("").unwrap_err(), NameError::Empty);
        assert_eq!(Name::from_stored("a\nb").unwrap_err(), NameError::ControlCharacter { code: 10, index: 1 });
        assert_eq!(Name::from_stored(" a").unwrap_err(), NameError::SurroundingWhitespace);
        assert!(Name::from_stored("x".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn names_are_stored_in_nfc() {
        let decomposed = Name::new("Cafe\u{301}").unwrap();
        assert_eq!(decomposed.as_str(), "Caf\u{e9}");
        assert_eq!(decomposed, Name::new("Caf\u{e9}").unwrap());
        let via_serde: Name = serde_json::from_str(r#""Cafe\u0301""#).unwrap();
        assert_eq!(via_serde.as_str(), "Caf\u{e9}");
        // The limit counts the stored (composed) characters.
        assert!(Name::new("e\u{301}".repeat(MAX_NAME_CHARS)).is_ok());
    }

    #[test]
    fn bidirectional_controls_and_invisible_characters_are_refused_with_their_code_and_position() {
        assert_eq!(
            Name::new("pay\u{202E}llor").unwrap_err().to_string(),
            "name contains bidirectional control character U+202E at character 3; such characters are invisible, so \
             two names could look alike"
        );
        for c in ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert!(
                matches!(
                    Name::new(format!("a{c}b")),
                    Err(NameError::InvisibleCharacter { what: "bidirectional control character", index: 1, .. })
                ),
                "U+{:04X}",
                c as u32
            );
        }
        for c in ['\u{200E}', '\u{200F}', '\u{061C}'] {
            assert!(matches!(Name::new(format!("ab{c}")), Err(NameError::InvisibleCharacter { index: 2, .. })));
        }
        for (c, code) in [
            ('\u{200B}', 0x200B),   // zero-width space
            ('\u{200D}', 0x200D),   // zero-width joiner
            ('\u{2060}', 0x2060),   // word joiner
            ('\u{FEFF}', 0xFEFF),   // byte order mark
            ('\u{00AD}', 0xAD),     // soft hyphen
            ('\u{FE0F}', 0xFE0F),   // variation selector
            ('\u{E0041}', 0xE0041), // tag character
            ('\u{3164}', 0x3164),   // Hangul filler
            ('\u{2028}', 0x2028),   // line separator
        ] {
            assert_eq!(
                Name::new(format!("x{c}y")).unwrap_err(),
                NameError::InvisibleCharacter { what: "invisible format character", code, index: 1 },
            );
        }
        // The position is the character's in the name as given, before normalisation.
        assert!(matches!(Name::new("e\u{301}e\u{301}\u{200B}"), Err(NameError::InvisibleCharacter { index: 4, .. })));
    }

    #[test]
    fn names_that_look_alike() {
        let payroll = Name::new("payroll").unwrap();
        assert!(payroll.looks_like("p\u{430}yroll"), "Cyrillic a");
        assert!(payroll.looks_like("\u{440}\u{430}yr\u{43e}ll"), "Cyrillic r, a, o");
        assert!(Name::new("p\u{430}yroll").unwrap().looks_like("payroll"));
        assert!(!Name::new("caf\u{e9}").unwrap().looks_like("cafe\u{301}"), "one name in two spellings");
        assert!(!payroll.looks_like("payroll"), "the same name is not a look-alike");
        assert!(!payroll.looks_like("Payroll"), "case makes two names");
        assert!(!payroll.looks_like("payrolls"));
        // Plain-ASCII pairs are left alone (see `looks_like`).
        assert!(!Name::new("db1").unwrap().looks_like("dbl"));
        assert!(!Name::new("tern").unwrap().looks_like("tem"));
        assert_eq!(payroll.skeleton(), Name::new("p\u{430}yroll").unwrap().skeleton());
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
