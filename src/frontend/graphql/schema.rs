//! The GraphQL types of an endpoint, generated from the descriptors of its operations
//! (design.md section 4), with what the resolvers need to turn GraphQL values into proto3
//! JSON and back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Object,
    ResolverContext, Scalar, TypeRef,
};
use async_graphql::{Error, Name, Value};
use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor};

use crate::registry::{comments, lower_camel, wkt};
use crate::xml::schema::{XmlSchema, XmlValue};

/// How a GraphQL input field becomes proto3 JSON.
#[derive(Debug, Clone)]
pub(crate) enum InputKind {
    /// The GraphQL value is already the field's proto3 JSON (scalars, enums, well-known types).
    Plain,
    /// An input object for a message, by message full name.
    Message(String),
    /// Entries `{key, value}`, written as a JSON object; the value's message, if any.
    Map(Option<String>),
    /// A `@oneOf` group: its members are fields of the message itself.
    Group(String),
    /// A message without fields, given as `true`.
    Present,
}

#[derive(Debug, Clone)]
pub(crate) struct InputField {
    /// The proto3 JSON name.
    pub key: Arc<str>,
    pub kind: InputKind,
}

/// For every input object (by message full name, or `message#group`): its fields by GraphQL
/// name.
pub(crate) type InputPlans = HashMap<String, HashMap<String, InputField>>;

/// An output field as the root resolver sees it: to fill field masks from the selection and to
/// find enum values the schema lacks.
#[derive(Debug, Clone)]
pub(crate) struct OutputField {
    /// The proto3 JSON name.
    pub json: String,
    /// For a message field whose fields can be selected: the message's full name.
    pub message: Option<String>,
    pub repeated: bool,
    pub enumeration: Option<EnumDescriptor>,
}

/// For every output message: its fields by GraphQL name.
pub(crate) type OutputNames = HashMap<String, HashMap<String, OutputField>>;

/// The scalars of design.md section 4 beyond GraphQL's own.
const SCALARS: [(&str, &str); 8] = [
    (
        "Int64",
        "A signed 64-bit integer, written as a JSON string; accepted as a string or a number.",
    ),
    (
        "UInt64",
        "An unsigned 64-bit integer, written as a JSON string; accepted as a string or a number.",
    ),
    ("UInt32", "An unsigned 32-bit integer."),
    ("Bytes", "Bytes in base64."),
    (
        "DateTime",
        "A time in RFC 3339 form, such as 2024-01-02T03:04:05Z.",
    ),
    (
        "Duration",
        "A duration in seconds with an `s` suffix, such as 1.5s.",
    ),
    ("JSON", "Any JSON value."),
    (
        "Decimal",
        "A decimal number written as a string, without loss of precision.",
    ),
];

/// What an output field's resolver does with the value under its key.
#[derive(Debug, Clone)]
enum Output {
    /// Pass the proto3 JSON value through; use `zero` when absent (fields without presence).
    Value { zero: Option<Value> },
    /// An enum: check the name; a number means the backend sent a value the schema lacks.
    Enum {
        desc: EnumDescriptor,
        zero: Option<Value>,
    },
    /// A map written as a JSON object, served as a list of entries; how to type each key.
    Entries { key: KeyKind },
    /// A message without fields: `true` when set.
    Present,
}

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Text,
    Number,
    Bool,
}

pub(crate) struct Types<'a> {
    /// GraphQL type name -> what it stands for, to catch two things with one name.
    names: HashMap<String, String>,
    pub objects: Vec<Object>,
    pub inputs: Vec<InputObject>,
    pub enums: Vec<Enum>,
    scalars: HashSet<&'static str>,
    pub input_plans: InputPlans,
    pub output_names: OutputNames,
    pub problems: Vec<String>,
    maps_as_json: bool,
    xml: &'a [&'a XmlSchema],
}

/// The GraphQL name of a message or enum: its full name with `.` -> `_`.
pub(crate) fn type_name(full_name: &str) -> String {
    full_name.replace('.', "_")
}

