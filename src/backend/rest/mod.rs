//! The REST/JSON backend: calls an HTTP JSON API for each operation, described by a
//! `google.api.http` rule (the method's annotation, or the mapping's `backend.rules`) read in
//! reverse: path variables and the body come from the input message, every other field becomes
//! a query parameter, and the JSON response becomes the output message (design.md section 3
//! run backwards, as grpc-gateway's clients do). HTTP errors map back by meaning (design.md section 6).

pub(crate) mod build;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, Method};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, ReflectMessage, Value};

use crate::backend::grpc::TlsSettings;
use crate::backend::pooled::{broke_off, too_large, Pooled};
use crate::backend::reach::Unreachable;
use crate::backend::ConnectError;
use crate::call::{Call, Message, Reply};
use crate::http_rule::template::{PathTemplate, Segment};
use crate::http_rule::BodyBinding;
use crate::protojson::{json_to_wire, Plan};
use crate::status::{Code, Status};

/// How one operation is called.
pub struct RestCall {
    pub method: Method,
    pub template: PathTemplate,
    /// The fields of the template's variables, in order.
    pub variable_fields: Vec<Vec<FieldDescriptor>>,
    pub body: BodyBinding,
    pub response_body: Option<FieldDescriptor>,
    /// Fields sent as request headers.
    pub header_fields: Vec<(http::HeaderName, Vec<FieldDescriptor>)>,
    /// Reads the response JSON into the output message.
    pub response_plan: Arc<Plan>,
}

/// Settings of one REST backend for one mapping, resolved from configuration.
pub struct RestSettings {
    /// `http(s)://host:port/base`, without a trailing `/`.
    pub base: String,
    pub tls: Option<TlsSettings>,
    pub connect_timeout: Duration,
    pub max_response: usize,
    /// By method full name.
    pub calls: HashMap<String, RestCall>,
}

pub(crate) struct RestBackend {
    settings: Arc<RestSettings>,
    client: reqwest::Client,
    /// Says why calls cannot connect (at warn level, now and then).
    unreachable: Unreachable,
    /// For `proxy` relays: hyper-util's client directly (see [`Pooled`]).
    relay_client: Pooled,
    /// `settings.base`, parsed once: a call's URL is a copy with its own path and query, so
    /// the host is not parsed (and IDNA-mapped) again for every call.
    base_url: reqwest::Url,
    /// The same address for relays, as the parts of an `http::Uri`.
    relay_base: http::Uri,
}

/// What a path segment may hold unescaped (RFC 3986 unreserved); a `**` variable keeps `/`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
const SEGMENTS: &AsciiSet = &SEGMENT.remove(b'/');

impl RestBackend {
    pub(crate) fn new(settings: Arc<RestSettings>) -> Result<Self, ConnectError> {
        let client = http_client(settings.connect_timeout, settings.tls.as_ref())?;
        let base_url = reqwest::Url::parse(&settings.base)
            .map_err(|e| ConnectError::Address(e.to_string()))?;
        let relay_client = Pooled::new(settings.connect_timeout, settings.tls.as_ref())?;
        let relay_base = (base_url.as_str().trim_end_matches('/').parse())
            .map_err(|e: http::uri::InvalidUri| ConnectError::Address(e.to_string()))?;
        Ok(RestBackend {
            unreachable: Unreachable::new(&settings.base),
            settings,
            client,
            relay_client,
            base_url,
            relay_base,
        })
    }

    /// The URL of `target` (a path, escaped, and maybe `?query`) below the backend's address.
    /// A path that could climb out of it is refused: URL libraries and servers resolve `.` and
    /// `..` segments (RFC 3986 section 5.2.4), in their `%2E` spellings too, and some servers
    /// also split segments at a decoded `%2F` or `\`.
    fn url_of(&self, target: &str) -> Result<reqwest::Url, Status> {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        refuse_climbing(path)?;
        let mut url = self.base_url.clone();
        url.set_path(&format!(
            "{}{path}",
            self.base_url.path().trim_end_matches('/')
        ));
        url.set_query(query.filter(|q| !q.is_empty()));
        Ok(url)
    }

