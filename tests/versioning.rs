//! API versions: two mappings serve the same routes for different versions, chosen by a header
//! or a media-type parameter of `Accept`; the old one announces its deprecation. And versions
//! by path prefix, each to a backend of its own.

mod common;

use serde_json::Value;

const USERS: &str = "frontend: rest\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n";

/// The demo backend, and a gateway with version 1 and 2 mappings of its users (`v1` and
/// `v2` are added to each).
async fn versions(v1: &str, v2: &str) -> (common::Demo, common::RunningGateway) {
    let demo = common::demo().await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users:\n    protocol: grpc\n    address: http://{}\n",
        env!("CARGO_MANIFEST_DIR"),
        demo.backend.addr
    );
    let v1 =
        format!("version: 1\n{USERS}api_version:\n  value: \"1\"\n  header: Accept-Version\n{v1}");
    let v2 =
        format!("version: 1\n{USERS}api_version:\n  value: \"2\"\n  media_type: version\n{v2}");
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/v1.yaml", &v1),
        ("mappings/v2.yaml", &v2),
    ]);
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
    (demo, gateway)
}

#[tokio::test]
async fn the_version_a_request_names_picks_the_mapping() {
    let deprecated =
        "deprecated:\n  since: 2026-01-01\n  sunset: 2027-06-30\n  link: https://docs.example/v2\n";
    let (_demo, gateway) = versions(deprecated, "options:\n  proto_field_names: true\n").await;
    let client = reqwest::Client::new();
    let get = |headers: &[(&str, &str)]| {
        let mut request = client.get(gateway.url("/v1/users/1"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };

    let response = get(&[("accept-version", "1")]).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["deprecation"], "@1767225600");
    assert_eq!(
        response.headers()["sunset"],
        "Wed, 30 Jun 2027 00:00:00 GMT"
    );
    assert_eq!(
        response.headers()["link"],
        "<https://docs.example/v2>; rel=\"deprecation\""
    );
    let body: Value = response.json().await.unwrap();
    assert!(body.get("createdAt").is_some(), "{body}");

    let response = get(&[("accept", "application/json; version=2")])
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("deprecation").is_none());
    let body: Value = response.json().await.unwrap();
    assert!(body.get("created_at").is_some(), "{body}");

    let response = get(&[("accept-version", "3")]).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "API version `3` is not served here"
    );
    let response = get(&[]).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "this route needs an API version"
    );
}

#[tokio::test]
async fn each_version_has_its_own_ip_rules() {
    // Version 1 refuses loopback, version 2 does not: the path's gate lets the request in,
    // and version 1's rules refuse it once the version is known.
    let (_demo, gateway) = versions("ip_rules:\n  deny: [127.0.0.0/8]\n", "").await;
    let client = reqwest::Client::new();
    let get = |name: &'static str, value: &'static str| {
        client
            .get(gateway.url("/v1/users/1"))
            .header(name, value)
            .send()
    };
    let v1 = get("accept-version", "1").await.unwrap();
    assert_eq!(v1.status(), 403);
    let v2 = get("accept", "application/json; version=2").await.unwrap();
    assert_eq!(v2.status(), 200);
}

#[tokio::test]
async fn two_mappings_of_one_version_still_conflict() {
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = "version: 1\nfrontend: rest\nbackend:\n  address: http://127.0.0.1:9\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\napi_version:\n  value: \"1\"\n  query: version\n";
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/a.yaml", mapping),
        ("mappings/b.yaml", mapping),
    ]);
    let text = common::load(dir.path(), common::vars(&[]))
        .err()
        .unwrap()
        .render();
    assert!(text.contains("matches the same requests"), "{text}");
}

#[tokio::test]
async fn a_path_prefix_serves_another_version_from_another_backend() {
    let (stable, next) = (common::demo().await, common::demo().await);
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  stable:\n    protocol: grpc\n    address: http://{}\n  next:\n    protocol: grpc\n    address: http://{}\n",
        env!("CARGO_MANIFEST_DIR"),
        stable.backend.addr,
        next.backend.addr
    );
    let mapping = |backend: &str, options: &str| {
        format!("version: 1\nfrontend: rest\nbackend:\n  use: {backend}\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n{options}")
    };
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/stable.yaml", &mapping("stable", "")),
        (
            "mappings/next.yaml",
            &mapping("next", "options:\n  path_prefix: /next\n"),
        ),
    ]);
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
    let client = reqwest::Client::new();
    let created: Value = client
        .post(gateway.url("/next/v1/users"))
        .json(&serde_json::json!({"name": "Mary Jackson"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let next_user = client
        .get(gateway.url(&format!("/next/v1/users/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(next_user.status(), 200);
    // The stable version's backend never saw the new user.
    let stable_user = client
        .get(gateway.url(&format!("/v1/users/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stable_user.status(), 404);
    // Both serve what both backends have, and the prefixed routes are in the OpenAPI document.
    for path in ["/v1/users/1", "/next/v1/users/1"] {
        assert_eq!(
            client.get(gateway.url(path)).send().await.unwrap().status(),
            200
        );
    }
    let openapi: Value = client
        .get(gateway.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["paths"].get("/next/v1/users/{id}").is_some());

    // A prefix that is not a plain path is refused with its place.
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway_yaml_nowhere()),
        (
            "mappings/bad.yaml",
            &mapping("stable", "options:\n  path_prefix: /v{n}/\n"),
        ),
    ]);
    let text = common::load(dir.path(), common::vars(&[]))
        .err()
        .unwrap()
        .render();
    assert!(
        text.contains("bad.yaml:8:") && text.contains("is not a path prefix such as /v2"),
        "{text}"
    );
}

fn gateway_yaml_nowhere() -> String {
    format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  stable:\n    protocol: grpc\n    address: http://127.0.0.1:9\n",
        env!("CARGO_MANIFEST_DIR")
    )
}
