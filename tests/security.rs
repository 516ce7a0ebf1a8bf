//! Hostile input against a real gateway on loopback (docs/security.md): each class of attack
//! the security review found gets a clear refusal at once, and the gateway goes on serving
//! everybody else.
//!
//! - GraphQL: fragment cycles and fragments that double at every step, over POST, GET, SSE
//!   and WebSocket; the graphql-transport-ws protocol's timeouts, caps and close codes.
//! - Slow clients: headers, bodies and idle connections that dribble, connection caps per
//!   client address, 2,000 slow connections from one address against another's request.
//! - Bound values that would climb out of their route into another backend path, and proxies
//!   that would leave their prefix.
//! - Cached replies that would reach another user.
//! - The admin endpoints, and the protocol hygiene of section 4 of the issue.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pins::Pins;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const GRAPHQL: &str = "version: 1\nfrontend: graphql\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n";

/// A document whose fragments spread each other in a cycle of `length`.
fn cycle(length: usize) -> String {
    let mut query = String::from("{ ...F0 }");
    for i in 0..length {
        query.push_str(&format!(
            " fragment F{i} on Query {{ getThing {{ id }} ...F{} }}",
            (i + 1) % length
        ));
    }
    query
}

/// A document of `levels` fragments, each spreading the next twice: 2^levels fields inlined.
fn doubling(levels: usize) -> String {
    let mut query = String::from("{ ...F0 }");
    for i in 0..levels {
        query.push_str(&format!(
            " fragment F{i} on Query {{ ...F{n} ...F{n} }}",
            n = i + 1
        ));
    }
    query.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
    query
}

