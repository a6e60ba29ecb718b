//! Tab completion in the shell: statement openings (with the whole statement's skeleton shown in the list), keywords,
//! the shell's `\` commands, and the names of existing objects, fetched from the server when first needed and
//! cached until a statement changes objects.
//!
//! What is completed is decided from the text alone ([`complete`], a pure function); only names come from the
//! server, through [`Names`], which waits at most [`FETCH_TIMEOUT`] and then completes without them. Only names are
//! ever fetched or shown: no listing of the API carries material, and nothing is completed inside a quoted literal.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use lanyard_client::Client;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::META;

/// How long a completion waits for the server's list of names before completing without them.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// After a fetch failed or timed out, how long completion goes on without names before it asks again, so that a
/// dead server does not cost a wait on every TAB.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The kinds of named objects completion offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Connection,
    Vault,
    Storage,
    Database,
    Link,
    Pipeline,
}

impl Kind {
    /// Whether the kind's names are written in the SingleStore style (back-quoted when they need quoting, and
    /// scoped by a database) rather than DeltaForge's (double-quoted).
    fn back_quoted(self) -> bool {
        matches!(self, Self::Database | Self::Link | Self::Pipeline)
    }

    /// Whether names of this kind live in a database.
    fn in_database(self) -> bool {
        matches!(self, Self::Link | Self::Pipeline)
    }
}

/// Each statement's opening words and a skeleton of the whole statement: the opening is what TAB inserts, the
/// skeleton what the list of candidates shows. Every skeleton is a statement that parses (a unit test checks it,
/// and that every statement kind has one), so the list cannot drift from the grammar.
pub(crate) const SKELETONS: &[(&str, &str)] = &[
    (
        "CREATE CONNECTION",
        "CREATE CONNECTION name TYPE = postgresql OPTIONS (host = 'db.example.com', port = '5432') CREDENTIAL = entry",
    ),
    ("ALTER CONNECTION", "ALTER CONNECTION name SET OPTION host = 'db.example.com' SET CREDENTIAL = entry"),
    ("DROP CONNECTION", "DROP CONNECTION [IF EXISTS] name"),
    ("SHOW CONNECTIONS", "SHOW CONNECTIONS [LIKE 'pattern']"),
    ("DESCRIBE CONNECTION", "DESCRIBE CONNECTION name"),
    ("TEST CONNECTION", "TEST CONNECTION name"),
    ("CREATE CREDENTIAL", "CREATE CREDENTIAL name TYPE = CREDENTIAL SECRET 'value'"),
    ("CREATE VAULT", "CREATE VAULT name TYPE = ENCRYPTION_KEY GENERATE KEY_SIZE 256"),
    ("ALTER CREDENTIAL", "ALTER CREDENTIAL name SET SECRET 'value'"),
    ("ALTER VAULT", "ALTER VAULT name ROTATE"),
    ("DROP CREDENTIAL", "DROP CREDENTIAL [IF EXISTS] name"),
    ("DROP VAULT", "DROP VAULT [IF EXISTS] name"),
    ("DESCRIBE CREDENTIAL", "DESCRIBE CREDENTIAL name"),
    ("DESCRIBE VAULT", "DESCRIBE VAULT name"),
    ("SHOW CREDENTIALS", "SHOW CREDENTIALS [LIKE 'pattern']"),
    ("SHOW VAULTS", "SHOW VAULTS [LIKE 'pattern']"),
    (
        "CREATE CREDENTIAL STORAGE",
        "CREATE CREDENTIAL STORAGE name TYPE = hashicorp OPTIONS (address = 'https://vault:8200')",
    ),
    ("ALTER CREDENTIAL STORAGE", "ALTER CREDENTIAL STORAGE name SET DESCRIPTION 'text'"),
    ("DROP CREDENTIAL STORAGE", "DROP CREDENTIAL STORAGE [IF EXISTS] name"),
    ("SHOW CREDENTIAL STORAGES", "SHOW CREDENTIAL STORAGES [LIKE 'pattern']"),
    ("DESCRIBE CREDENTIAL STORAGE", "DESCRIBE CREDENTIAL STORAGE name"),
    ("TEST CREDENTIAL STORAGE", "TEST CREDENTIAL STORAGE name"),
    ("CREATE DATABASE", "CREATE DATABASE [IF NOT EXISTS] db"),
    ("DROP DATABASE", "DROP DATABASE [IF EXISTS] db"),
    ("SHOW DATABASES", "SHOW DATABASES [LIKE 'pattern']"),
    ("CREATE LINK", "CREATE LINK [db.]name AS S3 CONFIG '{\"region\": \"us-east-1\"}' CREDENTIALS FROM VAULT entry"),
    ("CREATE OR REPLACE LINK", "CREATE OR REPLACE LINK [db.]name AS S3 CONFIG '{}' CREDENTIALS FROM VAULT entry"),
    ("ALTER LINK", "ALTER LINK [db.]name SET CONFIG ::region = 'eu-west-1'"),
    ("DROP LINK", "DROP LINK [IF EXISTS] [db.]name"),
    ("SHOW LINKS", "SHOW LINKS [ON db]"),
    ("SHOW CREATE LINK", "SHOW CREATE LINK [db.]name"),
    ("DESCRIBE LINK", "DESCRIBE LINK [db.]name"),
    ("TEST LINK", "TEST LINK [db.]name"),
    ("USE", "USE db"),
    (
        "CREATE PIPELINE",
        "CREATE PIPELINE [db.]name AS LOAD DATA LINK source 'path/' INTO TABLE t ON CONNECTION target FORMAT CSV",
    ),
    ("START PIPELINE", "START PIPELINE [db.]name"),
    ("STOP PIPELINE", "STOP PIPELINE [db.]name"),
    ("DROP PIPELINE", "DROP PIPELINE [IF EXISTS] [db.]name"),
    ("SHOW PIPELINES", "SHOW PIPELINES [ON db]"),
    ("SHOW FILES FOR PIPELINE", "SHOW FILES FOR PIPELINE [db.]name"),
    ("SHOW HISTORY", "SHOW HISTORY FOR CONNECTION name [LIMIT n]"),
];

