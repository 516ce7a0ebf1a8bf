//! The gRPC frontend: serves the operations of `frontend: grpc` mappings as gRPC services on
//! the gateway's listener (requests are told apart by their `application/grpc` content type),
//! with gRPC-Web, server reflection (v1 and v1alpha) and the standard health service.
//!
//! Messages stay in wire form in both directions, so gRPC -> gRPC relays message bytes without
//! decoding them; other backends decode what they need.

pub(crate) mod mount;

use axum::extract::ConnectInfo;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderName};
use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor, MethodDescriptor, ServiceDescriptor};
use tonic::metadata::MetadataMap;
use tonic::{Request, Streaming};
use tower::ServiceExt;

use crate::call::{self, Call, Invoker, Message, Origin};
use crate::grpc::server::{self, Handler, ResponseStream};
use crate::grpc::status::to_tonic;
use crate::registry::Operation;
use crate::status::Status;

/// What one exposed method calls.
pub struct GrpcTarget {
    pub operation: Arc<Operation>,
    pub invoker: Invoker,
    pub timeout: Option<Duration>,
    pub forward_headers: Arc<[HeaderName]>,
}

/// Every gRPC method the gateway serves, with reflection, health and gRPC-Web.
#[derive(Clone)]
pub struct GrpcFrontend {
    service: tonic_web::GrpcWebService<axum::Router>,
    /// Full names of the services served, for `rosetta check` and the logs.
    pub services: Arc<[String]>,
}

impl GrpcFrontend {
    /// Serves `targets` (by method full name); `pool` holds their descriptors.
    /// `max_message`: the largest request message accepted.
    pub fn new(
        targets: HashMap<String, GrpcTarget>,
        pool: &DescriptorPool,
        max_message: usize,
    ) -> Self {
        let mut services: Vec<ServiceDescriptor> = Vec::new();
        for target in targets.values() {
            let service = target.operation.method.parent_service();
            if !services.contains(service) {
                services.push(service.clone());
            }
        }
        services.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        let handler: Arc<dyn Handler<Message>> = Arc::new(Relay(Arc::new(targets)));
        let mut router = server::router_with_limit(&services, handler, max_message);

        let names: Vec<String> = services.iter().map(|s| s.full_name().to_owned()).collect();
        let files = file_set(&services, pool);
        let reflection = || {
            names.iter().fold(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(&files),
                |builder, name| builder.with_service_name(name),
            )
        };
        if let (Ok(v1), Ok(v1alpha)) = (reflection().build_v1(), reflection().build_v1alpha()) {
            router = router
                .route_service(&path_of::<_>(&v1), v1)
                .route_service(&path_of::<_>(&v1alpha), v1alpha);
        }
        let (reporter, health) = tonic_health::server::health_reporter();
        for name in &names {
            // The reporter's lock is tokio's, which needs no runtime to be taken uncontended.
            futures::executor::block_on(
                reporter.set_service_status(name, tonic_health::ServingStatus::Serving),
            );
        }
        router = router.route_service(&path_of::<_>(&health), health);
        GrpcFrontend {
            service: tower::Layer::layer(&tonic_web::GrpcWebLayer::new(), router),
            services: names.into(),
        }
    }

    /// Whether a request is gRPC or gRPC-Web (by its content type).
    pub fn accepts(request: &http::Request<Body>) -> bool {
        request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/grpc"))
    }

    pub async fn handle(self, request: http::Request<Body>) -> Response {
        match self.service.oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        }
    }
}

/// A call refused before it is read (the IP gate): a trailers-only answer, in gRPC-Web's
/// content type to gRPC-Web clients.
pub(crate) fn refusal(status: &Status, headers: &HeaderMap) -> Response {
    let mut response: Response = to_tonic(status).into_http();
    let asked = headers.get(http::header::CONTENT_TYPE);
    if let Some(web) = asked.filter(|t| t.as_bytes().starts_with(b"application/grpc-web")) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, web.clone());
    }
    response
}

/// `/{service name}/{*method}`, the routes of a tonic service.
fn path_of<S: tonic::server::NamedService>(_: &S) -> String {
    format!("/{}/{{*method}}", S::NAME)
}

