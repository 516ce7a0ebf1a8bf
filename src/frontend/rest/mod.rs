//! The REST/JSON frontend: routes HTTP requests by `google.api.http` rules and transcodes them
//! to and from the canonical call (design.md section 3).

pub mod matcher;
pub(crate) mod mount;
pub(crate) mod openapi;
pub mod request;
pub(crate) mod response;
pub(crate) mod route;
mod websocket;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prost_reflect::DescriptorPool;

use crate::call::{self, Call, MessageStream, Origin, ReplyStream};
use crate::http_rule::json_seq::JsonSplitter;
use crate::status::Status;
use matcher::{Lookup, Matcher};
use request::Binding;
use response::Framing;
use route::Route;

/// The routes of every REST mapping, ready to serve.
pub struct RestFrontend {
    matcher: Matcher,
    routes: Vec<Arc<Route>>,
    pool: DescriptorPool,
    max_body: usize,
    /// The OpenAPI document of the routes, served at `/openapi.json`: written when first
    /// asked for, since for thousands of routes it is large and most gateways never serve it.
    openapi: std::sync::OnceLock<Bytes>,
}

impl RestFrontend {
    pub fn new(
        matcher: Matcher,
        routes: Vec<Arc<Route>>,
        pool: DescriptorPool,
        max_body: usize,
    ) -> Self {
        RestFrontend {
            matcher,
            routes,
            pool,
            max_body,
            openapi: std::sync::OnceLock::new(),
        }
    }

    /// The OpenAPI 3.1 document of the routes.
    pub fn openapi(&self) -> serde_json::Value {
        openapi::document(&self.routes)
    }

    fn openapi_bytes(&self) -> Bytes {
        (self.openapi.get_or_init(|| {
            serde_json::to_vec(&self.openapi())
                .unwrap_or_default()
                .into()
        }))
        .clone()
    }

    pub fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }

    /// The route a request would take, if any.
    pub fn route_for(&self, method: &Method, path: &str) -> Option<Arc<Route>> {
        match self.matcher.lookup(method, path) {
            Lookup::Found { route, .. } => Some(self.routes[route].clone()),
            _ => None,
        }
    }

    pub async fn handle(self: Arc<Self>, request: http::Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        if websocket::is_upgrade(&parts.headers) {
            if let Some((route, segments)) = self.bidi_route(&path) {
                return websocket::serve(route, &segments, parts, self.pool.clone(), self.max_body)
                    .await
                    .unwrap_or_else(|status| response::error(&status, &self.pool));
            }
        }
        match self.matcher.lookup(&parts.method, &path) {
            Lookup::Found { route, segments } => {
                let route = match versioned(&self.routes[route], &parts) {
                    Ok(route) => route,
                    Err(status) => return response::error(&status, &self.pool),
                };
                let mapping = route.mapping.clone();
                let mut response = match self.serve(route, &segments, parts, body).await {
                    Ok(response) => response,
                    Err(status) => response::error(&status, &self.pool),
                };
                let headers = response.headers_mut();
                for (prefixed, name) in &mapping.plain_headers {
                    let values: Vec<_> = headers.get_all(prefixed).iter().cloned().collect();
                    headers.remove(prefixed);
                    for value in values {
                        headers.append(name, value);
                    }
                }
                for (name, value) in &mapping.response_headers {
                    headers.insert(name, value.clone());
                }
                response
            }
            Lookup::MethodNotAllowed(allowed) => {
                response::method_not_allowed(&parts.method, &path, &allowed, &self.pool)
            }
            Lookup::NotFound if path == "/openapi.json" && parts.method == Method::GET => {
                Response::builder()
                    .header(CONTENT_TYPE, "application/json")
                    .body(Body::from(self.openapi_bytes()))
                    .unwrap_or_default()
            }
            Lookup::NotFound => response::error(
                &Status::not_found(format!("no route for {} {path}", parts.method)),
                &self.pool,
            ),
        }
    }

    /// The bidi-streaming route at `path` under any method, for WebSocket upgrades.
    fn bidi_route<'p>(&self, path: &'p str) -> Option<(Arc<Route>, Vec<&'p str>)> {
        [Method::GET, Method::POST, Method::PUT, Method::PATCH]
            .iter()
            .find_map(|method| match self.matcher.lookup(method, path) {
                Lookup::Found { route, segments } => {
                    let route = &self.routes[route];
                    (route.operation.kind == crate::registry::CallKind::Bidi)
                        .then(|| (route.clone(), segments))
                }
                _ => None,
            })
    }

    async fn serve(
        &self,
        route: Arc<Route>,
        segments: &[&str],
        parts: http::request::Parts,
        body: Body,
    ) -> Result<Response, Status> {
        let bindings = request::bindings(&route, segments, parts.uri.query())?;
        let headers = &parts.headers;
        let input_error = InputError::default();
        let (input, whole_body): (MessageStream, _) = if route.operation.kind.streams_requests() {
            let input = streaming_input(
                route.clone(),
                body,
                bindings,
                self.max_body,
                input_error.clone(),
            );
            (input, None)
        } else {
            let bytes = read_body(body, headers, self.max_body).await?;
            let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let message = request::decode_message(&route, &bytes, content_type, &bindings)?;
            (
                futures::stream::once(async { message }).boxed(),
                Some(bytes),
            )
        };
        let call = Call::for_request(
            route.operation.clone(),
            input,
            Origin::new(&parts, whole_body),
            &route.mapping.forward_headers,
            route.timeout,
        )?;
        let reply = call::invoke(&route.invoker, call).await;
        let reply = match (reply, input_error.take()) {
            (_, Some(status)) | (Err(status), None) => return Err(status),
            (Ok(reply), None) => reply,
        };
        let mut messages = with_input_error(reply.messages, input_error);
        if !route.operation.kind.streams_responses() {
            let message = messages
                .next()
                .await
                .ok_or_else(|| Status::internal("the backend sent no response message"))??;
            let (bytes, content_type) = response::payload(&route, &message)?;
            return Ok(response::ok(
                content_type,
                Body::from(bytes),
                &reply.metadata,
            ));
        }
        let framing = Framing::from_accept(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
        // Wait for the first message, so that an error before it gets its HTTP status.
        let (content_type, body) = match messages.next().await {
            Some(Err(status)) => return Err(status),
            Some(Ok(first)) => response::stream(route, self.pool.clone(), framing, first, messages),
            None => framing.empty(),
        };
        Ok(response::ok(content_type, body, &reply.metadata))
    }
}

