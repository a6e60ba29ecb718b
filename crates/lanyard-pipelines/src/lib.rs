//! `lanyard-pipelines` is the pipeline runner: it reads a link's object store, loads a target table exactly once,
//! and leases each pipeline to one node at a time across the nodes that share a catalog.
//!
//! - [`load`] turns one file (CSV or JSON lines, [`lanyard_core::LoadFormat`]) into rows of a PostgreSQL or
//!   MySQL/MariaDB table in one transaction of the target, together with a row of the target's
//!   `lanyard_pipeline_ledger` table, so a file is loaded exactly once whatever crashes in between.
//! - [`Runner`] runs in `lanyard serve`: one task per Running pipeline this node holds the lease of, batch after
//!   batch, each resolving the link's and the target's credentials fresh; see the `runner` module's doc for the
//!   guarantees (also in `docs/operations.md`).
//!
//! What it is not: it parses no SQL statements and serves no HTTP; it opens no sessions of its own (the target
//! sessions come from `lanyard-connectors`, which resolves their credentials fresh) and keeps no credential.

pub mod load;
mod metrics;
mod runner;

pub use metrics::RunnerMetrics;
pub use runner::{Runner, RunnerConfig, RunnerHandle};
