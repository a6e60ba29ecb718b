//! Canonical SQL printing, redacted or not.

use lanyard_core::{
    Name, OptionMap, OptionValue, REDACTED, SecretString, TableRef, is_secret_config_key, secret_in_value,
    url_has_password,
};

use super::{JsonObject, QualifiedName};
use crate::keywords::is_keyword;

/// Whether `s` can be written as a bare identifier: ASCII letter or `_`, then ASCII letters, digits or `_`.
pub(crate) fn is_bare_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `s` can be written as a bare, possibly dotted, option or config key (`sasl.mechanism`).
pub(crate) fn is_bare_key(s: &str) -> bool {
    s.split('.').all(is_bare_identifier)
}

/// Builds canonical SQL text. Words are separated by one space.
pub struct Printer {
    out: String,
    redact: bool,
}

impl Printer {
    pub(crate) fn new(redact: bool) -> Self {
        Self { out: String::with_capacity(128), redact }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn space(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with(['(', ' ']) {
            self.out.push(' ');
        }
    }

    /// One or more keywords, e.g. `"CREATE CONNECTION"`.
    pub(crate) fn kw(&mut self, keywords: &str) {
        self.space();
        self.out.push_str(keywords);
    }

    /// `keywords` when `present`, e.g. `IF EXISTS`.
    pub(crate) fn kw_if(&mut self, present: bool, keywords: &str) {
        if present {
            self.kw(keywords);
        }
    }

    /// `keywords` then `value` printed by `print`, e.g. `SET DESCRIPTION '…'` with [`Printer::string`].
    pub(crate) fn clause<T: ?Sized>(&mut self, keywords: &str, value: &T, print: fn(&mut Self, &T)) {
        self.kw(keywords);
        print(self, value);
    }

    /// [`Printer::clause`] when there is a value, e.g. `[DESCRIPTION '…']`.
    pub(crate) fn optional<T: ?Sized>(&mut self, keywords: &str, value: Option<&T>, print: fn(&mut Self, &T)) {
        if let Some(value) = value {
            self.clause(keywords, value, print);
        }
    }

    /// Every node of `nodes` in order, e.g. the actions of an ALTER statement.
    pub(crate) fn all<T: ToSql>(&mut self, nodes: &[T]) {
        for node in nodes {
            node.print(self);
        }
    }

    /// Punctuation that attaches to the previous token, e.g. `,` or `)`.
    pub(crate) fn punct(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// An object name: bare when possible, otherwise double-quoted (DeltaForge style).
    pub(crate) fn name(&mut self, name: &Name) {
        self.quoted_ident(name.as_str(), '"');
    }

    /// A database-scoped name: bare when possible, otherwise back-quoted (SingleStore style).
    pub(crate) fn qualified_name(&mut self, name: &QualifiedName) {
        if let Some(db) = &name.database {
            self.quoted_ident(db.as_str(), '`');
            self.out.push('.');
            self.quoted_ident_raw(name.name.as_str(), '`');
        } else {
            self.quoted_ident(name.name.as_str(), '`');
        }
    }

    /// A pipeline's target table, `[schema.]table`: each part bare when possible, otherwise back-quoted.
    pub(crate) fn table(&mut self, table: &TableRef) {
        self.space();
        if let Some(schema) = &table.schema {
            self.quoted_ident_raw(schema.as_str(), '`');
            self.out.push('.');
        }
        self.quoted_ident_raw(table.table.as_str(), '`');
    }

    /// A column list, `(a, b, …)`: each column bare when possible, otherwise back-quoted.
    pub(crate) fn column_list(&mut self, columns: &[String]) {
        self.space();
        self.out.push('(');
        for (index, column) in columns.iter().enumerate() {
            if index > 0 {
                self.out.push_str(", ");
            }
            self.quoted_ident_raw(column, '`');
        }
        self.out.push(')');
    }

    /// A name in a SingleStore statement (a database, the entry of `FROM VAULT`): bare when possible, otherwise
    /// back-quoted.
    pub(crate) fn backquoted_name(&mut self, name: &Name) {
        self.quoted_ident(name.as_str(), '`');
    }

    fn quoted_ident(&mut self, ident: &str, quote: char) {
        self.space();
        self.quoted_ident_raw(ident, quote);
    }

    fn quoted_ident_raw(&mut self, ident: &str, quote: char) {
        if is_bare_identifier(ident) && !is_keyword(ident) {
            self.out.push_str(ident);
        } else {
            self.out.push(quote);
            for c in ident.chars() {
                if c == quote {
                    self.out.push(quote);
                }
                self.out.push(c);
            }
            self.out.push(quote);
        }
    }

    /// An option or config key: bare (dots allowed) when possible, otherwise double-quoted.
    pub(crate) fn key(&mut self, key: &str) {
        self.space();
        if is_bare_key(key) {
            self.out.push_str(key);
        } else {
            self.quoted_ident_raw(key, '"');
        }
    }

    /// A single-quoted string literal.
    pub(crate) fn string(&mut self, value: &str) {
        self.space();
        self.out.push('\'');
        for c in value.chars() {
            if c == '\'' {
                self.out.push('\'');
            }
            self.out.push(c);
        }
        self.out.push('\'');
    }

    /// A secret literal: `'***'` unless this printer is unredacted.
    pub(crate) fn secret(&mut self, value: &SecretString) {
        if self.redact {
            self.string(REDACTED);
        } else {
            self.string(value.expose_secret());
        }
    }

    /// An unsigned number.
    pub(crate) fn number(&mut self, value: &u32) {
        self.bare(value);
    }

    /// A version number (`AT VERSION n`, `ROLLBACK TO VERSION n`).
    pub(crate) fn version(&mut self, value: &i64) {
        self.bare(value);
    }

    /// `AT <point>`, when there is a point in time (the DESCRIBE statements).
    pub(crate) fn at(&mut self, at: Option<&super::PointInTime>) {
        self.optional("AT", at, |p, at| at.print(p));
    }

    /// A value written as it displays, e.g. a bare JSON number or boolean.
    pub(crate) fn bare(&mut self, value: impl std::fmt::Display) {
        self.space();
        self.out.push_str(&value.to_string());
    }

    /// `OPTIONS (k = 'v', …)`-style list body `(k = 'v', …)`; secret-looking values follow the redaction mode.
    pub(crate) fn option_list(&mut self, options: &OptionMap) {
        self.space();
        self.out.push('(');
        for (index, (key, value)) in options.iter().enumerate() {
            if index > 0 {
                self.out.push_str(", ");
            }
            self.key(key.as_str());
            self.punct(" =");
            self.option_value(value);
        }
        self.out.push(')');
    }

    /// An option value as a string literal, masked under a secret-looking key unless unredacted.
    pub(crate) fn option_value(&mut self, value: &OptionValue) {
        self.string(if self.redact { value.redacted() } else { value.expose() });
    }

    /// A JSON value as a canonical single-quoted string literal (compact JSON, key order kept).
    pub(crate) fn json_string(&mut self, value: &serde_json::Value) {
        self.string(&value.to_string());
    }

    /// A link's CONFIG object as a JSON string literal. CONFIG holds no secrets (the Control Plane refuses them), but
    /// until it has, a misplaced one must not reach a log, an error or the shell history: redacted, the value under
    /// a secret-looking key (at any depth) and a string with secret-looking text ([`is_secret_text`]) read `***`.
    pub(crate) fn config(&mut self, config: &JsonObject) {
        let mut value = serde_json::Value::Object(config.clone());
        if self.redact {
            mask_config_secrets(&mut value);
        }
        self.json_string(&value);
    }

    /// The value of `SET CONFIG ::key = value`: a string literal, or a bare number, boolean or NULL; redacted as
    /// [`Printer::config`] redacts.
    pub(crate) fn config_value(&mut self, key: &str, value: &serde_json::Value) {
        let secret = || is_secret_config_key(key) || matches!(value, serde_json::Value::String(s) if is_secret_text(s));
        match value {
            _ if self.redact && secret() => self.string(REDACTED),
            serde_json::Value::String(s) => self.string(s),
            other => self.bare(other),
        }
    }
}

/// Replaces, in a CONFIG value, what looks secret by `***`: the value under a secret-looking key, and a string that
/// is a URL with a password or holds other secret-looking text ([`is_secret_text`]).
pub(crate) fn mask_config_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if is_secret_config_key(key) {
                    *inner = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    mask_config_secrets(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_config_secrets),
        serde_json::Value::String(text) if is_secret_text(text) => *text = REDACTED.to_owned(),
        _ => {}
    }
}

/// Whether a CONFIG string is secret by its text alone: a URL with a password, or other secret-looking text
/// ([`secret_in_value`]: `token: …`, `password=…`, `Bearer …`). The Control Plane refuses such a value; until it
/// has, the value is masked like any secret.
pub(crate) fn is_secret_text(text: &str) -> bool {
    url_has_password(text) || secret_in_value(text).is_some()
}

/// Printing of AST nodes as canonical SQL.
pub trait ToSql {
    /// Writes the node to `p`.
    fn print(&self, p: &mut Printer);

    /// Canonical SQL with every secret literal replaced by `'***'`. This is what `Display` prints, and the only
    /// form that may reach logs, the audit log, errors and shell history.
    fn to_sql_redacted(&self) -> String {
        let mut p = Printer::new(true);
        self.print(&mut p);
        p.finish()
    }

    /// Canonical SQL with the real secret values. For round-trip tests and for forwarding a statement to a trusted
    /// peer; never for logs or output. `parse(x.to_sql_unredacted()) == x` holds for every statement.
    fn to_sql_unredacted(&self) -> String {
        let mut p = Printer::new(false);
        self.print(&mut p);
        p.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_when_needed() {
        let mut p = Printer::new(true);
        for n in ["prod_pg", "OS Keychain", "set", "a\"b", "Ünï", "_x1"] {
            p.name(&Name::new(n).unwrap());
        }
        assert_eq!(p.finish(), r#"prod_pg "OS Keychain" "set" "a""b" "Ünï" _x1"#);
    }
}
