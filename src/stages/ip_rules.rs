//! IP allow and deny lists (conventions section 7: the first stage after the client's address
//! is known). The address is the one rate limits use: the peer, or through trusted proxies
//! the right-most untrusted hop.

use std::sync::Arc;

use futures::future::BoxFuture;
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
    fn admit(&self, call: &Call) -> Result<(), Status> {
        let client = self.store.client(&call.origin);
        let inside = |nets: &[IpNet]| client.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)));
        let denied = inside(&self.deny) || (!self.allow.is_empty() && !inside(&self.allow));
        if denied {
            return Err(Status::permission_denied(
                "the client's address may not call this API",
            ));
        }
        Ok(())
    }
}

impl Stage for IpStage {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        match self.admit(&call) {
            Ok(()) => Box::pin(next.oneshot(call)),
            Err(status) => Box::pin(async move { Err(status) }),
        }
    }
}
