//! Property tests for the grammar (`quality.md`, "Security" and "Tests"):
//!
//! 1. **Round trip**: every generated AST — every statement struct with every optional clause and action variant,
//!    awkward names, keys, literals and JSON — satisfies `parse_one(&s.to_sql_unredacted()) == Ok(s)`.
//! 2. **Never panics**: arbitrary text, "token soup" made of our keywords, punctuation, (unterminated) quotes,
//!    numbers and comments, and mutated valid statements all parse without a panic; every error renders, has a
//!    sane position, and every statement that does parse round-trips and re-parses from its span.
//! 3. **Canary**: a distinctive canary in every secret position is printed by `to_sql_unredacted` only — never by
//!    `Display` or `Debug` — and never appears in any error (message, `Display`, `render`, `Debug`, hint) for
//!    broken versions of those statements (every truncation, bad tokens inserted, closing quote removed, secret
//!    clause duplicated), multi-line literals included.
//!
//! Case counts are chosen so that the whole file runs in a few seconds in a debug build; `PROPTEST_CASES=20000`
//! runs every property longer.
//!
//! Error rendering shows only literals in known non-secret positions (an allow-list), so every error output is
//! checked in full, whatever the corruption; see [`Echo`] for the one case where a parsed statement is not checked.

use std::collections::HashSet;
use std::mem::discriminant;

use lanyard_core::{
    CsvFormat, LoadFormat, Name, OptionKey, OptionMap, OptionValue, SecretString, TableRef, is_secret_key,
};
use lanyard_sql::ast::{
    AlterConnection, AlterConnectionAction, AlterCredentialStorage, AlterCredentialStorageAction, AlterLink,
    AlterVault, AlterVaultAction, BackendKind, ConnectionType, CreateConnection, CreateCredentialStorage,
    CreateDatabase, CreateLink, CreatePipeline, CreateVault, CredentialsSource, DescribeConnection,
    DescribeCredentialStorage, DescribeLink, DescribeVault, DropConnection, DropCredentialStorage, DropDatabase,
    DropLink, DropPipeline, DropVault, EntryType, HistoryObject, JsonObject, KEYWORDS, LinkSet, LinkType, Material,
    PointInTime, QualifiedName, ShowConnections, ShowCreateLink, ShowCredentialStorages, ShowDatabases, ShowHistory,
    ShowLinks, ShowPipelineFiles, ShowPipelines, ShowVaults, StartPipeline, StopPipeline, TestConnection,
    TestCredentialStorage, TestLink, Use, VaultNoun,
};
use lanyard_sql::{ParseError, Statement, ToSql, parse, parse_one, parse_script};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

// =====================================================================================================================
// Configuration
// =====================================================================================================================

/// A proptest configuration with `cases` cases, unless the `PROPTEST_CASES` environment variable asks for another
/// number (e.g. `PROPTEST_CASES=20000` for a long run). Failure persistence is off so that a failing run leaves no
/// `proptest-regressions/` files in the tree; proptest prints the minimal failing input instead.
fn config(cases: u32) -> Config {
    let default = Config::default();
    Config {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { cases },
        failure_persistence: None,
        ..default
    }
}

// =====================================================================================================================
// Building blocks
// =====================================================================================================================

/// The canary placed in every secret position.
const CANARY: &str = "CANARY-9f8e7d-zz";

/// What the canary checks look for: the canary's distinctive head. No generated non-secret text contains it (the
/// text strategies filter it out), so any occurrence in redacted output is (part of) a secret leaking. See
/// [`assert_no_canary_in_script`] for why the head and not the whole canary.
const CANARY_HEAD: &str = "CANARY";

/// Whether `word` is one of the grammar's keywords (case-insensitively).
fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// `s` as a canonical single-quoted SQL literal (what the printer writes).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(s)
}

/// A keyword from [`KEYWORDS`] in a random mix of upper and lower case.
fn keyword_any_case() -> BoxedStrategy<String> {
    (select(KEYWORDS), prop::collection::vec(any::<bool>(), 16))
        .prop_map(|(keyword, upper)| {
            keyword
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect()
        })
        .boxed()
}

/// Pieces of awkward string-literal content: quotes, line breaks, comment and statement markers, Unicode, NUL.
const AWKWARD_TEXT: &[&str] = &[
    "'",
    "''",
    "'''",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "***",
    "--",
    "-- comment",
    "/*",
    "*/",
    ";",
    "\"",
    "`",
    "\\",
    "\\G",
    "{",
    "}",
    "ñ",
    "名前",
    "🚀",
    "\u{0}",
    "\u{FEFF}",
    "\u{200B}",
    "\u{2028}",
    "$$",
    "::",
    "%_",
    "'; DROP CONNECTION x; --",
    " ",
    "  ",
    "SECRET",
    "N'x'",
];

/// String-literal content (descriptions, LIKE patterns, paths, option values, …). Never contains the canary.
fn text() -> BoxedStrategy<String> {
    let piece = prop_oneof![
        3 => "[a-zA-Z0-9 _.:/-]{1,8}",
        1 => "\\PC{1,6}",
        3 => select(AWKWARD_TEXT).prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..6)
        .prop_map(|pieces| pieces.concat())
        .prop_filter("non-secret text never contains the canary", |s| !s.contains(CANARY_HEAD))
        .boxed()
}

/// Names that exercise quoting: keywords, quotes of every kind, spaces, Unicode, invisible characters, 128 chars.
fn awkward_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "set",
        "SECRET",
        "storage",
        "Type",
        "options",
        "null",
        "NULL",
        "true",
        "G",
        "s3",
        "local",
        "os_keychain",
        "default",
        "select",
        "OS Keychain",
        "a  b",
        "a\"b",
        "\"",
        "\"\"",
        "`",
        "`tick`",
        "a`b",
        "it's",
        "'",
        "''",
        "x'y'",
        "N'x'",
        "Ünïcødé-名前",
        "émoji 🚀",
        "Ж",
        "İstanbul",
        "a\u{200B}b",
        "\u{FEFF}bom",
        "a\u{2028}b",
        "a\u{00A0}b",
        "a;b",
        "a.b",
        "-- not a comment",
        "/* nor this */",
        "***",
        "1abc",
        "_",
        "$x",
        "a$b",
        "\\G",
        "Prod_PG",
        // The words of the history grammar, which stay ordinary names.
        "at",
        "AT",
        "version",
        "History",
        "rollback",
        "limit",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    names.push("x".repeat(128));
    names.push("é".repeat(128));
    names.push(format!("{}\"", "q".repeat(127)));
    names
}

/// Characters names are built from.
fn name_char() -> BoxedStrategy<char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        2 => prop::char::range('A', 'Z'),
        1 => prop::char::range('0', '9'),
        3 => select(&[
            ' ', '"', '`', '\'', '.', ';', '-', '*', '/', '(', ')', ',', '=', ':', '\\', '$', '@', '_', 'é',
            'Ü', '名', '🚀', '\u{00A0}', '\u{200B}', '\u{FEFF}', '\u{2028}', 'ß', 'İ',
        ][..]),
        1 => any::<char>().prop_filter("names have no control characters", |c| !c.is_control()),
    ]
    .boxed()
}

/// A valid [`Name`], often an awkward one.
fn name() -> BoxedStrategy<Name> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,11}",
        2 => "[A-Za-z_][A-Za-z0-9_]{0,11}",
        3 => select(awkward_names()),
        2 => keyword_any_case(),
        3 => prop::collection::vec(name_char(), 1..24).prop_map(|cs| cs.into_iter().collect()),
        1 => prop::collection::vec(name_char(), 128).prop_map(|cs| cs.into_iter().collect()),
    ]
    .prop_map(|s: String| {
        // Names may not start or end with whitespace; trimming keeps the interesting middle.
        let trimmed = s.trim();
        if trimmed.is_empty() { "x".to_owned() } else { trimmed.to_owned() }
    })
    .prop_filter_map("a valid Name", |s| Name::new(s).ok())
    .boxed()
}

/// `[db.]name`, with and without the database.
fn qualified_name() -> BoxedStrategy<QualifiedName> {
    (opt(name()), name()).prop_map(|(database, name)| QualifiedName { database, name }).boxed()
}

/// Secret-looking option keys, written bare (so the canary tests can spell their clause text).
const SECRET_KEYS: &[&str] = &[
    "password",
    "Password",
    "DB_PASSWORD",
    "client_secret",
    "secret_access_key",
    "session_token",
    "token",
    "secret_id",
    "api_key",
    "account_key",
    "sasl.password",
    "service_account_json",
];

