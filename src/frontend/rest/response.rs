//! Writing REST responses: proto3 JSON, `response_body`, `google.api.HttpBody`, the stream
//! framings of design.md section 3, errors in the body shape of design.md section 6, and response metadata.

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http::header::{HeaderName, HeaderValue, ALLOW, CONTENT_TYPE};
use http::{HeaderMap, Method, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, SerializeOptions, Value};

use super::request::is_http_body;
use super::route::Route;
use crate::call::{Message, ReplyStream};
use crate::protojson::wire_to_json;
use crate::status::Status;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The HTTP body of one response message: its JSON, the JSON of its `response_body` field, or
/// the raw bytes of a `google.api.HttpBody`. Returns the bytes and their content type.
pub(crate) fn payload(route: &Route, message: &Message) -> Result<(Bytes, HeaderValue), Status> {
    if let Message::Encoded(desc, wire) = message {
        if route.response_body.is_none() && !is_http_body(desc) {
            let mut out = Vec::with_capacity(wire.len() * 2 + 16);
            if wire_to_json(&route.response_plan, wire, &mut out).is_ok() {
                return Ok((out.into(), JSON));
            }
        }
    }
    let message = message.decoded()?;
    let message = message.as_ref();
    let options = &route.mapping.serialize;
    let selected = route
        .response_body
        .as_ref()
        .map(|field| message.get_field(field).into_owned());
    match selected {
        None => http_body_or_json(message, options),
        Some(Value::Message(inner)) => http_body_or_json(&inner, options),
        Some(_) => {
            // A scalar, list or map field: render the message holding only it, and take it out.
            let field = route
                .response_body
                .as_ref()
                .expect("selected implies a field");
            let mut holder = DynamicMessage::new(message.descriptor());
            holder.set_field(field, message.get_field(field).into_owned());
            let json = crate::protojson::message_json(
                &holder,
                &options.clone().skip_default_fields(false),
            )?;
            let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
            let key = if route.mapping.proto_field_names {
                field.name()
            } else {
                field.json_name()
            };
            let inner = value.get(key).cloned().unwrap_or(serde_json::Value::Null);
            Ok((
                Bytes::from(serde_json::to_vec(&inner).unwrap_or_default()),
                JSON,
            ))
        }
    }
}

fn http_body_or_json(
    message: &DynamicMessage,
    options: &SerializeOptions,
) -> Result<(Bytes, HeaderValue), Status> {
    if !is_http_body(&message.descriptor()) {
        return Ok((crate::protojson::message_json(message, options)?, JSON));
    }
    let content_type = match message.get_field_by_name("content_type").as_deref() {
        Some(Value::String(s)) if !s.is_empty() => HeaderValue::from_str(s).unwrap_or(JSON),
        _ => HeaderValue::from_static("application/octet-stream"),
    };
    let data = match message.get_field_by_name("data").as_deref() {
        Some(Value::Bytes(b)) => b.clone(),
        _ => Bytes::new(),
    };
    Ok((data, content_type))
}

/// An error response: the status's HTTP code and the `{"code","message","details"}` body.
pub(crate) fn error(status: &Status, pool: &DescriptorPool) -> Response {
    let mut response = Response::new(Body::from(status.to_json_bytes(pool)));
    *response.status_mut() = status.http_status();
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    for (name, value) in status.header_iter() {
        response.headers_mut().append(name, value.clone());
    }
    response
}