    /// `url_of` for a relayed request, without a URL parser: its path and query were checked
    /// as parts of a URI when the request arrived, and are sent as they are (as nginx does).
    fn relay_uri(&self, path: &str, query: &str) -> Result<http::Uri, Status> {
        refuse_climbing(path)?;
        let base = self.relay_base.path().trim_end_matches('/');
        let mut target = String::with_capacity(base.len() + path.len() + query.len() + 2);
        target.push_str(base);
        target.push_str(path);
        if target.is_empty() {
            target.push('/');
        }
        if !query.is_empty() {
            target.push('?');
            target.push_str(query);
        }
        let mut parts = http::uri::Parts::default();
        parts.scheme = self.relay_base.scheme().cloned();
        parts.authority = self.relay_base.authority().cloned();
        parts.path_and_query = Some(
            http::uri::PathAndQuery::try_from(target)
                .map_err(|_| Status::invalid_argument("not a URL"))?,
        );
        http::Uri::from_parts(parts).map_err(|_| Status::invalid_argument("not a URL"))
    }

    async fn invoke(&self, mut call: Call) -> Result<Reply, Status> {
        let operation = call.operation.clone();
        if operation.full_name() == crate::relay::FORWARD {
            return self.relay(call).await;
        }
        if operation.kind.streams_requests() {
            return Err(Status::new(
                Code::Unimplemented,
                "a REST backend cannot take a stream of requests",
            ));
        }
        let rest = self
            .settings
            .calls
            .get(operation.full_name())
            .ok_or_else(|| Status::new(Code::Unimplemented, "no HTTP rule for this method"))?;
        let input = call
            .input
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("no request message"))?;
        let request = http_request(rest, &input)?;
        let mut builder = self
            .client
            .request(rest.method.clone(), self.url_of(&request.target)?)
            .headers(call.metadata)
            .headers(request.headers)
            .header(http::header::ACCEPT, "application/json");
        if let Some(body) = request.body {
            builder = builder
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        if let Some(deadline) = call.deadline {
            builder =
                builder.timeout(deadline.saturating_duration_since(tokio::time::Instant::now()));
        }
        let response = builder
            .send()
            .await
            .map_err(|e| send_error(self.unreachable.seen(e)))?;
        let status = response.status();
        let headers = response_metadata(response.headers());
        if !status.is_success() {
            let body = read_limited(response, self.settings.max_response).await?;
            return Err(http_error(status, &body));
        }
        let output = operation.method.output();
        if operation.kind.streams_responses() {
            let response_plan = rest.response_plan.clone();
            let max = self.settings.max_response;
            let mut splitter = crate::http_rule::json_seq::JsonSplitter::new(max);
            let messages = response
                .bytes_stream()
                .map(move |chunk| -> Vec<Result<Message, Status>> {
                    let split = match chunk {
                        Ok(chunk) => splitter.push(&chunk).map_err(|e| e.to_string()),
                        Err(_) => Err("the response stream broke".to_owned()),
                    };
                    match split {
                        Ok(values) => values
                            .into_iter()
                            .map(|v| decode(&output, &response_plan, None, &v))
                            .collect(),
                        Err(why) => vec![Err(Status::internal(format!(
                            "invalid response stream: {why}"
                        )))],
                    }
                })
                .flat_map(futures::stream::iter)
                .boxed();
            return Ok(Reply {
                metadata: headers,
                messages,
            });
        }
        let body = read_limited(response, self.settings.max_response).await?;
        let message = decode(
            &output,
            &rest.response_plan,
            rest.response_body.as_ref(),
            &body,
        )?;
        Ok(Reply {
            metadata: headers,
            messages: futures::stream::once(async { Ok(message) }).boxed(),
        })
    }
}

