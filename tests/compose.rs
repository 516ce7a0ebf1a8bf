//! Composed endpoints: one REST request, steps calling a gRPC, a SOAP and a REST backend (the
//! demo's two and an axum JSON service), concurrently where independent; fan-out, optional
//! steps, step timeouts cancelled at the backend, a failing required step; a batched fan-out;
//! the typed operation served over REST, GraphQL, gRPC and SOAP.

mod common;

use serde_json::{json, Value};

async fn rest_customers() -> std::net::SocketAddr {
    async fn get(axum::extract::Path(id): axum::extract::Path<String>) -> axum::Json<Value> {
        axum::Json(json!({"id": id, "name": "Ada", "balance": "12.50"}))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/v1/customers/{id}", axum::routing::get(get));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

const COMPOSE: &str = r#"
version: 1
frontend: rest
compose:
  method: GET
  path: /bff/home/{id}
  timeout: 5s
  steps:
    - name: user
      call: demo.v1.Users.GetUser
      input: {id: path.id}
    - name: customer
      call: matrix.v1.Customers.GetCustomer
      input: {id: "'9007199254740993'"}
    # Ada lives in the UK, which the demo SOAP service does not know: an optional failure.
    - name: capital
      call: CountryInfoService.CapitalCity
      input: {sCountryISOCode: steps.user.address.country}
      optional: true
    - name: colleagues
      call: Users.GetUser
      for_each: "[`2`, `3`]"
      input: {id: item}
    - name: slow
      call: Users.Sleep
      input: {duration: "'2s'"}
      timeout: 100ms
      optional: true
  response:
    name: steps.user.name
    balance: steps.customer.balance
    capital: steps.capital.CapitalCityResult
    colleagues: steps.colleagues[].name
"#;

/// A request deadline shorter than its one required step.
const DEADLINE: &str = r#"
version: 1
frontend: rest
compose:
  method: GET
  path: /bff/late
  timeout: 150ms
  steps:
    - {name: slow, call: Users.Sleep, input: {duration: "'2s'"}}
  response: {done: "`true`"}
"#;

const CONCURRENT: &str = r#"
version: 1
frontend: rest
compose:
  method: GET
  path: /bff/twice
  steps:
    - {name: a, call: Users.Sleep, input: {duration: "'0.1s'"}}
    - {name: b, call: Users.Sleep, input: {duration: "'0.1s'"}}
  response: {done: "`true`"}
"#;

/// The backend's count of cancelled calls once it reaches `expected` (or after a second, what
/// it is then); a little longer, so that a cancellation too many shows too.
async fn cancelled_calls(count: &std::sync::atomic::AtomicUsize, expected: usize) -> usize {
    use std::sync::atomic::Ordering::SeqCst;
    for _ in 0..50 {
        if count.load(SeqCst) >= expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    count.load(SeqCst)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_composed_endpoint_over_three_protocols() {
    let demo = common::demo().await;
    let rest = rest_customers().await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{root}/examples/demo/schemas, {root}/tests/matrix]\nbackends:\n  users:\n    protocol: grpc\n    address: http://{grpc}\n  countries:\n    protocol: soap\n    address: http://{soap}/countries\n    soap:\n      wsdl: {root}/examples/demo/schemas/countries.wsdl\n      fault_codes:\n        Client.UnknownCountry: NOT_FOUND\n  customers:\n    protocol: rest\n    address: http://{rest}\n",
        root = env!("CARGO_MANIFEST_DIR"),
        grpc = demo.backend.addr,
        soap = demo.soap.addr,
    );
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/users.yaml", "version: 1\nfrontend: grpc\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n"),
        ("mappings/countries.yaml", "version: 1\nfrontend: grpc\nbackend:\n  use: countries\n"),
        ("mappings/customers.yaml", "version: 1\nfrontend: grpc\nbackend:\n  use: customers\nschemas: [customers.proto]\nservices: [matrix.v1.Customers]\n"),
        ("mappings/home.yaml", COMPOSE),
        ("mappings/twice.yaml", CONCURRENT),
        ("mappings/late.yaml", DEADLINE),
    ]);
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;

    let started = std::time::Instant::now();
    let response = reqwest::get(gateway.url("/bff/home/1")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["rosetta-missing-steps"], "capital, slow");
    let body: Value = response.json().await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "the slow step timed out at 100 ms"
    );
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["balance"], "12.50");
    assert_eq!(body["capital"], Value::Null);
    assert_eq!(body["colleagues"], json!(["Alan Turing", "Grace Hopper"]));
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors[0]["step"], "capital");
    assert_eq!(errors[0]["code"], 5);
    assert_eq!(errors[1]["step"], "slow");
    assert_eq!(errors[1]["code"], 4);
    // The timed-out step's call was cancelled at the backend (its stream reset), not left to
    // run.
    let cancelled = &demo.backend.state.cancelled_calls;
    assert_eq!(cancelled_calls(cancelled, 1).await, 1);

    // A required step that fails fails the request, with its status, and cancels the steps
    // still running (the slow one). The backend counts that cancellation when it sees the
    // stream reset, after the answer: wait for it before counting on.
    let response = reqwest::get(gateway.url("/bff/home/999")).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "user 999 not found"
    );
    assert_eq!(cancelled_calls(cancelled, 2).await, 2);

    // The request's deadline ends it (504) and cancels the step at the backend; a client's
    // shorter grpc-timeout wins.
    let started = std::time::Instant::now();
    let response = reqwest::get(gateway.url("/bff/late")).await.unwrap();
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let response = reqwest::Client::new()
        .get(gateway.url("/bff/late"))
        .header("grpc-timeout", "50m")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < std::time::Duration::from_millis(140));
    assert_eq!(cancelled_calls(cancelled, 4).await, 4);

    // Independent steps run concurrently: two 100 ms calls take about 100 ms.
    let started = std::time::Instant::now();
    let body: Value = reqwest::get(gateway.url("/bff/twice"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(body, json!({"done": true, "errors": []}));
    assert!(
        elapsed < std::time::Duration::from_millis(190),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn compose_mistakes_are_located() {
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users:\n    protocol: grpc\n    address: http://127.0.0.1:9\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let compose = r#"version: 1
frontend: rest
compose:
  method: GET
  path: /x/{id}
  steps:
    - {name: a, call: Users.Nope}
    - {name: b, call: Users.GetUser, input: {id: "path.["}}
    - {name: c, call: Users.GetUser, input: {id: "user.id"}}
    - {name: d, call: Users.GetUser, input: {id: "steps.nobody.id"}}
    - {name: e, call: Users.GetUser, input: {id: "steps.f.id"}}
    - {name: f, call: Users.GetUser, input: {id: "steps.e.id"}}
    - {name: g, call: Users.GetUser, batch: {keys: ids, items: users, key: id}}
  response: {name: "body.name"}
"#;
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/users.yaml", "version: 1\nfrontend: rest\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n"),
        ("mappings/x.yaml", compose),
    ]);
    let text = common::load(dir.path(), common::vars(&[]))
        .err()
        .unwrap()
        .render();
    assert!(
        text.contains("no mapping serves a method `Users.Nope`"),
        "{text}"
    );
    assert!(text.contains("not a JMESPath expression"), "{text}");
    assert!(text.contains("x.yaml:7:"), "{text}");
    assert!(
        text.contains("x.yaml:9:") && text.contains("`user` is not in the context"),
        "{text}"
    );
    assert!(text.contains("there is no step `nobody`"), "{text}");
    assert!(
        text.contains("the steps e, f wait for each other"),
        "{text}"
    );
    assert!(text.contains("`batch` makes a fan-out one call"), "{text}");
    assert!(
        text.contains("the expressions read `body`, which a GET request does not have"),
        "{text}"
    );
}

#[tokio::test]
async fn the_demo_serves_its_bff_endpoint() {
    let demo = common::demo().await;
    let body: Value = reqwest::get(demo.gateway.url("/bff/profile/1?country=JP"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({"name": "Ada Lovelace", "role": "ROLE_ADMIN", "country": "Japan", "capital": "Tokyo", "languages": ["Japanese"], "errors": []})
    );
}

/// A composed endpoint over the pins backend, served by `frontend`: a list, then one batch call
/// for a fan-out over it.
fn shelf(frontend: &str) -> String {
    format!(
        r#"
version: 1
frontend: {frontend}
compose:
  method: GET
  path: /bff/shelf/{{owner}}
  steps:
    - name: list
      call: Things.ListThings
      input: {{count: "to_number(query.count)"}}
    - name: twins
      call: Things.BatchGetThings
      for_each: steps.list.things[].id
      batch: {{keys: ids, items: things, key: id}}
  response:
    owner: path.owner
    count: length(steps.list.things)
    names: steps.twins[].name
    first: steps.twins[0]
    summary: "{{owner: path.owner, total: length(steps.twins)}}"
"#
    )
}

const THINGS_GRPC: &str = "version: 1\nfrontend: grpc\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_composed_endpoint_is_typed_batched_and_served_by_every_frontend() {
    let pins = common::pins::Pins::start(&[
        ("things.yaml", THINGS_GRPC),
        ("shelf.yaml", &shelf("rest")),
        ("shelf-graphql.yaml", &shelf("graphql")),
        ("shelf-grpc.yaml", &shelf("grpc")),
        ("shelf-soap.yaml", &shelf("soap")),
    ])
    .await;
    let gateway = &pins.gateway;

    // Its messages are inferred from the expressions and the steps' types.
    let pool = &gateway.gateway.pool;
    let file = pool
        .get_service_by_name("rosetta.compose.shelf.Shelf")
        .unwrap()
        .parent_file();
    insta::assert_snapshot!(rosetta::registry::print::proto(&file));

    // REST: 50 things, their twins from one batch call (answered in reverse order, matched
    // by id).
    let body: Value = reqwest::get(gateway.url("/bff/shelf/ada?count=50"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<String> = (1..=50).map(|i| format!("thing {i}")).collect();
    assert_eq!(body["names"], json!(names));
    assert_eq!(body["count"], 50);
    assert_eq!(body["first"]["id"], "1");
    assert_eq!(body["summary"], json!({"owner": "ada", "total": 50}));
    assert_eq!(body["errors"], json!([]));
    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(pins.batches.load(SeqCst), 1);
    assert_eq!(pins.calls.load(SeqCst), 2);

    // GraphQL: a query field with typed arguments and result.
    let body: Value = gateway
        .graphql(
            "{ getShelf(owner: \"bo\", count: \"3\") { owner count names summary { total } } }",
        )
        .await;
    assert_eq!(
        body,
        json!({"data": {"getShelf": {"owner": "bo", "count": 3, "names": ["thing 1", "thing 2", "thing 3"], "summary": {"total": 3}}}})
    );

    // gRPC: a method of its own service.
    let method = pool
        .get_service_by_name("rosetta.compose.shelf_grpc.ShelfGrpc")
        .unwrap()
        .methods()
        .next()
        .unwrap();
    let reply = common::grpc_unary(&gateway.base, &method, json!({"owner": "cy", "count": "2"}))
        .await
        .unwrap();
    let reply = serde_json::to_value(&reply).unwrap();
    assert_eq!(reply["names"], json!(["thing 1", "thing 2"]));
    assert_eq!(reply["summary"], json!({"owner": "cy", "total": 2}));

    // SOAP: an operation of a generated WSDL.
    let envelope = r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:s="urn:rosetta:rosetta.compose.shelf_soap.ShelfSoap"><soap:Body><s:GetShelf><s:owner>di</s:owner><s:count>1</s:count></s:GetShelf></soap:Body></soap:Envelope>"#;
    let response = reqwest::Client::new()
        .post(gateway.url("/soap/ShelfSoap"))
        .header("content-type", "text/xml")
        .body(envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    for part in [
        "<tns:owner>di</tns:owner>",
        "<tns:names>thing 1</tns:names>",
        "<tns:total>1</tns:total>",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
}
