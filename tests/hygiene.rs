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
    // without waiting for (or keeping) the rest. Written on a raw socket: the gateway answers
    // and closes while the client still writes, and an HTTP client library reports the broken
    // pipe of its write instead of the answer.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(pins.gateway.addr)
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let upload = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, " ".repeat(64 << 10));
        for _ in 0..64 {
            writer.write_all(chunk.as_bytes()).await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let mut answer = Vec::new();
    let read = reader.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the gateway answers")
        .ok();
    upload.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 0);

    // More headers than the HTTP/1.1 server itself takes is a load error, not a silent cap.
    let text = common::pins::load_errors("limits:\n  max_headers: 500\n", &[("rest.yaml", THINGS)]);
    assert!(text.contains("can be at most 100"), "{text}");
}

/// A preflight from `origin` for `method` at `path`; the origin it allows, if any.
async fn preflight(base: &common::RunningGateway, path: &str, origin: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, base.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    let allowed = response.headers().get("access-control-allow-origin")?;
    Some(allowed.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_per_mapping_and_route() {
    let extra = "cors:\n  allow_origins: [https://app.example]\n";
    let rest = format!(
        "{THINGS}cors:\n  allow_origins: [https://admin.example]\nroutes:\n  EchoThing:\n    cors:\n      allow_origins: [https://echo.example]\n"
    );
    let graphql = "version: 1\nfrontend: graphql\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n";
    let pins = Pins::start_with(
        extra,
        &[],
        &[("rest.yaml", &rest), ("graphql.yaml", graphql)],
    )
    .await;
    let gateway = &pins.gateway;
    let echo = "https://echo.example";
    let admin = "https://admin.example";
    let app = "https://app.example";
    // The route's own policy, then the mapping's for its other routes.
    assert_eq!(preflight(gateway, ECHO, echo).await.as_deref(), Some(echo));
    assert_eq!(preflight(gateway, ECHO, admin).await, None);
    let list = "/pins.v1.Things/ListThings";
    assert_eq!(
        preflight(gateway, list, admin).await.as_deref(),
        Some(admin)
    );
    assert_eq!(preflight(gateway, list, app).await, None);
    // gateway.yaml's for the GraphQL mapping, which has none, and for paths nobody serves.
    assert_eq!(
        preflight(gateway, "/graphql", app).await.as_deref(),
        Some(app)
    );
    assert_eq!(preflight(gateway, "/graphql", admin).await, None);
    assert_eq!(
        preflight(gateway, "/nowhere", app).await.as_deref(),
        Some(app)
    );
    // An actual call carries its route's policy too.
    let call = reqwest::Client::new()
        .post(gateway.url(list))
        .header("origin", admin)
        .json(&json!({"count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(call.headers()["access-control-allow-origin"], admin);
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    // gRPC-Web: the path names the method, so a route of a gRPC mapping has its own policy.
    let grpc = "version: 1\nfrontend: grpc\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\nroutes:\n  GetThing:\n    cors:\n      allow_origins: [https://web.example]\n      allow_headers: [content-type, x-grpc-web]\n";
    let pins = Pins::start_with("", &[], &[("grpc.yaml", grpc)]).await;
    let web = "https://web.example";
    let get = "/pins.v1.Things/GetThing";
    assert_eq!(
        preflight(&pins.gateway, get, web).await.as_deref(),
        Some(web)
    );
    assert_eq!(preflight(&pins.gateway, ECHO, web).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_that_cannot_apply_is_a_load_error() {
    let cors = "    cors:\n      allow_origins: [https://a.example]\n";
    let graphql = format!("version: 1\nfrontend: graphql\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\nroutes:\n  GetThing:\n{cors}");
    let text = common::pins::load_errors("", &[("graphql.yaml", &graphql)]);
    assert!(
        text.contains("a browser's preflight names no method") && text.contains("graphql.yaml:10:"),
        "{text}"
    );
    // Two GraphQL mappings at one endpoint with different policies.
    let one = "version: 1\nfrontend: graphql\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\ngraphql:\n  exclude: [EchoThing]\ncors:\n  allow_origins: [https://a.example]\n";
    let two = "version: 1\nfrontend: graphql\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\ngraphql:\n  prefix: other\n";
    let text = common::pins::load_errors("", &[("one.yaml", one), ("two.yaml", two)]);
    assert!(
        text.contains("mappings served at /graphql have different `cors`"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_per_route() {
    let extra = "authenticators:\n  keys:\n    api_key: {header: x-api-key}\nconsumers:\n  app:\n    api_keys: [\"${KEY}\"]\n";
    // The mapping refuses loopback; its routes say otherwise, each for itself.
    let mapping = format!(
        "{THINGS}ip_rules:\n  deny: [127.0.0.0/8]\nroutes:\n  EchoThing:\n    ip_rules: {{}}\n    auth: {{any_of: [keys]}}\n  ListThings:\n    ip_rules: {{allow: [127.0.0.1]}}\n    rate_limits: [{{key: ip, requests: 1, per: 60s}}]\n  GetThing:\n    ip_rules: {{}}\n    cache: {{ttl: 60s}}\n"
    );
    let vars = [("KEY", "secret-key".to_owned())];
    let pins = Pins::start_with(extra, &vars, &[("rest.yaml", &mapping)]).await;
    let client = reqwest::Client::new();
    let call = |path: &str, key: Option<&str>| {
        let mut request = client
            .post(pins.gateway.url(path))
            .json(&json!({"name": "x", "count": 1}));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    // The mapping's IP rules for a method without a route of its own.
    let batch = "/pins.v1.Things/BatchGetThings";
    assert_eq!(status(call(batch, None).await.unwrap()), 403);
    // EchoThing: open to any address, with an API key.
    assert_eq!(status(call(ECHO, None).await.unwrap()), 401);
    assert_eq!(status(call(ECHO, Some("secret-key")).await.unwrap()), 200);
    assert_eq!(status(call(ECHO, Some("secret-key")).await.unwrap()), 200);
    // ListThings: one call a minute.
    let list = "/pins.v1.Things/ListThings";
    assert_eq!(status(call(list, None).await.unwrap()), 200);
    assert_eq!(status(call(list, None).await.unwrap()), 429);
    // GetThing: cached, with no key and no limit.
    let get = "/pins.v1.Things/GetThing";
    let first = call(get, None).await.unwrap();
    assert_eq!(first.headers()["x-cache-status"], "MISS");
    let second = call(get, None).await.unwrap();
    assert_eq!(second.headers()["x-cache-status"], "HIT");
    // Backend calls: two echoes, one list, one get.
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 4);

    // A route names one method of the mapping, and a route's cache is that method's.
    let wrong = format!(
        "{THINGS}routes:\n  NoSuchThing:\n    ip_rules: {{}}\n  GetThing:\n    cache: {{ttl: 60s, methods: [ListThings]}}\n  EchoThing:\n    cache: {{ttl: 60s}}\n"
    );
    let text = common::pins::load_errors("", &[("rest.yaml", &wrong)]);
    assert!(
        text.contains("`NoSuchThing` names no single method")
            && text.contains("leave out `methods`")
            && text.contains("EchoThing is not a unary read"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_from_gateway_yaml() {
    // Cache, validation and header transforms for every mapping without its own.
    let extra = "cache: {ttl: 60s}\nvalidation:\n  rules:\n    pins.v1.Thing.name: {max_length: 5}\ntransforms:\n  - response:\n      headers: {set: {x-served-by: rosetta}}\n";
    let own = "version: 1\nfrontend: grpc\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\nvalidation: {required: false}\n";
    let pins = Pins::start_with(extra, &[], &[("rest.yaml", THINGS), ("grpc.yaml", own)]).await;
    let client = reqwest::Client::new();
    let post = |path: &str, name: &str| {
        client
            .post(pins.gateway.url(path))
            .json(&json!({"name": name}))
            .send()
    };
    let get = "/pins.v1.Things/GetThing";
    let first = post(get, "abc").await.unwrap();
    assert_eq!(first.headers()["x-cache-status"], "MISS");
    assert_eq!(first.headers()["x-served-by"], "rosetta");
    let second = post(get, "abc").await.unwrap();
    assert_eq!(second.headers()["x-cache-status"], "HIT");
    let long = post(ECHO, "toolong").await.unwrap();
    assert_eq!(long.status(), 400);
    let body: Value = long.json().await.unwrap();
    let violation = &body["details"][0]["fieldViolations"][0];
    assert_eq!(violation["field"], "name", "{body}");
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The gRPC mapping has its own validation (no rules), and gateway.yaml's cache.
    let reply = pins
        .grpc("EchoThing", json!({"name": "toolong"}))
        .await
        .unwrap();
    assert_eq!(
        reply.get_field_by_name("name").unwrap().as_str(),
        Some("toolong")
    );
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 2);

    // What gateway.yaml sets for every mapping cannot choose methods or edit fields.
    let extra = "cache: {ttl: 60s, methods: [GetThing]}\ntransforms:\n  - methods: [GetThing]\n    request:\n      fields: {remove: [name]}\n";
    let text = common::pins::load_errors(extra, &[("rest.yaml", THINGS)]);
    assert!(
        text.contains("gateway.yaml's cache is for every read")
            && text.contains("gateway.yaml's transforms apply to every method")
            && text.contains("gateway.yaml's transforms edit headers"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_on_every_frontend() {
    // Loopback may call GetThing but not ListThings, on gRPC, GraphQL and SOAP alike.
    let routes = "routes:\n  ListThings:\n    ip_rules: {deny: [127.0.0.0/8]}\n";
    let mapping = |frontend: &str| {
        format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n{routes}")
    };
    let (grpc, graphql, soap) = (mapping("grpc"), mapping("graphql"), mapping("soap"));
    let mappings = [
        ("grpc.yaml", &grpc[..]),
        ("graphql.yaml", &graphql[..]),
        ("soap.yaml", &soap[..]),
    ];
    let pins = Pins::start_with("", &[], &mappings).await;
    let reply = pins.grpc("GetThing", json!({"name": "a"})).await.unwrap();
    assert_eq!(reply.get_field_by_name("name").unwrap().as_str(), Some("a"));
    let refused = pins
        .grpc("ListThings", json!({"count": 1}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // GraphQL: one query, one root field let through and one refused.
    let answer: Value = pins
        .gateway
        .graphql("{ getThing(name: \"b\") { name } listThings(count: 1) { things { id } } }")
        .await;
    assert_eq!(answer["data"]["getThing"]["name"], "b", "{answer}");
    assert_eq!(answer["data"]["listThings"], Value::Null, "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "PERMISSION_DENIED",
        "{answer}"
    );

    let soap = |operation: &str, field: &str| {
        let envelope = format!(
            r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:rosetta:pins.v1.Things"><soap:Body><t:{operation}>{field}</t:{operation}></soap:Body></soap:Envelope>"#
        );
        reqwest::Client::new()
            .post(pins.gateway.url("/soap/Things"))
            .header("content-type", "text/xml")
            .body(envelope)
            .send()
    };
    let fine = soap("GetThing", "<t:name>c</t:name>").await.unwrap();
    assert_eq!(fine.status(), 200);
    let refused = soap("ListThings", "<t:count>1</t:count>").await.unwrap();
    // A SOAP 1.1 fault travels as a 500; the fault says whose mistake it is.
    assert_eq!(refused.status(), 500);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("may not call this API") && text.contains("Client"),
        "{text}"
    );
    // Three GetThing calls reached the backend; no ListThings did.
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_before_the_body_is_read() {
    // Section 7's order: IP rules before the size limit and before CORS. Loopback is refused by
    // every mapping, so each frontend answers 403 (its own way) without reading a body that is
    // too large or not even well-formed.
    let deny = "ip_rules:\n  deny: [127.0.0.0/8]\n";
    let mapping = |frontend: &str| {
        format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n{deny}")
    };
    let (rest, graphql, soap, grpc) = (
        mapping("rest"),
        mapping("graphql"),
        mapping("soap"),
        mapping("grpc"),
    );
    let extra = "limits:\n  max_body_size: 1KiB\ncors:\n  allow_origins: [https://app.example]\n";
    let mappings = [
        ("rest.yaml", &rest[..]),
        ("graphql.yaml", &graphql[..]),
        ("soap.yaml", &soap[..]),
        ("grpc.yaml", &grpc[..]),
    ];
    let pins = Pins::start_with(extra, &[], &mappings).await;
    let client = reqwest::Client::new();
    let too_large = "x".repeat(4096);
    let post = |path: &str, content_type: &str| {
        client
            .post(pins.gateway.url(path))
            .header("content-type", content_type)
            .body(too_large.clone())
            .send()
    };
    let rest = post(ECHO, "application/json").await.unwrap();
    assert_eq!(rest.status(), 403);
    let body: Value = rest.json().await.unwrap();
    assert_eq!(body["code"], 7, "{body}");

    let graphql = post("/graphql", "application/json").await.unwrap();
    assert_eq!(graphql.status(), 403);
    let body: Value = graphql.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "PERMISSION_DENIED",
        "{body}"
    );

    let soap = post("/soap/Things", "text/xml").await.unwrap();
    assert_eq!(soap.status(), 500);
    let text = soap.text().await.unwrap();
    assert!(
        text.contains("may not call this API") && text.contains("Client"),
        "{text}"
    );

    let refused = pins
        .grpc("EchoThing", json!({"name": "x"}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let web = post("/pins.v1.Things/EchoThing", "application/grpc-web+proto")
        .await
        .unwrap();
    assert_eq!(web.headers()["grpc-status"], "7");
    assert_eq!(web.headers()["content-type"], "application/grpc-web+proto");

    // A refused client's preflight gets the 403 too, not a CORS answer.
    let preflight = client
        .request(reqwest::Method::OPTIONS, pins.gateway.url(ECHO))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 403);
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_eq!(pins.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}
