//! `rosetta transcode`: runs a request through the real frontend and stages, with every backend
//! replaced by a recorder, and prints the route, the backend call it would make and, given a
//! recorded backend response, the response the client would get. Nothing is sent anywhere.

use http::header::CONTENT_LENGTH;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::BodyExt;
use prost::Message as _;
use serde::Deserialize;

use crate::backend::soap::{self, SoapSettings};
use crate::call::{Call, Invoker, Message, Reply};
use crate::config::{self, Diagnostic, Diagnostics, Files, Located, Vars};
use crate::gateway;
use crate::protojson::{json_to_wire, wire_to_json, JsonOptions, Plan};
use crate::registry::Operation;
use crate::status::{Code, Status};

/// A REST request, as written in a request file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    pub method: Located<String>,
    /// Path and query, e.g. `/v1/users?role=ROLE_ADMIN`.
    pub path: Located<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON value (sent as JSON), or a string (sent as it is).
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// What the backend answered, as written in a response file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseFile {
    /// Response messages as JSON: one for a unary method, any number for a stream.
    #[serde(default)]
    pub messages: Vec<serde_json::Value>,
    /// Response metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// An error instead of (or after) the messages.
    #[serde(default)]
    pub status: Option<StatusFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusFile {
    pub code: i32,
    #[serde(default)]
    pub message: String,
}

/// One call the frontend made to a backend.
pub struct RecordedCall {
    pub operation: Arc<Operation>,
    pub messages: Vec<Message>,
    pub metadata: HeaderMap,
    pub timeout: Option<Duration>,
    /// For a SOAP backend: what would be sent (or why nothing would be).
    pub soap: Option<Result<SoapRequest, Status>>,
}

/// The HTTP headers and envelope a SOAP backend would be sent.
pub struct SoapRequest {
    pub headers: Vec<(&'static str, HeaderValue)>,
    pub envelope: String,
}

/// Stands in for every backend: records calls and answers with the response of the case at
/// hand.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<RecordedCall>>,
    response: Mutex<Option<Arc<ResponseFile>>>,
}

impl Recorder {
    async fn call(&self, call: Call, soap: Option<&SoapSettings>) -> Result<Reply, Status> {
        let timeout = call
            .deadline
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
        let messages: Vec<Message> = call.input.collect().await;
        let operation = call.operation.clone();
        let soap = soap.map(|settings| soap_request(settings, &operation, &messages));
        let refused = soap.as_ref().and_then(|r| r.as_ref().err().cloned());
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(RecordedCall {
                operation: operation.clone(),
                messages,
                metadata: call.metadata,
                timeout,
                soap,
            });
        }
        // The backend would not be called with an envelope that cannot be written.
        if let Some(status) = refused {
            return Err(status);
        }
        let response = self.response.lock().ok().and_then(|r| r.clone());
        let Some(response) = response else {
            return Err(Status::unavailable(
                "dry run: no backend response was given",
            ));
        };
        let mut items = Vec::new();
        // Read as the gateway reads JSON (nillable SOAP elements included).
        let output = operation.method.output();
        let plan = Plan::new(&output, JsonOptions::default());
        for json in &response.messages {
            let wire = serde_json::to_vec(json)
                .map_err(|e| e.to_string())
                .and_then(|bytes| json_to_wire(&plan, &bytes).map_err(|e| e.to_string()))
                .map_err(|e| {
                    Status::invalid_argument(format!(
                        "the recorded response is not a {}: {e}",
                        output.full_name()
                    ))
                })?;
            items.push(Ok(Message::Encoded(output.clone(), wire.into())));
        }
        if let Some(status) = &response.status {
            let error = Status::new(Code::from_i32(status.code), status.message.clone());
            if items.is_empty() {
                return Err(error);
            }
            items.push(Err(error));
        }
        let mut metadata = HeaderMap::new();
        for (name, value) in &response.metadata {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                metadata.append(name, value);
            }
        }
        Ok(Reply {
            metadata,
            messages: futures::stream::iter(items).boxed(),
        })
    }
}

/// A gateway whose backends are recorders: requests go through the real frontend, and nothing
/// is sent anywhere.
pub struct DryRun {
    gateway: gateway::Gateway,
    recorder: Arc<Recorder>,
    /// How the gateway's directory is shown, stripped from places in reports so that they do
    /// not depend on the working directory.
    base: String,
}

