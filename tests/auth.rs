//! Authentication against real servers: API keys, Basic, JWT (keys from PEM files, secrets and
//! a JWKS endpoint on loopback) with the known token attacks, HMAC signatures with replay
//! protection, plans, public methods, the consumer forwarded to the backend and read by a
//! composed endpoint, on the REST, gRPC, GraphQL and SOAP frontends.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::pins::Pins;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/auth");

fn key(name: &str) -> Vec<u8> {
    std::fs::read(format!("{KEYS}/{name}")).unwrap()
}

fn sha256_hex(text: &str) -> String {
    rosetta::stages::auth::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A JWKS endpoint: serves `keys`, counts fetches, and fails while `down`.
struct JwksServer {
    url: String,
    keys: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

async fn jwks_server() -> JwksServer {
    let keys = Arc::new(std::sync::Mutex::new(
        json!({"keys": [jwk("rsa1.key", "k1")]}),
    ));
    let fetches = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let (k, f, d) = (keys.clone(), fetches.clone(), down.clone());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (k, f, d) = (k.clone(), f.clone(), d.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                if d.load(Ordering::SeqCst) {
                    return Err(http::StatusCode::SERVICE_UNAVAILABLE);
                }
                let keys = k.lock().unwrap().clone();
                Ok(axum::Json(keys))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    JwksServer {
        url,
        keys,
        fetches,
        down,
    }
}

/// The public JWK of a private RSA key file, with `kid`.
fn jwk(file: &str, kid: &str) -> Value {
    let private = EncodingKey::from_rsa_pem(&key(file)).unwrap();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&private, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).unwrap()
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rsa_token(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(&key("rsa1.key")).unwrap();
    sign(Algorithm::RS256, Some(kid), &key, claims)
}

fn good_claims() -> Value {
    json!({"sub": "ada", "iss": "https://idp.test", "aud": "rosetta", "exp": now() + 600, "email": "ada@example.test"})
}

fn gateway_extra(jwks_url: &str) -> String {
    format!(
        r#"
authenticators:
  keys:
    api_key: {{header: x-api-key, query: api_key}}
  users:
    basic: {{realm: things}}
  sso:
    jwt:
      algorithms: [RS256]
      jwks_url: {jwks_url}
      jwks_min_refetch: 1s
      issuer: https://idp.test
      audience: [rosetta]
      leeway: 30s
  local:
    jwt:
      algorithms: [HS256, ES256, EdDSA, PS256]
      keys:
        - {{secret: "${{HS_SECRET}}"}}
        - {{kid: ec, pem_file: {KEYS}/ec.pub}}
        - {{kid: ed, pem_file: {KEYS}/ed.pub}}
        - {{kid: ps, pem_file: {KEYS}/rsa1.pub}}
      consumer_claim: client
  signed:
    hmac: {{clock_skew: 60s}}
consumers:
  mobile:
    plan: full
    metadata: {{tier: gold}}
    api_keys: ["sha256:{mobile}", "${{SECOND_KEY}}"]
  partner:
    plan: readonly
    api_keys: ["sha256:{partner}"]
    basic: {{username: partner, password: "sha256:{password}"}}
    hmac: [{{key_id: partner-1, secret: "${{HMAC_SECRET}}"}}]
  robot:
    metadata: {{kind: service}}
plans:
  full: {{}}
  readonly:
    allow: [Things.GetThing, "pins.v1.Things.Echo*"]
"#,
        mobile = sha256_hex("key-mobile"),
        partner = sha256_hex("key-partner"),
        password = sha256_hex("open sesame"),
    )
}

const AUTH: &str =
    "auth:\n  any_of: [keys, users, sso, local, signed]\n  forward_consumer: x-tenant\n";

fn mapping(frontend: &str) -> String {
    format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n{AUTH}  public: [Things.StreamThings]\n")
}

const WHOAMI: &str = "/pins.v1.Things/GetThing";

async fn start(jwks: &JwksServer) -> Pins {
    let compose = format!(
        "version: 1\nfrontend: rest\ncompose:\n  method: GET\n  path: /me\n  steps:\n    - {{name: echo, call: Things.EchoThing, input: {{name: consumer.id}}}}\n  response:\n    id: consumer.id\n    tier: consumer.metadata.tier\n    echoed: steps.echo.name\n{AUTH}"
    );
    Pins::start_with(
        &gateway_extra(&jwks.url),
        &[
            ("HS_SECRET", "a shared secret of enough length".to_owned()),
            ("SECOND_KEY", "key-mobile-2".to_owned()),
            ("HMAC_SECRET", "hmac secret".to_owned()),
        ],
        &[
            ("rest.yaml", &mapping("rest")),
            ("grpc.yaml", &mapping("grpc")),
            ("graphql.yaml", &mapping("graphql")),
            ("soap.yaml", &mapping("soap")),
            ("me.yaml", &compose),
        ],
    )
    .await
}

/// POSTs `{"name": "whoami"}` (the backend answers with the forwarded consumer) with `headers`.
async fn whoami(pins: &Pins, headers: &[(&str, &str)]) -> (u16, Value, http::HeaderMap) {
    let mut request = reqwest::Client::new()
        .post(pins.gateway.url(WHOAMI))
        .json(&json!({"name": "whoami"}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap(), headers)
}

async fn bearer(pins: &Pins, token: &str) -> u16 {
    whoami(pins, &[("authorization", &format!("Bearer {token}"))])
        .await
        .0
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_basic_plans_and_public_methods() {
    let jwks = jwks_server().await;
    let pins = start(&jwks).await;

    // No credentials: 401, a challenge per authenticator, the error shape of section 6.
    let (status, body, headers) = whoami(&pins, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], 16);
    assert_eq!(body["message"], "credentials are required");
    let challenges: Vec<&str> = headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        challenges,
        [
            "ApiKey header=\"x-api-key\"",
            "Basic realm=\"things\", charset=\"UTF-8\"",
            "Bearer realm=\"rosetta\"",
            "Bearer realm=\"rosetta\"",
            "Signature realm=\"rosetta\", headers=\"(request-target) date\""
        ]
    );
    assert_eq!(pins.calls.load(Ordering::SeqCst), 0);

    // A key in the header or the query, hashed or from the environment; the backend learns who.
    let (status, body, _) = whoami(&pins, &[("x-api-key", "key-mobile")]).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("mobile")));
    let (status, body, _) = whoami(&pins, &[("x-api-key", "key-mobile-2")]).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("mobile")));
    let response = reqwest::Client::new()
        .post(pins.gateway.url(&format!("{WHOAMI}?api_key=key-partner")))
        .json(&json!({"name": "whoami"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A wrong key says no more than a missing one would.
    let (status, body, _) = whoami(&pins, &[("x-api-key", "key-nobody")]).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("the credentials are not valid"))
    );

    // Basic.
    let basic = |user: &str, password: &str| {
        let text = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {text}")
    };
    let (status, body, _) = whoami(
        &pins,
        &[("authorization", &basic("partner", "open sesame"))],
    )
    .await;
    assert_eq!((status, body["name"].as_str()), (200, Some("partner")));
    let (status, _, _) = whoami(&pins, &[("authorization", &basic("partner", "wrong"))]).await;
    assert_eq!(status, 401);

    // A plan that does not allow the method: 403 (the partner may get and echo, not list).
    let list = reqwest::Client::new()
        .post(pins.gateway.url("/pins.v1.Things/ListThings"))
        .header("x-api-key", "key-partner")
        .json(&json!({"count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 403);
    let echo = reqwest::Client::new()
        .post(pins.gateway.url("/pins.v1.Things/EchoThing"))
        .header("x-api-key", "key-partner")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 200);

    // A public method needs nothing.
    let stream = reqwest::Client::new()
        .post(pins.gateway.url("/pins.v1.Things/StreamThings"))
        .json(&json!({"count": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    // A composed endpoint reads the consumer and hands it to its steps.
    let me: Value = reqwest::Client::new()
        .get(pins.gateway.url("/me"))
        .header("x-api-key", "key-mobile")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"id": "mobile", "tier": "gold", "echoed": "mobile", "errors": []})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_tokens_and_the_attack_set() {
    let jwks = jwks_server().await;
    let pins = start(&jwks).await;

    // A good RS256 token from the JWKS: the consumer is its `sub`.
    let (status, body, _) = whoami(
        &pins,
        &[(
            "authorization",
            &format!("Bearer {}", rsa_token("k1", &good_claims())),
        )],
    )
    .await;
    assert_eq!((status, body["name"].as_str()), (200, Some("ada")));

    // HS256, ES256, EdDSA and PS256 from configured keys; the consumer from the `client`
    // claim.
    let claims = json!({"client": "robot", "exp": now() + 600});
    let hs = EncodingKey::from_secret(b"a shared secret of enough length").unwrap();
    let ec = EncodingKey::from_ec_pem(&key("ec.key")).unwrap();
    let ed = EncodingKey::from_ed_pem(&key("ed.key")).unwrap();
    let ps = EncodingKey::from_rsa_pem(&key("rsa1.key")).unwrap();
    for token in [
        sign(Algorithm::HS256, None, &hs, &claims),
        sign(Algorithm::ES256, Some("ec"), &ec, &claims),
        sign(Algorithm::EdDSA, Some("ed"), &ed, &claims),
        sign(Algorithm::PS256, Some("ps"), &ps, &claims),
    ] {
        let (status, body, _) =
            whoami(&pins, &[("authorization", &format!("Bearer {token}"))]).await;
        assert_eq!(
            (status, body["name"].as_str()),
            (200, Some("robot")),
            "{token}"
        );
    }

    // Within the leeway is fine; beyond it is not.
    let mut claims = good_claims();
    claims["exp"] = json!(now() - 10);
    assert_eq!(bearer(&pins, &rsa_token("k1", &claims)).await, 200);

    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let good = rsa_token("k1", &good_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let public_pem = key("rsa1.pub");
    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                parts[1]
            ),
        ),
        (
            "HS256 signed with the RSA public key",
            sign(
                Algorithm::HS256,
                Some("k1"),
                &EncodingKey::from_secret(&public_pem).unwrap(),
                &good_claims(),
            ),
        ),
        (
            "HS256 with the RSA public key, no kid",
            sign(
                Algorithm::HS256,
                None,
                &EncodingKey::from_secret(&public_pem).unwrap(),
                &good_claims(),
            ),
        ),
        ("unknown kid", rsa_token("k9", &good_claims())),
        ("expired beyond the leeway", {
            let mut c = good_claims();
            c["exp"] = json!(now() - 120);
            rsa_token("k1", &c)
        }),
        ("nbf in the future", {
            let mut c = good_claims();
            c["nbf"] = json!(now() + 300);
            rsa_token("k1", &c)
        }),
        ("no exp", {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove("exp");
            rsa_token("k1", &c)
        }),
        ("wrong iss", {
            let mut c = good_claims();
            c["iss"] = json!("https://evil.test");
            rsa_token("k1", &c)
        }),
        ("wrong aud", {
            let mut c = good_claims();
            c["aud"] = json!("someone-else");
            rsa_token("k1", &c)
        }),
        // A configured issuer or audience makes the claim required.
        ("no iss", {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove("iss");
            rsa_token("k1", &c)
        }),
        ("no aud", {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove("aud");
            rsa_token("k1", &c)
        }),
        ("tampered payload", {
            let mut c = good_claims();
            c["sub"] = json!("admin");
            format!("{}.{}.{}", parts[0], b64(&c), parts[2])
        }),
        (
            "kid with path and SQL characters",
            rsa_token("../../etc/passwd' OR 1=1 --", &good_claims()),
        ),
        ("not a token", "not.a.token".to_owned()),
    ];
    for (name, token) in &attacks {
        let (status, body, headers) =
            whoami(&pins, &[("authorization", &format!("Bearer {token}"))]).await;
        assert_eq!(status, 401, "{name}: {body}");
        let challenges: Vec<_> = headers.get_all("www-authenticate").iter().collect();
        assert!(
            challenges
                .iter()
                .any(|c| c.to_str().unwrap().contains("error=\"invalid_token\"")),
            "{name}"
        );
    }
    // The unknown kids made at most one refetch each second, not one per token.
    let fetches = jwks.fetches.load(Ordering::SeqCst);
    assert!(fetches <= 3, "{fetches} JWKS fetches");

    // The JWKS endpoint goes down: the keys held still verify.
    jwks.down.store(true, Ordering::SeqCst);
    assert_eq!(bearer(&pins, &rsa_token("k1", &good_claims())).await, 200);

    // It comes back with a rotated-in key: a token with the new kid makes one refetch.
    jwks.down.store(false, Ordering::SeqCst);
    *jwks.keys.lock().unwrap() = json!({"keys": [jwk("rsa1.key", "k1"), jwk("rsa2.key", "k2")]});
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = EncodingKey::from_rsa_pem(&key("rsa2.key")).unwrap();
    let token = sign(Algorithm::RS256, Some("k2"), &rotated, &good_claims());
    assert_eq!(bearer(&pins, &token).await, 200);
}

/// The `Authorization: Signature ...` of a request, signed with `secret`.
fn signature(secret: &[u8], target: &str, date: &str, digest: &str) -> String {
    let text = format!("(request-target): {target}\ndate: {date}\ndigest: {digest}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let signature = ring::hmac::sign(&key, text.as_bytes());
    format!(
        "Signature keyId=\"partner-1\",algorithm=\"hmac-sha256\",headers=\"(request-target) date digest\",signature=\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hmac_signatures_with_replay_protection() {
    let jwks = jwks_server().await;
    let pins = start(&jwks).await;
    let body = json!({"name": "whoami"}).to_string();
    let digest = format!(
        "SHA-256={}",
        base64::engine::general_purpose::STANDARD
            .encode(rosetta::stages::auth::digest(body.as_bytes()))
    );
    let send = |date: String, digest: String, body: String, authorization: String| {
        reqwest::Client::new()
            .post(pins.gateway.url(WHOAMI))
            .header("content-type", "application/json")
            .header("date", date)
            .header("digest", digest)
            .header("authorization", authorization)
            .body(body)
            .send()
    };
    let date = httpdate::fmt_http_date(SystemTime::now());
    let target = format!("post {WHOAMI}");
    let signed = signature(b"hmac secret", &target, &date, &digest);
    let response = send(date.clone(), digest.clone(), body.clone(), signed.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["name"], "partner");

    // The same signature again: a replay.
    let replay = send(date.clone(), digest.clone(), body.clone(), signed)
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);

    // Another body under a signed digest; a wrong secret; a date outside the skew.
    let other = json!({"name": "someone else"}).to_string();
    let signed = signature(b"hmac secret", &target, &date, &digest);
    let response = send(date.clone(), digest.clone(), other, signed)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let signed = signature(b"not the secret", &target, &date, &digest);
    let response = send(date.clone(), digest.clone(), body.clone(), signed)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let old = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(600));
    let signed = signature(b"hmac secret", &target, &old, &digest);
    let response = send(old, digest.clone(), body.clone(), signed)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_frontend_authenticates() {
    let jwks = jwks_server().await;
    let pins = start(&jwks).await;

    // gRPC: UNAUTHENTICATED with the challenge in the metadata; a key in the metadata works.
    let call = |metadata: &'static [(&'static str, &'static str)]| {
        pins.grpc_with("GetThing", json!({"name": "whoami"}), metadata)
    };
    let refused = call(&[]).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.metadata().get("www-authenticate").is_some());
    let reply = call(&[("x-api-key", "key-mobile")]).await.unwrap();
    assert_eq!(
        reply.get_field_by_name("name").unwrap().as_str(),
        Some("mobile")
    );

    // GraphQL: an error with the canonical code; with a key, data.
    let query = json!({"query": "{ getThing(name: \"whoami\") { name } }"});
    let answer: Value = reqwest::Client::new()
        .post(pins.gateway.url("/graphql"))
        .json(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{answer}"
    );
    let answer: Value = reqwest::Client::new()
        .post(pins.gateway.url("/graphql"))
        .header("x-api-key", "key-mobile")
        .json(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["getThing"]["name"], "mobile", "{answer}");

    // SOAP: a fault; with a key, the answer.
    let envelope = r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:rosetta:pins.v1.Things"><soap:Body><t:GetThing><t:name>whoami</t:name></t:GetThing></soap:Body></soap:Envelope>"#;
    let soap = |key: Option<&str>| {
        let mut request = reqwest::Client::new()
            .post(pins.gateway.url("/soap/Things"))
            .header("content-type", "text/xml")
            .body(envelope);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send()
    };
    let refused = soap(None).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().get("www-authenticate").is_some());
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("credentials are required"));
    let answer = soap(Some("key-mobile")).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains(">mobile<"));
}

#[tokio::test]
async fn authentication_mistakes_are_located() {
    let extra = format!(
        r#"
authenticators:
  sso:
    jwt:
      algorithms: [RS256, XX999]
      keys: [{{pem_file: {KEYS}/rsa1.pub}}]
      leeway: 5m
  inline:
    basic: {{}}
    api_key: {{}}
consumers:
  somebody:
    plan: platinum
    api_keys: [plain-text-key]
"#
    );
    let mapping = "version: 1\nfrontend: rest\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\nauth:\n  any_of: [sso, nobody]\n  public: [Things.Nope]\n";
    let text = common::pins::load_errors(&extra, &[("m.yaml", mapping)]);
    for expected in [
        "`XX999` is not a JWT algorithm",
        "the leeway is at most 60s",
        "authenticator `inline` needs exactly one of api_key, basic, jwt, hmac",
        "no plan `platinum` in `plans`",
        "a secret is given as `${ENV_VAR}` or `file:PATH`, not written inline",
        "no authenticator `nobody` in gateway.yaml",
        "`Things.Nope` names no single method of this mapping",
        "m.yaml:9:",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(
        !text.contains("plain-text-key"),
        "the secret is not shown: {text}"
    );
}
