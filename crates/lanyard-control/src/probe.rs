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

/// The real probes of `lanyard-connectors` (postgresql, mysql, object stores, rest, git, sftp), bounded by each
/// connection's timeout; types without a probe are `unsupported`: "no probe for type … in this build".
#[derive(Debug, Clone, Copy, Default)]
pub struct Connectors;

#[async_trait]
impl ConnectionProber for Connectors {
    async fn probe(&self, connection: &ResolvedConnection) -> ProbeResult {
        lanyard_connectors::probe(connection).await
    }
}

/// A prober without connectors: every type is `unsupported`, "no probe for type … in this build" (tests that must
/// not reach the network install it with `ControlPlane::with_prober`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProber;

#[async_trait]
impl ConnectionProber for NoProber {
    async fn probe(&self, connection: &ResolvedConnection) -> ProbeResult {
        ProbeResult::unsupported(ConnectError::Unsupported(connection.connection_type().to_owned()).to_string())
    }
}

/// How long TEST CONNECTION / TEST LINK waits for the credential.
const RESOLVE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

impl crate::ControlPlane {
    /// TEST CONNECTION / TEST LINK: resolves `target` fresh and runs the probe of its type. A resolve that fails is a
    /// failed probe with the resolver's reason (which holds no material), also for a type without a probe: its
    /// credential is resolved all the same, so `unsupported` still proves that the vault half works. Also returns
    /// how long it all took, in ms.
    pub(crate) async fn probe(&self, target: lanyard_resolve::ConnectionRef) -> (ProbeResult, i64) {
        let started = std::time::Instant::now();
        let result = match self.resolver().resolve_within(target, RESOLVE_DEADLINE).await {
            Ok(resolved) => self.inner.prober.probe(&resolved).await,
            Err(error) => ProbeResult::failed(error.to_string()),
        };
        (result, i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}
