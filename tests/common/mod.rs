//! Test harness: real servers on 127.0.0.1:0 — the demo tonic backend, an echo backend for any
//! schema, and the gateway itself — driven over real HTTP.
#![allow(dead_code)]

pub mod pins;
pub mod redis;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MethodDescriptor, ReflectMessage};
use rosetta::config::{Files, Vars};
use rosetta::demo::{self, DemoGrpc};
use rosetta::gateway::{self, Gateway};
use rosetta::grpc::server::{self, Handler, ResponseStream};
use tokio::task::JoinHandle;

/// A gateway serving on a free loopback port.
pub struct RunningGateway {
    pub base: String,
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    task: JoinHandle<()>,
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunningGateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET /_rosetta/metrics` with the admin token (gateway.yaml's `admin.token`).
    #[allow(dead_code)] // not every test binary reads the metrics
    pub async fn metrics(&self, token: &str) -> String {
        let request = reqwest::Client::new()
            .get(self.url("/_rosetta/metrics"))
            .bearer_auth(token);
        request.send().await.unwrap().text().await.unwrap()
    }

    /// The JSON answer to a GraphQL query posted to `/graphql`.
    #[allow(dead_code)] // not every test binary asks GraphQL
    pub async fn graphql(&self, query: &str) -> serde_json::Value {
        let body = serde_json::json!({ "query": query });
        let request = reqwest::Client::new()
            .post(self.url("/graphql"))
            .json(&body);
        request.send().await.unwrap().json().await.unwrap()
    }
}

pub async fn serve(gateway: Gateway) -> RunningGateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gateway = Arc::new(gateway);
    let served = gateway.clone();
    let task = tokio::spawn(async move {
        let _ = gateway::serve(&served, listener, std::future::pending()).await;
    });
    RunningGateway {
        base: format!("http://{addr}"),
        addr,
        gateway,
        task,
    }
}

pub fn vars(pairs: &[(&str, String)]) -> Vars {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Arc::new(move |name| map.get(name).cloned())
}

/// The demo backends and the demo configuration (the one `rosetta demo` runs).
pub struct Demo {
    pub backend: DemoGrpc,
    pub soap: demo::DemoSoap,
    pub gateway: RunningGateway,
}

pub async fn demo() -> Demo {
    let backend = demo::start_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let soap = demo::start_soap("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let vars = vars(&[
        (demo::GRPC_ADDRESS_VAR, backend.addr.to_string()),
        (demo::SOAP_ADDRESS_VAR, soap.addr.to_string()),
    ]);
    let gateway = gateway::load(demo::files(), demo::GATEWAY_FILE.as_ref(), vars)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    Demo {
        backend,
        soap,
        gateway: serve(gateway).await,
    }
}

/// Writes files into a fresh temporary directory.
pub fn write_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Loads `gateway.yaml` from `dir` on disk.
pub fn load(dir: &Path, vars: Vars) -> Result<Gateway, rosetta::config::Diagnostics> {
    gateway::load(Files::Disk, &dir.join("gateway.yaml"), vars)
}

/// A gRPC backend for any schema that answers every call with its request when the output
/// type is the input type, and with an empty output message otherwise.
pub struct EchoGrpc {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for EchoGrpc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct EchoHandler;

impl Handler for EchoHandler {
    fn call(
        &self,
        method: MethodDescriptor,
        request: tonic::Request<tonic::Streaming<DynamicMessage>>,
    ) -> BoxFuture<'static, Result<tonic::Response<ResponseStream>, tonic::Status>> {
        async move {
            let output = method.output();
            let replies = request.into_inner().map(move |item| {
                let message = item?;
                Ok(if message.descriptor() == output {
                    message
                } else {
                    DynamicMessage::new(output.clone())
                })
            });
            if method.is_server_streaming() {
                return Ok(tonic::Response::new(replies.boxed()));
            }
            let last = replies
                .fold(None, |_, item| async move { Some(item) })
                .await
                .unwrap_or_else(|| Ok(DynamicMessage::new(method.output())))?;
            Ok(server::single(last))
        }
        .boxed()
    }
}

pub async fn start_echo(pool: &DescriptorPool) -> EchoGrpc {
    let services: Vec<_> = pool.services().collect();
    let router = server::router(&services, Arc::new(EchoHandler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = server::serve(listener, router).await;
    });
    EchoGrpc { addr, task }
}

/// Compiles one file of the corpus (a path relative to `corpus_dir()`).
pub fn compile_corpus_file(
    file: &str,
) -> Result<rosetta::registry::proto::Compiled, rosetta::config::Diagnostics> {
    let mut diags = rosetta::config::Diagnostics::default();
    let request = rosetta::registry::proto::SchemaRequest {
        path: file.to_owned(),
        dir: Default::default(),
        pos: rosetta::config::unplaced(file),
    };
    let compiled =
        rosetta::registry::proto::compile(&Files::Disk, vec![corpus_dir()], &[request], &mut diags);
    compiled.filter(|_| diags.is_empty()).ok_or(diags)
}

/// The repository's copy of the grpc-gateway example protos.
pub fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/grpc-gateway")
}

/// The messages and services of a package, in a proto-like text.
pub fn describe_package(pool: &DescriptorPool, package: &str) -> String {
    let mut out = String::new();
    for message in pool.all_messages().filter(|m| m.package_name() == package) {
        out.push_str(&format!("message {} {{\n", message.name()));
        for field in message.fields() {
            let label = if field.is_list() {
                "repeated "
            } else if field.supports_presence() && !matches!(field.kind(), Kind::Message(_)) {
                "optional "
            } else {
                ""
            };
            let kind = match field.kind() {
                Kind::Message(m) => m.name().to_owned(),
                other => format!("{other:?}").to_lowercase(),
            };
            let oneof = field
                .containing_oneof()
                .filter(|o| !o.is_synthetic())
                .map(|o| format!(" (oneof {})", o.name()))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {label}{kind} {} = {} [json \"{}\"]{oneof};\n",
                field.name(),
                field.number(),
                field.json_name()
            ));
        }
        out.push_str("}\n");
    }
    for service in pool.services().filter(|s| s.package_name() == package) {
        out.push_str(&format!("service {} {{\n", service.name()));
        for method in service.methods() {
            out.push_str(&format!(
                "  rpc {}({}) returns ({});\n",
                method.name(),
                method.input().name(),
                method.output().name()
            ));
        }
        out.push_str("}\n");
    }
    out
}

/// A unary gRPC call to `method` at `base` (`http://host:port`), the request given as proto3
/// JSON.
pub async fn grpc_unary(
    base: &str,
    method: &MethodDescriptor,
    request: serde_json::Value,
) -> Result<DynamicMessage, tonic::Status> {
    grpc_unary_with(base, method, request, &[]).await
}

/// [`grpc_unary`] with request metadata.
pub async fn grpc_unary_with(
    base: &str,
    method: &MethodDescriptor,
    request: serde_json::Value,
    metadata: &[(&'static str, &str)],
) -> Result<DynamicMessage, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(base.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let mut request =
        tonic::Request::new(DynamicMessage::deserialize(method.input(), request).unwrap());
    for (name, value) in metadata {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    client
        .unary(
            request,
            path.parse().unwrap(),
            rosetta::grpc::DescriptorCodec::<DynamicMessage>::new(method.output()),
        )
        .await
        .map(tonic::Response::into_inner)
}

/// Runs a peer script that prints one JSON document (within a minute) and returns it.
pub async fn run_peer(mut command: tokio::process::Command) -> serde_json::Value {
    let output = command.kill_on_drop(true).output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), output)
        .await
        .expect("the peer finishes within a minute")
        .expect("the peer runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