/// Option keys that exercise quoting and dotting.
const AWKWARD_KEYS: &[&str] = &[
    "a\"b",
    "it's",
    "`x`",
    "a..b",
    ".a",
    "a.",
    "1abc",
    "a-b",
    "a.1b",
    "a.b.SET",
    "SET.a",
    "e.e1",
    "名前",
    "a\u{200B}b",
    "\u{FEFF}k",
    "***",
    "--",
    "/*",
    ";",
    "\\G",
    "::",
    "=",
    "key_vault_name",
    "token_url",
    "TRUE",
    "null",
];

/// A valid [`OptionKey`]: bare, dotted, secret-looking, a keyword, or arbitrary without whitespace/control chars.
fn option_key() -> BoxedStrategy<OptionKey> {
    prop_oneof![
        3 => "[a-z_][a-z0-9_]{0,11}",
        2 => "[a-zA-Z_][a-zA-Z0-9_]{0,6}(\\.[a-zA-Z_][a-zA-Z0-9_]{0,6}){1,3}",
        2 => select(SECRET_KEYS).prop_map(str::to_owned),
        1 => keyword_any_case(),
        2 => "[^\\s\\p{C}]{1,16}",
        1 => select(AWKWARD_KEYS).prop_map(str::to_owned),
        1 => Just("k".repeat(128)),
    ]
    .prop_filter_map("a valid OptionKey", |s| OptionKey::new(s).ok())
    .boxed()
}

/// An option map with 0..5 entries (secret-looking keys included; `insert` decides plain or secret).
fn option_map() -> BoxedStrategy<OptionMap> {
    prop::collection::vec((option_key(), text()), 0..5)
        .prop_map(|entries| {
            let mut map = OptionMap::new();
            for (key, value) in entries {
                map.insert(key, value);
            }
            map
        })
        .boxed()
}

/// `TYPE = <connection type>`: a bare identifier (mixed case is lower-cased by `ConnectionType::new` and by the
/// parser alike). Mostly not a keyword; keywords are generated too, in a separate arm, because the parser takes any
/// bare word after `TYPE [=]`, so they round-trip as well.
fn connection_type() -> BoxedStrategy<ConnectionType> {
    const EXAMPLES: &[&str] = &[
        "postgresql",
        "mysql",
        "sql_server",
        "oracle",
        "s3",
        "gcs",
        "azure_adls",
        "local",
        "rest",
        "git",
        "sftp",
        "kafka",
        "PostgreSQL",
        "S3",
        "null",
        "_",
    ];
    type_word(EXAMPLES).prop_map(|t| ConnectionType::new(&t)).boxed()
}

/// `TYPE = <backend kind>` (printed upper-case; `OS_KEYCHAIN` is read as `local`); keywords as for
/// [`connection_type`].
fn backend_kind() -> BoxedStrategy<BackendKind> {
    const EXAMPLES: &[&str] = &[
        "LOCAL",
        "OS_KEYCHAIN",
        "os_keychain",
        "Os_KeyChain",
        "AWS",
        "azure",
        "HashiCorp",
        "gcp",
        "MEMORY",
        "my_plugin",
    ];
    type_word(EXAMPLES).prop_map(|t| BackendKind::new(&t)).boxed()
}

/// A word after `TYPE [=]`: one of `examples` or a generated identifier, neither a keyword; or a keyword in any case.
fn type_word(examples: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![select(examples).prop_map(str::to_owned), "[a-z_][a-z0-9_]{0,15}", "[A-Za-z_][A-Za-z0-9_]{0,15}"]
        .prop_filter("type words are not keywords", |t| !is_keyword(t))
        .boxed()
        .prop_union(keyword_any_case())
        .boxed()
}

/// A version number (`AT VERSION n`, `ROLLBACK TO VERSION n`): at least 1, often small, sometimes the largest.
fn version() -> BoxedStrategy<i64> {
    prop_oneof![3 => 1..100i64, 2 => 1..=i64::MAX, 1 => Just(i64::MAX)].boxed()
}

/// An RFC 3339 timestamp as `AT '…'` takes it: UTC or an offset, with or without fractional seconds, `T`/`Z` in
/// either case.
fn timestamp() -> BoxedStrategy<String> {
    let date = (1..=9999u32, 1..=12u32, 1..=28u32);
    let time = (0..24u32, 0..60u32, 0..60u32, opt("[0-9]{1,9}"));
    let offset = prop_oneof![
        Just("Z".to_owned()),
        Just("z".to_owned()),
        (select(&["+", "-"][..]), 0..24u32, 0..60u32).prop_map(|(sign, h, m)| format!("{sign}{h:02}:{m:02}")),
    ];
    (date, time, select(&["T", "t"][..]), offset)
        .prop_map(|((y, mo, d), (h, mi, s, fraction), t, offset)| {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{fraction}{offset}")
        })
        .prop_filter("a timestamp jiff reads", |t| t.parse::<jiff::Timestamp>().is_ok())
        .boxed()
}

/// The `AT <point>` of a DESCRIBE statement.
fn point_in_time() -> BoxedStrategy<PointInTime> {
    prop_oneof![version().prop_map(PointInTime::Version), timestamp().prop_map(PointInTime::Time)].boxed()
}

/// The object of `SHOW HISTORY FOR`.
fn history_object() -> BoxedStrategy<HistoryObject> {
    prop_oneof![
        name().prop_map(HistoryObject::Connection),
        (vault_noun(), name()).prop_map(|(noun, name)| HistoryObject::Vault { noun, name }),
        name().prop_map(HistoryObject::CredentialStorage),
        qualified_name().prop_map(HistoryObject::Link),
    ]
    .boxed()
}

fn vault_noun() -> impl Strategy<Value = VaultNoun> {
    prop_oneof![Just(VaultNoun::Vault), Just(VaultNoun::Credential)]
}

fn entry_type() -> impl Strategy<Value = EntryType> {
    prop_oneof![Just(EntryType::EncryptionKey), Just(EntryType::Credential)]
}

fn link_type() -> impl Strategy<Value = LinkType> {
    select(LinkType::ALL)
}

// ----- JSON ----------------------------------------------------------------------------------------------------------

/// Keys and string values inside JSON: plain words, awkward text, control characters (serde escapes them).
fn json_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-z_]{0,8}",
        2 => text(),
        1 => "[\\x00-\\x1f\"\\\\']{1,4}",
    ]
    .boxed()
}

/// A JSON number that `serde_json` writes and reads back exactly: any integer, or a float whose shortest
/// representation round-trips (serde_json without `float_roundtrip` may be off by one ULP otherwise).
fn json_number() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => any::<i64>().prop_map(Value::from),
        2 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("a float that survives serde_json", |f| {
            let value = serde_json::Number::from_f64(f).map(Value::Number)?;
            (serde_json::from_str::<Value>(&value.to_string()).ok()? == value).then_some(value)
        }),
    ]
    .boxed()
}

/// A JSON value tree of small depth.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        json_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((json_text(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A JSON object with 0..5 entries (CONFIG).
fn json_object() -> BoxedStrategy<JsonObject> {
    prop::collection::vec((json_text(), json_value()), 0..5).prop_map(|entries| entries.into_iter().collect()).boxed()
}

/// JSON whitespace (serde_json accepts exactly these around a document).
fn json_whitespace() -> impl Strategy<Value = &'static str> {
    select(&["", "", " ", "\n", "\t", "\r\n", "  \n  "][..])
}

/// `object` as CREDENTIALS text: compact or pretty (multi-line), with optional surrounding whitespace.
fn credentials_text_of(object: &JsonObject, pretty: bool, before: &str, after: &str) -> String {
    let value = Value::Object(object.clone());
    let body = if pretty { serde_json::to_string_pretty(&value).expect("JSON prints") } else { value.to_string() };
    format!("{before}{body}{after}")
}

/// CREDENTIALS text: a JSON object, as the parser requires, written in any layout.
fn credentials_text() -> BoxedStrategy<String> {
    (json_object(), any::<bool>(), json_whitespace(), json_whitespace())
        .prop_map(|(object, pretty, before, after)| credentials_text_of(&object, pretty, before, after))
        .boxed()
}

/// The value of `SET CONFIG ::k = v`: a string, a non-negative integer or float, a boolean or null.
///
/// Negative numbers are not generated: the printer writes `-5`, which the tokenizer reads as `-` and `5`, and the
/// grammar has no signed numbers (the parser never produces a negative value, so the round-trip contract does not
/// cover them). Arrays and objects are not values of this clause either.
fn config_key_value() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => text().prop_map(Value::String),
        2 => any::<u64>().prop_map(Value::from),
        1 => json_number().prop_filter("non-negative", |n| !n.to_string().starts_with('-')),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ]
    .boxed()
}

