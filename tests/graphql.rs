//! The GraphQL frontend against real servers: a scripted tonic backend for the cases section 4
//! pins down, the demo gRPC and SOAP backends, and the generated SDL of the demo, of
//! grpc-gateway's a_bit_of_everything and of a WSDL, snapshotted.

mod common;

use std::sync::atomic::Ordering;

use common::pins::{things_config, Pins};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const MAPPING: &str = r#"
version: 1
frontend: graphql
backend:
  use: things
schemas: [pins.proto]
services: [pins.v1.Things]
options:
  forward_headers: [x-tenant]
graphql:
  max_aliases: 3
  methods:
    Things.GetThing:
      field_mask: read_mask
    Things.ListThings:
      root: query
  joins:
    # One batch call for all the things of a request, matched by id.
    - on: pins_v1_Thing
      field: twinByBatch
      batch:
        method: Things.BatchGetThings
        keys: ids
        from: id
        items: things
        key: id
    # One call per thing.
    - on: pins_v1_Thing
      field: twinByCall
      method: Things.GetThing
      arguments:
        id: id
"#;

/// Loads a `things_config` whose backend is nowhere (for what needs no call).
fn load_things(
    dir: &tempfile::TempDir,
) -> Result<rosetta::gateway::Gateway, rosetta::config::Diagnostics> {
    common::load(
        dir.path(),
        common::vars(&[("THINGS", "127.0.0.1:9".to_owned())]),
    )
}

async fn pins() -> Pins {
    Pins::start(&[("things.yaml", MAPPING)]).await
}

/// POSTs a GraphQL request; returns the HTTP status and the JSON body.
async fn post(gateway: &common::RunningGateway, body: Value) -> (u16, Value) {
    post_with(gateway, body, &[]).await
}

async fn post_with(
    gateway: &common::RunningGateway,
    body: Value,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(gateway.url("/graphql"))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn query(gateway: &common::RunningGateway, text: &str) -> Value {
    let (status, body) = post(gateway, json!({ "query": text })).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn proto3_zero_values_come_back_as_zero_values() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        "{ getThing { id name count on color ratio tags maybe word number big counts { key } child { id } } }",
    )
    .await;
    assert_eq!(
        body,
        json!({"data": {"getThing": {
            "id": "0", "name": "", "count": 0, "on": false, "color": "COLOR_UNSPECIFIED",
            "ratio": 0.0, "tags": [], "maybe": null, "word": null, "number": null, "big": 0,
            "counts": [], "child": null
        }}})
    );
}

#[tokio::test]
async fn int64_beyond_2_pow_53_round_trips_exactly_through_a_variable() {
    let pins = pins().await;
    // The variable is a JSON number that a float would round to 9007199254740992.
    let text = r#"{"query":"mutation($id: Int64, $n: Int64, $big: UInt32) { echoThing(id: $id, pick: {number: $n}, big: $big) { id number big } }","variables":{"id":9007199254740993,"n":"-9223372036854775808","big":4294967295}}"#;
    let response = reqwest::Client::new()
        .post(pins.gateway.url("/graphql"))
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"data": {"echoThing": {"id": "9007199254740993", "number": "-9223372036854775808", "big": 4294967295u32}}})
    );
    // Out of range is refused by the scalar, before any call.
    let before = pins.calls.load(Ordering::SeqCst);
    let body = query(
        &pins.gateway,
        r#"mutation { echoThing(id: "9223372036854775808") { id } }"#,
    )
    .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Int64"),
        "{body}"
    );
    assert_eq!(pins.calls.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn enum_aliases_are_accepted_and_answered_with_the_first_name() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        "mutation { echoThing(color: CRIMSON) { color } }",
    )
    .await;
    assert_eq!(body, json!({"data": {"echoThing": {"color": "RED"}}}));
    let sdl = reqwest::get(pins.gateway.url("/graphql/schema.graphql"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sdl.contains("\tRED\n") && sdl.contains("\tCRIMSON\n"),
        "{sdl}"
    );
}

#[tokio::test]
async fn an_enum_number_the_schema_lacks_is_null_and_an_error() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        r#"{ getThing(name: "weird-enum") { name color } ok: getThing(id: 2) { id } }"#,
    )
    .await;
    // The non-null enum field nulls its parent, the root field; the other root field is fine.
    assert_eq!(body["data"], json!({"getThing": null, "ok": {"id": "2"}}));
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], json!(["getThing", "color"]));
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("pins.v1.Color"),
        "{body}"
    );
}

