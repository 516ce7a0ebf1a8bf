//! The embedded demo (`rosetta demo`): an in-process gRPC backend for `demo.v1.Users` and the
//! configuration in `examples/demo/`, compiled into the binary. Tests use the same backend.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, ReflectMessage, Value};
use prost_types::Any;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Request, Streaming};

use crate::config::{Diagnostics, Files};
use crate::grpc::server::{self, Handler, ResponseStream};
use crate::grpc::status::to_tonic;
use crate::registry::proto::{self, SchemaRequest};
use crate::status::Status;

mod soap;
pub use soap::{soap_router, start_soap, DemoSoap};

/// The files of `examples/demo/`, as `rosetta demo` loads them.
pub const FILES: &[(&str, &[u8])] = &[
    (
        "demo/gateway.yaml",
        include_bytes!("../../examples/demo/gateway.yaml"),
    ),
    (
        "demo/mappings/users.yaml",
        include_bytes!("../../examples/demo/mappings/users.yaml"),
    ),
    (
        "demo/schemas/demo/v1/users.proto",
        include_bytes!("../../examples/demo/schemas/demo/v1/users.proto"),
    ),
    (
        "demo/mappings/countries.yaml",
        include_bytes!("../../examples/demo/mappings/countries.yaml"),
    ),
    (
        "demo/mappings/users-graphql.yaml",
        include_bytes!("../../examples/demo/mappings/users-graphql.yaml"),
    ),
    (
        "demo/mappings/countries-graphql.yaml",
        include_bytes!("../../examples/demo/mappings/countries-graphql.yaml"),
    ),
    (
        "demo/mappings/users-grpc.yaml",
        include_bytes!("../../examples/demo/mappings/users-grpc.yaml"),
    ),
    (
        "demo/mappings/countries-grpc.yaml",
        include_bytes!("../../examples/demo/mappings/countries-grpc.yaml"),
    ),
    (
        "demo/mappings/bff.yaml",
        include_bytes!("../../examples/demo/mappings/bff.yaml"),
    ),
    (
        "demo/schemas/countries.wsdl",
        include_bytes!("../../examples/demo/schemas/countries.wsdl"),
    ),
];

pub const GATEWAY_FILE: &str = "demo/gateway.yaml";

/// The variable that carries the demo gRPC backend's address into the demo configuration.
pub const GRPC_ADDRESS_VAR: &str = "ROSETTA_DEMO_GRPC";
/// The same for the demo SOAP backend.
pub const SOAP_ADDRESS_VAR: &str = "ROSETTA_DEMO_SOAP";

pub fn files() -> Files {
    Files::embedded(FILES)
}

/// The demo schemas, compiled.
pub fn pool() -> DescriptorPool {
    let mut diags = Diagnostics::default();
    let request = SchemaRequest {
        path: "demo/v1/users.proto".into(),
        dir: "demo".into(),
        pos: crate::config::Pos {
            file: "demo".into(),
            line: 1,
            column: 1,
        },
    };
    proto::compile(
        &files(),
        vec!["demo/schemas".into()],
        &[request],
        &mut diags,
    )
    .filter(|_| diags.is_empty())
    .map(|c| c.pool)
    .unwrap_or_else(|| panic!("the embedded demo schema compiles:\n{}", diags.render()))
}

/// A running demo gRPC backend.
pub struct DemoGrpc {
    pub addr: SocketAddr,
    pub state: Arc<DemoState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoGrpc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the demo gRPC backend on `addr` (port 0 for any free port).
pub async fn start_grpc(addr: SocketAddr) -> std::io::Result<DemoGrpc> {
    let pool = pool();
    let state = Arc::new(DemoState::new(pool.clone()));
    let router = router_with(&pool, state.clone());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = server::serve(listener, router).await;
    });
    Ok(DemoGrpc { addr, state, task })
}

/// The demo gRPC service with fresh data, to serve on a listener of the caller's (e.g. TLS).
pub fn router(pool: &DescriptorPool) -> axum::Router {
    router_with(pool, Arc::new(DemoState::new(pool.clone())))
}

fn router_with(pool: &DescriptorPool, state: Arc<DemoState>) -> axum::Router {
    let service = pool
        .get_service_by_name("demo.v1.Users")
        .expect("the demo schema has demo.v1.Users");
    server::router(&[service], Arc::new(DemoHandler(state)))
}

/// The demo's data, and what tests observe of it.
pub struct DemoState {
    pool: DescriptorPool,
    users: Mutex<BTreeMap<i64, DynamicMessage>>,
    next_id: AtomicI64,
    /// Server streams and `Sleep` calls that ended because the client went away.
    pub cancelled_calls: AtomicUsize,
}

