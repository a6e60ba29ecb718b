//! The SQL → HTTP adapter: every statement becomes its API calls, exactly as
//! control-plane.md describes (ALTER = GET to resolve, then PUT with the ordered actions and `If-Match`), and comes
//! back as a typed [`StatementResult`](crate::StatementResult).
//!
//! `script.rs` runs whole scripts (parse first, then statement after statement, with the stop / continue rules);
//! `statements.rs` maps each statement to its calls; `rows.rs` renders what came back as messages and rows;
//! `retry.rs` paces an ALTER's re-read and re-send when the object changed under it (412), a bounded number of
//! times, and says so plainly when it gives up.

mod retry;
mod rows;
mod script;
mod statements;

use lanyard_core::Name;

use crate::http::Client;

pub use script::{ScriptEvent, ScriptSummary};

/// The database a session starts in (for the LINK dialect's unqualified names).
pub const DEFAULT_DATABASE: &str = "default";

/// A SQL session against one server: a [`Client`] plus the session state (`USE`; DROP DATABASE of the current
/// database goes back to `default`).
#[derive(Debug, Clone)]
pub struct Session {
    client: Client,
    database: Name,
}

impl Session {
    /// A session in the `default` database.
    pub fn new(client: Client) -> Self {
        Self { client, database: Self::default_database() }
    }

    /// The name of the `default` database.
    fn default_database() -> Name {
        Name::new(DEFAULT_DATABASE).unwrap_or_else(|_| unreachable!("a valid name"))
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The current database (`USE`).
    pub fn database(&self) -> &str {
        self.database.as_str()
    }
}
