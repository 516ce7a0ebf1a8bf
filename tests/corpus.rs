//! The grpc-gateway example protos (tests/corpus/grpc-gateway, BSD-3-Clause): every file loads,
//! every annotated method gets its routes, and a_bit_of_everything's paths transcode correctly
//! against a real gRPC backend.

mod common;

use std::path::Path;

use serde_json::{json, Value};

fn proto_files() -> Vec<String> {
    let root = common::corpus_dir();
    let mut out = Vec::new();
    let mut dirs = vec![root.join("examples")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                out.push(
                    path.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

/// The services declared in one corpus file.
fn services_of(file: &str) -> Vec<String> {
    let compiled = common::compile_corpus_file(file)
        .unwrap_or_else(|diags| panic!("{file} does not compile:\n{}", diags.render()));
    let file = compiled.pool.get_file_by_name(file).unwrap();
    file.services().map(|s| s.full_name().to_owned()).collect()
}

fn gateway_dir(file: &str, services: &[String], backend: &str) -> tempfile::TempDir {
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}]\nmappings: [mappings]\n",
        common::corpus_dir().display()
    );
    let mapping = format!(
        "version: 1\nfrontend: rest\nbackend:\n  address: http://{backend}\nschemas: [{file}]\nservices: [{}]\n",
        services.join(", ")
    );
    common::write_files(&[("gateway.yaml", &gateway), ("mappings/api.yaml", &mapping)])
}

/// Files that cannot load, and the reason each gives.
const UNSUPPORTED: &[(&str, &str)] = &[(
    "examples/internal/proto/examplepb/opaque.proto",
    "protobuf editions (`edition = \"2023\"`) are not supported yet",
)];

#[test]
fn editions_files_are_refused_with_a_clear_reason() {
    for (file, reason) in UNSUPPORTED {
        let Err(diags) = common::compile_corpus_file(file) else {
            panic!("{file} compiled");
        };
        let rendered = diags.render();
        assert!(rendered.contains(reason), "{rendered}");
        assert!(rendered.contains("opaque.proto:1:1"), "{rendered}");
    }
}

