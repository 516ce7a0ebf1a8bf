//! The SOAP backend: a canonical call becomes an envelope (schema-driven, see `crate::xml`),
//! POSTed over the pooled HTTP client (`backend::pooled`); the response envelope or fault becomes the
//! reply or the canonical status (design.md sections 5 and 6).

pub(crate) mod build;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

use crate::backend::grpc::TlsSettings;
use crate::backend::pooled::Pooled;
use crate::backend::reach::Unreachable;
use crate::backend::ConnectError;
use crate::call::{Call, Message, Reply};
use crate::registry::wsdl::build::{SoapOperation, SoapService};
use crate::registry::wsdl::model::SoapVersion;
use crate::status::{Code, Status};
use crate::xml::read::{Decoder, Fault, Response};
use crate::xml::write::{Encoder, WriteError};
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
    client: Pooled,
    unreachable: Unreachable,
    /// The endpoint, parsed once (parsing it per call shows in profiles).
    url: http::Uri,
    /// The `Authorization` header of `basic_auth`, made once.
    basic_auth: Option<HeaderValue>,
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
        if settings
            .tls
            .as_ref()
            .is_some_and(|t| t.server_name.is_some())
        {
            return Err(ConnectError::SoapServerName);
        }
        let client = Pooled::new(settings.connect_timeout, settings.tls.as_ref())?;
        let url: http::Uri = (settings.address.parse())
            .map_err(|e: http::uri::InvalidUri| ConnectError::Address(e.to_string()))?;
        let basic_auth = settings.basic_auth.as_ref().map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .unwrap_or(HeaderValue::from_static(""));
            value.set_sensitive(true);
            value
        });
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
            basic_auth,
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
        let mut request = http::Request::new(http_body_util::Full::new(Bytes::from(envelope)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.url.clone();
        let headers = request.headers_mut();
        for (name, value) in &prepared.headers {
            headers.insert(*name, value.clone());
        }
        for (name, value) in &call.metadata {
            if !name.as_str().starts_with("content-") && name != http::header::HOST {
                headers.append(name, value.clone());
            }
        }
        if let Some(value) = &self.basic_auth {
            headers.insert(http::header::AUTHORIZATION, value.clone());
        }
        let answer = (self.client)
            .send(
                request,
                call.deadline,
                settings.max_response,
                too_large,
                &self.unreachable,
            )
            .await?;
        let (status, body) = (answer.parts.status, answer.body);
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

/// The envelope a call's input becomes, written from its wire form; also used by the dry run.
pub(crate) fn request_envelope(
    settings: &SoapSettings,
    operation: &SoapOperation,
    input: &Message,
) -> Result<Vec<u8>, Status> {
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
    let desc = input.descriptor();
    let write = |wire: &[u8]| {
        encoder.envelope(
            settings.service.version,
            &operation.input,
            &desc,
            wire,
            &headers,
        )
    };
    let written = match write(&input.to_wire()?) {
        // Bytes from a client that no protobuf encoder wrote: decoding them says what is wrong
        // with them (or makes them canonical).
        Err(WriteError::NotCanonical) => write(&input.decoded()?.encode_to_vec()),
        written => written,
    };
    written.map_err(|e| Status::invalid_argument(e.to_string()))
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

/// A response over the XML document limit, refused like any document the reader refuses.
fn too_large(limit: usize) -> Status {
    Status::internal(format!(
        "the backend's response is larger than {limit} bytes"
    ))
}

/// An HTTP error without a SOAP fault, by meaning (design.md section 6).
fn http_error(status: http::StatusCode) -> Status {
    let code = crate::status::code_for_http(status.as_u16());
    Status::new(
        code,
        format!("the backend answered HTTP {}", status.as_u16()),
    )
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
