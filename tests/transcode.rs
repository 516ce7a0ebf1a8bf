//! `rosetta transcode`: the dry run of a request through the demo configuration, with the
//! backend replaced by a recorder. The reports are snapshots.

use rosetta::demo;
use rosetta::toolchain::transcode::transcode;

async fn report(request: &str, response: Option<&str>) -> Result<String, String> {
    let vars = std::sync::Arc::new(|name: &str| {
        (name == demo::GRPC_ADDRESS_VAR).then(|| "127.0.0.1:9".to_owned())
    });
    transcode(
        demo::files(),
        demo::GATEWAY_FILE.as_ref(),
        vars,
        ("request.yaml", request),
        response.map(|r| ("response.yaml", r)),
    )
    .await
    .map_err(|d| d.render())
}

#[tokio::test]
async fn a_unary_call_with_path_query_body_and_headers() {
    let request = r#"
method: PATCH
path: /v1/users/3?update_mask=email
headers:
  authorization: Bearer abc
  cookie: not forwarded
body: {"email": "grace@navy.mil"}
"#;
    let response = r#"
messages:
  - {"id": "3", "name": "Grace Hopper", "email": "grace@navy.mil"}
metadata:
  x-served-by: replica-2
"#;
    insta::assert_snapshot!("unary", report(request, Some(response)).await.unwrap());
}

#[tokio::test]
async fn streams_both_ways() {
    let request =
        "method: GET\npath: /v1/users?role=ROLE_ADMIN\nheaders:\n  accept: application/x-ndjson\n";
    let response = r#"
messages:
  - {"id": "1", "name": "Ada"}
  - {"id": "2", "name": "Alan"}
status: {code: 10, message: "aborted mid-stream"}
"#;
    insta::assert_snapshot!(
        "server_stream",
        report(request, Some(response)).await.unwrap()
    );
    let request = "method: POST\npath: /v1/users:upload\nbody: |\n  {\"user\": {\"name\": \"a\"}}\n  {\"user\": {\"name\": \"b\"}}\n";
    insta::assert_snapshot!(
        "client_stream_without_response",
        report(request, None).await.unwrap()
    );
}

#[tokio::test]
async fn requests_the_gateway_refuses_make_no_call() {
    let request = "method: GET\npath: /v1/users/1?colour=red\n";
    insta::assert_snapshot!("refused", report(request, None).await.unwrap());
    let response = "status: {code: 5, message: \"user 9 not found\"}\n";
    let request = "method: GET\npath: /v1/users/9\n";
    insta::assert_snapshot!(
        "backend_error",
        report(request, Some(response)).await.unwrap()
    );
}

#[tokio::test]
async fn bad_request_files_get_located_errors() {
    let errors = report("method: GET\npth: /v1/users/1\n", None)
        .await
        .unwrap_err();
    assert!(errors.contains("unknown field `pth`"), "{errors}");
    assert!(errors.contains("request.yaml:2:1"), "{errors}");
    let errors = report("method: \"G E T\"\npath: /v1/users/1\n", None)
        .await
        .unwrap_err();
    assert!(errors.contains("`G E T` is not an HTTP method"), "{errors}");
    assert!(errors.contains("request.yaml:1:9"), "{errors}");
    let errors = report("method: GET\npath: /v1/users/1\n", Some("messages: 5\n"))
        .await
        .unwrap_err();
    assert!(errors.contains("response.yaml:1:11"), "{errors}");
}
