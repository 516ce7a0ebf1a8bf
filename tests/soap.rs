//! REST/JSON -> SOAP through the gateway, against in-process SOAP servers (axum routes that
//! answer fixed, schema-valid envelopes and record what they receive), on the multi-file,
//! multi-namespace WSDL in tests/soap/.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::{serve, vars, write_files, RunningGateway};
use serde_json::{json, Value};

/// What the test server received: SOAPAction or content type, headers, and body.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, String)>>>);

impl Received {
    fn last(&self) -> (HeaderMap, String) {
        self.0.lock().unwrap().last().cloned().expect("a request")
    }
}

type Answer = fn(&str, &str) -> (StatusCode, String);

struct SoapServer {
    url: String,
    received: Received,
    _task: tokio::task::JoinHandle<()>,
}

async fn soap_server(answer: Answer) -> SoapServer {
    let received = Received::default();
    let app = axum::Router::new()
        .route(
            "/shop",
            axum::routing::post(
                |State((received, answer)): State<(Received, Answer)>,
                 headers: HeaderMap,
                 body: String| async move {
                    let action = headers
                        .get("soapaction")
                        .or(headers.get("content-type"))
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    received.0.lock().unwrap().push((headers, body.clone()));
                    if body.contains(">999<") {
                        // A slow backend, for deadlines.
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    }
                    let (status, xml) = answer(&action, &body);
                    (status, [("content-type", "text/xml; charset=utf-8")], xml).into_response()
                },
            ),
        )
        .with_state((received.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    SoapServer {
        url: format!("http://{addr}/shop"),
        received,
        _task: task,
    }
}

const ENV11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const ENV12: &str = "http://www.w3.org/2003/05/soap-envelope";

fn envelope(ns: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="{ns}" xmlns:s="urn:shop" xmlns:c="urn:common" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><e:Body>{body}</e:Body></e:Envelope>"#
    )
}

/// Answers of the test server, by action and by the id asked for.
fn shop(action: &str, body: &str) -> (StatusCode, String) {
    let env = if action.contains("soap+xml") {
        ENV12
    } else {
        ENV11
    };
    let ok = |b: &str| (StatusCode::OK, envelope(env, b));
    if action.contains("GetOrder") {
        if body.contains(">1<") {
            return ok(r#"<s:GetOrderResponse><s:order>
                <s:id>9007199254740993</s:id><s:status>SHIPPED</s:status>
                <s:note xsi:nil="true"/>
                <s:items id="10"><s:sku>A-1</s:sku><s:quantity>2</s:quantity><s:price currency="EUR">0.1</s:price></s:items>
                <s:items id="11"><s:sku>B&amp;2</s:sku><s:quantity>1</s:quantity><s:price currency="USD">19.90</s:price></s:items>
                <s:total>12345678901234567890.123</s:total>
                <s:created>2024-02-29T12:30:00+05:30</s:created>
                <s:receipt>aGVsbG8=</s:receipt>
                <s:delivery country="NL"><street>Damrak 1</street><city>Amsterdam</city></s:delivery>
                <s:payment xsi:type="s:CardPayment"><s:amount>20.00</s:amount><s:last4>4242</s:last4></s:payment>
                <s:tags>gift  fragile</s:tags>
                <s:extra><key>max</key><value>18446744073709551615</value></s:extra>
                <x:trace xmlns:x="urn:other">abc</x:trace>
                </s:order></s:GetOrderResponse>"#);
        }
        if body.contains(">2<") {
            return ok(
                r#"<s:GetOrderResponse><s:order><s:id>2</s:id><s:status>OPEN</s:status>
                <s:total>0</s:total><s:created>2024-01-01T00:00:00</s:created><s:pickup>store 5</s:pickup>
                <s:payment><s:amount>1.5</s:amount></s:payment>
                </s:order></s:GetOrderResponse>"#,
            );
        }
        if body.contains(">3<") {
            return ok(
                r#"<s:GetOrderResponse><s:order><s:id>3</s:id><s:status>OPEN</s:status><s:note></s:note>
                <s:items><s:sku>only</s:sku><s:quantity>1</s:quantity><s:price currency="EUR">1</s:price></s:items>
                <s:total>1</s:total><s:pickup></s:pickup></s:order></s:GetOrderResponse>"#,
            );
        }
        if body.contains(">500<") {
            // SOAP 1.1 fault without a detail, answered with HTTP 200.
            return ok(
                r#"<e:Fault><faultcode>e:Server</faultcode><faultstring>database down</faultstring></e:Fault>"#,
            );
        }
        if env == ENV12 {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                envelope(
                    env,
                    r#"<e:Fault><e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>s:NotFound</e:Value></e:Subcode></e:Code>
                    <e:Reason><e:Text xml:lang="en">no such order</e:Text></e:Reason>
                    <e:Detail><s:OrderFault><s:orderId>404</s:orderId><s:reason>unknown</s:reason></s:OrderFault></e:Detail></e:Fault>"#,
                ),
            );
        }
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            envelope(
                env,
                r#"<e:Fault><faultcode>e:Client.NotFound</faultcode><faultstring>no such order</faultstring>
                <detail><s:OrderFault><s:orderId>404</s:orderId><s:reason>unknown</s:reason></s:OrderFault></detail></e:Fault>"#,
            ),
        );
    }
    if action.contains("PlaceOrder") {
        return ok(r#"<s:PlaceOrderResponse><s:id>77</s:id></s:PlaceOrderResponse>"#);
    }
    if action.contains("Ping") {
        return ok(
            r#"<r:PingResponse xmlns:r="urn:shop:rpc"><reply>pong</reply></r:PingResponse>"#,
        );
    }
    (StatusCode::NOT_FOUND, String::new())
}

fn soap_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/soap")
}

