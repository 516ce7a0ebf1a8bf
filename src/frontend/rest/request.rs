//! Building the input message of a REST request: path variables, query parameters and body
//! (design.md section 3).

use std::collections::HashSet;

use base64::Engine;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};

use super::route::Route;
use crate::call::Message;
use crate::http_rule::{resolve_path, BodyBinding};
use crate::protojson::json_to_wire;
use crate::registry::wkt::{is_nillable_stand_in, TEXT_FORMS, WRAPPERS};
use crate::status::Status;

/// A value taken from the path or the query, to be set on every request message.
#[derive(Debug, Clone)]
pub struct Binding {
    path: Vec<FieldDescriptor>,
    target: Target,
    /// `true` for path variables: a body that sets the same field must agree with them.
    from_path: bool,
}

#[derive(Debug, Clone)]
enum Target {
    Set(Value),
    Push(Value),
    MapEntry(MapKey, Value),
}

/// The bindings of a request's path variables and query parameters.
pub fn bindings(
    route: &Route,
    segments: &[&str],
    query: Option<&str>,
) -> Result<Vec<Binding>, Status> {
    let mut out = Vec::new();
    for (variable, fields) in route.template.variables.iter().zip(&route.variable_fields) {
        let end = variable.end.unwrap_or(segments.len());
        let raw = segments[variable.start..end].join("/");
        let text =
            super::matcher::unescape(&raw, variable.is_single_segment()).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "path variable `{}` is not valid UTF-8 once unescaped",
                    variable.field_path.join(".")
                ))
            })?;
        let leaf = fields.last().expect("field paths are never empty");
        let value = if leaf.is_list() {
            text.split(',')
                .map(|part| parse_value(leaf, part))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List)
        } else {
            parse_value(leaf, &text)
        };
        let value = value.map_err(|why| {
            Status::invalid_argument(format!(
                "invalid value for path variable `{}`: {why}",
                variable.field_path.join(".")
            ))
        })?;
        out.push(Binding {
            path: fields.clone(),
            target: Target::Set(value),
            from_path: true,
        });
    }
    if let Some(query) = query {
        query_bindings(route, query, &mut out)?;
    }
    Ok(out)
}

fn query_bindings(route: &Route, query: &str, out: &mut Vec<Binding>) -> Result<(), Status> {
    let input = route.operation.method.input();
    let ignore_unknown = route.mapping.ignore_unknown_query_params;
    let mut seen = HashSet::new();
    for pair in crate::query_string::pairs(query) {
        let (key, text) = pair.map_err(|key| {
            Status::invalid_argument(format!(
                "query parameter `{key}` is not valid UTF-8 once unescaped"
            ))
        })?;
        let (name, map_key) = match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
            Some((name, map_key)) => (name, Some(map_key)),
            None => (key.as_ref(), None),
        };
        let Some(path) = resolve_path(&input, name) else {
            if ignore_unknown || route.mapping.credential_query.iter().any(|q| q == name) {
                continue;
            }
            return Err(Status::invalid_argument(format!(
                "query parameter `{key}` names no field of {}",
                input.full_name()
            )));
        };
        let bound_by = if route.path_bound(&path) {
            Some("the path")
        } else if route.body_bound(&path) {
            Some("the request body")
        } else {
            None
        };
        if let Some(bound_by) = bound_by {
            if ignore_unknown {
                continue;
            }
            return Err(Status::invalid_argument(format!(
                "query parameter `{key}` sets a field of {} that is bound by {bound_by}",
                input.full_name()
            )));
        }
        let leaf = path
            .last()
            .expect("resolve_path never returns an empty path");
        let invalid = |why: String| {
            Status::invalid_argument(format!("invalid value for query parameter `{key}`: {why}"))
        };
        let target = match (map_key, leaf.is_map(), leaf.is_list()) {
            (Some(map_key), true, _) => {
                let Kind::Message(entry) = leaf.kind() else {
                    unreachable!("maps are messages")
                };
                let key = parse_value(&entry.map_entry_key_field(), map_key)
                    .ok()
                    .and_then(value_to_map_key)
                    .ok_or_else(|| invalid(format!("`{map_key}` is not a valid map key")))?;
                let value = parse_value(&entry.map_entry_value_field(), &text).map_err(invalid)?;
                Target::MapEntry(key, value)
            }
            (None, false, true) => Target::Push(parse_value(leaf, &text).map_err(invalid)?),
            (None, false, false) => Target::Set(parse_value(leaf, &text).map_err(invalid)?),
            _ => {
                return Err(Status::invalid_argument(format!(
                    "query parameter `{key}` does not fit field `{}` ({})",
                    leaf.name(),
                    if leaf.is_map() {
                        "a map: use `field[key]=value`"
                    } else {
                        "not a map"
                    }
                )))
            }
        };
        let once_key = match &target {
            Target::Push(_) => None,
            Target::MapEntry(..) => Some(key.to_string()),
            Target::Set(_) => Some(name.to_string()),
        };
        if let Some(once_key) = once_key {
            if !seen.insert(once_key) {
                return Err(Status::invalid_argument(format!(
                    "query parameter `{key}` is given more than once but field `{}` is not repeated",
                    leaf.name()
                )));
            }
        }
        out.push(Binding {
            path,
            target,
            from_path: false,
        });
    }
    Ok(())
}

