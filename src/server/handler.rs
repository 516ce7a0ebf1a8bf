//! Handlers as values: what serves the requests of one path, shared by them.

use std::sync::Arc;

use axum::response::IntoResponse;

/// What serves a request: a frontend's handler, shared by the requests of its path.
pub(crate) type Handler = Arc<
    dyn Fn(
            http::Request<axum::body::Body>,
        ) -> futures::future::BoxFuture<'static, axum::response::Response>
        + Send
        + Sync,
>;

pub(crate) fn handler<F, Fut>(serve: F) -> Handler
where
    F: Fn(http::Request<axum::body::Body>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    Arc::new(move |request| Box::pin(serve(request)))
}

/// A handler for requests of `method` only (GET also answers HEAD); others get 405.
pub(crate) fn only(method: http::Method, serve: Handler) -> Handler {
    let allow = if method == http::Method::GET {
        http::HeaderValue::from_static("GET,HEAD")
    } else {
        http::HeaderValue::from_str(method.as_str())
            .unwrap_or(http::HeaderValue::from_static("POST"))
    };
    handler(move |request| {
        let asked = request.method();
        let allowed =
            asked == method || (method == http::Method::GET && asked == http::Method::HEAD);
        let answer = allowed.then(|| serve(request));
        let allow = allow.clone();
        async move {
            match answer {
                Some(answer) => answer.await,
                None => {
                    let mut response = http::StatusCode::METHOD_NOT_ALLOWED.into_response();
                    response.headers_mut().insert(http::header::ALLOW, allow);
                    response
                }
            }
        }
    })
}
