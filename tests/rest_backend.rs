//! The REST/JSON backend against a real HTTP JSON service on loopback (axum): the same
//! `google.api.http` rules the REST frontend serves, read in reverse, behind the gRPC, GraphQL
//! and REST frontends; HTTP errors by meaning; rules in the mapping that rewrite paths.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

/// What the service was asked, last request first.
type Seen = Arc<Mutex<Vec<String>>>;

fn user(id: &str) -> Value {
    json!({"id": id, "name": "Ada", "role": "ROLE_ADMIN", "tags": ["math"], "createdAt": "2024-01-01T00:00:00Z"})
}

async fn start_service(seen: Seen) -> std::net::SocketAddr {
    async fn get_user(
        State(seen): State<Seen>,
        uri: Uri,
        Path(id): Path<String>,
    ) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
        seen.lock().unwrap().push(format!("GET {uri}"));
        match id.as_str() {
            "1" | "9007199254740993" => Ok(Json(user(&id))),
            _ => Err((
                StatusCode::NOT_FOUND,
                Json(json!({"code": 5, "message": format!("no user {id}"), "details": []})),
            )),
        }
    }
    async fn list_users(State(seen): State<Seen>, uri: Uri) -> String {
        seen.lock().unwrap().push(format!("GET {uri}"));
        format!("{}\n{}\n", user("1"), user("2"))
    }
    async fn create_user(
        State(seen): State<Seen>,
        uri: Uri,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        seen.lock().unwrap().push(format!("POST {uri} {body}"));
        let mut created = body;
        created["id"] = json!("1000");
        Json(created)
    }
    async fn broken(State(seen): State<Seen>, uri: Uri) -> (StatusCode, &'static str) {
        seen.lock().unwrap().push(format!("GET {uri}"));
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Traceback: db at 10.0.0.7 refused",
        )
    }
    async fn whoami(
        State(seen): State<Seen>,
        uri: Uri,
        headers: axum::http::HeaderMap,
    ) -> Json<Value> {
        let id = headers
            .get("x-user-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        seen.lock()
            .unwrap()
            .push(format!("GET {uri} x-user-id={id}"));
        Json(user(&id))
    }
    let app = axum::Router::new()
        .route("/api/whoami", get(whoami))
        .route("/api/v1/users/{id}", get(get_user))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/people/{id}", get(get_user))
        .route("/api/broken/{id}", get(broken))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

struct Setup {
    gateway: common::RunningGateway,
    seen: Seen,
    _dir: tempfile::TempDir,
}

/// A gateway with the peers' users.proto served over gRPC, GraphQL and REST, every mapping
/// calling the HTTP service (whose API lives under /api).
async fn setup() -> Setup {
    let seen: Seen = Arc::default();
    let addr = start_service(seen.clone()).await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/tests/peers/proto]\nbackends:\n  users-api:\n    protocol: rest\n    address: http://{addr}/api\n    timeout: 5s\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = |frontend: &str, extra: &str| {
        format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: users-api\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n{extra}")
    };
    // REST -> REST: the frontend's routes are the annotations; the backend's paths differ.
    let rewritten = "version: 1\nfrontend: rest\nbackend:\n  use: users-api\n  rules:\n    - selector: Users.GetUser\n      get: /people/{id}\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\nrules:\n  - selector: Users.GetUser\n    get: /v2/people/{id}\n  - selector: Users.ListUsers\n    get: /v2/people\n  - selector: Users.CreateUser\n    post: /v2/people\n    body: user\n";
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/grpc.yaml", &mapping("grpc", "")),
        ("mappings/graphql.yaml", &mapping("graphql", "")),
        ("mappings/rest.yaml", &mapping("rest", "")),
        ("mappings/rewritten.yaml", rewritten),
    ]);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    Setup {
        gateway: common::serve(loaded).await,
        seen,
        _dir: dir,
    }
}

fn last(seen: &Seen) -> String {
    seen.lock().unwrap().last().cloned().unwrap_or_default()
}