impl RestBackend {
    /// Relays a proxied HTTP request (`frontend::proxy`) as it is, below the backend's address,
    /// and its response back.
    async fn relay(&self, mut call: Call) -> Result<Reply, Status> {
        use crate::relay::{Head, Relayed};
        let input = call
            .input
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("no request"))?;
        let request = input.into_relayed()?;
        let Head::Request {
            method,
            path,
            query,
        } = request.head
        else {
            return Err(Status::invalid_argument("not an HTTP request"));
        };
        let mut outgoing = http::Request::new(http_body_util::Full::new(request.body));
        *outgoing.method_mut() = method;
        *outgoing.uri_mut() = self.relay_uri(&path, &query)?;
        *outgoing.headers_mut() = request.headers;
        let answer = (self.relay_client)
            .send(
                outgoing,
                call.deadline,
                self.settings.max_response,
                too_large,
                &self.unreachable,
            )
            .await?;
        let mut headers = answer.parts.headers;
        crate::hop_by_hop::remove(&mut headers);
        let answer = Relayed {
            head: Head::Response {
                status: answer.parts.status,
            },
            headers,
            body: answer.body,
        };
        let message = Message::Relayed(call.operation.method.output(), Box::new(answer));
        Ok(Reply {
            metadata: HeaderMap::new(),
            messages: futures::stream::once(async { Ok(message) }).boxed(),
        })
    }
}

/// A pooled HTTP client for an HTTP backend (REST or GraphQL).
pub(crate) fn http_client(
    connect_timeout: Duration,
    tls: Option<&TlsSettings>,
) -> Result<reqwest::Client, ConnectError> {
    let mut client = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90));
    if let Some(ca) = tls.and_then(|t| t.ca_pem.as_ref()) {
        let certificate =
            reqwest::Certificate::from_pem(ca).map_err(ConnectError::CaCertificate)?;
        client = client.add_root_certificate(certificate);
    }
    client.build().map_err(ConnectError::Client)
}

/// A request that got no response: a passed deadline, else the backend is unavailable (the
/// error's text may name internal addresses, so it is not passed on).
pub(crate) fn send_error(e: reqwest::Error) -> Status {
    if e.is_timeout() {
        Status::deadline_exceeded()
    } else {
        Status::unavailable("the backend is unavailable")
    }
}

/// Refuses an escaped path that could climb out of the backend's address.
fn refuse_climbing(path: &str) -> Result<(), Status> {
    if path.split('/').any(climbs) {
        return Err(Status::invalid_argument(
            "the path has a `.` or `..` segment; a request never leaves its route",
        ));
    }
    Ok(())
}

/// Whether an escaped path segment is a dot-segment once decoded, or holds one between
/// separators that a server may decode (`..%2F`, `%2e%2e%5C`).
fn climbs(segment: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    decoded
        .split(['/', '\\'])
        .any(|part| part == "." || part == "..")
}

