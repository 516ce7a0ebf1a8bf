//! Request hygiene against real servers: CORS (preflights, origins, `*` with credentials
//! refused), IP allow and deny lists (through trusted proxies), header count and size limits
//! (431), and the body size limit for a chunked body (413 without buffering it).

mod common;

use common::pins::Pins;
use serde_json::{json, Value};

const THINGS: &str = "version: 1\nfrontend: rest\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n";
const ECHO: &str = "/pins.v1.Things/EchoThing";

#[tokio::test(flavor = "multi_thread")]
async fn cors_answers_browsers() {
    let extra = "cors:\n  allow_origins: [https://app.example]\n  allow_credentials: true\n  expose_headers: [x-cache-status]\n  max_age: 10m\n";
    let pins = Pins::start_with(extra, &[], &[("rest.yaml", THINGS)]).await;
    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, pins.gateway.url(ECHO))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, x-api-key")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let headers = preflight.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(
        headers["access-control-allow-headers"],
        "content-type, x-api-key"
    );
    assert_eq!(headers["access-control-max-age"], "600");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    // The call itself carries the origin back; another origin gets nothing to allow it.
    let call = client
        .post(pins.gateway.url(ECHO))
        .header("origin", "https://app.example")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(
        call.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(
        call.headers()["access-control-expose-headers"],
        "x-cache-status"
    );
    let other = client
        .post(pins.gateway.url(ECHO))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // `*` with credentials is a load error.
    let extra = "cors:\n  allow_origins: [\"*\"]\n  allow_credentials: true\n";
    let text = common::pins::load_errors(extra, &[("rest.yaml", THINGS)]);
    assert!(
        text.contains("cannot go with `allow_credentials`") && text.contains("gateway.yaml:10:"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ip_allow_and_deny_lists() {
    let denied = format!("{THINGS}ip_rules:\n  deny: [127.0.0.0/8]\n");
    let pins = Pins::start_with("", &[], &[("rest.yaml", &denied)]).await;
    let response = reqwest::Client::new()
        .post(pins.gateway.url(ECHO))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["message"],
        "the client's address may not call this API"
    );
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 0);

    // Only 10.0.0.0/8, from behind a trusted proxy (this test's 127.0.0.1).
    let extra = "rate_limiting:\n  trusted_proxies: [127.0.0.1]\nip_rules:\n  allow: [10.0.0.0/8]\n  deny: [10.6.6.6]\n";
    let pins = Pins::start_with(extra, &[], &[("rest.yaml", THINGS)]).await;
    for (forwarded, expected) in [
        (None, 403),
        (Some("10.1.2.3"), 200),
        (Some("10.6.6.6"), 403),
        (Some("192.168.1.1"), 403),
        (Some("10.1.2.3, 192.168.1.1"), 403),
    ] {
        let mut request = reqwest::Client::new()
            .post(pins.gateway.url(ECHO))
            .json(&json!({"name": "x"}));
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert_eq!(status, expected, "{forwarded:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn header_and_body_limits() {
    let extra = "limits:\n  max_body_size: 1MiB\n  max_headers: 20\n  max_header_bytes: 4KiB\n";
    let pins = Pins::start_with(extra, &[], &[("rest.yaml", THINGS)]).await;
    let client = reqwest::Client::new();
    let mut many = client
        .post(pins.gateway.url(ECHO))
        .json(&json!({"name": "x"}));
    for i in 0..30 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let response = many.send().await.unwrap();
    assert_eq!(response.status(), 431);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("at most 20 headers"));
    let big = client
        .post(pins.gateway.url(ECHO))
        .header("x-big", "a".repeat(5000))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 431);

    // A chunked body (no Content-Length) larger than the limit: 413 once the limit is passed,
    // without waiting for (or keeping) the rest.
    let chunks = futures::stream::iter(
        (0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 64 << 10]))),
    );
    let response = client
        .post(pins.gateway.url(ECHO))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 0);

    // More headers than the HTTP/1.1 server itself takes is a load error, not a silent cap.
    let text = common::pins::load_errors("limits:\n  max_headers: 500\n", &[("rest.yaml", THINGS)]);
    assert!(text.contains("can be at most 100"), "{text}");
}