impl DryRun {
    /// Loads the gateway. Variables that are not set stand for placeholders here: a dry run
    /// needs no real backend address.
    pub fn load(files: Files, config_path: &Path, vars: Vars) -> Result<DryRun, Diagnostics> {
        let vars: Vars = Arc::new(move |name| {
            vars(name).or_else(|| Some(format!("unset-{}.invalid", name.to_ascii_lowercase())))
        });
        let recorder = Arc::new(Recorder::default());
        let connect_recorder = {
            let recorder = recorder.clone();
            move |settings: &gateway::BackendSettings| -> Result<Invoker, gateway::ConnectError> {
                let recorder = recorder.clone();
                let soap = match settings {
                    gateway::BackendSettings::Soap(soap) => Some(soap.clone()),
                    gateway::BackendSettings::Grpc(_)
                    | gateway::BackendSettings::Rest(_)
                    | gateway::BackendSettings::Graphql(_) => None,
                };
                Ok(Invoker::new(tower::service_fn(move |call: Call| {
                    let recorder = recorder.clone();
                    let soap = soap.clone();
                    async move { recorder.call(call, soap.as_deref()).await }
                })))
            }
        };
        let gateway = gateway::load_with(files, config_path, vars, &connect_recorder)?;
        let dir = config_path.parent().unwrap_or(Path::new(""));
        let base = config::display_path(dir);
        Ok(DryRun {
            gateway,
            recorder,
            base: if base.is_empty() {
                base
            } else {
                format!("{base}/")
            },
        })
    }

    /// Sends `request` (from the file shown as `shown`) through the gateway, with `response`
    /// as every backend's answer, and describes what happened.
    pub async fn report(
        &self,
        request: &RequestFile,
        shown: &str,
        response: Option<ResponseFile>,
    ) -> Result<String, Diagnostics> {
        let has_response = response.is_some();
        if let Ok(mut slot) = self.recorder.response.lock() {
            *slot = response.map(Arc::new);
        }
        let http_request = build_request(request, shown)?;
        let (method, path) = (
            http_request.method().clone(),
            http_request.uri().path().to_owned(),
        );
        let rest = self.gateway.rest.clone();
        let graphql = self
            .gateway
            .graphql
            .iter()
            .find(|e| e.options.path == path)
            .map(|e| e.options.path.clone());
        let response = match tower::ServiceExt::oneshot(self.gateway.app(), http_request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };

        let mut out = String::new();
        if let Some(path) = graphql {
            let _ = writeln!(out, "route:      {method} {path} -> GraphQL");
        } else {
            match rest.route_for(&method, &path) {
                Some(route) => {
                    let origin = route.origin.to_string();
                    let origin = origin.strip_prefix(&self.base).unwrap_or(&origin);
                    let _ = writeln!(
                        out,
                        "route:      {} -> {}  (declared at {origin})",
                        route.describe(),
                        route.operation.full_name(),
                    );
                }
                None => {
                    let _ = writeln!(out, "route:      none for {method} {path}");
                }
            }
        }
        let _ = writeln!(out, "stages:     none");
        let calls = self
            .recorder
            .calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        if calls.is_empty() {
            let _ = writeln!(out, "backend:    no call (the gateway answered by itself)");
        }
        for call in &calls {
            describe_call(&mut out, call);
        }
        // A SOAP envelope that could not be written never reached the backend: the response
        // is the gateway's own.
        let refused = calls.iter().any(|c| matches!(c.soap, Some(Err(_))));
        if has_response || calls.is_empty() || refused {
            describe_response(&mut out, response).await;
        }
        Ok(out)
    }
}

/// Loads the gateway with recorded backends, sends the request through it and describes what
/// happened. `request` and `response` are YAML texts shown as the given names in diagnostics.
pub async fn transcode(
    files: Files,
    config_path: &Path,
    vars: Vars,
    request: (&str, &str),
    response: Option<(&str, &str)>,
) -> Result<String, Diagnostics> {
    let mut diags = Diagnostics::default();
    let request_file: Option<RequestFile> =
        config::parse_yaml_str(request.1, &Arc::from(request.0), &mut diags);
    let response_file: Option<ResponseFile> = response
        .and_then(|(name, text)| config::parse_yaml_str(text, &Arc::from(name), &mut diags));
    let (Some(request_file), true) = (request_file, diags.is_empty()) else {
        return Err(diags);
    };
    DryRun::load(files, config_path, vars)?
        .report(&request_file, request.0, response_file)
        .await
}