#[tokio::test]
async fn two_members_of_a_oneof_are_refused_before_any_backend_call() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        r#"mutation { echoThing(pick: {word: "a", number: 1}) { id } }"#,
    )
    .await;
    assert!(body.get("data").is_none(), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("exactly one field"),
        "{body}"
    );
    assert_eq!(pins.calls.load(Ordering::SeqCst), 0);
    // One member is fine, and comes back as the member set.
    let body = query(
        &pins.gateway,
        r#"mutation { echoThing(pick: {word: "a"}) { word number } }"#,
    )
    .await;
    assert_eq!(
        body,
        json!({"data": {"echoThing": {"word": "a", "number": null}}})
    );
}

#[tokio::test]
async fn aliases_fragments_maps_and_nested_inputs() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        r#"mutation {
            a: echoThing(id: 1, counts: [{key: "x", value: 2}], child: {name: "kid", tags: ["t"]}) { ...F }
            b: echoThing(id: 2) { ...F ... on pins_v1_Thing { name } }
        }
        fragment F on pins_v1_Thing { id counts { key value } child { name tags } }"#,
    )
    .await;
    assert_eq!(
        body,
        json!({"data": {
            "a": {"id": "1", "counts": [{"key": "x", "value": 2}], "child": {"name": "kid", "tags": ["t"]}},
            "b": {"id": "2", "counts": [], "child": null, "name": ""}
        }})
    );
}

#[tokio::test]
async fn a_failing_root_field_gives_partial_data_and_one_error() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        r#"{ ok: getThing(id: 1) { id } bad: getThing(name: "fail") { id } }"#,
    )
    .await;
    assert_eq!(
        body,
        json!({
            "data": {"ok": {"id": "1"}, "bad": null},
            "errors": [{
                "message": "no such thing",
                "locations": [{"line": 1, "column": 30}],
                "path": ["bad"],
                "extensions": {"code": "NOT_FOUND", "grpcCode": 5, "httpStatus": 404, "details": []}
            }]
        })
    );
}

#[tokio::test]
async fn the_field_mask_is_filled_from_the_selection() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        "{ getThing(id: 1) { id child { name } readMask } }",
    )
    .await;
    assert_eq!(
        body,
        json!({"data": {"getThing": {"id": "1", "child": null, "readMask": "id,child.name,readMask"}}})
    );
    // A mask the client gives wins.
    let body = query(
        &pins.gateway,
        r#"{ getThing(readMask: "name") { readMask } }"#,
    )
    .await;
    assert_eq!(body, json!({"data": {"getThing": {"readMask": "name"}}}));
}

#[tokio::test]
async fn allowed_headers_reach_the_backend_as_metadata() {
    let pins = pins().await;
    let (_, body) = post_with(
        &pins.gateway,
        json!({"query": r#"{ getThing(name: "whoami") { name } }"#}),
        &[("x-tenant", "acme"), ("x-secret", "no")],
    )
    .await;
    assert_eq!(body, json!({"data": {"getThing": {"name": "acme"}}}));
}

#[tokio::test]
async fn same_named_messages_of_two_packages_are_two_types() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        r#"mutation { echoThing(twin: {label: "t"}) { twin { label } child { id } } }"#,
    )
    .await;
    assert_eq!(
        body,
        json!({"data": {"echoThing": {"twin": {"label": "t"}, "child": null}}})
    );
    let sdl = pins.gateway.gateway.graphql[0].sdl().to_owned();
    assert!(
        sdl.contains("type other_v1_Thing {") && sdl.contains("type pins_v1_Thing {"),
        "{sdl}"
    );
    assert!(
        sdl.contains("\ttwin: other_v1_Thing\n") && sdl.contains("\tchild: pins_v1_Thing\n"),
        "{sdl}"
    );
}

