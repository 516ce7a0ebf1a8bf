//! IP allow and deny lists (conventions section 7: the first stage after the client's address
//! is known). The address is the one rate limits use: the peer, or through trusted proxies
//! the right-most untrusted hop.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use ipnet::IpNet;

use super::rate_limit::Store;
use crate::call::{Call, Reply};
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

/// The stage as a tower layer over an invoker.
#[derive(Clone)]
pub struct IpLayer(pub Arc<IpStage>);

impl<S> tower::Layer<S> for IpLayer {
    type Service = IpService<S>;

    fn layer(&self, inner: S) -> IpService<S> {
        IpService {
            stage: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct IpService<S> {
    stage: Arc<IpStage>,
    inner: S,
}

impl<S> tower::Service<Call> for IpService<S>
where
    S: tower::Service<Call, Response = Reply, Error = Status> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Reply;
    type Error = Status;
    type Future = BoxFuture<'static, Result<Reply, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        if let Err(status) = self.stage.admit(&call) {
            return Box::pin(async move { Err(status) });
        }
        Box::pin(self.inner.call(call))
    }
}
