//! The hook TEST CONNECTION calls once the credential has been resolved fresh: [`Connectors`] (the default) runs
//! `lanyard-connectors`' probe of the connection's type; [`NoProber`] reports that no probe exists for any type.

use async_trait::async_trait;
use lanyard_connectors::ConnectError;
use lanyard_resolve::ResolvedConnection;

/// What a probe found. A failure is a result, not an error.
pub use lanyard_connectors::ProbeResult;

/// Opens a real session for a resolved connection and runs the minimal probe of its type.
#[async_trait]
pub trait ConnectionProber: Send + Sync + 'static {
    /// Probes `connection`, whose credential was just resolved.
    async fn probe(&self, connection: &ResolvedConnection) -> ProbeResult;
}

/// The real probes of `lanyard-connectors` (postgresql, mysql, object stores, rest, git), bounded by each
/// connection's timeout; types without a probe fail with "no probe for type … in this build".
#[derive(Debug, Clone, Copy, Default)]
pub struct Connectors;

#[async_trait]
impl ConnectionProber for Connectors {
    async fn probe(&self, connection: &ResolvedConnection) -> ProbeResult {
        lanyard_connectors::probe(connection).await
    }
}

/// A prober without connectors: every type fails with "no probe for type … in this build" (tests that must not
/// reach the network install it with `ControlPlane::with_prober`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProber;

#[async_trait]
impl ConnectionProber for NoProber {
    async fn probe(&self, connection: &ResolvedConnection) -> ProbeResult {
        ProbeResult::failed(ConnectError::Unsupported(connection.connection_type().to_owned()).to_string())
    }
}