/// The encoded `FileDescriptorSet` of the files the services are declared in, with their
/// imports, for reflection.
fn file_set(services: &[ServiceDescriptor], pool: &DescriptorPool) -> Vec<u8> {
    let mut files: Vec<FileDescriptor> = Vec::new();
    let mut stack: Vec<FileDescriptor> = services.iter().map(|s| s.parent_file()).collect();
    while let Some(file) = stack.pop() {
        if files.iter().any(|f| f.name() == file.name()) {
            continue;
        }
        stack.extend(file.dependencies());
        files.push(file);
    }
    let set = prost_types::FileDescriptorSet {
        file: pool
            .files()
            .filter(|f| files.iter().any(|kept| kept.name() == f.name()))
            .map(|f| f.file_descriptor_proto().clone())
            .collect(),
    };
    set.encode_to_vec()
}

/// Turns gRPC calls into canonical calls and the replies back.
struct Relay(Arc<HashMap<String, GrpcTarget>>);

impl Handler<Message> for Relay {
    fn call(
        &self,
        method: MethodDescriptor,
        request: Request<Streaming<Message>>,
    ) -> BoxFuture<'static, Result<tonic::Response<ResponseStream<Message>>, tonic::Status>> {
        let targets = self.0.clone();
        async move {
            let target = targets
                .get(method.full_name())
                .ok_or_else(|| tonic::Status::unimplemented("unknown method"))?;
            // Served inside axum, the connection's address is axum's `ConnectInfo`, not
            // tonic's own.
            let peer = request.remote_addr().or_else(|| {
                let info = request
                    .extensions()
                    .get::<ConnectInfo<std::net::SocketAddr>>();
                info.map(|info| info.0)
            });
            let (metadata, _, messages) = request.into_parts();
            let origin = Arc::new(Origin {
                method: http::Method::POST,
                uri: format!("/{}/{}", method.parent_service().full_name(), method.name())
                    .parse()
                    .unwrap_or_default(),
                headers: metadata.into_headers(),
                body: None,
                peer,
            });
            // A broken request stream (a message over the size limit, a bad frame) ends the
            // input, and the call fails with its status: the backend saw fewer messages.
            let broken: Arc<std::sync::Mutex<Option<tonic::Status>>> = Arc::default();
            let seen = broken.clone();
            let input = messages
                .map(move |item| {
                    item.map_err(|status| {
                        // tonic reports a message over the size limit as OUT_OF_RANGE; the
                        // gRPC spec (doc/statuscodes.md) says RESOURCE_EXHAUSTED.
                        let status = match status.code() {
                            tonic::Code::OutOfRange => {
                                tonic::Status::resource_exhausted(status.message())
                            }
                            _ => status,
                        };
                        if let Ok(mut slot) = seen.lock() {
                            slot.get_or_insert(status);
                        }
                    })
                })
                .take_while(|item| futures::future::ready(item.is_ok()))
                .filter_map(|item| futures::future::ready(item.ok()))
                .boxed();
            let input_error = move || broken.lock().ok().and_then(|mut slot| slot.take());
            let call = Call::for_request(
                target.operation.clone(),
                input,
                origin,
                &target.forward_headers,
                target.timeout,
            )
            .map_err(|s| to_tonic(&s))?;
            let reply = call::invoke(&target.invoker, call).await;
            if let Some(status) = input_error() {
                return Err(status);
            }
            let reply = reply.map_err(|s| to_tonic(&s))?;
            let messages = reply
                .messages
                .map(|item| item.map_err(|status| to_tonic(&status)))
                .boxed();
            let mut response = tonic::Response::new(messages);
            *response.metadata_mut() = MetadataMap::from_headers(response_metadata(reply.metadata));
            Ok(response)
        }
        .boxed()
    }
}

/// The backend's response metadata that may go back as custom metadata (not gRPC's own
/// headers, not HTTP's).
fn response_metadata(metadata: HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in &metadata {
        let reserved = name.as_str().starts_with("grpc-")
            || matches!(
                name.as_str(),
                "content-type"
                    | "content-length"
                    | "date"
                    | "te"
                    | "trailer"
                    | "transfer-encoding"
                    | "connection"
            );
        if !reserved {
            out.append(name.clone(), value.clone());
        }
    }
    out
}