#[tokio::test]
async fn grpc_in_front_of_a_rest_api() {
    let setup = setup().await;
    let pool = setup.gateway.gateway.pool.clone();
    let get = pool
        .get_service_by_name("demo.v1.Users")
        .unwrap()
        .methods()
        .find(|m| m.name() == "GetUser")
        .unwrap();
    let base = setup.gateway.base.clone();
    let call = |id: &str| common::grpc_unary(&base, &get, json!({"id": id}));
    let user = call("9007199254740993").await.unwrap();
    assert_eq!(
        serde_json::to_value(&user).unwrap()["id"],
        "9007199254740993"
    );
    assert_eq!(last(&setup.seen), "GET /api/v1/users/9007199254740993");
    let status = call("7").await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::NotFound, "no user 7")
    );
}

#[tokio::test]
async fn graphql_in_front_of_a_rest_api() {
    let setup = setup().await;
    let body: Value = reqwest::Client::new()
        .post(setup.gateway.url("/graphql"))
        .json(&json!({"query": r#"mutation { createUser(user: {name: "Grace", tags: ["navy"], role: ROLE_USER}) { id name tags role } }"#}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({"data": {"createUser": {"id": "1000", "name": "Grace", "tags": ["navy"], "role": "ROLE_USER"}}})
    );
    // The body is the `user` field; int64 as a string, enums by name (proto3 JSON).
    assert_eq!(
        last(&setup.seen),
        r#"POST /api/v1/users {"name":"Grace","role":"ROLE_USER","tags":["navy"]}"#
    );
}

#[tokio::test]
async fn rest_in_front_of_a_rest_api_with_rewritten_paths() {
    let setup = setup().await;
    let client = reqwest::Client::new();
    let response = client
        .get(setup.gateway.url("/v2/people/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["name"], "Ada");
    assert_eq!(last(&setup.seen), "GET /api/people/1");
    // Fields not in the path or body are query parameters, by their JSON names.
    let response = client
        .get(setup.gateway.url("/v2/people?page_size=2&role=ROLE_ADMIN"))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_eq!(
        last(&setup.seen),
        "GET /api/v1/users?pageSize=2&role=ROLE_ADMIN"
    );
    // Errors by meaning; a body that is not a status is not passed on.
    let response = client
        .get(setup.gateway.url("/v1/users/8"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "no user 8"
    );
}

#[tokio::test]
async fn backend_internals_stay_out_of_error_messages() {
    let seen: Seen = Arc::default();
    let addr = start_service(seen.clone()).await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/tests/peers/proto]\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = format!("version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://{addr}/api\n  rules:\n    - selector: Users.GetUser\n      get: /broken/{{id}}\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n");
    let dir = common::write_files(&[("gateway.yaml", &gateway), ("mappings/m.yaml", &mapping)]);
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
    let response = reqwest::get(gateway.url("/v1/users/1")).await.unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["message"],
        "the backend answered 500 Internal Server Error"
    );
    assert_eq!(last(&seen), "GET /api/broken/1");
}

#[tokio::test]
async fn backend_rules_can_send_fields_as_headers() {
    let seen: Seen = Arc::default();
    let addr = start_service(seen.clone()).await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/tests/peers/proto]\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = format!("version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://{addr}/api\n  rules:\n    - selector: Users.GetUser\n      get: /whoami\n      headers:\n        x-user-id: id\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n");
    let dir = common::write_files(&[("gateway.yaml", &gateway), ("mappings/m.yaml", &mapping)]);
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
    let user: Value = reqwest::get(gateway.url("/v1/users/42"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["id"], "42");
    // The field went as a header, not as a query parameter.
    assert_eq!(last(&seen), "GET /api/whoami x-user-id=42");
    // In the frontend's rules, `headers` is refused.
    let frontend = "version: 1\nfrontend: rest\nbackend:\n  address: http://127.0.0.1:9\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\nrules:\n  - selector: Users.GetUser\n    get: /me\n    headers:\n      x-user-id: id\n";
    let dir = common::write_files(&[
        (
            "gateway.yaml",
            &format!(
                "version: 1\nschemas:\n  include: [{}/tests/peers/proto]\n",
                env!("CARGO_MANIFEST_DIR")
            ),
        ),
        ("mappings/m.yaml", frontend),
    ]);
    let text = common::load(dir.path(), common::vars(&[]))
        .err()
        .unwrap()
        .render();
    assert!(
        text.contains("`headers` binds fields to headers in `backend.rules`"),
        "{text}"
    );
}
