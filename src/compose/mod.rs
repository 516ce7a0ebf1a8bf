//! Composed endpoints (backend-for-frontend): a backend whose calls run several calls to
//! operations the gateway serves, of any backend protocol, and answer with a response
//! assembled from their results. Its request and response are messages like any other
//! operation's ([`schema`]), so every frontend serves it.
//!
//! Inputs and the response are JMESPath expressions (the `jmespath` crate: a specified,
//! well-known language with a compliance suite, rather than one of our own) over
//! `{path, query, headers, body, steps}`. A step depends on the steps its expressions name
//! (`steps.user...`); steps run in waves, each wave concurrently.

pub(crate) mod check;
pub(crate) mod schema;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use jmespath::{Rcvar, Variable};
use prost_reflect::MessageDescriptor;
use tokio::time::Instant;

use crate::call::{self, Backend, Call, Consumer, Invoker, Message, Origin, Reply};
use crate::protojson::{json_to_wire, Plan};
use crate::registry::Operation;
use crate::status::Status;

/// An operation a step can call.
#[derive(Clone)]
pub(crate) struct Callable {
    pub operation: Arc<Operation>,
    pub invoker: Invoker,
    pub request_plan: Arc<Plan>,
    pub response_plan: Arc<Plan>,
}

/// The callables of a gateway, by method full name.
pub(crate) type Callables = HashMap<String, Callable>;

pub(crate) type Expression = jmespath::Expression<'static>;