const SEED: &[&str] = &[
    r#"{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_ADMIN","tags":["math","poetry"],"address":{"city":"London","country":"UK"},"createdAt":"2024-01-01T00:00:00Z","labels":{"team":"engines"},"phone":"+44 20 0000 0001","sessionTtl":"3600s","nickname":"Enchantress","profile":{"languages":["en","fr"],"verified":true},"followerCount":"18446744073709551615","score":99.5,"active":true,"karma":42}"#,
    r#"{"id":"2","name":"Alan Turing","email":"alan@example.com","role":"ROLE_ADMIN","tags":["logic"],"address":{"city":"Manchester","country":"UK"},"createdAt":"2024-01-02T00:00:00Z","chatHandle":"@alan","avatar":"AAEC"}"#,
    r#"{"id":"3","name":"Grace Hopper","email":"grace@example.com","role":"ROLE_USER","tags":["cobol"],"address":{"city":"New York","country":"US"},"createdAt":"2024-01-03T00:00:00Z"}"#,
    r#"{"id":"4","name":"Edsger Dijkstra","email":"edsger@example.com","role":"ROLE_USER","address":{"city":"Nuenen","country":"NL"},"createdAt":"2024-01-04T00:00:00Z"}"#,
    r#"{"id":"5","name":"Barbara Liskov","email":"barbara@example.com","role":"ROLE_USER","address":{"city":"Boston","country":"US"},"createdAt":"2024-01-05T00:00:00Z"}"#,
];

impl DemoState {
    fn new(pool: DescriptorPool) -> Self {
        let user = pool.get_message_by_name("demo.v1.User").expect("User");
        let users = SEED
            .iter()
            .map(|json| {
                let mut de = serde_json::Deserializer::from_str(json);
                let m = DynamicMessage::deserialize(user.clone(), &mut de)
                    .expect("seed users are valid");
                (int64(&m, "id"), m)
            })
            .collect();
        DemoState {
            pool,
            users: Mutex::new(users),
            next_id: AtomicI64::new(1000),
            cancelled_calls: AtomicUsize::new(0),
        }
    }

    fn new_message(&self, name: &str) -> DynamicMessage {
        DynamicMessage::new(
            self.pool
                .get_message_by_name(name)
                .expect("demo message types exist"),
        )
    }

