//! Composed endpoints (backend-for-frontend): one REST request runs several calls to
//! operations the gateway serves, of any backend protocol, and answers with a response
//! assembled from their results.
//!
//! Inputs and the response are JMESPath expressions (the `jmespath` crate: a specified,
//! well-known language with a compliance suite, rather than one of our own) over
//! `{path, query, headers, body, steps}`. A step depends on the steps its expressions name
//! (`steps.user...`); steps run in waves, each wave concurrently.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::Response;
use futures::StreamExt;
use http::{HeaderName, HeaderValue, StatusCode};
use prost_reflect::DescriptorPool;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::call::{self, Call, Invoker, Message};
use crate::frontend::rest::{self, response};
use crate::protojson::{json_to_wire, wire_to_json, Plan};
use crate::registry::Operation;
use crate::status::Status;

/// An operation a step can call.
#[derive(Clone)]
pub struct Callable {
    pub operation: Arc<Operation>,
    pub invoker: Invoker,
    pub request_plan: Arc<Plan>,
    pub response_plan: Arc<Plan>,
}

pub struct Step {
    pub name: String,
    pub callable: Callable,
    pub input: Vec<(String, jmespath::Expression<'static>)>,
    pub for_each: Option<jmespath::Expression<'static>>,
    pub optional: bool,
    pub timeout: Option<Duration>,
    /// Indices of the steps this one needs.
    pub after: Vec<usize>,
}

pub struct ComposeRoute {
    pub method: http::Method,
    /// The path as axum routes it (`/bff/users/{id}`).
    pub path: String,
    pub steps: Vec<Step>,
    pub response: Vec<(String, jmespath::Expression<'static>)>,
    pub timeout: Option<Duration>,
    pub max_body: usize,
    pub pool: DescriptorPool,
}

/// The names of the steps an expression refers to.
pub fn referenced_steps(expression: &str, names: &[String]) -> Vec<usize> {
    names
        .iter()
        .enumerate()
        .filter(|(_, name)| expression.contains(&format!("steps.{name}")))
        .map(|(i, _)| i)
        .collect()
}

fn search(expression: &jmespath::Expression<'static>, context: &Value) -> Value {
    expression
        .search(context)
        .ok()
        .and_then(|found| serde_json::to_value(&*found).ok())
        .unwrap_or(Value::Null)
}

impl ComposeRoute {
    pub async fn handle(self: Arc<Self>, request: http::Request<Body>) -> Response {
        let (mut parts, body) = request.into_parts();
        let params = axum::extract::RawPathParams::from_request_parts(&mut parts, &())
            .await
            .map(|params| {
                params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect::<Map<_, _>>()
            })
            .unwrap_or_default();
        match self.run(parts, body, params).await {
            Ok(response) => response,
            Err(status) => response::error(&status, &self.pool),
        }
    }