/// A GraphQL name for a proto3 JSON name (which may hold `$` or `@` for XML text and
/// attributes).
pub(crate) fn field_name(json_name: &str) -> String {
    let mut name: String = json_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.starts_with("__") {
        name.insert(0, 'f');
    }
    name
}

impl<'a> Types<'a> {
    pub(crate) fn new(maps_as_json: bool, xml: &'a [&'a XmlSchema]) -> Self {
        Types {
            names: HashMap::new(),
            objects: Vec::new(),
            inputs: Vec::new(),
            enums: Vec::new(),
            scalars: HashSet::new(),
            input_plans: HashMap::new(),
            output_names: HashMap::new(),
            problems: Vec::new(),
            maps_as_json,
            xml,
        }
    }

    /// Whether the object type `type_name` has a field `field` already.
    pub(crate) fn has_field(&self, type_name: &str, field: &str) -> bool {
        self.names
            .get(type_name)
            .and_then(|full| self.output_names.get(full))
            .is_some_and(|fields| fields.contains_key(field))
    }

    /// Scalar types the generated types use.
    pub(crate) fn scalars(&self) -> Vec<Scalar> {
        SCALARS
            .iter()
            .filter(|(name, _)| self.scalars.contains(name))
            .map(|(name, about)| {
                let scalar = Scalar::new(*name).description(*about);
                match *name {
                    "Int64" => scalar.validator(|v| integer(v, i64::MIN as i128, i64::MAX as i128)),
                    "UInt64" => scalar.validator(|v| integer(v, 0, u64::MAX as i128)),
                    "UInt32" => scalar.validator(|v| {
                        matches!(v, Value::Number(n) if n.as_u64().is_some_and(|n| n <= u32::MAX as u64))
                    }),
                    "Decimal" => scalar.validator(|v| match v {
                        Value::String(s) => is_decimal(s),
                        Value::Number(_) => true,
                        _ => false,
                    }),
                    "JSON" => scalar,
                    "DateTime" => scalar
                        .specified_by_url("https://datatracker.ietf.org/doc/html/rfc3339")
                        .validator(|v| matches!(v, Value::String(_))),
                    _ => scalar.validator(|v| matches!(v, Value::String(_))),
                }
            })
            .collect()
    }

    /// Claims a type name for `what`; false when it is already built (or claimed by another
    /// thing, which is reported).
    fn claim(&mut self, name: &str, what: &str) -> bool {
        match self.names.get(name) {
            None => {
                self.names.insert(name.to_owned(), what.to_owned());
                true
            }
            Some(owner) if owner == what => false,
            Some(owner) => {
                self.problems.push(format!(
                    "two types would be named `{name}` in GraphQL: {owner} and {what}"
                ));
                false
            }
        }
    }

    fn scalar(&mut self, name: &'static str) -> &'static str {
        self.scalars.insert(name);
        name
    }

    /// The scalar a message type stands for, if it stands for one (well-known types, SOAP
    /// nillable stand-ins, messages without fields).
    fn message_scalar(&mut self, msg: &MessageDescriptor, decimal: bool) -> Option<&'static str> {
        let name = match msg.full_name() {
            "google.protobuf.Timestamp" => "DateTime",
            "google.protobuf.Duration" => "Duration",
            "google.protobuf.FieldMask" => "String",
            "google.protobuf.Struct"
            | "google.protobuf.Value"
            | "google.protobuf.ListValue"
            | "google.protobuf.Any" => "JSON",
            full if wkt::WRAPPERS.contains(&full) || wkt::is_nillable_stand_in(msg) => {
                let value = msg.get_field(1)?;
                return self.kind_scalar(&value, decimal);
            }
            _ if msg.fields().len() == 0 => "Boolean",
            _ => return None,
        };
        Some(self.scalar_name(name))
    }

    fn scalar_name(&mut self, name: &str) -> &'static str {
        match name {
            "String" => "String",
            "Boolean" => "Boolean",
            "Int" => "Int",
            "Float" => "Float",
            other => {
                let known = SCALARS
                    .iter()
                    .find(|(n, _)| *n == other)
                    .map(|(n, _)| *n)
                    .expect("a scalar of section 4");
                self.scalar(known)
            }
        }
    }

    /// The scalar of a non-message field (`None` for enums and messages).
    fn kind_scalar(&mut self, field: &FieldDescriptor, decimal: bool) -> Option<&'static str> {
        let name = match field.kind() {
            Kind::Double | Kind::Float => "Float",
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "Int",
            Kind::Uint32 | Kind::Fixed32 => "UInt32",
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "Int64",
            Kind::Uint64 | Kind::Fixed64 => "UInt64",
            Kind::Bool => "Boolean",
            Kind::String if decimal => "Decimal",
            Kind::String => "String",
            Kind::Bytes => "Bytes",
            Kind::Enum(_) | Kind::Message(_) => return None,
        };
        Some(self.scalar_name(name))
    }

    /// Whether a field of a WSDL-made message holds an `xsd:decimal`.
    fn is_decimal(&self, field: &FieldDescriptor) -> bool {
        let parent = field.parent_message();
        self.xml.iter().any(|schema| {
            schema
                .message(parent.full_name())
                .and_then(|m| m.fields.iter().find(|f| f.number == field.number()))
                .is_some_and(
                    |f| matches!(&f.value, XmlValue::Simple(info) if &*info.builtin == "decimal"),
                )
        })
    }

    /// The output object of a message; returns the type to use (a scalar for the messages that
    /// stand for one).
    pub(crate) fn output_message(&mut self, msg: &MessageDescriptor) -> String {
        if let Some(scalar) = self.message_scalar(msg, false) {
            return scalar.to_owned();
        }
        let name = type_name(msg.full_name());
        if !self.claim(&name, msg.full_name()) {
            return name;
        }
        let mut object = Object::new(&name);
        if let Some(about) = comments(&msg.parent_file(), msg.path()) {
            object = object.description(about);
        }
        let mut names = HashMap::new();
        for field in msg.fields() {
            let graphql = field_name(field.json_name());
            let (ty, output) = self.output_field(&field);
            let (message, enumeration) = match field.kind() {
                Kind::Message(m)
                    if !field.is_map()
                        && ty.type_name() == type_name(value_message(m.clone()).full_name()) =>
                {
                    (Some(value_message(m).full_name().to_owned()), None)
                }
                Kind::Enum(e) => (None, Some(e)),
                _ => (None, None),
            };
            let about = OutputField {
                json: field.json_name().to_owned(),
                message,
                repeated: field.is_list(),
                enumeration,
            };
            names.insert(graphql.clone(), about);
            let key: Arc<str> = field.json_name().into();
            let mut resolved = Field::new(graphql, ty, move |ctx| resolve(&ctx, &key, &output));
            if let Some(about) = comments(&msg.parent_file(), field.path()) {
                resolved = resolved.description(about);
            }
            object = object.field(resolved);
        }
        self.output_names.insert(msg.full_name().to_owned(), names);
        self.objects.push(object);
        name
    }

    fn output_field(&mut self, field: &FieldDescriptor) -> (TypeRef, Output) {
        let decimal = self.is_decimal(field);
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields are messages")
            };
            if self.maps_as_json {
                return (
                    TypeRef::named(self.scalar("JSON")),
                    Output::Value { zero: None },
                );
            }
            let key = match entry.map_entry_key_field().kind() {
                Kind::Bool => KeyKind::Bool,
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
                    KeyKind::Number
                }
                _ => KeyKind::Text,
            };
            let entry_type = self.output_message(&entry);
            return (
                TypeRef::named_nn_list_nn(entry_type),
                Output::Entries { key },
            );
        }
        let presence = field.supports_presence();
        let (name, output) = match field.kind() {
            Kind::Message(m) => {
                let m = value_message(m);
                let name = match self.message_scalar(&m, decimal) {
                    Some(scalar) => scalar.to_owned(),
                    None => self.output_message(&m),
                };
                let output = if m.fields().len() == 0 && !wkt::has_own_json_form(m.full_name()) {
                    Output::Present
                } else {
                    Output::Value { zero: None }
                };
                // Messages are nullable, also in lists (a wrapper or nillable element can be null).
                if field.is_list() {
                    return (TypeRef::named_list_nn(name), output);
                }
                return (TypeRef::named(name), output);
            }
            Kind::Enum(e) => {
                let name = self.enum_type(&e);
                let zero = (!presence).then(|| Value::Enum(Name::new(e.default_value().name())));
                (name, Output::Enum { desc: e, zero })
            }
            _ => {
                let scalar = self.kind_scalar(field, decimal).expect("a scalar kind");
                let zero = (!presence).then(|| zero_value(field));
                (scalar.to_owned(), Output::Value { zero })
            }
        };
        let ty = if field.is_list() {
            TypeRef::named_nn_list_nn(name)
        } else if presence {
            TypeRef::named(name)
        } else {
            TypeRef::named_nn(name)
        };
        let output = match output {
            Output::Value { .. } if field.is_list() => Output::Value {
                zero: Some(Value::List(Vec::new())),
            },
            Output::Enum { desc, .. } if field.is_list() => Output::Enum {
                desc,
                zero: Some(Value::List(Vec::new())),
            },
            other => other,
        };
        (ty, output)
    }

    pub(crate) fn enum_type(&mut self, e: &EnumDescriptor) -> String {
        let name = type_name(e.full_name());
        if !self.claim(&name, e.full_name()) {
            return name;
        }
        let mut graphql = Enum::new(&name);
        if let Some(about) = comments(&e.parent_file(), e.path()) {
            graphql = graphql.description(about);
        }
        for value in e.values() {
            let mut item = EnumItem::new(value.name());
            if let Some(about) = comments(&e.parent_file(), value.path()) {
                item = item.description(about);
            }
            graphql = graphql.item(item);
        }
        self.enums.push(graphql);
        name
    }

    /// The input fields of a message (also the arguments of a root field), recording how they
    /// become proto3 JSON.
    pub(crate) fn input_fields(&mut self, msg: &MessageDescriptor) -> Vec<InputValue> {
        let mut values = Vec::new();
        let mut plan = HashMap::new();
        let mut groups_done = HashSet::new();
        for field in msg.fields() {
            match field.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(group) => {
                    if groups_done.insert(group.name().to_owned()) {
                        let name = field_name(&lower_camel(group.name()));
                        let key = format!("{}#{}", msg.full_name(), group.name());
                        let ty = self.group_input(msg, &group, &key);
                        plan.insert(
                            name.clone(),
                            InputField {
                                key: "".into(),
                                kind: InputKind::Group(key),
                            },
                        );
                        values.push(described(
                            InputValue::new(name, TypeRef::named(ty)),
                            msg,
                            group.path(),
                        ));
                    }
                }
                None => {
                    let (value, input) = self.input_field(&field);
                    plan.insert(field_name(field.json_name()), input);
                    values.push(value);
                }
            }
        }
        self.input_plans.insert(msg.full_name().to_owned(), plan);
        values
    }

    fn group_input(
        &mut self,
        msg: &MessageDescriptor,
        group: &OneofDescriptor,
        key: &str,
    ) -> String {
        let name = format!(
            "{}_{}Input",
            type_name(msg.full_name()),
            pascal(group.name())
        );
        if !self.claim(&name, key) {
            return name;
        }
        let mut object = InputObject::new(&name).oneof();
        let mut plan = HashMap::new();
        for field in group.fields() {
            let (value, input) = self.input_field(&field);
            plan.insert(field_name(field.json_name()), input);
            object = object.field(value);
        }
        self.input_plans.insert(key.to_owned(), plan);
        self.inputs.push(object);
        name
    }

    fn input_field(&mut self, field: &FieldDescriptor) -> (InputValue, InputField) {
        let key: Arc<str> = field.json_name().into();
        let decimal = self.is_decimal(field);
        let (name, kind) = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields are messages")
            };
            if self.maps_as_json {
                (self.scalar("JSON").to_owned(), InputKind::Plain)
            } else {
                let value = match entry.map_entry_value_field().kind() {
                    Kind::Message(m)
                        if self
                            .message_scalar(&value_message(m.clone()), false)
                            .is_none() =>
                    {
                        Some(value_message(m).full_name().to_owned())
                    }
                    _ => None,
                };
                let entry_type = self.input_message(&entry);
                let ty = TypeRef::named_nn_list(entry_type);
                let value_input = InputValue::new(field_name(field.json_name()), ty);
                let value_input = described(value_input, field.parent_message(), field.path());
                return (
                    value_input,
                    InputField {
                        key,
                        kind: InputKind::Map(value),
                    },
                );
            }
        } else {
            match field.kind() {
                Kind::Message(m) => match self.message_scalar(&value_message(m.clone()), decimal) {
                    Some(scalar)
                        if m.fields().len() == 0 && !wkt::has_own_json_form(m.full_name()) =>
                    {
                        (scalar.to_owned(), InputKind::Present)
                    }
                    Some(scalar) => (scalar.to_owned(), InputKind::Plain),
                    None => {
                        let m = value_message(m);
                        (
                            self.input_message(&m),
                            InputKind::Message(m.full_name().to_owned()),
                        )
                    }
                },
                Kind::Enum(e) => (self.enum_type(&e), InputKind::Plain),
                _ => (
                    self.kind_scalar(field, decimal)
                        .expect("a scalar kind")
                        .to_owned(),
                    InputKind::Plain,
                ),
            }
        };
        let ty = if field.is_list() {
            TypeRef::named_nn_list(name)
        } else {
            TypeRef::named(name)
        };
        let value = InputValue::new(field_name(field.json_name()), ty);
        (
            described(value, field.parent_message(), field.path()),
            InputField { key, kind },
        )
    }

    fn input_message(&mut self, msg: &MessageDescriptor) -> String {
        let name = format!("{}Input", type_name(msg.full_name()));
        if !self.claim(&name, &format!("{} (input)", msg.full_name())) {
            return name;
        }
        let mut object = InputObject::new(&name);
        if let Some(about) = comments(&msg.parent_file(), msg.path()) {
            object = object.description(about);
        }
        for value in self.input_fields(msg) {
            object = object.field(value);
        }
        self.inputs.push(object);
        name
    }
}

