//! Mapping options and gateway limits, each with its own configuration on disk, against the
//! demo tonic backend on loopback.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rosetta::demo;
use serde_json::{json, Value};

const PROTO: &str = include_str!("../examples/demo/schemas/demo/v1/users.proto");

struct Setup {
    gateway: common::RunningGateway,
    _backend: Option<demo::DemoGrpc>,
    _dir: tempfile::TempDir,
}

/// The demo schema, a gateway.yaml with `gateway_extra`, and one mapping with `mapping_extra`.
async fn setup(gateway_extra: &str, mapping_extra: &str) -> Setup {
    let backend = demo::start_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut setup = setup_with(&backend.addr.to_string(), gateway_extra, "", mapping_extra).await;
    setup._backend = Some(backend);
    setup
}

async fn setup_with_address(address: &str, gateway_extra: &str, mapping_extra: &str) -> Setup {
    setup_with(address, gateway_extra, "", mapping_extra).await
}

/// `gateway_extra` goes into the `users` backend of gateway.yaml, `backend_extra` beside
/// `use: users` in the mapping, `mapping_extra` at the end of the mapping.
async fn setup_with(
    address: &str,
    gateway_extra: &str,
    backend_extra: &str,
    mapping_extra: &str,
) -> Setup {
    let gateway_yaml = format!(
        "version: 1\nbackends:\n  users:\n    protocol: grpc\n    address: http://${{DEMO}}\n{gateway_extra}"
    );
    let mapping_yaml = format!(
        "version: 1\nfrontend: rest\nbackend:\n  use: users\n{backend_extra}schemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n{mapping_extra}"
    );
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway_yaml),
        ("mappings/users.yaml", &mapping_yaml),
        ("schemas/demo/v1/users.proto", PROTO),
    ]);
    let vars = common::vars(&[("DEMO", address.to_owned())]);
    let gateway = common::load(dir.path(), vars).unwrap_or_else(|d| panic!("{}", d.render()));
    Setup {
        gateway: common::serve(gateway).await,
        _backend: None,
        _dir: dir,
    }
}

