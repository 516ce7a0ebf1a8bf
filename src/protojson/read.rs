//! proto3 JSON -> wire bytes, driven by serde_json's tokenizer.

use std::fmt;

use base64::Engine;
use prost::encoding::encode_varint;
use prost_reflect::{DeserializeOptions, DynamicMessage};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{FieldKind, FieldPlan, Plan};

/// A JSON error's text without serde_json's ` at line L column C` (the caller places it, or
/// the place means nothing to its client).
pub fn error_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Encodes the JSON `json` as a message of the plan's root type.
pub fn json_to_wire(plan: &Plan, json: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(json.len() / 2 + 16);
    if json.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    MessageSeed {
        plan,
        index: 0,
        out: &mut out,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

use crate::wire::{begin_len, end_len, tag, LEN};

struct MessageSeed<'p, 'o> {
    plan: &'p Plan,
    index: usize,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let message = &self.plan.messages[self.index];
        if message.special {
            // Well-known types have JSON forms of their own; prost-reflect reads them.
            let options = DeserializeOptions::new()
                .deny_unknown_fields(self.plan.options.deny_unknown_fields);
            let decoded = DynamicMessage::deserialize_with_options(
                message.desc.clone(),
                deserializer,
                &options,
            )?;
            return prost::Message::encode(&decoded, self.out).map_err(de::Error::custom);
        }
        if message.nillable {
            // A nillable element's stand-in: `null` leaves it empty (nil), a value goes in
            // field 1 (`visit_none` / `visit_some` below).
            return deserializer.deserialize_option(self);
        }
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_, '_> {
    type Value = ();

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let Some(field) = self.plan.messages[self.index].fields.first() else {
            return Err(de::Error::custom("a nillable stand-in has no value field"));
        };
        ValueSeed::of(self.plan, field, self.out).deserialize(deserializer)
    }

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "an object for {}",
            self.plan.messages[self.index].desc.full_name()
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let message = &self.plan.messages[self.index];
        let mut seen = vec![false; message.fields.len()];
        let mut oneofs: Vec<u16> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed(message))? {
            let index = match key {
                Key::Field(i) => i,
                Key::Unknown(name) if self.plan.options.deny_unknown_fields => {
                    return Err(de::Error::custom(format!(
                        "unrecognized field name '{name}'"
                    )));
                }
                Key::Unknown(_) => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let field = &message.fields[index];
            if std::mem::replace(&mut seen[index], true) {
                return Err(de::Error::custom(format!(
                    "duplicate field '{}'",
                    field_name(field)
                )));
            }
            let before = self.out.len();
            map.next_value_seed(FieldSeed {
                plan: self.plan,
                field,
                out: self.out,
            })?;
            if let Some(oneof) = field.oneof.filter(|_| self.out.len() > before) {
                if oneofs.contains(&oneof) {
                    return Err(de::Error::custom(format!(
                        "multiple fields of one oneof are set (at '{}')",
                        field_name(field)
                    )));
                }
                oneofs.push(oneof);
            }
        }
        Ok(())
    }
}

fn field_name(field: &FieldPlan) -> &str {
    std::str::from_utf8(&field.key[1..field.key.len() - 2]).unwrap_or("?")
}

enum Key {
    Field(usize),
    Unknown(String),
}

struct KeySeed<'p>(&'p super::MessagePlan);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(match self.0.by_name.get(name) {
            Some(i) => Key::Field(*i as usize),
            None => Key::Unknown(name.to_owned()),
        })
    }
}

/// One field's JSON value: a scalar, a message, a list or a map. `null` leaves it unset.
struct FieldSeed<'p, 'o> {
    plan: &'p Plan,
    field: &'p FieldPlan,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // `google.protobuf.Value` and nillable elements take `null` as a value of their own.
        if let FieldKind::Message(i) = self.field.kind {
            let message = &self.plan.messages[i];
            if !self.field.list
                && (message.nillable || message.desc.full_name() == "google.protobuf.Value")
            {
                return ValueSeed::of(self.plan, self.field, self.out).deserialize(deserializer);
            }
        }
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value for field '{}'", field_name(self.field))
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let field = self.field;
        if let Some((key_kind, value_kind)) = &field.map {
            return deserializer.deserialize_map(MapSeed {
                plan: self.plan,
                field,
                key_kind,
                value_kind,
                out: self.out,
            });
        }
        if field.list {
            return deserializer.deserialize_seq(ListSeed {
                plan: self.plan,
                field,
                out: self.out,
            });
        }
        ValueSeed::of(self.plan, field, self.out).deserialize(deserializer)
    }
}

struct ListSeed<'p, 'o> {
    plan: &'p Plan,
    field: &'p FieldPlan,
    out: &'o mut Vec<u8>,
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list for field '{}'", field_name(self.field))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let field = self.field;
        if field.packable {
            tag(field.number, LEN, self.out);
            let start = begin_len(self.out);
            while seq
                .next_element_seed(ValueSeed {
                    plan: self.plan,
                    kind: &field.kind,
                    number: 0,
                    out: self.out,
                })?
                .is_some()
            {}
            end_len(self.out, start);
            return Ok(());
        }
        while seq
            .next_element_seed(ValueSeed::of(self.plan, field, self.out))?
            .is_some()
        {}
        Ok(())
    }
}