const MAPPING: &str = r#"version: 1
frontend: rest
backend:
  address: ${SHOP_URL}
  soap:
    wsdl: ${WSDL}
    port: ${PORT}
    headers:
      - '<t:Trace xmlns:t="urn:trace">run-1</t:Trace>'
    fault_codes:
      Client.NotFound: NOT_FOUND
      NotFound: NOT_FOUND
rules:
  - selector: Shop.GetOrder
    get: /orders/{id}
"#;

async fn gateway_for(
    server: &SoapServer,
    port: &str,
    mapping: &str,
) -> (RunningGateway, tempfile::TempDir) {
    let wsdl = soap_dir().join("shop.wsdl");
    let dir = write_files(&[
        ("gateway.yaml", "version: 1\n"),
        ("mappings/shop.yaml", mapping),
    ]);
    let vars = vars(&[
        ("SHOP_URL", server.url.clone()),
        ("WSDL", wsdl.display().to_string()),
        ("PORT", port.to_owned()),
        ("SHOP_PASSWORD", "s3cret".to_owned()),
    ]);
    let gateway = common::load(dir.path(), vars).unwrap_or_else(|d| panic!("{}", d.render()));
    (serve(gateway).await, dir)
}

async fn get(gateway: &RunningGateway, path: &str) -> (u16, Value) {
    let response = reqwest::get(gateway.url(path)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn post(gateway: &RunningGateway, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(gateway.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn responses_become_json_by_the_schema() {
    let server = soap_server(shop).await;
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", MAPPING).await;
    // Arrays of two items, nil, decimals and longs unchanged, dateTime as written, base64,
    // enumeration, attributes, simple content, choice, xsi:type, list, unsignedLong, xsd:any.
    let (status, one) = get(&gateway, "/orders/1").await;
    assert_eq!(status, 200, "{one}");
    insta::assert_json_snapshot!("order_1", one);
    assert_eq!(one["order"]["id"], "9007199254740993");
    assert_eq!(one["order"]["note"], Value::Null);
    assert_eq!(one["order"]["total"], "12345678901234567890.123");
    assert_eq!(one["order"]["items"][0]["price"]["$value"], "0.1");
    // Zero items is an empty array; an absent note is absent.
    let (_, two) = get(&gateway, "/orders/2").await;
    insta::assert_json_snapshot!("order_2", two);
    assert_eq!(two["order"]["items"], json!([]));
    assert!(two["order"].get("note").is_none());
    // One item is still an array; an empty note is an empty string.
    let (_, three) = get(&gateway, "/orders/3").await;
    insta::assert_json_snapshot!("order_3", three);
    assert_eq!(three["order"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(three["order"]["note"], "");
    // The request envelope: SOAP 1.1, SOAPAction, qualified elements, the configured header.
    let (headers, body) = server.received.last();
    assert_eq!(headers["soapaction"], "\"urn:shop:GetOrder\"");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    insta::assert_snapshot!("get_order_envelope_11", body);
}

#[tokio::test]
async fn json_requests_become_envelopes() {
    let server = soap_server(shop).await;
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", MAPPING).await;
    let order = json!({
        "order": {
            "id": "9007199254740993",
            "status": "OPEN",
            "note": null,
            "items": [{"id": "1", "sku": "<&>", "quantity": 3, "price": {"currency": "EUR", "$value": "0.10"}}],
            "total": "12345678901234567890.123",
            "created": "2024-02-29T12:30:00Z",
            "receipt": "aGVsbG8=",
            "delivery": {"country": "NL", "street": "Damrak 1", "city": "Amsterdam"},
            "payment": {"CardPayment": {"amount": "20.00", "last4": "4242"}},
            "tags": ["gift", "fragile"],
            "extra": {"key": "max", "value": "18446744073709551615"},
            "any": ["<x:trace xmlns:x=\"urn:other\">abc</x:trace>"]
        },
        "AuthHeader": {"apiKey": "k-1"}
    });
    let (status, reply) = post(&gateway, "/Shop/PlaceOrder", order).await;
    assert_eq!((status, &reply), (200, &json!({"id": "77"})));
    let (headers, body) = server.received.last();
    assert_eq!(headers["soapaction"], "\"urn:shop:PlaceOrder\"");
    insta::assert_snapshot!("place_order_envelope_11", body);

    // Values the schema does not allow are refused before the backend is called.
    let calls = server.received.0.lock().unwrap().len();
    for (bad, why) in [
        (
            json!({"order": {"id": "1", "status": "LOST", "total": "1"}}),
            "is not one of OPEN, SHIPPED",
        ),
        (
            json!({"order": {"id": "1", "status": "OPEN", "total": "1.2.3"}}),
            "is not an xsd:decimal",
        ),
        (
            json!({"order": {"id": "1", "status": "OPEN", "total": "1", "items": [{"quantity": 70000}]}}),
            "out of range for xsd:short",
        ),
        (
            json!({"order": {"id": "1", "status": "OPEN", "total": "1", "any": ["<a>"]}}),
            "raw XML",
        ),
        (
            json!({"order": {"id": "1", "status": "OPEN", "total": "1", "any": ["</soap:Body>"]}}),
            "raw XML",
        ),
    ] {
        let (status, error) = post(&gateway, "/Shop/PlaceOrder", bad).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["code"], 3);
        assert!(error["message"].as_str().unwrap().contains(why), "{error}");
    }
    assert_eq!(server.received.0.lock().unwrap().len(), calls);
}

#[tokio::test]
async fn faults_become_canonical_errors() {
    let server = soap_server(shop).await;
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", MAPPING).await;
    // SOAP 1.1 fault with a typed detail, mapped to NOT_FOUND by the mapping.
    let (status, error) = get(&gateway, "/orders/404").await;
    assert_eq!(status, 404);
    insta::assert_json_snapshot!("fault_11", error);
    // A Server fault (HTTP 200) without a mapping entry: INTERNAL.
    let (status, error) = get(&gateway, "/orders/500").await;
    assert_eq!((status, error["code"].as_i64()), (500, Some(13)));
    assert_eq!(error["message"], "database down");

    // SOAP 1.2: content type with the action, Code/Subcode/Reason/Detail.
    let (gateway12, _dir12) = gateway_for(&server, "ShopSoap12", MAPPING).await;
    let (status, one) = get(&gateway12, "/orders/2").await;
    assert_eq!((status, &one["order"]["pickup"]), (200, &json!("store 5")));
    let (headers, body) = server.received.last();
    assert_eq!(
        headers["content-type"],
        "application/soap+xml; charset=utf-8; action=\"urn:shop:GetOrder\""
    );
    assert!(headers.get("soapaction").is_none());
    insta::assert_snapshot!("get_order_envelope_12", body);
    let (status, error) = get(&gateway12, "/orders/404").await;
    assert_eq!(status, 404);
    insta::assert_json_snapshot!("fault_12", error);
}

#[tokio::test]
async fn rpc_literal_wraps_parts_in_the_operation_element() {
    let server = soap_server(shop).await;
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", MAPPING).await;
    let (status, reply) = post(&gateway, "/Shop/Ping", json!({"text": "hi", "times": 2})).await;
    assert_eq!((status, reply), (200, json!({"reply": "pong"})));
    let (_, body) = server.received.last();
    assert!(
        body.contains(":Ping><text>hi</text><times>2</times></ns2:Ping>"),
        "{body}"
    );
}

#[tokio::test]
async fn credentials_reach_the_backend() {
    let server = soap_server(shop).await;
    let mapping = MAPPING.replace(
        "    fault_codes:",
        "    basic_auth:\n      username: shop\n      password: ${SHOP_PASSWORD}\n    ws_security:\n      username: alice\n      password: ${SHOP_PASSWORD}\n      digest: true\n    fault_codes:",
    );
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", &mapping).await;
    let (status, _) = get(&gateway, "/orders/2").await;
    assert_eq!(status, 200);
    let (headers, body) = server.received.last();
    assert_eq!(headers["authorization"], "Basic c2hvcDpzM2NyZXQ=");
    // PasswordDigest = Base64(SHA-1(nonce + created + password)), checked from the envelope.
    let field = |open: &str| {
        let start = body.find(open).unwrap() + open.len();
        let start = start + body[start..].find('>').unwrap() + 1;
        body[start..start + body[start..].find('<').unwrap()].to_owned()
    };
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let nonce = b64.decode(field("<wsse:Nonce")).unwrap();
    let created = field("<wsu:Created");
    let mut input = nonce.clone();
    input.extend_from_slice(created.as_bytes());
    input.extend_from_slice(b"s3cret");
    let expected = b64.encode(ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &input,
    ));
    assert_eq!(field("<wsse:Password"), expected);
    assert!(body.contains("#PasswordDigest"));
    assert!(!body.contains("s3cret"));

    // PasswordText sends the password itself, with a nonce and creation time all the same.
    let text = mapping.replace("      digest: true\n", "");
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", &text).await;
    let (status, _) = get(&gateway, "/orders/2").await;
    assert_eq!(status, 200);
    let (_, body) = server.received.last();
    assert!(
        body.contains("#PasswordText\">s3cret</wsse:Password>"),
        "{body}"
    );
    assert!(
        body.contains("<wsse:Nonce ") && body.contains("<wsu:Created>"),
        "{body}"
    );
}

#[tokio::test]
async fn hostile_responses_are_refused_with_bounded_cost() {
    fn hostile(_: &str, body: &str) -> (StatusCode, String) {
        let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        let xml = if body.contains(">1<") {
            r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>&lol2;</e:Body></e:Envelope>"#.to_owned()
        } else if body.contains(">2<") {
            envelope(ENV11, &deep)
        } else {
            let attributes: String = (0..1_000_000).map(|i| format!(" a{i}=\"x\"")).collect();
            envelope(ENV11, &format!("<s:GetOrderResponse{attributes}/>"))
        };
        (StatusCode::OK, xml)
    }
    let server = soap_server(hostile).await;
    let mapping = MAPPING.replace("rules:", "options:\n  timeout: 10s\nrules:");
    let dir_mapping = mapping.clone();
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", &dir_mapping).await;
    for (id, why) in [
        ("1", "DOCTYPE"),
        ("2", "nested deeper than 100"),
        ("3", "larger than"),
    ] {
        let (status, error) = get(&gateway, &format!("/orders/{id}")).await;
        assert_eq!(status, 500, "{error}");
        assert!(error["message"].as_str().unwrap().contains(why), "{error}");
    }
}

#[test]
fn the_descriptors_made_from_the_wsdl() {
    let dir = write_files(&[
        ("gateway.yaml", "version: 1\n"),
        ("mappings/shop.yaml", MAPPING),
    ]);
    let vars = vars(&[
        ("SHOP_URL", "http://127.0.0.1:9/shop".into()),
        ("WSDL", soap_dir().join("shop.wsdl").display().to_string()),
        ("PORT", "ShopSoap11".into()),
    ]);
    let gateway = common::load(dir.path(), vars).unwrap_or_else(|d| panic!("{}", d.render()));
    insta::assert_snapshot!(
        "shop_descriptors",
        common::describe_package(&gateway.pool, "soap.shop")
    );
}

#[tokio::test]
async fn the_demo_wraps_its_soap_service() {
    let demo = common::demo().await;
    let gateway = &demo.gateway;
    let (status, nl) = get(gateway, "/countries/NL").await;
    assert_eq!(status, 200, "{nl}");
    insta::assert_json_snapshot!("demo_country", nl);
    let (_, europe) = get(gateway, "/countries?sContinentCode=EU").await;
    assert_eq!(
        europe,
        json!({"tCountryCodeAndName": [
            {"sISOCode": "CH", "sName": "Switzerland"},
            {"sISOCode": "NL", "sName": "Netherlands"}
        ]})
    );
    let (status, capital) = post(
        gateway,
        "/CountryInfoService/CapitalCity",
        json!({"sCountryISOCode": "jp"}),
    )
    .await;
    assert_eq!(
        (status, capital),
        (200, json!({"CapitalCityResult": "Tokyo"}))
    );
    let (status, error) = get(gateway, "/countries/XX").await;
    assert_eq!(status, 404);
    insta::assert_json_snapshot!("demo_unknown_country", error);
    // Not a continent code of the schema: refused before the backend is called.
    let (status, error) = get(gateway, "/countries?sContinentCode=XX").await;
    assert_eq!(status, 400, "{error}");
}

#[tokio::test]
async fn deadlines_and_unreachable_backends() {
    let server = soap_server(shop).await;
    let (gateway, _dir) = gateway_for(&server, "ShopSoap11", MAPPING).await;
    let started = std::time::Instant::now();
    let response = reqwest::Client::new()
        .get(gateway.url("/orders/999"))
        .header("grpc-timeout", "200m")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 504);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], 4);

    // Nothing listens at the address: UNAVAILABLE, without the address in the message.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/shop", closed.local_addr().unwrap());
    drop(closed);
    let nowhere = SoapServer {
        url: url.clone(),
        received: Received::default(),
        _task: tokio::spawn(async {}),
    };
    let (gateway, _dir) = gateway_for(&nowhere, "ShopSoap11", MAPPING).await;
    let (status, error) = get(&gateway, "/orders/1").await;
    assert_eq!((status, error["code"].as_i64()), (503, Some(14)));
    assert!(!error.to_string().contains("127.0.0.1"), "{error}");
}
