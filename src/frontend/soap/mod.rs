//! The SOAP frontend: serves the operations of a `frontend: soap` mapping as a SOAP 1.1 and 1.2
//! service, one per protobuf service, at `/soap/{Service}` with its generated WSDL at
//! `?wsdl` (document/literal wrapped). A request envelope's body element names the operation;
//! its content is read into the input message through proto3 JSON (`xml::json`), and the reply
//! is written back the same way, or as a fault (design.md section 6).

mod wsdl;

pub(crate) mod mount;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{Method, StatusCode};
use prost_reflect::{MethodDescriptor, ServiceDescriptor};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Writer;

use crate::call::Origin;
use crate::frontend::rest;
use crate::frontend::CallTarget;
use crate::registry::wsdl::model::SoapVersion;
use crate::status::{Code, Status};
use crate::xml::json::{read_object, write_object};
use crate::xml::read::{Item, Reader};
use crate::xml::schema::XmlSchema;
use crate::xml::write::{end, io, start, Encoder};
use crate::xml::{Limits, XmlError, SOAP11_ENV, SOAP12_ENV, XSI};

/// One service served over SOAP.
pub struct SoapEndpoint {
    pub path: String,
    service: ServiceDescriptor,
    namespace: String,
    /// By operation (method) name.
    targets: HashMap<String, CallTarget>,
    max_body: usize,
}

/// Where the SOAP endpoint of `service` is served.
pub(crate) fn path_of(service: &ServiceDescriptor) -> String {
    format!("/soap/{}", service.name())
}

impl SoapEndpoint {
    pub fn new(
        service: ServiceDescriptor,
        targets: HashMap<String, CallTarget>,
        max_body: usize,
    ) -> Self {
        SoapEndpoint {
            path: path_of(&service),
            namespace: format!("urn:rosetta:{}", service.full_name()),
            service,
            targets,
            max_body,
        }
    }

    /// The WSDL, with the service at `base` (`http://host:port`).
    pub fn wsdl(&self, base: &str) -> String {
        let mut methods: Vec<MethodDescriptor> = self
            .service
            .methods()
            .filter(|m| self.targets.contains_key(m.name()))
            .collect();
        methods.sort_by_key(|m| m.index());
        let location = format!("{base}{}", self.path);
        wsdl::generate(&self.service, &methods, &self.namespace, &location)
    }

    pub fn service_name(&self) -> &str {
        self.service.full_name()
    }

    pub async fn handle(self: Arc<Self>, request: http::Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        if parts.method == Method::GET {
            let asks_wsdl = parts
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p.eq_ignore_ascii_case("wsdl")));
            if !asks_wsdl {
                return (StatusCode::NOT_FOUND, "append ?wsdl for the service's WSDL")
                    .into_response();
            }
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let text = self.wsdl(&format!("http://{host}"));
            return ([(CONTENT_TYPE, "text/xml; charset=utf-8")], text).into_response();
        }
        if parts.method != Method::POST {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                [(http::header::ALLOW, "GET, POST")],
                "a SOAP request is a POST; GET ?wsdl for the WSDL",
            )
                .into_response();
        }
        let bytes = match rest::read_body(body, &parts.headers, self.max_body).await {
            Ok(bytes) => bytes,
            Err(status) => return fault(SoapVersion::V11, &status),
        };
        let (version, name, input) = match self.request(&bytes) {
            Ok(read) => read,
            Err((version, status)) => return fault(version, &status),
        };
        let origin = Origin::new(&parts, Some(bytes));
        match self.call(&name, input, &origin).await {
            Ok(envelope) => envelope_response(version, StatusCode::OK, envelope),
            Err(status) => fault(version, &status),
        }
    }

    /// Reads a request envelope: its version, the operation its body element names, and that
    /// element's content as the input message's proto3 JSON.
    fn request(
        &self,
        bytes: &[u8],
    ) -> Result<(SoapVersion, String, Vec<u8>), (SoapVersion, Status)> {
        let mut version = SoapVersion::V11;
        let bad = |version, e: XmlError| (version, Status::invalid_argument(e.to_string()));
        let mut reader = Reader::new(bytes, Limits::with_max_size(self.max_body))
            .map_err(|e| bad(version, e))?;
        let envelope = loop {
            match reader.next().map_err(|e| bad(version, e))? {
                Item::Start(s) => break s,
                Item::Text(t) if t.trim().is_empty() => {}
                _ => {
                    return Err(bad(
                        version,
                        XmlError::new("the request is not a SOAP envelope"),
                    ))
                }
            }
        };
        version = match &*envelope.ns {
            SOAP11_ENV if envelope.local == "Envelope" => SoapVersion::V11,
            SOAP12_ENV if envelope.local == "Envelope" => SoapVersion::V12,
            _ => {
                return Err(bad(
                    version,
                    XmlError::new(format!(
                        "expected a SOAP Envelope, found `{}`",
                        envelope.local
                    )),
                ))
            }
        };
        loop {
            let section = match reader.next().map_err(|e| bad(version, e))? {
                Item::Start(s) => s,
                Item::Text(_) => continue,
                Item::End => return Err(bad(version, XmlError::new("the envelope has no Body"))),
            };
            if section.local != "Body" {
                reader.skip(&section).map_err(|e| bad(version, e))?;
                continue;
            }
            let operation = loop {
                match reader.next().map_err(|e| bad(version, e))? {
                    Item::Start(s) => break s,
                    Item::Text(_) => continue,
                    Item::End => return Err(bad(version, XmlError::new("the Body is empty"))),
                }
            };
            let name = operation.local.to_owned();
            let target = self.targets.get(&name).ok_or_else(|| {
                (
                    version,
                    Status::new(
                        Code::Unimplemented,
                        format!("no operation `{name}` in this service"),
                    ),
                )
            })?;
            let input = target.operation.method.input();
            let json = read_object(&mut reader, &operation, &input).map_err(|e| bad(version, e))?;
            reader.finish().map_err(|e| bad(version, e))?;
            let json = serde_json::to_vec(&json)
                .map_err(|e| (version, Status::internal(e.to_string())))?;
            return Ok((version, name, json));
        }
    }

    /// Calls the operation and writes the response envelope (without the version's envelope
    /// element yet: `envelope_response` adds it).
    async fn call(
        &self,
        name: &str,
        json: Vec<u8>,
        origin: &Arc<Origin>,
    ) -> Result<(MethodDescriptor, serde_json::Map<String, serde_json::Value>), Status> {
        let target = &self.targets[name];
        let method = &target.operation.method;
        let message = target.reply(&json, origin.clone(), "request").await?;
        let object = message.to_json(&target.response_plan)?;
        Ok((method.clone(), object))
    }
}

