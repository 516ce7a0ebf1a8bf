//! The canonical call (conventions section 1): what a frontend decodes a request into and
//! what a backend answers with. Stages and backends see only these types.

use std::sync::Arc;

use futures::stream::BoxStream;
use futures::StreamExt;
use http::HeaderMap;
use std::borrow::Cow;

use bytes::Bytes;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage};
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;

use crate::frontend::rest::response::message_json;
use crate::protojson::{wire_to_json, Plan};
use crate::registry::Operation;
use crate::status::Status;

/// A message of the canonical model: decoded, or still in wire form. Frontends and backends
/// that can work on the wire form (the REST frontend's JSON transcoder, the gRPC backend)
/// never pay for decoding; anything that needs the fields calls [`Message::decoded`].
#[derive(Debug, Clone)]
pub enum Message {
    Decoded(DynamicMessage),
    Encoded(MessageDescriptor, Bytes),
}

impl Message {
    pub fn descriptor(&self) -> MessageDescriptor {
        match self {
            Message::Decoded(m) => m.descriptor(),
            Message::Encoded(desc, _) => desc.clone(),
        }
    }

    /// The proto3 JSON of the message, written by `plan` (from the wire form; a decoded
    /// message is written with its zero values).
    pub fn to_json<T: serde::de::DeserializeOwned>(&self, plan: &Plan) -> Result<T, Status> {
        let mut out = Vec::new();
        let written = match self {
            Message::Encoded(_, wire) => wire_to_json(plan, wire, &mut out).is_ok(),
            Message::Decoded(_) => false,
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
        }
    }
}

/// Request messages: exactly one for unary and server-streaming operations.
pub type MessageStream = BoxStream<'static, Message>;

/// Response messages, ending early with a status when the backend fails mid-stream.
pub type ReplyStream = BoxStream<'static, Result<Message, Status>>;

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
            metadata: crate::frontend::rest::forward_metadata(&origin.headers, forward),
            deadline: crate::frontend::rest::deadline(&origin.headers, timeout)?,
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
pub type Invoker = BoxCloneSyncService<Call, Reply, Status>;

/// What every backend protocol implements: one canonical call.
pub trait Backend: Send + Sync + 'static {
    fn call(&self, call: Call) -> impl std::future::Future<Output = Result<Reply, Status>> + Send;
}

/// A backend as an invoker, shared by every call.
pub fn invoker<B: Backend>(backend: B) -> Invoker {
    let backend = Arc::new(backend);
    Invoker::new(tower::service_fn(move |call: Call| {
        let backend = backend.clone();
        async move { backend.call(call).await }
    }))
}

/// Invokes `invoker`, bounding the call and every later message by the call's deadline.
pub async fn invoke(invoker: &Invoker, call: Call) -> Result<Reply, Status> {
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
pub fn until_error(messages: ReplyStream) -> ReplyStream {
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