struct MapSeed<'p, 'o> {
    plan: &'p Plan,
    field: &'p FieldPlan,
    key_kind: &'p FieldKind,
    value_kind: &'p FieldKind,
    out: &'o mut Vec<u8>,
}

impl<'de> Visitor<'de> for MapSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object for map field '{}'", field_name(self.field))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            tag(self.field.number, LEN, self.out);
            let start = begin_len(self.out);
            write_map_key(self.key_kind, &key, self.out).map_err(de::Error::custom)?;
            map.next_value_seed(ValueSeed {
                plan: self.plan,
                kind: self.value_kind,
                number: 2,
                out: self.out,
            })?;
            end_len(self.out, start);
        }
        Ok(())
    }
}

fn write_map_key(kind: &FieldKind, key: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("invalid map key '{key}'");
    match kind {
        FieldKind::String => {
            tag(1, LEN, out);
            encode_varint(key.len() as u64, out);
            out.extend_from_slice(key.as_bytes());
        }
        FieldKind::Bool => {
            let value = match key {
                "true" => 1,
                "false" => 0,
                _ => return Err(bad()),
            };
            tag(1, 0, out);
            out.push(value);
        }
        kind => {
            let number = Number::Str(key);
            write_number(kind, 1, number, out).map_err(|_| bad())?;
        }
    }
    Ok(())
}

impl<'p, 'o> ValueSeed<'p, 'o> {
    /// The value of `field`, with its tag.
    fn of(plan: &'p Plan, field: &'p FieldPlan, out: &'o mut Vec<u8>) -> Self {
        ValueSeed {
            plan,
            kind: &field.kind,
            number: field.number,
            out,
        }
    }
}

/// One value of a known kind, with its tag (`number` 0: packed, no tag).
struct ValueSeed<'p, 'o> {
    plan: &'p Plan,
    kind: &'p FieldKind,
    number: u32,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if let FieldKind::Message(index) = *self.kind {
            tag(self.number, LEN, self.out);
            let start = begin_len(self.out);
            MessageSeed {
                plan: self.plan,
                index,
                out: self.out,
            }
            .deserialize(deserializer)?;
            end_len(self.out, start);
            return Ok(());
        }
        deserializer.deserialize_any(self)
    }
}

#[derive(Clone, Copy)]
enum Number<'a> {
    I(i64),
    U(u64),
    F(f64),
    Str(&'a str),
}

fn out_of_range() -> String {
    "number out of range for the field".to_owned()
}