    fn users(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, DynamicMessage>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn not_found(&self, id: i64) -> tonic::Status {
        let mut info = self.new_message("google.rpc.ResourceInfo");
        info.set_field_by_name("resource_type", Value::String("demo.v1.User".into()));
        info.set_field_by_name("resource_name", Value::String(format!("users/{id}")));
        info.set_field_by_name("description", Value::String("no user has this id".into()));
        to_tonic(&Status::not_found(format!("user {id} not found")).with_detail(any(&info)))
    }

    fn check_user(&self, user: &DynamicMessage) -> Result<(), tonic::Status> {
        if string(user, "name").trim().is_empty() {
            let mut violation = self.new_message("google.rpc.BadRequest.FieldViolation");
            violation.set_field_by_name("field", Value::String("user.name".into()));
            violation.set_field_by_name("description", Value::String("a user needs a name".into()));
            let mut bad = self.new_message("google.rpc.BadRequest");
            bad.set_field_by_name(
                "field_violations",
                Value::List(vec![Value::Message(violation)]),
            );
            return Err(to_tonic(
                &Status::invalid_argument("user.name must not be empty").with_detail(any(&bad)),
            ));
        }
        Ok(())
    }

    fn create(&self, mut user: DynamicMessage) -> Result<DynamicMessage, tonic::Status> {
        self.check_user(&user)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        user.set_field_by_name("id", Value::I64(id));
        user.set_field_by_name(
            "created_at",
            Value::Message(self.timestamp(SystemTime::now())),
        );
        self.users().insert(id, user.clone());
        Ok(user)
    }

    fn timestamp(&self, at: SystemTime) -> DynamicMessage {
        let since = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut ts = self.new_message("google.protobuf.Timestamp");
        ts.set_field_by_name("seconds", Value::I64(since.as_secs() as i64));
        ts.set_field_by_name("nanos", Value::I32(since.subsec_nanos() as i32));
        ts
    }
}

fn any(message: &DynamicMessage) -> Any {
    Any {
        type_url: format!("type.googleapis.com/{}", message.descriptor().full_name()),
        value: message.encode_to_vec(),
    }
}

fn int64(m: &DynamicMessage, field: &str) -> i64 {
    m.get_field_by_name(field)
        .and_then(|v| v.as_i64())
        .unwrap_or_default()
}

fn int32(m: &DynamicMessage, field: &str) -> i32 {
    m.get_field_by_name(field)
        .and_then(|v| v.as_i32().or_else(|| v.as_enum_number()))
        .unwrap_or_default()
}

fn string(m: &DynamicMessage, field: &str) -> String {
    m.get_field_by_name(field)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn message(m: &DynamicMessage, field: &str) -> Option<DynamicMessage> {
    m.has_field_by_name(field)
        .then(|| m.get_field_by_name(field))
        .flatten()
        .and_then(|v| v.as_message().cloned())
}

type Reply = Result<tonic::Response<ResponseStream>, tonic::Status>;

/// The demo's gRPC handler.
struct DemoHandler(Arc<DemoState>);

impl Handler for DemoHandler {
    fn call(
        &self,
        method: MethodDescriptor,
        request: Request<Streaming<DynamicMessage>>,
    ) -> BoxFuture<'static, Reply> {
        let state = self.0.clone();
        async move {
            let received = received_metadata(request.metadata());
            let mut input = request.into_inner();
            let mut reply = match method.name() {
                "UploadUsers" => state.upload(&mut input).await,
                "Chat" => Ok(state.chat(input)),
                name => {
                    let first = input
                        .message()
                        .await?
                        .ok_or_else(|| tonic::Status::invalid_argument("no request message"))?;
                    state.single_request(name, first).await
                }
            }?;
            if let Ok(value) = MetadataValue::try_from(received) {
                reply.metadata_mut().insert("x-received-metadata", value);
            }
            Ok(reply)
        }
        .boxed()
    }
}

/// The names of the request metadata the demo received, so that forwarding can be seen.
fn received_metadata(metadata: &MetadataMap) -> String {
    let mut names: Vec<String> = metadata
        .keys()
        .map(|k| match k {
            tonic::metadata::KeyRef::Ascii(k) => k.as_str().to_owned(),
            tonic::metadata::KeyRef::Binary(k) => k.as_str().to_owned(),
        })
        .filter(|k| {
            !matches!(
                k.as_str(),
                "te" | "content-type"
                    | "user-agent"
                    | "grpc-timeout"
                    | "grpc-accept-encoding"
                    | "grpc-encoding"
            )
        })
        .collect();
    names.sort();
    names.join(",")
}

fn one(message: DynamicMessage) -> Reply {
    Ok(server::single(message))
}

impl DemoState {
    async fn single_request(self: Arc<Self>, method: &str, request: DynamicMessage) -> Reply {
        match method {
            "GetUser" => {
                let id = int64(&request, "id");
                let user = self.users().get(&id).cloned();
                user.map(one).unwrap_or_else(|| Err(self.not_found(id)))
            }
            "ListUsers" => self.list(&request),
            "CreateUser" => {
                let user =
                    message(&request, "user").unwrap_or_else(|| self.new_message("demo.v1.User"));
                one(self.create(user)?)
            }
            "UpdateUser" => self.update(&request),
            "DeleteUser" => {
                let id = int64(&request, "id");
                match self.users().remove(&id) {
                    Some(_) => one(self.new_message("google.protobuf.Empty")),
                    None => Err(self.not_found(id)),
                }
            }
            "GetAvatar" => {
                let id = int64(&request, "id");
                let name = self
                    .users()
                    .get(&id)
                    .map(|u| string(u, "name"))
                    .ok_or_else(|| self.not_found(id))?;
                let initial = name.chars().next().unwrap_or('?');
                let svg = format!(
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\"><circle cx=\"32\" cy=\"32\" r=\"32\" fill=\"#4a6\"/><text x=\"32\" y=\"42\" font-size=\"28\" text-anchor=\"middle\" fill=\"#fff\">{initial}</text></svg>"
                );
                let mut body = self.new_message("google.api.HttpBody");
                body.set_field_by_name("content_type", Value::String("image/svg+xml".into()));
                body.set_field_by_name("data", Value::Bytes(svg.into()));
                one(body)
            }
            "SetAvatar" => {
                let id = int64(&request, "id");
                let image = message(&request, "image")
                    .unwrap_or_else(|| self.new_message("google.api.HttpBody"));
                let mut users = self.users();
                let user = users.get_mut(&id).ok_or_else(|| self.not_found(id))?;
                user.set_field_by_name(
                    "avatar",
                    image
                        .get_field_by_name("data")
                        .map(|v| v.into_owned())
                        .unwrap_or(Value::Bytes(Default::default())),
                );
                one(self.new_message("google.protobuf.Empty"))
            }
            "ExportUsers" => {
                let role = int32(&request, "role");
                let mut lines = vec!["id,name,email\n".to_owned()];
                lines.extend(
                    self.users()
                        .values()
                        .filter(|u| role == 0 || int32(u, "role") == role)
                        .map(|u| {
                            format!(
                                "{},{},{}\n",
                                int64(u, "id"),
                                string(u, "name"),
                                string(u, "email")
                            )
                        }),
                );
                let state = self.clone();
                let chunks = futures::stream::iter(lines).map(move |line| {
                    let mut chunk = state.new_message("google.api.HttpBody");
                    chunk.set_field_by_name("content_type", Value::String("text/csv".into()));
                    chunk.set_field_by_name("data", Value::Bytes(line.into()));
                    Ok(chunk)
                });
                Ok(tonic::Response::new(chunks.boxed()))
            }
            "Sleep" => {
                let duration = message(&request, "duration")
                    .map(|d| {
                        Duration::new(
                            int64(&d, "seconds").max(0) as u64,
                            int32(&d, "nanos").max(0) as u32,
                        )
                    })
                    .unwrap_or_default();
                let guard = CancelGuard {
                    state: self.clone(),
                    finished: false,
                };
                tokio::time::sleep(duration.min(Duration::from_secs(60))).await;
                guard.finish();
                one(self.new_message("google.protobuf.Empty"))
            }
            other => Err(tonic::Status::unimplemented(format!(
                "the demo has no method {other}"
            ))),
        }
    }