/// A `::key` of ALTER LINK: any valid option key.
fn link_key() -> BoxedStrategy<String> {
    option_key().prop_map(|k| k.as_str().to_owned()).boxed()
}

fn config_clause() -> BoxedStrategy<LinkSet> {
    prop_oneof![
        json_object().prop_map(LinkSet::ConfigJson),
        (link_key(), config_key_value()).prop_map(|(key, value)| LinkSet::ConfigKey { key, value }),
    ]
    .boxed()
}

fn credentials_clause() -> BoxedStrategy<LinkSet> {
    prop_oneof![
        credentials_text().prop_map(|t| LinkSet::CredentialsJson(SecretString::new(t))),
        (link_key(), text()).prop_map(|(key, value)| LinkSet::CredentialsKey { key, value: SecretString::new(value) }),
        name().prop_map(LinkSet::CredentialsEntry),
    ]
    .boxed()
}

// =====================================================================================================================
// Statements
// =====================================================================================================================

fn alter_connection_action() -> BoxedStrategy<AlterConnectionAction> {
    use AlterConnectionAction as A;
    prop_oneof![
        option_map().prop_map(A::SetOptions),
        (option_key(), text()).prop_map(|(key, value)| {
            let value = OptionValue::for_key(&key, value);
            A::SetOption { key, value }
        }),
        option_key().prop_map(A::UnsetOption),
        name().prop_map(A::SetCredential),
        Just(A::UnsetCredential),
        name().prop_map(A::SetCredentialStorage),
        Just(A::UnsetCredentialStorage),
        name().prop_map(A::RenameTo),
        text().prop_map(A::SetDescription),
        any::<u32>().prop_map(A::SetMaxConnections),
        any::<u32>().prop_map(A::SetTimeout),
        version().prop_map(A::RollbackToVersion),
    ]
    .boxed()
}

fn alter_vault_action() -> BoxedStrategy<AlterVaultAction> {
    use AlterVaultAction as A;
    prop_oneof![
        Just(A::Rotate),
        text().prop_map(|s| A::SetSecret(SecretString::new(s))),
        text().prop_map(A::SetDescription),
        text().prop_map(A::SetExpires),
        name().prop_map(A::RenameTo),
        version().prop_map(A::RollbackToVersion),
    ]
    .boxed()
}

fn alter_storage_action() -> BoxedStrategy<AlterCredentialStorageAction> {
    use AlterCredentialStorageAction as A;
    prop_oneof![
        option_map().prop_map(A::SetOptions),
        text().prop_map(A::SetDescription),
        any::<bool>().prop_map(A::SetActive),
        name().prop_map(A::RenameTo),
        version().prop_map(A::RollbackToVersion),
    ]
    .boxed()
}

fn material() -> BoxedStrategy<Material> {
    prop_oneof![
        text().prop_map(|s| Material::Secret(SecretString::new(s))),
        Just(Material::Generate),
        text().prop_map(Material::LinkedExternal),
    ]
    .boxed()
}

/// `(or_replace, if_not_exists)`: never both (the parser rejects `CREATE OR REPLACE LINK IF NOT EXISTS`).
fn link_create_flags() -> impl Strategy<Value = (bool, bool)> {
    select(&[(false, false), (true, false), (false, true)][..])
}

/// ALTER LINK clauses: one to three, at most one SET CONFIG, one SET CREDENTIALS and one ROLLBACK TO VERSION, in any
/// order (the parser enforces exactly this).
fn link_clauses() -> BoxedStrategy<Vec<LinkSet>> {
    (opt(config_clause()), opt(credentials_clause()), opt(version().prop_map(LinkSet::RollbackToVersion)))
        .prop_map(|(config, credentials, rollback)| [config, credentials, rollback].into_iter().flatten().collect())
        .prop_filter("at least one clause", |clauses: &Vec<LinkSet>| !clauses.is_empty())
        .prop_shuffle()
        .boxed()
}

fn create_connection() -> BoxedStrategy<CreateConnection> {
    let head = (any::<bool>(), name(), connection_type(), opt(text()), option_map());
    let references = (opt(name()), opt(name()), opt(any::<u32>()), opt(any::<u32>()));
    (head, references)
        .prop_map(|((if_not_exists, name, connection_type, description, options), references)| {
            let (credential, credential_storage, max_connections, timeout_seconds) = references;
            CreateConnection {
                if_not_exists,
                name,
                connection_type,
                description,
                options,
                credential,
                credential_storage,
                max_connections,
                timeout_seconds,
            }
        })
        .boxed()
}

fn create_vault() -> BoxedStrategy<CreateVault> {
    let head = (vault_noun(), any::<bool>(), name(), entry_type());
    let clauses = (opt(text()), opt(any::<u32>()), material(), opt(name()), opt(text()), opt(text()));
    (head, clauses).prop_map(vault_entry).boxed()
}

/// The optional clauses of CREATE VAULT, in printing order: ALGORITHM, KEY_SIZE, the material, IN CREDENTIAL STORAGE,
/// DESCRIPTION and EXPIRES.
type VaultClauses = (Option<String>, Option<u32>, Material, Option<Name>, Option<String>, Option<String>);

/// A CREATE VAULT from its noun, IF NOT EXISTS, name and type, and its optional clauses. GENERATE is only allowed with
/// ENCRYPTION_KEY (a parse error otherwise): with GENERATE, the entry is made a key.
fn vault_entry(
    ((noun, if_not_exists, name, entry_type), clauses): ((VaultNoun, bool, Name, EntryType), VaultClauses),
) -> CreateVault {
    let (algorithm, key_size, material, storage, description, expires) = clauses;
    let entry_type = if material == Material::Generate { EntryType::EncryptionKey } else { entry_type };
    CreateVault { noun, if_not_exists, name, entry_type, algorithm, key_size, material, storage, description, expires }
}

fn create_storage() -> BoxedStrategy<CreateCredentialStorage> {
    (any::<bool>(), name(), backend_kind(), opt(text()), option_map(), opt(any::<bool>()))
        .prop_map(|(if_not_exists, name, kind, description, options, active)| CreateCredentialStorage {
            if_not_exists,
            name,
            kind,
            description,
            options,
            active,
        })
        .boxed()
}

/// CREATE LINK's CREDENTIALS: a JSON object literal or `FROM VAULT entry`.
fn credentials_source() -> BoxedStrategy<CredentialsSource> {
    prop_oneof![
        credentials_text().prop_map(|t| CredentialsSource::Json(SecretString::new(t))),
        name().prop_map(CredentialsSource::Entry),
    ]
    .boxed()
}

fn create_link() -> BoxedStrategy<CreateLink> {
    (link_create_flags(), qualified_name(), link_type(), opt(json_object()), opt(credentials_source()), opt(text()))
        .prop_map(|((or_replace, if_not_exists), name, link_type, config, credentials, description)| CreateLink {
            or_replace,
            if_not_exists,
            name,
            link_type,
            config,
            credentials,
            description,
        })
        .boxed()
}

/// A pipeline's target table, with and without a schema.
fn table_ref() -> BoxedStrategy<TableRef> {
    (opt(name()), name()).prop_map(|(schema, table)| TableRef { schema, table }).boxed()
}

/// The characters of FIELDS clauses: the defaults, the usual alternatives, those printed as escapes (`\t`, `\\`),
/// quotes, and any printable ASCII character.
fn field_char() -> BoxedStrategy<char> {
    prop_oneof![
        3 => select(&[',', '"', '\t', '|', ';', '\\', '\'', '`', ' ', '#', '~'][..]),
        1 => prop::char::range('!', '~'),
    ]
    .boxed()
}

/// A CSV format that [`LoadFormat::check`] accepts, often with defaults (which print as nothing).
fn csv_format() -> BoxedStrategy<CsvFormat> {
    let delimiter = prop_oneof![2 => Just(','), 3 => field_char()];
    let enclosed_by = prop_oneof![2 => Just('"'), 3 => field_char()];
    let ignore_lines = prop_oneof![3 => Just(0u32), 2 => 1..5u32, 1 => any::<u32>()];
    let columns = opt(prop::collection::vec(name().prop_map(|n| n.as_str().to_owned()), 1..5));
    (delimiter, enclosed_by, opt(field_char()), ignore_lines, columns)
        .prop_map(|(delimiter, enclosed_by, escaped_by, ignore_lines, columns)| CsvFormat {
            delimiter,
            enclosed_by,
            escaped_by,
            ignore_lines,
            columns,
        })
        .prop_filter("a format LoadFormat::check accepts", |csv| LoadFormat::Csv(csv.clone()).check().is_ok())
        .boxed()
}

