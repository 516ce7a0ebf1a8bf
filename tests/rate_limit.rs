//! Rate limits against real servers: GCRA per client address (through trusted proxies only,
//! spoofing attempts included), per header, per consumer's plan, per route, per credential
//! and daily quotas; the 429 and its headers on
//! REST, RESOURCE_EXHAUSTED on gRPC, a GraphQL error; two gateways sharing one real Redis
//! enforcing one limit; Redis killed mid-test with fail-open and fail-closed.

mod common;

use common::pins::Pins;
use common::redis::RedisServer;
use serde_json::{json, Value};

const THINGS: &str = "version: 1\nfrontend: rest\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n";

async fn echo(pins: &Pins, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(pins.gateway.url("/pins.v1.Things/EchoThing"))
        .json(&json!({"name": "x"}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_per_client_address_and_its_headers() {
    let extra = "rate_limits:\n  - {key: ip, requests: 3, per: 60s, name: per-client}\n";
    let graphql = "version: 1\nfrontend: graphql\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\nrate_limits:\n  - {key: global, requests: 1, per: 60s}\n";
    let grpc = "version: 1\nfrontend: grpc\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\nrate_limits:\n  - {key: ip, requests: 1, per: 60s}\n";
    let pins = Pins::start_with(
        extra,
        &[],
        &[
            ("rest.yaml", THINGS),
            ("graphql.yaml", graphql),
            ("grpc.yaml", grpc),
        ],
    )
    .await;
    for remaining in ["2", "1", "0"] {
        let response = echo(&pins, &[]).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["x-ratelimit-limit"], "3");
        assert_eq!(headers["x-ratelimit-remaining"], remaining);
        assert_eq!(headers["ratelimit-policy"], "\"per-client\";q=3;w=60");
        assert!(headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with(&format!("\"per-client\";r={remaining};t=")));
    }
    let refused = echo(&pins, &[]).await;
    assert_eq!(refused.status(), 429);
    let headers = refused.headers().clone();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(headers["x-ratelimit-reset"], headers["retry-after"]);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 8);
    assert_eq!(body["message"], "rate limit `per-client` exceeded");
    // The backend saw the three calls only.
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 3);

    // GraphQL: an error with RESOURCE_EXHAUSTED once the limit is spent.
    let query = json!({"query": "mutation { echoThing(name: \"x\") { name } }"});
    let post = || {
        reqwest::Client::new()
            .post(pins.gateway.url("/graphql"))
            .json(&query)
            .send()
    };
    let first: Value = post().await.unwrap().json().await.unwrap();
    assert_eq!(first["data"]["echoThing"]["name"], "x", "{first}");
    let second: Value = post().await.unwrap().json().await.unwrap();
    assert_eq!(
        second["errors"][0]["extensions"]["code"], "RESOURCE_EXHAUSTED",
        "{second}"
    );

    // gRPC: RESOURCE_EXHAUSTED, with the headers as metadata (counted by the client's
    // address, which gRPC calls carry too).
    pins.grpc("EchoThing", json!({"name": "x"})).await.unwrap();
    let refused = pins
        .grpc("EchoThing", json!({"name": "x"}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(refused.metadata().get("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_behind_trusted_proxies_and_spoofing() {
    let extra = "rate_limiting:\n  trusted_proxies: [127.0.0.1]\nrate_limits:\n  - {key: ip, requests: 2, per: 60s}\n";
    let pins = Pins::start_with(extra, &[], &[("rest.yaml", THINGS)]).await;
    let status = |xff: &'static str| {
        let pins = &pins;
        async move {
            echo(pins, &[("x-forwarded-for", xff)])
                .await
                .status()
                .as_u16()
        }
    };
    // The gateway's peer (127.0.0.1) is trusted: the client is the right-most other hop.
    assert_eq!(status("10.0.0.1").await, 200);
    assert_eq!(status("10.0.0.1").await, 200);
    assert_eq!(status("10.0.0.1").await, 429);
    // A client that writes its own X-Forwarded-For cannot hide behind another address: the
    // proxy appended the real one, and that is the right-most untrusted hop.
    assert_eq!(status("10.0.0.99, 10.0.0.1").await, 429);
    assert_eq!(status("10.0.0.1, 127.0.0.1").await, 429);
    // Another client has its own budget; RFC 7239 `Forwarded` is read too.
    assert_eq!(status("10.0.0.2").await, 200);
    let forwarded = echo(&pins, &[("forwarded", "for=10.0.0.1;proto=https")]).await;
    assert_eq!(forwarded.status(), 429);

    // Without trusted proxies the header means nothing: every request is the peer's.
    let extra = "rate_limits:\n  - {key: ip, requests: 2, per: 60s}\n";
    let pins = Pins::start_with(extra, &[], &[("rest.yaml", THINGS)]).await;
    for (xff, expected) in [("10.0.0.1", 200), ("10.0.0.2", 200), ("10.0.0.3", 429)] {
        let response = echo(&pins, &[("x-forwarded-for", xff)]).await;
        assert_eq!(response.status(), expected, "{xff}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_per_header_and_per_plan() {
    let extra = format!(
        "authenticators:\n  keys:\n    api_key: {{}}\nconsumers:\n  small:\n    plan: small\n    api_keys: [\"sha256:{}\"]\n  big:\n    plan: big\n    api_keys: [\"sha256:{}\"]\nplans:\n  small:\n    rate_limits: [{{key: consumer, requests: 1, per: 60s}}]\n  big: {{}}\n",
        hex("key-small"),
        hex("key-big")
    );
    let mapping = format!(
        "{THINGS}auth:\n  any_of: [keys]\nrate_limits:\n  - {{key: header, header: x-tenant, requests: 2, per: 60s}}\n"
    );
    let pins = Pins::start_with(&extra, &[], &[("rest.yaml", &mapping)]).await;
    let call = |key: &'static str, tenant: &'static str| {
        let pins = &pins;
        async move {
            echo(pins, &[("x-api-key", key), ("x-tenant", tenant)])
                .await
                .status()
                .as_u16()
        }
    };
    // The small plan allows one call; the big plan only the tenant's two.
    assert_eq!(call("key-small", "a").await, 200);
    assert_eq!(call("key-small", "b").await, 429);
    assert_eq!(call("key-big", "c").await, 200);
    assert_eq!(call("key-big", "c").await, 200);
    assert_eq!(call("key-big", "c").await, 429);
    assert_eq!(call("key-big", "d").await, 200);
    // Unauthenticated calls are refused before they are counted.
    assert_eq!(echo(&pins, &[("x-tenant", "e")]).await.status(), 401);
    assert_eq!(call("key-big", "e").await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_per_route_per_credential_and_daily_quotas() {
    // Each method has its own budget of one a minute; each Authorization value two a day.
    let mapping = format!(
        "{THINGS}rate_limits:\n  - {{key: route, requests: 1, per: 60s}}\n  - {{key: credential, requests: 2, per: 1d, name: daily}}\n"
    );
    let pins = Pins::start_with("", &[], &[("rest.yaml", &mapping)]).await;
    let post = |method: &'static str, authorization: Option<&'static str>| {
        let pins = &pins;
        async move {
            let mut request = reqwest::Client::new()
                .post(pins.gateway.url(&format!("/pins.v1.Things/{method}")))
                .json(&json!({"name": "x"}));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            request.send().await.unwrap()
        }
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(post("EchoThing", Some("Bearer a")).await), 200);
    assert_eq!(status(post("EchoThing", Some("Bearer b")).await), 429);
    // Another method is another route: its own budget.
    assert_eq!(status(post("GetThing", Some("Bearer a")).await), 200);
    // `Bearer a` has used its two calls of the day: refused until tomorrow, whatever the route.
    let refused = post("ListThings", Some("Bearer a")).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 3600, "{retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["message"], "rate limit `daily` exceeded");
    // Without the header the credential limit does not count a call: only its route does.
    for expected in [200, 429] {
        let response = reqwest::Client::new()
            .post(pins.gateway.url("/pins.v1.Things/BatchGetThings"))
            .json(&json!({"ids": ["1"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(status(response), expected);
    }
}

fn hex(text: &str) -> String {
    rosetta::stages::auth::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_share_one_limit_in_redis() {
    let mut redis = RedisServer::start().await;
    let extra = "rate_limiting:\n  redis: ${REDIS}\nrate_limits:\n  - {key: global, requests: 5, per: 60s}\nadmin:\n  token: ${ADMIN}\n";
    let vars = [("REDIS", redis.url.clone()), ("ADMIN", "sesame".to_owned())];
    let one = Pins::start_with(extra, &vars, &[("rest.yaml", THINGS)]).await;
    let two = Pins::start_with(extra, &vars, &[("rest.yaml", THINGS)]).await;
    let mut allowed = 0;
    for i in 0..12 {
        let pins = if i % 2 == 0 { &one } else { &two };
        let response = echo(pins, &[]).await;
        match response.status().as_u16() {
            200 => allowed += 1,
            429 => assert!(response.headers().contains_key("retry-after")),
            other => panic!("status {other}"),
        }
    }
    assert_eq!(allowed, 5, "one limit across both gateways");

    // Redis goes away: fail open (the default) lets calls through, and says so.
    redis.stop();
    assert_eq!(echo(&one, &[]).await.status(), 200);
    let metrics = one.gateway.metrics("sesame").await;
    assert!(
        metrics.contains("\nrosetta_rate_limit_redis_failures_total 1\n"),
        "{metrics}"
    );

    // Fail closed refuses them with 503.
    let closed = "rate_limiting:\n  redis: ${REDIS}\n  redis_failure: closed\nrate_limits:\n  - {key: global, requests: 5, per: 60s}\n";
    let three = Pins::start_with(closed, &vars, &[("rest.yaml", THINGS)]).await;
    assert_eq!(echo(&three, &[]).await.status(), 503);

    // Back again: the gateways reconnect.
    redis.restart().await;
    let mut status = 0;
    for _ in 0..20 {
        status = echo(&three, &[]).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_with_its_own_limit_queues_then_refuses() {
    // A second backend at the same server, with its own limit: two calls a second, spread
    // evenly, one call waiting. (Indented, the lines continue gateway.yaml's `backends`.)
    let extra = "  limited:\n    protocol: grpc\n    address: http://${THINGS}\n    rate_limit: {requests: 2, per: 1s, queue: 1}\n";
    let mapping = "version: 1\nfrontend: rest\nbackend:\n  use: limited\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n";
    let pins = Pins::start_with(extra, &[], &[("rest.yaml", mapping)]).await;
    let started = std::time::Instant::now();
    let calls = (0..4).map(|_| echo(&pins, &[]));
    let mut statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort_unstable();
    // One at once, one after waiting its turn (~500 ms), two refused: the queue was full.
    assert_eq!(statuses, [200, 200, 429, 429]);
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn rate_limit_mistakes_are_located() {
    let extra = "rate_limiting:\n  trusted_proxies: [10.0.0.0/33]\nrate_limits:\n  - {key: header, requests: 5, per: 1s}\n  - {key: ip, requests: 0, per: 1s}\n";
    let text = common::pins::load_errors(extra, &[("rest.yaml", THINGS)]);
    for expected in [
        "`10.0.0.0/33` is not an address or a CIDR block",
        "a limit with `key: header` names its `header`",
        "`requests`, `burst` and `per` of a limit are more than zero",
        "gateway.yaml:12:",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
}