/// Words the grammar reads in one clause only (CREATE PIPELINE's), which `KEYWORDS` leaves out; completed as
/// keywords all the same.
const CLAUSE_WORDS: &[&str] = &[
    "BY",
    "COLUMNS",
    "CSV",
    "ENCLOSED",
    "ESCAPED",
    "FIELDS",
    "FILES",
    "FOR",
    "FORMAT",
    "IGNORE",
    "JSON",
    "LINES",
    "NULL",
    "OPTIONALLY",
    "TERMINATED",
];

/// The candidates for the word before the end of `before`: where the word starts (a byte offset into `before`) and
/// what may replace it. `before` is the text from the start of the input (earlier lines of an unfinished statement
/// included) to the cursor; `names` lists the names of a kind (in a database, for links and pipelines, when the word
/// names one).
pub(crate) fn complete(before: &str, names: &mut dyn FnMut(Kind, Option<&str>) -> Vec<String>) -> (usize, Vec<Pair>) {
    let none = (before.len(), Vec::new());
    let Some(statement_start) = statement_start(before) else {
        // Inside a quoted literal or identifier: nothing to offer (and nothing a secret could leak into).
        return none;
    };
    let statement = &before[statement_start..];
    let word_start =
        statement.len() - statement.chars().rev().take_while(|c| is_word_char(*c)).map(char::len_utf8).sum::<usize>();
    let word = &statement[word_start..];
    let start = statement_start + word_start;
    let tokens = tokens(&statement[..word_start]);
    if statement.trim_start().starts_with('\\') {
        return (start, meta_candidates(&tokens, word, names));
    }
    let upper: Vec<String> = tokens.iter().map(|t| t.to_ascii_uppercase()).collect();
    let mut candidates = opening_candidates(&upper, word);
    match name_position(&upper) {
        // Only a name fits here (or the `IF` of `IF [NOT] EXISTS`): no other keyword is offered.
        Position::Name(kind) => {
            candidates.extend(name_candidates(kind, word, names));
            if !word.is_empty() && starts_with_ignore_case("IF", word) && word.len() < 2 {
                candidates.push(Pair { display: "IF".to_owned(), replacement: format!("{} ", in_case_of("IF", word)) });
            }
            return (start, candidates);
        }
        // A CREATE's new name: nothing to suggest but the rest of a longer opening (CREATE CREDENTIAL STORAGE).
        Position::NewName => return (start, candidates),
        Position::Other => {}
    }
    if !word.is_empty() && candidates.is_empty() {
        candidates.extend(keyword_candidates(word));
    }
    (start, candidates)
}