/// FORMAT JSON, or FORMAT CSV with its options.
fn load_format() -> BoxedStrategy<LoadFormat> {
    prop_oneof![1 => Just(LoadFormat::Json), 3 => csv_format().prop_map(LoadFormat::Csv)].boxed()
}

fn create_pipeline() -> BoxedStrategy<CreatePipeline> {
    (any::<bool>(), qualified_name(), qualified_name(), text(), table_ref(), name(), load_format())
        .prop_map(|(if_not_exists, name, link, path, table, connection, format)| CreatePipeline {
            if_not_exists,
            name,
            link,
            path,
            table,
            connection,
            format,
        })
        .boxed()
}

/// One to four actions (ALTER statements need at least one).
fn actions<T: std::fmt::Debug>(action: BoxedStrategy<T>) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(action, 1..5)
}

/// Every statement variant, uniformly.
fn statement() -> BoxedStrategy<Statement> {
    prop_oneof![
        // DeltaForge: connections
        create_connection().prop_map(Statement::from),
        (any::<bool>(), name(), actions(alter_connection_action()))
            .prop_map(|(if_exists, name, actions)| AlterConnection { if_exists, name, actions }.into()),
        (any::<bool>(), name()).prop_map(|(if_exists, name)| DropConnection { if_exists, name }.into()),
        opt(text()).prop_map(|like| ShowConnections { like }.into()),
        (any::<bool>(), name(), opt(point_in_time())).prop_map(|(if_exists, name, at)| DescribeConnection {
            if_exists,
            name,
            at
        }
        .into()),
        (any::<bool>(), name()).prop_map(|(if_exists, name)| TestConnection { if_exists, name }.into()),
        // DeltaForge: vault entries
        create_vault().prop_map(Statement::from),
        (vault_noun(), any::<bool>(), name(), actions(alter_vault_action()))
            .prop_map(|(noun, if_exists, name, actions)| AlterVault { noun, if_exists, name, actions }.into()),
        (vault_noun(), any::<bool>(), name())
            .prop_map(|(noun, if_exists, name)| DropVault { noun, if_exists, name }.into()),
        (vault_noun(), any::<bool>(), name(), opt(point_in_time()))
            .prop_map(|(noun, if_exists, name, at)| DescribeVault { noun, if_exists, name, at }.into()),
        (vault_noun(), opt(text())).prop_map(|(noun, like)| ShowVaults { noun, like }.into()),
        // DeltaForge: credential storages
        create_storage().prop_map(Statement::from),
        (any::<bool>(), name(), actions(alter_storage_action()))
            .prop_map(|(if_exists, name, actions)| AlterCredentialStorage { if_exists, name, actions }.into()),
        (any::<bool>(), name()).prop_map(|(if_exists, name)| DropCredentialStorage { if_exists, name }.into()),
        opt(text()).prop_map(|like| ShowCredentialStorages { like }.into()),
        (any::<bool>(), name(), opt(point_in_time())).prop_map(|(if_exists, name, at)| DescribeCredentialStorage {
            if_exists,
            name,
            at
        }
        .into()),
        (any::<bool>(), name()).prop_map(|(if_exists, name)| TestCredentialStorage { if_exists, name }.into()),
        // SingleStore: databases
        (any::<bool>(), name()).prop_map(|(if_not_exists, name)| CreateDatabase { if_not_exists, name }.into()),
        (any::<bool>(), name()).prop_map(|(if_exists, name)| DropDatabase { if_exists, name }.into()),
        opt(text()).prop_map(|like| ShowDatabases { like }.into()),
        // SingleStore: links and USE
        create_link().prop_map(Statement::from),
        (qualified_name(), link_clauses()).prop_map(|(name, clauses)| AlterLink { name, clauses }.into()),
        (any::<bool>(), qualified_name()).prop_map(|(if_exists, name)| DropLink { if_exists, name }.into()),
        (opt(name()), opt(text())).prop_map(|(database, like)| ShowLinks { database, like }.into()),
        qualified_name().prop_map(|name| ShowCreateLink { name }.into()),
        (any::<bool>(), qualified_name()).prop_map(|(if_exists, name)| TestLink { if_exists, name }.into()),
        (any::<bool>(), qualified_name(), opt(point_in_time())).prop_map(|(if_exists, name, at)| DescribeLink {
            if_exists,
            name,
            at
        }
        .into()),
        name().prop_map(|database| Use { database }.into()),
        // SingleStore: pipelines
        create_pipeline().prop_map(Statement::from),
        qualified_name().prop_map(|name| StartPipeline { name }.into()),
        qualified_name().prop_map(|name| StopPipeline { name }.into()),
        (any::<bool>(), qualified_name()).prop_map(|(if_exists, name)| DropPipeline { if_exists, name }.into()),
        opt(name()).prop_map(|database| ShowPipelines { database }.into()),
        qualified_name().prop_map(|name| ShowPipelineFiles { name }.into()),
        // Lanyard: history
        (history_object(), opt(1..=u32::MAX)).prop_map(|(object, limit)| ShowHistory { object, limit }.into()),
    ]
    .boxed()
}

// =====================================================================================================================
// 1. Round trip
// =====================================================================================================================

/// The generator really produces every statement and every action variant (a guard against a generator that
/// silently loses an arm).
#[test]
fn generators_cover_every_variant() {
    let mut runner = TestRunner::deterministic();
    let strategy = statement();
    let mut statements = HashSet::new();
    let mut connection_actions = HashSet::new();
    let mut vault_actions = HashSet::new();
    let mut storage_actions = HashSet::new();
    let mut link_sets = HashSet::new();
    let mut materials = HashSet::new();
    let mut credentials_sources = HashSet::new();
    let mut qualified = HashSet::new();
    let mut load_formats = HashSet::new();
    let mut points = HashSet::new();
    let mut history_objects = HashSet::new();
    for _ in 0..3000 {
        let statement = strategy.new_tree(&mut runner).expect("generates").current();
        statements.insert(discriminant(&statement));
        match &statement {
            Statement::AlterConnection(s) => {
                connection_actions.extend(s.actions.iter().map(discriminant));
            }
            Statement::AlterVault(s) => vault_actions.extend(s.actions.iter().map(discriminant)),
            Statement::AlterCredentialStorage(s) => {
                storage_actions.extend(s.actions.iter().map(|a| match a {
                    AlterCredentialStorageAction::SetOptions(_) => "SET OPTIONS",
                    AlterCredentialStorageAction::SetDescription(_) => "SET DESCRIPTION",
                    AlterCredentialStorageAction::SetActive(true) => "ACTIVE",
                    AlterCredentialStorageAction::SetActive(false) => "INACTIVE",
                    AlterCredentialStorageAction::RenameTo(_) => "RENAME TO",
                    AlterCredentialStorageAction::RollbackToVersion(_) => "ROLLBACK TO VERSION",
                }));
            }
            Statement::AlterLink(s) => {
                link_sets.extend(s.clauses.iter().map(discriminant));
                qualified.insert(s.name.database.is_some());
            }
            Statement::CreateVault(s) => {
                materials.insert(discriminant(&s.material));
            }
            Statement::CreateLink(s) => {
                credentials_sources.insert(s.credentials.as_ref().map(discriminant));
            }
            Statement::CreatePipeline(s) => load_formats.extend(load_format_features(&s.format)),
            Statement::DescribeConnection(s) => {
                points.insert(s.at.as_ref().map(discriminant));
            }
            Statement::DescribeVault(s) => {
                points.insert(s.at.as_ref().map(discriminant));
            }
            Statement::DescribeCredentialStorage(s) => {
                points.insert(s.at.as_ref().map(discriminant));
            }
            Statement::DescribeLink(s) => {
                points.insert(s.at.as_ref().map(discriminant));
            }
            Statement::ShowHistory(s) => {
                history_objects.insert(discriminant(&s.object));
            }
            _ => {}
        }
    }
    assert_eq!(statements.len(), Statement::KINDS.len(), "every Statement variant is generated");
    assert_eq!(connection_actions.len(), 12, "every AlterConnectionAction");
    assert_eq!(vault_actions.len(), 6, "every AlterVaultAction");
    assert_eq!(storage_actions.len(), 6, "every AlterCredentialStorageAction, ACTIVE and INACTIVE");
    assert_eq!(link_sets.len(), 6, "every LinkSet");
    assert_eq!(points.len(), 3, "every PointInTime and none");
    assert_eq!(history_objects.len(), 4, "every HistoryObject");
    assert_eq!(credentials_sources.len(), 3, "every CredentialsSource and none");
    assert_eq!(materials.len(), 3, "every Material");
    assert_eq!(qualified.len(), 2, "names with and without a database");
    assert_eq!(load_formats.len(), 8, "FORMAT JSON, default CSV and every CSV clause: {load_formats:?}");
}