fn described(value: InputValue, msg: &MessageDescriptor, path: &[i32]) -> InputValue {
    match comments(&msg.parent_file(), path) {
        Some(about) => value.description(about),
        None => value,
    }
}

/// The message whose proto3 JSON a message field holds: itself, or for a SOAP nillable
/// element of a complex type, the complex type's message (the stand-in is `null` or its value).
fn value_message(message: MessageDescriptor) -> MessageDescriptor {
    if wkt::is_nillable_stand_in(&message) {
        if let Some(Kind::Message(inner)) = message.get_field(1).map(|f| f.kind()) {
            return inner;
        }
    }
    message
}

/// Resolves an output field from its parent's proto3 JSON object.
fn resolve<'a>(ctx: &ResolverContext<'a>, key: &str, output: &Output) -> FieldFuture<'a> {
    let value = match ctx.parent_value.as_value() {
        Some(Value::Object(map)) => map.get(key).filter(|v| !matches!(v, Value::Null)),
        _ => None,
    };
    let value = match (output, value) {
        (Output::Value { zero }, value) => value.cloned().or_else(|| zero.clone()),
        (Output::Enum { zero, .. }, None) => zero.clone(),
        (Output::Enum { desc, .. }, Some(value)) => match checked_enum(desc, value) {
            Ok(value) => Some(value),
            Err(e) => return FieldFuture::new(async move { Err::<Option<Value>, _>(e) }),
        },
        (Output::Entries { .. }, None) => Some(Value::List(Vec::new())),
        (Output::Entries { key }, Some(Value::Object(map))) => Some(Value::List(
            map.iter()
                .map(|(k, v)| {
                    let mut entry = async_graphql::indexmap::IndexMap::new();
                    entry.insert(Name::new("key"), key_value(*key, k));
                    entry.insert(Name::new("value"), v.clone());
                    Value::Object(entry)
                })
                .collect(),
        )),
        (Output::Entries { .. }, Some(other)) => Some(other.clone()),
        (Output::Present, value) => value.map(|_| Value::Boolean(true)),
    };
    FieldFuture::Value(value.map(FieldValue::value))
}

