//! GraphQL over HTTP (the GraphQL-over-HTTP draft that `graphql-http` audits): GET and POST,
//! `application/json` and `application/graphql-response+json`, subscriptions over SSE
//! (graphql-sse's distinct-connections mode) and WebSocket (graphql-transport-ws, through
//! async-graphql-axum), GraphiQL, the SDL, automatic persisted queries and the limits of
//! design.md section 4.

use std::convert::Infallible;
use std::sync::Arc;

use async_graphql::dynamic::Schema;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, ServerError, Variables};
use axum::body::Body;
use axum::extract::{FromRequestParts, WebSocketUpgrade};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use serde::Deserialize;

use super::{cost, variables, websocket, EndpointOptions};
use crate::call::Origin;

/// One GraphQL endpoint: its schema and what it caches.
pub struct Endpoint {
    pub options: EndpointOptions,
    /// Validates every document with every rule.
    pub schema: Schema,
    /// The same schema, for documents that passed every rule before: it checks only what
    /// depends on more than the document (limits), with the variables checked beforehand.
    fast: Schema,
    /// (query, operation name) that passed every rule.
    validated: moka::sync::Cache<(Arc<str>, Option<String>), ()>,
    sdl: String,
    /// Parsed documents by query text: parsing costs more than executing a small query.
    documents: moka::sync::Cache<Arc<str>, ExecutableDocument>,
    /// Automatic persisted queries: query text by SHA-256 (hex).
    persisted: moka::sync::Cache<String, Arc<str>>,
}

/// The parameters of a GraphQL request, from a POST body or a GET query string.
#[derive(Deserialize, Default)]
pub(super) struct Params {
    #[serde(default)]
    query: Option<String>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Variables>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// How the response is written, from the request's `Accept`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Json,
    GraphqlResponse,
    EventStream,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// A request refused before execution: its status and message.
pub(super) struct Refused(StatusCode, pub(super) String);

impl Endpoint {
    pub fn new(options: EndpointOptions, schema: Schema, fast: Schema) -> Self {
        let sdl = schema.sdl();
        Endpoint {
            options,
            schema,
            fast,
            validated: moka::sync::Cache::builder()
                .max_capacity(4 << 20)
                .weigher(|(query, _): &(Arc<str>, Option<String>), _| {
                    query.len().try_into().unwrap_or(u32::MAX)
                })
                .build(),
            sdl,
            documents: moka::sync::Cache::builder()
                .max_capacity(4 << 20)
                .weigher(|query: &Arc<str>, _| query.len().try_into().unwrap_or(u32::MAX))
                .build(),
            persisted: moka::sync::Cache::builder()
                .max_capacity(4 << 20)
                .weigher(|_, query: &Arc<str>| query.len().try_into().unwrap_or(u32::MAX))
                .build(),
        }
    }

    pub fn sdl(&self) -> &str {
        &self.sdl
    }

    /// Serves `{path}/schema.graphql`.
    pub fn serve_sdl(&self) -> Response {
        if !self.options.introspection {
            return refused(
                Refused(StatusCode::NOT_FOUND, "introspection is off".into()),
                Format::Json,
            );
        }
        (
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.sdl.clone(),
        )
            .into_response()
    }

    /// Serves the endpoint's path.
    pub async fn handle(self: Arc<Self>, request: http::Request<Body>) -> Response {
        let (mut parts, body) = request.into_parts();
        let accept = parts
            .headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let format = negotiate(accept);
        let params = match parts.method {
            Method::GET if parts.headers.contains_key(http::header::UPGRADE) => {
                return self.websocket(&mut parts).await;
            }
            Method::GET => {
                let query = parts.uri.query().unwrap_or("");
                if query.len() > self.options.max_request_size {
                    return refused(too_large(self.options.max_request_size), Format::Json);
                }
                if !query
                    .split('&')
                    .any(|p| p.starts_with("query=") || p.starts_with("extensions="))
                    && accept.contains("text/html")
                {
                    let page = super::graphiql::page(&self.options.path);
                    return axum::response::Html(page).into_response();
                }
                query_params(query).map(|params| (params, None))
            }
            Method::POST => body_params(&parts.headers, body, self.options.max_request_size)
                .await
                .map(|(params, bytes)| (params, Some(bytes))),
            _ => {
                let mut response = refused(
                    Refused(
                        StatusCode::METHOD_NOT_ALLOWED,
                        format!("{} is not allowed; use GET or POST", parts.method),
                    ),
                    Format::Json,
                );
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, POST"));
                return response;
            }
        };
        let Some(format) = format else {
            return refused(
                Refused(StatusCode::NOT_ACCEPTABLE, format!("cannot answer in {accept}; accept application/json, {GRAPHQL_RESPONSE} or text/event-stream")),
                Format::Json,
            );
        };
        let (params, body) = match params {
            Ok(read) => read,
            Err(refusal) => return refused(refusal, format),
        };
        let is_get = parts.method == Method::GET;
        match self.prepare(params, is_get, Origin::new(&parts, body)) {
            Ok(prepared) if format == Format::EventStream => self.event_stream(prepared.request),
            Ok(prepared) => {
                let schema = if prepared.validated {
                    &self.fast
                } else {
                    &self.schema
                };
                let mut response = schema.execute(prepared.request).await;
                if !prepared.validated && !is_invalid(&response) {
                    self.validated.insert(prepared.document, ());
                }
                in_selection_order(&mut response.data, &prepared.keys);
                json_response(response, format)
            }
            Err(Outcome::Refused(refusal)) if refusal.0 == StatusCode::METHOD_NOT_ALLOWED => {
                let mut response = refused(refusal, format);
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
                response
            }
            Err(Outcome::Refused(refusal)) => refused(refusal, format),
            Err(Outcome::Invalid(errors)) => {
                json_response(async_graphql::Response::from_errors(errors), format)
            }
        }
    }

