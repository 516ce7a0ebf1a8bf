//! The GraphQL backend: each method sends a GraphQL document written in the mapping, with the
//! input message's fields as its variables, and reads the output message from `data`. GraphQL
//! errors become the canonical status (the code named by `extensions.code` when it is a
//! canonical code name), HTTP errors map by meaning.

pub(crate) mod build;
pub(crate) mod schema;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::{BaseType, DocumentOperations, Selection};
use bytes::Bytes;
use futures::StreamExt;
use prost_reflect::{MethodDescriptor, ReflectMessage};
use serde_json::{Map, Value};

use crate::backend::grpc::TlsSettings;
use crate::backend::reach::Unreachable;
use crate::backend::ConnectError;
use crate::call::{Call, Message, Reply};
use crate::protojson::{json_to_wire, Plan};
use crate::registry::SchemaError;
use crate::status::{self, Code, Status};

/// How one method is called.
pub struct GraphqlCall {
    pub query: String,
    /// The operation's variables: name, and whether its type is `Int` or `Float` (proto3 JSON
    /// writes 64-bit integers as strings, which those types do not take).
    pub variables: Vec<(String, bool)>,
    /// Response keys from `data` to the output.
    pub result: Vec<String>,
    /// For an output that is not an object (a scalar or a list): the output message's one
    /// field, which the result fills.
    pub wrap: Option<String>,
    pub response_plan: Arc<Plan>,
}

impl GraphqlCall {
    /// Checks a document for `method`: it parses, fits the backend's schema when that is known,
    /// has one operation, and each variable names a field of the input message. `result`: dotted response keys (default: the one root field).
    pub fn new(
        method: &MethodDescriptor,
        query: &str,
        result: Option<&str>,
        schema: Option<&schema::SchemaShape>,
    ) -> Result<Self, SchemaError> {
        let document = async_graphql::parser::parse_query(query).map_err(|e| {
            let at = e
                .positions()
                .next()
                .map(|p| format!(" at {}:{}", p.line, p.column))
                .unwrap_or_default();
            // pest's message draws the line; its last line says what was expected.
            let text = e.to_string();
            let what = text
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .trim_start_matches("= ");
            format!("the document does not parse{at}: {what}")
        })?;
        if let Some(schema) = schema {
            schema.check(&document)?;
        }
        let operation = match &document.operations {
            DocumentOperations::Single(op) => &op.node,
            DocumentOperations::Multiple(ops) if ops.len() == 1 => {
                &ops.values().next().expect("one operation").node
            }
            DocumentOperations::Multiple(_) => {
                return Err("the document has several operations; write one".into())
            }
        };
        let input = method.input();
        let mut variables = Vec::new();
        for definition in &operation.variable_definitions {
            let name = definition.node.name.node.to_string();
            if input
                .fields()
                .all(|f| f.json_name() != name && f.name() != name)
            {
                return Err(
                    format!("variable `${name}` names no field of {}", input.full_name()).into(),
                );
            }
            let numeric = matches!(&definition.node.var_type.node.base,
                BaseType::Named(n) if n.as_str() == "Int" || n.as_str() == "Float");
            variables.push((name, numeric));
        }
        let result = match result {
            Some(path) => path.split('.').map(str::to_owned).collect(),
            None => {
                let roots: Vec<String> = operation
                    .selection_set
                    .node
                    .items
                    .iter()
                    .filter_map(|item| match &item.node {
                        Selection::Field(f) => Some(f.node.response_key().node.to_string()),
                        _ => None,
                    })
                    .collect();
                match roots.as_slice() {
                    [one] => vec![one.clone()],
                    _ => return Err("the document selects several root fields; say which is the result with `result`".into()),
                }
            }
        };
        Ok(GraphqlCall {
            query: query.to_owned(),
            variables,
            result,
            wrap: None,
            response_plan: Plan::new(&method.output(), Default::default()),
        })
    }
}

/// Settings of one GraphQL backend for one mapping.
pub struct GraphqlSettings {
    /// The endpoint URL.
    pub url: String,
    pub tls: Option<TlsSettings>,
    pub connect_timeout: Duration,
    pub max_response: usize,
    /// By method full name.
    pub calls: HashMap<String, GraphqlCall>,
}

pub(crate) struct GraphqlBackend {
    settings: Arc<GraphqlSettings>,
    client: reqwest::Client,
    unreachable: Unreachable,
}

impl GraphqlBackend {
    pub(crate) fn new(settings: Arc<GraphqlSettings>) -> Result<Self, ConnectError> {
        let client = super::rest::http_client(settings.connect_timeout, settings.tls.as_ref())?;
        Ok(GraphqlBackend {
            unreachable: Unreachable::new(&settings.url),
            settings,
            client,
        })
    }

