//! Transforms (design.md section 7: the last stage before the backend on the way in, the
//! first on the way out): headers renamed, removed and set on the call's metadata and the
//! reply's, message fields renamed, removed and set in the canonical messages. Everything is
//! resolved against the schema at load time, so a transform cannot fail on a call.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor, MethodDescriptor, Value};
use tower::ServiceExt;

use super::Stage;
use crate::call::{Call, Invoker, Message, Reply};
use crate::config::{
    expand, pos_in, Diagnostic, Diagnostics, Edits, Located, Pos, TransformConfig, Vars,
};
use crate::registry::SchemaError;
use crate::status::Status;

/// Header edits of one direction, applied in this order: rename, remove, set.
#[derive(Debug, Default, Clone)]
pub struct HeaderEdits {
    pub rename: Vec<(HeaderName, HeaderName)>,
    pub remove: Vec<HeaderName>,
    pub set: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderEdits {
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (from, to) in &self.rename {
            let values: Vec<HeaderValue> = headers.get_all(from).iter().cloned().collect();
            headers.remove(from);
            for value in values {
                headers.append(to, value);
            }
        }
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name, value.clone());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rename.is_empty() && self.remove.is_empty() && self.set.is_empty()
    }
}

/// A field path from the root of a message: singular message fields, then the field.
pub(crate) type FieldPath = Vec<FieldDescriptor>;

/// Field edits of one direction, applied in this order: rename, remove, set.
#[derive(Debug, Default)]
pub(crate) struct FieldEdits {
    pub rename: Vec<(FieldPath, FieldPath)>,
    pub remove: Vec<FieldPath>,
    pub set: Vec<(FieldPath, Value)>,
}

impl FieldEdits {
    pub(crate) fn is_empty(&self) -> bool {
        self.rename.is_empty() && self.remove.is_empty() && self.set.is_empty()
    }

    fn apply(&self, message: &mut DynamicMessage) {
        for (from, to) in &self.rename {
            if let Some(value) = take(message, from) {
                put(message, to, value);
            }
        }
        for path in &self.remove {
            take(message, path);
        }
        for (path, value) in &self.set {
            put(message, path, value.clone());
        }
    }
}

/// Removes the field at `path` and gives its value, if it is set.
fn take(message: &mut DynamicMessage, path: &[FieldDescriptor]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut current = message;
    for field in parents {
        if !current.has_field(field) {
            return None;
        }
        let Value::Message(inner) = current.get_field_mut(field) else {
            return None;
        };
        current = inner;
    }
    current.has_field(last).then(|| current.take_field(last))?
}

/// Sets the field at `path`, making the messages on the way.
fn put(message: &mut DynamicMessage, path: &[FieldDescriptor], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = message;
    for field in parents {
        let Value::Message(inner) = current.get_field_mut(field) else {
            return;
        };
        current = inner;
    }
    current.set_field(last, value);
}

/// The edits of both directions for the methods of one `transforms` entry.
#[derive(Debug, Default)]
pub(crate) struct Transform {
    pub request_headers: HeaderEdits,
    pub request_fields: FieldEdits,
    pub response_headers: HeaderEdits,
    pub response_fields: FieldEdits,
}

/// A mapping's transforms, by method full name, in the order they are written.
#[derive(Default)]
pub(crate) struct Transforms {
    pub by_method: HashMap<String, Vec<Arc<Transform>>>,
}

/// Picks one direction's field edits of a transform.
type Direction = fn(&Transform) -> &FieldEdits;

/// Whether any of `transforms` edits fields in that direction.
fn edits_fields(transforms: &[Arc<Transform>], pick: Direction) -> bool {
    transforms.iter().any(|t| !pick(t).is_empty())
}

/// Applies the field edits `pick` chooses from `transforms` to a message.
fn edit(
    message: &Message,
    transforms: &[Arc<Transform>],
    pick: Direction,
) -> Result<Message, Status> {
    let mut decoded = message.decoded()?.into_owned();
    for transform in transforms {
        pick(transform).apply(&mut decoded);
    }
    Ok(Message::Decoded(decoded))
}

