//! The cache against real servers: hits shared by REST, GraphQL and gRPC for the same input,
//! mutations never cached, single-flight (100 concurrent misses, one backend call), the
//! backend's Cache-Control, Vary and Set-Cookie, stale-while-revalidate and stale-if-error,
//! entries per consumer, two gateways sharing a real Redis, and the purge endpoint.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::pins::Pins;
use common::redis::RedisServer;
use serde_json::{json, Value};

fn mapping(frontend: &str, cache: &str) -> String {
    format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\ncache: {cache}\n")
}

/// GetThing over REST: the status, `X-Cache-Status`, and the `count` the backend answered with
/// (which call made the reply).
async fn get(pins: &Pins, name: &str, headers: &[(&str, &str)]) -> (u16, String, i64) {
    let mut request = reqwest::Client::new()
        .post(pins.gateway.url("/pins.v1.Things/GetThing"))
        .json(&json!({"name": name}));
    for (header, value) in headers {
        request = request.header(*header, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("x-cache-status")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = response.json().await.unwrap();
    (status, cache, body["count"].as_i64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_are_cached_once_for_every_frontend() {
    let cache = "{ttl: 60s}";
    let pins = Pins::start_with(
        "",
        &[],
        &[
            ("rest.yaml", &mapping("rest", cache)),
            ("graphql.yaml", &mapping("graphql", cache)),
            ("grpc.yaml", &mapping("grpc", cache)),
        ],
    )
    .await;
    assert_eq!(get(&pins, "cache-a", &[]).await, (200, "MISS".into(), 1));
    let response = reqwest::Client::new()
        .post(pins.gateway.url("/pins.v1.Things/GetThing"))
        .json(&json!({"name": "cache-a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-cache-status"], "HIT");
    assert!(response.headers().contains_key("age"));

    // GraphQL and gRPC ask for the same input: the same entry.
    let answer: Value = pins
        .gateway
        .graphql("{ getThing(name: \"cache-a\") { count } }")
        .await;
    assert_eq!(answer["data"]["getThing"]["count"], 1, "{answer}");
    let reply = pins
        .grpc("GetThing", json!({"name": "cache-a"}))
        .await
        .unwrap();
    assert_eq!(reply.get_field_by_name("count").unwrap().as_i32(), Some(1));
    assert_eq!(pins.calls.load(Ordering::SeqCst), 1);

    // Another input is another entry; a mutation is never cached.
    assert_eq!(get(&pins, "cache-b", &[]).await, (200, "MISS".into(), 2));
    for _ in 0..2 {
        let response = reqwest::Client::new()
            .post(pins.gateway.url("/pins.v1.Things/EchoThing"))
            .json(&json!({"name": "cache-a"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-cache-status"], "BYPASS");
    }
    assert_eq!(pins.calls.load(Ordering::SeqCst), 4);

    // A client's no-cache goes to the backend.
    assert_eq!(
        get(&pins, "cache-a", &[("cache-control", "no-cache")]).await,
        (200, "BYPASS".into(), 5)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_concurrent_misses_make_one_call() {
    let pins = Pins::start_with("", &[], &[("rest.yaml", &mapping("rest", "{ttl: 60s}"))]).await;
    // "slow" answers after 2 s, so every request arrives while the first is in flight.
    let requests = (0..100).map(|_| {
        reqwest::Client::new()
            .post(pins.gateway.url("/pins.v1.Things/GetThing"))
            .json(&json!({"name": "slow"}))
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut statuses: Vec<String> = responses
        .iter()
        .map(|r| {
            let r = r.as_ref().unwrap();
            assert_eq!(r.status(), 200);
            r.headers()["x-cache-status"].to_str().unwrap().to_owned()
        })
        .collect();
    statuses.sort();
    statuses.dedup();
    assert_eq!(pins.calls.load(Ordering::SeqCst), 1);
    assert_eq!(statuses, ["HIT", "MISS"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backend_says_what_may_be_kept() {
    let pins = Pins::start_with("", &[], &[("rest.yaml", &mapping("rest", "{ttl: 60s}"))]).await;
    // no-store and Set-Cookie: never kept.
    for name in ["cache-no-store", "cache-cookie"] {
        let (_, first, n) = get(&pins, name, &[]).await;
        let (_, second, m) = get(&pins, name, &[]).await;
        assert_eq!(
            (first.as_str(), second.as_str()),
            ("MISS", "MISS"),
            "{name}"
        );
        assert_ne!(n, m);
    }
    // Vary: x-tenant: an entry per tenant.
    assert_eq!(
        get(&pins, "cache-vary", &[("x-tenant", "a")]).await.1,
        "MISS"
    );
    assert_eq!(
        get(&pins, "cache-vary", &[("x-tenant", "a")]).await.1,
        "HIT"
    );
    assert_eq!(
        get(&pins, "cache-vary", &[("x-tenant", "b")]).await.1,
        "MISS"
    );
    // max-age=1 is shorter than the mapping's ttl.
    assert_eq!(get(&pins, "cache-short", &[]).await.1, "MISS");
    assert_eq!(get(&pins, "cache-short", &[]).await.1, "HIT");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&pins, "cache-short", &[]).await.1, "MISS");
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_answers_while_revalidating_and_on_errors() {
    let cache = "{ttl: 1s, stale_while_revalidate: 1s, stale_if_error: 60s}";
    let pins = Pins::start_with("", &[], &[("rest.yaml", &mapping("rest", cache))]).await;
    assert_eq!(get(&pins, "cache-s", &[]).await, (200, "MISS".into(), 1));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Stale but within stale-while-revalidate: the old reply at once, a new one fetched.
    assert_eq!(get(&pins, "cache-s", &[]).await, (200, "STALE".into(), 1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(&pins, "cache-s", &[]).await, (200, "HIT".into(), 2));
    // The backend fails once the entry is stale: stale-if-error answers with it.
    pins.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(get(&pins, "cache-s", &[]).await, (200, "STALE".into(), 2));
    // A key never stored has nothing to fall back on.
    assert_eq!(get(&pins, "cache-t", &[]).await.0, 503);
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_per_consumer_unless_public() {
    let extra = format!(
        "authenticators:\n  keys:\n    api_key: {{}}\nconsumers:\n  a:\n    api_keys: [\"sha256:{}\"]\n  b:\n    api_keys: [\"sha256:{}\"]\n",
        hex("key-a"),
        hex("key-b")
    );
    let private = format!(
        "{}auth: {{any_of: [keys]}}\n",
        mapping("rest", "{ttl: 60s}")
    );
    let pins = Pins::start_with(&extra, &[], &[("rest.yaml", &private)]).await;
    assert_eq!(
        get(&pins, "cache-p", &[("x-api-key", "key-a")]).await.1,
        "MISS"
    );
    assert_eq!(
        get(&pins, "cache-p", &[("x-api-key", "key-a")]).await.1,
        "HIT"
    );
    assert_eq!(
        get(&pins, "cache-p", &[("x-api-key", "key-b")]).await.1,
        "MISS"
    );

    let public = format!(
        "{}auth: {{any_of: [keys]}}\n",
        mapping("rest", "{ttl: 60s, public: true}")
    );
    let pins = Pins::start_with(&extra, &[], &[("rest.yaml", &public)]).await;
    assert_eq!(
        get(&pins, "cache-p", &[("x-api-key", "key-a")]).await.1,
        "MISS"
    );
    assert_eq!(
        get(&pins, "cache-p", &[("x-api-key", "key-b")]).await.1,
        "HIT"
    );
}

fn hex(text: &str) -> String {
    rosetta::stages::auth::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_share_redis_and_purge_it() {
    let redis = RedisServer::start().await;
    let extra = "caching:\n  redis: ${REDIS}\n  purge_token: ${PURGE}\n";
    let vars = [
        ("REDIS", redis.url.clone()),
        ("PURGE", "let me purge".to_owned()),
    ];
    let cached = mapping("rest", "{ttl: 60s}");
    let one = Pins::start_with(extra, &vars, &[("rest.yaml", &cached)]).await;
    let two = Pins::start_with(extra, &vars, &[("rest.yaml", &cached)]).await;
    assert_eq!(get(&one, "cache-r", &[]).await.1, "MISS");
    // The other gateway finds it in Redis (its own backend never called).
    assert_eq!(get(&two, "cache-r", &[]).await, (200, "HIT".into(), 1));
    assert_eq!(two.calls.load(Ordering::SeqCst), 0);

    // Purge: the token is required; then the method's entries are gone everywhere.
    let purge = |token: &str| {
        reqwest::Client::new()
            .post(
                one.gateway
                    .url("/_rosetta/cache/purge?method=pins.v1.Things.GetThing"),
            )
            .bearer_auth(token)
            .send()
    };
    assert_eq!(purge("wrong").await.unwrap().status(), 401);
    assert_eq!(purge("let me purge").await.unwrap().status(), 204);
    assert_eq!(get(&one, "cache-r", &[]).await.1, "MISS");
    // The second gateway's memory still has it until its own purge; Redis does not.
    let purged = reqwest::Client::new()
        .post(two.gateway.url("/_rosetta/cache/purge"))
        .bearer_auth("let me purge")
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 204);
    assert_eq!(get(&two, "cache-r", &[]).await.1, "MISS");
}
