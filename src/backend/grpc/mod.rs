//! The gRPC backend: calls any operation through tonic with a descriptor-driven codec, on a
//! small pool of HTTP/2 connections.

pub(crate) mod build;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tonic::metadata::MetadataMap;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::backend::reach::Unreachable;
use crate::backend::ConnectError;
use crate::call::Message;
use crate::call::{Call, Reply};
use crate::grpc::DescriptorCodec;
use crate::status::Status;

/// Settings of one gRPC backend, resolved from configuration.
#[derive(Debug, Clone)]
pub struct GrpcSettings {
    pub address: String,
    pub tls: Option<TlsSettings>,
    pub connect_timeout: Duration,
    pub connections: usize,
}

#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    pub ca_pem: Option<Vec<u8>>,
    pub server_name: Option<String>,
}

pub(crate) struct GrpcBackend {
    channels: Vec<Channel>,
    next: AtomicUsize,
    unreachable: Arc<Unreachable>,
}

impl GrpcBackend {
    /// Prepares the connections; they are opened on first use (and reopened after failures),
    /// so a backend that is down at start-up does not stop the gateway.
    pub(crate) fn new(settings: &GrpcSettings) -> Result<Self, ConnectError> {
        let mut endpoint = Endpoint::from_shared(settings.address.clone())
            .map_err(|e| ConnectError::Address(e.to_string()))?
            .connect_timeout(settings.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        let wants_tls = settings.tls.is_some() || settings.address.starts_with("https://");
        if wants_tls {
            let tls = settings.tls.clone().unwrap_or_default();
            let mut config = ClientTlsConfig::new();
            config = match &tls.ca_pem {
                Some(pem) => config.ca_certificate(Certificate::from_pem(pem)),
                None => config.with_webpki_roots(),
            };
            if let Some(name) = &tls.server_name {
                config = config.domain_name(name.clone());
            }
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| ConnectError::Tls(e.to_string()))?;
        }
        let channels = (0..settings.connections.max(1))
            .map(|_| endpoint.connect_lazy())
            .collect();
        Ok(GrpcBackend {
            channels,
            next: AtomicUsize::new(0),
            unreachable: Arc::new(Unreachable::new(&settings.address)),
        })
    }

    fn channel(&self) -> Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        self.channels[i].clone()
    }

    async fn invoke(&self, call: Call) -> Result<Reply, Status> {
        let mut client = tonic::client::Grpc::new(self.channel());
        if let Err(e) = client.ready().await {
            self.unreachable.failed(&e);
            return Err(Status::unavailable("the backend is unavailable"));
        }
        let operation = call.operation;
        let deadline = call.deadline;
        let failed = |s: tonic::Status| status_of(&self.unreachable, deadline, s);
        let mut request = tonic::Request::new(call.input);
        *request.metadata_mut() = MetadataMap::from_headers(call.metadata);
        if let Some(deadline) = call.deadline {
            request.set_timeout(deadline.saturating_duration_since(tokio::time::Instant::now()));
        }
        let codec = DescriptorCodec::<Message>::new(operation.method.output());
        let response = client
            .streaming(request, operation.grpc_path.clone(), codec)
            .await
            .map_err(&failed)?;
        let (metadata, mut messages, _) = response.into_parts();
        if operation.kind.streams_responses() {
            let unreachable = self.unreachable.clone();
            let failed = move |s| status_of(&unreachable, deadline, s);
            return Ok(Reply {
                metadata: metadata.into_headers(),
                messages: messages.map(move |item| item.map_err(&failed)).boxed(),
            });
        }
        // One message, then the trailers, which carry response metadata too.
        let message = messages
            .message()
            .await
            .map_err(&failed)?
            .ok_or_else(|| Status::internal("the backend sent no response message"))?;
        let mut metadata = metadata.into_headers();
        if let Some(trailers) = messages.trailers().await.map_err(&failed)? {
            metadata.extend(trailers.into_headers());
        }
        Ok(Reply {
            metadata,
            messages: futures::stream::once(async { Ok(message) }).boxed(),
        })
    }
}

/// The canonical status of a failed call. tonic enforces the deadline too and reports it as
/// CANCELLED; the canonical code is DEADLINE_EXCEEDED. A status with a source is a transport
/// error: the connection failed, which the log is told.
fn status_of(
    unreachable: &Unreachable,
    deadline: Option<tokio::time::Instant>,
    s: tonic::Status,
) -> Status {
    match deadline {
        Some(d) if tokio::time::Instant::now() >= d => Status::deadline_exceeded(),
        _ => {
            if let Some(cause) = std::error::Error::source(&s) {
                unreachable.failed(cause);
            }
            crate::grpc::status::from_tonic(&s)
        }
    }
}

impl crate::call::Backend for GrpcBackend {
    fn call(&self, call: Call) -> impl std::future::Future<Output = Result<Reply, Status>> + Send {
        self.invoke(call)
    }
}
