//! Interop with a gRPC implementation rosetta did not write: the Python grpcio server of the
//! peer harness (tests/peers/grpc-py), behind the REST frontend. scripts/test installs grpcio
//! and generates the stubs; without them these tests fail and say how to get them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

struct PythonPeer {
    child: Child,
    port: u16,
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_python_peer() -> PythonPeer {
    let python = std::env::var("ROSETTA_PEERS_PYTHON").unwrap_or_else(|_| {
        panic!("ROSETTA_PEERS_PYTHON is not set: run the tests with scripts/test, which installs the Python gRPC peer")
    });
    let server = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/grpc-py/server.py");
    let mut child = Command::new(python)
        .args([server, "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the Python gRPC peer starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("127.0.0.1:"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from the Python peer: {line:?}"));
    PythonPeer { child, port }
}

async fn gateway_for(peer: &PythonPeer) -> (common::RunningGateway, tempfile::TempDir) {
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/tests/peers/proto]\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = format!(
        "version: 1\nfrontend: rest\nbackend:\n  address: http://127.0.0.1:{}\n  timeout: 5s\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n",
        peer.port
    );
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/users.yaml", &mapping),
    ]);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    (common::serve(loaded).await, dir)
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn rest_in_front_of_grpcio() {
    let peer = start_python_peer();
    let (gateway, _dir) = gateway_for(&peer).await;
    let client = reqwest::Client::new();

    let (status, user) =
        json_of(client.get(gateway.url("/v1/users/1")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        user,
        json!({
            "id": "1", "name": "user1", "email": "user1@example.test", "role": "ROLE_ADMIN",
            "tags": ["t1", "seed"],
            "address": {"street": "1 Main St", "city": "Springfield", "country": "US"},
            "createdAt": "2023-11-14T22:13:21Z"
        })
    );

    // Server streaming from grpcio, as NDJSON.
    let text = client
        .get(gateway.url("/v1/users?role=ROLE_ADMIN"))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, vec!["1", "2"]);

    // A body field, and an int64 above 2^53 kept exactly both ways.
    let (status, created) = json_of(
        client
            .post(gateway.url("/v1/users"))
            .body(r#"{"id": "9007199254740993", "name": "big", "role": "ROLE_USER"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], json!("9007199254740993"));
    let (status, fetched) = json_of(
        client
            .get(gateway.url("/v1/users/9007199254740993"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &fetched["name"]), (200, &json!("big")));
}

#[tokio::test]
async fn grpcio_errors_become_http_errors() {
    let peer = start_python_peer();
    let (gateway, _dir) = gateway_for(&peer).await;
    let client = reqwest::Client::new();
    let (status, body) = json_of(
        client
            .get(gateway.url("/v1/users/999"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"code": 5, "message": "user 999 not found", "details": []})
        )
    );
    let (status, body) = json_of(
        client
            .post(gateway.url("/v1/users"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"code": 3, "message": "user.name is required", "details": []})
        )
    );
}

/// grpcio as a client of rosetta's gRPC frontend, knowing the services only through server
/// reflection: the demo's gRPC service (proxied) and its SOAP service (whose descriptors the
/// WSDL importer made).
#[tokio::test(flavor = "multi_thread")]
async fn grpcio_calls_the_grpc_frontend_through_reflection() {
    let python = std::env::var("ROSETTA_PEERS_PYTHON").unwrap_or_else(|_| {
        panic!("ROSETTA_PEERS_PYTHON is not set: run the tests with scripts/test, which installs grpcio")
    });
    let demo = common::demo().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/grpc-py/reflect_client.py"
    );
    let mut client = tokio::process::Command::new(python);
    client.arg(script).arg(demo.gateway.addr.to_string());
    let seen = common::run_peer(client).await;
    assert_eq!(
        seen["services"],
        json!(["demo.v1.Users", "soap.countries.CountryInfoService"])
    );
    assert_eq!(
        seen["health"],
        json!({"demo.v1.Users": "SERVING", "soap.countries.CountryInfoService": "SERVING"})
    );
    assert_eq!(seen["get_user"]["ok"]["name"], "Ada Lovelace");
    assert_eq!(
        seen["missing_user"],
        json!({"code": "NOT_FOUND", "message": "user 999 not found"})
    );
    assert_eq!(
        seen["capital"],
        json!({"ok": {"CapitalCityResult": "Tokyo"}})
    );
}