/// An enum value from proto3 JSON: a name the enum defines, else an error (a number means the
/// backend knows a value this schema does not).
fn checked_enum(desc: &EnumDescriptor, value: &Value) -> Result<Value, Error> {
    match value {
        Value::String(name) => match desc.get_value_by_name(name) {
            // Of aliases, the first declared name.
            Some(value) => {
                let declared = &desc.enum_descriptor_proto().value;
                let first = declared.iter().find(|v| v.number() == value.number());
                Ok(Value::Enum(Name::new(
                    first.map_or(name.as_str(), |v| v.name()),
                )))
            }
            None => Err(unknown_enum(desc, name)),
        },
        Value::List(items) => items
            .iter()
            .map(|item| checked_enum(desc, item))
            .collect::<Result<_, _>>()
            .map(Value::List),
        other => Err(unknown_enum(desc, other)),
    }
}

/// The error for an enum value the backend sent that the schema lacks.
pub(crate) fn unknown_enum(desc: &EnumDescriptor, value: impl std::fmt::Display) -> Error {
    Error::new(format!(
        "the backend sent {value} for {}, a value this schema does not define",
        desc.full_name()
    ))
}

fn key_value(kind: KeyKind, key: &Name) -> Value {
    match kind {
        KeyKind::Text => Value::String(key.to_string()),
        KeyKind::Number => key
            .parse::<i64>()
            .map(|n| Value::Number(n.into()))
            .unwrap_or_else(|_| Value::String(key.to_string())),
        KeyKind::Bool => Value::Boolean(key.as_str() == "true"),
    }
}

