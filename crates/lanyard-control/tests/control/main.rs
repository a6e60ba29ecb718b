//! Integration tests of the Control Plane over a real catalog: every test runs twice, on SQLite and on PostgreSQL,
//! each time in a database of its own with a data directory of its own (the local vault's master key file lives
//! there). PostgreSQL comes from `LANYARD_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`, trust
//! auth); a missing server fails the PostgreSQL half loudly, it is never skipped.
//!
//! The modules follow the Control Plane's contract: connections and the seed's ALTER CONNECTION, all-or-nothing
//! ALTERs, vault entries and material-first writes, credential storages and their secret options, databases, tokens and
//! authorization, no lost updates under concurrency, a canary secret that must appear nowhere, and TEST LINK with the
//! real probes across a rotation.

// The backend plugins are linked through the registry only; these lines keep the linker from dropping them.
use lanyard_vault_local as _;
use lanyard_vault_memory as _;

mod common;

mod atomicity;
mod auth;
mod backends;
mod canary;
mod concurrency;
mod connections;
mod databases;
mod entries;
mod input;
mod links;
mod pipelines;
mod test_link;
mod warnings;