async fn post_graphql(base: &common::RunningGateway, query: &str) -> Value {
    reqwest::Client::new()
        .post(base.url("/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_documents_that_would_expand_without_end_are_refused() {
    let demo = common::demo().await;
    let gateway = &demo.gateway;
    let started = Instant::now();
    for (what, query) in [
        (
            "a fragment that spreads itself",
            "{ ...A } fragment A on Query { ...A }".to_owned(),
        ),
        ("a cycle of two", cycle(2)),
        ("a cycle of 5,000", cycle(5_000)),
    ] {
        let body = post_graphql(gateway, &query).await;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("within itself"), "{what}: {body}");
        assert!(body.get("data").is_none(), "{what}: {body}");
    }
    // 2^40 fields once inlined: refused by what it would cost, measured without expanding it.
    let body = post_graphql(gateway, &doubling(40)).await;
    assert_eq!(
        body["errors"][0]["message"],
        "the query makes more than 10000 selections once its fragments are inlined",
        "{body}"
    );
    let fields = doubling(40).replace("__typename", "listUsers { users { id } }");
    let body = post_graphql(gateway, &fields).await;
    assert_eq!(
        body["errors"][0]["message"], "Query is too complex.",
        "{body}"
    );
    // Over GET and SSE too.
    let url = format!(
        "{}?query={}",
        gateway.url("/graphql"),
        percent_encoding::utf8_percent_encode(&cycle(3), percent_encoding::NON_ALPHANUMERIC)
    );
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("within itself"));
    let sse = reqwest::Client::new()
        .post(gateway.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": doubling(60) }))
        .send()
        .await
        .unwrap();
    assert!(sse.text().await.unwrap().contains("selections"));
    // All of it took a moment (a hang or a crash would end this test), and the gateway still
    // answers a good query.
    assert!(started.elapsed() < Duration::from_secs(10));
    let body = post_graphql(gateway, "{ getUser(id: \"1\") { id } }").await;
    assert_eq!(body["data"]["getUser"]["id"], "1", "{body}");
}

/// A graphql-transport-ws socket to `/graphql`.
async fn socket(
    addr: SocketAddr,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

fn text(value: Value) -> WsMessage {
    WsMessage::Text(value.to_string().into())
}

/// What the server sends next: a JSON message, or the code of its close frame.
async fn next_message<S>(socket: &mut S) -> Result<Value, u16>
where
    S: futures::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => return Ok(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(WsMessage::Close(frame)))) => {
                return Err(frame.map_or(1005, |f| u16::from(f.code)))
            }
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("the socket ended without a close frame: {other:?}"),
            Err(_) => panic!("nothing came within 5 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_transport_ws_keeps_to_its_protocol() {
    let mapping = format!(
        "{GRAPHQL}graphql:\n  websocket_init_timeout: 300ms\n  max_socket_subscriptions: 2\n"
    );
    let pins = Pins::start(&[("things.yaml", &mapping)]).await;
    let addr = pins.gateway.addr;
    let init = || text(json!({"type": "connection_init"}));
    let subscribe = |id: &str, query: &str| {
        text(json!({"id": id, "type": "subscribe", "payload": {"query": query}}))
    };

    // No connection_init: closed with 4408 once the timeout passes.
    let mut silent = socket(addr).await;
    let started = Instant::now();
    assert_eq!(next_message(&mut silent).await, Err(4408));
    assert!(started.elapsed() >= Duration::from_millis(250));

    // Subscribing before the ack: 4401.
    let mut eager = socket(addr).await;
    eager.send(subscribe("1", "{ __typename }")).await.unwrap();
    assert_eq!(next_message(&mut eager).await, Err(4401));

    // A second connection_init: 4429.
    let mut twice = socket(addr).await;
    twice.send(init()).await.unwrap();
    assert_eq!(
        next_message(&mut twice).await.unwrap()["type"],
        "connection_ack"
    );
    twice.send(init()).await.unwrap();
    assert_eq!(next_message(&mut twice).await, Err(4429));

    // Not a message of the protocol: 4400.
    let mut garbled = socket(addr).await;
    garbled
        .send(WsMessage::Text("{\"type\": \"launch\"}".into()))
        .await
        .unwrap();
    assert_eq!(next_message(&mut garbled).await, Err(4400));

    // Two subscriptions may run; a third is refused with `error`, the socket stays; an id in
    // use is 4409.
    let mut busy = socket(addr).await;
    busy.send(init()).await.unwrap();
    assert_eq!(
        next_message(&mut busy).await.unwrap()["type"],
        "connection_ack"
    );
    // A query over the socket that answers after 2 s.
    let slow = "{ getThing(name: \"slow\") { id } }";
    busy.send(subscribe("a", slow)).await.unwrap();
    busy.send(subscribe("b", slow)).await.unwrap();
    busy.send(subscribe("c", slow)).await.unwrap();
    let refused = loop {
        let message = next_message(&mut busy).await.unwrap();
        if message["type"] != "next" {
            break message;
        }
    };
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "c");
    assert!(refused["payload"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at most 2 subscriptions"));
    // A document the endpoint refuses is an `error` for its id, before anything runs.
    let mut checked = socket(addr).await;
    checked.send(init()).await.unwrap();
    next_message(&mut checked).await.unwrap();
    checked.send(subscribe("x", &cycle(3))).await.unwrap();
    let error = next_message(&mut checked).await.unwrap();
    assert_eq!(
        (error["type"].as_str(), error["id"].as_str()),
        (Some("error"), Some("x"))
    );
    assert!(error["payload"][0]["message"]
        .as_str()
        .unwrap()
        .contains("within itself"));
    busy.send(subscribe("a", slow)).await.unwrap();
    loop {
        match next_message(&mut busy).await {
            Ok(message) => assert_ne!(message["type"], "error", "{message}"),
            Err(code) => {
                assert_eq!(code, 4409);
                break;
            }
        }
    }
}

/// A TCP connection to `addr` from the loopback address `from`.
async fn connect_from(from: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(addr).await
}

/// Whether the server closes `stream` within `within` (reads until EOF, or gives up).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Sends `request` on a fresh connection and reads the response until the server closes it.
async fn raw(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    read_response(&mut stream).await
}

/// The status and body of the one response the server writes before it closes.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

const THINGS: &str = "version: 1\nfrontend: rest\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n";

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off_in_time() {
    let limits = "limits:\n  header_read_timeout: 300ms\n  body_idle_timeout: 300ms\n  request_timeout: 700ms\n  keep_alive_timeout: 400ms\n  max_connections_per_client: 3\n";
    let pins = Pins::start_with(limits, &[], &[("rest.yaml", THINGS)]).await;
    let addr = pins.gateway.addr;

    // Headers that dribble: the connection is closed once the header timeout passes.
    let mut dribbler = TcpStream::connect(addr).await.unwrap();
    dribbler
        .write_all(b"GET /pins.v1.Things/GetThing HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let writer = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if dribbler.write_all(b"x-a: b\r\n").await.is_err() {
                break;
            }
        }
    };
    writer.await;
    assert!(closed_within(&mut dribbler, Duration::from_secs(2)).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );

    // A connection that sends nothing at all is closed by the same timeout.
    let mut mute = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut mute, Duration::from_secs(2)).await);

    // Half a body, then silence: 408 with the error body.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"POST /pins.v1.Things/EchoThing HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{\"name\":").await.unwrap();
    let (status, body) = read_response(&mut half).await;
    assert_eq!(status, 408, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], 4, "{body}");

    // A body that keeps coming, a byte at a time, but never ends: 408 after the whole-request
    // timeout, though no pause was long.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle.write_all(b"POST /pins.v1.Things/EchoThing HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(3) {
        let _ = trickle.write_all(b" ").await;
        match tokio::time::timeout(Duration::from_millis(100), trickle.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(600));

    // Kept alive but idle: closed after the keep-alive timeout.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /pins.v1.Things/GetThing HTTP/1.1\r\nhost: gw\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 405");
    let started = Instant::now();
    assert!(closed_within(&mut idle, Duration::from_secs(3)).await);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // At most 3 connections from one address; a fourth is closed at once, another address
    // is served.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.1", addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fourth = connect_from("127.0.0.1", addr).await.unwrap();
    assert!(closed_within(&mut fourth, Duration::from_millis(500)).await);
    let mut other = connect_from("127.0.0.2", addr).await.unwrap();
    other
        .write_all(
            b"GET /pins.v1.Things/GetThing HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    assert_eq!(read_response(&mut other).await.0, 405);
    drop(held);

    // A trusted proxy (a load balancer) carries many clients: it is not held to the bound.
    let behind = "limits:\n  max_connections_per_client: 1\nrate_limiting:\n  trusted_proxies: [127.0.0.3]\n";
    let balanced = Pins::start_with(behind, &[], &[("rest.yaml", THINGS)]).await;
    let addr = balanced.gateway.addr;
    let _first = connect_from("127.0.0.3", addr).await.unwrap();
    let mut second = connect_from("127.0.0.3", addr).await.unwrap();
    second
        .write_all(
            b"GET /pins.v1.Things/GetThing HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    assert_eq!(read_response(&mut second).await.0, 405);
    let _one = connect_from("127.0.0.4", addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut two = connect_from("127.0.0.4", addr).await.unwrap();
    assert!(closed_within(&mut two, Duration::from_millis(500)).await);

    // The process may open as many files as its hard limit allows.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = files.split_whitespace().skip(3).take(2).collect();
    // An unlimited hard limit leaves the soft one at the kernel's own bound (nr_open).
    let raised = numbers[0] == numbers[1]
        || (numbers[1] == "unlimited" && numbers[0].parse::<u64>().is_ok_and(|n| n > 65_536));
    assert!(raised, "{files}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_slow_connections_never_delay_another_client() {
    let pins = Pins::start(&[("rest.yaml", THINGS)]).await;
    let addr = pins.gateway.addr;
    let mut slow = Vec::new();
    for _ in 0..2_000 {
        if let Ok(mut stream) = connect_from("127.0.0.1", addr).await {
            let _ = stream
                .write_all(b"GET /pins.v1.Things/GetThing HTTP/1.1\r\nhost: gw\r\n")
                .await;
            slow.push(stream);
        }
    }
    let client = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let url = format!("http://{addr}/pins.v1.Things/EchoThing");
    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        let response = client
            .post(&url)
            .json(&json!({"name": format!("n{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        worst = worst.max(started.elapsed());
    }
    assert!(
        worst < Duration::from_millis(100),
        "the slowest request took {worst:?}"
    );
    drop(slow);
}

/// A REST API that records the paths it is asked for; `/api/admin/keys` is what no bound
/// value may reach.
async fn recording_api() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorded = seen.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let seen = recorded.clone();
        async move {
            let path = request.uri().path().to_owned();
            seen.lock().unwrap().push(path.clone());
            let headers = request.headers();
            let header = |name: &str| {
                headers
                    .get(name)
                    .map_or("", |v| v.to_str().unwrap_or(""))
                    .to_owned()
            };
            let mut response = axum::Json(json!({
                "name": header("authorization") + &header("cookie") + &header("x-user-token"),
                "path": path,
                "secret": header("x-secret"),
            }))
            .into_response();
            let control = if path.contains("private") {
                Some("private, max-age=60")
            } else if path.contains("public") {
                Some("public, max-age=60")
            } else {
                None
            };
            if let Some(control) = control {
                response
                    .headers_mut()
                    .insert("cache-control", control.parse().unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

use axum::response::IntoResponse;

const FILES_PROTO: &str = r#"syntax = "proto3";
package files.v1;
import "google/api/annotations.proto";
message Ask { string name = 1; string path = 2; }
message File { string name = 1; string path = 2; string secret = 3; }
service Files {
  rpc GetFile(Ask) returns (File) { option (google.api.http) = { get: "/v1/files/{name}" }; }
  rpc GetTree(Ask) returns (File) { option (google.api.http) = { get: "/v1/tree/{path=**}" }; }
}
"#;

/// A gateway in front of [`recording_api`]: REST -> REST for `files.v1.Files` (with `extra`
/// in the mapping), and a proxy at `/shop`.
async fn files_gateway(
    gateway_extra: &str,
    extra: &str,
) -> (
    common::RunningGateway,
    Arc<Mutex<Vec<String>>>,
    tempfile::TempDir,
) {
    let (api, seen) = recording_api().await;
    let gateway = format!("version: 1\nbackends:\n  api:\n    protocol: rest\n    address: http://{api}/api\n{gateway_extra}");
    let files = format!("version: 1\nfrontend: rest\nbackend:\n  use: api\nschemas: [files.proto]\nservices: [files.v1.Files]\n{extra}");
    let shop = format!("version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://{api}/api/shop\nproxy:\n  path: /shop\n");
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("schemas/files.proto", FILES_PROTO),
        ("mappings/files.yaml", &files),
        ("mappings/shop.yaml", &shop),
    ]);
    let vars = common::vars(&[("ADMIN_TOKEN", "open-sesame".to_owned())]);
    let loaded = common::load(dir.path(), vars).unwrap_or_else(|d| panic!("{}", d.render()));
    (common::serve(loaded).await, seen, dir)
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn bound_values_never_climb_out_of_their_route() {
    let (gateway, seen, _dir) = files_gateway("", "").await;
    let addr = gateway.addr;
    // What is allowed reaches the backend where it belongs.
    for (asked, reached) in [
        ("/v1/files/report.txt", "/api/v1/files/report.txt"),
        ("/v1/files/a%2Fb", "/api/v1/files/a%2Fb"),
        ("/v1/files/...", "/api/v1/files/..."),
        ("/v1/tree/a/b/c.txt", "/api/v1/tree/a/b/c.txt"),
        ("/shop/items/1", "/api/shop/items/1"),
    ] {
        let (status, body) = raw(addr, &get(asked)).await;
        assert_eq!(status, 200, "{asked}: {body}");
        assert_eq!(seen.lock().unwrap().last().unwrap(), reached, "{asked}");
    }
    let before = seen.lock().unwrap().len();
    for asked in [
        "/v1/files/..",
        "/v1/files/.",
        "/v1/files/%2e%2e",
        "/v1/files/%2E%2E",
        "/v1/files/.%2e",
        "/v1/files/%2e",
        "/v1/files/..%2F..%2Fadmin%2Fkeys",
        "/v1/files/%2e%2e%5Cadmin",
        "/v1/tree/a/../../admin/keys",
        "/v1/tree/a/%2e%2e/%2E%2E/admin/keys",
        "/v1/tree/./admin",
        "/v1/tree/..",
        "/shop/../admin/keys",
        "/shop/%2e%2e/admin/keys",
        "/shop/items/..%2F..%2F..%2Fadmin%2Fkeys",
        "/shop/.%2E/admin/keys",
        "/shop/%2e%2e%5cadmin",
    ] {
        let (status, body) = raw(addr, &get(asked)).await;
        assert_eq!(status, 400, "{asked}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], 3, "{asked}: {body}");
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "the backend was reached: {:?}",
        seen.lock().unwrap()
    );
}

async fn cached_get(
    gateway: &common::RunningGateway,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, String) {
    let mut request = reqwest::Client::new().get(gateway.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let status = response.headers()["x-cache-status"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    (status, body["name"].as_str().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn one_users_cached_reply_never_reaches_another() {
    let (gateway, _seen, _dir) = files_gateway(
        "",
        "options:\n  forward_headers: [authorization, cookie, x-user-token]\ncache:\n  ttl: 60s\n  credential_headers: [x-user-token]\n",
    )
    .await;
    let alice = [("authorization", "Bearer alice")];
    let bob = [("authorization", "Bearer bob")];
    let g = &gateway;
    // Authorization, without any gateway authentication: an entry per credential.
    assert_eq!(
        cached_get(g, "/v1/files/a", &alice).await,
        ("MISS".into(), "Bearer alice".into())
    );
    assert_eq!(
        cached_get(g, "/v1/files/a", &bob).await,
        ("MISS".into(), "Bearer bob".into())
    );
    assert_eq!(
        cached_get(g, "/v1/files/a", &alice).await,
        ("HIT".into(), "Bearer alice".into())
    );
    assert_eq!(
        cached_get(g, "/v1/files/a", &[]).await,
        ("MISS".into(), "".into())
    );
    assert_eq!(
        cached_get(g, "/v1/files/a", &[]).await,
        ("HIT".into(), "".into())
    );
    // Cookies, and a header the mapping names as a credential.
    assert_eq!(
        cached_get(g, "/v1/files/b", &[("cookie", "s=1")]).await.1,
        "s=1"
    );
    assert_eq!(
        cached_get(g, "/v1/files/b", &[("cookie", "s=2")]).await,
        ("MISS".into(), "s=2".into())
    );
    assert_eq!(
        cached_get(g, "/v1/files/b", &[("x-user-token", "t1")]).await,
        ("MISS".into(), "t1".into())
    );
    assert_eq!(
        cached_get(g, "/v1/files/b", &[("x-user-token", "t2")]).await,
        ("MISS".into(), "t2".into())
    );
    // `private`: kept for its own caller only, never in the shared entry.
    assert_eq!(cached_get(g, "/v1/files/private-c", &alice).await.0, "MISS");
    assert_eq!(cached_get(g, "/v1/files/private-c", &alice).await.0, "HIT");
    assert_eq!(
        cached_get(g, "/v1/files/private-c", &bob).await,
        ("MISS".into(), "Bearer bob".into())
    );
    assert_eq!(cached_get(g, "/v1/files/private-c", &[]).await.0, "MISS");
    assert_eq!(cached_get(g, "/v1/files/private-c", &[]).await.0, "MISS");
    // Explicitly `public`: one entry that every caller may be served.
    assert_eq!(
        cached_get(g, "/v1/files/public-d", &alice).await,
        ("MISS".into(), "Bearer alice".into())
    );
    assert_eq!(
        cached_get(g, "/v1/files/public-d", &bob).await,
        ("HIT".into(), "Bearer alice".into())
    );
    assert_eq!(cached_get(g, "/v1/files/public-d", &[]).await.0, "HIT");
}

/// `promtool check metrics` (Prometheus's own linter, installed by scripts/test) finds nothing
/// wrong with `text`.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/test installs Debian's prometheus package)");
    let mut stdin = promtool.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_endpoints_are_off_the_public_listener() {
    // By default: nowhere on the public listener.
    let (open, _, _dir) = files_gateway("", "").await;
    let response = reqwest::get(open.url("/_rosetta/metrics")).await.unwrap();
    assert_eq!(response.status(), 404);
    // With a token: only with it.
    let (tokened, _, _dir2) = files_gateway("admin:\n  token: ${ADMIN_TOKEN}\n", "").await;
    let response = reqwest::get(tokened.url("/_rosetta/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let response = reqwest::Client::new()
        .get(tokened.url("/_rosetta/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = reqwest::Client::new()
        .get(tokened.url("/_rosetta/metrics"))
        .bearer_auth("open-sesame")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // On a listener of their own: open there, absent from the public one.
    let live = Arc::new(open.gateway.live());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = listener.local_addr().unwrap();
    tokio::spawn(rosetta::server::Live::serve_admin(
        live,
        listener,
        std::future::pending(),
    ));
    let response = reqwest::get(format!("http://{admin}/_rosetta/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("rosetta_rate_limit_redis_failures_total"));
    promtool_accepts(&text);
    let response = reqwest::get(format!("http://{admin}/v1/files/a"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_hygiene() {
    let (gateway, seen, _dir) = files_gateway("", "").await;
    let addr = gateway.addr;
    // Host: missing, twice, or not a host is a 400 with the error body.
    for request in [
        "GET /v1/files/a HTTP/1.1\r\nconnection: close\r\n\r\n",
        "GET /v1/files/a HTTP/1.1\r\nhost: a\r\nhost: b\r\nconnection: close\r\n\r\n",
        "GET /v1/files/a HTTP/1.1\r\nhost: a b@c\r\nconnection: close\r\n\r\n",
        "GET /v1/files/a HTTP/1.1\r\nhost: evil/path\r\nconnection: close\r\n\r\n",
    ] {
        let (status, body) = raw(addr, request).await;
        assert_eq!(status, 400, "{request:?}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 3);
    }
    // HTTP/1.0 needs none.
    let (status, _) = raw(addr, "GET /v1/files/a HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200);

    // A proxy drops the headers that Connection names, both ways.
    let (status, body) = raw(
        addr,
        "GET /shop/x HTTP/1.1\r\nhost: gw\r\nconnection: close, x-secret\r\nx-secret: hop\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["secret"],
        "",
        "{body}"
    );
    // So does the REST frontend, for what it forwards as metadata.
    let (status, body) = raw(
        addr,
        "GET /v1/files/hop HTTP/1.1\r\nhost: gw\r\nconnection: close, authorization\r\nauthorization: Bearer hop\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["name"],
        Value::Null,
        "{body}"
    );

    // A query value that is not UTF-8 once unescaped: 400, on REST and GraphQL.
    let before = seen.lock().unwrap().len();
    let (status, body) = raw(addr, &get("/v1/files/a?path=%FF%FE")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not valid UTF-8"), "{body}");
    assert_eq!(seen.lock().unwrap().len(), before);
    let pins = Pins::start(&[("things.yaml", GRAPHQL)]).await;
    let (status, body) = raw(
        pins.gateway.addr,
        &get("/graphql?query=%7B__typename%7D&operationName=%C3%28"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn xml_with_a_second_root_is_a_client_fault() {
    let demo = common::demo().await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users:\n    protocol: grpc\n    address: http://{}\n",
        env!("CARGO_MANIFEST_DIR"),
        demo.backend.addr
    );
    let mapping = "version: 1\nfrontend: soap\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n";
    let dir = common::write_files(&[("gateway.yaml", &gateway), ("mappings/users.yaml", mapping)]);
    let loaded =
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render()));
    let soap = common::serve(loaded).await;
    let envelope = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="urn:rosetta:demo.v1.Users"><soap:Body><u:GetUser><u:id>1</u:id></u:GetUser></soap:Body></soap:Envelope>"#;
    let post = |body: String| {
        reqwest::Client::new()
            .post(soap.url("/soap/Users"))
            .header("content-type", "text/xml")
            .body(body)
            .send()
    };
    let good = post(format!("{envelope}\n<!-- done -->\n")).await.unwrap();
    assert_eq!(good.status(), 200, "{}", good.text().await.unwrap());
    for tail in ["<second/>", "trailing text", envelope] {
        let response = post(format!("{envelope}{tail}")).await.unwrap();
        assert_eq!(response.status(), 500, "{tail}");
        let text = response.text().await.unwrap();
        assert!(text.contains(":Client</faultcode>"), "{tail}: {text}");
        assert!(text.contains("after the document element"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_grpc_web_message_is_resource_exhausted() {
    let demo = common::demo().await;
    // One frame of 5 MiB (the body limit is 4 MiB): GetUserRequest with a long field 99.
    let size = 5usize << 20;
    let mut message = vec![0x9a, 0x06];
    let mut n = size;
    while n >= 0x80 {
        message.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    message.push(n as u8);
    message.resize(message.len() + size, b'x');
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    for content_type in ["application/grpc-web+proto", "application/grpc-web"] {
        // On a raw socket: the gateway answers once it has read the frame's length and closes,
        // so a client still writing the 5 MiB would see a broken pipe instead of the answer.
        let mut stream = TcpStream::connect(demo.gateway.addr).await.unwrap();
        let head = format!("POST /demo.v1.Users/GetUser HTTP/1.1\r\nhost: gw\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", frame.len());
        stream.write_all(head.as_bytes()).await.unwrap();
        let _ = stream.write_all(&frame).await;
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        // In the headers (trailers-only), or in the trailer frame of the body.
        let code = answer
            .split("\r\n")
            .find_map(|l| l.split("grpc-status:").nth(1).map(|v| v.trim().to_owned()));
        assert_eq!(code.as_deref(), Some("8"), "{content_type}: {answer}");
    }
    // And over gRPC itself.
    let create = demo
        .gateway
        .gateway
        .pool
        .get_service_by_name("demo.v1.Users")
        .and_then(|s| s.methods().find(|m| m.name() == "CreateUser"))
        .unwrap();
    let user = json!({"user": {"name": "x".repeat(size)}});
    let status = common::grpc_unary(&demo.gateway.base, &create, user)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
}