/// The version of a route the request asks for: the one whose `api_version` it names, else
/// the one without a version when it names none; a version nobody serves is NOT_FOUND.
fn versioned(route: &Arc<Route>, parts: &http::request::Parts) -> Result<Arc<Route>, Status> {
    if route.versions.is_empty() {
        return match &route.mapping.api_version {
            Some(version) if version.source.read(parts).as_deref() != Some(&version.value) => {
                Err(unserved(version.source.read(parts)))
            }
            _ => Ok(route.clone()),
        };
    }
    let candidates = || std::iter::once(route).chain(&route.versions);
    if let Some(found) = candidates().find(|r| {
        r.mapping
            .api_version
            .as_ref()
            .is_some_and(|v| v.source.read(parts).as_deref() == Some(&v.value))
    }) {
        return Ok(found.clone());
    }
    let named = candidates().find_map(|r| r.mapping.api_version.as_ref()?.source.read(parts));
    match (
        named,
        candidates().find(|r| r.mapping.api_version.is_none()),
    ) {
        (None, Some(unversioned)) => Ok(unversioned.clone()),
        (named, _) => Err(unserved(named)),
    }
}

fn unserved(named: Option<String>) -> Status {
    Status::not_found(match named {
        Some(version) => format!("API version `{version}` is not served here"),
        None => "this route needs an API version".to_owned(),
    })
}

/// Reads a whole request body, refusing one over `limit` with 413 before buffering it.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, Status> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Status::payload_too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(Status::payload_too_large(limit)),
        Err(e) if crate::server::timed_out(&*e) => Err(Status::request_timeout()),
        Err(_) => Err(Status::invalid_argument(
            "the request body could not be read",
        )),
    }
}

/// A problem with a streamed request body, found while the call is already running.
#[derive(Clone, Default)]
struct InputError(Arc<Mutex<Option<Status>>>);

impl InputError {
    fn set(&self, status: Status) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(status);
        }
    }

    fn take(&self) -> Option<Status> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Ends a reply stream with the request body's error, if it had one.
fn with_input_error(messages: ReplyStream, input_error: InputError) -> ReplyStream {
    messages
        .chain(
            futures::stream::once(async move { input_error.take() })
                .filter_map(|e| async move { e.map(Err) }),
        )
        .boxed()
}

/// Request messages decoded from an NDJSON or JSON-array body as it arrives. Each message gets
/// the path and query bindings. A bad message ends the stream and is reported as the call's
/// error.
fn streaming_input(
    route: Arc<Route>,
    body: Body,
    bindings: Vec<Binding>,
    max_message: usize,
    input_error: InputError,
) -> MessageStream {
    struct State {
        data: axum::body::BodyDataStream,
        splitter: JsonSplitter,
        pending: std::collections::VecDeque<Bytes>,
        done: bool,
    }
    let state = State {
        data: body.into_data_stream(),
        splitter: JsonSplitter::new(max_message),
        pending: Default::default(),
        done: false,
    };
    futures::stream::unfold(state, move |mut state| {
        let route = route.clone();
        let bindings = bindings.clone();
        let input_error = input_error.clone();
        async move {
            loop {
                if let Some(value) = state.pending.pop_front() {
                    return match request::decode_message(&route, &value, None, &bindings) {
                        Ok(message) => Some((message, state)),
                        Err(status) => {
                            input_error.set(status);
                            None
                        }
                    };
                }
                if state.done {
                    return None;
                }
                let split = match state.data.next().await {
                    Some(Ok(chunk)) => state.splitter.push(&chunk).map_err(|e| e.to_string()),
                    Some(Err(_)) => Err("the request body could not be read".to_owned()),
                    None => {
                        state.done = true;
                        state
                            .splitter
                            .finish()
                            .map(|last| last.into_iter().collect())
                            .map_err(|e| e.to_string())
                    }
                };
                match split {
                    Ok(values) => state.pending.extend(values),
                    Err(why) => {
                        input_error.set(Status::invalid_argument(format!(
                            "invalid request stream: {why}"
                        )));
                        return None;
                    }
                }
            }
        }
    })
    .boxed()
}
