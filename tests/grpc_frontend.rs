//! The gRPC frontend of the demo gateway, called with tonic (and gRPC-Web over HTTP/1.1):
//! gRPC -> gRPC for every kind of call, gRPC -> SOAP, errors with their details, metadata,
//! reflection and health.

mod common;

use std::str::FromStr;

use futures::StreamExt;
use http::uri::PathAndQuery;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use rosetta::grpc::DescriptorCodec;
use serde_json::json;
use tonic::transport::Channel;

async fn channel(demo: &common::Demo) -> tonic::client::Grpc<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(demo.gateway.base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic::client::Grpc::new(channel)
}

fn method(pool: &DescriptorPool, service: &str, name: &str) -> MethodDescriptor {
    pool.get_service_by_name(service)
        .and_then(|s| s.methods().find(|m| m.name() == name))
        .unwrap_or_else(|| panic!("no {service}.{name}"))
}

fn message(method: &MethodDescriptor, json: serde_json::Value) -> DynamicMessage {
    DynamicMessage::deserialize(method.input(), json).unwrap()
}

fn path(method: &MethodDescriptor) -> PathAndQuery {
    PathAndQuery::from_str(&format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .unwrap()
}

fn to_json(message: &DynamicMessage) -> serde_json::Value {
    serde_json::to_value(message).unwrap()
}

async fn unary(
    client: &mut tonic::client::Grpc<Channel>,
    method: &MethodDescriptor,
    request: tonic::Request<DynamicMessage>,
) -> Result<tonic::Response<DynamicMessage>, tonic::Status> {
    client.ready().await.unwrap();
    let codec = DescriptorCodec::<DynamicMessage>::new(method.output());
    client.unary(request, path(method), codec).await
}

#[tokio::test]
async fn grpc_in_front_of_grpc_for_every_kind_of_call() {
    let demo = common::demo().await;
    let pool = demo.gateway.gateway.pool.clone();
    let mut client = channel(&demo).await;

    let get = method(&pool, "demo.v1.Users", "GetUser");
    let mut request = tonic::Request::new(message(&get, json!({"id": "1"})));
    request
        .metadata_mut()
        .insert("x-request-id", "r-1".parse().unwrap());
    let user = unary(&mut client, &get, request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(to_json(&user)["name"], "Ada Lovelace");

    // Server streaming.
    let list = method(&pool, "demo.v1.Users", "ListUsers");
    client.ready().await.unwrap();
    let response = client
        .server_streaming(
            tonic::Request::new(message(&list, json!({"pageSize": 3}))),
            path(&list),
            DescriptorCodec::<DynamicMessage>::new(list.output()),
        )
        .await
        .unwrap();
    let ids: Vec<String> = response
        .into_inner()
        .map(|m| to_json(&m.unwrap())["id"].as_str().unwrap().to_owned())
        .collect()
        .await;
    assert_eq!(ids, ["1", "2", "3"]);

    // Client streaming.
    let upload = method(&pool, "demo.v1.Users", "UploadUsers");
    let users = ["a", "b"].map(|name| message(&upload, json!({"user": {"name": name}})));
    client.ready().await.unwrap();
    let response = client
        .client_streaming(
            tonic::Request::new(futures::stream::iter(users)),
            path(&upload),
            DescriptorCodec::<DynamicMessage>::new(upload.output()),
        )
        .await
        .unwrap();
    assert_eq!(to_json(response.get_ref())["created"], 2);

    // Bidi streaming.
    let chat = method(&pool, "demo.v1.Users", "Chat");
    let lines = ["hello", "bye"].map(|text| message(&chat, json!({"from": "t", "text": text})));
    client.ready().await.unwrap();
    let response = client
        .streaming(
            tonic::Request::new(futures::stream::iter(lines)),
            path(&chat),
            DescriptorCodec::<DynamicMessage>::new(chat.output()),
        )
        .await
        .unwrap();
    let replies: Vec<serde_json::Value> = response
        .into_inner()
        .map(|m| to_json(&m.unwrap()))
        .collect()
        .await;
    assert_eq!(replies.len(), 2, "{replies:?}");
}

#[tokio::test]
async fn errors_keep_their_code_and_details() {
    let demo = common::demo().await;
    let pool = demo.gateway.gateway.pool.clone();
    let mut client = channel(&demo).await;
    let get = method(&pool, "demo.v1.Users", "GetUser");
    let status = unary(
        &mut client,
        &get,
        tonic::Request::new(message(&get, json!({"id": "999"}))),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(status.message(), "user 999 not found");
    let details = rosetta::grpc::status::from_tonic(&status).details;
    assert_eq!(
        details[0].type_url,
        "type.googleapis.com/google.rpc.ResourceInfo"
    );

    // A deadline shorter than the call, enforced by the gateway (over gRPC-Web, whose trailers
    // are in the body, so that no client-side timer races it).
    let started = std::time::Instant::now();
    let response = reqwest::Client::new()
        .post(demo.gateway.url("/demo.v1.Users/Sleep"))
        .header("content-type", "application/grpc-web+proto")
        .header("grpc-timeout", "100m")
        // SleepRequest{duration: 2s}
        .body(vec![0u8, 0, 0, 0, 4, 0x0a, 0x02, 0x08, 0x02])
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // No message came, so the status is in the headers (a trailers-only response).
    assert_eq!(response.headers()["grpc-status"], "4");

    // A method no mapping serves.
    let unknown = PathAndQuery::from_static("/demo.v1.Nope/Nothing");
    client.ready().await.unwrap();
    let status = client
        .unary(
            tonic::Request::new(message(&get, json!({"id": "1"}))),
            unknown,
            DescriptorCodec::<DynamicMessage>::new(get.output()),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn grpc_in_front_of_soap() {
    let demo = common::demo().await;
    let pool = demo.gateway.gateway.pool.clone();
    let mut client = channel(&demo).await;
    let capital = method(&pool, "soap.countries.CountryInfoService", "CapitalCity");
    let request = tonic::Request::new(message(&capital, json!({"sCountryISOCode": "JP"})));
    let answer = unary(&mut client, &capital, request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(to_json(&answer), json!({"CapitalCityResult": "Tokyo"}));
    let info = method(
        &pool,
        "soap.countries.CountryInfoService",
        "FullCountryInfo",
    );
    let request = tonic::Request::new(message(&info, json!({"sCountryISOCode": "NL"})));
    let answer = unary(&mut client, &info, request)
        .await
        .unwrap()
        .into_inner();
    let answer = to_json(&answer);
    // Decimals and longs are unchanged (a decimal travels as a string).
    assert_eq!(answer["FullCountryInfoResult"]["dAreaKm2"], "41850");
    assert_eq!(answer["FullCountryInfoResult"]["lPopulation"], "17942942");
    // A SOAP fault: its mapped code, its typed detail.
    let request = tonic::Request::new(message(&capital, json!({"sCountryISOCode": "XX"})));
    let status = unary(&mut client, &capital, request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let details = rosetta::grpc::status::from_tonic(&status).details;
    assert_eq!(
        details[0].type_url,
        "type.googleapis.com/soap.countries.UnknownCountry"
    );
}

#[tokio::test]
async fn grpc_web_frames_byte_for_byte() {
    let demo = common::demo().await;
    // GetUserRequest{id: 2}, framed: no compression, 2 bytes.
    let frame = [0u8, 0, 0, 0, 2, 0x08, 0x02];
    let response = reqwest::Client::new()
        .post(demo.gateway.url("/demo.v1.Users/GetUser"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/grpc-web+proto"
    );
    let body = response.bytes().await.unwrap();
    // A data frame with the user, then the trailer frame (flag 0x80).
    assert_eq!(body[0], 0);
    let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let pool = demo.gateway.gateway.pool.clone();
    let user = DynamicMessage::decode(
        pool.get_message_by_name("demo.v1.User").unwrap(),
        &body[5..5 + length],
    )
    .unwrap();
    assert_eq!(to_json(&user)["name"], "Alan Turing");
    let trailers = &body[5 + length..];
    assert_eq!(trailers[0], 0x80);
    let text = std::str::from_utf8(&trailers[5..]).unwrap();
    assert!(text.contains("grpc-status:0\r\n"), "{text:?}");
    // The same user's bytes as the backend sends them (the frontend relays them).
    let expected = {
        let backend =
            tonic::transport::Endpoint::from_shared(format!("http://{}", demo.backend.addr))
                .unwrap()
                .connect()
                .await
                .unwrap();
        let mut client = tonic::client::Grpc::new(backend);
        let get = method(&pool, "demo.v1.Users", "GetUser");
        unary(
            &mut client,
            &get,
            tonic::Request::new(message(&get, json!({"id": "2"}))),
        )
        .await
        .unwrap()
        .into_inner()
        .encode_to_vec()
    };
    assert_eq!(&body[5..5 + length], expected.as_slice());
}

#[tokio::test]
async fn grpc_web_text_is_base64() {
    use base64::Engine;
    let demo = common::demo().await;
    let frame = [0u8, 0, 0, 0, 2, 0x08, 0x01];
    let response = reqwest::Client::new()
        .post(demo.gateway.url("/demo.v1.Users/GetUser"))
        .header("content-type", "application/grpc-web-text")
        .header("accept", "application/grpc-web-text")
        .body(base64::engine::general_purpose::STANDARD.encode(frame))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/grpc-web-text+proto"
    );
    let text = response.text().await.unwrap();
    // Each frame is base64 on its own (the data frame, then the trailers).
    let mut decoded = Vec::new();
    for chunk in text.split_inclusive('=').filter(|c| !c.is_empty()) {
        decoded.extend(
            base64::engine::general_purpose::STANDARD
                .decode(chunk)
                .unwrap_or_default(),
        );
    }
    if decoded.is_empty() {
        decoded = base64::engine::general_purpose::STANDARD
            .decode(&text)
            .unwrap();
    }
    assert_eq!(decoded[0], 0);
    let length = u32::from_be_bytes(decoded[1..5].try_into().unwrap()) as usize;
    let user = DynamicMessage::decode(
        demo.gateway
            .gateway
            .pool
            .get_message_by_name("demo.v1.User")
            .unwrap(),
        &decoded[5..5 + length],
    )
    .unwrap();
    assert_eq!(to_json(&user)["name"], "Ada Lovelace");
}
