//! The canonical call (design.md section 1): what a frontend decodes a request into and
//! what a backend answers with. Stages and backends see only these types.

use std::sync::Arc;

use futures::stream::BoxStream;
use futures::StreamExt;
use http::{HeaderMap, HeaderName};
use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage};
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;

use crate::protojson::{message_json, wire_to_json, Plan};
use crate::registry::Operation;
use crate::relay::Relayed;
use crate::status::Status;

/// A message of the canonical model: decoded, or still in wire form. Frontends and backends
/// that can work on the wire form (the REST frontend's JSON transcoder, the gRPC backend)
/// never pay for decoding; anything that needs the fields calls [`Message::decoded`]. A
/// `proxy` mapping's HTTP request and response travel as they arrived ([`Relayed`]), so a
/// relay that no stage looks into never copies its headers into fields.
#[derive(Debug, Clone)]
pub enum Message {
    Decoded(DynamicMessage),
    Encoded(MessageDescriptor, Bytes),
    Relayed(MessageDescriptor, Box<Relayed>),
}

impl Message {
    pub fn descriptor(&self) -> MessageDescriptor {
        match self {
            Message::Decoded(m) => m.descriptor(),
            Message::Encoded(desc, _) | Message::Relayed(desc, _) => desc.clone(),
        }
    }

    /// The proto3 JSON of the message, written by `plan` (from the wire form; a decoded
    /// message is written with its zero values).
    pub fn to_json<T: serde::de::DeserializeOwned>(&self, plan: &Plan) -> Result<T, Status> {
        let mut out = Vec::new();
        let written = match self {
            Message::Encoded(_, wire) => wire_to_json(plan, wire, &mut out).is_ok(),
            Message::Decoded(_) | Message::Relayed(..) => false,
        };
        if !written {
            let options = prost_reflect::SerializeOptions::new()
                .skip_default_fields(false)
                .stringify_64_bit_integers(true);
            out = message_json(self.decoded()?.as_ref(), &options)?.to_vec();
        }
        serde_json::from_slice(&out).map_err(|e| Status::internal(e.to_string()))
    }

    /// The fields; decodes the wire form.
    pub fn decoded(&self) -> Result<Cow<'_, DynamicMessage>, Status> {
        match self {
            Message::Decoded(m) => Ok(Cow::Borrowed(m)),
            Message::Encoded(desc, bytes) => DynamicMessage::decode(desc.clone(), bytes.as_ref())
                .map(Cow::Owned)
                .map_err(|e| Status::internal(format!("cannot decode {}: {e}", desc.full_name()))),
            Message::Relayed(desc, relayed) => Ok(Cow::Owned(relayed.to_message(desc))),
        }
    }

    /// The protobuf wire form.
    pub fn to_wire(&self) -> Result<Bytes, Status> {
        use prost::Message as _;
        match self {
            Message::Encoded(_, bytes) => Ok(bytes.clone()),
            other => Ok(other.decoded()?.encode_to_vec().into()),
        }
    }

    /// The relayed HTTP message: as it arrived, or read from the fields of a message that a
    /// stage wrote (a cached reply, say).
    pub fn into_relayed(self) -> Result<Relayed, Status> {
        match self {
            Message::Relayed(_, relayed) => Ok(*relayed),
            other => Relayed::from_message(other.decoded()?.as_ref()),
        }
    }
}

/// Request messages: exactly one for unary and server-streaming operations.
pub(crate) type MessageStream = BoxStream<'static, Message>;

/// Response messages, ending early with a status when the backend fails mid-stream.
pub(crate) type ReplyStream = BoxStream<'static, Result<Message, Status>>;

pub struct Call {
    pub operation: Arc<Operation>,
    pub input: MessageStream,
    /// Request metadata already filtered by the frontend's allow-list.
    pub metadata: HeaderMap,
    pub deadline: Option<Instant>,
    /// The client's request as it arrived, for the stages (credentials, the client's address).
    pub origin: Arc<Origin>,
    /// Who made the call, once authentication has said so.
    pub consumer: Option<Arc<Consumer>>,
}

/// What stages may need of the client's request, whatever the frontend: every header (not only
/// the forwarded ones), the method and URI, the body when the frontend read it whole, and the
/// peer's address.
#[derive(Debug, Default)]
pub struct Origin {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
    /// The whole body (REST, GraphQL, SOAP); `None` for streamed requests (gRPC).
    pub body: Option<Bytes>,
    pub peer: Option<std::net::SocketAddr>,
}

impl Origin {
    pub fn new(parts: &http::request::Parts, body: Option<Bytes>) -> Arc<Origin> {
        Arc::new(Origin {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
            body,
            peer: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0),
        })
    }
}

/// An authenticated caller: a consumer of the configuration, or one a token names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consumer {
    pub id: String,
    pub plan: Option<String>,
    /// The consumer's metadata from the configuration, and a token's claims.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Call {
    /// A call of one input message for a client's request (see [`Call::for_request`]).
    pub fn unary(
        operation: Arc<Operation>,
        input: Message,
        origin: Arc<Origin>,
        forward: &[http::HeaderName],
        timeout: Option<std::time::Duration>,
    ) -> Result<Call, Status> {
        let input = futures::stream::once(async move { input }).boxed();
        Call::for_request(operation, input, origin, forward, timeout)
    }

    /// A call for a client's request: the metadata the allow-list `forward` lets through,
    /// the deadline of `grpc-timeout` and `timeout`, no consumer yet.
    pub fn for_request(
        operation: Arc<Operation>,
        input: MessageStream,
        origin: Arc<Origin>,
        forward: &[http::HeaderName],
        timeout: Option<std::time::Duration>,
    ) -> Result<Call, Status> {
        Ok(Call {
            operation,
            input,
            metadata: forward_metadata(&origin.headers, forward),
            deadline: deadline(&origin.headers, timeout)?,
            origin,
            consumer: None,
        })
    }
}

