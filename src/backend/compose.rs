//! Composed endpoints (backend-for-frontend): a backend whose calls run several calls to
//! operations the gateway serves, of any backend protocol, and answer with a response
//! assembled from their results. Its request and response are messages like any other
//! operation's ([`super::compose_schema`]), so every frontend serves it.
//!
//! Inputs and the response are JMESPath expressions (the `jmespath` crate: a specified,
//! well-known language with a compliance suite, rather than one of our own) over
//! `{path, query, headers, body, steps}`. A step depends on the steps its expressions name
//! (`steps.user...`); steps run in waves, each wave concurrently.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use prost_reflect::MessageDescriptor;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::call::{self, Backend, Call, Invoker, Message, Reply};
use crate::protojson::{json_to_wire, Plan};
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

/// The callables of a gateway, by method full name.
pub type Callables = HashMap<String, Callable>;

pub type Expression = jmespath::Expression<'static>;

pub struct Step {
    pub name: String,
    pub callable: Callable,
    pub input: Vec<(String, Expression)>,
    pub for_each: Option<Expression>,
    pub batch: Option<Batch>,
    pub optional: bool,
    pub timeout: Option<Duration>,
    /// Indices of the steps this one needs.
    pub after: Vec<usize>,
}

/// A fan-out made as one call of a batch method: the `for_each` elements go in the request's
/// list field `keys`; each element's result is the item of the reply's list `items` whose
/// field `key` equals it. All JSON names.
pub struct Batch {
    pub keys: String,
    pub items: String,
    pub key: String,
}

pub struct ComposeBackend {
    pub steps: Vec<Step>,
    pub response: Vec<(String, Expression)>,
    /// The request's path variables and query parameters (JSON names).
    pub path: Vec<String>,
    pub query: Vec<String>,
    /// Writes the request message as JSON (without zero values, so an absent query parameter
    /// is null).
    pub request_plan: Arc<Plan>,
    /// Reads the assembled response into the response message.
    pub response_plan: Arc<Plan>,
    pub response_message: MessageDescriptor,
}

fn search(expression: &Expression, context: &Value) -> Value {
    expression
        .search(context)
        .ok()
        .and_then(|found| serde_json::to_value(&*found).ok())
        .unwrap_or(Value::Null)
}

/// The header that names the optional steps that failed.
pub const MISSING_STEPS: HeaderName = HeaderName::from_static("rosetta-missing-steps");

impl Backend for ComposeBackend {
    async fn call(&self, call: Call) -> Result<Reply, Status> {
        let Call {
            mut input,
            metadata,
            deadline,
            ..
        } = call;
        let request = input
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("no request message"))?
            .to_json(&self.request_plan)?;
        let (output, missing) = self
            .run(self.context(&request, &metadata), deadline, &metadata)
            .await?;
        let bytes = serde_json::to_vec(&output).map_err(|e| Status::internal(e.to_string()))?;
        let wire = json_to_wire(&self.response_plan, &bytes).map_err(|e| {
            Status::internal(format!("the composed response does not fit its type: {e}"))
        })?;
        let mut reply_metadata = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&missing.join(", ")) {
            if !missing.is_empty() {
                reply_metadata.insert(MISSING_STEPS, value);
            }
        }
        let message = Message::Encoded(self.response_message.clone(), wire.into());
        Ok(Reply {
            metadata: reply_metadata,
            messages: futures::stream::once(async move { Ok(message) }).boxed(),
        })
    }
}