pub(crate) struct Step {
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
pub(crate) struct Batch {
    pub keys: String,
    pub items: String,
    pub key: String,
}

pub(crate) struct ComposeBackend {
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

/// The context of the expressions: `{path, query, headers, body, steps}` (and `item`), as
/// the JMESPath interpreter's own values, so that evaluating an expression copies nothing.
type Context = BTreeMap<String, Rcvar>;

/// Evaluates `expression` over `data`. (Through `jmespath::interpret`: `Expression::search`
/// would first copy the whole context through serde, on stable Rust.)
fn search(expression: &Expression, data: &Rcvar) -> Rcvar {
    let mut ctx = jmespath::Context::new(expression.as_str(), &jmespath::DEFAULT_RUNTIME);
    jmespath::interpret(data, expression.as_ast(), &mut ctx)
        .unwrap_or_else(|_| Rcvar::new(Variable::Null))
}

fn null() -> Rcvar {
    Rcvar::new(Variable::Null)
}

fn object(fields: Context) -> Rcvar {
    Rcvar::new(Variable::Object(fields))
}

fn to_bytes(value: &Variable) -> Result<Vec<u8>, Status> {
    serde_json::to_vec(value).map_err(|e| Status::internal(e.to_string()))
}

/// The composed call a step's call is made for: its metadata (forwarded to every step), its
/// request and its consumer.
struct Caller {
    metadata: HeaderMap,
    origin: Arc<Origin>,
    consumer: Option<Arc<Consumer>>,
}

/// The header that names the optional steps that failed.
pub(crate) const MISSING_STEPS: HeaderName = HeaderName::from_static("rosetta-missing-steps");

impl Backend for ComposeBackend {
    async fn call(&self, call: Call) -> Result<Reply, Status> {
        let Call {
            mut input,
            metadata,
            deadline,
            origin,
            consumer,
            ..
        } = call;
        let request: Variable = input
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("no request message"))?
            .to_json(&self.request_plan)?;
        let mut context = self.context(&request, &metadata);
        context.insert("consumer".into(), consumer_value(consumer.as_deref()));
        let caller = Caller {
            metadata,
            origin,
            consumer,
        };
        let (output, missing) = self.run(context, deadline, &caller).await?;
        let wire = json_to_wire(&self.response_plan, &to_bytes(&output)?).map_err(|e| {
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
    fn context(&self, request: &Variable, metadata: &HeaderMap) -> Context {
        let fields = request.as_object();
        let field = |name: &str| fields.and_then(|f| f.get(name)).cloned();
        let pick = |names: &[String]| -> Context {
            names
                .iter()
                .filter_map(|name| Some((name.clone(), field(name)?)))
                .collect()
        };
        let headers: Context = metadata
            .iter()
            .filter_map(|(k, v)| {
                let value = Variable::String(v.to_str().ok()?.to_owned());
                Some((k.as_str().to_owned(), Rcvar::new(value)))
            })
            .collect();
        Context::from([
            ("path".to_owned(), object(pick(&self.path))),
            ("query".to_owned(), object(pick(&self.query))),
            ("headers".to_owned(), object(headers)),
            ("body".to_owned(), field("body").unwrap_or_else(null)),
            ("steps".to_owned(), object(Context::new())),
        ])
    }

    /// Runs the steps; returns the response object and the names of the optional steps that
    /// failed, in the order they are declared.
    async fn run(
        &self,
        mut context: Context,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Result<(Variable, Vec<String>), Status> {
        let mut steps = Context::new();
        let mut done = vec![false; self.steps.len()];
        let mut missing: Vec<(usize, Status)> = Vec::new();
        while done.iter().any(|d| !d) {
            let wave: Vec<usize> = (0..self.steps.len())
                .filter(|&i| !done[i] && self.steps[i].after.iter().all(|&d| done[d]))
                .collect();
            if wave.is_empty() {
                return Err(Status::internal(
                    "the steps depend on each other in a circle",
                ));
            }
            context.insert("steps".into(), object(steps.clone()));
            let data = object(context.clone());
            let results = futures::future::join_all(
                wave.iter()
                    .map(|&i| self.steps[i].run(&data, deadline, caller)),
            )
            .await;
            for (&i, result) in wave.iter().zip(results) {
                let step = &self.steps[i];
                let value = match result {
                    Ok(value) => value,
                    Err(status) if step.optional => {
                        missing.push((i, status));
                        null()
                    }
                    Err(status) => return Err(status),
                };
                steps.insert(step.name.clone(), value);
                done[i] = true;
            }
        }
        context.insert("steps".into(), object(steps));
        let data = object(context);
        let mut out: Context = self
            .response
            .iter()
            .map(|(name, expression)| (name.clone(), search(expression, &data)))
            .collect();
        missing.sort_by_key(|(i, _)| *i);
        let names = missing
            .iter()
            .map(|(i, _)| self.steps[*i].name.clone())
            .collect();
        if !missing.is_empty() {
            let errors = missing
                .into_iter()
                .map(|(i, status)| {
                    let text = |t: &str| Rcvar::new(Variable::String(t.to_owned()));
                    object(Context::from([
                        ("step".to_owned(), text(&self.steps[i].name)),
                        (
                            "code".to_owned(),
                            Rcvar::new(Variable::Number((status.code as i32).into())),
                        ),
                        ("message".to_owned(), text(&status.message)),
                    ]))
                })
                .collect();
            out.insert("errors".into(), Rcvar::new(Variable::Array(errors)));
        }
        Ok((Variable::Object(out), names))
    }
}

impl Step {
    /// Runs the step: once, once per element of `for_each`, or one batch call for them all.
    async fn run(
        &self,
        context: &Rcvar,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Result<Rcvar, Status> {
        let deadline = match (deadline, self.timeout.map(|t| Instant::now() + t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(for_each) = &self.for_each else {
            return self.call(self.input_of(context), deadline, caller).await;
        };
        let items = search(for_each, context);
        let items = match &*items {
            Variable::Array(items) => items.clone(),
            Variable::Null => Vec::new(),
            _ => vec![items],
        };
        if let Some(batch) = &self.batch {
            return self.batch(batch, items, context, deadline, caller).await;
        }
        let calls = items.into_iter().map(|item| {
            let mut scoped = context.as_object().cloned().unwrap_or_default();
            scoped.insert("item".into(), item);
            self.call(self.input_of(&object(scoped)), deadline, caller)
        });
        let results = futures::future::join_all(calls)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rcvar::new(Variable::Array(results)))
    }

    /// One call for all of `keys`; the results in the order of `keys`, matched by key (never
    /// by position), null where the reply has no item for a key.
    async fn batch(
        &self,
        batch: &Batch,
        keys: Vec<Rcvar>,
        context: &Rcvar,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Result<Rcvar, Status> {
        if keys.is_empty() {
            return Ok(Rcvar::new(Variable::Array(Vec::new())));
        }
        let wanted: Vec<String> = keys.iter().map(|k| key_text(k)).collect();
        let mut input = self.input_of(context);
        input.insert(batch.keys.clone(), Rcvar::new(Variable::Array(keys)));
        let reply = self.call(input, deadline, caller).await?;
        let items = reply
            .as_object()
            .and_then(|reply| reply.get(&batch.items))
            .and_then(|items| items.as_array());
        let mut found: HashMap<String, Rcvar> = items
            .into_iter()
            .flatten()
            .map(|item| {
                let key = item.as_object().and_then(|item| item.get(&batch.key));
                (key.map_or_else(String::new, |k| key_text(k)), item.clone())
            })
            .collect();
        let results = wanted
            .iter()
            .map(|key| found.remove(key).unwrap_or_else(null))
            .collect();
        Ok(Rcvar::new(Variable::Array(results)))
    }

    fn input_of(&self, context: &Rcvar) -> Context {
        self.input
            .iter()
            .map(|(field, expression)| (field.clone(), search(expression, context)))
            .filter(|(_, value)| !value.is_null())
            .collect()
    }

    async fn call(
        &self,
        input: Context,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Result<Rcvar, Status> {
        let callable = &self.callable;
        let bytes = to_bytes(&Variable::Object(input))?;
        let wire = json_to_wire(&callable.request_plan, &bytes).map_err(|e| {
            Status::invalid_argument(format!("step `{}`: invalid input: {e}", self.name))
        })?;
        let message = Message::Encoded(callable.operation.method.input(), wire.into());
        let call = Call {
            operation: callable.operation.clone(),
            input: futures::stream::once(async move { message }).boxed(),
            metadata: caller.metadata.clone(),
            deadline,
            origin: caller.origin.clone(),
            consumer: caller.consumer.clone(),
        };
        let reply: Variable = call::invoke(&callable.invoker, call)
            .await?
            .into_message()
            .await?
            .to_json(&callable.response_plan)?;
        Ok(Rcvar::new(reply))
    }
}

/// The consumer as the expressions see it: `{id, plan, metadata}`, or null.
fn consumer_value(consumer: Option<&Consumer>) -> Rcvar {
    let Some(consumer) = consumer else {
        return null();
    };
    let text = |t: &str| Rcvar::new(Variable::String(t.to_owned()));
    let metadata = serde_json::Value::Object(consumer.metadata.clone());
    let metadata = Variable::try_from(metadata).unwrap_or(Variable::Null);
    object(Context::from([
        ("id".to_owned(), text(&consumer.id)),
        (
            "plan".to_owned(),
            consumer.plan.as_deref().map_or_else(null, text),
        ),
        ("metadata".to_owned(), Rcvar::new(metadata)),
    ]))
}

/// A key as text, so that `5` and `"5"` (an int64 in proto3 JSON) match.
fn key_text(key: &Variable) -> String {
    match key {
        Variable::String(text) => text.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}