impl Stage for Transforms {
    fn call(
        self: Arc<Self>,
        mut call: Call,
        next: Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        let Some(transforms) = self.by_method.get(call.operation.full_name()).cloned() else {
            return Box::pin(next.oneshot(call));
        };
        for transform in &transforms {
            transform.request_headers.apply(&mut call.metadata);
        }
        let request_fields: Direction = |t| &t.request_fields;
        if edits_fields(&transforms, request_fields) {
            let requests = transforms.clone();
            call.input = call
                .input
                .map(move |message| {
                    // A message the frontend made always decodes; keep it as it is if not.
                    edit(&message, &requests, request_fields).unwrap_or(message)
                })
                .boxed();
        }
        Box::pin(async move {
            let mut reply = next.oneshot(call).await?;
            for transform in &transforms {
                transform.response_headers.apply(&mut reply.metadata);
            }
            let response_fields: Direction = |t| &t.response_fields;
            if edits_fields(&transforms, response_fields) {
                reply.messages = reply
                    .messages
                    .map(move |item| edit(&item?, &transforms, response_fields))
                    .boxed();
            }
            Ok(reply)
        })
    }
}

/// Resolves a dotted field path (proto or JSON names) in `message`: every field before the
/// last is a singular message.
fn resolve(message: &MessageDescriptor, path: &str) -> Result<FieldPath, SchemaError> {
    let mut fields = Vec::new();
    let mut current = message.clone();
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let field = current
            .get_field_by_name(segment)
            .or_else(|| current.get_field_by_json_name(segment))
            .ok_or_else(|| {
                let problem = format!("`{path}`: {} has no field `{segment}`", current.full_name());
                let known: Vec<String> = current.fields().map(|f| f.name().to_owned()).collect();
                SchemaError::from(problem).suggesting(segment, known.iter().map(String::as_str))
            })?;
        if i + 1 < segments.len() {
            match field.kind() {
                prost_reflect::Kind::Message(inner) if !field.is_list() && !field.is_map() => {
                    current = inner;
                }
                _ => {
                    return Err(format!(
                        "`{path}`: `{segment}` of {} is not a message field to go into",
                        current.full_name()
                    )
                    .into())
                }
            }
        }
        fields.push(field);
    }
    Ok(fields)
}

/// Transforms as written, with the file they are written in.
pub(crate) type TransformsIn<'a> = (&'a [Located<TransformConfig>], &'a Arc<str>);