impl Number<'_> {
    fn as_i64(self) -> Result<i64, String> {
        match self {
            Number::I(v) => Ok(v),
            Number::U(v) => i64::try_from(v).map_err(|_| out_of_range()),
            Number::F(v)
                if v.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) =>
            {
                Ok(v as i64)
            }
            Number::F(_) => Err("expected an integer".into()),
            Number::Str(s) => s.parse().map_err(|_| format!("invalid integer '{s}'")),
        }
    }

    fn as_u64(self) -> Result<u64, String> {
        match self {
            Number::I(v) => u64::try_from(v).map_err(|_| out_of_range()),
            Number::U(v) => Ok(v),
            Number::F(v) if v.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&v) => {
                Ok(v as u64)
            }
            Number::F(_) => Err("expected an unsigned integer".into()),
            Number::Str(s) => s
                .parse()
                .map_err(|_| format!("invalid unsigned integer '{s}'")),
        }
    }

    fn as_f64(self) -> Result<f64, String> {
        match self {
            Number::I(v) => Ok(v as f64),
            Number::U(v) => Ok(v as f64),
            Number::F(v) => Ok(v),
            Number::Str("NaN") => Ok(f64::NAN),
            Number::Str("Infinity") => Ok(f64::INFINITY),
            Number::Str("-Infinity") => Ok(f64::NEG_INFINITY),
            Number::Str(s) => s.parse().map_err(|_| format!("invalid number '{s}'")),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self.kind {
            FieldKind::Bool => "a boolean",
            FieldKind::String => "a string",
            FieldKind::Bytes => "a base64 string",
            FieldKind::Enum(_) => "an enum name or number",
            _ => "a number",
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        match self.kind {
            FieldKind::Bool => {
                if self.number != 0 {
                    tag(self.number, 0, self.out);
                }
                self.out.push(u8::from(v));
                Ok(())
            }
            _ => Err(de::Error::invalid_type(de::Unexpected::Bool(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.number_value(Number::I(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.number_value(Number::U(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.number_value(Number::F(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match self.kind {
            FieldKind::String => {
                if self.number != 0 {
                    tag(self.number, LEN, self.out);
                }
                encode_varint(v.len() as u64, self.out);
                self.out.extend_from_slice(v.as_bytes());
                Ok(())
            }
            FieldKind::Bytes => {
                let engines = [
                    &base64::engine::general_purpose::STANDARD,
                    &base64::engine::general_purpose::URL_SAFE,
                    &base64::engine::general_purpose::STANDARD_NO_PAD,
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ];
                let bytes = engines
                    .iter()
                    .find_map(|e| e.decode(v).ok())
                    .ok_or_else(|| de::Error::invalid_value(de::Unexpected::Str(v), &self))?;
                if self.number != 0 {
                    tag(self.number, LEN, self.out);
                }
                encode_varint(bytes.len() as u64, self.out);
                self.out.extend_from_slice(&bytes);
                Ok(())
            }
            FieldKind::Enum(e) => {
                let number = e
                    .desc
                    .get_value_by_name(v)
                    .map(|value| value.number())
                    .ok_or_else(|| {
                        de::Error::custom(format!(
                            "unrecognized enum value '{v}' for {}",
                            e.desc.full_name()
                        ))
                    })?;
                if self.number != 0 {
                    tag(self.number, 0, self.out);
                }
                encode_varint(number as i64 as u64, self.out);
                Ok(())
            }
            FieldKind::Bool => Err(de::Error::invalid_type(de::Unexpected::Str(v), &self)),
            _ => self.number_value(Number::Str(v)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        // `null` in a list (a singular `null` never gets here).
        Err(de::Error::invalid_type(de::Unexpected::Unit, &self))
    }
}

impl ValueSeed<'_, '_> {
    fn number_value<E: de::Error>(self, number: Number) -> Result<(), E> {
        if let FieldKind::Enum(_) = self.kind {
            let value = match number {
                Number::I(v) => i32::try_from(v).ok(),
                Number::U(v) => i32::try_from(v).ok(),
                _ => None,
            }
            .ok_or_else(|| de::Error::custom("an enum number must be a 32-bit integer"))?;
            if self.number != 0 {
                tag(self.number, 0, self.out);
            }
            encode_varint(value as i64 as u64, self.out);
            return Ok(());
        }
        write_number(self.kind, self.number, number, self.out).map_err(de::Error::custom)
    }
}

fn write_number(
    kind: &FieldKind,
    number: u32,
    value: Number,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let i32_of = |v: i64| i32::try_from(v).map_err(|_| out_of_range());
    let u32_of = |v: u64| u32::try_from(v).map_err(|_| out_of_range());
    let wire_type = match kind {
        FieldKind::Double | FieldKind::Fixed64 | FieldKind::Sfixed64 => 1,
        FieldKind::Float | FieldKind::Fixed32 | FieldKind::Sfixed32 => 5,
        _ => 0,
    };
    // Compute the value before writing the tag, so that an error leaves nothing behind.
    let mut bytes = [0u8; 10];
    let mut scratch = Vec::new();
    let encoded: &[u8] = match kind {
        FieldKind::Double => {
            bytes[..8].copy_from_slice(&value.as_f64()?.to_le_bytes());
            &bytes[..8]
        }
        FieldKind::Float => {
            let v = value.as_f64()?;
            if v.is_finite() && v.abs() > f64::from(f32::MAX) {
                return Err(out_of_range());
            }
            bytes[..4].copy_from_slice(&(v as f32).to_le_bytes());
            &bytes[..4]
        }
        FieldKind::Fixed64 => {
            bytes[..8].copy_from_slice(&value.as_u64()?.to_le_bytes());
            &bytes[..8]
        }
        FieldKind::Sfixed64 => {
            bytes[..8].copy_from_slice(&value.as_i64()?.to_le_bytes());
            &bytes[..8]
        }
        FieldKind::Fixed32 => {
            bytes[..4].copy_from_slice(&u32_of(value.as_u64()?)?.to_le_bytes());
            &bytes[..4]
        }
        FieldKind::Sfixed32 => {
            bytes[..4].copy_from_slice(&i32_of(value.as_i64()?)?.to_le_bytes());
            &bytes[..4]
        }
        FieldKind::Int32 => {
            encode_varint(i32_of(value.as_i64()?)? as i64 as u64, &mut scratch);
            &scratch
        }
        FieldKind::Int64 => {
            encode_varint(value.as_i64()? as u64, &mut scratch);
            &scratch
        }
        FieldKind::Uint32 => {
            encode_varint(u64::from(u32_of(value.as_u64()?)?), &mut scratch);
            &scratch
        }
        FieldKind::Uint64 => {
            encode_varint(value.as_u64()?, &mut scratch);
            &scratch
        }
        FieldKind::Sint32 => {
            let v = i32_of(value.as_i64()?)?;
            encode_varint(u64::from(((v << 1) ^ (v >> 31)) as u32), &mut scratch);
            &scratch
        }
        FieldKind::Sint64 => {
            let v = value.as_i64()?;
            encode_varint(((v << 1) ^ (v >> 63)) as u64, &mut scratch);
            &scratch
        }
        _ => return Err("expected a number".into()),
    };
    if number != 0 {
        tag(number, wire_type, out);
    }
    out.extend_from_slice(encoded);
    Ok(())
}