/// The URL and body of the request for one input message.
struct HttpRequest {
    /// The path (escaped) and query, below the backend's address.
    target: String,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

fn http_request(rest: &RestCall, input: &Message) -> Result<HttpRequest, Status> {
    let mut message = input.decoded()?.into_owned();
    let mut url = String::new();
    let mut segment = 0;
    let segments = &rest.template.segments;
    while segment < segments.len() {
        url.push('/');
        match rest
            .template
            .variables
            .iter()
            .position(|v| v.start == segment)
        {
            Some(i) => {
                let variable = &rest.template.variables[i];
                let value = take_text(&mut message, &rest.variable_fields[i])?;
                let set = if variable.is_single_segment() {
                    SEGMENT
                } else {
                    SEGMENTS
                };
                url.extend(utf8_percent_encode(&value, set));
                segment = variable.end.unwrap_or(segments.len());
            }
            None => {
                if let Segment::Literal(text) = &segments[segment] {
                    url.extend(utf8_percent_encode(text, SEGMENTS));
                }
                segment += 1;
            }
        }
    }
    if let Some(verb) = &rest.template.verb {
        url.push(':');
        url.push_str(verb);
    }
    let mut headers = HeaderMap::new();
    for (name, path) in &rest.header_fields {
        let text = take_text(&mut message, path)?;
        if !text.is_empty() {
            let value = http::HeaderValue::from_str(&text).map_err(|_| {
                Status::invalid_argument(format!("`{text}` cannot be the `{name}` header"))
            })?;
            headers.insert(name.clone(), value);
        }
    }
    let options = prost_reflect::SerializeOptions::new().stringify_64_bit_integers(true);
    let json = |m: &DynamicMessage| -> Result<Vec<u8>, Status> {
        let mut out = serde_json::Serializer::new(Vec::new());
        m.serialize_with_options(&mut out, &options)
            .map_err(|e| Status::internal(format!("cannot write the request as JSON: {e}")))?;
        Ok(out.into_inner())
    };
    let body = match &rest.body {
        BodyBinding::Whole => Some(json(&message)?),
        BodyBinding::None => None,
        BodyBinding::Field(path) => {
            let (parent, leaf) = parent_of(&mut message, path);
            let value = parent.take_field(leaf);
            let body = match value {
                Some(Value::Message(m)) => json(&m)?,
                Some(other) => {
                    let mut holder = DynamicMessage::new(parent.descriptor());
                    holder.set_field(leaf, other);
                    let whole: serde_json::Value = serde_json::from_slice(&json(&holder)?)
                        .map_err(|e| Status::internal(e.to_string()))?;
                    serde_json::to_vec(&whole[leaf.json_name()]).unwrap_or_default()
                }
                None => b"null".to_vec(),
            };
            Some(body)
        }
    };
    if !matches!(rest.body, BodyBinding::Whole) {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query_params(&message, "", &mut query);
        let query = query.finish();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
    }
    Ok(HttpRequest {
        target: url,
        headers,
        body,
    })
}

/// Removes a (possibly nested) field from the message and returns its value as path text.
fn take_text(message: &mut DynamicMessage, path: &[FieldDescriptor]) -> Result<String, Status> {
    let (parent, leaf) = parent_of(message, path);
    let value = parent
        .take_field(leaf)
        .unwrap_or_else(|| leaf.default_value());
    scalar_text(leaf, &value).ok_or_else(|| {
        Status::invalid_argument(format!("field `{}` cannot be a path segment", leaf.name()))
    })
}

fn parent_of<'m>(
    message: &'m mut DynamicMessage,
    path: &'m [FieldDescriptor],
) -> (&'m mut DynamicMessage, &'m FieldDescriptor) {
    let (leaf, parents) = path.split_last().expect("field paths are never empty");
    let mut current = message;
    for field in parents {
        current = match current.get_field_mut(field) {
            Value::Message(m) => m,
            _ => unreachable!("the parents of a field path are messages"),
        };
    }
    (current, leaf)
}

/// A scalar as text in a URL: numbers and booleans as written, enums by name, bytes in URL-safe
/// base64.
fn scalar_text(field: &FieldDescriptor, value: &Value) -> Option<String> {
    use base64::Engine;
    Some(match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Bytes(b) => base64::engine::general_purpose::URL_SAFE.encode(b),
        Value::EnumNumber(n) => match field.kind() {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| n.to_string(), |v| v.name().to_owned()),
            _ => n.to_string(),
        },
        Value::Message(_) | Value::List(_) | Value::Map(_) => return None,
    })
}

/// The fields left in the message as query parameters (`a.b=...` for nested messages, one
/// parameter per item of a repeated field). Well-known types are written in their JSON form.
fn query_params(
    message: &DynamicMessage,
    prefix: &str,
    out: &mut form_urlencoded::Serializer<'_, String>,
) {
    for (field, value) in message.fields() {
        let name = format!("{prefix}{}", field.json_name());
        match value {
            Value::List(items) => {
                for item in items {
                    if let Some(text) = scalar_text(&field, item) {
                        out.append_pair(&name, &text);
                    }
                }
            }
            Value::Message(m)
                if crate::registry::wkt::has_own_json_form(m.descriptor().full_name()) =>
            {
                if let Ok(serde_json::Value::String(text)) = serde_json::to_value(m) {
                    out.append_pair(&name, &text);
                } else if let Ok(json) = serde_json::to_value(m) {
                    out.append_pair(&name, &json.to_string());
                }
            }
            Value::Message(m) => query_params(m, &format!("{name}."), out),
            Value::Map(_) => {}
            scalar => {
                if let Some(text) = scalar_text(&field, scalar) {
                    out.append_pair(&name, &text);
                }
            }
        }
    }
}