    async fn invoke(&self, mut call: Call) -> Result<Reply, Status> {
        let operation = call.operation.clone();
        if operation.kind.streams_requests() || operation.kind.streams_responses() {
            return Err(Status::new(
                Code::Unimplemented,
                "a GraphQL backend answers one request with one response",
            ));
        }
        let graphql = self
            .settings
            .calls
            .get(operation.full_name())
            .ok_or_else(|| {
                Status::new(Code::Unimplemented, "no GraphQL document for this method")
            })?;
        let input = call
            .input
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("no request message"))?;
        let body = serde_json::json!({
            "query": graphql.query,
            "variables": variables(graphql, &input)?,
        });
        let mut request = self
            .client
            .post(&self.settings.url)
            .headers(call.metadata)
            .header(
                http::header::ACCEPT,
                "application/graphql-response+json, application/json",
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body).map_err(|e| Status::internal(e.to_string()))?);
        if let Some(deadline) = call.deadline {
            request =
                request.timeout(deadline.saturating_duration_since(tokio::time::Instant::now()));
        }
        let response = (request.send().await)
            .map_err(|e| super::rest::send_error(self.unreachable.seen(e)))?;
        let http_status = response.status();
        let bytes = super::rest::read_limited(response, self.settings.max_response).await?;
        let answer: Map<String, Value> = match serde_json::from_slice(&bytes) {
            Ok(answer) => answer,
            Err(_) if !http_status.is_success() => {
                return Err(super::rest::http_error(http_status, &[]))
            }
            Err(e) => {
                return Err(Status::internal(format!(
                    "the backend's answer is not GraphQL JSON: {e}"
                )))
            }
        };
        let mut result = answer.get("data");
        for key in &graphql.result {
            result = result.and_then(|v| v.get(key));
        }
        let result = result.filter(|v| !v.is_null());
        let errors = answer
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty());
        let result = match (result, errors) {
            (Some(result), _) => result,
            (None, Some(errors)) => return Err(graphql_error(&errors[0])),
            (None, None) if !http_status.is_success() => {
                return Err(super::rest::http_error(http_status, &bytes))
            }
            (None, None) => {
                return Err(Status::new(Code::NotFound, "the backend's result is null"))
            }
        };
        let json = match &graphql.wrap {
            Some(key) => serde_json::to_vec(&serde_json::json!({ key: result })),
            None => serde_json::to_vec(result),
        }
        .map_err(|e| Status::internal(e.to_string()))?;
        let output = operation.method.output();
        let wire = json_to_wire(&graphql.response_plan, &json).map_err(|e| {
            Status::internal(format!(
                "the backend's result does not fit {}: {e}",
                output.full_name()
            ))
        })?;
        let message = Message::Encoded(output, Bytes::from(wire));
        Ok(Reply {
            metadata: http::HeaderMap::new(),
            messages: futures::stream::once(async { Ok(message) }).boxed(),
        })
    }
}

/// The operation's variables from the input message's proto3 JSON.
fn variables(graphql: &GraphqlCall, input: &Message) -> Result<Value, Status> {
    let options = prost_reflect::SerializeOptions::new().stringify_64_bit_integers(true);
    let message = input.decoded()?;
    let json = serde_json::to_value(SerializeWith(&message, &options))
        .map_err(|e| Status::internal(e.to_string()))?;
    let fields = json.as_object().cloned().unwrap_or_default();
    let desc = message.descriptor();
    let mut out = Map::new();
    for (name, numeric) in &graphql.variables {
        let key = desc
            .fields()
            .find(|f| f.json_name() == name || f.name() == name)
            .map(|f| f.json_name().to_owned())
            .unwrap_or_else(|| name.clone());
        let value = match fields.get(&key) {
            Some(Value::String(s)) if *numeric => serde_json::from_str::<serde_json::Number>(s)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(s.clone())),
            Some(value) => value.clone(),
            None => continue,
        };
        out.insert(name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// Serializes a message with options (prost-reflect's serde support takes them this way).
struct SerializeWith<'a>(
    &'a prost_reflect::DynamicMessage,
    &'a prost_reflect::SerializeOptions,
);

impl serde::Serialize for SerializeWith<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_with_options(serializer, self.1)
    }
}

/// A GraphQL error as a canonical status: the code `extensions.code` names (rosetta writes
/// gRPC code names there, design.md section 4), else UNKNOWN; the error's message.
fn graphql_error(error: &Value) -> Status {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the backend answered with an error")
        .to_owned();
    let code = error
        .get("extensions")
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .and_then(status::code_by_name)
        .unwrap_or(Code::Unknown);
    Status::new(code, message)
}

impl crate::call::Backend for GraphqlBackend {
    fn call(&self, call: Call) -> impl std::future::Future<Output = Result<Reply, Status>> + Send {
        self.invoke(call)
    }
}
