//! `lanyard-client` talks to a Lanyard server: a typed client of the HTTP API ([`Client`]) and the SQL adapter
//! ([`Session`]) that runs DeltaForge- and SingleStore-dialect statements through it, the way `lanyard sql` does.
//!
//! Every statement maps to the calls of control-plane.md: `ALTER` reads the object first (`GET`, which resolves the
//! name and gives its version), then sends the ordered actions in one `PUT` with `If-Match`, and when the object
//! changed in between (412) reads and re-sends, at most 10 times with jittered pauses, before it gives up with a
//! [`Error::Conflict`] that says so; `IF EXISTS` turns a 404 into a clean no-op ([`Outcome::Skipped`]) and `IF NOT
//! EXISTS` an existing object into [`Outcome::Unchanged`]. LINK statements address `/databases/{db}/links…`: an unqualified name is in the session's
//! current database, which `USE` sets after checking that it exists, and which goes back to `default` when DROP
//! DATABASE drops it. DATABASE statements address `/databases…`. Results come back as [`StatementResult`]s: a
//! message, and columns + rows of typed [`Cell`]s for statements that return data, and the [`Warning`]s the server
//! gave with the answer (an EXPIRES in the past or near).
//!
//! ```no_run
//! # async fn demo() -> Result<(), lanyard_client::Error> {
//! use lanyard_client::{Client, Session};
//! use lanyard_core::SecretString;
//!
//! let client = Client::builder("http://127.0.0.1:7600").token(SecretString::new("lyd_…")).build()?;
//! let mut session = Session::new(client);
//! let statement = lanyard_sql::parse_one("SHOW CONNECTIONS").expect("valid SQL");
//! let result = session.execute(&statement).await?;
//! for row in &result.rows {
//!     println!("{}", row[0]);
//! }
//! # Ok(()) }
//! ```
//!
//! The requests it sends and the objects it reads back are the wire types of `lanyard-api`, the ones the server uses:
//! the two sides share one definition of every body.
//!
//! Secrets: the token and every secret literal (`SECRET '…'`, `SET SECRET '…'`, credential-storage options, a link's
//! `CREDENTIALS '{…}'` and `SET CREDENTIALS ::k = '…'`) are held as [`lanyard_core::SecretString`] and exposed only
//! into the request body; no `Debug`, `Display` or error of this crate shows them. What it is not: it has no server code, does no printing, and holds no state but the
//! session's current database (`USE`).

mod adapter;
mod error;
mod http;
mod result;

pub use adapter::{DEFAULT_DATABASE, ScriptEvent, ScriptSummary, Session};
pub use error::{Error, Result};
pub use http::{Client, ClientBuilder, Created, PAGE_SIZE, Pages};
/// The kinds of the API stable problem codes (`not_found`, ...), shared with the server.
pub use lanyard_core::ErrorKind;
pub use result::{Cell, Outcome, StatementResult, Warning};