    fn list(self: Arc<Self>, request: &DynamicMessage) -> Reply {
        if int32(request, "page_size") < 0 {
            return Err(to_tonic(&Status::invalid_argument(
                "page_size must not be negative",
            )));
        }
        let role = int32(request, "role");
        let page_size = int32(request, "page_size").max(0) as usize;
        let interval = Duration::from_millis(int32(request, "interval_ms").clamp(0, 10_000) as u64);
        let fail_after = int32(request, "fail_after").max(0) as usize;
        let mut users: Vec<DynamicMessage> = self
            .users()
            .values()
            .filter(|u| role == 0 || int32(u, "role") == role)
            .cloned()
            .collect();
        if page_size > 0 {
            users.truncate(page_size);
        }
        let guard = CancelGuard {
            state: self.clone(),
            finished: false,
        };
        let stream = futures::stream::unfold(
            (users.into_iter().enumerate(), guard),
            move |(mut users, mut guard)| async move {
                let Some((i, user)) = users.next() else {
                    guard.finish();
                    return None;
                };
                if fail_after > 0 && i == fail_after {
                    guard.finished = true;
                    return Some((
                        Err(tonic::Status::aborted(format!(
                            "stopped after {fail_after} users, as asked"
                        ))),
                        (users, guard),
                    ));
                }
                if i > 0 && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                Some((Ok(user), (users, guard)))
            },
        )
        .take_while({
            let mut failed = false;
            move |item| {
                let go = !failed;
                failed |= item.is_err();
                futures::future::ready(go)
            }
        });
        Ok(tonic::Response::new(stream.boxed()))
    }

    fn update(&self, request: &DynamicMessage) -> Reply {
        let patch = message(request, "user").unwrap_or_else(|| self.new_message("demo.v1.User"));
        let id = int64(&patch, "id");
        let mask: Vec<String> = message(request, "update_mask")
            .and_then(|m| m.get_field_by_name("paths").map(|v| v.into_owned()))
            .and_then(|v| {
                v.as_list().map(|l| {
                    l.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        let mut users = self.users();
        let user = users.get_mut(&id).ok_or_else(|| self.not_found(id))?;
        for field in patch.descriptor().fields() {
            let named = mask.is_empty() && patch.has_field(&field)
                || mask.iter().any(|p| p == field.name());
            if named && field.name() != "id" {
                user.set_field(&field, patch.get_field(&field).into_owned());
            }
        }
        self.check_user(user)?;
        one(user.clone())
    }

    async fn upload(&self, input: &mut Streaming<DynamicMessage>) -> Reply {
        let mut ids = Vec::new();
        while let Some(request) = input.message().await? {
            let user =
                message(&request, "user").unwrap_or_else(|| self.new_message("demo.v1.User"));
            ids.push(Value::I64(int64(&self.create(user)?, "id")));
        }
        let mut summary = self.new_message("demo.v1.UploadUsersResponse");
        summary.set_field_by_name("created", Value::I32(ids.len() as i32));
        summary.set_field_by_name("ids", Value::List(ids));
        one(summary)
    }

    fn chat(self: &Arc<Self>, input: Streaming<DynamicMessage>) -> tonic::Response<ResponseStream> {
        let state = self.clone();
        let replies = input.map(move |item| {
            let said = item?;
            let mut reply = state.new_message("demo.v1.ChatMessage");
            reply.set_field_by_name("from", Value::String("rosetta-demo".into()));
            reply.set_field_by_name("text", Value::String(string(&said, "text").to_uppercase()));
            reply.set_field_by_name(
                "sent_at",
                Value::Message(state.timestamp(SystemTime::now())),
            );
            Ok(reply)
        });
        tonic::Response::new(replies.boxed())
    }
}

/// Counts a call as cancelled when it is dropped before it finished.
struct CancelGuard {
    state: Arc<DemoState>,
    finished: bool,
}

impl CancelGuard {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.state.cancelled_calls.fetch_add(1, Ordering::SeqCst);
        }
    }
}