/// Where the statement the cursor is in starts: after the last `;` outside quotes and comments. `None` when the
/// cursor is inside a quoted literal or identifier.
fn statement_start(text: &str) -> Option<usize> {
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if comment {
            comment = c != '\n';
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '-' if chars.peek().is_some_and(|(_, next)| *next == '-') => comment = true,
                ';' => start = i + 1,
                _ => {}
            },
        }
    }
    quote.is_none().then_some(start)
}

/// Whether `c` belongs to a word being completed (a keyword, a name, `db.name`, a `\` command).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '\\' | '?')
}

/// The words and the `=` signs of `text`, in order; quoted text counts as one word, comments as none.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '-' && chars.peek().is_some_and(|(_, next)| *next == '-') {
            for (_, d) in chars.by_ref() {
                if d == '\n' {
                    break;
                }
            }
        } else if c == '=' {
            out.push(&text[i..=i]);
        } else if matches!(c, '\'' | '"' | '`') {
            let mut end = text.len();
            for (j, d) in chars.by_ref() {
                if d == c {
                    end = j + 1;
                    break;
                }
            }
            out.push(&text[i..end]);
        } else if is_word_char(c) {
            let mut end = text.len();
            while let Some(&(j, d)) = chars.peek() {
                if !is_word_char(d) {
                    end = j;
                    break;
                }
                chars.next();
            }
            out.push(&text[i..end]);
        }
    }
    out
}

/// Statement openings that `tokens` + `word` begin: what is left of each, from `word` on, with its skeleton shown.
fn opening_candidates(tokens: &[String], word: &str) -> Vec<Pair> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (opening, skeleton) in SKELETONS {
        let words: Vec<&str> = opening.split(' ').collect();
        if words.len() <= tokens.len() || !words.iter().zip(tokens).all(|(w, t)| w == t) {
            continue;
        }
        if !starts_with_ignore_case(words[tokens.len()], word) {
            continue;
        }
        let rest = words[tokens.len()..].join(" ");
        if seen.contains(&rest) {
            continue;
        }
        seen.push(rest.clone());
        out.push(Pair { display: (*skeleton).to_owned(), replacement: format!("{} ", in_case_of(&rest, word)) });
    }
    out
}

/// What comes after some words of a statement.
#[derive(Debug, PartialEq)]
enum Position {
    /// The name of an existing object of this kind.
    Name(Kind),
    /// The name a CREATE gives to a new object.
    NewName,
    /// Anything else: keywords, values.
    Other,
}

/// The words of a statement's opening (and `OR REPLACE`).
const OPENING_WORDS: &[&str] =
    &["OR", "REPLACE", "CONNECTION", "VAULT", "CREDENTIAL", "STORAGE", "DATABASE", "SCHEMA", "LINK", "PIPELINE"];

