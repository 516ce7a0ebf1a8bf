//! proto3 JSON straight to and from the protobuf wire format, without building a
//! `DynamicMessage` in between: the hot path of every REST request and response.
//!
//! Hand-written because no crate does it: prost-reflect's serde support goes through
//! `DynamicMessage`, which allocates a value per field and costs 5-10x more per byte (see
//! docs/benchmarks.md). The output is the same as prost-reflect's (a differential test checks
//! it); rare cases this module does not handle itself (well-known types, a singular message
//! field repeated on the wire, several members of one oneof) go through `DynamicMessage`.

mod read;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};

use crate::registry::wkt;

pub use read::{error_text, json_to_wire};
pub use write::wire_to_json;

/// How JSON is written (reading accepts every form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct JsonOptions {
    pub proto_field_names: bool,
    pub emit_defaults: bool,
    pub enums_as_numbers: bool,
    /// Reading: refuse unknown fields.
    pub deny_unknown_fields: bool,
}

impl JsonOptions {
    /// Every field written, zero values too: replies read as values by field (GraphQL, SOAP,
    /// compose steps), where an absent field would be null.
    pub const EVERY_FIELD: JsonOptions = JsonOptions {
        proto_field_names: false,
        emit_defaults: true,
        enums_as_numbers: false,
        deny_unknown_fields: false,
    };
}

/// Precomputed facts about every message reachable from one root, for one set of options.
#[derive(Debug)]
pub struct Plan {
    messages: Vec<MessagePlan>,
    options: JsonOptions,
}

#[derive(Debug)]
struct MessagePlan {
    desc: MessageDescriptor,
    /// Fields in field-number order.
    fields: Vec<FieldPlan>,
    /// Field number -> index in `fields`, for numbers below `DENSE_LIMIT`.
    by_number: Vec<u16>,
    /// JSON and proto names -> index in `fields`.
    by_name: HashMap<Box<str>, u16>,
    /// A well-known type with a JSON form of its own (`registry::wkt`).
    special: bool,
    /// For a wrapper (`google.protobuf.Int64Value`, ...): the kind of its `value` field.
    wrapped: Option<FieldKind>,
    /// A nillable element's stand-in (`wkt::is_nillable_stand_in`): `null` or its field 1.
    nillable: bool,
}

const DENSE_LIMIT: usize = 512;
const NONE: u16 = u16::MAX;

#[derive(Debug)]
struct FieldPlan {
    number: u32,
    /// `"name":`, ready to write.
    key: Box<[u8]>,
    kind: FieldKind,
    list: bool,
    /// For maps: the entry's key and value kinds.
    map: Option<(FieldKind, FieldKind)>,
    presence: bool,
    oneof: Option<u16>,
    packable: bool,
}

#[derive(Debug, Clone)]
enum FieldKind {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    Enum(Arc<EnumPlan>),
    /// Index into `Plan::messages`.
    Message(usize),
}

#[derive(Debug)]
struct EnumPlan {
    desc: EnumDescriptor,
    /// Number -> `"NAME"` (quoted), sorted by number.
    names: Vec<(i32, Box<[u8]>)>,
}

impl EnumPlan {
    fn name_of(&self, number: i32) -> Option<&[u8]> {
        self.names
            .binary_search_by_key(&number, |(n, _)| *n)
            .ok()
            .map(|i| &*self.names[i].1)
    }
}

impl Plan {
    /// The plan for `root` and every message reachable from it.
    pub fn new(root: &MessageDescriptor, options: JsonOptions) -> Arc<Plan> {
        let mut builder = Builder {
            messages: Vec::new(),
            index: HashMap::new(),
            enums: HashMap::new(),
            options,
        };
        builder.message(root);
        Arc::new(Plan {
            messages: builder.messages,
            options,
        })
    }
}

struct Builder {
    messages: Vec<MessagePlan>,
    index: HashMap<String, usize>,
    enums: HashMap<String, Arc<EnumPlan>>,
    options: JsonOptions,
}

