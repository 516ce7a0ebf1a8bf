//! Input validation against a real backend, on the REST, gRPC and GraphQL frontends: required
//! fields (`google.api.field_behavior`), enum numbers, and a mapping's field rules; every
//! violation named in a `google.rpc.BadRequest`, the backend never called. Rules that do not
//! fit the schema are load errors with their place.

mod common;

use std::sync::atomic::Ordering;

use common::pins::Pins;
use serde_json::{json, Value};

const VALIDATION: &str = "validation:\n  rules:\n    pins.v1.Thing.name: {max_length: 8, pattern: \"[a-z ]*\"}\n    pins.v1.Thing.count: {minimum: 0, maximum: 100}\n    pins.v1.Thing.tags: {max_items: 2, min_length: 1}\n";

fn mapping(frontend: &str) -> String {
    format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n{VALIDATION}")
}

async fn pins() -> Pins {
    Pins::start_with(
        "",
        &[],
        &[
            ("rest.yaml", &mapping("rest")),
            ("grpc.yaml", &mapping("grpc")),
            ("graphql.yaml", &mapping("graphql")),
            ("soap.yaml", &mapping("soap")),
        ],
    )
    .await
}

async fn post(pins: &Pins, method: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(pins.gateway.url(&format!("/pins.v1.Things/{method}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_violation_is_named_and_the_backend_is_not_called() {
    let pins = pins().await;
    let bad = json!({
        "name": "Bad Name!",
        "count": 500,
        "tags": ["a", "", "c"],
        "color": 7,
        "child": {"color": 9, "count": -1},
    });
    let (status, body) = post(&pins, "EchoThing", bad.clone()).await;
    assert_eq!(status, 400);
    insta::assert_json_snapshot!("violations", body);
    let (status, body) = post(&pins, "BatchGetThings", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["details"][0]["fieldViolations"][0]["field"], "ids");
    assert_eq!(pins.calls.load(Ordering::SeqCst), 0);

    // Valid calls pass, unchanged.
    let good = json!({"name": "ok name", "count": 100, "tags": ["x", "y"], "color": "BLUE"});
    let (status, body) = post(&pins, "EchoThing", good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "ok name");
    let (status, _) = post(&pins, "BatchGetThings", json!({"ids": ["1"]})).await;
    assert_eq!(status, 200);
    assert_eq!(pins.calls.load(Ordering::SeqCst), 2);

    // The same checks on gRPC and GraphQL.
    let refused = pins.grpc("EchoThing", bad).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("count must be at most 100"),
        "{}",
        refused.message()
    );
    let response = reqwest::Client::new()
        .post(pins.gateway.url("/graphql"))
        .json(&json!({"query": "mutation { echoThing(name: \"UPPER\", count: 3) { name } }"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["echoThing"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_ARGUMENT");
    assert_eq!(body["errors"][0]["message"], "name must match `[a-z ]*`");
    assert_eq!(pins.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_that_do_not_fit_the_schema_are_load_errors() {
    let rules = "validation:\n  rules:\n    pins.v1.Thing.nope: {max_length: 3}\n    pins.v1.Thing.count: {pattern: \"[0-9]+\"}\n    pins.v1.Thing.name: {pattern: \"(\"}\n    pins.v1.Thing.on: {max_items: 2}\n";
    let text = format!("version: 1\nfrontend: rest\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n{rules}");
    let rendered = common::pins::load_errors("", &[("rest.yaml", &text)]);
    for (place, message) in [
        ("rest.yaml:9:25", "`pins.v1.Thing.nope` names no field"),
        (
            "rest.yaml:10:26",
            "`pins.v1.Thing.count`: lengths and patterns are for string fields",
        ),
        (
            "rest.yaml:11:25",
            "`pins.v1.Thing.name`: the pattern is not a regular expression",
        ),
        (
            "rest.yaml:12:23",
            "`pins.v1.Thing.on`: item counts are for repeated fields and maps",
        ),
    ] {
        let at = rendered.find(message).expect(message);
        assert!(rendered[at..].contains(place), "{place}\n{rendered}");
    }
}

/// A client stream is checked message by message: the first bad one ends the stream to the
/// backend, and the call answers with its violations (whatever the backend made of the
/// shortened stream).
#[tokio::test(flavor = "multi_thread")]
async fn a_client_stream_ends_at_its_first_bad_message() {
    let backend = rosetta::demo::start_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/schemas");
    let gateway_yaml = format!(
        "version: 1\nlisten: 127.0.0.1:0\nschemas:\n  include: [{}]\nbackends:\n  users:\n    protocol: grpc\n    address: http://${{USERS}}\n",
        schemas.display()
    );
    let users = "version: 1\nfrontend: rest\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\nvalidation:\n  rules:\n    demo.v1.User.name: {max_length: 3}\n";
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway_yaml),
        ("mappings/users.yaml", users),
    ]);
    let gateway = common::load(
        dir.path(),
        common::vars(&[("USERS", backend.addr.to_string())]),
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    let gateway = common::serve(gateway).await;
    let upload = |body: &'static str| {
        reqwest::Client::new()
            .post(gateway.url("/v1/users:upload"))
            .body(body)
            .send()
    };
    let response = upload("{\"user\":{\"name\":\"ann\"}}\n{\"user\":{\"name\":\"bo\"}}\n")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = upload(
        "{\"user\":{\"name\":\"cy\"}}\n{\"user\":{\"name\":\"toolong\"}}\n{\"user\":{\"name\":\"di\"}}\n",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["details"][0]["fieldViolations"][0],
        json!({"field": "user.name", "description": "must have a length of at most 3"})
    );
}
