//! TLS to a gRPC backend: a real TLS server (rustls, ALPN h2) with a certificate made for the
//! test; the gateway trusts it through `tls.ca_file` and checks its name.

mod common;

use std::sync::Arc;

use rosetta::demo;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// An axum listener that completes a TLS handshake on every accepted connection.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The demo gRPC service behind TLS for `localhost`; returns its port and the CA (the
/// self-signed certificate itself) in PEM.
async fn tls_demo_backend() -> (u16, String, tokio::task::JoinHandle<()>) {
    let pool = demo::pool();
    tls_server(demo::router(&pool), b"h2").await
}

/// `router` behind TLS for `localhost`, offering `alpn`.
async fn tls_server(
    router: axum::Router,
    alpn: &[u8],
) -> (u16, String, tokio::task::JoinHandle<()>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = cert.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (port, cert_pem, task)
}

fn config(port: u16, server_name: &str) -> tempfile::TempDir {
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users:\n    protocol: grpc\n    address: https://127.0.0.1:{port}\n    tls:\n      ca_file: ca.pem\n      server_name: {server_name}\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = "version: 1\nfrontend: rest\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n";
    common::write_files(&[("gateway.yaml", &gateway), ("mappings/users.yaml", mapping)])
}

#[tokio::test]
async fn calls_a_tls_backend_and_checks_its_certificate() {
    let (port, ca, task) = tls_demo_backend().await;
    let dir = config(port, "localhost");
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    let gateway = common::serve(
        common::load(dir.path(), common::vars(&[])).unwrap_or_else(|d| panic!("{}", d.render())),
    )
    .await;
    let body: serde_json::Value = reqwest::get(gateway.url("/v1/users/1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["name"], "Ada Lovelace");

    // A certificate for another name is refused: the backend counts as unavailable.
    let dir = config(port, "elsewhere.example");
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    let gateway = common::serve(common::load(dir.path(), common::vars(&[])).unwrap()).await;
    let response = reqwest::get(gateway.url("/v1/users/1")).await.unwrap();
    assert_eq!(response.status(), 503);
    task.abort();
}

#[tokio::test]
async fn an_unreadable_ca_file_is_a_located_error() {
    let dir = config(1, "localhost");
    let diags = match common::load(dir.path(), common::vars(&[])) {
        Ok(_) => panic!("should not load"),
        Err(d) => d,
    };
    assert_eq!(diags.items.len(), 1, "{}", diags.render());
    assert!(
        diags.items[0]
            .message
            .starts_with("cannot read CA file `ca.pem`"),
        "{}",
        diags.render()
    );
    assert_eq!((diags.items[0].line, diags.items[0].column), (9, 16));
}

#[tokio::test]
async fn calls_a_tls_soap_backend_and_checks_its_certificate() {
    let (port, ca, task) = tls_server(demo::soap_router(), b"http/1.1").await;
    let wsdl = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo/schemas/countries.wsdl"
    );
    let setup = |ca_file: &str| {
        let gateway = format!(
            "version: 1\nbackends:\n  countries:\n    protocol: soap\n    address: https://localhost:{port}/countries\n    timeout: 5s\n{ca_file}    soap:\n      wsdl: {wsdl}\n"
        );
        let mapping = "version: 1\nfrontend: rest\nbackend:\n  use: countries\n";
        common::write_files(&[
            ("gateway.yaml", &gateway),
            ("mappings/countries.yaml", mapping),
            ("ca.pem", &ca),
        ])
    };
    let call = |dir: tempfile::TempDir| async move {
        let gateway = common::load(dir.path(), common::vars(&[]))
            .unwrap_or_else(|d| panic!("{}", d.render()));
        let gateway = common::serve(gateway).await;
        let response = reqwest::Client::new()
            .post(gateway.url("/CountryInfoService/CapitalCity"))
            .body(r#"{"sCountryISOCode":"NL"}"#)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    let (status, body) = call(setup("    tls:\n      ca_file: ca.pem\n")).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"CapitalCityResult": "Amsterdam"}))
    );
    // Without the CA the certificate is not trusted: the backend is unavailable, and the
    // error does not say where it is.
    let (status, body) = call(setup("")).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.to_string().contains("localhost"), "{body}");
    task.abort();
}

/// A `proxy` relay to an `https://` backend goes through the same pooled client as plain
/// HTTP, trusting the configured CA, and an untrusted certificate is a neutral 503.
#[tokio::test]
async fn relays_to_a_tls_backend_and_checks_its_certificate() {
    let router = axum::Router::new().route(
        "/hello",
        axum::routing::get(|| async { ([("x-upstream", "tls")], "hi over TLS") }),
    );
    let (port, ca, task) = tls_server(router, b"http/1.1").await;
    let setup = |ca_file: &str| {
        let mapping = format!(
            "version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: https://localhost:{port}\n{ca_file}proxy:\n  path: /px\n"
        );
        common::write_files(&[
            ("gateway.yaml", "version: 1\n"),
            ("mappings/px.yaml", &mapping),
            ("mappings/ca.pem", &ca),
        ])
    };
    let call = |dir: tempfile::TempDir| async move {
        let gateway = common::load(dir.path(), common::vars(&[]))
            .unwrap_or_else(|d| panic!("{}", d.render()));
        let gateway = common::serve(gateway).await;
        let response = reqwest::get(gateway.url("/px/hello")).await.unwrap();
        let upstream = response.headers().get("x-upstream").cloned();
        (
            response.status().as_u16(),
            upstream,
            response.text().await.unwrap(),
        )
    };
    let (status, upstream, body) = call(setup("  tls:\n    ca_file: ca.pem\n")).await;
    assert_eq!((status, body.as_str()), (200, "hi over TLS"));
    assert_eq!(upstream.unwrap(), "tls");
    let (status, _, body) = call(setup("")).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("localhost"), "{body}");
    task.abort();
}