/// What comes after `tokens` (upper-cased words and `=` signs).
fn name_position(tokens: &[String]) -> Position {
    let mut tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    // `IF [NOT] EXISTS` sits between a statement's opening and its name.
    if tokens.last() == Some(&"EXISTS") {
        tokens.pop();
        if tokens.last() == Some(&"NOT") {
            tokens.pop();
        }
        if tokens.last() == Some(&"IF") {
            tokens.pop();
        }
    }
    let Some(&last) = tokens.last() else { return Position::Other };
    let before = |n: usize| tokens.len().checked_sub(n + 1).map(|i| tokens[i]);
    let first = tokens[0];
    // `CREATE [OR REPLACE] <kind>` with nothing after the kind yet: the name is new.
    if first == "CREATE" && tokens.len() > 1 && tokens[1..].iter().all(|t| OPENING_WORDS.contains(t)) {
        return Position::NewName;
    }
    let shows_in_database = first == "SHOW" && matches!(tokens.get(1).copied(), Some("LINKS" | "PIPELINES"));
    // The kind word right after the statement's verb (`ALTER CONNECTION`, `DESCRIBE CREDENTIAL STORAGE`); elsewhere
    // `CONNECTION`, `CREDENTIAL` and `STORAGE` are mostly keywords of a clause (`SET CREDENTIAL STORAGE = s`).
    let opening = |len: usize| tokens.len() == len;
    let kind = match last {
        "CONNECTION" if opening(2) || before(1) == Some("ON") => Kind::Connection,
        "VAULT" | "CREDENTIAL" if opening(2) || before(1) == Some("FROM") => Kind::Vault,
        "STORAGE" if opening(3) || before(2) == Some("IN") => Kind::Storage,
        "=" if before(1) == Some("CREDENTIAL") => Kind::Vault,
        "=" if before(1) == Some("STORAGE") => Kind::Storage,
        "DATABASE" | "SCHEMA" | "USE" => Kind::Database,
        "ON" | "IN" | "FROM" if shows_in_database => Kind::Database,
        "LINK" => Kind::Link,
        "PIPELINE" => Kind::Pipeline,
        _ => return Position::Other,
    };
    Position::Name(kind)
}

/// The names of `kind` that `word` begins, quoted where they must be. A link or pipeline written `db.` + prefix is
/// looked up in `db`.
fn name_candidates(kind: Kind, word: &str, names: &mut dyn FnMut(Kind, Option<&str>) -> Vec<String>) -> Vec<Pair> {
    let (database, prefix) = match word.split_once('.') {
        Some((database, prefix)) if kind.in_database() => (Some(database), prefix),
        _ => (None, word),
    };
    let mut found: Vec<String> = names(kind, database)
        .into_iter()
        .filter(|name| starts_with_ignore_case(name, prefix))
        .map(|name| {
            let quoted = quote_name(&name, kind.back_quoted());
            match database {
                Some(database) => format!("{database}.{quoted}"),
                None => quoted,
            }
        })
        .collect();
    found.sort();
    found.dedup();
    found.into_iter().map(|name| Pair { display: name.clone(), replacement: name }).collect()
}

/// The keywords `word` begins, in the case it is typed in.
fn keyword_candidates(word: &str) -> Vec<Pair> {
    let mut words: Vec<&str> = lanyard_sql::ast::KEYWORDS.iter().chain(CLAUSE_WORDS).copied().collect();
    words.sort_unstable();
    words.dedup();
    words
        .into_iter()
        .filter(|keyword| starts_with_ignore_case(keyword, word) && keyword.len() > word.len())
        .map(|keyword| Pair { display: keyword.to_owned(), replacement: format!("{} ", in_case_of(keyword, word)) })
        .collect()
}

