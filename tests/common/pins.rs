//! The backend of `tests/graphql/pins.proto` (things with the shapes section 4 pins down, a
//! batch method that answers in reverse order), and a gateway in front of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use prost_reflect::{DynamicMessage, MethodDescriptor, ReflectMessage, Value as ProtoValue};
use rosetta::grpc::server::{self, Handler, ResponseStream};

/// The backend of `tests/graphql/pins.proto`.
pub struct Things {
    calls: Arc<AtomicUsize>,
    batches: Arc<AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Handler for Things {
    fn call(
        &self,
        method: MethodDescriptor,
        request: tonic::Request<tonic::Streaming<DynamicMessage>>,
    ) -> BoxFuture<'static, Result<tonic::Response<ResponseStream>, tonic::Status>> {
        let call_number = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let failing = self.failing.load(Ordering::SeqCst);
        if method.name() == "BatchGetThings" {
            self.batches.fetch_add(1, Ordering::SeqCst);
        }
        async move {
            let tenant = request
                .metadata()
                .get("x-tenant")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let mut stream = request.into_inner();
            let mut thing = stream.next().await.expect("one request")?;
            if matches!(method.name(), "ListThings" | "BatchGetThings") {
                return Ok(server::single(thing_list(&method, &thing)));
            }
            let name = thing
                .get_field_by_name("name")
                .unwrap()
                .as_str()
                .unwrap_or("")
                .to_owned();
            match (method.name(), name.as_str()) {
                ("GetThing", "fail") => return Err(tonic::Status::not_found("no such thing")),
                ("GetThing", "weird-enum") => {
                    thing.set_field_by_name("color", ProtoValue::EnumNumber(7))
                }
                ("GetThing", "slow") => tokio::time::sleep(std::time::Duration::from_secs(2)).await,
                ("GetThing", "whoami") => {
                    thing.set_field_by_name("name", ProtoValue::String(tenant))
                }
                // For the cache: `count` tells which call answered; some names answer with
                // caching headers; all fail while `failing` is set.
                ("GetThing", name) if name.starts_with("cache-") => {
                    if failing {
                        return Err(tonic::Status::unavailable("failing, as asked"));
                    }
                    thing.set_field_by_name("count", ProtoValue::I32(call_number as i32));
                    let mut response = server::single(thing);
                    let header = match name {
                        "cache-no-store" => Some(("cache-control", "no-store")),
                        "cache-cookie" => Some(("set-cookie", "session=1")),
                        "cache-vary" => Some(("vary", "x-tenant")),
                        "cache-short" => Some(("cache-control", "max-age=1")),
                        _ => None,
                    };
                    if let Some((name, value)) = header {
                        response.metadata_mut().insert(name, value.parse().unwrap());
                    }
                    return Ok(response);
                }
                ("StreamThings", _) => {
                    let count = thing.get_field_by_name("count").unwrap().as_i32().unwrap();
                    let desc = thing.descriptor();
                    let things = (1..=count as i64).map(move |id| {
                        let mut item = DynamicMessage::new(desc.clone());
                        item.set_field_by_name("id", ProtoValue::I64(id));
                        Ok(item)
                    });
                    return Ok(tonic::Response::new(futures::stream::iter(things).boxed()));
                }
                _ => {}
            }
            Ok(server::single(thing))
        }
        .boxed()
    }
}

/// ListThings: `count` things; BatchGetThings: a thing per id, in reverse order.
fn thing_list(method: &MethodDescriptor, input: &DynamicMessage) -> DynamicMessage {
    let output = method.output();
    let things = output.get_field_by_name("things").unwrap();
    let prost_reflect::Kind::Message(thing) = things.kind() else {
        unreachable!()
    };
    let ids: Vec<i64> = match method.name() {
        "ListThings" => {
            (1..=input.get_field_by_name("count").unwrap().as_i32().unwrap() as i64).collect()
        }
        _ => match &*input.get_field_by_name("ids").unwrap() {
            ProtoValue::List(ids) => ids.iter().rev().filter_map(|v| v.as_i64()).collect(),
            _ => Vec::new(),
        },
    };
    let items = ids
        .into_iter()
        .map(|id| {
            let mut item = DynamicMessage::new(thing.clone());
            item.set_field_by_name("id", ProtoValue::I64(id));
            item.set_field_by_name("name", ProtoValue::String(format!("thing {id}")));
            ProtoValue::Message(item)
        })
        .collect();
    let mut list = DynamicMessage::new(output);
    list.set_field(&things, ProtoValue::List(items));
    list
}

