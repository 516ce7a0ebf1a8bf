//! Validation of input messages (design.md section 7: after the cache lookup, before
//! transforms): fields marked `(google.api.field_behavior) = REQUIRED`, enum numbers the enum
//! defines, and the mapping's rules for fields (length, pattern, range, item counts). A call
//! with violations gets INVALID_ARGUMENT (400) with a `google.rpc.BadRequest` naming every
//! violating field; the backend is not called. A client stream is checked message by message:
//! the first bad one ends the stream sent to the backend and the call with that error.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::StreamExt;
use prost::Message as _;
use prost_reflect::{
    DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, ReflectMessage, Value,
};
use tower::ServiceExt;

use super::Stage;
use crate::call::{Call, Invoker, Message, Reply};
use crate::config::{pos_in, Diagnostic, Diagnostics, ValidationConfig};
use crate::pattern::Pattern;
use crate::registry::CallKind;
use crate::status::Status;

/// `google.api.FieldBehavior.REQUIRED`.
const REQUIRED: i32 = 2;

/// What a field's values must be (a mapping's `validation.rules`).
#[derive(Debug)]
pub(crate) struct FieldRule {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<Pattern>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
}

/// One field that is not as it must be: its path (proto names, `order.items[2].sku`) and why.
pub(super) type Violation = (String, String);

impl FieldRule {
    fn check(&self, value: &Value, path: &str, out: &mut Vec<Violation>) {
        let count = match value {
            Value::List(items) => Some(items.len()),
            Value::Map(entries) => Some(entries.len()),
            _ => None,
        };
        if let Some(count) = count {
            if self.min_items.is_some_and(|m| count < m) {
                out.push((
                    path.into(),
                    format!("needs at least {} items", self.min_items.unwrap_or(0)),
                ));
            }
            if self.max_items.is_some_and(|m| count > m) {
                out.push((
                    path.into(),
                    format!("may have at most {} items", self.max_items.unwrap_or(0)),
                ));
            }
        }
        match value {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_one(item, &format!("{path}[{i}]"), out);
                }
            }
            Value::Map(_) => {}
            value => self.check_one(value, path, out),
        }
    }

    fn check_one(&self, value: &Value, path: &str, out: &mut Vec<Violation>) {
        let mut bad = |why: String| out.push((path.to_owned(), why));
        if let Value::String(text) = value {
            let length = text.chars().count();
            if let Some(min) = self.min_length.filter(|&m| length < m) {
                bad(format!("must have a length of at least {min}"));
            }
            if let Some(max) = self.max_length.filter(|&m| length > m) {
                bad(format!("must have a length of at most {max}"));
            }
            if let Some(pattern) = self.pattern.as_ref().filter(|p| !p.matches(text)) {
                bad(format!("must match `{pattern}`"));
            }
        }
        let number = match *value {
            Value::I32(v) => Some(f64::from(v)),
            Value::U32(v) => Some(f64::from(v)),
            Value::I64(v) => Some(v as f64),
            Value::U64(v) => Some(v as f64),
            Value::F32(v) => Some(f64::from(v)),
            Value::F64(v) => Some(v),
            _ => None,
        };
        if let Some(number) = number {
            if let Some(min) = self.minimum.filter(|&m| number < m) {
                bad(format!("must be at least {min}"));
            }
            if let Some(max) = self.maximum.filter(|&m| number > m) {
                bad(format!("must be at most {max}"));
            }
        }
    }
}

/// The checks of one mapping.
pub(crate) struct Validator {
    required: Option<ExtensionDescriptor>,
    enums: bool,
    /// By the field's full name (`shop.v1.Order.email`).
    rules: HashMap<String, FieldRule>,
    /// The messages with something to check in them or in a message they hold.
    checked: HashSet<String>,
}

impl Validator {
    /// The checks for calls whose inputs are `inputs`. `required` and `enums` switch those
    /// checks on.
    pub(crate) fn new(
        inputs: &[MessageDescriptor],
        required: bool,
        enums: bool,
        rules: HashMap<String, FieldRule>,
    ) -> Validator {
        let required = inputs.first().filter(|_| required).and_then(|m| {
            m.parent_pool()
                .get_extension_by_name("google.api.field_behavior")
        });
        let mut validator = Validator {
            required,
            enums,
            rules,
            checked: HashSet::new(),
        };
        // Every message an input can hold, then the ones that need a look, to a fixed point
        // (messages can hold themselves).
        let mut reachable: HashMap<String, MessageDescriptor> = HashMap::new();
        let mut todo: Vec<MessageDescriptor> = inputs.to_vec();
        while let Some(message) = todo.pop() {
            if reachable.contains_key(message.full_name()) {
                continue;
            }
            for field in message.fields() {
                if let Kind::Message(inner) = field.kind() {
                    todo.push(inner);
                }
            }
            reachable.insert(message.full_name().to_owned(), message);
        }
        loop {
            let more: Vec<String> = reachable
                .values()
                .filter(|m| !validator.checked.contains(m.full_name()))
                .filter(|m| m.fields().any(|f| validator.looks_at(&f)))
                .map(|m| m.full_name().to_owned())
                .collect();
            if more.is_empty() {
                break;
            }
            validator.checked.extend(more);
        }
        validator
    }