/// The shell's `\` commands that `word` begins, or the arguments of the command in `tokens`.
fn meta_candidates(tokens: &[&str], word: &str, names: &mut dyn FnMut(Kind, Option<&str>) -> Vec<String>) -> Vec<Pair> {
    let Some(command) = tokens.first() else {
        return META
            .iter()
            .filter(|meta| meta.name.starts_with(word))
            .map(|meta| Pair { display: meta.synopsis(), replacement: format!("{} ", meta.name) })
            .collect();
    };
    if tokens.len() > 1 {
        return Vec::new();
    }
    let kind = match *command {
        "\\x" | "\\timing" | "\\pager" => {
            return ["on", "off"]
                .into_iter()
                .filter(|value| value.starts_with(word))
                .map(|value| Pair { display: value.to_owned(), replacement: value.to_owned() })
                .collect();
        }
        "\\d" => Kind::Connection,
        "\\dv" => Kind::Vault,
        "\\ds" => Kind::Storage,
        "\\dl" => Kind::Link,
        "\\dp" => Kind::Pipeline,
        "\\c" => Kind::Database,
        _ => return Vec::new(),
    };
    name_candidates(kind, word, names)
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `keyword` in lower case when `typed` is all lower case (psql's habit), else upper case.
fn in_case_of(keyword: &str, typed: &str) -> String {
    let lower = typed.chars().any(char::is_alphabetic) && !typed.chars().any(char::is_uppercase);
    if lower { keyword.to_ascii_lowercase() } else { keyword.to_ascii_uppercase() }
}

/// `name` as the grammar reads it back: bare when it is a plain identifier and no keyword, else quoted with
/// `` ` `` (SingleStore names) or `"` (DeltaForge names), the quote doubled inside.
fn quote_name(name: &str, back_quoted: bool) -> String {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !lanyard_sql::ast::KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name));
    if plain {
        return name.to_owned();
    }
    let quote = if back_quoted { '`' } else { '"' };
    let doubled = name.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{doubled}{quote}")
}

/// The names of existing objects, fetched from the server when first asked for and kept until
/// [`Names::invalidate`].
pub(crate) struct Names {
    client: Client,
    runtime: tokio::runtime::Handle,
    /// The session's database: where an unqualified link or pipeline name lives.
    database: RefCell<String>,
    cache: RefCell<HashMap<(Kind, String), Vec<String>>>,
    /// Until when fetching is not tried again, after a failure.
    quiet_until: Cell<Option<Instant>>,
}

impl Names {
    /// Names from the server `client` talks to, fetched on `runtime`.
    pub(crate) fn new(client: Client, runtime: tokio::runtime::Handle, database: &str) -> Self {
        Self {
            client,
            runtime,
            database: RefCell::new(database.to_owned()),
            cache: RefCell::default(),
            quiet_until: Cell::new(None),
        }
    }

    /// Forgets every name: objects may have changed (or the session's database, after `USE`).
    pub(crate) fn invalidate(&self, database: &str) {
        self.cache.borrow_mut().clear();
        self.quiet_until.set(None);
        database.clone_into(&mut self.database.borrow_mut());
    }

    /// The names of `kind` (in `database`, else the session's, for links and pipelines). Empty when the server
    /// does not answer within [`FETCH_TIMEOUT`] or refuses.
    pub(crate) fn get(&self, kind: Kind, database: Option<&str>) -> Vec<String> {
        let database = match database {
            Some(database) if kind.in_database() => database.to_owned(),
            _ if kind.in_database() => self.database.borrow().clone(),
            _ => String::new(),
        };
        let key = (kind, database);
        if let Some(names) = self.cache.borrow().get(&key) {
            return names.clone();
        }
        if self.quiet_until.get().is_some_and(|until| Instant::now() < until) {
            return Vec::new();
        }
        match self.fetch(kind, &key.1) {
            Some(names) => {
                self.cache.borrow_mut().insert(key, names.clone());
                names
            }
            None => {
                self.quiet_until.set(Some(Instant::now() + RETRY_AFTER));
                Vec::new()
            }
        }
    }

