//! API versions: two mappings serve the same routes for different versions, chosen by a header
//! or a media-type parameter of `Accept`; the old one announces its deprecation.

mod common;

use serde_json::Value;

#[tokio::test]
async fn the_version_a_request_names_picks_the_mapping() {
    let demo = common::demo().await;
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users:\n    protocol: grpc\n    address: http://{}\n",
        env!("CARGO_MANIFEST_DIR"),
        demo.backend.addr
    );
    let common_part = "frontend: rest\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n";
    let v1 = format!("version: 1\n{common_part}api_version:\n  value: \"1\"\n  header: Accept-Version\ndeprecated:\n  since: 2026-01-01\n  sunset: 2027-06-30\n  link: https://docs.example/v2\n");
    let v2 = format!("version: 1\n{common_part}api_version:\n  value: \"2\"\n  media_type: version\noptions:\n  proto_field_names: true\n");
    let dir = common::write_files(&[
        ("gateway.yaml", &gateway),
        ("mappings/v1.yaml", &v1),
        ("mappings/v2.yaml", &v2),
    ]);
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
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
