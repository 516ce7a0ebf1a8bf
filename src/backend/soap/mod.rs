//! The SOAP backend: a canonical call becomes an envelope (schema-driven, see `crate::xml`),
//! POSTed with reqwest over a pooled HTTP client; the response envelope or fault becomes the
//! reply or the canonical status (design.md sections 5 and 6).

pub(crate) mod build;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

use crate::backend::grpc::TlsSettings;
use crate::backend::reach::Unreachable;
use crate::backend::ConnectError;
use crate::call::{Call, Message, Reply};
use crate::registry::wsdl::build::{SoapOperation, SoapService};
use crate::registry::wsdl::model::SoapVersion;
use crate::status::{Code, Status};
use crate::xml::read::{Decoder, Fault, Response};
use crate::xml::write::Encoder;
use crate::xml::Limits;

/// Settings of one SOAP backend, resolved from configuration and its WSDL.
#[derive(Debug)]
pub struct SoapSettings {
    /// The endpoint URL.
    pub address: String,
    pub service: Arc<SoapService>,
    pub pool: DescriptorPool,
    /// Raw XML put in every request's Header.
    pub headers: Vec<String>,
    pub ws_security: Option<WsSecurity>,
    pub basic_auth: Option<(String, String)>,
    /// Fault code or subcode -> canonical code.
    pub fault_codes: HashMap<String, Code>,
    pub tls: Option<TlsSettings>,
    pub connect_timeout: Duration,
    /// Largest response read (the XML document limit).
    pub max_response: usize,
}

#[derive(Debug, Clone)]
pub struct WsSecurity {
    pub username: String,
    pub password: String,
    pub digest: bool,
}

pub(crate) struct SoapBackend {
    settings: Arc<SoapSettings>,
    client: reqwest::Client,
    unreachable: Unreachable,
    /// The endpoint, parsed once (parsing it per call shows in profiles).
    url: reqwest::Url,
    /// By method name: what each call of an operation needs, made once.
    operations: HashMap<String, Prepared>,
}

struct Prepared {
    operation: SoapOperation,
    /// `Content-Type` and `SOAPAction`.
    headers: Vec<(&'static str, HeaderValue)>,
    output: MessageDescriptor,
}

const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const TOKEN_PROFILE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0";
const BASE64_ENCODING: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

impl SoapBackend {
    pub(crate) fn new(settings: Arc<SoapSettings>) -> Result<Self, ConnectError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(tls) = &settings.tls {
            if let Some(pem) = &tls.ca_pem {
                let cert =
                    reqwest::Certificate::from_pem(pem).map_err(ConnectError::CaCertificate)?;
                builder = builder.add_root_certificate(cert);
            }
            if tls.server_name.is_some() {
                return Err(ConnectError::SoapServerName);
            }
        }
        let client = builder.build().map_err(ConnectError::Client)?;
        let url = reqwest::Url::parse(&settings.address)
            .map_err(|e| ConnectError::Address(e.to_string()))?;
        let mut operations = HashMap::new();
        for (name, op) in &settings.service.operations {
            let prepared = Prepared {
                operation: op.clone(),
                headers: soap_headers(settings.service.version, op),
                output: message(&settings.pool, &op.output.message)
                    .map_err(|status| ConnectError::Service(status.message))?,
            };
            operations.insert(name.clone(), prepared);
        }
        Ok(SoapBackend {
            unreachable: Unreachable::new(&settings.address),
            settings,
            client,
            url,
            operations,
        })
    }