impl Builder {
    fn message(&mut self, desc: &MessageDescriptor) -> usize {
        if let Some(i) = self.index.get(desc.full_name()) {
            return *i;
        }
        let i = self.messages.len();
        self.index.insert(desc.full_name().to_owned(), i);
        self.messages.push(MessagePlan {
            desc: desc.clone(),
            fields: Vec::new(),
            by_number: Vec::new(),
            by_name: HashMap::new(),
            special: wkt::has_own_json_form(desc.full_name()),
            wrapped: None,
            nillable: wkt::is_nillable_stand_in(desc),
        });
        if self.messages[i].special {
            if wkt::WRAPPERS.contains(&desc.full_name()) {
                let wrapped = desc
                    .get_field_by_name("value")
                    .map(|f| self.kind(&f.kind()));
                self.messages[i].wrapped = wrapped;
            }
            return i;
        }
        let mut fields: Vec<FieldDescriptor> = desc.fields().collect();
        fields.sort_by_key(|f| f.number());
        let oneofs: Vec<String> = desc.oneofs().map(|o| o.full_name().to_owned()).collect();
        let mut plans = Vec::with_capacity(fields.len());
        for field in &fields {
            let map = if field.is_map() {
                match field.kind() {
                    Kind::Message(entry) => Some((
                        self.kind(&entry.map_entry_key_field().kind()),
                        self.kind(&entry.map_entry_value_field().kind()),
                    )),
                    _ => None,
                }
            } else {
                None
            };
            let name = if self.options.proto_field_names {
                field.name()
            } else {
                field.json_name()
            };
            plans.push(FieldPlan {
                number: field.number(),
                key: format!("{}:", serde_json::Value::String(name.to_owned()))
                    .into_bytes()
                    .into(),
                kind: if map.is_some() {
                    FieldKind::Bool
                } else {
                    self.kind(&field.kind())
                },
                list: field.is_list(),
                map,
                presence: field.supports_presence(),
                oneof: field
                    .containing_oneof()
                    .and_then(|o| oneofs.iter().position(|n| n == o.full_name()))
                    .map(|p| p as u16),
                packable: field.is_list()
                    && !matches!(field.kind(), Kind::String | Kind::Bytes | Kind::Message(_)),
            });
        }
        let max = fields
            .iter()
            .map(|f| f.number() as usize)
            .max()
            .unwrap_or(0);
        let mut by_number = vec![NONE; (max + 1).min(DENSE_LIMIT)];
        let mut by_name = HashMap::new();
        for (idx, field) in fields.iter().enumerate() {
            if (field.number() as usize) < by_number.len() {
                by_number[field.number() as usize] = idx as u16;
            }
            by_name.insert(field.name().into(), idx as u16);
            by_name.insert(field.json_name().into(), idx as u16);
        }
        let plan = &mut self.messages[i];
        plan.fields = plans;
        plan.by_number = by_number;
        plan.by_name = by_name;
        i
    }

    fn kind(&mut self, kind: &Kind) -> FieldKind {
        match kind {
            Kind::Double => FieldKind::Double,
            Kind::Float => FieldKind::Float,
            Kind::Int32 => FieldKind::Int32,
            Kind::Int64 => FieldKind::Int64,
            Kind::Uint32 => FieldKind::Uint32,
            Kind::Uint64 => FieldKind::Uint64,
            Kind::Sint32 => FieldKind::Sint32,
            Kind::Sint64 => FieldKind::Sint64,
            Kind::Fixed32 => FieldKind::Fixed32,
            Kind::Fixed64 => FieldKind::Fixed64,
            Kind::Sfixed32 => FieldKind::Sfixed32,
            Kind::Sfixed64 => FieldKind::Sfixed64,
            Kind::Bool => FieldKind::Bool,
            Kind::String => FieldKind::String,
            Kind::Bytes => FieldKind::Bytes,
            Kind::Enum(e) => FieldKind::Enum(self.enumeration(e)),
            Kind::Message(m) => FieldKind::Message(self.message(m)),
        }
    }

    fn enumeration(&mut self, desc: &EnumDescriptor) -> Arc<EnumPlan> {
        if let Some(plan) = self.enums.get(desc.full_name()) {
            return plan.clone();
        }
        let mut names: Vec<(i32, Box<[u8]>)> = Vec::new();
        for value in desc.values() {
            // With aliases, the first name of a number is the one written.
            if !names.iter().any(|(n, _)| *n == value.number()) {
                names.push((
                    value.number(),
                    format!("\"{}\"", value.name()).into_bytes().into(),
                ));
            }
        }
        names.sort_by_key(|(n, _)| *n);
        let plan = Arc::new(EnumPlan {
            desc: desc.clone(),
            names,
        });
        self.enums.insert(desc.full_name().to_owned(), plan.clone());
        plan
    }
}

impl MessagePlan {
    fn field_by_number(&self, number: u32) -> Option<usize> {
        match self.by_number.get(number as usize) {
            Some(&NONE) => None,
            Some(&i) => Some(i as usize),
            None => self.fields.iter().position(|f| f.number == number),
        }
    }
}

/// The JSON of a message with `options` (the slow path: from a decoded message).
pub fn message_json(
    message: &prost_reflect::DynamicMessage,
    options: &prost_reflect::SerializeOptions,
) -> Result<bytes::Bytes, crate::status::Status> {
    use bytes::BufMut;
    let mut out = serde_json::Serializer::new(bytes::BytesMut::with_capacity(128).writer());
    message
        .serialize_with_options(&mut out, options)
        .map_err(|e| {
            crate::status::Status::internal(format!("cannot write the response as JSON: {e}"))
        })?;
    Ok(out.into_inner().into_inner().freeze())
}
