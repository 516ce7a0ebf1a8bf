//! Reverse proxying (`proxy` mappings): requests under a path relayed to an HTTP backend as they
//! are, with header changes both ways; GraphQL relayed to a GraphQL endpoint the same way.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};

async fn upstream() -> std::net::SocketAddr {
    async fn echo(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut out = HeaderMap::new();
        if uri.path().ends_with("/slow") {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        if uri.path().ends_with("/big") {
            return (StatusCode::OK, out, vec![b'x'; 2 << 20]);
        }
        out.insert("x-upstream", "1".parse().unwrap());
        out.insert("content-type", "application/json".parse().unwrap());
        let seen = json!({
            "method": method.as_str(),
            "uri": uri.to_string(),
            "cookie": headers.get("cookie").map(|v| v.to_str().unwrap()),
            "x-gateway": headers.get("x-gateway").map(|v| v.to_str().unwrap()),
            "body": body.iter().map(|b| *b as u64).sum::<u64>(),
        });
        let status = if method == Method::POST {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (status, out, serde_json::to_vec(&seen).unwrap())
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(echo)).await;
    });
    addr
}

#[tokio::test]
async fn requests_are_relayed_with_header_changes() {
    let addr = upstream().await;
    let demo = common::demo().await;
    let shop = format!("version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://{addr}/api\noptions:\n  timeout: 300ms\nproxy:\n  path: /shop\n  request_headers:\n    remove: [cookie]\n    set:\n      x-gateway: rosetta\n  response_headers:\n    remove: [x-upstream]\n");
    let graphql = format!("version: 1\nfrontend: rest\nbackend:\n  protocol: graphql\n  address: {}\nproxy:\n  path: /upstream-graphql\n", demo.gateway.url("/graphql"));
    let down = "version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://127.0.0.1:9\nproxy:\n  path: /down\n";
    let dir = common::write_files(&[
        (
            "gateway.yaml",
            "version: 1\nlimits:\n  max_body_size: 1MiB\n",
        ),
        ("mappings/shop.yaml", &shop),
        ("mappings/graphql.yaml", &graphql),
        ("mappings/down.yaml", down),
    ]);
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
    let client = reqwest::Client::new();

    let response = client
        .get(gateway.url("/shop/items/7?color=red&size=2"))
        .header("cookie", "session=secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("x-upstream").is_none());
    let seen: Value = response.json().await.unwrap();
    assert_eq!(
        seen,
        json!({"method": "GET", "uri": "/api/items/7?color=red&size=2", "cookie": null, "x-gateway": "rosetta", "body": 0})
    );
    // Escapes travel as they came; a path that could climb out of the backend's base is refused.
    let response = client
        .get(gateway.url("/shop/a%20b/%E2%82%AC;v=1?q=a%2Fb&empty="))
        .send()
        .await
        .unwrap();
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["uri"], "/api/a%20b/%E2%82%AC;v=1?q=a%2Fb&empty=");
    // (Whole `%2e%2e` segments are resolved by the client's URL parser before they are sent.)
    for climbing in ["/shop/a/..%2F..%2Fsecret", "/shop/%2e%2e%5Csecret"] {
        let response = client.get(gateway.url(climbing)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{climbing}");
    }

    // Any method and status; the body's bytes arrive unchanged.
    let body: Vec<u8> = (0..=255).collect();
    let response = client
        .post(gateway.url("/shop"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["uri"], "/api");
    assert_eq!(seen["body"], body.iter().map(|b| *b as u64).sum::<u64>());

    // A backend slower than the mapping's timeout: 504; one answering more than the body
    // limit: 502, without the gateway keeping more than the limit.
    let slow = client.get(gateway.url("/shop/slow")).send().await.unwrap();
    assert_eq!(slow.status(), 504);
    let big = client.get(gateway.url("/shop/big")).send().await.unwrap();
    assert_eq!(big.status(), 502);
    let error: Value = big.json().await.unwrap();
    assert_eq!(
        error["message"],
        "the backend's response is larger than the limit of 1048576 bytes"
    );

    // GraphQL to a GraphQL endpoint, relayed.
    let answer: Value = client
        .post(gateway.url("/upstream-graphql"))
        .json(&json!({"query": "{ getUser(id: 1) { name } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"data": {"getUser": {"name": "Ada Lovelace"}}})
    );

    // A backend that does not answer: 503 in the REST error shape, nothing about its address.
    let response = client.get(gateway.url("/down/x")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error,
        json!({"code": 14, "message": "the backend is unavailable", "details": []})
    );
}

#[tokio::test]
async fn proxy_mappings_are_checked() {
    let mapping = "version: 1\nfrontend: graphql\nbackend:\n  protocol: rest\n  address: http://127.0.0.1:9\nservices: [x.Y]\ncache: {ttl: 60s}\nproxy:\n  path: shop\n  request_headers:\n    remove: [\"bad header\"]\n";
    let dir = common::write_files(&[
        ("gateway.yaml", "version: 1\n"),
        ("mappings/m.yaml", mapping),
    ]);
    let Err(diags) = common::load(dir.path(), common::vars(&[])) else {
        panic!("the mapping is wrong");
    };
    let text = diags.render();
    for wanted in [
        "`proxy` is for mappings with `frontend: rest`",
        "a proxy relays requests as they are: leave out `schemas` and `services`",
        "`shop` is not a path prefix such as /shop",
        "`bad header` is not a header name",
        "a proxy relays responses as they are and does not cache them: remove `cache`",
    ] {
        assert!(text.contains(wanted), "{wanted} in {text}");
    }
}
