//! Where the backends are, and whether they can be reached (`rosetta check --connect`, and
//! `serve` as it starts).

use std::time::Duration;

use super::Gateway;
use crate::backend::reach::{probe, ProbeError};
use crate::config::{self, Diagnostics, LoadedConfig, Located};

/// Every backend with an address, expanded: gateway.yaml's by name, a mapping's own by its file.
pub(super) fn backend_addresses(config: &LoadedConfig) -> Vec<(String, String)> {
    let mut scratch = Diagnostics::default();
    let mut expanded = |address: &Located<String>, at: config::Pos| {
        config::expand(address, at, &config.vars, &mut scratch)
    };
    let named = (config.gateway.backends.iter()).filter_map(|(name, backend)| {
        let address = backend.address.as_ref()?;
        let at = config.pos(address);
        Some((format!("backend `{name}`"), expanded(address, at)?))
    });
    let mut found: Vec<(String, String)> = named.collect();
    for mapping in &config.mappings {
        if let Some(address) = &mapping.config.backend.address {
            let at = mapping.pos(address);
            if let Some(text) = expanded(address, at) {
                found.push((format!("the backend of {}", mapping.file), text));
            }
        }
    }
    found
}

impl Gateway {
    /// Probes every backend with an address (a TCP connection, at most `timeout` each, all at
    /// once): those that cannot be reached, what they are called, where, and why.
    pub async fn unreachable_backends(&self, timeout: Duration) -> Vec<Unanswered> {
        unreachable(&self.backends, timeout).await
    }

    /// Warns, in the background, about the backends that cannot be reached as the gateway
    /// starts (it serves anyway: they may come up later).
    pub fn warn_unreachable_backends(&self, timeout: Duration) {
        let backends = self.backends.clone();
        tokio::spawn(async move {
            for (name, address, why) in unreachable(&backends, timeout).await {
                tracing::warn!(target: "rosetta::backend", "{name} at {address} cannot be reached: {why}; calls to it fail until it is up");
            }
        });
    }
}

/// A backend that did not answer a probe: what it is called, where, and why.
type Unanswered = (String, String, ProbeError);

/// The `backends` (name, address) that do not answer a probe, all probed at once.
async fn unreachable(backends: &[(String, String)], timeout: Duration) -> Vec<Unanswered> {
    let probes = backends.iter().map(|(name, address)| async move {
        let outcome = probe(address, timeout).await;
        outcome
            .err()
            .map(|why| (name.clone(), address.clone(), why))
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}