fn value_to_map_key(value: Value) -> Option<MapKey> {
    Some(match value {
        Value::Bool(b) => MapKey::Bool(b),
        Value::I32(v) => MapKey::I32(v),
        Value::I64(v) => MapKey::I64(v),
        Value::U32(v) => MapKey::U32(v),
        Value::U64(v) => MapKey::U64(v),
        Value::String(s) => MapKey::String(s),
        _ => return None,
    })
}

/// Applies bindings to a message decoded from the body. A path variable that sets a field the
/// body also set must agree with it.
pub fn apply(bindings: &[Binding], message: &mut DynamicMessage) -> Result<(), Status> {
    for binding in bindings {
        let (parent, leaf) = parent_of(message, &binding.path);
        match &binding.target {
            Target::Set(value) => {
                if binding.from_path
                    && parent.has_field(leaf)
                    && parent.get_field(leaf).as_ref() != value
                {
                    return Err(Status::invalid_argument(format!(
                        "field `{}` is set by the path and, differently, by the body",
                        dotted(&binding.path)
                    )));
                }
                parent.set_field(leaf, value.clone());
            }
            Target::Push(value) => {
                if let Value::List(list) = parent.get_field_mut(leaf) {
                    list.push(value.clone());
                }
            }
            Target::MapEntry(key, value) => {
                if let Value::Map(map) = parent.get_field_mut(leaf) {
                    map.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Ok(())
}

fn dotted(path: &[FieldDescriptor]) -> String {
    path.iter().map(|f| f.name()).collect::<Vec<_>>().join(".")
}

/// The message that holds the last field of `path`, creating intermediate messages.
fn parent_of<'m, 'p>(
    message: &'m mut DynamicMessage,
    path: &'p [FieldDescriptor],
) -> (&'m mut DynamicMessage, &'p FieldDescriptor) {
    let (leaf, parents) = path.split_last().expect("field paths are never empty");
    let mut current = message;
    for field in parents {
        current = match current.get_field_mut(field) {
            Value::Message(m) => m,
            _ => unreachable!("intermediate fields are singular messages"),
        };
    }
    (current, leaf)
}

/// The input message of a request: its body per the route's body binding, then the path and
/// query bindings. A whole-message JSON body with no bindings (the common POST) is transcoded
/// straight to wire form.
pub fn decode_message(
    route: &Route,
    body: &[u8],
    content_type: Option<&str>,
    bindings: &[Binding],
) -> Result<Message, Status> {
    let input = route.operation.method.input();
    if bindings.is_empty() && !is_http_body(&input) {
        let wire = match &route.body {
            BodyBinding::Whole => {
                Some(json_to_wire(&route.request_plan, body).map_err(|e| json_error(&e, 0))?)
            }
            // `{"user": <body>}` transcoded whole is the input with only that field set. A body
            // it refuses is decoded below, for the message that path gives.
            BodyBinding::Field(path) if !is_http_body_field(path) && !is_blank(body) => {
                let (wrapped, _) = wrapped_body(body, path)?;
                json_to_wire(&route.request_plan, &wrapped).ok()
            }
            _ => None,
        };
        if let Some(wire) = wire {
            return Ok(Message::Encoded(input, wire.into()));
        }
    }
    let mut message = decode_body(route, body, content_type)?;
    apply(bindings, &mut message)?;
    Ok(Message::Decoded(message))
}

/// Decodes the request body per the route's body binding.
pub fn decode_body(
    route: &Route,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<DynamicMessage, Status> {
    let input = route.operation.method.input();
    let options = DeserializeOptions::new().deny_unknown_fields(route.mapping.strict);
    match &route.body {
        BodyBinding::None => Ok(DynamicMessage::new(input)),
        BodyBinding::Whole if is_http_body(&input) => Ok(http_body(input, body, content_type)),
        BodyBinding::Whole => decode_json(input, body, &options).map_err(|e| json_error(&e, 0)),
        BodyBinding::Field(path) => {
            let mut message = DynamicMessage::new(input.clone());
            if is_blank(body) {
                return Ok(message);
            }
            if is_http_body_field(path) {
                let (parent, leaf) = parent_of(&mut message, path);
                if let Kind::Message(m) = leaf.kind() {
                    parent.set_field(leaf, Value::Message(http_body(m, body, content_type)));
                }
                return Ok(message);
            }
            let (wrapped, prefix) = wrapped_body(body, path)?;
            decode_json(input, &wrapped, &options).map_err(|e| json_error(&e, prefix))
        }
    }
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// Whether a body field is a `google.api.HttpBody` (the raw body, not JSON).
fn is_http_body_field(path: &[FieldDescriptor]) -> bool {
    let leaf = path.last().expect("field paths are never empty");
    matches!(leaf.kind(), Kind::Message(m) if is_http_body(&m) && !leaf.is_list())
}

/// `{"a":{"b": <body>}}` for the body field `a.b`, so that the field gets the full JSON
/// mapping of its type, and where the body starts in it.
fn wrapped_body(body: &[u8], path: &[FieldDescriptor]) -> Result<(Vec<u8>, usize), Status> {
    // The body must be exactly one JSON value: otherwise `1, "other": 2` would set a field
    // outside the body field once wrapped.
    serde_json::from_slice::<&serde_json::value::RawValue>(body).map_err(|e| json_error(&e, 0))?;
    let mut wrapped = Vec::with_capacity(body.len() + 8 * path.len() + 16);
    for field in path {
        wrapped.extend_from_slice(b"{\"");
        wrapped.extend_from_slice(field.name().as_bytes());
        wrapped.extend_from_slice(b"\":");
    }
    wrapped.extend_from_slice(body);
    wrapped.extend(std::iter::repeat_n(b'}', path.len()));
    let prefix = wrapped.len() - body.len() - path.len();
    Ok((wrapped, prefix))
}

pub fn decode_json(
    desc: MessageDescriptor,
    body: &[u8],
    options: &DeserializeOptions,
) -> Result<DynamicMessage, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DynamicMessage::new(desc));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    DynamicMessage::deserialize_with_options(desc, &mut de, options)
        .and_then(|m| de.end().map(|_| m))
}

/// A JSON error as a 400, its position shifted back by `prefix` bytes added before the body on
/// its first line.
fn json_error(e: &serde_json::Error, prefix: usize) -> Status {
    let what = crate::protojson::error_text(e);
    let column = if e.line() == 1 {
        e.column().saturating_sub(prefix)
    } else {
        e.column()
    };
    Status::invalid_argument(format!(
        "invalid JSON body: {what} at line {} column {}",
        e.line(),
        column.max(1)
    ))
}

pub fn is_http_body(desc: &MessageDescriptor) -> bool {
    desc.full_name() == "google.api.HttpBody"
}

fn http_body(desc: MessageDescriptor, body: &[u8], content_type: Option<&str>) -> DynamicMessage {
    let mut message = DynamicMessage::new(desc);
    message.set_field_by_name(
        "content_type",
        Value::String(content_type.unwrap_or_default().to_owned()),
    );
    message.set_field_by_name("data", Value::Bytes(bytes::Bytes::copy_from_slice(body)));
    message
}

/// Parses the text of a path variable or query parameter as a value of `field`'s type.
/// Well-known types take their JSON string forms; wrappers take their inner value.
fn parse_value(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    parse_kind(&field.kind(), text)
}

fn parse_kind(kind: &Kind, text: &str) -> Result<Value, String> {
    let number = |what: &str| format!("`{text}` is not {what}");
    Ok(match kind {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .map_err(|_| number("base64"))?
                .into(),
        ),
        Kind::Bool => match text {
            "true" | "True" | "1" => Value::Bool(true),
            "false" | "False" | "0" => Value::Bool(false),
            _ => return Err(number("a boolean")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| number("a 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| number("a 64-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            text.parse()
                .map_err(|_| number("an unsigned 32-bit integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            text.parse()
                .map_err(|_| number("an unsigned 64-bit integer"))?,
        ),
        Kind::Float => Value::F32(text.parse().map_err(|_| number("a number"))?),
        Kind::Double => Value::F64(text.parse().map_err(|_| number("a number"))?),
        Kind::Enum(e) => {
            let value = e
                .get_value_by_name(text)
                .map(|v| v.number())
                .or_else(|| {
                    text.parse::<i32>()
                        .ok()
                        .filter(|n| e.get_value(*n).is_some())
                })
                .ok_or_else(|| format!("`{text}` is not a value of enum {}", e.full_name()))?;
            Value::EnumNumber(value)
        }
        Kind::Message(m) => Value::Message(parse_well_known(m, text)?),
    })
}

fn parse_well_known(desc: &MessageDescriptor, text: &str) -> Result<DynamicMessage, String> {
    let name = desc.full_name();
    // A `google.protobuf.Value` (any JSON) from text is that text as a JSON string.
    if TEXT_FORMS.contains(&name) || name == "google.protobuf.Value" {
        return DynamicMessage::deserialize(
            desc.clone(),
            serde_json::Value::String(text.to_owned()),
        )
        .map_err(|e| format!("`{text}` is not a valid {}: {e}", desc.name()));
    }
    match desc.get_field_by_name("value") {
        Some(inner) if WRAPPERS.contains(&name) || is_nillable_stand_in(desc) => {
            let mut message = DynamicMessage::new(desc.clone());
            message.set_field(&inner, parse_value(&inner, text)?);
            Ok(message)
        }
        _ => Err(format!("a message of type {name} cannot be given as text")),
    }
}