pub struct Pins {
    pub gateway: super::RunningGateway,
    pub calls: Arc<AtomicUsize>,
    pub batches: Arc<AtomicUsize>,
    /// While set, GetThing of `cache-*` names fails.
    pub failing: Arc<std::sync::atomic::AtomicBool>,
    _backend: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A configuration with the pins schemas and a `things` backend at `${THINGS}`, and `mappings`
/// (name, text).
pub fn things_config(mappings: &[(&str, &str)]) -> tempfile::TempDir {
    things_config_with("", mappings)
}

/// Like [`things_config`], with `extra` (top-level keys) added to gateway.yaml.
pub fn things_config_with(extra: &str, mappings: &[(&str, &str)]) -> tempfile::TempDir {
    let include = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graphql");
    let gateway_yaml = format!(
        "version: 1\nlisten: 127.0.0.1:0\nschemas:\n  include: [{}]\nbackends:\n  things:\n    protocol: grpc\n    address: http://${{THINGS}}\n",
        include.display()
    );
    let mut files = vec![("gateway.yaml".to_owned(), gateway_yaml + extra)];
    files.extend(
        mappings
            .iter()
            .map(|(name, text)| (format!("mappings/{name}"), text.to_string())),
    );
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    super::write_files(&files)
}

/// The rendered load errors of the pins configuration with `extra` and `mappings` (the
/// backend's address is never called). Panics when it loads.
pub fn load_errors(extra: &str, mappings: &[(&str, &str)]) -> String {
    let dir = things_config_with(extra, mappings);
    match super::load(
        dir.path(),
        super::vars(&[("THINGS", "127.0.0.1:9".to_owned())]),
    ) {
        Ok(_) => panic!("the configuration loads"),
        Err(diagnostics) => diagnostics.render(),
    }
}

/// A reply message that a failed `unwrap_err` can print: the pins messages refer to
/// themselves, and the `Debug` of their descriptors never ends.
pub struct GrpcReply(pub DynamicMessage);

impl std::ops::Deref for GrpcReply {
    type Target = DynamicMessage;

    fn deref(&self) -> &DynamicMessage {
        &self.0
    }
}

impl std::fmt::Debug for GrpcReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = serde_json::to_string(&self.0).unwrap_or_default();
        write!(f, "{} {json}", self.0.descriptor().full_name())
    }
}

impl Pins {
    /// A unary gRPC call of `pins.v1.Things.{method}` through the gateway.
    #[allow(dead_code)] // not every test binary calls over gRPC
    pub async fn grpc(
        &self,
        method: &str,
        request: serde_json::Value,
    ) -> Result<GrpcReply, tonic::Status> {
        self.grpc_with(method, request, &[]).await
    }

    /// [`Pins::grpc`] with request metadata.
    #[allow(dead_code)] // not every test binary calls over gRPC
    pub async fn grpc_with(
        &self,
        method: &str,
        request: serde_json::Value,
        metadata: &[(&'static str, &str)],
    ) -> Result<GrpcReply, tonic::Status> {
        let method = self
            .gateway
            .gateway
            .pool
            .get_service_by_name("pins.v1.Things")
            .and_then(|s| s.methods().find(|m| m.name() == method))
            .expect("a method of pins.v1.Things");
        super::grpc_unary_with(&self.gateway.base, &method, request, metadata)
            .await
            .map(GrpcReply)
    }

    /// The pins backend on a free port, and a gateway with `mappings` in front of it.
    pub async fn start(mappings: &[(&str, &str)]) -> Pins {
        Pins::start_with("", &[], mappings).await
    }

    /// Like [`Pins::start`], with `extra` added to gateway.yaml and `vars` in the environment.
    pub async fn start_with(
        extra: &str,
        vars: &[(&str, String)],
        mappings: &[(&str, &str)],
    ) -> Pins {
        let dir = things_config_with(extra, mappings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut vars = vars.to_vec();
        vars.push(("THINGS", addr.to_string()));
        let gateway = super::load(dir.path(), super::vars(&vars))
            .unwrap_or_else(|d| panic!("{}", d.render()));
        let calls = Arc::new(AtomicUsize::new(0));
        let batches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let services: Vec<_> = gateway
            .pool
            .services()
            .filter(|s| s.full_name() == "pins.v1.Things")
            .collect();
        let router = server::router(
            &services,
            Arc::new(Things {
                calls: calls.clone(),
                batches: batches.clone(),
                failing: failing.clone(),
            }),
        );
        let backend = tokio::spawn(async move {
            let _ = server::serve(listener, router).await;
        });
        Pins {
            gateway: super::serve(gateway).await,
            calls,
            batches,
            failing,
            _backend: backend,
            _dir: dir,
        }
    }
}