#[tokio::test]
async fn the_request_deadline_bounds_the_call() {
    let pins = pins().await;
    let started = std::time::Instant::now();
    let (_, body) = post_with(
        &pins.gateway,
        json!({"query": r#"{ slow: getThing(name: "slow") { id } fast: getThing(id: 1) { id } }"#}),
        &[("grpc-timeout", "200m")],
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    assert_eq!(body["data"], json!({"slow": null, "fast": {"id": "1"}}));
    assert_eq!(body["errors"][0]["extensions"]["code"], "DEADLINE_EXCEEDED");
    assert_eq!(body["errors"][0]["extensions"]["httpStatus"], 504);
}

#[tokio::test]
async fn a_subscription_streams_over_sse_and_ends_with_the_backend() {
    let pins = pins().await;
    let response = reqwest::Client::new()
        .post(pins.gateway.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": "subscription { streamThings(count: 3) { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(
        events,
        [
            "event: next\ndata: {\"data\":{\"streamThings\":{\"id\":\"1\"}}}",
            "event: next\ndata: {\"data\":{\"streamThings\":{\"id\":\"2\"}}}",
            "event: next\ndata: {\"data\":{\"streamThings\":{\"id\":\"3\"}}}",
            "event: complete",
        ]
    );
}

#[tokio::test]
async fn a_stream_that_fails_midway_ends_with_an_error_event() {
    let demo = common::demo().await;
    let response = reqwest::Client::new()
        .post(demo.gateway.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": "subscription { listUsers(failAfter: 2) { id } }"}))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 4, "{text}");
    assert_eq!(
        events[1],
        "event: next\ndata: {\"data\":{\"listUsers\":{\"id\":\"2\"}}}"
    );
    let error: Value =
        serde_json::from_str(events[2].strip_prefix("event: next\ndata: ").unwrap()).unwrap();
    assert_eq!(
        error["errors"][0]["extensions"]["code"], "ABORTED",
        "{error}"
    );
    assert_eq!(events[3], "event: complete");
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let mapping = MAPPING.replace("graphql:\n", "graphql:\n  introspection: false\n");
    let dir = things_config(&[("things.yaml", &mapping)]);
    let gateway = common::serve(load_things(&dir).unwrap()).await;
    let body = query(&gateway, "{ __schema { types { name } } }").await;
    assert!(
        body.get("data").is_none() && body["errors"][0]["message"].is_string(),
        "{body}"
    );
    let response = reqwest::get(gateway.url("/graphql/schema.graphql"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_subscription_streams_over_graphql_transport_ws() {
    let pins = pins().await;
    let mut request = format!("ws://{}/graphql", pins.gateway.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    let send = |value: Value| WsMessage::Text(value.to_string().into());
    socket
        .send(send(json!({"type": "connection_init"})))
        .await
        .unwrap();
    socket
        .send(send(json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { streamThings(count: 2) { id } }"}})))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        let WsMessage::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        let done = value["type"] == "complete";
        seen.push(value);
        if done {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            json!({"type": "connection_ack"}),
            json!({"id": "1", "type": "next", "payload": {"data": {"streamThings": {"id": "1"}}}}),
            json!({"id": "1", "type": "next", "payload": {"data": {"streamThings": {"id": "2"}}}}),
            json!({"id": "1", "type": "complete"}),
        ]
    );
}

#[tokio::test]
async fn limits_persisted_queries_and_http_rules() {
    let pins = pins().await;
    // Aliases: at most 3 in this mapping.
    let body = query(
        &pins.gateway,
        "{ a: getThing { id } b: getThing { id } c: getThing { id } d: getThing { id } }",
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"],
        "the query uses 4 aliases; at most 3 are allowed"
    );
    assert_eq!(pins.calls.load(Ordering::SeqCst), 0);
    // Depth: 15 by default.
    let deep = format!(
        "{{ getThing {{ {}id{} }} }}",
        "child { ".repeat(20),
        " }".repeat(20)
    );
    let body = query(&pins.gateway, &deep).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    // Automatic persisted queries: unknown hash, then registered with the query, then by hash.
    let text = "{ getThing(id: 5) { id } }";
    let hash: String = ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let (_, body) = post(&pins.gateway, json!({"extensions": extensions})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let (_, body) = post(
        &pins.gateway,
        json!({"query": text, "extensions": extensions}),
    )
    .await;
    assert_eq!(body, json!({"data": {"getThing": {"id": "5"}}}));
    let (_, body) = post(&pins.gateway, json!({"extensions": extensions})).await;
    assert_eq!(body, json!({"data": {"getThing": {"id": "5"}}}));
    let (status, _) = post(
        &pins.gateway,
        json!({"query": "{ __typename }", "extensions": extensions}),
    )
    .await;
    assert_eq!(status, 400, "a hash that is not the query's");
    // No mutations over GET; queries are fine.
    let client = reqwest::Client::new();
    let get = |q: &str| {
        client
            .get(pins.gateway.url("/graphql"))
            .query(&[("query", q)])
            .send()
    };
    let response = get("mutation { echoThing { id } }").await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let response = get("{ getThing(id: 7) { id } }").await.unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"data": {"getThing": {"id": "7"}}})
    );
    // A document that cannot run: 200 in application/json, 400 in graphql-response+json.
    let response = client
        .post(pins.gateway.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ nope }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    // Not JSON: 415; malformed JSON: 400; too large: 413.
    let response = client
        .post(pins.gateway.url("/graphql"))
        .body("{ getThing { id } }")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let response = client
        .post(pins.gateway.url("/graphql"))
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let huge =
        json!({"query": format!("{{ getThing(name: \"{}\") {{ id }} }}", "x".repeat(5 << 20))});
    let (status, body) = post(&pins.gateway, huge).await;
    assert_eq!(status, 413, "{body}");
    // GraphiQL for browsers.
    let page = client
        .get(pins.gateway.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("graphiql"), "{page}");
    // It works offline: everything it loads is served by the gateway from the binary.
    assert!(
        !page.contains("//unpkg") && !page.contains("https://"),
        "{page}"
    );
    let sources: Vec<&str> = page
        .split(['"'])
        .filter(|part| part.starts_with("/graphql/graphiql/"))
        .collect();
    assert_eq!(sources.len(), 4, "{page}");
    for source in sources {
        let response = client.get(pins.gateway.url(source)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{source}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = if source.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{source}: {content_type}"
        );
        assert!(response.bytes().await.unwrap().len() > 10_000, "{source}");
    }
    let missing = client
        .get(pins.gateway.url("/graphql/graphiql/other.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn demo_gateway_serves_grpc_and_soap_in_one_schema() {
    let demo = common::demo().await;
    let sdl = reqwest::get(demo.gateway.url("/graphql/schema.graphql"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    insta::assert_snapshot!("demo_sdl", sdl);
    let body = query(
        &demo.gateway,
        r#"{ getUser(id: 1) { id name role createdAt labels { key value } followerCount }
             fullCountryInfo(sCountryISOCode: "NL") { FullCountryInfoResult { sName dAreaKm2 lPopulation } }
             missing: capitalCity(sCountryISOCode: "XX") { CapitalCityResult } }"#,
    )
    .await;
    insta::assert_json_snapshot!("demo_query", body);
    // The field mask of UpdateUser comes from the selection: only the email changes.
    let body = query(
        &demo.gateway,
        r#"mutation { updateUser(user: {id: 3, name: "Not Grace", email: "grace@navy.mil"}) { email } }"#,
    )
    .await;
    assert_eq!(
        body,
        json!({"data": {"updateUser": {"email": "grace@navy.mil"}}})
    );
    let body = query(&demo.gateway, "{ getUser(id: 3) { name email } }").await;
    assert_eq!(body["data"]["getUser"]["name"], "Grace Hopper");
}

#[tokio::test]
async fn sdl_of_a_bit_of_everything() {
    let corpus = common::corpus_dir();
    let gateway_yaml = format!(
        "version: 1\nlisten: 127.0.0.1:0\nschemas:\n  include: [{}]\nbackends:\n  abe:\n    protocol: grpc\n    address: http://127.0.0.1:9\n",
        corpus.display()
    );
    let mapping = "version: 1\nfrontend: graphql\nbackend:\n  use: abe\nschemas: [examples/internal/proto/examplepb/a_bit_of_everything.proto]\nservices: [grpc.gateway.examples.internal.proto.examplepb.ABitOfEverythingService]\n";
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway_yaml),
        ("mappings/abe.yaml", mapping),
    ]);
    let gateway =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    insta::assert_snapshot!("a_bit_of_everything_sdl", gateway.graphql[0].sdl());
}

#[tokio::test]
async fn sdl_of_a_wsdl() {
    let wsdl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/soap/shop.wsdl");
    let mapping = format!(
        "version: 1\nfrontend: graphql\nbackend:\n  address: http://127.0.0.1:9/shop\n  soap:\n    wsdl: {}\n",
        wsdl.display()
    );
    let dir = common::write_files(&[
        ("gateway.yaml", "version: 1\nlisten: 127.0.0.1:0\n"),
        ("mappings/shop.yaml", &mapping),
    ]);
    let gateway =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    insta::assert_snapshot!("shop_wsdl_sdl", gateway.graphql[0].sdl());
}

#[tokio::test]
async fn root_field_clashes_are_load_errors_that_suggest_a_prefix() {
    let dir = things_config(&[("a.yaml", MAPPING), ("b.yaml", MAPPING)]);
    let Err(diags) = load_things(&dir) else {
        panic!("two mappings with the same root fields must not load");
    };
    let text = diags.render();
    assert!(text.contains("root field `echoThing` of pins.v1.Things.EchoThing has the name of the one of pins.v1.Things.EchoThing"), "{text}");
    assert!(
        text.contains("give one of the mappings `graphql.prefix`"),
        "{text}"
    );
    assert!(
        text.contains("pins.proto:"),
        "the error points into the proto: {text}"
    );
    // With a prefix on one of them, both load (the joins stay with the first: a type gets a
    // field once).
    let without_joins = &MAPPING[..MAPPING.find("  joins:").unwrap()];
    let prefixed = without_joins.replace("graphql:\n", "graphql:\n  prefix: b_\n");
    std::fs::write(dir.path().join("mappings/b.yaml"), prefixed).unwrap();
    let gateway = load_things(&dir).unwrap_or_else(|d| panic!("{}", d.render()));
    assert!(gateway.graphql[0].sdl().contains("b_echoThing("));
}

#[tokio::test]
async fn variables_are_checked_also_for_documents_that_passed_before() {
    let pins = pins().await;
    let text = "mutation($pick: pins_v1_Thing_PickInput, $id: Int64, $tags: [String!]) { echoThing(pick: $pick, id: $id, color: BLUE, tags: $tags) { id word } t: __typename x: __typename }";
    let run = |variables: Value| {
        post(
            &pins.gateway,
            json!({"query": text, "variables": variables}),
        )
    };
    // Passes every rule once; later requests with the same document take the faster path.
    for _ in 0..2 {
        let (_, body) = run(json!({"pick": {"word": "a"}, "id": "5"})).await;
        assert_eq!(
            body["data"]["echoThing"],
            json!({"id": "5", "word": "a"}),
            "{body}"
        );
    }
    let calls = pins.calls.load(Ordering::SeqCst);
    for bad in [
        json!({"pick": {"word": "a", "number": 1}}),
        json!({"pick": {"word": null}}),
        json!({"pick": {"nope": "a"}}),
        json!({"id": "five"}),
        json!({"id": 1.5}),
        json!({"tags": [null]}),
        json!({"tags": [1]}),
    ] {
        let (status, body) = run(bad.clone()).await;
        assert_eq!(status, 200);
        assert!(
            body.get("data").is_none() && body["errors"][0]["message"].is_string(),
            "{bad}: {body}"
        );
    }
    assert_eq!(
        pins.calls.load(Ordering::SeqCst),
        calls,
        "no call with bad variables"
    );
}

#[tokio::test]
async fn joins_batch_per_request_and_match_by_key() {
    let pins = pins().await;
    let body = query(
        &pins.gateway,
        "{ listThings(count: 50) { things { id twinByBatch { id name } } } }",
    )
    .await;
    let things = body["data"]["listThings"]["things"].as_array().unwrap();
    assert_eq!(things.len(), 50, "{body}");
    // The backend answered in reverse order; each parent still gets its own.
    for thing in things {
        let id = thing["id"].as_str().unwrap();
        assert_eq!(
            thing["twinByBatch"],
            json!({"id": id, "name": format!("thing {id}")})
        );
    }
    assert_eq!(
        pins.batches.load(Ordering::SeqCst),
        1,
        "50 parents, one batch call"
    );
    // One call per parent where there is no batch method.
    let before = pins.calls.load(Ordering::SeqCst);
    let body = query(
        &pins.gateway,
        "{ listThings(count: 3) { things { id twinByCall { id } } } }",
    )
    .await;
    let twins: Vec<&Value> = body["data"]["listThings"]["things"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["twinByCall"]["id"])
        .collect();
    assert_eq!(twins, [&json!("1"), &json!("2"), &json!("3")]);
    assert_eq!(
        pins.calls.load(Ordering::SeqCst),
        before + 4,
        "the list, then one call per thing"
    );
}