    /// One list call on the runtime's workers; the line editor's thread waits at most [`FETCH_TIMEOUT`] for it
    /// (the call itself is dropped at that deadline too).
    fn fetch(&self, kind: Kind, database: &str) -> Option<Vec<String>> {
        let client = self.client.clone();
        let database = database.to_owned();
        let (sender, receiver) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let call = async {
                let names: Vec<String> = match kind {
                    Kind::Connection => client.list_connections(None).await?.into_iter().map(|o| o.name).collect(),
                    Kind::Vault => client.list_entries(None).await?.into_iter().map(|o| o.name).collect(),
                    Kind::Storage => client.list_backends(None).await?.into_iter().map(|o| o.name).collect(),
                    Kind::Database => client.list_databases(None).await?.into_iter().map(|o| o.name).collect(),
                    Kind::Link => client.list_links(&database, None).await?.into_iter().map(|o| o.name).collect(),
                    Kind::Pipeline => client.list_pipelines(&database).await?.into_iter().map(|o| o.name).collect(),
                };
                Ok::<_, lanyard_client::Error>(names)
            };
            if let Ok(Ok(names)) = tokio::time::timeout(FETCH_TIMEOUT, call).await {
                let _ = sender.send(names);
            }
        });
        receiver.recv_timeout(FETCH_TIMEOUT + Duration::from_millis(100)).ok()
    }
}

/// The shell's rustyline helper: completion, with the lines of the statement typed so far as context.
pub(crate) struct ShellHelper {
    /// The earlier lines of an unfinished statement.
    pub(crate) pending: String,
    pub(crate) names: Names,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = format!("{}{}", self.pending, &line[..pos]);
        let (start, candidates) = complete(&before, &mut |kind, database| self.names.get(kind, database));
        // A statement opening that began on an earlier line cannot be replaced from this one.
        match start.checked_sub(self.pending.len()) {
            Some(start) => Ok((start, candidates)),
            None => Ok((pos, Vec::new())),
        }
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use lanyard_sql::Statement;

    use super::*;

