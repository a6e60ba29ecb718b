//! The grammar's keywords, from one list (the way `sqlparser`'s `define_keywords!` does it): the list produces the
//! [`Keyword`] enum the parser matches on, each keyword's spelling, and [`KEYWORDS`], the words that canonical output
//! quotes when they are used as names.

use std::fmt;

/// Declares the keywords. Before the `;`: the keywords proper, in alphabetical order of their spelling; they make up
/// [`KEYWORDS`]. After it: words the parser reads in one position only, which stay ordinary names everywhere else
/// (printed bare, named as `"word"` in messages).
macro_rules! define_keywords {
    (
        $($variant:ident = $spelling:literal,)*
        ;
        $($(#[$contextual_doc:meta])* $contextual:ident = $contextual_spelling:literal,)*
    ) => {
        /// A word the grammar gives a meaning to, matched case-insensitively and only when unquoted.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Keyword {
            $(#[doc = concat!("`", $spelling, "`")] $variant,)*
            $($(#[$contextual_doc])* $contextual,)*
        }

        /// Every word the parser treats as a keyword somewhere. A name that equals one of them (case-insensitively)
        /// is printed quoted, so canonical output never depends on where a keyword is reserved.
        pub const KEYWORDS: &[&str] = &[$($spelling,)*];

        impl Keyword {
            /// Every keyword, contextual words included.
            const ALL: &[Keyword] = &[$(Self::$variant,)* $(Self::$contextual,)*];

            /// The upper-case spelling, e.g. `MAX_CONNECTIONS`.
            pub(crate) const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $spelling,)*
                    $(Self::$contextual => $contextual_spelling,)*
                }
            }
        }
    };
}

define_keywords!(
    Active = "ACTIVE",
    Algorithm = "ALGORITHM",
    Alter = "ALTER",
    As = "AS",
    Config = "CONFIG",
    Connection = "CONNECTION",
    Connections = "CONNECTIONS",
    Create = "CREATE",
    Credential = "CREDENTIAL",
    Credentials = "CREDENTIALS",
    Data = "DATA",
    Database = "DATABASE",
    Databases = "DATABASES",
    Desc = "DESC",
    Describe = "DESCRIBE",
    Description = "DESCRIPTION",
    Drop = "DROP",
    EncryptionKey = "ENCRYPTION_KEY",
    Exists = "EXISTS",
    Expires = "EXPIRES",
    External = "EXTERNAL",
    False = "FALSE",
    From = "FROM",
    Generate = "GENERATE",
    If = "IF",
    In = "IN",
    Inactive = "INACTIVE",
    Into = "INTO",
    KeySize = "KEY_SIZE",
    Like = "LIKE",
    Link = "LINK",
    Linked = "LINKED",
    Links = "LINKS",
    Load = "LOAD",
    MaxConnections = "MAX_CONNECTIONS",
    Not = "NOT",
    On = "ON",
    Option = "OPTION",
    Options = "OPTIONS",
    Or = "OR",
    Pipeline = "PIPELINE",
    Pipelines = "PIPELINES",
    Rename = "RENAME",
    Replace = "REPLACE",
    Rotate = "ROTATE",
    Schema = "SCHEMA",
    Schemas = "SCHEMAS",
    Secret = "SECRET",
    Set = "SET",
    Show = "SHOW",
    Start = "START",
    Stop = "STOP",
    Storage = "STORAGE",
    Storages = "STORAGES",
    Table = "TABLE",
    Test = "TEST",
    Timeout = "TIMEOUT",
    To = "TO",
    True = "TRUE",
    Type = "TYPE",
    Unset = "UNSET",
    Use = "USE",
    Vault = "VAULT",
    Vaults = "VAULTS",
    ;
    /// `G`, only in the MySQL client's `\G` statement terminator.
    G = "G",
    /// `NULL`, only as a `SET CONFIG ::key = NULL` value.
    Null = "NULL",
    /// `BY`, only in the `… BY '<c>'` clauses of CREATE PIPELINE.
    By = "BY",
    /// `COLUMNS`, only as CREATE PIPELINE's synonym of `FIELDS`.
    Columns = "COLUMNS",
    /// `CSV`, only after CREATE PIPELINE's `FORMAT`.
    Csv = "CSV",
    /// `ENCLOSED`, only in CREATE PIPELINE's `FIELDS [OPTIONALLY] ENCLOSED BY`.
    Enclosed = "ENCLOSED",
    /// `ESCAPED`, only in CREATE PIPELINE's `FIELDS ESCAPED BY`.
    Escaped = "ESCAPED",
    /// `FIELDS`, only as a CREATE PIPELINE clause.
    Fields = "FIELDS",
    /// `FILES`, only in `SHOW FILES FOR PIPELINE`.
    Files = "FILES",
    /// `FOR`, only in `SHOW FILES FOR PIPELINE` and `SHOW HISTORY FOR`.
    For = "FOR",
    /// `FORMAT`, only as a CREATE PIPELINE clause.
    Format = "FORMAT",
    /// `IGNORE`, only in CREATE PIPELINE's `IGNORE n LINES`.
    Ignore = "IGNORE",
    /// `JSON`, only after CREATE PIPELINE's `FORMAT`.
    Json = "JSON",
    /// `LINES`, only in CREATE PIPELINE's `LINES TERMINATED BY` and `IGNORE n LINES`.
    Lines = "LINES",
    /// `OPTIONALLY`, only in CREATE PIPELINE's `FIELDS OPTIONALLY ENCLOSED BY`.
    Optionally = "OPTIONALLY",
    /// `TERMINATED`, only in CREATE PIPELINE's `FIELDS TERMINATED BY` and `LINES TERMINATED BY`.
    Terminated = "TERMINATED",
    /// `AT`, only after the name of a DESCRIBE statement (`DESCRIBE CONNECTION c AT VERSION 3`).
    At = "AT",
    /// `HISTORY`, only in `SHOW HISTORY FOR`.
    History = "HISTORY",
    /// `LIMIT`, only at the end of `SHOW HISTORY FOR …`.
    Limit = "LIMIT",
    /// `ROLLBACK`, only as the ALTER action `ROLLBACK TO VERSION n`.
    Rollback = "ROLLBACK",
    /// `VERSION`, only in `AT VERSION n` and `ROLLBACK TO VERSION n`.
    Version = "VERSION",
);

impl Keyword {
    /// The keyword spelt `word` (any case), if there is one.
    pub(crate) fn lookup(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether `word` (any case) spells this keyword.
    pub(crate) fn is(self, word: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(word)
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `word` is one of [`KEYWORDS`].
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_sorted_and_upper_case() {
        let mut sorted = KEYWORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, KEYWORDS);
        assert!(KEYWORDS.iter().all(|k| k.chars().all(|c| c.is_ascii_uppercase() || c == '_')));
    }

    #[test]
    fn every_keyword_is_found_by_its_spelling_in_any_case() {
        for &keyword in Keyword::ALL {
            assert_eq!(Keyword::lookup(keyword.as_str()), Some(keyword));
            assert_eq!(Keyword::lookup(&keyword.as_str().to_ascii_lowercase()), Some(keyword));
        }
        assert_eq!(Keyword::lookup("CONNECTIONZ"), None);
        assert!(!is_keyword("NULL") && !is_keyword("g"), "contextual words print bare");
        assert!(!is_keyword("format") && !is_keyword("lines"), "pipeline clause words stay ordinary names");
        assert!(
            ["at", "history", "limit", "rollback", "version"].iter().all(|w| !is_keyword(w)),
            "history words stay ordinary names"
        );
    }
}