impl ComposeBackend {
    /// What the expressions see of the request.
    fn context(&self, request: &Value, metadata: &HeaderMap) -> Value {
        let pick = |names: &[String]| -> Map<String, Value> {
            names
                .iter()
                .filter_map(|name| Some((name.clone(), request.get(name)?.clone())))
                .collect()
        };
        let headers: Map<String, Value> = metadata
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_owned(),
                    Value::String(v.to_str().ok()?.to_owned()),
                ))
            })
            .collect();
        json!({
            "path": pick(&self.path),
            "query": pick(&self.query),
            "headers": headers,
            "body": request.get("body").cloned().unwrap_or(Value::Null),
            "steps": {},
        })
    }

    /// Runs the steps; returns the response object and the names of the optional steps that
    /// failed, in the order they are declared.
    async fn run(
        &self,
        mut context: Value,
        deadline: Option<Instant>,
        metadata: &HeaderMap,
    ) -> Result<(Value, Vec<String>), Status> {
        let mut done = vec![false; self.steps.len()];
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
                    .map(|&i| self.steps[i].run(&context, deadline, metadata)),
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
        let names = missing
            .iter()
            .map(|(i, _)| self.steps[*i].name.clone())
            .collect();
        if !missing.is_empty() {
            let errors = missing.into_iter().map(|(_, e)| e).collect();
            out.insert("errors".into(), Value::Array(errors));
        }
        Ok((Value::Object(out), names))
    }
}

impl Step {
    /// Runs the step: once, once per element of `for_each`, or one batch call for them all.
    async fn run(
        &self,
        context: &Value,
        deadline: Option<Instant>,
        metadata: &HeaderMap,
    ) -> Result<Value, Status> {
        let deadline = match (deadline, self.timeout.map(|t| Instant::now() + t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(for_each) = &self.for_each else {
            return self.call(self.input_of(context), deadline, metadata).await;
        };
        let items = match search(for_each, context) {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        if let Some(batch) = &self.batch {
            return self.batch(batch, items, context, deadline, metadata).await;
        }
        let calls = items.iter().map(|item| {
            let mut scoped = context.clone();
            scoped["item"] = item.clone();
            self.call(self.input_of(&scoped), deadline, metadata)
        });
        futures::future::join_all(calls)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    }

    /// One call for all of `keys`; the results in the order of `keys`, matched by key (never
    /// by position), null where the reply has no item for a key.
    async fn batch(
        &self,
        batch: &Batch,
        keys: Vec<Value>,
        context: &Value,
        deadline: Option<Instant>,
        metadata: &HeaderMap,
    ) -> Result<Value, Status> {
        if keys.is_empty() {
            return Ok(Value::Array(Vec::new()));
        }
        let mut input = self.input_of(context);
        let wanted: Vec<String> = keys.iter().map(key_text).collect();
        input[batch.keys.as_str()] = Value::Array(keys);
        let reply = self.call(input, deadline, metadata).await?;
        let mut found: HashMap<String, Value> = match reply.get(&batch.items) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    (
                        key_text(item.get(&batch.key).unwrap_or(&Value::Null)),
                        item.clone(),
                    )
                })
                .collect(),
            _ => HashMap::new(),
        };
        Ok(Value::Array(
            wanted
                .iter()
                .map(|key| found.remove(key).unwrap_or(Value::Null))
                .collect(),
        ))
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
        input: Value,
        deadline: Option<Instant>,
        metadata: &HeaderMap,
    ) -> Result<Value, Status> {
        let callable = &self.callable;
        let bytes = serde_json::to_vec(&input).map_err(|e| Status::internal(e.to_string()))?;
        let wire = json_to_wire(&callable.request_plan, &bytes).map_err(|e| {
            Status::invalid_argument(format!("step `{}`: invalid input: {e}", self.name))
        })?;
        let message = Message::Encoded(callable.operation.method.input(), wire.into());
        let call = Call {
            operation: callable.operation.clone(),
            input: futures::stream::once(async move { message }).boxed(),
            metadata: metadata.clone(),
            deadline,
        };
        let mut reply = call::invoke(&callable.invoker, call).await?;
        reply
            .messages
            .next()
            .await
            .ok_or_else(|| Status::internal("the backend sent no response message"))??
            .to_json(&callable.response_plan)
    }
}

/// A key as text, so that `5` and `"5"` (an int64 in proto3 JSON) match.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
