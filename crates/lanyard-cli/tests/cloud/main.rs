//! End to end through the real binaries: `lanyard serve` with the cloud vault backends against real servers or
//! faithful doubles, driven by `lanyard sql`. One module per backend; each fails loudly when its server is missing
//! or the binary was built without the backend's feature.

mod aws;
mod azure;
mod gcp;
mod hashicorp;

/// The `lanyard` binary under test.
pub(crate) const LANYARD: &str = env!("CARGO_BIN_EXE_lanyard");
