//! The two helpers of bench/soap.sh, on the same stack as rosetta (tokio, axum, reqwest):
//!
//!   bench_soap_peers backend PORT RESPONSE_FILE    a SOAP backend answering every POST with
//!                                                  the envelope in RESPONSE_FILE
//!   bench_soap_peers proxy PORT UPSTREAM_URL       a plain HTTP proxy: the request body and
//!                                                  SOAP headers forwarded as they are
//!
//! The proxy is the baseline that REST -> SOAP translation is measured against: the same
//! server, client and connection pool as rosetta's SOAP backend, without the XML and JSON work.
//! (rosetta has no passthrough mapping of its own yet.)

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::serve::ListenerExt;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_soap_peers backend PORT RESPONSE_FILE | proxy PORT UPSTREAM_URL";
    let (Some(mode), Some(port), Some(arg)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("a port");
    let app = match mode.as_str() {
        "backend" => {
            let body = Bytes::from(std::fs::read(arg).expect("the response file"));
            axum::Router::new().fallback(move || {
                let body = body.clone();
                async move { ([("content-type", "text/xml; charset=utf-8")], body) }
            })
        }
        "proxy" => {
            let client = reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .expect("a client");
            axum::Router::new()
                .fallback(proxy)
                .with_state((client, arg.clone()))
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("the port is free")
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app).await.expect("serves");
}

async fn proxy(
    State((client, upstream)): State<(reqwest::Client, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut request = client.post(&upstream).body(body);
    for name in ["content-type", "soapaction"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let content_type = response.headers().get("content-type").cloned();
            let body = response.bytes().await.unwrap_or_default();
            let mut headers = HeaderMap::new();
            if let Some(ct) = content_type {
                headers.insert("content-type", ct);
            }
            (status, headers, body).into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