/// A request refused before it is read (the IP gate): a fault in the version the content type
/// names.
pub(crate) fn refusal(status: &Status, headers: &http::HeaderMap) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let version = match content_type {
        Some(t) if t.starts_with("application/soap+xml") => SoapVersion::V12,
        _ => SoapVersion::V11,
    };
    fault(version, status)
}

fn fault(version: SoapVersion, status: &Status) -> Response {
    // Client: the caller's mistake (design.md section 6); Server: everything else.
    let client = matches!(
        status.code,
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::ResourceExhausted
            | Code::FailedPrecondition
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unauthenticated
    );
    let schema = XmlSchema::default();
    let prefixes = HashMap::new();
    let encoder = Encoder {
        schema: &schema,
        prefixes: &prefixes,
    };
    let body = encoder
        .fault(version, client, None, &status.message, None)
        .unwrap_or_default();
    // SOAP 1.1 answers faults with 500; 1.2 with 400 for the sender's. Missing credentials
    // are HTTP's business (401 and its challenge), as SOAP clients expect.
    let http = if status.code == Code::Unauthenticated {
        StatusCode::UNAUTHORIZED
    } else if version == SoapVersion::V12 && client {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let mut response = with_content_type(version, http, body);
    for (name, value) in status.header_iter() {
        response.headers_mut().append(name, value.clone());
    }
    response
}

/// The response envelope of a reply.
fn envelope_response(
    version: SoapVersion,
    http: StatusCode,
    (method, object): (MethodDescriptor, serde_json::Map<String, serde_json::Value>),
) -> Response {
    let namespace = format!("urn:rosetta:{}", method.parent_service().full_name());
    match response_envelope(version, &namespace, &method, &object) {
        Ok(body) => with_content_type(version, http, body),
        Err(e) => with_content_type(version, StatusCode::INTERNAL_SERVER_ERROR, e.0.into_bytes()),
    }
}

fn response_envelope(
    version: SoapVersion,
    namespace: &str,
    method: &MethodDescriptor,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<u8>, XmlError> {
    let mut w = Writer::new(Vec::with_capacity(512));
    let mut envelope = BytesStart::new("soap:Envelope");
    envelope.push_attribute((
        "xmlns:soap",
        match version {
            SoapVersion::V11 => SOAP11_ENV,
            SoapVersion::V12 => SOAP12_ENV,
        },
    ));
    envelope.push_attribute(("xmlns:xsi", XSI));
    envelope.push_attribute(("xmlns:tns", namespace));
    w.write_event(Event::Start(envelope)).map_err(io)?;
    start(&mut w, "soap:Body")?;
    let wrapper = format!("tns:{}Response", method.name());
    start(&mut w, &wrapper)?;
    write_object(&mut w, "tns", &method.output(), object)?;
    end(&mut w, &wrapper)?;
    end(&mut w, "soap:Body")?;
    end(&mut w, "soap:Envelope")?;
    Ok(w.into_inner())
}

fn with_content_type(version: SoapVersion, status: StatusCode, body: Vec<u8>) -> Response {
    let content_type = match version {
        SoapVersion::V11 => "text/xml; charset=utf-8",
        SoapVersion::V12 => "application/soap+xml; charset=utf-8",
    };
    (status, [(CONTENT_TYPE, content_type)], body).into_response()
}