    /// A fixed set of names per kind; records what was asked.
    fn names(asked: &RefCell<Vec<(Kind, Option<String>)>>) -> impl FnMut(Kind, Option<&str>) -> Vec<String> + '_ {
        move |kind, database| {
            asked.borrow_mut().push((kind, database.map(str::to_owned)));
            let names: &[&str] = match (kind, database) {
                (Kind::Connection, _) => &["prod_pg", "prod_mysql", "staging", "my conn", "set"],
                (Kind::Vault, _) => &["pg_login", "api_key"],
                (Kind::Storage, _) => &["local", "vault_eu"],
                (Kind::Database, _) => &["default", "analytics"],
                (Kind::Link, Some("analytics")) => &["events"],
                (Kind::Link, _) => &["raw_link"],
                (Kind::Pipeline, _) => &["load_events"],
            };
            names.iter().map(|n| (*n).to_owned()).collect()
        }
    }

    /// The replacements offered at the end of `before`, and where they start.
    fn at_end(before: &str) -> (usize, Vec<String>) {
        let asked = RefCell::new(Vec::new());
        let (start, pairs) = complete(before, &mut names(&asked));
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    fn offered(before: &str) -> Vec<String> {
        at_end(before).1
    }

    #[test]
    fn every_skeleton_parses_as_its_opening_says_and_every_statement_kind_has_one() {
        for (opening, skeleton) in SKELETONS {
            assert!(skeleton.starts_with(opening), "{skeleton}");
            // The optional parts in brackets are left out (or their bracket dropped, for `[db.]`).
            let statement = skeleton
                .replace("[db.]", "db.")
                .replace(" [IF EXISTS]", "")
                .replace(" [IF NOT EXISTS]", "")
                .replace(" [LIKE 'pattern']", "")
                .replace(" [ON db]", "")
                .replace(" [LIMIT n]", "");
            let parsed = lanyard_sql::parse_one(&statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
            let kind = parsed.kind();
            let canonical = opening.replace("CREDENTIALS", "VAULTS").replace(" OR REPLACE", "");
            let canonical = if kind.ends_with("VAULT") { canonical.replace("CREDENTIAL", "VAULT") } else { canonical };
            assert_eq!(kind, canonical, "{skeleton}");
        }
        for kind in Statement::KINDS {
            assert!(SKELETONS.iter().any(|(opening, _)| opening == kind), "no skeleton for {kind}");
        }
    }

    #[test]
    fn the_first_word_completes_to_statement_openings_with_their_skeletons() {
        let asked = RefCell::new(Vec::new());
        let (start, pairs) = complete("SHOW C", &mut names(&asked));
        assert_eq!(start, 5);
        let replacements: Vec<&str> = pairs.iter().map(|p| p.replacement.as_str()).collect();
        assert_eq!(replacements, ["CONNECTIONS ", "CREDENTIALS ", "CREDENTIAL STORAGES ", "CREATE LINK "]);
        assert_eq!(pairs[0].display, "SHOW CONNECTIONS [LIKE 'pattern']");
        assert!(asked.borrow().is_empty(), "no names are fetched for a statement opening");

        assert_eq!(offered("te"), ["test connection ", "test credential storage ", "test link "]);
        assert_eq!(offered("st"), ["start pipeline ", "stop pipeline "]);
        assert_eq!(offered("DESCRIBE CREDENTIAL S"), ["STORAGE "]);
        assert_eq!(offered("CREATE CREDENTIAL "), ["STORAGE "]);
        // Several statements on a line: the opening is that of the last one.
        let (start, drops) = at_end("SHOW VAULTS; dro");
        assert_eq!((start, &drops[..2]), (13, &["drop connection ".to_owned(), "drop credential ".to_owned()][..]));
    }

    #[test]
    fn names_of_existing_objects_follow_the_words_that_name_them() {
        assert_eq!(offered("DESCRIBE CONNECTION prod_"), ["prod_mysql", "prod_pg"]);
        assert_eq!(offered("describe connection PROD_P"), ["prod_pg"]);
        assert_eq!(offered("DROP CONNECTION IF EXISTS st"), ["staging"]);
        // Names that need quoting are quoted; a keyword as a name too.
        assert_eq!(offered("TEST CONNECTION my"), ["\"my conn\""]);
        assert_eq!(offered("TEST CONNECTION se"), ["\"set\""]);
        assert_eq!(offered("CREATE CONNECTION c TYPE = postgresql OPTIONS () CREDENTIAL = pg"), ["pg_login"]);
        assert_eq!(offered("ALTER CONNECTION c SET CREDENTIAL STORAGE = va"), ["vault_eu"]);
        assert_eq!(offered("ALTER CREDENTIAL a"), ["api_key"]);
        assert_eq!(offered("DROP VAULT "), ["api_key", "pg_login"]);
        assert_eq!(offered("CREATE LINK l AS S3 CONFIG '{}' CREDENTIALS FROM VAULT p"), ["pg_login"]);
        assert_eq!(offered("CREATE VAULT v TYPE = CREDENTIAL SECRET 'x' IN CREDENTIAL STORAGE lo"), ["local"]);
        // Where only a name fits, a prefix no name has gets nothing, not a keyword; `IF` is offered.
        assert_eq!(offered("DESCRIBE CONNECTION sh"), Vec::<String>::new());
        assert_eq!(offered("DROP CONNECTION i"), ["if "]);
        // In a clause, CREDENTIAL and STORAGE are keywords.
        assert_eq!(offered("ALTER CONNECTION c SET CREDENTIAL STORAG"), ["STORAGE ", "STORAGES "]);
        assert_eq!(offered("TEST CREDENTIAL STORAGE lo"), ["local"]);
        assert_eq!(offered("USE an"), ["analytics"]);
        assert_eq!(offered("SHOW LINKS ON "), ["analytics", "default"]);
        assert_eq!(offered("DROP LINK r"), ["raw_link"]);
        assert_eq!(offered("SHOW CREATE LINK analytics.ev"), ["analytics.events"]);
        assert_eq!(offered("START PIPELINE lo"), ["load_events"]);
        assert_eq!(
            offered("CREATE PIPELINE p AS LOAD DATA LINK raw_link 'x/' INTO TABLE t ON CONNECTION sta"),
            ["staging"]
        );
        // A statement spanning lines: the earlier lines are context.
        assert_eq!(offered("ALTER CONNECTION\n  prod_m"), ["prod_mysql"]);
    }

    #[test]
    fn a_new_name_a_type_and_quoted_text_complete_nothing() {
        let asked = RefCell::new(Vec::new());
        for before in [
            "CREATE CONNECTION pro",
            "CREATE CREDENTIAL STORAGE lo",
            "CREATE OR REPLACE LINK r",
            "CREATE DATABASE an",
            "CREATE CREDENTIAL IF NOT EXISTS p",
            "CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET 'pg",
            "CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET \"pg",
            "SHOW CONNECTIONS LIKE 'pro",
            "DESCRIBE CONNECTION `prod",
        ] {
            let (_, pairs) = complete(before, &mut names(&asked));
            assert!(pairs.is_empty(), "{before}: {:?}", pairs.iter().map(|p| &p.replacement).collect::<Vec<_>>());
        }
        assert!(asked.borrow().is_empty(), "{asked:?}");
        // After the literal closes, completion is back.
        assert_eq!(offered("CREATE CREDENTIAL c TYPE = CREDENTIAL SECRET 'x' DESCRIP"), ["DESCRIPTION "]);
        // `TYPE = CREDENTIAL` is followed by keywords, not entry names.
        assert_eq!(offered("CREATE CREDENTIAL c TYPE = CREDENTIAL SE"), ["SECRET ", "SET "]);
    }

    #[test]
    fn keywords_inside_a_statement_complete_in_the_case_typed() {
        assert_eq!(offered("ALTER CONNECTION c SET OPTIONS"), Vec::<String>::new());
        assert_eq!(offered("ALTER CONNECTION c SET OPT"), ["OPTION ", "OPTIONALLY ", "OPTIONS "]);
        assert_eq!(offered("alter connection c set opt"), ["option ", "optionally ", "options "]);
        assert_eq!(offered("CREATE PIPELINE p AS LOAD DATA LINK l 'x/' INTO TABLE t ON CONNECTION c FOR"), ["FORMAT "]);
        // Nothing typed yet inside a statement: no list of every keyword.
        assert_eq!(offered("ALTER CONNECTION c "), Vec::<String>::new());
        // A comment does not end a statement, a `;` inside one does not either.
        assert_eq!(offered("-- a; comment\nDESCRIBE CONNECTION st"), ["staging"]);
    }

    #[test]
    fn shell_commands_and_their_arguments_complete() {
        let commands = offered("\\");
        assert!(commands.contains(&"\\x ".to_owned()) && commands.contains(&"\\timing ".to_owned()), "{commands:?}");
        assert_eq!(offered("\\ti"), ["\\timing "]);
        assert_eq!(offered("\\d"), ["\\d ", "\\dv ", "\\ds ", "\\dl ", "\\dp "]);
        assert_eq!(offered("\\d pro"), ["prod_mysql", "prod_pg"]);
        assert_eq!(offered("\\dv "), ["api_key", "pg_login"]);
        assert_eq!(offered("\\ds v"), ["vault_eu"]);
        assert_eq!(offered("\\dl r"), ["raw_link"]);
        assert_eq!(offered("\\dp "), ["load_events"]);
        assert_eq!(offered("\\c a"), ["analytics"]);
        assert_eq!(offered("\\x o"), ["on", "off"]);
        assert_eq!(offered("\\pager of"), ["off"]);
        assert_eq!(offered("\\d prod_pg x"), Vec::<String>::new());
    }

    #[test]
    fn names_cannot_hold_up_completion_when_the_server_is_gone() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        // A port nothing listens on: the fetch fails, completion goes on without names, and does not ask again
        // at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let client = Client::builder(url).build().unwrap();
        let names = Names::new(client, runtime.handle().clone(), "default");
        assert!(names.get(Kind::Connection, None).is_empty());
        let quiet_until = names.quiet_until.get();
        assert!(quiet_until.is_some(), "a failed fetch is remembered");
        assert!(names.get(Kind::Vault, None).is_empty());
        assert_eq!(names.quiet_until.get(), quiet_until, "the second call did not ask the server again");
        names.invalidate("default");
        assert!(names.quiet_until.get().is_none());
    }
}