/// What a load format exercises: `JSON`, `CSV`, and each non-default CSV clause.
fn load_format_features(format: &LoadFormat) -> Vec<&'static str> {
    let LoadFormat::Csv(csv) = format else { return vec!["JSON"] };
    let default = CsvFormat::default();
    let mut features = vec!["CSV"];
    features.extend(csv.delimiter.ne(&default.delimiter).then_some("TERMINATED BY"));
    features.extend(csv.enclosed_by.ne(&default.enclosed_by).then_some("ENCLOSED BY"));
    features.extend(csv.escaped_by.is_some().then_some("ESCAPED BY"));
    features.extend(['\t', '\\'].iter().any(|c| [csv.delimiter, csv.enclosed_by].contains(c)).then_some("escapes"));
    features.extend((csv.ignore_lines > 0).then_some("IGNORE"));
    features.extend(csv.columns.is_some().then_some("columns"));
    features
}

#[test]
fn secret_keys_look_secret() {
    for key in SECRET_KEYS {
        assert!(is_secret_key(key), "{key}");
        assert!(OptionKey::new(*key).is_ok(), "{key}");
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// `parse_one(unredacted(s)) == s` for every generated statement; `parse` of the same text and of the text with
    /// a trailing `;` agree.
    #[test]
    fn generated_statements_round_trip(statement in statement()) {
        let sql = statement.to_sql_unredacted();
        let parsed = parse_one(&sql).map_err(|e| {
            TestCaseError::fail(format!("printed statement does not parse:\n{sql}\n{}", e.render("")))
        })?;
        prop_assert_eq!(&parsed, &statement, "round trip changed the statement; printed:\n{}", sql);
        prop_assert_eq!(parse_one(&format!("{sql};")), Ok(statement.clone()));
        // Printing is canonical: printing the re-parsed statement gives the same text, redacted or not.
        prop_assert_eq!(parsed.to_sql_unredacted(), sql);
        prop_assert_eq!(parsed.to_string(), statement.to_string());
    }

    /// Two statements in one script, separated by a terminator (`;`, `\g` or `\G`) and a line break, parse back to
    /// both with correct spans; only `\G` asks for vertical output.
    #[test]
    fn generated_scripts_round_trip(
        a in statement(),
        b in statement(),
        terminator in select(&[";", " ;", "\\g", " \\G", "\\G"][..]),
    ) {
        let first = a.to_sql_unredacted();
        let script = format!("{first}{terminator}\n{}", b.to_sql_unredacted());
        let parsed = parse_script(&script);
        prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        prop_assert_eq!(parsed.statements.len(), 2);
        prop_assert_eq!(&parsed.statements[0].statement, &a);
        prop_assert_eq!(&parsed.statements[1].statement, &b);
        prop_assert_eq!(parsed.statements[0].span.slice(&script), first.as_str());
        prop_assert_eq!(parsed.statements[1].span.start.line, 2 + first.matches('\n').count() as u32);
        prop_assert_eq!(parsed.statements[0].vertical, terminator.ends_with("\\G"));
        prop_assert!(!parsed.statements[1].vertical);
    }
}

// =====================================================================================================================
// 2. Never panics
// =====================================================================================================================

/// Words the parser looks at besides [`KEYWORDS`], and plain-SQL words.
const EXTRA_WORDS: &[&str] = &[
    "NULL",
    "G",
    "S3",
    "AZURE",
    "GCS",
    "HDFS",
    "HTTP",
    "KAFKA",
    "MONGODB",
    "MYSQL",
    "LOCAL",
    "OS_KEYCHAIN",
    "AWS",
    "postgresql",
    "SELECT",
    "INSERT",
    "UPDATE",
    "WITH",
    "TABLE",
    "BEGIN",
    "COMMIT",
    "VALUES",
    "x",
    "prod_pg",
    "db",
    "password",
    "client_secret",
    "secret_access_key",
    "a.b",
    "_",
    "$",
    "x$y",
    "名前",
    "E",
    "N",
    "X",
    "B",
    "U&",
    "FIELDS",
    "COLUMNS",
    "TERMINATED",
    "OPTIONALLY",
    "ENCLOSED",
    "ESCAPED",
    "BY",
    "LINES",
    "IGNORE",
    "FORMAT",
    "JSON",
    "CSV",
    "FILES",
    "FOR",
    "'\\t'",
    "'\\'",
    "AT",
    "VERSION",
    "HISTORY",
    "ROLLBACK",
    "LIMIT",
    "g",
];

const PUNCTUATION: &[&str] = &[
    "(", ")", ",", "=", ";", "::", ":", ".", "\\G", "\\g", "\\", "-", "+", "*", "/", "%", "<", ">", "<>", "!=", "!",
    "@", "#", "$", "?", "{", "}", "[", "]", "|", "&", "^", "~", "=>", "->", "->>", "||", ";;", "..",
];

const QUOTED: &[&str] = &[
    "'abc'",
    "'a''b'",
    "''",
    "'abc",
    "'",
    "'''",
    "'{\"k\": \"v\"}'",
    "'{}'",
    "'2026-12-01T10:00:00Z'",
    "'2026-13-01'",
    "'[]'",
    "'{\"k\":'",
    "'multi\nline'",
    "'multi\nline",
    "\"dq\"",
    "\"dq",
    "\"a\"\"b\"",
    "\"\"",
    "`bt`",
    "`bt",
    "`a``b`",
    "E'x\\'y'",
    "N'x'",
    "X'ab'",
    "B'01'",
    "U&'x'",
    "$$dollar$$",
    "$tag$x$tag$",
    "$$unterminated",
    "'\u{0}'",
    "'***'",
];

const NUMBERS: &[&str] = &[
    "0",
    "42",
    "4294967295",
    "4294967296",
    "99999999999999999999999",
    "1.5",
    "1e10",
    "1e-7",
    "1e400",
    ".5",
    "5.",
    "-1",
    "0x1F",
    "0b101",
    "1_000",
    "00",
];

const COMMENTS: &[&str] = &["-- c\n", "--", "/* c */", "/*", "/* nested /* */ */", "/* a\nb */", "#x\n", "*/"];

const SEPARATORS: &[&str] = &[" ", " ", " ", "", "\n", "\t", "\r\n", "\r", "\u{00A0}", "\u{FEFF}"];

/// One "token" of soup, as text.
fn soup_token() -> BoxedStrategy<String> {
    prop_oneof![
        5 => keyword_any_case(),
        2 => select(EXTRA_WORDS).prop_map(str::to_owned),
        4 => select(PUNCTUATION).prop_map(str::to_owned),
        2 => select(QUOTED).prop_map(str::to_owned),
        1 => text().prop_map(|t| quote(&t)),
        1 => select(NUMBERS).prop_map(str::to_owned),
        1 => "[a-zA-Z_][a-zA-Z0-9_$]{0,6}",
        1 => select(COMMENTS).prop_map(str::to_owned),
        1 => "\\PC{1,3}",
        1 => any::<char>().prop_map(String::from),
    ]
    .boxed()
}

/// Statement beginnings, so that soup often gets past the first keyword into a statement's clauses.
const STATEMENT_HEADS: &[&str] = &[
    "",
    "",
    "CREATE",
    "CREATE CONNECTION c",
    "CREATE CONNECTION c TYPE = postgresql",
    "ALTER CONNECTION c",
    "ALTER CONNECTION c SET",
    "CREATE VAULT v TYPE =",
    "CREATE CREDENTIAL v TYPE = CREDENTIAL",
    "ALTER VAULT v",
    "CREATE CREDENTIAL STORAGE s TYPE = AWS",
    "ALTER CREDENTIAL STORAGE s",
    "CREATE OR REPLACE LINK",
    "CREATE LINK db.l AS S3",
    "ALTER LINK l SET",
    "ALTER LINK l SET CREDENTIALS ::",
    "CREATE PIPELINE p AS LOAD DATA LINK l 'path' INTO TABLE t",
    "CREATE PIPELINE p AS LOAD DATA LINK l 'path' INTO TABLE s.t ON CONNECTION c",
    "CREATE PIPELINE p AS LOAD DATA LINK l 'path' INTO TABLE t ON CONNECTION c FIELDS",
    "SHOW FILES FOR PIPELINE",
    "SHOW",
    "SHOW LINKS ON",
    "DESCRIBE",
    "DROP",
    "TEST",
    "USE",
    "START PIPELINE",
    "SHOW HISTORY FOR",
    "SHOW HISTORY FOR CREDENTIAL",
    "DESCRIBE CONNECTION c AT",
    "DESCRIBE LINK db.l AT VERSION",
    "ALTER CONNECTION c ROLLBACK TO",
    "ALTER LINK l ROLLBACK TO VERSION",
];

/// Random sequences of soup tokens with random separators, often after a statement's beginning.
fn token_soup() -> BoxedStrategy<String> {
    (select(STATEMENT_HEADS), prop::collection::vec((soup_token(), select(SEPARATORS)), 0..40))
        .prop_map(|(head, tokens)| {
            let mut soup = format!("{head} ");
            for (token, separator) in tokens {
                soup.push_str(&token);
                soup.push_str(separator);
            }
            soup
        })
        .boxed()
}

/// A valid statement's text with random edits: soup tokens inserted, ranges deleted, or ranges duplicated.
fn mutated_statement() -> BoxedStrategy<String> {
    let edit = (0..3u8, any::<Index>(), any::<Index>(), soup_token());
    (statement(), prop::collection::vec(edit, 1..4))
        .prop_map(|(statement, edits)| {
            let mut sql = statement.to_sql_unredacted();
            for (kind, a, b, token) in edits {
                let boundaries: Vec<usize> = sql.char_indices().map(|(i, _)| i).chain([sql.len()]).collect();
                let x = boundaries[a.index(boundaries.len())];
                let y = boundaries[b.index(boundaries.len())];
                let (from, to) = (x.min(y), x.max(y));
                sql = match kind {
                    0 => format!("{}{token}{}", &sql[..x], &sql[x..]),
                    1 => format!("{}{}", &sql[..from], &sql[to..]),
                    _ => format!("{}{}", &sql[..to], &sql[from..]),
                };
            }
            sql
        })
        .boxed()
}

/// Everything `parse_script` returns for `input` is well-formed: errors render and have sane positions; statements
/// have valid spans, round-trip, and re-parse from their spans; `parse` agrees with `parse_script`.
fn check_script(input: &str) -> Result<(), TestCaseError> {
    let script = parse_script(input);
    let lines = input.split('\n').count() as u32;
    for error in &script.errors {
        let location = error.location();
        prop_assert!(location.line >= 1, "line {} < 1: {error:?}", location.line);
        prop_assert!(location.column >= 1, "column {} < 1: {error:?}", location.column);
        prop_assert!(
            location.line <= lines + 1,
            "line {} beyond the {lines} lines of the input: {error:?}",
            location.line
        );
        prop_assert!(
            location.offset <= input.len() && input.is_char_boundary(location.offset),
            "offset {} is not a character boundary: {error:?}",
            location.offset
        );
        let rendered = error.render("f.sql");
        prop_assert!(rendered.starts_with("error: "), "{rendered}");
        prop_assert!(rendered.contains(&format!("--> f.sql:{}:{}", location.line, location.column)), "{rendered}");
        let shown = error.to_string();
        prop_assert!(shown.contains(error.message()), "{shown}");
        let _ = (error.render(""), error.hint(), format!("{error:?}"), format!("{error:#?}"));
    }
    match parse(input) {
        Ok(statements) => {
            prop_assert!(script.errors.is_empty());
            prop_assert_eq!(statements.len(), script.statements.len());
        }
        Err(error) => prop_assert_eq!(Some(&error), script.errors.first()),
    }
    for spanned in &script.statements {
        let span = spanned.span;
        prop_assert!(span.start.offset <= span.end.offset, "{span:?}");
        prop_assert!(
            span.end.offset <= input.len()
                && input.is_char_boundary(span.start.offset)
                && input.is_char_boundary(span.end.offset),
            "{span:?}"
        );
        let statement = &spanned.statement;
        let sql = statement.to_sql_unredacted();
        let _ = (statement.to_string(), format!("{statement:?}"), statement.kind());
        let reparsed = parse_one(&sql).map_err(|e| {
            TestCaseError::fail(format!(
                "statement parsed from {input:?} prints as {sql:?}, which does not parse:\n{}",
                e.render("")
            ))
        })?;
        prop_assert_eq!(&reparsed, statement, "round trip of {:?} via {:?}", input, sql);
        let from_span = parse_one(span.slice(input)).map_err(|e| {
            TestCaseError::fail(format!("span {:?} of {input:?} does not parse:\n{}", span.slice(input), e.render("")))
        })?;
        prop_assert_eq!(&from_span, statement, "span re-parse of {:?}", input);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        check_script(&input)?;
    }

    #[test]
    fn token_soup_never_panics(input in token_soup()) {
        check_script(&input)?;
    }

    #[test]
    fn mutated_statements_never_panic(input in mutated_statement()) {
        check_script(&input)?;
    }
}

// =====================================================================================================================
// 3. Canary
// =====================================================================================================================

/// A valid statement with the canary in one secret position.
#[derive(Debug, Clone)]
struct CanaryCase {
    statement: Statement,
    /// The secret literal exactly as printed (quotes included), e.g. `'CANARY…'`.
    literal: String,
    /// The whole secret clause exactly as printed, e.g. `SECRET 'CANARY…'` or `password = 'CANARY…'`.
    clause: String,
    /// What goes between the clause and a copy of it: `" "`, or `", "` inside an option list.
    separator: &'static str,
}

impl CanaryCase {
    fn new(statement: impl Into<Statement>, clause_prefix: &str, secret: &str, separator: &'static str) -> Self {
        let literal = quote(secret);
        Self { statement: statement.into(), clause: format!("{clause_prefix}{literal}"), literal, separator }
    }
}

/// Secret material containing the canary, possibly several times and spread over lines, surrounded by awkward
/// characters (quotes, comment markers, `***`).
fn canary_secret() -> BoxedStrategy<String> {
    const NOISE: &[&str] =
        &["", "", "'", "\n", " ", "***", "--", "/*", ";", "\"", "é", "\r\n", "''", "\\", "}", "\nx "];
    (select(NOISE), prop::collection::vec(select(NOISE), 1..4))
        .prop_map(|(before, after)| {
            let mut secret = before.to_owned();
            for noise in after {
                secret.push_str(CANARY);
                secret.push_str(noise);
            }
            secret
        })
        .boxed()
}

/// CREDENTIALS text with the canary inside a JSON string value, at any position among other entries; pretty
/// printing puts it on the second line or later.
fn canary_credentials() -> BoxedStrategy<String> {
    (
        json_object(),
        select(&["password", "aws_secret_access_key", "token", "k"][..]),
        canary_secret(),
        any::<Index>(),
        any::<bool>(),
        json_whitespace(),
        json_whitespace(),
    )
        .prop_map(|(others, key, secret, position, pretty, before, after)| {
            let others: Vec<(String, Value)> = others.into_iter().filter(|(k, _)| k != key).collect();
            let position = position.index(others.len() + 1);
            let mut object = JsonObject::new();
            for (i, (k, v)) in others.into_iter().enumerate() {
                if i == position {
                    object.insert(key.to_owned(), Value::String(secret.clone()));
                }
                object.insert(k, v);
            }
            object.insert(key.to_owned(), Value::String(secret));
            credentials_text_of(&object, pretty, before, after)
        })
        .boxed()
}

/// `base` with `key = secret` inserted at `position` (replacing an existing `key`).
fn options_with_secret(base: &OptionMap, key: &str, secret: &str, position: Index) -> OptionMap {
    let others: Vec<(String, String)> =
        base.iter_exposed().filter(|(k, _)| *k != key).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let position = position.index(others.len() + 1);
    let mut map = OptionMap::new();
    let secret_key = || OptionKey::new(key).expect("valid key");
    for (i, (k, v)) in others.into_iter().enumerate() {
        if i == position {
            map.insert(secret_key(), secret);
        }
        map.insert(OptionKey::new(k).expect("valid key"), v);
    }
    map.insert(secret_key(), secret); // no-op replacement when already inserted above
    map
}

/// The clauses of an ALTER LINK: `clause`, with the SET CONFIG clause `config` before or after it if there is one.
fn with_config(clause: LinkSet, config: Option<LinkSet>, config_first: bool) -> Vec<LinkSet> {
    match config {
        Some(config) if config_first => vec![config, clause],
        Some(config) => vec![clause, config],
        None => vec![clause],
    }
}

/// An ALTER statement (`build(if_exists, name, actions)`) whose actions include, at any position, a `SET OPTIONS`
/// (`set_options`) holding the canary under a secret-looking key.
fn alter_with_secret_options<A: Clone + std::fmt::Debug + 'static>(
    action: BoxedStrategy<A>,
    set_options: fn(OptionMap) -> A,
    build: fn(bool, Name, Vec<A>) -> Statement,
) -> BoxedStrategy<CanaryCase> {
    let others = prop::collection::vec(action, 0..3);
    let options = (option_map(), select(SECRET_KEYS), canary_secret(), any::<Index>());
    (any::<bool>(), name(), others, any::<Index>(), options)
        .prop_map(move |(if_exists, name, mut actions, action_at, (base, key, secret, at))| {
            actions
                .insert(action_at.index(actions.len() + 1), set_options(options_with_secret(&base, key, &secret, at)));
            CanaryCase::new(build(if_exists, name, actions), &format!("{key} = "), &secret, ", ")
        })
        .boxed()
}

