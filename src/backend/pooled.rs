//! The pooled HTTP/1.1 client of the backends that send whole bodies (SOAP calls and `proxy`
//! relays), plain or over TLS: hyper-util's client on rustls. reqwest sits on the same pool
//! but adds layers these calls need none of (URL conversion, proxy matching, a redirect
//! policy), which cost about a third of a relay's CPU (docs/benchmarks.md).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::grpc::TlsSettings;
use super::reach::Unreachable;
use super::ConnectError;
use crate::status::Status;

pub(crate) struct Pooled {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// A response read whole.
pub(crate) struct Answer {
    pub parts: http::response::Parts,
    pub body: Bytes,
}

impl Pooled {
    /// A client that trusts the web's roots, and `tls.ca_pem` when given.
    pub(crate) fn new(
        connect_timeout: Duration,
        tls: Option<&TlsSettings>,
    ) -> Result<Self, ConnectError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = tls.and_then(|t| t.ca_pem.as_deref()) {
            for certificate in CertificateDer::pem_slice_iter(pem) {
                let certificate = certificate
                    .map_err(|e| ConnectError::Tls(format!("the CA certificate: {e}")))?;
                (roots.add(certificate))
                    .map_err(|e| ConnectError::Tls(format!("the CA certificate: {e}")))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Pooled { client })
    }

    /// Sends `request` and reads the whole response, at most `max_response` bytes of body
    /// (a longer one is `over_limit`), before `deadline`. A failed connection is warned about
    /// through `unreachable`; the client only ever sees UNAVAILABLE.
    pub(crate) async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
        deadline: Option<tokio::time::Instant>,
        max_response: usize,
        over_limit: fn(usize) -> Status,
        unreachable: &Unreachable,
    ) -> Result<Answer, Status> {
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    unreachable.failed(&e);
                }
                Status::unavailable("the backend is unavailable")
            })?;
            let (parts, body) = response.into_parts();
            let too_large = || over_limit(max_response);
            if (parts.headers.get(http::header::CONTENT_LENGTH))
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|n| n > max_response)
            {
                return Err(too_large());
            }
            let body = (Limited::new(body, max_response).collect().await)
                .map_err(|e| match e.downcast_ref::<LengthLimitError>() {
                    Some(_) => too_large(),
                    None => broke_off(),
                })?
                .to_bytes();
            Ok(Answer { parts, body })
        };
        match deadline {
            Some(deadline) => (tokio::time::timeout_at(deadline, exchange).await)
                .map_err(|_| Status::deadline_exceeded())?,
            None => exchange.await,
        }
    }
}

pub(crate) fn broke_off() -> Status {
    Status::unavailable("the backend's response broke off")
}

/// A backend answer over the limit: the backend misbehaved, so a 502 (INTERNAL on gRPC).
pub(crate) fn too_large(limit: usize) -> Status {
    Status::internal(format!(
        "the backend's response is larger than the limit of {limit} bytes"
    ))
    .with_http(http::StatusCode::BAD_GATEWAY)
}