    async fn invoke(&self, mut call: Call) -> Result<Reply, Status> {
        let settings = &self.settings;
        let prepared = self
            .operations
            .get(call.operation.method.name())
            .ok_or_else(|| Status::new(Code::Unimplemented, "no such SOAP operation"))?;
        let operation = &prepared.operation;
        let input = call
            .input
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("the request has no message"))?;
        let envelope = request_envelope(settings, operation, &input)?;
        let mut request = self.client.post(self.url.clone()).body(envelope);
        for (name, value) in &prepared.headers {
            request = request.header(*name, value.clone());
        }
        for (name, value) in &call.metadata {
            if !name.as_str().starts_with("content-") && name != http::header::HOST {
                request = request.header(name, value);
            }
        }
        if let Some((user, password)) = &settings.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        // The deadline is enforced by `call::invoke`, which drops this future when it passes.
        let response =
            (request.send().await).map_err(|e| transport_error(self.unreachable.seen(e)))?;
        let status = response.status();
        let body = read_limited(response, settings.max_response).await?;
        let output = prepared.output.clone();
        if operation.one_way && body.iter().all(u8::is_ascii_whitespace) && status.is_success() {
            return Ok(reply(Message::Decoded(DynamicMessage::new(output))));
        }
        let decoder = Decoder {
            schema: &settings.service.xml,
        };
        let limits = Limits::with_max_size(settings.max_response);
        match decoder.envelope(&body, limits, &operation.output, &operation.faults) {
            Ok(Response::Message(wire)) if status.is_success() => {
                Ok(reply(Message::Encoded(output, wire.into())))
            }
            Ok(Response::Fault(fault)) => Err(fault_status(settings, fault)),
            _ if !status.is_success() => Err(http_error(status)),
            Ok(Response::Message(_)) => unreachable!("success is handled above"),
            Err(e) => Err(Status::new(
                Code::Internal,
                format!("the backend's response is not a valid SOAP envelope: {e}"),
            )),
        }
    }
}

