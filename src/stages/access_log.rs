//! The access log (design.md section 7: the last step on the way out): a line per request
//! at `info` on the `rosetta::access` target. tower-http's `TraceLayer` keeps a span around the
//! request and writes the line when the response starts; authentication records the consumer
//! in that span. The line names the method, the path (never the query, which may carry an API
//! key), the client's address (through trusted proxies), the consumer, the status (and gRPC's,
//! when it is in the headers) and the time taken.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};

use super::rate_limit::Store;

/// The span of a request: what is known before it is served.
#[derive(Clone)]
pub(crate) struct AccessSpan(Arc<Store>);

impl<B> MakeSpan<B> for AccessSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> tracing::Span {
        let span = tracing::info_span!(
            target: "rosetta::access",
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            client = tracing::field::Empty,
            consumer = tracing::field::Empty,
        );
        // Only when the log is on: the address may mean reading forwarding headers.
        if !span.is_disabled() {
            let peer = request.extensions().get::<ConnectInfo<SocketAddr>>();
            if let Some(client) = self.0.client(peer.map(|info| info.0), request.headers()) {
                span.record("client", tracing::field::display(client));
            }
        }
        span
    }
}

/// The line written when the response starts.
#[derive(Clone)]
pub(crate) struct AccessLine;

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, response: &http::Response<B>, latency: Duration, _: &tracing::Span) {
        let grpc_status = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok());
        tracing::info!(
            target: "rosetta::access",
            status = response.status().as_u16(),
            grpc_status,
            // Milliseconds to the microsecond, not f64's seventeen digits.
            ms = %format_args!("{:.3}", latency.as_secs_f64() * 1e3),
            "served"
        );
    }
}

pub(crate) type AccessLayer =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, AccessSpan, (), AccessLine, (), (), ()>;

/// The access log of a gateway whose client addresses `store` resolves.
pub(crate) fn layer(store: Arc<Store>) -> AccessLayer {
    TraceLayer::new_for_http()
        .make_span_with(AccessSpan(store))
        .on_request(())
        .on_response(AccessLine)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Records the consumer that authentication named in the request's span.
pub(crate) fn record_consumer(id: &str) {
    tracing::Span::current().record("consumer", tracing::field::display(id));
}
