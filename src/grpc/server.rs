//! A gRPC server for services known only by their descriptors: every method is dispatched to
//! one handler with the method's descriptor. Runs on axum, so one listener serves HTTP/1.1 and
//! HTTP/2 (h2c) alike.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use prost_reflect::{DynamicMessage, MethodDescriptor, ServiceDescriptor};
use tonic::server::{Grpc, StreamingService};
use tonic::{Request, Status, Streaming};

use super::codec::WireMessage;
use super::DescriptorCodec;

/// What a handler answers: a stream of messages (one for unary and client-streaming methods).
pub type ResponseStream<M = DynamicMessage> = BoxStream<'static, Result<M, Status>>;

/// Serves every method of the services it is given, with messages decoded (`DynamicMessage`,
/// for servers that read fields) or kept in wire form (`call::Message`, for the gateway).
pub trait Handler<M = DynamicMessage>: Send + Sync + 'static {
    fn call(
        &self,
        method: MethodDescriptor,
        request: Request<Streaming<M>>,
    ) -> BoxFuture<'static, Result<tonic::Response<ResponseStream<M>>, Status>>;
}

/// An axum router that serves `services` with `handler`, messages up to tonic's default size.
pub fn router<M: WireMessage>(
    services: &[ServiceDescriptor],
    handler: Arc<dyn Handler<M>>,
) -> axum::Router {
    router_with_limit(services, handler, 4 << 20)
}

/// [`router`], with request messages up to `max_message` bytes (a larger one is
/// RESOURCE_EXHAUSTED).
pub fn router_with_limit<M: WireMessage>(
    services: &[ServiceDescriptor],
    handler: Arc<dyn Handler<M>>,
    max_message: usize,
) -> axum::Router {
    let methods: Arc<HashMap<String, MethodDescriptor>> = Arc::new(
        services
            .iter()
            .flat_map(|s| s.methods())
            .map(|m| {
                (
                    format!("/{}/{}", m.parent_service().full_name(), m.name()),
                    m,
                )
            })
            .collect(),
    );
    axum::Router::new().fallback(move |request: http::Request<Body>| {
        let methods = methods.clone();
        let handler = handler.clone();
        async move {
            let Some(method) = methods.get(request.uri().path()).cloned() else {
                return Status::unimplemented("unknown method")
                    .into_http::<Body>()
                    .into_response();
            };
            let codec = DescriptorCodec::<M>::new(method.input());
            let dispatch = Dispatch { method, handler };
            Grpc::new(codec)
                .max_decoding_message_size(max_message)
                .streaming(dispatch, request)
                .await
                .map(Body::new)
                .into_response()
        }
    })
}

struct Dispatch<M> {
    method: MethodDescriptor,
    handler: Arc<dyn Handler<M>>,
}

impl<M: WireMessage> StreamingService<M> for Dispatch<M> {
    type Response = M;
    type ResponseStream = ResponseStream<M>;
    type Future = BoxFuture<'static, Result<tonic::Response<ResponseStream<M>>, Status>>;

    fn call(&mut self, request: Request<Streaming<M>>) -> Self::Future {
        self.handler.call(self.method.clone(), request)
    }
}

/// Serves `router` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await
}

/// The response of a handler that answers with one message.
pub fn single(message: DynamicMessage) -> tonic::Response<ResponseStream> {
    tonic::Response::new(Box::pin(futures::stream::once(async { Ok(message) })))
}