/// 405 with `Allow`.
pub(crate) fn method_not_allowed(
    method: &Method,
    path: &str,
    allowed: &[Method],
    pool: &DescriptorPool,
) -> Response {
    let mut response = error(&Status::method_not_allowed(method, path), pool);
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

/// Headers the gateway's stages add to a reply's metadata, sent as they are.
const GATEWAY_HEADERS: [&str; 7] = [
    "x-cache-status",
    "age",
    "ratelimit",
    "ratelimit-policy",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// Response metadata from the backend comes back as `grpc-metadata-*` headers; the gateway's
/// own (`rosetta-*`, e.g. a composed endpoint's missing steps, and the rate limit headers) as
/// they are.
pub(crate) fn metadata_headers(metadata: &HeaderMap, headers: &mut HeaderMap) {
    for (name, value) in metadata {
        if name.as_str().starts_with("rosetta-") || GATEWAY_HEADERS.contains(&name.as_str()) {
            headers.append(name, value.clone());
            continue;
        }
        let name = name.as_str();
        if is_protocol_header(name) {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(format!("grpc-metadata-{name}").as_bytes()) {
            headers.append(name, value.clone());
        }
    }
}

fn is_protocol_header(name: &str) -> bool {
    name.starts_with("grpc-")
        || matches!(
            name,
            "content-type"
                | "content-length"
                | "te"
                | "trailer"
                | "date"
                | "server"
                | "transfer-encoding"
        )
}

/// How a stream of response messages is written, chosen by `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One JSON array, written element by element.
    JsonArray,
    /// One JSON message per line (`application/x-ndjson`).
    Ndjson,
    /// One Server-Sent Event per message (`text/event-stream`).
    Sse,
}

impl Framing {
    pub(crate) fn from_accept(accept: Option<&str>) -> Self {
        let accept = accept.unwrap_or_default();
        if accept.contains("application/x-ndjson") {
            Framing::Ndjson
        } else if accept.contains("text/event-stream") {
            Framing::Sse
        } else {
            Framing::JsonArray
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Framing::JsonArray => "application/json",
            Framing::Ndjson => "application/x-ndjson",
            Framing::Sse => "text/event-stream",
        })
    }

    fn message(self, first: bool, json: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(json.len() + 8);
        match self {
            Framing::JsonArray => {
                out.put_slice(if first { b"[" } else { b"," });
                out.put_slice(json);
            }
            Framing::Ndjson => {
                out.put_slice(json);
                out.put_u8(b'\n');
            }
            Framing::Sse => {
                out.put_slice(b"data: ");
                out.put_slice(json);
                out.put_slice(b"\n\n");
            }
        }
        out.freeze()
    }

    /// The last frame of a stream that failed: an `{"error": ...}` element or line (closing the
    /// array), or an SSE `error` event.
    fn error(self, first: bool, status_json: &[u8]) -> Bytes {
        if self == Framing::Sse {
            let mut out = BytesMut::with_capacity(status_json.len() + 24);
            out.put_slice(b"event: error\ndata: ");
            out.put_slice(status_json);
            out.put_slice(b"\n\n");
            return out.freeze();
        }
        let mut wrapped = Vec::with_capacity(status_json.len() + 10);
        wrapped.extend_from_slice(b"{\"error\":");
        wrapped.extend_from_slice(status_json);
        wrapped.push(b'}');
        let mut out = BytesMut::from(self.message(first, &wrapped).as_ref());
        if self == Framing::JsonArray {
            out.put_u8(b']');
        }
        out.freeze()
    }

    /// The content type and body of a stream that ended with no message.
    pub(crate) fn empty(self) -> (HeaderValue, Body) {
        let body = self.end(true).map(Body::from).unwrap_or_default();
        (self.content_type(), body)
    }

    fn end(self, first: bool) -> Option<Bytes> {
        match (self, first) {
            (Framing::JsonArray, true) => Some(Bytes::from_static(b"[]")),
            (Framing::JsonArray, false) => Some(Bytes::from_static(b"]")),
            _ => None,
        }
    }
}

/// A streaming response: each message is written as it arrives. The first message (or error)
/// has already been read, so an error before any message gets a proper HTTP status.
pub(crate) fn stream(
    route: std::sync::Arc<Route>,
    pool: DescriptorPool,
    framing: Framing,
    first: Message,
    rest: ReplyStream,
) -> (HeaderValue, Body) {
    // HttpBody streams are raw: each message's data is written as it is.
    if is_http_body(&first.descriptor()) && route.response_body.is_none() {
        let content_type = payload(&route, &first).map(|(_, ct)| ct).unwrap_or(JSON);
        let chunks = futures::stream::once(async move { Ok(first) })
            .chain(rest)
            .map(move |item| match item {
                Ok(message) => payload(&route, &message).map(|(bytes, _)| bytes),
                Err(status) => Err(status),
            })
            .map(|r| r.map_err(std::io::Error::other));
        return (content_type, Body::from_stream(chunks));
    }
    let messages = futures::stream::once(async move { Ok(first) }).chain(rest);
    let frames = futures::stream::unfold(
        (messages.boxed(), true, false),
        move |(mut messages, first, done)| {
            let route = route.clone();
            let pool = pool.clone();
            async move {
                if done {
                    return None;
                }
                let frame = match messages.next().await {
                    Some(Ok(message)) => match payload(&route, &message) {
                        Ok((json, _)) => (framing.message(first, &json), false),
                        Err(status) => (framing.error(first, &status.to_json_bytes(&pool)), true),
                    },
                    Some(Err(status)) => (framing.error(first, &status.to_json_bytes(&pool)), true),
                    None => return framing.end(first).map(|end| (end, (messages, first, true))),
                };
                Some((frame.0, (messages, false, frame.1)))
            }
        },
    )
    .map(Ok::<_, std::convert::Infallible>);
    (framing.content_type(), Body::from_stream(frames))
}

/// Builds a 200 response with metadata headers.
pub(crate) fn ok(content_type: HeaderValue, body: Body, metadata: &HeaderMap) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    metadata_headers(metadata, response.headers_mut());
    *response.status_mut() = StatusCode::OK;
    response
}
