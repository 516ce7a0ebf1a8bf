//! Stages (design.md section 7): what a request meets between the listener and the backend,
//! each with a typed configuration. The request stages act on the HTTP request before a
//! frontend reads it; the call stages are tower layers over a mapping's invoker and act on the
//! canonical call, so every frontend gets them alike.
//!
//! The chain, outermost first, is written in this file and nowhere else:
//! [`around_router`] (access log, header limits), [`guarded`] (IP gate, CORS), then the
//! frontend reads the body within its size limit and decodes the call, then
//! [`CallStages::over`] (IP rules, authentication, rate limits, cache, validation, injection
//! filtering, transforms), then the backend's own rate limit ([`Security::outbound`]) and the
//! backend call. A new stage is a module here and one line in one of those three lists.

pub(crate) mod access_log;
pub mod auth;
pub(crate) mod cache;
pub(crate) mod cors;
pub(crate) mod guard;
pub mod injection;
pub(crate) mod ip_rules;
pub(crate) mod jwt;
pub(crate) mod rate_limit;
mod security;
mod settings;
pub(crate) mod transform;
pub(crate) mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::call::{Call, Invoker, Reply};
use crate::server::handler::Handler;
use crate::status::Status;
use guard::Guard;

pub use security::Security;
pub use settings::{
    named_method, no_method, routes, MethodIpRules, PerMethod, Routes, StageSettings,
};

/// Adds a metric to the gateway's registry. A name registered twice is a mistake of the code,
/// not of the configuration: it is logged and the second metric left out.
pub(crate) fn register_metric<M: prometheus::core::Collector + 'static>(
    registry: &prometheus::Registry,
    metric: M,
) {
    if let Err(e) = registry.register(Box::new(metric)) {
        tracing::error!(error = %e, "a metric could not be registered");
    }
}

/// A stage: what to do with a call, given the invoker after it.
pub trait Stage: Send + Sync + 'static {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: Invoker,
    ) -> futures::future::BoxFuture<'static, Result<Reply, Status>>;
}

/// A stage as a tower layer over an invoker.
pub struct StageLayer<T: ?Sized>(pub Arc<T>);

impl<T: Stage + ?Sized> tower::Layer<Invoker> for StageLayer<T> {
    type Service = Invoker;

    fn layer(&self, next: Invoker) -> Invoker {
        let stage = self.0.clone();
        Invoker::new(tower::service_fn(move |call: Call| {
            stage.clone().call(call, next.clone())
        }))
    }
}

/// The call stages of one method; `None` where its settings ask for none.
#[derive(Clone, Default)]
pub(crate) struct CallStages {
    ip_rules: Option<Arc<ip_rules::IpStage>>,
    auth: Option<Arc<auth::AuthStage>>,
    limits: Option<Arc<rate_limit::RateLimitStage>>,
    cache: Option<Arc<cache::CacheStage>>,
    validation: Option<Arc<validate::Validator>>,
    injection: Option<Arc<injection::InjectionStage>>,
    transforms: Option<Arc<transform::Transforms>>,
}

impl CallStages {
    /// `backend` behind the call stages. The list is the chain's order, outermost first.
    fn over(&self, backend: Invoker) -> Invoker {
        fn erased<T: Stage>(stage: &Option<Arc<T>>) -> Option<Arc<dyn Stage>> {
            stage.clone().map(|stage| stage as Arc<dyn Stage>)
        }
        let chain = [
            // IP allow and deny, exact per method whatever the frontend (a GraphQL root field
            // or a SOAP operation may have rules of its own).
            erased(&self.ip_rules),
            // Authentication: names the consumer that limits and the cache key count by.
            erased(&self.auth),
            // Rate limits: by client, consumer, credential, header, route, plan.
            erased(&self.limits),
            // Cache lookup and store: only valid calls reach the store, and it keeps the
            // transformed reply.
            erased(&self.cache),
            // Validation of the request message.
            erased(&self.validation),
            // Injection filtering of the request's strings.
            erased(&self.injection),
            // Transforms: the request on the way in, the reply on the way out.
            erased(&self.transforms),
        ];
        let inside_out = chain.into_iter().rev().flatten();
        inside_out.fold(backend, |next, stage| {
            tower::Layer::layer(&StageLayer(stage), next)
        })
    }
}

/// The request stages around the whole router, outermost first: the access log (it sees every
/// answer, refusals included), then the header limits. `refuse` answers in the listener's
/// terms (REST's error body).
pub fn around_router(
    app: axum::Router,
    store: Arc<rate_limit::Store>,
    (max_headers, max_header_bytes): (usize, usize),
    refuse: impl Fn(&Status) -> axum::response::Response + Clone + Send + Sync + 'static,
) -> axum::Router {
    let header_limits = move |request: axum::extract::Request, next: axum::middleware::Next| {
        let refuse = refuse.clone();
        async move {
            let count = request.headers().len();
            let bytes: usize = (request.headers().iter())
                .map(|(name, value)| name.as_str().len() + value.len())
                .sum();
            if count > max_headers || bytes > max_header_bytes {
                let status = Status::invalid_argument(format!(
                    "the request's headers are too many or too large (at most {max_headers} headers, {max_header_bytes} bytes)"
                ))
                .with_http(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
                return refuse(&status);
            }
            next.run(request).await
        }
    };
    // axum's last layer is the outermost.
    app.layer(axum::middleware::from_fn(header_limits))
        .layer(access_log::layer(store))
}

/// The request stages of one path, in order: the IP gate (a client every rule set at the path
/// refuses is answered at once by `refuse`, its body unread, no CORS), then CORS, then `serve`.
pub async fn guarded(
    guard: &Guard,
    request: http::Request<axum::body::Body>,
    serve: Handler,
    refuse: impl FnOnce(&Status, &http::Request<axum::body::Body>) -> axum::response::Response,
) -> axum::response::Response {
    if let Some(gate) = &guard.ip {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        if gate.refuses(peer, request.headers()) {
            return refuse(&ip_rules::refusal(), &request);
        }
    }
    match &guard.cors {
        None => serve(request).await,
        Some(policy) => {
            use tower::{Layer, ServiceExt};
            let service = tower::service_fn(move |request| {
                let answer = serve(request);
                async move { Ok::<_, std::convert::Infallible>(answer.await) }
            });
            match policy.layer.layer(service).oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }
}
