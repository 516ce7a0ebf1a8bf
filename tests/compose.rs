//! Composed endpoints: one REST request, steps calling a gRPC, a SOAP and a REST backend (the
//! demo's two and an axum JSON service), concurrently where independent; fan-out, optional
//! steps, step timeouts, a failing required step.

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

    // A required step that fails fails the request, with its status.
    let response = reqwest::get(gateway.url("/bff/home/999")).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "user 999 not found"
    );

    // Independent steps run concurrently: two 100 ms calls take about 100 ms.
    let started = std::time::Instant::now();
    let body: Value = reqwest::get(gateway.url("/bff/twice"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(body, json!({"done": true}));
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
    let compose = "version: 1\nfrontend: rest\ncompose:\n  method: GET\n  path: /x\n  steps:\n    - {name: a, call: Users.Nope}\n    - {name: b, call: Users.GetUser, input: {id: \"path.[\"}}\n  response: {}\n";
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
        json!({"name": "Ada Lovelace", "role": "ROLE_ADMIN", "country": "Japan", "capital": "Tokyo", "languages": ["Japanese"]})
    );
}