/// The envelope a call's input becomes; also used by the dry run.
pub(crate) fn request_envelope(
    settings: &SoapSettings,
    operation: &SoapOperation,
    input: &Message,
) -> Result<Vec<u8>, Status> {
    let message = input.decoded()?;
    // A fresh UsernameToken per call; without one, the configured headers as they are.
    let headers: Cow<[String]> = match &settings.ws_security {
        None => Cow::Borrowed(&settings.headers),
        Some(security) => {
            let mut headers = settings.headers.clone();
            headers.push(username_token(security));
            Cow::Owned(headers)
        }
    };
    let encoder = Encoder {
        schema: &settings.service.xml,
        prefixes: &settings.service.prefixes,
    };
    encoder
        .envelope(
            settings.service.version,
            &operation.input,
            &message,
            &headers,
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

/// `Content-Type` and `SOAPAction` (1.1) or the `action` parameter (1.2).
pub(crate) fn soap_headers(
    version: SoapVersion,
    operation: &SoapOperation,
) -> Vec<(&'static str, HeaderValue)> {
    let action = operation.action.as_deref().unwrap_or("");
    let quoted = format!("\"{}\"", action.replace('"', ""));
    match version {
        SoapVersion::V11 => vec![
            (
                "content-type",
                HeaderValue::from_static("text/xml; charset=utf-8"),
            ),
            (
                "soapaction",
                HeaderValue::from_str(&quoted).unwrap_or(HeaderValue::from_static("\"\"")),
            ),
        ],
        SoapVersion::V12 => {
            let mut content_type = "application/soap+xml; charset=utf-8".to_owned();
            if !action.is_empty() {
                content_type.push_str("; action=");
                content_type.push_str(&quoted);
            }
            vec![(
                "content-type",
                HeaderValue::from_str(&content_type)
                    .unwrap_or(HeaderValue::from_static("application/soap+xml")),
            )]
        }
    }
}

fn message(pool: &DescriptorPool, name: &str) -> Result<MessageDescriptor, Status> {
    pool.get_message_by_name(name)
        .ok_or_else(|| Status::internal(format!("message {name} is not in the registry")))
}

fn reply(message: Message) -> Reply {
    Reply {
        metadata: HeaderMap::new(),
        messages: futures::stream::once(async move { Ok(message) }).boxed(),
    }
}

/// A connection failure is UNAVAILABLE with a neutral message (no internal address).
fn transport_error(e: reqwest::Error) -> Status {
    if e.is_timeout() {
        Status::deadline_exceeded()
    } else {
        Status::unavailable("the backend is unavailable")
    }
}

/// An HTTP error without a SOAP fault, by meaning (design.md section 6).
fn http_error(status: http::StatusCode) -> Status {
    let code = crate::status::code_for_http(status.as_u16());
    Status::new(
        code,
        format!("the backend answered HTTP {}", status.as_u16()),
    )
}

async fn read_limited(response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Status> {
    if response
        .content_length()
        .is_some_and(|n| n as usize > limit)
    {
        return Err(too_large(limit));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(transport_error)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(limit: usize) -> Status {
    Status::internal(format!(
        "the backend's response is larger than {limit} bytes"
    ))
}

/// A fault as the canonical status: the code by the mapping's table or by the fault's class,
/// the reason as message, the detail (typed when the WSDL declares it) and an ErrorInfo with
/// the fault code.
fn fault_status(settings: &SoapSettings, fault: Fault) -> Status {
    let configured = fault
        .subcode
        .as_ref()
        .and_then(|s| settings.fault_codes.get(s))
        .or_else(|| settings.fault_codes.get(&fault.code));
    let class = fault.code.split('.').next().unwrap_or("");
    let code = configured.copied().unwrap_or(match class {
        "Client" | "Sender" => Code::InvalidArgument,
        _ => Code::Internal,
    });
    let message = if fault.reason.is_empty() {
        format!("SOAP fault {}", fault.code)
    } else {
        fault.reason.clone()
    };
    let mut status = Status::new(code, message);
    if let Some((message, wire)) = &fault.detail {
        status = status.with_detail(prost_types::Any {
            type_url: format!("type.googleapis.com/{message}"),
            value: wire.clone(),
        });
    }
    // The reason is the most specific code: a SOAP 1.2 subcode, else the fault code.
    let mut metadata = HashMap::new();
    if fault.subcode.is_some() {
        metadata.insert("code".to_owned(), fault.code.clone());
    }
    if let Some(raw) = &fault.raw_detail {
        metadata.insert("detail".to_owned(), raw.clone());
    }
    let info = ErrorInfo {
        reason: fault.subcode.clone().unwrap_or_else(|| fault.code.clone()),
        domain: "soap".into(),
        metadata,
    };
    status.with_detail(prost_types::Any {
        type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
        value: info.encode_to_vec(),
    })
}

/// `google.rpc.ErrorInfo`, for encoding.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(map = "string, string", tag = "3")]
    metadata: HashMap<String, String>,
}

/// A WS-Security UsernameToken header, with a fresh nonce and creation time.
fn username_token(security: &WsSecurity) -> String {
    use ring::rand::SecureRandom;
    let mut nonce = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut nonce);
    let created = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    let (kind, password) = if security.digest {
        let mut input = nonce.to_vec();
        input.extend_from_slice(created.as_bytes());
        input.extend_from_slice(security.password.as_bytes());
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
        ("PasswordDigest", b64.encode(digest.as_ref()))
    } else {
        ("PasswordText", security.password.clone())
    };
    let escape = |s: &str| quick_xml::escape::escape(s).into_owned();
    format!(
        "<wsse:Security xmlns:wsse=\"{WSSE}\" xmlns:wsu=\"{WSU}\"><wsse:UsernameToken>\
         <wsse:Username>{}</wsse:Username>\
         <wsse:Password Type=\"{TOKEN_PROFILE}#{kind}\">{}</wsse:Password>\
         <wsse:Nonce EncodingType=\"{BASE64_ENCODING}\">{}</wsse:Nonce>\
         <wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>",
        escape(&security.username),
        escape(&password),
        b64.encode(nonce),
    )
}

impl crate::call::Backend for SoapBackend {
    fn call(&self, call: Call) -> impl std::future::Future<Output = Result<Reply, Status>> + Send {
        self.invoke(call)
    }
}