    async fn run(
        &self,
        parts: http::request::Parts,
        body: Body,
        path: Map<String, Value>,
    ) -> Result<Response, Status> {
        let bytes = rest::read_body(body, &parts.headers, self.max_body).await?;
        let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| Status::invalid_argument(format!("invalid JSON body: {e}")))?
        };
        let query: Map<String, Value> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
        let headers: Map<String, Value> = parts
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_owned(),
                    Value::String(v.to_str().ok()?.to_owned()),
                ))
            })
            .collect();
        let deadline = rest::deadline(&parts.headers, self.timeout)?;
        let mut context =
            json!({ "path": path, "query": query, "headers": headers, "body": body, "steps": {} });
        let mut done = vec![false; self.steps.len()];
        // (step index, error), listed in the order the steps are declared.
        let mut missing: Vec<(usize, Value)> = Vec::new();
        while done.iter().any(|d| !d) {
            let wave: Vec<usize> = (0..self.steps.len())
                .filter(|&i| !done[i] && self.steps[i].after.iter().all(|&d| done[d]))
                .collect();
            if wave.is_empty() {
                return Err(Status::internal(
                    "the steps depend on each other in a circle",
                ));
            }
            let results = futures::future::join_all(
                wave.iter()
                    .map(|&i| self.steps[i].run(&context, deadline, &parts.headers)),
            )
            .await;
            for (&i, result) in wave.iter().zip(results) {
                let step = &self.steps[i];
                let value = match result {
                    Ok(value) => value,
                    Err(status) if step.optional => {
                        missing.push((
                            i,
                            json!({ "step": step.name, "code": status.code as i32, "message": status.message }),
                        ));
                        Value::Null
                    }
                    Err(status) => return Err(status),
                };
                context["steps"][step.name.as_str()] = value;
                done[i] = true;
            }
        }
        let mut out = Map::new();
        for (name, expression) in &self.response {
            out.insert(name.clone(), search(expression, &context));
        }
        missing.sort_by_key(|(i, _)| *i);
        let missing_steps: Vec<&str> = missing
            .iter()
            .map(|(i, _)| self.steps[*i].name.as_str())
            .collect();
        if !missing.is_empty() {
            let errors = missing.iter().map(|(_, e)| e.clone()).collect();
            out.insert("errors".into(), Value::Array(errors));
        }
        let mut response = Response::new(Body::from(serde_json::to_vec(&out).unwrap_or_default()));
        *response.status_mut() = StatusCode::OK;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(value) = HeaderValue::from_str(&missing_steps.join(", ")) {
            if !missing_steps.is_empty() {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("rosetta-missing-steps"), value);
            }
        }
        Ok(response)
    }
}

impl Step {
    /// Runs the step (once, or once per element of `for_each`).
    async fn run(
        &self,
        context: &Value,
        deadline: Option<Instant>,
        headers: &http::HeaderMap,
    ) -> Result<Value, Status> {
        let deadline = match (deadline, self.timeout.map(|t| Instant::now() + t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(for_each) = &self.for_each else {
            return self.call(&self.input_of(context), deadline, headers).await;
        };
        let items = match search(for_each, context) {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let calls = items.iter().map(|item| {
            let mut scoped = context.clone();
            scoped["item"] = item.clone();
            let input = self.input_of(&scoped);
            async move { self.call(&input, deadline, headers).await }
        });
        let results = futures::future::join_all(calls).await;
        results
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    }

    fn input_of(&self, context: &Value) -> Value {
        let mut input = Map::new();
        for (field, expression) in &self.input {
            let value = search(expression, context);
            if !value.is_null() {
                input.insert(field.clone(), value);
            }
        }
        Value::Object(input)
    }

    async fn call(
        &self,
        input: &Value,
        deadline: Option<Instant>,
        headers: &http::HeaderMap,
    ) -> Result<Value, Status> {
        let callable = &self.callable;
        let bytes = serde_json::to_vec(input).map_err(|e| Status::internal(e.to_string()))?;
        let wire = json_to_wire(&callable.request_plan, &bytes).map_err(|e| {
            Status::invalid_argument(format!("step `{}`: invalid input: {e}", self.name))
        })?;
        let message = Message::Encoded(callable.operation.method.input(), wire.into());
        let call = Call {
            operation: callable.operation.clone(),
            input: futures::stream::once(async move { message }).boxed(),
            metadata: rest::forward_metadata(headers, &[]),
            deadline,
        };
        let mut reply = call::invoke(&callable.invoker, call).await?;
        let message = reply
            .messages
            .next()
            .await
            .ok_or_else(|| Status::internal("the backend sent no response message"))??;
        let mut out = Vec::new();
        let written = match &message {
            Message::Encoded(_, wire) => {
                wire_to_json(&callable.response_plan, wire, &mut out).is_ok()
            }
            Message::Decoded(_) => false,
        };
        if !written {
            let options = prost_reflect::SerializeOptions::new()
                .skip_default_fields(false)
                .stringify_64_bit_integers(true);
            out = response::message_json(message.decoded()?.as_ref(), &options)?.to_vec();
        }
        serde_json::from_slice(&out).map_err(|e| Status::internal(e.to_string()))
    }
}

/// The callables of a gateway, by method full name.
pub type Callables = HashMap<String, Callable>;
