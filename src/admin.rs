//! The admin endpoints: `GET /_rosetta/metrics` (the Prometheus text format, written by the
//! `prometheus` crate from the gateway's registry) and
//! `POST /_rosetta/cache/purge`. They have a listener of their own (`admin.listen`), or sit on
//! the public one behind a bearer token (`admin.token`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::IntoResponse;
use prost_reflect::DescriptorPool;

use crate::server::handler::{handler, only, Handler};
use prometheus::Registry;

use crate::stages::{cache, rate_limit};

/// What the admin endpoints show and act on.
#[derive(Clone)]
pub struct Admin {
    pub(crate) pool: DescriptorPool,
    /// The SHA-256 of the token with which the public listener serves the metrics.
    pub(crate) token: Option<[u8; 32]>,
    /// The rate limits' state (the access log resolves client addresses with it).
    pub(crate) limits: Arc<rate_limit::Store>,
    /// Every metric of the gateway; the stages register theirs when they are built.
    pub(crate) metrics: Arc<Registry>,
    /// The cache, and the SHA-256 of the purge endpoint's token (when there is one).
    pub(crate) cache_purge: Option<(Arc<cache::Store>, [u8; 32])>,
}

const METRICS_PATH: &str = "/_rosetta/metrics";
const PURGE_PATH: &str = "/_rosetta/cache/purge";

impl Admin {
    /// The admin endpoints the public listener serves: the metrics behind `admin.token` (when
    /// gateway.yaml gives one), the purge endpoint behind its own token.
    pub(crate) fn public_routes(&self) -> Vec<(&'static str, Handler)> {
        let mut routes = Vec::new();
        if let Some(token) = self.token {
            let pool = self.pool.clone();
            let metrics = self.metrics_endpoint();
            let metrics = handler(move |request: http::Request<axum::body::Body>| {
                let (metrics, pool) = (metrics.clone(), pool.clone());
                async move {
                    match unauthorized(request.headers(), &token, &pool) {
                        None => metrics(request).await,
                        Some(refusal) => refusal,
                    }
                }
            });
            routes.push((METRICS_PATH, metrics));
        }
        if let Some(purge) = self.purge_endpoint() {
            routes.push((PURGE_PATH, purge));
        }
        routes
    }

    /// The admin endpoints alone, for the admin listener: the metrics without a token, the
    /// purge endpoint behind its own.
    pub fn app(&self) -> axum::Router {
        let route = |serve: Handler| axum::routing::any(move |request| serve(request));
        let mut app = axum::Router::new().route(METRICS_PATH, route(self.metrics_endpoint()));
        if let Some(purge) = self.purge_endpoint() {
            app = app.route(PURGE_PATH, route(purge));
        }
        let pool = self.pool.clone();
        app.fallback(move || {
            let status = crate::status::Status::not_found("no admin endpoint at this path");
            std::future::ready(crate::frontend::rest::response::error(&status, &pool))
        })
    }

    /// `GET /_rosetta/metrics`: the registry in the Prometheus text format (0.0.4, the one
    /// `promtool check metrics` reads; prometheus-client writes only OpenMetrics' flavour).
    fn metrics_endpoint(&self) -> Handler {
        let registry = self.metrics.clone();
        let metrics = handler(move |_| {
            use prometheus::Encoder;
            let encoder = prometheus::TextEncoder::new();
            let mut text = String::new();
            let response = match encoder.encode_utf8(&registry.gather(), &mut text) {
                Ok(()) => {
                    let content_type = [(http::header::CONTENT_TYPE, encoder.format_type())];
                    (content_type, text).into_response()
                }
                Err(e) => {
                    tracing::error!(error = %e, "the metrics could not be written");
                    http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            };
            std::future::ready(response)
        });
        only(http::Method::GET, metrics)
    }

    /// `POST /_rosetta/cache/purge`, when gateway.yaml gives it a token.
    fn purge_endpoint(&self) -> Option<Handler> {
        let (store, token) = self.cache_purge.clone()?;
        let pool = self.pool.clone();
        let purge =
            handler(move |request| purge_endpoint(store.clone(), token, pool.clone(), request));
        Some(only(http::Method::POST, purge))
    }
}

/// The 401 to answer unless the request carries `Authorization: Bearer <token>` for the token
/// whose SHA-256 is `token` (compared in constant time).
fn unauthorized(
    headers: &http::HeaderMap,
    token: &[u8; 32],
    pool: &DescriptorPool,
) -> Option<axum::response::Response> {
    use subtle::ConstantTimeEq;
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| crate::stages::auth::digest(t.trim().as_bytes()));
    if presented.is_some_and(|p| bool::from(p.ct_eq(token))) {
        return None;
    }
    let status = crate::status::Status::unauthenticated("a bearer token is required").with_header(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer realm=\"rosetta\""),
    );
    Some(crate::frontend::rest::response::error(&status, pool))
}

/// `POST /_rosetta/cache/purge[?method=<full name>][&key=<key>]` with `Authorization: Bearer
/// <token>`: forgets entries, in memory and in Redis. 204, or an error in the REST shape.
async fn purge_endpoint(
    store: Arc<cache::Store>,
    token: [u8; 32],
    pool: DescriptorPool,
    request: http::Request<axum::body::Body>,
) -> axum::response::Response {
    use crate::status::Status;
    let error = |status: Status| crate::frontend::rest::response::error(&status, &pool);
    if let Some(refusal) = unauthorized(request.headers(), &token, &pool) {
        return refusal;
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let purged = store
        .purge(
            query.get("method").map(String::as_str),
            query.get("key").map(String::as_str),
        )
        .await;
    match purged {
        Ok(()) => http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(Status::unavailable(format!("cannot purge: {e}"))),
    }
}
