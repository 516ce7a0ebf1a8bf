//! IP allow and deny lists (design.md section 7: the first stage after the client's address
//! is known). The address is the one rate limits use: the peer, or through trusted proxies
//! the right-most untrusted hop.
//!
//! The rules act twice: as a stage on every call (exact, whatever the frontend: a GraphQL root
//! field or a SOAP operation may have rules of its own), and as a gate on the HTTP request,
//! which refuses a client that every rule set served at the request's path refuses — before
//! its body is read or CORS answers it.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::HeaderMap;
use ipnet::IpNet;
use tower::ServiceExt;

use super::rate_limit::Store;
use super::Stage;
use crate::call::{Call, Invoker, Reply};
use crate::status::Status;

pub struct IpStage {
    pub store: Arc<Store>,
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

impl IpStage {
    /// Whether the rules refuse the client at `peer` (through trusted proxies, `headers`).
    fn refuses(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
        let client = self.store.client(peer, headers);
        let inside = |nets: &[IpNet]| client.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)));
        inside(&self.deny) || (!self.allow.is_empty() && !inside(&self.allow))
    }
}

/// The answer to a refused client.
pub(crate) fn refusal() -> Status {
    Status::permission_denied("the client's address may not call this API")
}

impl Stage for IpStage {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        if self.refuses(call.origin.peer, &call.origin.headers) {
            return Box::pin(async move { Err(refusal()) });
        }
        Box::pin(next.oneshot(call))
    }
}

/// The rule sets of everything served at one path: a client they all refuse cannot be
/// served there, whatever its body asks for.
#[derive(Clone)]
pub struct IpGate(Vec<Arc<IpStage>>);

impl IpGate {
    /// The gate of `rules`, one entry per method served at the path; none when a method has no
    /// rules (anyone may call it).
    pub fn of(rules: impl IntoIterator<Item = Option<Arc<IpStage>>>) -> Option<IpGate> {
        let sets: Option<Vec<Arc<IpStage>>> = rules.into_iter().collect();
        sets.filter(|sets| !sets.is_empty()).map(IpGate)
    }

    /// The gate of a path served by both: a client is refused only if both refuse it.
    pub fn both(one: Option<IpGate>, other: Option<IpGate>) -> Option<IpGate> {
        let (IpGate(mut one), IpGate(other)) = (one?, other?);
        one.extend(other);
        Some(IpGate(one))
    }

    pub fn refuses(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
        self.0.iter().all(|rules| rules.refuses(peer, headers))
    }
}