    /// Checks and prepares a request: persisted query, parsed document (cached), alias limit,
    /// no mutations over GET, whether it can skip the validation it passed before.
    pub(super) fn prepare(
        &self,
        params: Params,
        is_get: bool,
        origin: Arc<Origin>,
    ) -> Result<Prepared, Outcome> {
        let query = self.query(&params)?;
        let document = match self.documents.get(&query) {
            Some(document) => document,
            None => {
                let document = async_graphql::parser::parse_query(&*query)
                    .map_err(|e| Outcome::Invalid(vec![e.into()]))?;
                self.check_limits(&document)
                    .map_err(|e| Outcome::Invalid(vec![e]))?;
                self.documents.insert(query.clone(), document.clone());
                document
            }
        };
        let operation = operation(&document, params.operation_name.as_deref());
        if is_get && operation.is_some_and(|op| op.ty == OperationType::Mutation) {
            return Err(Outcome::Refused(Refused(
                StatusCode::METHOD_NOT_ALLOWED,
                "mutations are not allowed over GET; use POST".into(),
            )));
        }
        let variables = params.variables.unwrap_or_default();
        let key = (query.clone(), params.operation_name.clone());
        let mut keys = Vec::new();
        let mut validated = false;
        if let Some(operation) = operation {
            root_keys(&document, &operation.selection_set.node, &mut keys);
            validated = self.validated.contains_key(&key)
                && variables::check(self.schema.registry(), operation, &variables);
        }
        let mut request = async_graphql::Request::new(query.to_string())
            .variables(variables)
            .data(origin)
            .data(super::JoinLoaders::default());
        request.operation_name = params.operation_name;
        request.set_parsed_query(document);
        Ok(Prepared {
            request,
            keys,
            document: key,
            validated,
        })
    }

    /// The limits of design.md section 4, measured without expanding the document (see [`cost`]), before
    /// any walk of async-graphql's follows a fragment spread. Only documents that pass are
    /// cached, so a cached document is never measured again.
    fn check_limits(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        let options = &self.options;
        let aliases = count_aliases(document);
        if aliases > options.max_aliases {
            return Err(ServerError::new(
                format!(
                    "the query uses {aliases} aliases; at most {} are allowed",
                    options.max_aliases
                ),
                None,
            ));
        }
        let cost = cost::measure(document)?;
        if cost.complexity > options.max_complexity {
            return Err(ServerError::new("Query is too complex.", None));
        }
        if cost.depth > options.max_depth {
            return Err(ServerError::new("Query is nested too deep.", None));
        }
        let most = most_selections(options.max_complexity);
        if cost.selections > most {
            return Err(ServerError::new(
                format!(
                    "the query makes more than {most} selections once its fragments are inlined"
                ),
                None,
            ));
        }
        Ok(())
    }

