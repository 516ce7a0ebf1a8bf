//! Transforms against a real backend: headers renamed and set on the way in and out, message
//! fields renamed, removed and set (nested ones made on the way) in requests and replies, on
//! REST and gRPC alike; transforms that do not fit the schema are load errors with their place.

mod common;

use common::pins::Pins;
use serde_json::{json, Value};

const TRANSFORMS: &str = r#"options:
  forward_headers: [x-org]
transforms:
  - methods: [GetThing]
    request:
      headers: {rename: {x-org: x-tenant}}
  - methods: [EchoThing]
    request:
      fields:
        rename: {word: name}
        remove: [ratio]
        set: {on: true, child.name: made, color: BLUE}
    response:
      headers: {set: {x-powered-by: rosetta}}
      fields: {rename: {name: word}, remove: [count]}
"#;

fn mapping(frontend: &str) -> String {
    format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n{TRANSFORMS}")
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_and_fields_change_on_the_way_in_and_out() {
    let pins = Pins::start_with(
        "",
        &[],
        &[
            ("rest.yaml", &mapping("rest")),
            ("grpc.yaml", &mapping("grpc")),
            ("soap.yaml", &mapping("soap")),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let response = client
        .post(pins.gateway.url("/pins.v1.Things/EchoThing"))
        .json(&json!({"word": "hello", "ratio": 0.5, "count": 3, "tags": ["kept"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A header the transforms write goes to REST clients as it is.
    assert_eq!(response.headers()["x-powered-by"], "rosetta");
    assert!(response
        .headers()
        .get("grpc-metadata-x-powered-by")
        .is_none());
    let body: Value = response.json().await.unwrap();
    // The backend echoed name (renamed from word), on, color and child.name (set), no ratio
    // (removed); the reply's name went back to word and its count was removed.
    insta::assert_json_snapshot!("echoed", body);

    // The client's x-org reaches the backend as x-tenant (GetThing of "whoami" answers with it).
    let response = client
        .post(pins.gateway.url("/pins.v1.Things/GetThing"))
        .header("x-org", "beta")
        .json(&json!({"name": "whoami"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "beta");

    // gRPC clients get the same messages.
    let reply = pins
        .grpc("EchoThing", json!({"word": "hi", "count": 3}))
        .await
        .unwrap();
    let field = |name: &str| reply.get_field_by_name(name).unwrap().into_owned();
    assert_eq!(field("word").as_str(), Some("hi"));
    assert_eq!(field("name").as_str(), Some(""));
    assert_eq!(field("count").as_i32(), Some(0));
    assert_eq!(field("on").as_bool(), Some(true));

    // And SOAP clients.
    let envelope = r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:rosetta:pins.v1.Things"><soap:Body><t:EchoThing><t:word>soapy</t:word><t:count>3</t:count></t:EchoThing></soap:Body></soap:Envelope>"#;
    let answer = client
        .post(pins.gateway.url("/soap/Things"))
        .header("content-type", "text/xml")
        .body(envelope)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        answer.contains(">soapy</") && answer.contains(">made</"),
        "{answer}"
    );
    // SOAP writes every field: the removed count is its zero value.
    assert!(
        answer.contains("<tns:count>0</tns:count><tns:on>true"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transforms_that_do_not_fit_the_schema_are_load_errors() {
    let transforms = r#"transforms:
  - methods: [NoSuchMethod]
  - methods: [EchoThing]
    request:
      headers: {set: {"bad header": x}}
      fields:
        rename: {name: count}
        remove: [child.nope, tags.x]
        set: {count: "many"}
"#;
    let text = format!("version: 1\nfrontend: rest\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n{transforms}");
    let rendered = common::pins::load_errors("", &[("rest.yaml", &text)]);
    for (place, message) in [
        ("rest.yaml:8:15", "`NoSuchMethod` names no single method"),
        ("rest.yaml:11:37", "`bad header` is not a header name"),
        (
            "rest.yaml:13:24",
            "`name` and `count` are fields of different types",
        ),
        (
            "rest.yaml:14:18",
            "`child.nope`: pins.v1.Thing has no field `nope`",
        ),
        (
            "rest.yaml:14:30",
            "`tags.x`: `tags` of pins.v1.Thing is not a message field",
        ),
        (
            "rest.yaml:15:22",
            "`count`: the value does not fit the field",
        ),
    ] {
        let at = rendered.find(message).expect(message);
        assert!(rendered[at..].contains(place), "{place}\n{rendered}");
    }
}