    /// Whether the validator has anything to check at all.
    pub(crate) fn checks_any(&self) -> bool {
        !self.checked.is_empty()
    }

    /// Whether the validator has anything to check in a call of `input`.
    pub(crate) fn checks(&self, input: &MessageDescriptor) -> bool {
        self.checked.contains(input.full_name())
    }

    fn looks_at(&self, field: &FieldDescriptor) -> bool {
        self.is_required(field)
            || self.rules.contains_key(field.full_name())
            || match field.kind() {
                Kind::Enum(_) => self.enums,
                Kind::Message(m) => self.checked.contains(m.full_name()),
                _ => false,
            }
    }

    fn is_required(&self, field: &FieldDescriptor) -> bool {
        let Some(extension) = &self.required else {
            return false;
        };
        let options = field.options();
        if !options.has_extension(extension) {
            return false;
        }
        match options.get_extension(extension).as_ref() {
            Value::List(behaviors) => behaviors
                .iter()
                .any(|b| b.as_enum_number() == Some(REQUIRED)),
            _ => false,
        }
    }

    /// The message's violations, as an INVALID_ARGUMENT status.
    pub(crate) fn validate(&self, message: &Message) -> Result<(), Status> {
        let message = message.decoded()?;
        let mut violations = Vec::new();
        self.walk(&message, "", &mut violations);
        if violations.is_empty() {
            return Ok(());
        }
        Err(bad_request(violations))
    }

