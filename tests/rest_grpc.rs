//! REST/JSON -> gRPC end to end: the demo tonic backend and the gateway on loopback, driven
//! over real HTTP (design.md sections 3 and 6).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(url: String) -> (StatusCode, Value) {
    json_of(client().get(url).send().await.unwrap()).await
}

async fn send(method: Method, url: String, body: &str) -> (StatusCode, Value) {
    json_of(
        client()
            .request(method, url)
            .body(body.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Asserts a gateway error: status, code and message, in the body shape of section 6.
fn assert_error(got: &(StatusCode, Value), status: u16, code: i64, message: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["code"], json!(code), "{}", got.1);
    assert_eq!(got.1["message"], json!(message), "{}", got.1);
    assert!(got.1["details"].is_array(), "{}", got.1);
}

#[tokio::test]
async fn unary_get_transcodes_every_field_kind() {
    let demo = common::demo().await;
    let (status, body) = get(demo.gateway.url("/v1/users/1")).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("user_1", body);
    // The extra route the demo mapping adds serves the same call.
    let (status, same) = get(demo.gateway.url("/v1/people/1")).await;
    assert_eq!((status.as_u16(), &same), (200, &body));
}

#[tokio::test]
async fn http2_cleartext_clients_are_served_on_the_same_port() {
    let demo = common::demo().await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2
        .get(demo.gateway.url("/v1/users/5"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status.as_u16(), &body["name"]),
        (200, &json!("Barbara Liskov"))
    );
}

#[tokio::test]
async fn create_update_delete() {
    let demo = common::demo().await;
    let (status, created) = send(
        Method::POST,
        demo.gateway.url("/v1/users"),
        r#"{"name":"Katherine Johnson","role":"ROLE_USER","tags":["nasa"],"labels":{"unit":"flight"},"followerCount":"9007199254740993","avatar":"AAEC","sessionTtl":"1.5s","nickname":"KJ"}"#,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], json!("1000"));
    assert_eq!(
        created["followerCount"],
        json!("9007199254740993"),
        "int64 is lossless"
    );
    assert_eq!(created["sessionTtl"], json!("1.500s"));
    assert_eq!(created["nickname"], json!("KJ"));
    // Partial update: path binds user.id, the body is the user, the query gives the mask.
    let (status, updated) = send(
        Method::PATCH,
        demo.gateway.url("/v1/users/1000?update_mask=email,tags"),
        r#"{"email":"kj@nasa.gov","tags":["orbits"],"name":"ignored by the mask"}"#,
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["email"], json!("kj@nasa.gov"));
    assert_eq!(updated["tags"], json!(["orbits"]));
    assert_eq!(updated["name"], json!("Katherine Johnson"));
    // An id in the body that disagrees with the path is refused; an equal one is fine.
    let got = send(
        Method::PATCH,
        demo.gateway.url("/v1/users/1000"),
        r#"{"id":"7"}"#,
    )
    .await;
    assert_error(
        &got,
        400,
        3,
        "field `user.id` is set by the path and, differently, by the body",
    );
    let (status, _) = send(
        Method::PATCH,
        demo.gateway.url("/v1/users/1000"),
        r#"{"id":"1000","score":1}"#,
    )
    .await;
    assert_eq!(status, 200);
    // Delete returns google.protobuf.Empty, which is `{}`.
    let (status, body) = send(Method::DELETE, demo.gateway.url("/v1/users/1000"), "").await;
    assert_eq!((status.as_u16(), body), (200, json!({})));
    let got = get(demo.gateway.url("/v1/users/1000")).await;
    assert_eq!(got.0, 404);
}

#[tokio::test]
async fn backend_errors_carry_status_and_details() {
    let demo = common::demo().await;
    let (status, body) = get(demo.gateway.url("/v1/users/999")).await;
    assert_eq!(status, 404);
    insta::assert_json_snapshot!("not_found_with_resource_info", body);
    let (status, body) = send(
        Method::POST,
        demo.gateway.url("/v1/users"),
        r#"{"name":" "}"#,
    )
    .await;
    assert_eq!(status, 400);
    insta::assert_json_snapshot!("invalid_argument_with_bad_request", body);
}

#[tokio::test]
async fn query_parameters() {
    let demo = common::demo().await;
    let url = |q: &str| demo.gateway.url(&format!("/v1/users{q}"));
    let ids = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, body) = get(url("?role=ROLE_ADMIN")).await;
    assert_eq!(
        (status.as_u16(), ids(&body)),
        (200, vec!["1".to_owned(), "2".to_owned()])
    );
    // Enums by number too; camelCase names as well as proto names.
    let (_, body) = get(url("?role=1&pageSize=2")).await;
    assert_eq!(ids(&body), vec!["3", "4"]);
    assert_error(
        &get(url("?colour=red")).await,
        400,
        3,
        "query parameter `colour` names no field of demo.v1.ListUsersRequest",
    );
    assert_error(
        &get(url("?page_size=1&page_size=2")).await,
        400,
        3,
        "query parameter `page_size` is given more than once but field `page_size` is not repeated",
    );
    assert_error(
        &get(url("?page_size=many")).await,
        400,
        3,
        "invalid value for query parameter `page_size`: `many` is not a 32-bit integer",
    );
    assert_error(
        &get(url("?role=ROLE_GOD")).await,
        400,
        3,
        "invalid value for query parameter `role`: `ROLE_GOD` is not a value of enum demo.v1.Role",
    );
    assert_error(
        &get(demo.gateway.url("/v1/users/1?id=2")).await,
        400,
        3,
        "query parameter `id` sets a field of demo.v1.GetUserRequest that is bound by the path",
    );
    // Well-known types by their JSON string form, with `+` meaning space elsewhere.
    let started = Instant::now();
    let (status, _) = get(demo.gateway.url("/v1/sleep?duration=0.2s")).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_error(
        &get(demo.gateway.url("/v1/sleep?duration=soon")).await,
        400,
        3,
        "invalid value for query parameter `duration`: `soon` is not a valid Duration: failed to parse duration",
    );
}

#[tokio::test]
async fn path_and_body_errors() {
    let demo = common::demo().await;
    assert_error(
        &get(demo.gateway.url("/v1/users/abc")).await,
        400,
        3,
        "invalid value for path variable `id`: `abc` is not a 64-bit integer",
    );
    let got = send(
        Method::POST,
        demo.gateway.url("/v1/users"),
        r#"{"name": "x""#,
    )
    .await;
    assert_error(
        &got,
        400,
        3,
        "invalid JSON body: EOF while parsing an object at line 1 column 12",
    );
    let got = send(
        Method::POST,
        demo.gateway.url("/v1/users"),
        r#"{"name": 5}"#,
    )
    .await;
    assert_error(
        &got,
        400,
        3,
        "invalid JSON body: invalid type: integer `5`, expected a string at line 1 column 10",
    );
    // The body of a body field is one JSON value: nothing can be smuggled in beside it.
    let got = send(
        Method::POST,
        demo.gateway.url("/v1/users"),
        r#"{"name":"x"}, "other": 1"#,
    )
    .await;
    assert_error(
        &got,
        400,
        3,
        "invalid JSON body: trailing characters at line 1 column 13",
    );
    // Unknown fields are ignored unless the mapping is strict.
    let (status, _) = send(
        Method::POST,
        demo.gateway.url("/v1/users"),
        r#"{"name":"x","shoeSize":44}"#,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_path_and_wrong_method() {
    let demo = common::demo().await;
    assert_error(
        &get(demo.gateway.url("/v2/nothing")).await,
        404,
        5,
        "no route for GET /v2/nothing",
    );
    let response = client()
        .put(demo.gateway.url("/v1/users/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "DELETE, GET, PATCH");
    assert_eq!(response.headers()["content-type"], "application/json");
    let got = json_of(response).await;
    assert_error(&got, 405, 12, "method PUT is not allowed on /v1/users/1");
}

#[tokio::test]
async fn headers_become_metadata_and_back() {
    let demo = common::demo().await;
    let response = client()
        .get(demo.gateway.url("/v1/users/2"))
        .header("authorization", "Bearer abc")
        .header("x-request-id", "req-1")
        .header("grpc-metadata-tenant", "acme")
        .header("cookie", "session=secret")
        .header("x-other", "not forwarded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The demo backend answers with the names of the metadata it received.
    assert_eq!(
        response.headers()["grpc-metadata-x-received-metadata"],
        "authorization,tenant,x-request-id"
    );
}

#[tokio::test]
async fn raw_http_body_requests_and_streams() {
    let demo = common::demo().await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\n raw bytes";
    let response = client()
        .put(demo.gateway.url("/v1/users/3/avatar"))
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, user) = get(demo.gateway.url("/v1/users/3")).await;
    use base64::Engine;
    assert_eq!(
        user["avatar"],
        json!(base64::engine::general_purpose::STANDARD.encode(png))
    );
    // A stream of HttpBody messages is written raw, chunk after chunk.
    let response = client()
        .get(demo.gateway.url("/v1/users:export?role=ROLE_ADMIN"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/csv");
    assert_eq!(
        response.text().await.unwrap(),
        "id,name,email\n1,Ada Lovelace,ada@example.com\n2,Alan Turing,alan@example.com\n"
    );
}

#[tokio::test]
async fn raw_http_body_responses() {
    let demo = common::demo().await;
    let response = client()
        .get(demo.gateway.url("/v1/users/2/avatar"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains(">A</text>"),
        "{svg}"
    );
}

async fn stream_text(
    demo: &common::Demo,
    query: &str,
    accept: &str,
) -> (StatusCode, String, String) {
    let response = client()
        .get(demo.gateway.url(&format!("/v1/users{query}")))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn server_streaming_framings() {
    let demo = common::demo().await;
    let (status, content_type, text) =
        stream_text(&demo, "?role=ROLE_ADMIN", "application/json").await;
    assert_eq!(
        (status.as_u16(), content_type.as_str()),
        (200, "application/json")
    );
    let array: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(array.len(), 2);

    let (_, content_type, text) =
        stream_text(&demo, "?role=ROLE_ADMIN", "application/x-ndjson").await;
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, array);

    let (_, content_type, text) = stream_text(&demo, "?role=ROLE_ADMIN", "text/event-stream").await;
    assert_eq!(content_type, "text/event-stream");
    let events: Vec<Value> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert_eq!(events, array);
}

#[tokio::test]
async fn errors_in_streams() {
    let demo = common::demo().await;
    // After the first message: framed as the last element, line or event.
    let (status, _, text) = stream_text(&demo, "?fail_after=2", "application/json").await;
    assert_eq!(status, 200);
    let array: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(array.len(), 3);
    insta::assert_json_snapshot!("stream_error_array_element", array[2]);

    let (_, _, text) = stream_text(&demo, "?fail_after=1", "application/x-ndjson").await;
    let last = text.lines().last().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(last).unwrap(),
        json!({"error": {"code": 10, "message": "stopped after 1 users, as asked", "details": []}})
    );

    let (_, _, text) = stream_text(&demo, "?fail_after=1", "text/event-stream").await;
    assert!(
        text.ends_with("event: error\ndata: {\"code\":10,\"message\":\"stopped after 1 users, as asked\",\"details\":[]}\n\n"),
        "{text}"
    );

    // Before the first message: a plain error response with its HTTP status.
    let response = client()
        .get(demo.gateway.url("/v1/users?page_size=-1"))
        .send()
        .await
        .unwrap();
    let got = json_of(response).await;
    assert_error(&got, 400, 3, "page_size must not be negative");
}

#[tokio::test]
async fn streams_are_written_as_messages_arrive() {
    let demo = common::demo().await;
    let started = Instant::now();
    let response = client()
        .get(demo.gateway.url("/v1/users?interval_ms=300"))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    let mut chunks = response.bytes_stream();
    let first = chunks.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(first.starts_with(b"{\"id\":\"1\""));
    let mut lines = first.iter().filter(|b| **b == b'\n').count();
    while let Some(chunk) = chunks.next().await {
        lines += chunk.unwrap().iter().filter(|b| **b == b'\n').count();
    }
    let total = started.elapsed();
    assert_eq!(lines, 5);
    // Five users 300 ms apart take over a second; the first must not wait for the rest.
    assert!(total >= Duration::from_millis(1200), "{total:?}");
    assert!(
        first_at < Duration::from_millis(600),
        "first message after {first_at:?}"
    );
}

#[tokio::test]
async fn client_hanging_up_cancels_the_backend_stream() {
    let demo = common::demo().await;
    let response = client()
        .get(demo.gateway.url("/v1/users?interval_ms=500"))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    let mut chunks = response.bytes_stream();
    chunks.next().await.unwrap().unwrap();
    drop(chunks);
    let cancelled = &demo.backend.state.cancelled_calls;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cancelled.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        cancelled.load(Ordering::SeqCst),
        1,
        "the backend stream was not cancelled"
    );
}

#[tokio::test]
async fn client_streaming_from_ndjson_and_arrays() {
    let demo = common::demo().await;
    let url = demo.gateway.url("/v1/users:upload");
    let ndjson = "{\"user\":{\"name\":\"a\"}}\n{\"user\":{\"name\":\"b\"}}\n";
    let (status, body) = send(Method::POST, url.clone(), ndjson).await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"created": 2, "ids": ["1000", "1001"]}))
    );
    let array = r#"[{"user":{"name":"c"}}, {"user":{"name":"d"}}, {"user":{"name":"e"}}]"#;
    let (status, body) = send(Method::POST, url.clone(), array).await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"created": 3, "ids": ["1002", "1003", "1004"]}))
    );
    // A body streamed in small chunks, as a slow client would send it.
    let chunks: Vec<Result<String, std::io::Error>> = [
        "{\"user\":{\"na",
        "me\":\"f\"}}\n{\"us",
        "er\":{\"name\":\"g\"}}",
    ]
    .iter()
    .map(|c| Ok(c.to_string()))
    .collect();
    let response = client()
        .post(url.clone())
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await.1["created"], json!(2));
    // A bad element is a 400 that says what is wrong.
    let got = send(
        Method::POST,
        url.clone(),
        "{\"user\":{\"name\":\"h\"}}\n{\"user\": 5}\n",
    )
    .await;
    assert_eq!(got.0, 400, "{}", got.1);
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON body:"),
        "{}",
        got.1
    );
    let got = send(Method::POST, url, "[{\"user\":{\"name\":\"i\"}}").await;
    assert_error(
        &got,
        400,
        3,
        "invalid request stream: the JSON array is not closed",
    );
}