fn build_request(
    file: &RequestFile,
    shown: &str,
) -> Result<http::Request<axum::body::Body>, Diagnostics> {
    let located_error = |located: &Located<String>, message: String| {
        let mut diags = Diagnostics::default();
        diags.push(Diagnostic::new(
            shown,
            located.line,
            located.column,
            message,
        ));
        diags
    };
    let method = Method::from_bytes(file.method.as_bytes()).map_err(|_| {
        located_error(
            &file.method,
            format!("`{}` is not an HTTP method", file.method.value),
        )
    })?;
    let mut builder = http::Request::builder()
        .method(method)
        .uri(file.path.as_str());
    for (name, value) in &file.headers {
        builder = builder.header(name, value);
    }
    let body = match &file.body {
        None => Vec::new(),
        Some(serde_json::Value::String(raw)) => raw.clone().into_bytes(),
        Some(json) => serde_json::to_vec(json).unwrap_or_default(),
    };
    builder
        .body(axum::body::Body::from(body))
        .map_err(|e| located_error(&file.path, format!("not a valid request: {e}")))
}

fn soap_request(
    settings: &SoapSettings,
    operation: &Operation,
    messages: &[Message],
) -> Result<SoapRequest, Status> {
    let soap_operation = settings
        .service
        .operations
        .get(operation.method.name())
        .ok_or_else(|| Status::internal("no such SOAP operation"))?;
    let input = messages
        .first()
        .ok_or_else(|| Status::invalid_argument("the request has no message"))?;
    let envelope = soap::request_envelope(settings, soap_operation, input)?;
    let headers = soap::soap_headers(settings.service.version, soap_operation);
    Ok(SoapRequest {
        headers,
        envelope: String::from_utf8_lossy(&envelope).into_owned(),
    })
}

fn describe_call(out: &mut String, call: &RecordedCall) {
    match &call.soap {
        None => {
            let _ = writeln!(
                out,
                "backend:    grpc {} ({:?})",
                call.operation.grpc_path, call.operation.kind
            );
        }
        Some(request) => {
            let method = &call.operation.method;
            let _ = writeln!(
                out,
                "backend:    soap {}.{}",
                method.parent_service().name(),
                method.name()
            );
            match request {
                Ok(SoapRequest { headers, envelope }) => {
                    for (name, value) in headers {
                        let _ = writeln!(
                            out,
                            "http:       {name}: {}",
                            value.to_str().unwrap_or("<binary>")
                        );
                    }
                    let _ = writeln!(out, "envelope:   {envelope}");
                }
                Err(status) => {
                    let _ = writeln!(out, "envelope:   refused: {}", status.message);
                }
            }
        }
    }
    match call.timeout {
        Some(t) => {
            // To the nearest 10 ms: the time spent reaching the recorder is not part of it.
            let _ = writeln!(
                out,
                "deadline:   {} ms",
                (t.as_micros() + 5_000) / 10_000 * 10
            );
        }
        None => {
            let _ = writeln!(out, "deadline:   none");
        }
    }
    for (name, value) in &call.metadata {
        let _ = writeln!(
            out,
            "metadata:   {name}: {}",
            value.to_str().unwrap_or("<binary>")
        );
    }
    let plan = Plan::new(&call.operation.method.input(), JsonOptions::default());
    for (i, message) in call.messages.iter().enumerate() {
        let (json, wire) = match message.decoded() {
            Ok(m) => {
                let wire = m.encode_to_vec();
                let mut json = Vec::new();
                let _ = wire_to_json(&plan, &wire, &mut json);
                (String::from_utf8_lossy(&json).into_owned(), wire)
            }
            Err(status) => (format!("<{}>", status.message), Vec::new()),
        };
        let hex: Vec<String> = wire.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(out, "message {}:  {json}", i + 1);
        let _ = writeln!(
            out,
            "  bytes:    {}",
            if hex.is_empty() {
                "(empty)".to_owned()
            } else {
                hex.join(" ")
            }
        );
    }
}

async fn describe_response(out: &mut String, response: axum::response::Response) {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "response:   {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    // The length is the body's, shown below.
    for (name, value) in headers.iter().filter(|(n, _)| *n != CONTENT_LENGTH) {
        let _ = writeln!(out, "  {name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    let body = String::from_utf8_lossy(&body);
    let _ = writeln!(
        out,
        "  body:     {}",
        body.trim_end().replace('\n', "\n            ")
    );
}