    /// The query text, from the request or (automatic persisted queries) from its hash.
    fn query(&self, params: &Params) -> Result<Arc<str>, Outcome> {
        let hash = params
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
            .and_then(|p| p.get("sha256Hash"))
            .and_then(|h| h.as_str());
        match (&params.query, hash) {
            (Some(query), None) => Ok(query.as_str().into()),
            (None, None) => Err(Outcome::Refused(Refused(
                StatusCode::BAD_REQUEST,
                "the request has no `query`".into(),
            ))),
            (_, Some(_)) if !self.options.persisted_queries => Err(Outcome::Invalid(vec![coded(
                "persisted queries are off",
                "PERSISTED_QUERY_NOT_SUPPORTED",
            )])),
            (None, Some(hash)) => self.persisted.get(hash).ok_or_else(|| {
                Outcome::Invalid(vec![coded(
                    "PersistedQueryNotFound",
                    "PERSISTED_QUERY_NOT_FOUND",
                )])
            }),
            (Some(query), Some(hash)) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, query.as_bytes());
                let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                if !hex.eq_ignore_ascii_case(hash) {
                    return Err(Outcome::Refused(Refused(
                        StatusCode::BAD_REQUEST,
                        "persistedQuery.sha256Hash is not the SHA-256 of the query".into(),
                    )));
                }
                let query: Arc<str> = query.as_str().into();
                self.persisted.insert(hex, query.clone());
                Ok(query)
            }
        }
    }

    /// Subscriptions (and any operation) over SSE: one `next` event per result, then `complete`.
    fn event_stream(&self, request: async_graphql::Request) -> Response {
        let events = self
            .schema
            .execute_stream(request)
            .map(|response| {
                let data = serde_json::to_string(&response).unwrap_or_default();
                Ok::<_, Infallible>(Event::default().event("next").data(data))
            })
            .chain(futures::stream::once(async {
                Ok(Event::default().event("complete").data(""))
            }));
        Sse::new(events).into_response()
    }

    /// graphql-transport-ws over a WebSocket (see [`websocket`]).
    async fn websocket(self: Arc<Self>, parts: &mut http::request::Parts) -> Response {
        let upgrade = match WebSocketUpgrade::from_request_parts(parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(e) => return e.into_response(),
        };
        let offered = parts
            .headers
            .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == websocket::PROTOCOL);
        let origin = Origin::new(parts, None);
        let limit = self.options.max_request_size;
        upgrade
            .protocols([websocket::PROTOCOL])
            .max_message_size(limit)
            .max_frame_size(limit)
            .on_upgrade(move |socket| websocket::serve(self, socket, origin, offered))
            .into_response()
    }
}

/// A request ready to execute.
pub(super) struct Prepared {
    pub(super) request: async_graphql::Request,
    /// The response keys of the root selection, in order.
    keys: Vec<Name>,
    /// The query and operation name.
    document: (Arc<str>, Option<String>),
    /// The document passed every validation rule before, and the variables fit their types.
    validated: bool,
}

pub(super) enum Outcome {
    /// Refused with an HTTP status of its own.
    Refused(Refused),
    /// The document cannot run (parse, validation, limits): 200 in `application/json`, 400 in
    /// `application/graphql-response+json`.
    Invalid(Vec<ServerError>),
}

fn coded(message: &str, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

fn too_large(limit: usize) -> Refused {
    Refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request is larger than the limit of {limit} bytes"),
    )
}

/// A request refused before it is read (the IP gate): a request error with the status's
/// code, as JSON (or `application/graphql-response+json` when the client prefers it).
pub fn refusal(
    status: &crate::status::Status,
    headers: &http::HeaderMap,
    pool: &prost_reflect::DescriptorPool,
) -> Response {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = match negotiate(accept) {
        Some(Format::GraphqlResponse) => Format::GraphqlResponse,
        _ => Format::Json,
    };
    let error = super::status_error(status, pool).into_server_error(Default::default());
    let body = serde_json::json!({ "errors": [error] });
    respond(
        status.http_status(),
        serde_json::to_vec(&body).unwrap_or_default(),
        format,
    )
}

/// The response format the client accepts, preferring what it lists first.
fn negotiate(accept: &str) -> Option<Format> {
    if accept.trim().is_empty() {
        return Some(Format::Json);
    }
    accept.split(',').find_map(|item| {
        let media = item.split(';').next().unwrap_or("").trim();
        match media {
            GRAPHQL_RESPONSE => Some(Format::GraphqlResponse),
            "application/json" | "*/*" | "application/*" => Some(Format::Json),
            "text/event-stream" => Some(Format::EventStream),
            _ => None,
        }
    })
}

fn query_params(query: &str) -> Result<Params, Refused> {
    let mut params = Params::default();
    let bad = |what: &str, e: serde_json::Error| {
        Refused(
            StatusCode::BAD_REQUEST,
            format!("`{what}` is not a JSON object: {e}"),
        )
    };
    for pair in crate::query_string::pairs(query) {
        let (key, value) = pair.map_err(|key| {
            Refused(
                StatusCode::BAD_REQUEST,
                format!("query parameter `{key}` is not valid UTF-8 once unescaped"),
            )
        })?;
        match &*key {
            "query" => params.query = Some(value.into_owned()),
            "operationName" => params.operation_name = Some(value.into_owned()),
            "variables" => {
                params.variables =
                    Some(serde_json::from_str(&value).map_err(|e| bad("variables", e))?)
            }
            "extensions" => {
                params.extensions =
                    Some(serde_json::from_str(&value).map_err(|e| bad("extensions", e))?)
            }
            _ => {}
        }
    }
    Ok(params)
}