/// A bare `::key` for `SET CREDENTIALS ::key = '…'` (bare so that the clause text is predictable).
fn bare_link_key() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,8}",
        "[a-z_][a-z0-9_]{0,5}\\.[a-zA-Z_][a-z0-9_]{0,5}",
        select(&["password", "aws_secret_access_key", "token", "user"][..]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// Every secret position, with the canary in it.
fn canary_case() -> BoxedStrategy<CanaryCase> {
    let secret_key = || select(SECRET_KEYS);
    prop_oneof![
        // CREATE VAULT … SECRET '…'
        (create_vault(), entry_type(), canary_secret()).prop_map(|(mut s, entry_type, secret)| {
            s.entry_type = entry_type;
            s.material = Material::Secret(SecretString::new(secret.clone()));
            CanaryCase::new(s, "SECRET ", &secret, " ")
        }),
        // ALTER VAULT … SET SECRET '…'
        (
            vault_noun(),
            any::<bool>(),
            name(),
            prop::collection::vec(alter_vault_action(), 0..3),
            any::<Index>(),
            canary_secret()
        )
            .prop_map(|(noun, if_exists, name, mut actions, at, secret)| {
                let at = at.index(actions.len() + 1);
                actions.insert(at, AlterVaultAction::SetSecret(SecretString::new(secret.clone())));
                CanaryCase::new(AlterVault { noun, if_exists, name, actions }, "SET SECRET ", &secret, " ")
            }),
        // CREATE LINK … CREDENTIALS '{…}'
        (create_link(), canary_credentials()).prop_map(|(mut s, credentials)| {
            s.credentials = Some(CredentialsSource::Json(SecretString::new(credentials.clone())));
            CanaryCase::new(s, "CREDENTIALS ", &credentials, " ")
        }),
        // ALTER LINK … SET CREDENTIALS '{…}'
        (qualified_name(), canary_credentials(), opt(config_clause()), any::<bool>()).prop_map(
            |(name, credentials, config, config_first)| {
                let secret = LinkSet::CredentialsJson(SecretString::new(credentials.clone()));
                let clauses = with_config(secret, config, config_first);
                CanaryCase::new(AlterLink { name, clauses }, "SET CREDENTIALS ", &credentials, " ")
            }
        ),
        // ALTER LINK … SET CREDENTIALS ::k = '…'
        (qualified_name(), bare_link_key(), canary_secret(), opt(config_clause()), any::<bool>()).prop_map(
            |(name, key, secret, config, config_first)| {
                let clause = LinkSet::CredentialsKey { key: key.clone(), value: SecretString::new(secret.clone()) };
                let clauses = with_config(clause, config, config_first);
                CanaryCase::new(AlterLink { name, clauses }, &format!("SET CREDENTIALS ::{key} = "), &secret, " ")
            }
        ),
        // CREATE CONNECTION … OPTIONS (password = '…')
        (create_connection(), secret_key(), canary_secret(), any::<Index>()).prop_map(|(mut s, key, secret, at)| {
            s.options = options_with_secret(&s.options, key, &secret, at);
            CanaryCase::new(s, &format!("{key} = "), &secret, ", ")
        }),
        // ALTER CONNECTION … SET OPTIONS (password = '…')
        alter_with_secret_options(
            alter_connection_action(),
            AlterConnectionAction::SetOptions,
            |if_exists, name, actions| AlterConnection { if_exists, name, actions }.into()
        ),
        // ALTER CONNECTION … SET OPTION client_secret = '…'
        (
            any::<bool>(),
            name(),
            prop::collection::vec(alter_connection_action(), 0..3),
            any::<Index>(),
            secret_key(),
            canary_secret(),
        )
            .prop_map(|(if_exists, name, mut actions, action_at, key, secret)| {
                let key_ = OptionKey::new(key).expect("valid key");
                let value = OptionValue::for_key(&key_, secret.clone());
                actions
                    .insert(action_at.index(actions.len() + 1), AlterConnectionAction::SetOption { key: key_, value });
                CanaryCase::new(
                    AlterConnection { if_exists, name, actions },
                    &format!("SET OPTION {key} = "),
                    &secret,
                    " ",
                )
            }),
        // CREATE CREDENTIAL STORAGE … OPTIONS (secret_access_key = '…')
        (create_storage(), secret_key(), canary_secret(), any::<Index>()).prop_map(|(mut s, key, secret, at)| {
            s.options = options_with_secret(&s.options, key, &secret, at);
            CanaryCase::new(s, &format!("{key} = "), &secret, ", ")
        }),
        // ALTER CREDENTIAL STORAGE … SET OPTIONS (client_secret = '…')
        alter_with_secret_options(
            alter_storage_action(),
            AlterCredentialStorageAction::SetOptions,
            |if_exists, name, actions| AlterCredentialStorage { if_exists, name, actions }.into()
        ),
    ]
    .boxed()
}

/// Every text a caller can get out of an error.
fn error_outputs(error: &ParseError) -> [(&'static str, String); 6] {
    [
        ("to_string()", error.to_string()),
        ("render(\"f.sql\")", error.render("f.sql")),
        ("message()", error.message().to_owned()),
        ("hint()", error.hint().unwrap_or_default().to_owned()),
        ("{:?}", format!("{error:?}")),
        ("{:#?}", format!("{error:#?}")),
    ]
}

/// Parses `input` and checks that no error output, and no redacted form of a statement that did parse, contains
/// the canary.
///
/// What is checked is the canary's 6-character head `CANARY`. A truncation that cuts *inside* the head leaves
/// only 1..5 characters of it in the input; those are too short to tell a leak from a coincidence and are not
/// checked. Every other cut leaves the head in the input, so a leak of the part of the secret that is present is
/// caught.
fn assert_no_canary_in_script(input: &str, how: &str) -> Result<(), TestCaseError> {
    check_canary(input, how, Echo::SourceLine)
}

/// Whether a corrupted input that still *parses* may legitimately show the literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    /// No: every error output and every parsed statement is checked.
    SourceLine,
    /// A statement that still parses is not checked: the corruption sits between the secret marker and the literal
    /// (`p$assword = '…'` is a valid option whose key is not secret-looking), so the literal is, syntactically, no
    /// longer secret. Every error output is still checked in full, rendered source line included: rendered lines show
    /// only literals in known non-secret positions.
    MessageOnly,
}

fn check_canary(input: &str, how: &str, echo: Echo) -> Result<(), TestCaseError> {
    let script = parse_script(input);
    for error in &script.errors {
        for (what, text) in error_outputs(error) {
            prop_assert!(
                !text.contains(CANARY_HEAD),
                "the canary leaks through error.{what} ({how}); input:\n{input}\n----- output:\n{text}"
            );
        }
    }
    for spanned in script.statements.iter().filter(|_| echo == Echo::SourceLine) {
        let statement = &spanned.statement;
        for text in [statement.to_string(), format!("{spanned:?}"), format!("{statement:#?}")] {
            prop_assert!(
                !text.contains(CANARY_HEAD),
                "the canary leaks through a parsed statement ({how}); input:\n{input}\n----- output:\n{text}"
            );
        }
    }
    Ok(())
}

/// Byte offsets in canonical SQL that lie outside every quoted token (`'…'`, `"…"`, `` `…` ``): token boundaries,
/// and points inside bare words and punctuation. Inserting a quote-free token there leaves every literal intact.
fn unquoted_positions(sql: &str) -> Vec<usize> {
    let mut positions = Vec::new();
    let mut quote: Option<char> = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            None => {
                positions.push(i);
                if matches!(c, '\'' | '"' | '`') {
                    quote = Some(c);
                }
            }
            Some(q) if c == q => {
                if chars.peek().map(|&(_, next)| next) == Some(q) {
                    chars.next(); // a doubled quote inside the token
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
        }
    }
    positions.push(sql.len());
    positions
}

/// Tokens inserted into a valid statement to break it. None contains a quote or starts a comment, so the secret
/// literal stays a literal (see `canary_survives_broken_statements`).
const BAD_TOKENS: &[&str] = &[
    " BOGUS ",
    ")",
    "(",
    ",",
    " = ",
    ";",
    " ; ",
    "::",
    ".",
    " 42 ",
    " -1 ",
    " SECRET ",
    " CREDENTIALS ",
    " SET ",
    " OPTIONS ",
    " \\G ",
    " IF ",
    "\n",
    " TRUE ",
    " NULL ",
    "$",
    "@",
    " SELECT ",
    " TYPE = ",
    "\n)\n",
];

proptest! {
    #![proptest_config(config(256))]

    /// The canary is printed by the unredacted printer only.
    #[test]
    fn canary_only_in_unredacted_output(case in canary_case()) {
        let sql = case.statement.to_sql_unredacted();
        prop_assert!(sql.contains(CANARY), "{sql}");
        prop_assert!(sql.contains(&case.clause), "clause {:?} not in {sql}", case.clause);
        let parsed = parse_one(&sql).map_err(|e| TestCaseError::fail(e.render("")))?;
        prop_assert_eq!(&parsed, &case.statement);
        for statement in [&case.statement, &parsed] {
            for text in [statement.to_string(), format!("{statement:?}"), format!("{statement:#?}")] {
                prop_assert!(!text.contains(CANARY_HEAD), "canary in {text}");
            }
            prop_assert!(statement.to_string().contains("'***'"));
        }
        let script = parse_script(&sql);
        let debug = format!("{script:?}");
        prop_assert!(!debug.contains(CANARY_HEAD), "canary in {}", debug);
    }

    /// Broken statements: bad tokens inserted at random points outside quoted tokens, the closing quote of the
    /// secret literal removed, the secret clause duplicated in place and at the end, and the statement embedded in
    /// a script after a valid statement.
    ///
    /// Fairness: insertions avoid positions inside quoted tokens and never insert quotes or comment markers. A
    /// stray quote re-pairs every later quote, and `--` turns the rest of the line into a comment; either can move
    /// the canary text out of any string literal, after which the parser has no way to know it was meant as a
    /// secret (it is then an ordinary word or comment). Removing the *closing* quote only lengthens the literal, so
    /// the canary stays inside it.
    #[test]
    fn canary_survives_broken_statements(
        case in canary_case(),
        inserts in prop::collection::vec((any::<Index>(), select(BAD_TOKENS)), 1..10),
        prefix in statement(),
    ) {
        let sql = case.statement.to_sql_unredacted();
        let clause_start = sql.find(&case.clause).expect("the clause is printed");
        let start = clause_start + case.clause.len() - case.literal.len();
        let end = start + case.literal.len();
        // The "secret zone" runs from the separator before the secret clause to the literal. A token inserted
        // there can leave the literal no longer after a secret marker (`SECRET ( '…'`, `p BOGUS assword = '…'`, or
        // `,. password = '…'` where the redactor then sees the key `.password`), so there only the message is
        // checked; see `Echo`.
        let zone_start = sql[..clause_start].trim_end().len();
        let positions = unquoted_positions(&sql);
        for (at, token) in &inserts {
            let at = positions[at.index(positions.len())];
            let broken = format!("{}{token}{}", &sql[..at], &sql[at..]);
            let echo = if (zone_start..=start).contains(&at) { Echo::MessageOnly } else { Echo::SourceLine };
            check_canary(&broken, &format!("{token:?} inserted at byte {at}"), echo)?;
        }

        let unclosed = format!("{}{}", &sql[..end - 1], &sql[end..]);
        assert_no_canary_in_script(&unclosed, "closing quote removed")?;
        assert_no_canary_in_script(&format!("{unclosed}\n;\nUSE db"), "closing quote removed, more lines")?;

        let doubled = format!("{}{}", case.clause, case.separator);
        assert_no_canary_in_script(&sql.replacen(&case.clause, &(doubled + &case.clause), 1), "clause duplicated")?;
        assert_no_canary_in_script(&format!("{sql} {}", case.clause), "clause appended")?;
        // A second literal right after the secret one (`SECRET 'a' 'b'`, as if continuing the secret) is not in a
        // secret position; the rendered line shows it (reported as a finding), the message must not.
        check_canary(&format!("{sql} {}", case.literal), "literal appended", Echo::SourceLine)?;

        let script = format!("{};\n{sql} BOGUS;\n{sql}", prefix.to_sql_unredacted());
        assert_no_canary_in_script(&script, "in a script")?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Every truncation of a statement with a canary (every character boundary) fails or parses without the canary
    /// in any output. Truncations inside the secret literal leave it unterminated.
    #[test]
    fn canary_survives_every_truncation(case in canary_case()) {
        let sql = case.statement.to_sql_unredacted();
        for (at, _) in sql.char_indices() {
            assert_no_canary_in_script(&sql[..at], &format!("truncated at byte {at}"))?;
        }
    }
}

/// Hand-written multi-line secrets: the canary on the second line of a CREDENTIALS literal, with errors on every
/// line around it.
#[test]
fn canary_on_second_line_of_credentials() {
    let credentials = format!("{{\n  \"user\": \"u\",\n  \"password\": \"{CANARY}\"\n}}");
    let literal = quote(&credentials);
    let inputs = [
        format!("CREATE LINK l AS S3 CREDENTIALS {literal} BOGUS"),
        format!("CREATE LINK l AS S3 CREDENTIALS {literal}\nBOGUS"),
        format!("CREATE LINK l AS S3\nCREDENTIALS {literal} CREDENTIALS {literal}"),
        format!("CREATE LINK l AS S3 CREDENTIALS {literal} CONFIG '{{'"),
        format!("CREATE LINK l AS S3 CREDENTIALS {literal} CONFIG '[1]'"),
        format!("CREATE LINK l AS S3 CREDENTIALS {}", &literal[..literal.len() - 1]),
        format!("CREATE LINK l AS S3 CREDENTIALS {}\n", &literal[..literal.len() - 4]),
        format!("ALTER LINK l SET CREDENTIALS {literal} SET CREDENTIALS {literal}"),
        format!("ALTER LINK l SET CREDENTIALS {literal}\nSET CONFIG '{{}}' SET CONFIG '{{}}'"),
        format!("ALTER LINK l SET CREDENTIALS ::password = 'line one\n{CANARY}' BOGUS"),
        format!("ALTER LINK l SET CREDENTIALS ::password = \"line one\n{CANARY}\" BOGUS"),
        format!("ALTER LINK l SET CREDENTIALS ::password = \"{CANARY}"),
        format!("CREATE VAULT v TYPE = CREDENTIAL SECRET 'a\n{CANARY}\nb' GENERATE"),
        format!("CREATE VAULT v TYPE = CREDENTIAL SECRET 'a\n{CANARY}\nb'\n)"),
        format!("ALTER VAULT v SET SECRET 'a\n{CANARY}\nb'\n\nSET BOGUS"),
        format!("CREATE CONNECTION c TYPE = postgresql OPTIONS (password = 'x\n{CANARY}' x)"),
        format!("CREATE CONNECTION c TYPE = postgresql OPTIONS (password = 'x\n{CANARY}', password = 'y')"),
        format!("CREATE LINK l AS S3 CREDENTIALS '{{\"password\": \"{CANARY}\"' BOGUS"),
        format!("CREATE LINK l AS S3 CREDENTIALS '{{\"password\":\n\"{CANARY}\" x}}'"),
    ];
    for input in &inputs {
        let script = parse_script(input);
        assert!(!script.errors.is_empty(), "expected an error for {input}");
        for error in &script.errors {
            for (what, text) in error_outputs(error) {
                assert!(
                    !text.contains(CANARY_HEAD),
                    "the canary leaks through error.{what}; input:\n{input}\n----- output:\n{text}"
                );
            }
        }
    }
}