#[tokio::test]
async fn bidi_over_http_body() {
    let demo = common::demo().await;
    let (status, body) = send(
        Method::POST,
        demo.gateway.url("/v1/chat"),
        "{\"from\":\"me\",\"text\":\"hello\"}\n{\"text\":\"world\"}",
    )
    .await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["HELLO", "WORLD"]);
}

#[tokio::test]
async fn bidi_over_websocket() {
    use tokio_tungstenite::tungstenite::Message;
    let demo = common::demo().await;
    let url = format!("ws://{}/v1/chat", demo.gateway.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for text in ["one", "two"] {
        socket
            .send(Message::Text(format!("{{\"text\":\"{text}\"}}").into()))
            .await
            .unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        let reply: Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
        assert_eq!(reply["text"], json!(text.to_uppercase()));
        assert_eq!(reply["from"], json!("rosetta-demo"));
    }
    // A frame that is not a message ends the exchange with an error frame, then a close.
    socket
        .send(Message::Text("{\"text\": 5}".into()))
        .await
        .unwrap();
    let error = socket.next().await.unwrap().unwrap();
    let error: Value = serde_json::from_str(error.to_text().unwrap()).unwrap();
    assert_eq!(error["error"]["code"], json!(3), "{error}");
    assert!(matches!(socket.next().await, Some(Ok(Message::Close(_)))));
}

#[tokio::test]
async fn deadlines() {
    let demo = common::demo().await;
    let started = Instant::now();
    let response = client()
        .get(demo.gateway.url("/v1/sleep?duration=5s"))
        .header("grpc-timeout", "200m")
        .send()
        .await
        .unwrap();
    let got = json_of(response).await;
    assert_error(&got, 504, 4, "deadline exceeded");
    assert!(started.elapsed() < Duration::from_secs(2));
    let response = client()
        .get(demo.gateway.url("/v1/users/1"))
        .header("grpc-timeout", "soon")
        .send()
        .await
        .unwrap();
    assert_error(
        &json_of(response).await,
        400,
        3,
        "invalid grpc-timeout header",
    );
}

#[tokio::test]
async fn a_deadline_that_passes_mid_stream_ends_it_with_an_error_frame() {
    let demo = common::demo().await;
    let started = Instant::now();
    let response = client()
        .get(demo.gateway.url("/v1/users?interval_ms=500"))
        .header("accept", "application/x-ndjson")
        .header("grpc-timeout", "750m")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Users 1 and 2 arrive at 0 and 500 ms; the deadline ends the stream at 750 ms, 250 ms
    // before user 3 would have come.
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[2],
        json!({"error": {"code": 4, "message": "deadline exceeded", "details": []}})
    );
    assert!(started.elapsed() < Duration::from_millis(2000));
}

#[tokio::test]
async fn empty_streams() {
    let demo = common::demo().await;
    for id in 1..=5 {
        let (status, _) = send(
            Method::DELETE,
            demo.gateway.url(&format!("/v1/users/{id}")),
            "",
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, content_type, text) = stream_text(&demo, "", "application/json").await;
    assert_eq!(
        (status.as_u16(), content_type.as_str(), text.as_str()),
        (200, "application/json", "[]")
    );
    let (_, content_type, text) = stream_text(&demo, "", "application/x-ndjson").await;
    assert_eq!(
        (content_type.as_str(), text.as_str()),
        ("application/x-ndjson", "")
    );
}