async fn body_params(
    headers: &http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Params, bytes::Bytes), Refused> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media != "application/json" {
        return Err(Refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("a GraphQL POST has Content-Type application/json, not `{content_type}`"),
        ));
    }
    let bytes = crate::frontend::rest::read_body(body, headers, limit)
        .await
        .map_err(|status| Refused(status.http_status(), status.message))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Refused(
            StatusCode::BAD_REQUEST,
            "the request body is empty".into(),
        ));
    }
    let params = serde_json::from_slice(&bytes).map_err(|e| {
        Refused(
            StatusCode::BAD_REQUEST,
            format!("the request body is not a GraphQL request: {e}"),
        )
    })?;
    Ok((params, bytes))
}

fn operation<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match &document.operations {
        DocumentOperations::Single(op) => Some(&op.node),
        DocumentOperations::Multiple(ops) => match name {
            Some(name) => ops.get(name).map(|op| &op.node),
            None if ops.len() == 1 => ops.values().next().map(|op| &op.node),
            None => None,
        },
    }
}

/// The selections (fields, spreads, inline fragments, `__typename`) a document may make with
/// its fragments inlined: ten for each field the complexity limit allows. This bounds the work
/// of every walk over an accepted document.
fn most_selections(max_complexity: usize) -> usize {
    max_complexity.saturating_mul(10).max(1_000)
}

/// The response keys of a selection set, in the order the response must have them. Each
/// fragment is visited once, so neither a cycle nor a fragment spread many times costs more
/// than the document's length.
fn root_keys(document: &ExecutableDocument, set: &SelectionSet, keys: &mut Vec<Name>) {
    let mut seen = std::collections::HashSet::new();
    let mut visited = std::collections::HashSet::new();
    let mut stack = vec![set.items.iter()];
    while let Some(items) = stack.last_mut() {
        let Some(item) = items.next() else {
            stack.pop();
            continue;
        };
        match &item.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.clone();
                if seen.insert(key.clone()) {
                    keys.push(key);
                }
            }
            Selection::InlineFragment(f) => stack.push(f.node.selection_set.node.items.iter()),
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if let Some(f) = document
                    .fragments
                    .get(name)
                    .filter(|_| visited.insert(name))
                {
                    stack.push(f.node.selection_set.node.items.iter());
                }
            }
        }
    }
}

/// Puts the root fields of `data` in selection order: async-graphql's dynamic schema inserts
/// them as their resolvers finish, and query root fields run concurrently.
fn in_selection_order(data: &mut async_graphql::Value, keys: &[Name]) {
    if let async_graphql::Value::Object(object) = data {
        object
            .sort_by_cached_key(|key, _| keys.iter().position(|k| k == key).unwrap_or(usize::MAX));
    }
}

fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + in_set(&f.node.selection_set.node)
                }
                Selection::InlineFragment(f) => in_set(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| in_set(&op.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|f| in_set(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

/// A GraphQL response. A document that could not run has no `data`, and in
/// `application/graphql-response+json` a 400.
/// A document that could not run: no data, only errors (root fields are nullable, so a
/// failing field never makes `data` null).
pub(super) fn is_invalid(response: &async_graphql::Response) -> bool {
    matches!(response.data, async_graphql::Value::Null) && !response.errors.is_empty()
}

fn json_response(response: async_graphql::Response, format: Format) -> Response {
    /// The response in the order of the spec, keeping the order of the selection (which a
    /// `serde_json::Value` would lose).
    #[derive(serde::Serialize)]
    struct Body<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<&'a async_graphql::Value>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        errors: &'a [ServerError],
        #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
    }
    let invalid = is_invalid(&response);
    let body = Body {
        data: (!invalid).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let status = if invalid && format == Format::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    respond(
        status,
        serde_json::to_vec(&body).unwrap_or_default(),
        format,
    )
}

fn refused(Refused(status, message): Refused, format: Format) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message }] });
    respond(
        status,
        serde_json::to_vec(&body).unwrap_or_default(),
        format,
    )
}

fn respond(status: StatusCode, body: Vec<u8>, format: Format) -> Response {
    let content_type = match format {
        Format::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        _ => "application/json; charset=utf-8",
    };
    (status, [(CONTENT_TYPE, content_type)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(""), Some(Format::Json));
        assert_eq!(
            negotiate("application/graphql-response+json, application/json;q=0.9"),
            Some(Format::GraphqlResponse)
        );
        assert_eq!(negotiate("text/event-stream"), Some(Format::EventStream));
        assert_eq!(negotiate("*/*"), Some(Format::Json));
        assert_eq!(negotiate("text/html"), None);
    }

    #[test]
    fn aliases_are_counted_in_fragments_too() {
        let doc = async_graphql::parser::parse_query(
            "{ a: x b: x ...F } fragment F on Query { c: x { d: y } }",
        )
        .unwrap();
        assert_eq!(count_aliases(&doc), 4);
    }
}