pub struct Reply {
    /// Response metadata (headers, and trailers for single-message responses).
    pub metadata: HeaderMap,
    pub messages: ReplyStream,
}

impl Reply {
    /// The first message: a unary call's answer.
    pub async fn into_message(mut self) -> Result<Message, Status> {
        self.messages
            .next()
            .await
            .ok_or_else(|| Status::internal("the backend sent no response message"))?
    }
}

/// A backend, or a backend wrapped in stages: a tower service from calls to replies.
pub(crate) type Invoker = BoxCloneSyncService<Call, Reply, Status>;

/// What every backend protocol implements: one canonical call.
pub(crate) trait Backend: Send + Sync + 'static {
    fn call(&self, call: Call) -> impl std::future::Future<Output = Result<Reply, Status>> + Send;
}

/// A backend as an invoker, shared by every call.
pub(crate) fn invoker<B: Backend>(backend: B) -> Invoker {
    let backend = Arc::new(backend);
    Invoker::new(tower::service_fn(move |call: Call| {
        let backend = backend.clone();
        async move { backend.call(call).await }
    }))
}

/// Invokes `invoker`, bounding the call and every later message by the call's deadline.
pub(crate) async fn invoke(invoker: &Invoker, call: Call) -> Result<Reply, Status> {
    use tower::ServiceExt;
    let deadline = call.deadline;
    let pending = invoker.clone().oneshot(call);
    let Some(deadline) = deadline else {
        return pending.await;
    };
    let reply = tokio::time::timeout_at(deadline, pending)
        .await
        .map_err(|_| Status::deadline_exceeded())??;
    Ok(Reply {
        metadata: reply.metadata,
        messages: bounded(reply.messages, deadline),
    })
}

/// `messages`, ending after the first error.
pub(crate) fn until_error(messages: ReplyStream) -> ReplyStream {
    futures::stream::unfold((messages, false), |(mut messages, failed)| async move {
        if failed {
            return None;
        }
        let item = messages.next().await?;
        let failed = item.is_err();
        Some((item, (messages, failed)))
    })
    .boxed()
}

/// Ends `messages` with DEADLINE_EXCEEDED if the deadline passes before they end.
fn bounded(messages: ReplyStream, deadline: Instant) -> ReplyStream {
    let sleep = Box::pin(tokio::time::sleep_until(deadline));
    futures::stream::unfold(Some((messages, sleep)), |state| async move {
        let (mut messages, mut sleep) = state?;
        tokio::select! {
            item = messages.next() => item.map(|item| (item, Some((messages, sleep)))),
            _ = &mut sleep => Some((Err(Status::deadline_exceeded()), None)),
        }
    })
    .boxed()
}

/// Headers that never become metadata besides the hop-by-hop ones: gRPC sets them itself.
const NOT_METADATA: [&str; 2] = ["host", "content-type"];

/// Request headers forwarded as gRPC metadata: the allow-list, and `grpc-metadata-*` with the
/// prefix removed; never hop-by-hop headers (also those the request's `Connection` names).
pub(crate) fn forward_metadata(headers: &HeaderMap, allow: &[HeaderName]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let target = match name.as_str().strip_prefix("grpc-metadata-") {
            Some(stripped) => HeaderName::from_bytes(stripped.as_bytes()).ok(),
            None => allow.contains(name).then(|| name.clone()),
        };
        if let Some(target) = target.filter(|t| {
            !NOT_METADATA.contains(&t.as_str())
                && !t.as_str().starts_with("grpc-")
                && !crate::hop_by_hop::is_hop_by_hop(t, headers)
                && !crate::hop_by_hop::is_hop_by_hop(name, headers)
        }) {
            out.append(target, value.clone());
        }
    }
    out
}

/// The call's deadline: the sooner of the request's `grpc-timeout` and the route's timeout.
pub(crate) fn deadline(
    headers: &HeaderMap,
    route_timeout: Option<Duration>,
) -> Result<Option<Instant>, Status> {
    let requested = match headers.get("grpc-timeout") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(parse_grpc_timeout)
                .ok_or_else(|| Status::invalid_argument("invalid grpc-timeout header"))?,
        ),
    };
    let timeout = match (requested, route_timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(timeout.map(|t| Instant::now() + t))
}

/// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout("S"), None);
    }

    #[test]
    fn metadata_forwarding() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse().unwrap());
        headers.insert("grpc-metadata-tenant", "acme".parse().unwrap());
        headers.insert("cookie", "secret".parse().unwrap());
        headers.insert("connection", "close".parse().unwrap());
        headers.insert("grpc-metadata-grpc-status", "0".parse().unwrap());
        let allow = vec![
            HeaderName::from_static("authorization"),
            HeaderName::from_static("connection"),
        ];
        let out = forward_metadata(&headers, &allow);
        let mut names: Vec<_> = out.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, vec!["authorization", "tenant"]);
    }
}