#[tokio::test]
async fn every_corpus_file_loads_with_routes_for_every_method() {
    let mut failures = Vec::new();
    let mut table = String::new();
    for file in proto_files() {
        if UNSUPPORTED.iter().any(|(f, _)| *f == file) {
            continue;
        }
        let services = services_of(&file);
        if services.is_empty() {
            continue;
        }
        let dir = gateway_dir(&file, &services, "127.0.0.1:9");
        match common::load(dir.path(), common::vars(&[])) {
            Err(diags) => failures.push(format!("{file}:\n{}", diags.render())),
            Ok(gateway) => {
                table.push_str(&format!("# {file}\n"));
                let routes = gateway.rest.routes();
                for route in routes {
                    table.push_str(&format!(
                        "{} -> {}\n",
                        route.describe(),
                        route.operation.full_name()
                    ));
                }
                // Every method of every service is reachable by at least one route.
                for service in &services {
                    let service = gateway.pool.get_service_by_name(service).unwrap();
                    for method in service.methods() {
                        assert!(
                            routes
                                .iter()
                                .any(|r| r.operation.full_name() == method.full_name()),
                            "{} has no route",
                            method.full_name()
                        );
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "corpus files that failed to load:\n{}",
        failures.join("\n")
    );
    insta::assert_snapshot!("corpus_route_tables", table);
}

const ABE: &str = "examples/internal/proto/examplepb/a_bit_of_everything.proto";
const ABE_SERVICE: &str = "grpc.gateway.examples.internal.proto.examplepb.ABitOfEverythingService";

struct AbeGateway {
    _echo: common::EchoGrpc,
    gateway: common::RunningGateway,
    _dir: tempfile::TempDir,
}

async fn abe() -> AbeGateway {
    let dir = gateway_dir(ABE, &[ABE_SERVICE.to_owned()], "127.0.0.1:9");
    let gateway =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    let echo = common::start_echo(&gateway.pool).await;
    let dir = gateway_dir(ABE, &[ABE_SERVICE.to_owned()], &echo.addr.to_string());
    let gateway =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    AbeGateway {
        _echo: echo,
        gateway: common::serve(gateway).await,
        _dir: dir,
    }
}

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_bit_of_everything_path_variables_of_every_type() {
    let abe = abe().await;
    let path = "/v1/example/a_bit_of_everything/1.5/2.5/-9007199254740993/separator/18446744073709551615/-7/42/7/true/strprefix/hello%2Fworld/4294967295/-32/-64/-3/-9223372036854775808/odd/ONE/DEF/JKL/1";
    let (status, body) = call(reqwest::Method::POST, abe.gateway.url(path), None).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("abe_create_path_bindings", body);
}

#[tokio::test]
async fn a_bit_of_everything_verbs_queries_and_bodies() {
    let abe = abe().await;
    let url = |p: &str| abe.gateway.url(p);
    // Custom verbs, including one that contains a colon.
    let (status, body) = call(
        reqwest::Method::POST,
        url("/v1/example/a_bit_of_everything/u1:custom"),
        None,
    )
    .await;
    assert_eq!((status, &body["uuid"]), (200, &json!("u1")));
    let (status, body) = call(
        reqwest::Method::POST,
        url("/v1/example/a_bit_of_everything/u2:custom:custom"),
        None,
    )
    .await;
    assert_eq!((status, &body["uuid"]), (200, &json!("u2")));
    // A registered verb is split off for every method, as the reference transcoder does: a
    // GET of it is refused, not served by `GET .../{uuid}` with `u1:custom` as the uuid.
    let response = reqwest::get(url("/v1/example/a_bit_of_everything/u1:custom"))
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    // Query parameters: nested, repeated, enums by name and number, well-known types, maps.
    let query = "single_nested.amount=7&single_nested.ok=TRUE&repeated_string_value=a&repeated_string_value=b%20c\
        &enum_value=1&timestamp_value=2024-05-06T07:08:09Z&mapped_string_value[k1]=v1\
        &mapped_string_value[k2]=v+2&string_value=x%2By&uint64_value=18446744073709551615&bytes_value=AAEC\
        &repeated_enum_value=ZERO&repeated_enum_value=1";
    let (status, body) = call(
        reqwest::Method::GET,
        url(&format!(
            "/v1/example/a_bit_of_everything/params/get/nested%20name?{query}"
        )),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!("abe_query_parameters", body);
    // Body into a field, query into the rest.
    let (status, body) = call(
        reqwest::Method::POST,
        url("/v1/example/a_bit_of_everything/params/post/from-path?int32_value=5"),
        Some(json!({"name": "n", "amount": 3})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stringValue"], json!("from-path"));
    assert_eq!(body["int32Value"], json!(5));
    assert_eq!(body["singleNested"], json!({"name": "n", "amount": 3}));
    // Body `*` with a path variable inside a nested message.
    let (status, body) = call(
        reqwest::Method::POST,
        url("/v1/example/deep_path/deep"),
        Some(json!({"singleNested": {"name": "deep", "amount": 1}, "int64Value": "12"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["singleNested"], json!({"name": "deep", "amount": 1}));
    assert_eq!(body["int64Value"], json!("12"));
    // The same field set differently by path and body is refused.
    let (status, body) = call(
        reqwest::Method::POST,
        url("/v1/example/deep_path/deep"),
        Some(json!({"singleNested": {"name": "other"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        json!("field `single_nested.name` is set by the path and, differently, by the body")
    );
    // Repeated path variables take comma-separated values.
    let (status, body) = call(
        reqwest::Method::GET,
        url("/v1/example/a_bit_of_everything_repeated/1.5,2/3/4,5/6/7/8/9/true,false/a,b/AAE=/10/ONE,ZERO/11/12/13/14"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pathRepeatedStringValue"], json!(["a", "b"]));
    assert_eq!(body["pathRepeatedBoolValue"], json!([true, false]));
    assert_eq!(body["pathRepeatedEnumValue"], json!(["ONE", "ZERO"]));
    assert_eq!(body["pathRepeatedInt64Value"], json!(["4", "5"]));
    // A nested body field (`payload.input_value`).
    let (status, body) = call(
        reqwest::Method::POST,
        url("/v1/example/a_bit_of_everything/nested_body_oneof"),
        Some(json!("in")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn corpus_is_the_repository_copy() {
    assert!(Path::new(&common::corpus_dir()).join("LICENSE").exists());
}
