//! Wire bytes -> proto3 JSON.

use base64::Engine;
use prost_reflect::{DynamicMessage, SerializeOptions};
use serde_json::ser::{CompactFormatter, Formatter};
use smallvec::SmallVec;
use std::cell::Cell;
use std::io::Write as _;

use super::{FieldKind, FieldPlan, MessagePlan, Plan};
use crate::wire::{raw, varint, Malformed, Raw};

/// The fast path cannot write this message; the caller decodes it into a `DynamicMessage`
/// instead (which also reports malformed input properly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback;

/// Appends the JSON of the root message of `plan`, encoded as `wire`, to `out`.
pub fn wire_to_json(plan: &Plan, wire: &[u8], out: &mut Vec<u8>) -> Result<(), Fallback> {
    let start = out.len();
    let ctx = Ctx {
        plan,
        depth: Cell::new(0),
    };
    let result = write_message(&ctx, 0, wire, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Messages nested deeper than this go to the fallback, which refuses them (prost's limit).
const MAX_DEPTH: usize = 100;

/// The plan, and how deep the writer is in nested messages.
struct Ctx<'p> {
    plan: &'p Plan,
    depth: Cell<usize>,
}

impl std::ops::Deref for Ctx<'_> {
    type Target = Plan;
    fn deref(&self) -> &Plan {
        self.plan
    }
}

impl From<Malformed> for Fallback {
    fn from(_: Malformed) -> Self {
        Fallback
    }
}

fn write_message(plan: &Ctx, index: usize, wire: &[u8], out: &mut Vec<u8>) -> Result<(), Fallback> {
    let depth = plan.depth.get();
    if depth >= MAX_DEPTH {
        return Err(Fallback);
    }
    plan.depth.set(depth + 1);
    let result = write_message_fields(plan, index, wire, out);
    plan.depth.set(depth);
    result
}

fn write_message_fields(
    plan: &Ctx,
    index: usize,
    wire: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    let message = &plan.messages[index];
    if message.special {
        return write_special(plan, message, wire, out);
    }
    if message.nillable {
        return write_nillable(plan, message, wire, out);
    }
    // Every known field, in wire order, then grouped by field (a stable sort keeps the order
    // of repeated values and lets the last value of a singular field win).
    let mut fields: SmallVec<[(u16, Raw); 16]> = SmallVec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let tag = varint(wire, &mut pos)?;
        let value = raw(wire, &mut pos, tag & 7)?;
        if let Some(i) = message.field_by_number((tag >> 3) as u32) {
            fields.push((i as u16, value));
        }
    }
    if !fields.is_sorted_by_key(|f| f.0) {
        fields.sort_by_key(|f| f.0);
    }
    out.push(b'{');
    let mut first = true;
    let mut oneofs_seen = 0u64;
    let mut rest = fields.as_slice();
    for (i, field) in message.fields.iter().enumerate() {
        let n = rest.iter().take_while(|f| f.0 as usize == i).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        if group.is_empty() {
            if plan.options.emit_defaults && !field.presence {
                key(field, &mut first, out);
                write_default(plan, field, out);
            }
            continue;
        }
        if let Some(oneof) = field.oneof {
            let bit = 1u64 << (oneof % 64);
            if oneof >= 64 || oneofs_seen & bit != 0 {
                return Err(Fallback);
            }
            oneofs_seen |= bit;
        }
        write_field(plan, field, group, &mut first, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn key(field: &FieldPlan, first: &mut bool, out: &mut Vec<u8>) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.extend_from_slice(&field.key);
}

fn write_field(
    plan: &Ctx,
    field: &FieldPlan,
    group: &[(u16, Raw)],
    first: &mut bool,
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    if let Some((key_kind, value_kind)) = &field.map {
        key(field, first, out);
        out.push(b'{');
        for (i, (_, entry)) in group.iter().enumerate() {
            let Raw::Bytes(entry) = entry else {
                return Err(Fallback);
            };
            let (mut k, mut v) = (None, None);
            let mut pos = 0;
            while pos < entry.len() {
                let tag = varint(entry, &mut pos)?;
                let value = raw(entry, &mut pos, tag & 7)?;
                match tag >> 3 {
                    1 => k = Some(value),
                    2 => v = Some(value),
                    _ => {}
                }
            }
            if i > 0 {
                out.push(b',');
            }
            write_map_key(key_kind, k.unwrap_or_else(|| zero(key_kind)), out)?;
            out.push(b':');
            match v {
                Some(v) => write_value(plan, value_kind, v, out)?,
                None => write_zero(plan, value_kind, out)?,
            }
        }
        out.push(b'}');
        return Ok(());
    }
    if field.list {
        key(field, first, out);
        out.push(b'[');
        let mut first_value = true;
        for (_, value) in group {
            match (field.packable, value) {
                (true, Raw::Bytes(packed)) => {
                    let mut pos = 0;
                    while pos < packed.len() {
                        let item = raw(packed, &mut pos, packed_wire_type(&field.kind))?;
                        comma(&mut first_value, out);
                        write_value(plan, &field.kind, item, out)?;
                    }
                }
                _ => {
                    comma(&mut first_value, out);
                    write_value(plan, &field.kind, *value, out)?;
                }
            }
        }
        out.push(b']');
        return Ok(());
    }
    let (_, value) = group[group.len() - 1];
    if matches!(field.kind, FieldKind::Message(_)) && group.len() > 1 {
        // Repeated occurrences of a singular message merge; leave that to DynamicMessage.
        return Err(Fallback);
    }
    if !field.presence && !plan.options.emit_defaults && is_zero(&field.kind, value) {
        return Ok(());
    }
    key(field, first, out);
    write_value(plan, &field.kind, value, out)
}

fn comma(first: &mut bool, out: &mut Vec<u8>) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

fn packed_wire_type(kind: &FieldKind) -> u64 {
    match kind {
        FieldKind::Double | FieldKind::Fixed64 | FieldKind::Sfixed64 => 1,
        FieldKind::Float | FieldKind::Fixed32 | FieldKind::Sfixed32 => 5,
        _ => 0,
    }
}

fn zero(kind: &FieldKind) -> Raw<'static> {
    match packed_wire_type(kind) {
        _ if matches!(
            kind,
            FieldKind::String | FieldKind::Bytes | FieldKind::Message(_)
        ) =>
        {
            Raw::Bytes(&[])
        }
        1 => Raw::Fixed64(0),
        5 => Raw::Fixed32(0),
        _ => Raw::Varint(0),
    }
}

fn is_zero(kind: &FieldKind, value: Raw) -> bool {
    match (kind, value) {
        (FieldKind::Double, Raw::Fixed64(bits)) => f64::from_bits(bits) == 0.0,
        (FieldKind::Float, Raw::Fixed32(bits)) => f32::from_bits(bits) == 0.0,
        (FieldKind::Message(_), _) => false,
        (_, Raw::Varint(v) | Raw::Fixed64(v)) => v == 0,
        (_, Raw::Fixed32(v)) => v == 0,
        (_, Raw::Bytes(b)) => b.is_empty(),
    }
}

fn write_default(plan: &Ctx, field: &FieldPlan, out: &mut Vec<u8>) {
    if field.map.is_some() {
        out.extend_from_slice(b"{}");
    } else if field.list {
        out.extend_from_slice(b"[]");
    } else if write_zero(plan, &field.kind, out).is_err() {
        out.extend_from_slice(b"null");
    }
}

fn write_zero(plan: &Ctx, kind: &FieldKind, out: &mut Vec<u8>) -> Result<(), Fallback> {
    write_value(plan, kind, zero(kind), out)
}

fn write_map_key(kind: &FieldKind, value: Raw, out: &mut Vec<u8>) -> Result<(), Fallback> {
    match kind {
        FieldKind::String => write_value_str(value, out),
        FieldKind::Bool => {
            let Raw::Varint(v) = value else {
                return Err(Fallback);
            };
            out.extend_from_slice(if v != 0 { b"\"true\"" } else { b"\"false\"" });
            Ok(())
        }
        _ => {
            // Integer keys are quoted; 64-bit values already are.
            let start = out.len();
            write_scalar(kind, value, out)?;
            if out[start] != b'"' {
                out.insert(start, b'"');
                out.push(b'"');
            }
            Ok(())
        }
    }
}

fn write_value(
    plan: &Ctx,
    kind: &FieldKind,
    value: Raw,
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    match kind {
        FieldKind::Message(index) => {
            let Raw::Bytes(bytes) = value else {
                return Err(Fallback);
            };
            write_message(plan, *index, bytes, out)
        }
        FieldKind::Enum(e) => {
            let Raw::Varint(v) = value else {
                return Err(Fallback);
            };
            let number = v as i32;
            match e.name_of(number).filter(|_| !plan.options.enums_as_numbers) {
                Some(name) => out.extend_from_slice(name),
                None => out.extend_from_slice(itoa::Buffer::new().format(number).as_bytes()),
            }
            Ok(())
        }
        _ => write_scalar(kind, value, out),
    }
}

fn write_value_str(value: Raw, out: &mut Vec<u8>) -> Result<(), Fallback> {
    let Raw::Bytes(bytes) = value else {
        return Err(Fallback);
    };
    let text = std::str::from_utf8(bytes).map_err(|_| Fallback)?;
    write_escaped(text.as_bytes(), out);
    Ok(())
}

fn quoted(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

fn write_scalar(kind: &FieldKind, value: Raw, out: &mut Vec<u8>) -> Result<(), Fallback> {
    let mut ints = itoa::Buffer::new();
    match (kind, value) {
        (FieldKind::Double, Raw::Fixed64(bits)) => write_f64(f64::from_bits(bits), out),
        (FieldKind::Float, Raw::Fixed32(bits)) => write_f32(f32::from_bits(bits), out),
        (FieldKind::Int32, Raw::Varint(v)) => {
            out.extend_from_slice(ints.format(v as i32).as_bytes())
        }
        (FieldKind::Int64, Raw::Varint(v)) => quoted(ints.format(v as i64), out),
        (FieldKind::Uint32, Raw::Varint(v)) => {
            out.extend_from_slice(ints.format(v as u32).as_bytes())
        }
        (FieldKind::Uint64, Raw::Varint(v)) => quoted(ints.format(v), out),
        (FieldKind::Sint32, Raw::Varint(v)) => {
            let v = v as u32;
            out.extend_from_slice(
                ints.format(((v >> 1) as i32) ^ -((v & 1) as i32))
                    .as_bytes(),
            )
        }
        (FieldKind::Sint64, Raw::Varint(v)) => {
            quoted(ints.format(((v >> 1) as i64) ^ -((v & 1) as i64)), out)
        }
        (FieldKind::Fixed32, Raw::Fixed32(v)) => out.extend_from_slice(ints.format(v).as_bytes()),
        (FieldKind::Fixed64, Raw::Fixed64(v)) => quoted(ints.format(v), out),
        (FieldKind::Sfixed32, Raw::Fixed32(v)) => {
            out.extend_from_slice(ints.format(v as i32).as_bytes())
        }
        (FieldKind::Sfixed64, Raw::Fixed64(v)) => quoted(ints.format(v as i64), out),
        (FieldKind::Bool, Raw::Varint(v)) => {
            out.extend_from_slice(if v != 0 { b"true" } else { b"false" })
        }
        (FieldKind::String, value) => write_value_str(value, out)?,
        (FieldKind::Bytes, Raw::Bytes(bytes)) => {
            out.push(b'"');
            let start = out.len();
            let len = base64::encoded_len(bytes.len(), true).ok_or(Fallback)?;
            out.resize(start + len, 0);
            base64::engine::general_purpose::STANDARD
                .encode_slice(bytes, &mut out[start..])
                .map_err(|_| Fallback)?;
            out.push(b'"');
        }
        _ => return Err(Fallback),
    }
    Ok(())
}

fn write_f64(v: f64, out: &mut Vec<u8>) {
    if v.is_finite() {
        let _ = CompactFormatter.write_f64(out, v);
    } else {
        write_non_finite(v.is_nan(), v > 0.0, out);
    }
}

fn write_f32(v: f32, out: &mut Vec<u8>) {
    if v.is_finite() {
        let _ = CompactFormatter.write_f32(out, v);
    } else {
        write_non_finite(v.is_nan(), v > 0.0, out);
    }
}

fn write_non_finite(nan: bool, positive: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(match (nan, positive) {
        (true, _) => b"\"NaN\"".as_slice(),
        (false, true) => b"\"Infinity\"",
        (false, false) => b"\"-Infinity\"",
    });
}

/// For each byte: 0 when it needs no escape, else the letter after the backslash (`u` for
/// `\u00XX`).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Whether any of the 8 bytes in `chunk` needs escaping (a control character, `"` or `\`),
/// tested all at once (the classic "has zero byte" bit trick).
fn needs_escape(chunk: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = chunk.wrapping_sub(ONES * 0x20) & !chunk & HIGHS;
    (below_space | has_zero(chunk ^ (ONES * b'"' as u64)) | has_zero(chunk ^ (ONES * b'\\' as u64)))
        != 0
}

fn write_escaped(text: &[u8], out: &mut Vec<u8>) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    // Skip the clean prefix eight bytes at a time; most strings need no escape at all.
    let mut clean = 0;
    while let Some(chunk) = text.get(clean..clean + 8) {
        if needs_escape(u64::from_le_bytes(chunk.try_into().expect("8 bytes"))) {
            break;
        }
        clean += 8;
    }
    let mut start = 0;
    for (i, &b) in text.iter().enumerate().skip(clean) {
        let escape = ESCAPE[b as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&text[start..i]);
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
    out.push(b'"');
}

/// Well-known types have JSON forms of their own. The common ones are written here, in the same
/// form as prost-reflect (which formats Timestamp and Duration with prost-types, as here);
/// the others go through prost-reflect.
fn write_special(
    plan: &Ctx,
    message: &MessagePlan,
    wire: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    match message.desc.full_name() {
        "google.protobuf.Timestamp" => {
            let (seconds, nanos) = seconds_and_nanos(wire)?;
            let valid = (-62_135_596_800..=253_402_300_799).contains(&seconds)
                && (0..=999_999_999).contains(&nanos);
            if !valid {
                return Err(Fallback);
            }
            write_timestamp(seconds, nanos, out);
            Ok(())
        }
        "google.protobuf.Duration" => {
            let (seconds, nanos) = seconds_and_nanos(wire)?;
            let valid = seconds.unsigned_abs() <= 315_576_000_000
                && nanos.unsigned_abs() <= 999_999_999
                && (seconds == 0 || nanos == 0 || (seconds < 0) == (nanos < 0));
            if !valid {
                return Err(Fallback);
            }
            let _ = write!(out, "\"{}\"", prost_types::Duration { seconds, nanos });
            Ok(())
        }
        _ => match &message.wrapped {
            // A wrapper is written as its value.
            Some(kind) => {
                let value = value_field(wire)?.unwrap_or_else(|| zero(kind));
                write_scalar(kind, value, out)
            }
            None => write_through_dynamic(plan, message, wire, out),
        },
    }
}

/// A nillable element's stand-in: its value, or `null` when it has none.
fn write_nillable(
    plan: &Ctx,
    message: &MessagePlan,
    wire: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    match (value_field(wire)?, message.fields.first()) {
        (Some(value), Some(field)) => write_value(plan, &field.kind, value, out),
        _ => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// Field 1 (`value`) of a wrapper or stand-in, the last one on the wire.
fn value_field(wire: &[u8]) -> Result<Option<Raw<'_>>, Fallback> {
    let mut value = None;
    let mut pos = 0;
    while pos < wire.len() {
        let tag = varint(wire, &mut pos)?;
        let field = raw(wire, &mut pos, tag & 7)?;
        if tag >> 3 == 1 {
            value = Some(field);
        }
    }
    Ok(value)
}

/// RFC 3339 in UTC, with 0, 3, 6 or 9 fraction digits: the form prost-types writes (and so
/// prost-reflect), without going through `fmt` (which costs more than the rest of a message).
/// `seconds` is within years 1 to 9999.
fn write_timestamp(seconds: i64, nanos: i32, out: &mut Vec<u8>) {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    out.push(b'"');
    digits(year as u32, 4, out);
    out.push(b'-');
    digits(month as u32, 2, out);
    out.push(b'-');
    digits(day as u32, 2, out);
    out.push(b'T');
    digits((secs / 3600) as u32, 2, out);
    out.push(b':');
    digits((secs / 60 % 60) as u32, 2, out);
    out.push(b':');
    digits((secs % 60) as u32, 2, out);
    let nanos = nanos as u32;
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            digits(nanos / 1_000_000, 3, out);
        } else if nanos.is_multiple_of(1_000) {
            digits(nanos / 1_000, 6, out);
        } else {
            digits(nanos, 9, out);
        }
    }
    out.extend_from_slice(b"Z\"");
}

/// `value` in decimal, zero-padded to `width` digits.
fn digits(value: u32, width: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + width, b'0');
    let mut v = value;
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Fields 1 and 2 of a Timestamp or Duration.
fn seconds_and_nanos(wire: &[u8]) -> Result<(i64, i32), Fallback> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut pos = 0;
    while pos < wire.len() {
        let tag = varint(wire, &mut pos)?;
        match (tag >> 3, raw(wire, &mut pos, tag & 7)?) {
            (1, Raw::Varint(v)) => seconds = v as i64,
            (2, Raw::Varint(v)) => nanos = v as i32,
            (1 | 2, _) => return Err(Fallback),
            _ => {}
        }
    }
    Ok((seconds, nanos))
}

/// Through prost-reflect.
fn write_through_dynamic(
    plan: &Ctx,
    message: &MessagePlan,
    wire: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    let decoded = DynamicMessage::decode(message.desc.clone(), wire).map_err(|_| Fallback)?;
    let options = SerializeOptions::new()
        .use_proto_field_name(plan.options.proto_field_names)
        .skip_default_fields(!plan.options.emit_defaults)
        .use_enum_numbers(plan.options.enums_as_numbers)
        .stringify_64_bit_integers(true);
    let mut serializer = serde_json::Serializer::new(&mut *out);
    decoded
        .serialize_with_options(&mut serializer, &options)
        .map_err(|_| Fallback)
}
