//! Interop with SOAP stacks rosetta did not write: the Python spyne server (SOAP 1.1 and 1.2,
//! validating every request against its schema with lxml) and the npm `soap` server, both
//! serving the peer harness's CustomerService, behind the REST frontend. scripts/test installs
//! them; without them these tests fail and say how to get them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

struct Peer {
    child: Child,
    port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test, which installs the SOAP peers")
    })
}

fn start(mut command: Command) -> Peer {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the SOAP peer starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from the SOAP peer: {line:?}"));
    Peer { child, port }
}

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

fn spyne(soap12: bool) -> Peer {
    let mut command = Command::new(peers_env("ROSETTA_PEERS_PYTHON"));
    command.arg(format!("{PEERS}/soap-py/server.py"));
    if soap12 {
        command.args(["--soap", "12"]);
    }
    start(command)
}

fn node_soap() -> Peer {
    let mut command = Command::new("node");
    command
        .arg(format!("{PEERS}/soap-node/server.js"))
        .arg(format!("{PEERS}/customer.wsdl"))
        .env("ROSETTA_PEERS_HOME", peers_env("ROSETTA_PEERS_HOME"));
    start(command)
}

async fn gateway_for(address: String, wsdl: &str) -> (common::RunningGateway, tempfile::TempDir) {
    let mapping = format!(
        r#"version: 1
frontend: rest
backend:
  address: {address}
  timeout: 10s
  soap:
    wsdl: {PEERS}/{wsdl}
    fault_codes:
      Client.NotFound: NOT_FOUND
      NotFound: NOT_FOUND
rules:
  - selector: CustomerService.getCustomer
    get: /customers/{{id}}
  - selector: CustomerService.listCustomers
    get: /customers
"#
    );
    // The same service as GraphQL, with a backend of its own (and so a package of its own).
    let graphql = format!(
        "version: 1\nfrontend: graphql\nbackend:\n  address: {address}\n  soap:\n    wsdl: {PEERS}/{wsdl}\n    package: soap.customers_graphql\n    fault_codes:\n      Client.NotFound: NOT_FOUND\n      NotFound: NOT_FOUND\n"
    );
    let dir = common::write_files(&[
        ("gateway.yaml", "version: 1\n"),
        ("mappings/customers.yaml", &mapping),
        ("mappings/customers-graphql.yaml", &graphql),
    ]);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    (common::serve(loaded).await, dir)
}

async fn call(
    gateway: &common::RunningGateway,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let request = match method {
        "GET" => client.get(gateway.url(path)),
        _ => client.post(gateway.url(path)).json(&body),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The same checks against any implementation of the CustomerService.
async fn customer_service(gateway: &common::RunningGateway) {
    let (status, one) = call(gateway, "GET", "/customers/1", Value::Null).await;
    assert_eq!(status, 200, "{one}");
    let customer = &one["getCustomerResult"];
    assert_eq!(customer["id"], "1");
    assert_eq!(customer["name"], "customer1");
    assert_eq!(customer["tier"], "GOLD");
    assert_eq!(customer["tags"], json!({"string": ["c1", "seed"]}));
    assert_eq!(customer["address"]["city"], "Springfield");
    assert_eq!(customer["balance"], "100.25");
    assert!(customer["created"]
        .as_str()
        .unwrap()
        .starts_with("2023-11-14T22:13:21"));

    let (status, list) = call(gateway, "GET", "/customers?tier=SILVER", Value::Null).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["listCustomersResult"]["Customer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer2", "customer5"]);

    let (status, sum) = call(
        gateway,
        "POST",
        "/CustomerService/add",
        json!({"a": 40, "b": 2}),
    )
    .await;
    assert_eq!((status, sum), (200, json!({"addResult": 42})));
    let (status, quotient) = call(
        gateway,
        "POST",
        "/CustomerService/divide",
        json!({"a": 1, "b": 4}),
    )
    .await;
    assert_eq!((status, quotient), (200, json!({"divideResult": 0.25})));

    // Faults: a Client fault is INVALID_ARGUMENT, unless the mapping names its code.
    let (status, error) = call(
        gateway,
        "POST",
        "/CustomerService/divide",
        json!({"a": 1, "b": 0}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["message"], "b must not be 0");
    // SOAP 1.1: the faultcode `Client.DivisionByZero`; 1.2: Sender with subcode `DivisionByZero`.
    let reason = error["details"][0]["reason"].as_str().unwrap();
    assert!(reason.ends_with("DivisionByZero"), "{error}");
    let (status, error) = call(gateway, "GET", "/customers/99", Value::Null).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["message"], "customer 99 not found");

    // GraphQL: queries by name, a decimal and a long as strings, a fault as a field error.
    let query = r#"{ one: getCustomer(id: 1) { getCustomerResult { id name tier balance address { city } } }
                     missing: getCustomer(id: 99) { getCustomerResult { id } } }"#;
    let (status, body) = call(gateway, "POST", "/graphql", json!({"query": query})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(
        body["data"],
        json!({"one": {"getCustomerResult": {"id": "1", "name": "customer1", "tier": "GOLD",
            "balance": "100.25", "address": {"city": "Springfield"}}}, "missing": null})
    );
    assert_eq!(body["errors"][0]["path"], json!(["missing"]));
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let (_, body) = call(
        gateway,
        "POST",
        "/graphql",
        json!({"query": "mutation { add(a: 40, b: 2) { addResult } }"}),
    )
    .await;
    assert_eq!(body, json!({"data": {"add": {"addResult": 42}}}));
}

#[tokio::test]
async fn rest_in_front_of_spyne_soap11() {
    let peer = spyne(false);
    let (gateway, _dir) =
        gateway_for(format!("http://127.0.0.1:{}/", peer.port), "customer.wsdl").await;
    customer_service(&gateway).await;
}

#[tokio::test]
async fn rest_in_front_of_spyne_soap12() {
    let peer = spyne(true);
    let (gateway, _dir) = gateway_for(
        format!("http://127.0.0.1:{}/", peer.port),
        "customer-soap12.wsdl",
    )
    .await;
    customer_service(&gateway).await;
}

#[tokio::test]
async fn rest_in_front_of_node_soap() {
    let peer = node_soap();
    let (gateway, _dir) = gateway_for(
        format!("http://127.0.0.1:{}/CustomerService", peer.port),
        "customer.wsdl",
    )
    .await;
    customer_service(&gateway).await;
}