/// The zero value of a scalar field, as proto3 JSON writes it.
fn zero_value(field: &FieldDescriptor) -> Value {
    match field.kind() {
        Kind::Double | Kind::Float => {
            Value::Number(serde_json::Number::from_f64(0.0).expect("finite"))
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            Value::String("0".into())
        }
        Kind::Bool => Value::Boolean(false),
        Kind::String | Kind::Bytes => Value::String(String::new()),
        _ => Value::Number(0.into()),
    }
}

/// Whether a string or number is within `min..=max` as an integer.
fn integer(value: &Value, min: i128, max: i128) -> bool {
    let n = match value {
        Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        Value::String(s) => s.parse::<i128>().ok(),
        _ => None,
    };
    n.is_some_and(|n| (min..=max).contains(&n))
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A method name as a root field: `GetUser` -> `getUser`, `HTTPStatus` -> `httpStatus`.
pub(crate) fn lower_camel_method(name: &str) -> String {
    let upper = name.chars().take_while(char::is_ascii_uppercase).count();
    // Of a run of capitals before a lowercase letter, the last one starts the next word.
    let lower = match upper {
        n if n == name.len() => n,
        0 | 1 => upper,
        n => n - 1,
    };
    let (head, tail) = name.split_at(lower);
    format!("{}{tail}", head.to_ascii_lowercase())
}

fn pascal(name: &str) -> String {
    let camel = lower_camel(name);
    let mut chars = camel.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(field_name("createdAt"), "createdAt");
        assert_eq!(field_name("$value"), "_value");
        assert_eq!(field_name("@id"), "_id");
        assert_eq!(field_name("1st"), "f1st");
        assert_eq!(lower_camel("chat_handle"), "chatHandle");
        assert_eq!(pascal("contact_kind"), "ContactKind");
        assert_eq!(lower_camel_method("GetUser"), "getUser");
        assert_eq!(lower_camel_method("HTTPStatus"), "httpStatus");
        assert_eq!(lower_camel_method("getCustomer"), "getCustomer");
        assert_eq!(lower_camel_method("CRUD"), "crud");
        assert!(is_decimal("-12.50") && is_decimal(".5") && !is_decimal("1e5") && !is_decimal("."));
        assert!(integer(
            &Value::String("9007199254740993".into()),
            i64::MIN as i128,
            i64::MAX as i128
        ));
        assert!(!integer(&Value::String("-1".into()), 0, u64::MAX as i128));
    }
}