    fn walk(&self, message: &DynamicMessage, prefix: &str, out: &mut Vec<Violation>) {
        let descriptor = message.descriptor();
        if !self.checked.contains(descriptor.full_name()) {
            return;
        }
        for field in descriptor.fields() {
            let path = match prefix {
                "" => field.name().to_owned(),
                _ => format!("{prefix}.{}", field.name()),
            };
            if !message.has_field(&field) {
                if self.is_required(&field) {
                    out.push((path, "is required".into()));
                }
                continue;
            }
            let value = message.get_field(&field);
            if let Some(rule) = self.rules.get(field.full_name()) {
                rule.check(&value, &path, out);
            }
            match value.as_ref() {
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item, &field.kind(), &format!("{path}[{i}]"), out);
                    }
                }
                Value::Map(entries) => {
                    let Kind::Message(entry) = field.kind() else {
                        continue;
                    };
                    let kind = entry.map_entry_value_field().kind();
                    for (key, item) in entries {
                        let key = match key {
                            prost_reflect::MapKey::String(s) => s.clone(),
                            other => format!("{other:?}"),
                        };
                        self.value(item, &kind, &format!("{path}[{key}]"), out);
                    }
                }
                value => self.value(value, &field.kind(), &path, out),
            }
        }
    }

    fn value(&self, value: &Value, kind: &Kind, path: &str, out: &mut Vec<Violation>) {
        match (value, kind) {
            (Value::EnumNumber(n), Kind::Enum(e)) if self.enums && e.get_value(*n).is_none() => {
                out.push((
                    path.into(),
                    format!("{n} is not a value of {}", e.full_name()),
                ));
            }
            (Value::Message(m), _) => self.walk(m, path, out),
            _ => {}
        }
    }
}

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` that names every violation.
pub(super) fn bad_request(violations: Vec<Violation>) -> Status {
    let summary = violations
        .iter()
        .map(|(field, why)| format!("{field} {why}"))
        .collect::<Vec<_>>()
        .join("; ");
    let detail = BadRequest {
        field_violations: violations
            .into_iter()
            .map(|(field, description)| FieldViolation { field, description })
            .collect(),
    };
    Status::invalid_argument(summary).with_detail(prost_types::Any {
        type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
        value: detail.encode_to_vec(),
    })
}

/// `google.rpc.BadRequest`, for encoding.
#[derive(Clone, PartialEq, prost::Message)]
struct BadRequest {
    #[prost(message, repeated, tag = "1")]
    field_violations: Vec<FieldViolation>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FieldViolation {
    #[prost(string, tag = "1")]
    field: String,
    #[prost(string, tag = "2")]
    description: String,
}

impl Stage for Validator {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        if !self.checks(&call.operation.method.input()) {
            return Box::pin(next.oneshot(call));
        }
        check_messages(call, next, move |message| self.validate(message))
    }
}

/// Calls `next` with every input message that passes `check`. A unary input that fails is the
/// call's error, and the backend is not called; in a client stream the first message that
/// fails ends the stream sent to the backend, and the reply then ends with its error (whatever
/// the backend made of the shortened stream).
pub(super) fn check_messages(
    mut call: Call,
    next: Invoker,
    check: impl Fn(&Message) -> Result<(), Status> + Send + Sync + 'static,
) -> BoxFuture<'static, Result<Reply, Status>> {
    match call.operation.kind {
        CallKind::Unary | CallKind::ServerStreaming => Box::pin(async move {
            let message = call.input.next().await;
            if let Some(message) = &message {
                check(message)?;
            }
            call.input = futures::stream::iter(message).boxed();
            next.oneshot(call).await
        }),
        CallKind::ClientStreaming | CallKind::Bidi => {
            let failure: Arc<Mutex<Option<Status>>> = Arc::default();
            let seen = failure.clone();
            call.input = call
                .input
                .take_while(move |message| {
                    let verdict = check(message);
                    let ok = verdict.is_ok();
                    if let Err(status) = verdict {
                        if let Ok(mut slot) = seen.lock() {
                            *slot = Some(status);
                        }
                    }
                    futures::future::ready(ok)
                })
                .boxed();
            let take = move |failure: &Arc<Mutex<Option<Status>>>| {
                failure.lock().ok().and_then(|mut slot| slot.take())
            };
            Box::pin(async move {
                let reply = next.oneshot(call).await;
                if let Some(status) = take(&failure) {
                    return Err(status);
                }
                let mut reply = reply?;
                let ended = failure.clone();
                let messages = reply
                    .messages
                    .map(move |item| match take(&failure) {
                        Some(status) => Err(status),
                        None => item,
                    })
                    .chain(
                        futures::stream::once(async move { take(&ended) })
                            .filter_map(|status| futures::future::ready(status.map(Err))),
                    );
                // Nothing after the first error.
                reply.messages = crate::call::until_error(messages.boxed());
                Ok(reply)
            })
        }
    }
}

/// The validator of a `validation` written in `file`, its rules checked against the schema.
pub(crate) fn build(
    file: &Arc<str>,
    config: &ValidationConfig,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Option<Validator> {
    let pool = methods.first()?.parent_pool();
    let mut rules = HashMap::new();
    for (name, rule) in &config.rules {
        let at = pos_in(file, rule);
        let field = match crate::registry::field_by_full_name(pool, name) {
            Ok(field) => field,
            Err(problem) => {
                diags.push(problem.at(&at));
                continue;
            }
        };
        let text = matches!(field.kind(), Kind::String);
        let number = matches!(
            field.kind(),
            Kind::Int32
                | Kind::Int64
                | Kind::Uint32
                | Kind::Uint64
                | Kind::Sint32
                | Kind::Sint64
                | Kind::Fixed32
                | Kind::Fixed64
                | Kind::Sfixed32
                | Kind::Sfixed64
                | Kind::Float
                | Kind::Double
        );
        let many = field.is_list() || field.is_map();
        let misfits = [
            (
                rule.min_length.is_some() || rule.max_length.is_some() || rule.pattern.is_some(),
                text,
                "lengths and patterns are for string fields",
            ),
            (
                rule.minimum.is_some() || rule.maximum.is_some(),
                number,
                "minimum and maximum are for number fields",
            ),
            (
                rule.min_items.is_some() || rule.max_items.is_some(),
                many,
                "item counts are for repeated fields and maps",
            ),
        ];
        for (_, _, why) in misfits.iter().filter(|(used, fits, _)| *used && !fits) {
            diags.push(Diagnostic::at(&at, format!("`{name}`: {why}")));
        }
        let pattern = match &rule.pattern {
            Some(pattern) => match Pattern::new(pattern) {
                Ok(regex) => Some(regex),
                Err(e) => {
                    diags.push(Diagnostic::at(
                        &at,
                        format!("`{name}`: the pattern is not a regular expression: {e}"),
                    ));
                    None
                }
            },
            None => None,
        };
        rules.insert(
            field.full_name().to_owned(),
            FieldRule {
                min_length: rule.min_length,
                max_length: rule.max_length,
                pattern,
                minimum: rule.minimum,
                maximum: rule.maximum,
                min_items: rule.min_items,
                max_items: rule.max_items,
            },
        );
    }
    let inputs: Vec<MessageDescriptor> = methods.iter().map(MethodDescriptor::input).collect();
    Some(Validator::new(
        &inputs,
        config.required,
        config.enums,
        rules,
    ))
}
