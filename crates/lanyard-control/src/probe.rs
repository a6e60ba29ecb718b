//! The hook TEST CONNECTION calls once the credential has been resolved fresh: `lanyard-connectors` plugs the real
//! probes in; until then [`NoProber`] reports that no probe exists for the type.

use async_trait::async_trait;
use lanyard_resolve::ResolvedConnection;

/// What a probe found. A failure is a result, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Whether the probe passed.
    pub passed: bool,
    /// The remote server's version, if it reports one.
    pub server_version: Option<String>,
    /// Why it failed; must hold no material.
    pub error: Option<String>,
}

impl ProbeResult {
    /// A failed probe.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self { passed: false, server_version: None, error: Some(reason.into()) }
    }
}

/// Opens a real session for a resolved connection and runs the minimal probe of its type.
#[async_trait]
pub trait ConnectionProber: Send + Sync + 'static {
    /// Probes `connection`, whose credential was just resolved.
    async fn probe(&self, connection: &ResolvedConnection) -> ProbeResult;
}

/// The prober of a build without connectors: every type fails with "no probe for type … in this build".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProber;

#[async_trait]
impl ConnectionProber for NoProber {
    async fn probe(&self, connection: &ResolvedConnection) -> ProbeResult {
        ProbeResult::failed(format!("no probe for type {:?} in this build", connection.connection_type()))
    }
}