async fn call(request: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn json_options() {
    let s = setup(
        "",
        "options:\n  proto_field_names: true\n  emit_defaults: true\n  enums_as_numbers: true\n",
    )
    .await;
    let (status, body, _) = call(client().get(s.gateway.url("/v1/users/4"))).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("user_4_proto_names_defaults_enum_numbers", body);
}

#[tokio::test]
async fn strict_mapping_refuses_unknown_fields() {
    let s = setup("", "options:\n  strict: true\n").await;
    let (status, body, _) = call(
        client()
            .post(s.gateway.url("/v1/users"))
            .body(r#"{"name":"x","shoeSize":44}"#),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        json!("invalid JSON body: unrecognized field name 'shoeSize' at line 1 column 22")
    );
}

#[tokio::test]
async fn unknown_query_parameters_can_be_ignored() {
    let s = setup("", "options:\n  ignore_unknown_query_params: true\n").await;
    let (status, body, _) =
        call(client().get(s.gateway.url("/v1/users/1?utm_source=mail&id=9"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], json!("1"));
}

#[tokio::test]
async fn rules_override_annotations_and_select_the_response_body() {
    let rules = r#"rules:
  - selector: demo.v1.Users.GetUser
    get: /v2/users/{id}/tags
    response_body: tags
    additional_bindings:
      - get: /v2/users/{id}
  - selector: demo.v1.Users.ListUsers
    mode: add
    get: /v2/admins
"#;
    let s = setup("", rules).await;
    let (status, body, _) = call(client().get(s.gateway.url("/v2/users/1/tags"))).await;
    assert_eq!((status.as_u16(), body), (200, json!(["math", "poetry"])));
    let (status, body, _) = call(client().get(s.gateway.url("/v2/users/1"))).await;
    assert_eq!(
        (status.as_u16(), &body["name"]),
        (200, &json!("Ada Lovelace"))
    );
    // `replace` (the default) took the annotation's route away (PATCH and DELETE remain);
    // `add` kept it.
    let (status, _, headers) = call(client().get(s.gateway.url("/v1/users/1"))).await;
    assert_eq!(
        (status.as_u16(), headers["allow"].to_str().unwrap()),
        (405, "DELETE, PATCH")
    );
    let (status, _, _) = call(client().get(s.gateway.url("/v1/users"))).await;
    assert_eq!(status, 200);
    let (status, body, _) = call(client().get(s.gateway.url("/v2/admins?role=ROLE_ADMIN"))).await;
    assert_eq!(
        (status.as_u16(), body.as_array().map(Vec::len)),
        (200, Some(2))
    );
}

const UNANNOTATED: &str = "syntax = \"proto3\";
package t.v1;
message Note { string text = 1; int64 at = 2; }
service Notes { rpc Echo(Note) returns (Note); }
";

fn unannotated_dir(address: &str, auto_routes: bool) -> tempfile::TempDir {
    let mapping = format!(
        "version: 1\nfrontend: rest\nbackend:\n  address: http://{address}\nschemas: [t.proto]\nservices: [t.v1.Notes]\noptions:\n  auto_routes: {auto_routes}\n"
    );
    common::write_files(&[
        ("gateway.yaml", "version: 1\n"),
        ("mappings/notes.yaml", &mapping),
        ("schemas/t.proto", UNANNOTATED),
    ])
}

#[tokio::test]
async fn a_client_stream_rule_without_body_reads_the_messages_from_the_body() {
    let s = setup(
        "",
        "rules:\n  - selector: demo.v1.Users.UploadUsers\n    post: /v2/upload\n",
    )
    .await;
    let (status, body, _) = call(
        client()
            .post(s.gateway.url("/v2/upload"))
            .body("{\"user\":{\"name\":\"a\"}}\n{\"user\":{\"name\":\"b\"}}\n"),
    )
    .await;
    assert_eq!((status.as_u16(), &body["created"]), (200, &json!(2)));
}

#[tokio::test]
async fn methods_without_rules_get_automatic_routes() {
    let probe = common::load(
        unannotated_dir("127.0.0.1:9", true).path(),
        common::vars(&[]),
    )
    .unwrap();
    let echo = common::start_echo(&probe.pool).await;
    let dir = unannotated_dir(&echo.addr.to_string(), true);
    let gateway = common::serve(common::load(dir.path(), common::vars(&[])).unwrap()).await;
    let (status, body, _) = call(
        client()
            .post(gateway.url("/t.v1.Notes/Echo"))
            .body(r#"{"text":"hi","at":5}"#),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"text": "hi", "at": "5"}))
    );
    // Switched off, the method has no route at all.
    let dir = unannotated_dir(&echo.addr.to_string(), false);
    let gateway = common::serve(common::load(dir.path(), common::vars(&[])).unwrap()).await;
    assert!(gateway.gateway.rest.routes().is_empty());
    let (status, _, _) = call(client().post(gateway.url("/t.v1.Notes/Echo")).body("{}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn binary_descriptor_sets_are_schemas_too() {
    // A descriptor set as `protoc --include_imports -o users.pb` writes it, options included.
    let set = demo::pool().encode_to_vec();
    let backend = demo::start_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mapping = format!(
        "version: 1\nfrontend: rest\nbackend:\n  address: http://{}\nschemas: [users.pb]\nservices: [demo.v1.Users]\n",
        backend.addr
    );
    let dir = common::write_files(&[
        ("gateway.yaml", "version: 1\n"),
        ("mappings/users.yaml", &mapping),
    ]);
    std::fs::write(dir.path().join("mappings/users.pb"), set).unwrap();
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
    let (status, body, _) = call(client().get(gateway.url("/v1/users/2"))).await;
    assert_eq!(
        (status.as_u16(), &body["name"]),
        (200, &json!("Alan Turing"))
    );
    // A file that is not a descriptor set is an error at the mapping entry.
    std::fs::write(dir.path().join("mappings/users.pb"), b"not protobuf").unwrap();
    let diags = match common::load(dir.path(), common::vars(&[])) {
        Ok(_) => panic!("should not load"),
        Err(d) => d,
    };
    assert_eq!(diags.items.len(), 1);
    assert!(
        diags.items[0]
            .message
            .starts_with("cannot read descriptor set `users.pb`"),
        "{:?}",
        diags.items
    );
    assert_eq!((diags.items[0].line, diags.items[0].column), (5, 11));
}

#[tokio::test]
async fn forward_headers_allow_list() {
    let s = setup("", "options:\n  forward_headers: [x-tenant]\n").await;
    let (status, _, headers) = call(
        client()
            .get(s.gateway.url("/v1/users/1"))
            .header("x-tenant", "acme")
            .header("authorization", "Bearer not-in-this-list"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["grpc-metadata-x-received-metadata"], "x-tenant");
}

#[tokio::test]
async fn request_body_limit() {
    let s = setup("limits:\n  max_body_size: 1KiB\n", "").await;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(2000));
    let (status, body, headers) =
        call(client().post(s.gateway.url("/v1/users")).body(big.clone())).await;
    assert_eq!(status, 413);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body,
        json!({"code": 8, "message": "request body is larger than the limit of 1024 bytes", "details": []})
    );
    // Chunked, with no length announced: refused once the limit is crossed.
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(100)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let (status, body, _) = call(
        client()
            .post(s.gateway.url("/v1/users"))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks))),
    )
    .await;
    assert_eq!((status.as_u16(), &body["code"]), (413, &json!(8)));
    // Under the limit is fine.
    let (status, _, _) = call(
        client()
            .post(s.gateway.url("/v1/users"))
            .body(r#"{"name":"small"}"#),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn route_timeouts() {
    let rules =
        "rules:\n  - selector: demo.v1.Users.Sleep\n    get: /v1/sleep\n    timeout: 150ms\n";
    let s = setup("", rules).await;
    let started = Instant::now();
    let (status, body, _) = call(client().get(s.gateway.url("/v1/sleep?duration=3s"))).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            504,
            json!({"code": 4, "message": "deadline exceeded", "details": []})
        )
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // A shorter grpc-timeout from the client wins over the route's.
    let (status, _, _) = call(
        client()
            .get(s.gateway.url("/v1/sleep?duration=0.1s"))
            .header("grpc-timeout", "5S"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_named_backends_timeout_is_the_default_deadline() {
    let s = setup("    timeout: 150ms\n", "").await;
    let started = Instant::now();
    let (status, _, _) = call(client().get(s.gateway.url("/v1/sleep?duration=3s"))).await;
    assert_eq!(status, 504);
    assert!(started.elapsed() < Duration::from_secs(2));
    // The mapping's own backend timeout overrides it.
    let backend = demo::start_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut s = setup_with(
        &backend.addr.to_string(),
        "    timeout: 100ms\n",
        "  timeout: 5s\n",
        "",
    )
    .await;
    s._backend = Some(backend);
    let (status, _, _) = call(client().get(s.gateway.url("/v1/sleep?duration=0.3s"))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn backend_down_is_503_without_internal_details() {
    // Port 9 (discard) on loopback: nothing listens there.
    let s = setup_with_address("127.0.0.1:9", "", "").await;
    let (status, body, _) = call(client().get(s.gateway.url("/v1/users/1"))).await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({"code": 14, "message": "the backend is unavailable", "details": []})
    );
    let (status, _, _) = call(
        client()
            .get(s.gateway.url("/v1/users"))
            .header("accept", "application/x-ndjson"),
    )
    .await;
    assert_eq!(status, 503);
}
