//! XML <-> proto3 JSON by message descriptor, the form of the WSDL the SOAP frontend generates
//! for services that were not imported from a WSDL: one element per field, named by its JSON
//! name in the service's namespace; repeated fields as repeated elements; a map as repeated
//! entry elements holding `key` and `value`; scalar text as proto3 JSON writes it (int64 as
//! digits, RFC 3339 times, base64, enum names). Values go through proto3 JSON so that the
//! well-known types, enums and 64-bit integers have exactly one meaning everywhere.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use quick_xml::events::{BytesStart, BytesText, Event};
use serde_json::{Map, Value};

use super::read::{Item, Reader, Start};
use super::write::{end, io, start, Out};
use super::XmlError;
use crate::registry::wkt;

/// The fields of an element of message `desc` whose start tag was read, as a proto3 JSON object.
pub(crate) fn read_object(
    reader: &mut Reader<'_>,
    element: &Start<'_>,
    desc: &MessageDescriptor,
) -> Result<Map<String, Value>, XmlError> {
    let mut object = Map::new();
    if element.empty {
        return Ok(object);
    }
    loop {
        let child = match reader.next()? {
            Item::End => return Ok(object),
            Item::Text(text) if text.trim().is_empty() => continue,
            Item::Text(_) => {
                return Err(XmlError::new(format!(
                    "element `{}` holds text between its elements",
                    element.local
                )))
            }
            Item::Start(child) => child,
        };
        let field = desc
            .fields()
            .find(|f| f.json_name() == child.local || f.name() == child.local)
            .ok_or_else(|| {
                XmlError::new(format!(
                    "`{}` is not a field of {}",
                    child.local,
                    desc.full_name()
                ))
            })?;
        let key = field.json_name().to_owned();
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields are messages")
            };
            let mut pair = read_object(reader, &child, &entry)?;
            let name = match pair.remove("key") {
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let value = pair.remove("value").unwrap_or(Value::Null);
            object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .map(|map| map.insert(name, value));
            continue;
        }
        let value = if child.is_nil() {
            reader.skip(&child)?;
            Value::Null
        } else {
            match field.kind() {
                Kind::Message(m) if !wkt::has_own_json_form(m.full_name()) => {
                    Value::Object(read_object(reader, &child, &m)?)
                }
                _ => scalar(&field, &reader.text(&child)?),
            }
        };
        if field.is_list() {
            if let Value::Array(items) = object
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                items.push(value);
            }
        } else {
            object.insert(key, value);
        }
    }
}

/// A field's text as its proto3 JSON value (the JSON reader then checks it).
fn scalar(field: &FieldDescriptor, text: &str) -> Value {
    let text = text.trim();
    let number = || {
        serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.to_owned()))
    };
    match field.kind() {
        Kind::Bool => match text {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            other => Value::String(other.to_owned()),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => number(),
        Kind::Float | Kind::Double if !matches!(text, "NaN" | "INF" | "-INF") => number(),
        Kind::Float | Kind::Double => Value::String(
            match text {
                "INF" => "Infinity",
                "-INF" => "-Infinity",
                other => other,
            }
            .to_owned(),
        ),
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Struct"
            | "google.protobuf.Value"
            | "google.protobuf.ListValue"
            | "google.protobuf.Any" => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
            }
            name if wkt::WRAPPERS.contains(&name) => match m.get_field(1) {
                Some(value) => scalar(&value, text),
                None => Value::String(text.to_owned()),
            },
            _ => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

/// Writes `value`, the proto3 JSON of a message of type `desc`, as the content of an element:
/// its fields in field-number order, each as `{prefix}:{json name}`.
pub(crate) fn write_object(
    w: &mut Out,
    prefix: &str,
    desc: &MessageDescriptor,
    value: &Map<String, Value>,
) -> Result<(), XmlError> {
    for field in desc.fields() {
        let Some(value) = value.get(field.json_name()) else {
            continue;
        };
        let tag = format!("{prefix}:{}", field.json_name());
        match (value, field.kind()) {
            (Value::Object(entries), Kind::Message(entry)) if field.is_map() => {
                for (key, value) in entries {
                    start(w, &tag)?;
                    let mut pair = Map::new();
                    pair.insert("key".into(), Value::String(key.clone()));
                    pair.insert("value".into(), value.clone());
                    write_object(w, prefix, &entry, &pair)?;
                    end(w, &tag)?;
                }
            }
            (Value::Array(items), kind) if field.is_list() => {
                for item in items {
                    write_value(w, &tag, prefix, &kind, item)?;
                }
            }
            (value, kind) => write_value(w, &tag, prefix, &kind, value)?,
        }
    }
    Ok(())
}

fn write_value(
    w: &mut Out,
    tag: &str,
    prefix: &str,
    kind: &Kind,
    value: &Value,
) -> Result<(), XmlError> {
    match (kind, value) {
        (_, Value::Null) => {
            let mut nil = BytesStart::new(tag);
            nil.push_attribute(("xsi:nil", "true"));
            w.write_event(Event::Empty(nil)).map_err(io)
        }
        (Kind::Message(m), Value::Object(fields)) if !wkt::has_own_json_form(m.full_name()) => {
            start(w, tag)?;
            write_object(w, prefix, m, fields)?;
            end(w, tag)
        }
        (_, value) => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            start(w, tag)?;
            w.write_event(Event::Text(BytesText::new(&text)))
                .map_err(io)?;
            end(w, tag)
        }
    }
}