/// The transforms of a mapping (gateway.yaml's, then its own), resolved against its
/// methods' messages.
pub(crate) fn build(
    sources: &[TransformsIn<'_>],
    methods: &[MethodDescriptor],
    vars: &Vars,
    diags: &mut Diagnostics,
) -> Transforms {
    let mut transforms = Transforms::default();
    for (entries, file) in sources {
        for entry in entries.iter() {
            add(&mut transforms, entry, file, methods, vars, diags);
        }
    }
    transforms
}

/// One `transforms` entry, for the methods it names.
fn add(
    transforms: &mut Transforms,
    entry: &TransformConfig,
    file: &Arc<str>,
    methods: &[MethodDescriptor],
    vars: &Vars,
    diags: &mut Diagnostics,
) {
    let chosen: Vec<&MethodDescriptor> = if entry.methods.is_empty() {
        methods.iter().collect()
    } else {
        entry
            .methods
            .iter()
            .filter_map(|selector| {
                let found = super::named_method(selector, methods);
                if found.is_none() {
                    diags.push(super::no_method(pos_in(file, selector), selector, methods));
                }
                found
            })
            .collect()
    };
    let request_headers = header_edits(file, &entry.request.headers, vars, diags);
    let response_headers = header_edits(file, &entry.response.headers, vars, diags);
    for method in chosen {
        let transform = Transform {
            request_headers: request_headers.clone(),
            request_fields: field_edits(file, &method.input(), &entry.request.fields, diags),
            response_headers: response_headers.clone(),
            response_fields: field_edits(file, &method.output(), &entry.response.fields, diags),
        };
        transforms
            .by_method
            .entry(method.full_name().to_owned())
            .or_default()
            .push(Arc::new(transform));
    }
}

/// gateway.yaml's transforms apply to every method of every mapping, so they edit headers
/// only: methods and fields belong to a mapping's schema.
pub(crate) fn check_gateway(
    entries: &[Located<TransformConfig>],
    file: &Arc<str>,
    diags: &mut Diagnostics,
) {
    for entry in entries {
        if let Some(first) = entry.methods.first() {
            diags.push(Diagnostic::at(
                &pos_in(file, first),
                "gateway.yaml's transforms apply to every method: choose methods in a mapping",
            ));
        }
        for changes in [&entry.request, &entry.response] {
            let fields = &changes.fields;
            let at = (fields.set.values().next().map(|v| pos_in(file, v)))
                .or_else(|| fields.remove.first().map(|l| pos_in(file, l)))
                .or_else(|| fields.rename.values().next().map(|l| pos_in(file, l)));
            if let Some(at) = at {
                diags.push(Diagnostic::at(
                    &at,
                    "gateway.yaml's transforms edit headers: fields belong to a mapping's messages",
                ));
            }
        }
    }
}

/// The response headers that transforms write: sent to REST clients as they are, not as
/// `grpc-metadata-*`.
pub(crate) fn written_response_headers(sources: &[TransformsIn<'_>]) -> Vec<HeaderName> {
    let edits = sources
        .iter()
        .flat_map(|(entries, _)| entries.iter())
        .map(|t| &t.response.headers);
    edits
        .flat_map(|e| e.set.keys().chain(e.rename.values().map(|l| &l.value)))
        .filter_map(|name| HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok())
        .collect()
}

/// Header edits as written in `file`, checked, `${ENV_VAR}` expanded in values.
pub(crate) fn header_edits(
    file: &Arc<str>,
    edits: &Edits<String>,
    vars: &Vars,
    diags: &mut Diagnostics,
) -> HeaderEdits {
    let name = |text: &str, at: Pos, diags: &mut Diagnostics| {
        HeaderName::from_bytes(text.to_ascii_lowercase().as_bytes())
            .map_err(|_| {
                diags.push(Diagnostic::at(
                    &at,
                    format!("`{text}` is not a header name"),
                ))
            })
            .ok()
    };
    let mut out = HeaderEdits::default();
    for (from, to) in &edits.rename {
        let at = pos_in(file, to);
        if let (Some(from), Some(to)) = (name(from, at.clone(), diags), name(to, at, diags)) {
            out.rename.push((from, to));
        }
    }
    for removed in &edits.remove {
        out.remove
            .extend(name(removed, pos_in(file, removed), diags));
    }
    for (header, value) in &edits.set {
        let at = pos_in(file, value);
        let Some(text) = expand(value, at.clone(), vars, diags) else {
            continue;
        };
        let parsed = HeaderValue::from_str(&text).map_err(|_| {
            diags.push(Diagnostic::at(
                &at,
                format!("the value of `{header}` is not a header value"),
            ))
        });
        if let (Some(header), Ok(value)) = (name(header, at.clone(), diags), parsed) {
            out.set.push((header, value));
        }
    }
    out
}

fn field_edits(
    file: &Arc<str>,
    message: &MessageDescriptor,
    edits: &Edits<serde_json::Value>,
    diags: &mut Diagnostics,
) -> FieldEdits {
    let path = |text: &str, at: &Pos, diags: &mut Diagnostics| {
        resolve(message, text)
            .map_err(|problem| diags.push(problem.at(at)))
            .ok()
    };
    let mut out = FieldEdits::default();
    for (from, to) in &edits.rename {
        let at = pos_in(file, to);
        let (Some(from_path), Some(to_path)) = (path(from, &at, diags), path(to, &at, diags))
        else {
            continue;
        };
        let (a, b) = (&from_path[from_path.len() - 1], &to_path[to_path.len() - 1]);
        if a.kind() != b.kind() || a.is_list() != b.is_list() || a.is_map() != b.is_map() {
            diags.push(Diagnostic::at(
                &at,
                format!(
                    "`{from}` and `{}` are fields of different types: a rename keeps the value",
                    to.value
                ),
            ));
            continue;
        }
        out.rename.push((from_path, to_path));
    }
    for removed in &edits.remove {
        out.remove
            .extend(path(removed, &pos_in(file, removed), diags));
    }
    for (field, value) in &edits.set {
        let at = pos_in(file, value);
        let Some(field_path) = path(field, &at, diags) else {
            continue;
        };
        // The value as proto3 JSON, read by the field's own message.
        let last = &field_path[field_path.len() - 1];
        let holder = serde_json::json!({ last.json_name(): value.value });
        match DynamicMessage::deserialize(last.parent_message().clone(), holder) {
            Ok(read) => out
                .set
                .push((field_path.clone(), read.get_field(last).into_owned())),
            Err(e) => diags.push(Diagnostic::at(
                &at,
                format!("`{field}`: the value does not fit the field: {e}"),
            )),
        }
    }
    out
}