/// A response body as the output message: all of it, or the `response_body` field of it.
fn decode(
    output: &prost_reflect::MessageDescriptor,
    plan: &Plan,
    response_body: Option<&FieldDescriptor>,
    body: &[u8],
) -> Result<Message, Status> {
    let bad = |e: &dyn std::fmt::Display| {
        Status::new(
            Code::Internal,
            format!(
                "the backend's response is not valid JSON for {}: {e}",
                output.full_name()
            ),
        )
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Message::Decoded(DynamicMessage::new(output.clone())));
    }
    match response_body {
        None => {
            let wire = json_to_wire(plan, body).map_err(|e| bad(&e))?;
            Ok(Message::Encoded(output.clone(), Bytes::from(wire)))
        }
        Some(field) => {
            let mut wrapped = format!("{{\"{}\":", field.json_name()).into_bytes();
            wrapped.extend_from_slice(body);
            wrapped.push(b'}');
            let wire = json_to_wire(plan, &wrapped).map_err(|e| bad(&e))?;
            Ok(Message::Encoded(output.clone(), Bytes::from(wire)))
        }
    }
}

pub(crate) async fn read_limited(
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Status> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| broke_off())?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An HTTP error of the backend as a canonical status, by meaning (design.md section 6). A body in the
/// shape of `google.rpc.Status` (what rosetta and grpc-gateway answer) gives the message, and
/// its code when it names one; other bodies are not passed on (they may hold internals).
pub(crate) fn http_error(status: http::StatusCode, body: &[u8]) -> Status {
    let code = crate::status::code_for_http(status.as_u16());
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.get("message").or_else(|| b.get("error")))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("the backend answered {status}"));
    let code = parsed
        .as_ref()
        .and_then(|b| b.get("code"))
        .and_then(|c| c.as_i64())
        .filter(|c| (1..=16).contains(c))
        .map_or(code, |c| Code::from_i32(c as i32));
    Status::new(code, message)
}

/// Response headers that may go back to the client as metadata (the caching ones are read by
/// the cache stage too).
fn response_metadata(headers: &HeaderMap) -> HeaderMap {
    const PASSED: [&str; 5] = [
        "x-request-id",
        "etag",
        "cache-control",
        "vary",
        "set-cookie",
    ];
    let mut out = HeaderMap::new();
    for name in PASSED {
        if let Some(value) = headers.get(name) {
            out.insert(name, value.clone());
        }
    }
    out
}

impl crate::call::Backend for RestBackend {
    fn call(&self, call: Call) -> impl std::future::Future<Output = Result<Reply, Status>> + Send {
        self.invoke(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_by_meaning() {
        assert_eq!(
            http_error(http::StatusCode::NOT_FOUND, b"").code,
            Code::NotFound
        );
        assert_eq!(
            http_error(http::StatusCode::BAD_GATEWAY, b"").code,
            Code::Unavailable
        );
        assert_eq!(
            http_error(http::StatusCode::IM_A_TEAPOT, b"").code,
            Code::FailedPrecondition
        );
        let status = http_error(
            http::StatusCode::BAD_REQUEST,
            br#"{"code": 9, "message": "not now", "details": []}"#,
        );
        assert_eq!(
            (status.code, status.message.as_str()),
            (Code::FailedPrecondition, "not now")
        );
        let status = http_error(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            b"Traceback at 10.0.0.3",
        );
        assert_eq!(
            status.message,
            "the backend answered 500 Internal Server Error"
        );
    }
}
