//! Messages to XML with quick-xml's writer, driven by the schema facts: every element in its
//! schema order and own namespace, attributes and text where the schema puts them, `xsi:nil`
//! for nil, `xsi:type` for derived types. Values are checked against their XSD type and
//! facets on the way out, so a bad request is refused here (400), not by the backend.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use smallvec::SmallVec;

use super::schema::{
    Check, MessageKind, Role, SimpleInfo, XmlField, XmlMessage, XmlSchema, XmlValue,
};
use super::{Limits, XmlError, SOAP11_ENV, SOAP12_ENV, XSI};
use crate::registry::wsdl::build::SoapBody;
use crate::registry::wsdl::model::{QName, SoapVersion};
use crate::wire::{self, Malformed, Raw};

/// Writes messages of one schema, straight from their protobuf wire form (no message is
/// decoded in between); every namespace gets a prefix declared once, on the envelope.
pub struct Encoder<'s> {
    pub schema: &'s XmlSchema,
    pub prefixes: &'s HashMap<Arc<str>, String>,
}

/// Why a message was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// A value breaks the schema (its XSD type or facets, raw XML that is not balanced).
    Invalid(XmlError),
    /// The wire form is not the one a protobuf encoder writes (a singular field twice, two
    /// members of a oneof, an empty packed list) or not protobuf at all: decode the message,
    /// encode it again and write that.
    NotCanonical,
}

impl From<XmlError> for WriteError {
    fn from(e: XmlError) -> Self {
        WriteError::Invalid(e)
    }
}

impl From<Malformed> for WriteError {
    fn from(_: Malformed) -> Self {
        WriteError::NotCanonical
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Invalid(e) => e.fmt(f),
            WriteError::NotCanonical => f.write_str("the message is not in canonical wire form"),
        }
    }
}

pub(crate) type Out = Writer<Vec<u8>>;

pub(crate) fn io(e: std::io::Error) -> XmlError {
    XmlError::new(e.to_string())
}

/// One message as it is on the wire: its fields' values, sorted by field number (a stable
/// sort keeps the order of a list). Every field the WSDL builder makes tracks presence
/// (proto3 `optional`, a message, a oneof member or a list), so a field is set exactly when
/// it is on the wire.
struct OnWire<'w> {
    desc: MessageDescriptor,
    fields: SmallVec<[(u32, Raw<'w>); 16]>,
}

impl<'w> OnWire<'w> {
    fn read(desc: MessageDescriptor, wire: &'w [u8]) -> Result<Self, WriteError> {
        let mut fields: SmallVec<[(u32, Raw<'w>); 16]> = SmallVec::new();
        let mut pos = 0;
        while pos < wire.len() {
            let tag = wire::varint(wire, &mut pos)?;
            let number = u32::try_from(tag >> 3).map_err(|_| WriteError::NotCanonical)?;
            fields.push((number, wire::raw(wire, &mut pos, tag & 7)?));
        }
        if !fields.is_sorted_by_key(|f| f.0) {
            fields.sort_by_key(|f| f.0);
        }
        let message = OnWire { desc, fields };
        for oneof in message.desc.oneofs().filter(|o| !o.is_synthetic()) {
            if oneof.fields().filter(|f| message.has(f.number())).count() > 1 {
                return Err(WriteError::NotCanonical);
            }
        }
        Ok(message)
    }

    fn values(&self, number: u32) -> &[(u32, Raw<'w>)] {
        let from = self.fields.partition_point(|f| f.0 < number);
        let to = self.fields.partition_point(|f| f.0 <= number);
        &self.fields[from..to]
    }

    fn has(&self, number: u32) -> bool {
        !self.values(number).is_empty()
    }

    fn field(&self, field: &XmlField) -> Result<FieldDescriptor, XmlError> {
        self.desc.get_field(field.number).ok_or_else(|| {
            XmlError::new(format!(
                "{} has no field {}",
                self.desc.full_name(),
                field.number
            ))
        })
    }

    /// The values of field `fd`: every item of a list, the one value of a singular field.
    fn items(&self, fd: &FieldDescriptor) -> Result<SmallVec<[Item<'w>; 2]>, WriteError> {
        let values = self.values(fd.number());
        let kind = fd.kind();
        let mut items = SmallVec::new();
        if !(fd.is_list() || fd.is_map()) {
            if values.len() > 1 {
                return Err(WriteError::NotCanonical);
            }
            if let [(_, raw)] = values {
                items.push(item(&kind, *raw)?);
            }
            return Ok(items);
        }
        for (_, raw) in values {
            match (packed_wire_type(&kind), raw) {
                (Some(wire_type), Raw::Bytes(packed)) => {
                    if packed.is_empty() {
                        return Err(WriteError::NotCanonical);
                    }
                    let mut pos = 0;
                    while pos < packed.len() {
                        items.push(item(&kind, wire::raw(packed, &mut pos, wire_type)?)?);
                    }
                }
                _ => items.push(item(&kind, *raw)?),
            }
        }
        Ok(items)
    }

    /// The message that field `fd` holds, from its bytes.
    fn nested(fd: &FieldDescriptor, bytes: &'w [u8]) -> Result<OnWire<'w>, WriteError> {
        match fd.kind() {
            Kind::Message(desc) => OnWire::read(desc, bytes),
            _ => Err(WriteError::NotCanonical),
        }
    }
}

/// One value of a field, as its type reads it.
#[derive(Clone, Copy)]
enum Item<'w> {
    String(&'w str),
    Bytes(&'w [u8]),
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Enum(i32),
    Message(&'w [u8]),
}

fn item<'w>(kind: &Kind, raw: Raw<'w>) -> Result<Item<'w>, WriteError> {
    Ok(match (kind, raw) {
        (Kind::Double, Raw::Fixed64(bits)) => Item::F64(f64::from_bits(bits)),
        (Kind::Float, Raw::Fixed32(bits)) => Item::F32(f32::from_bits(bits)),
        (Kind::Int32, Raw::Varint(v)) => Item::I32(v as i32),
        (Kind::Int64, Raw::Varint(v)) => Item::I64(v as i64),
        (Kind::Uint32, Raw::Varint(v)) => Item::U32(v as u32),
        (Kind::Uint64, Raw::Varint(v)) => Item::U64(v),
        (Kind::Sint32, Raw::Varint(v)) => {
            let v = v as u32;
            Item::I32(((v >> 1) as i32) ^ -((v & 1) as i32))
        }
        (Kind::Sint64, Raw::Varint(v)) => Item::I64(((v >> 1) as i64) ^ -((v & 1) as i64)),
        (Kind::Fixed32, Raw::Fixed32(v)) => Item::U32(v),
        (Kind::Fixed64, Raw::Fixed64(v)) => Item::U64(v),
        (Kind::Sfixed32, Raw::Fixed32(v)) => Item::I32(v as i32),
        (Kind::Sfixed64, Raw::Fixed64(v)) => Item::I64(v as i64),
        (Kind::Bool, Raw::Varint(v)) => Item::Bool(v != 0),
        (Kind::String, Raw::Bytes(b)) => {
            Item::String(std::str::from_utf8(b).map_err(|_| WriteError::NotCanonical)?)
        }
        (Kind::Bytes, Raw::Bytes(b)) => Item::Bytes(b),
        (Kind::Enum(_), Raw::Varint(v)) => Item::Enum(v as i32),
        (Kind::Message(_), Raw::Bytes(b)) => Item::Message(b),
        _ => return Err(WriteError::NotCanonical),
    })
}

/// The wire type of the items of a packed list of `kind`; `None` for kinds that never pack.
fn packed_wire_type(kind: &Kind) -> Option<u64> {
    match kind {
        Kind::String | Kind::Bytes | Kind::Message(_) => None,
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => Some(wire::FIXED64),
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => Some(wire::FIXED32),
        _ => Some(wire::VARINT),
    }
}

impl Encoder<'_> {
    /// The request envelope of the message `desc` encoded as `wire`: `headers` (raw XML,
    /// already checked) and the header fields of the message in the Header, the rest in the
    /// Body.
    pub fn envelope(
        &self,
        version: SoapVersion,
        body: &SoapBody,
        desc: &MessageDescriptor,
        wire: &[u8],
        headers: &[String],
    ) -> Result<Vec<u8>, WriteError> {
        let mut w = self.open(version)?;
        let message = OnWire::read(desc.clone(), wire)?;
        let xml = self.xml_of(desc)?;
        let has_header_fields = xml
            .fields
            .iter()
            .any(|f| f.role == Role::Header && message.has(f.number));
        if has_header_fields || !headers.is_empty() {
            start(&mut w, "soap:Header")?;
            for raw in headers {
                w.get_mut().extend_from_slice(raw.as_bytes());
            }
            for field in xml.fields.iter().filter(|f| f.role == Role::Header) {
                self.field(&mut w, &message, field)?;
            }
            end(&mut w, "soap:Header")?;
        }
        start(&mut w, "soap:Body")?;
        match &body.wrapper {
            Some(name) => {
                let tag = self.tag(name);
                self.element(&mut w, &tag, &message, None)?;
            }
            None => {
                for field in xml.fields.iter().filter(|f| f.role != Role::Header) {
                    self.field(&mut w, &message, field)?;
                }
            }
        }
        Ok(self.close(w)?)
    }

    /// A fault envelope. `client`: the sender's fault (`Client` / `Sender`), else the server's;
    /// `subcode` is appended to the 1.1 faultcode (`Client.NotFound`) or is the 1.2 Subcode;
    /// `detail` (its element, and the message in wire form) is the one element of the detail.
    pub fn fault(
        &self,
        version: SoapVersion,
        client: bool,
        subcode: Option<&str>,
        reason: &str,
        detail: Option<(&QName, &MessageDescriptor, &[u8])>,
    ) -> Result<Vec<u8>, WriteError> {
        let mut w = self.open(version)?;
        start(&mut w, "soap:Body")?;
        start(&mut w, "soap:Fault")?;
        let detail_tag = match version {
            SoapVersion::V11 => {
                let class = if client { "Client" } else { "Server" };
                let code = match subcode {
                    Some(sub) => format!("soap:{class}.{sub}"),
                    None => format!("soap:{class}"),
                };
                text_element(&mut w, "faultcode", &code)?;
                text_element(&mut w, "faultstring", reason)?;
                "detail"
            }
            SoapVersion::V12 => {
                start(&mut w, "soap:Code")?;
                let class = if client {
                    "soap:Sender"
                } else {
                    "soap:Receiver"
                };
                text_element(&mut w, "soap:Value", class)?;
                if let Some(sub) = subcode {
                    start(&mut w, "soap:Subcode")?;
                    text_element(&mut w, "soap:Value", sub)?;
                    end(&mut w, "soap:Subcode")?;
                }
                end(&mut w, "soap:Code")?;
                start(&mut w, "soap:Reason")?;
                let mut text = BytesStart::new("soap:Text");
                text.push_attribute(("xml:lang", "en"));
                w.write_event(Event::Start(text)).map_err(io)?;
                w.write_event(Event::Text(BytesText::new(reason)))
                    .map_err(io)?;
                end(&mut w, "soap:Text")?;
                end(&mut w, "soap:Reason")?;
                "soap:Detail"
            }
        };
        if let Some((name, desc, wire)) = detail {
            start(&mut w, detail_tag)?;
            let tag = self.tag(name);
            self.element(&mut w, &tag, &OnWire::read(desc.clone(), wire)?, None)?;
            end(&mut w, detail_tag)?;
        }
        end(&mut w, "soap:Fault")?;
        Ok(self.close(w)?)
    }

    /// `<soap:Envelope>` with every namespace declared.
    fn open(&self, version: SoapVersion) -> Result<Out, XmlError> {
        let env_ns = match version {
            SoapVersion::V11 => SOAP11_ENV,
            SoapVersion::V12 => SOAP12_ENV,
        };
        let mut w = Writer::new(Vec::with_capacity(512));
        let mut envelope = BytesStart::new("soap:Envelope");
        envelope.push_attribute(("xmlns:soap", env_ns));
        envelope.push_attribute(("xmlns:xsi", XSI));
        let mut declared: Vec<(&String, &Arc<str>)> =
            self.prefixes.iter().map(|(ns, p)| (p, ns)).collect();
        declared.sort();
        for (prefix, ns) in declared {
            envelope.push_attribute((format!("xmlns:{prefix}").as_str(), ns.as_ref()));
        }
        w.write_event(Event::Start(envelope)).map_err(io)?;
        Ok(w)
    }

    /// Closes the Body and the Envelope.
    fn close(&self, mut w: Out) -> Result<Vec<u8>, XmlError> {
        end(&mut w, "soap:Body")?;
        end(&mut w, "soap:Envelope")?;
        Ok(w.into_inner())
    }

    fn xml_of(&self, desc: &MessageDescriptor) -> Result<&XmlMessage, XmlError> {
        self.schema
            .message(desc.full_name())
            .map(|m| m.as_ref())
            .ok_or_else(|| XmlError::new(format!("no XML facts for {}", desc.full_name())))
    }

    fn tag(&self, name: &QName) -> String {
        match self.prefixes.get(&name.ns) {
            Some(prefix) if !name.ns.is_empty() => format!("{prefix}:{}", name.local),
            _ => name.local.to_string(),
        }
    }

    /// An element holding `message`: its attributes, child elements and text.
    fn element(
        &self,
        w: &mut Out,
        tag: &str,
        message: &OnWire,
        xsi_type: Option<&QName>,
    ) -> Result<(), WriteError> {
        let xml = self.xml_of(&message.desc)?;
        if xml.kind == MessageKind::Polymorphic {
            let Some(member) = xml.fields.iter().find(|f| message.has(f.number)) else {
                return Ok(self.empty_element(w, tag)?);
            };
            let fd = message.field(member)?;
            let [Item::Message(bytes)] = message.items(&fd)?[..] else {
                return Err(XmlError::new("a polymorphic member is not a message").into());
            };
            let inner = OnWire::nested(&fd, bytes)?;
            return self.element(w, tag, &inner, member.xsi_type.as_ref());
        }
        let mut start = BytesStart::new(tag);
        if let Some(ty) = xsi_type {
            start.push_attribute(("xsi:type", self.tag(ty).as_str()));
        }
        for field in xml.fields.iter().filter(|f| f.role == Role::Attribute) {
            if message.has(field.number) {
                let fd = message.field(field)?;
                let text = format_values(field, &fd, &message.items(&fd)?)?;
                start.push_attribute((field.tag.as_str(), text.as_str()));
            }
        }
        let mut content = xml
            .fields
            .iter()
            .filter(|f| f.role != Role::Attribute && f.role != Role::Header)
            .filter(|f| message.has(f.number))
            .peekable();
        if content.peek().is_none() {
            return Ok(w.write_event(Event::Empty(start)).map_err(io)?);
        }
        w.write_event(Event::Start(start)).map_err(io)?;
        for field in content {
            self.field(w, message, field)?;
        }
        Ok(w.write_event(Event::End(BytesEnd::new(tag))).map_err(io)?)
    }

    fn empty_element(&self, w: &mut Out, tag: &str) -> Result<(), XmlError> {
        w.write_event(Event::Empty(BytesStart::new(tag)))
            .map_err(io)
    }

    /// One field of `message`: every value of a list, as elements or text.
    fn field(&self, w: &mut Out, message: &OnWire, field: &XmlField) -> Result<(), WriteError> {
        if !message.has(field.number) {
            return Ok(());
        }
        let fd = message.field(field)?;
        let items = message.items(&fd)?;
        match field.role {
            Role::Text => {
                let text = format_values(field, &fd, &items)?;
                Ok(w.write_event(Event::Text(BytesText::new(&text)))
                    .map_err(io)?)
            }
            Role::Any => {
                for item in items {
                    if let Item::String(raw) = item {
                        w.get_mut()
                            .extend_from_slice(checked_fragment(raw)?.as_bytes());
                    }
                }
                Ok(())
            }
            Role::Element | Role::Header => {
                let tag = field.tag.as_str();
                if matches!(&field.value, XmlValue::Simple(info) if info.list) {
                    // An `xsd:list`: one element, its items separated by spaces.
                    let text = format_values(field, &fd, &items)?;
                    return Ok(text_element(w, tag, &text)?);
                }
                for item in items {
                    self.element_value(w, tag, field, &fd, item)?;
                }
                Ok(())
            }
            Role::Attribute => Ok(()),
        }
    }

    fn element_value(
        &self,
        w: &mut Out,
        tag: &str,
        field: &XmlField,
        fd: &FieldDescriptor,
        item: Item,
    ) -> Result<(), WriteError> {
        // A nillable element's value is field 1 of its stand-in, absent when it is nil.
        let (item, value_fd) = if field.nillable {
            let Item::Message(bytes) = item else {
                return Err(XmlError::new("a nillable field is not a message").into());
            };
            let holder = OnWire::nested(fd, bytes)?;
            let value_fd = holder.desc.get_field(1).ok_or(WriteError::NotCanonical)?;
            match holder.items(&value_fd)?.first() {
                Some(inner) => (*inner, value_fd),
                None => {
                    let mut start = BytesStart::new(tag);
                    start.push_attribute(("xsi:nil", "true"));
                    return Ok(w.write_event(Event::Empty(start)).map_err(io)?);
                }
            }
        } else {
            (item, fd.clone())
        };
        match (&field.value, item) {
            (XmlValue::Complex, Item::Message(bytes)) => {
                self.element(w, tag, &OnWire::nested(&value_fd, bytes)?, None)
            }
            (XmlValue::Raw, Item::String(raw)) => {
                start(w, tag)?;
                w.get_mut()
                    .extend_from_slice(checked_fragment(raw)?.as_bytes());
                Ok(end(w, tag)?)
            }
            (XmlValue::Simple(info), item) => {
                let text = format_simple(info, fd, item)?;
                if text.is_empty() {
                    return Ok(self.empty_element(w, tag)?);
                }
                Ok(text_element(w, tag, &text)?)
            }
            _ => Err(XmlError::new(format!(
                "field `{}` holds a value of the wrong kind",
                fd.json_name()
            ))
            .into()),
        }
    }
}

pub(crate) fn start(w: &mut Out, tag: &str) -> Result<(), XmlError> {
    w.write_event(Event::Start(BytesStart::new(tag)))
        .map_err(io)
}

pub(crate) fn end(w: &mut Out, tag: &str) -> Result<(), XmlError> {
    w.write_event(Event::End(BytesEnd::new(tag))).map_err(io)
}

pub(crate) fn text_element(w: &mut Out, tag: &str, text: &str) -> Result<(), XmlError> {
    start(w, tag)?;
    w.write_event(Event::Text(BytesText::new(text)))
        .map_err(io)?;
    end(w, tag)
}

/// The text of an attribute or text field: one value, or the items of an `xsd:list`.
fn format_values(
    field: &XmlField,
    fd: &FieldDescriptor,
    items: &[Item],
) -> Result<String, XmlError> {
    let plain;
    let info = match &field.value {
        XmlValue::Simple(info) => info.as_ref(),
        _ => {
            plain = SimpleInfo::default();
            &plain
        }
    };
    let mut text = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&format_simple(info, fd, *item)?);
    }
    Ok(text)
}

/// The XML text of a simple value, checked against its type and facets.
fn format_simple<'w>(
    info: &SimpleInfo,
    fd: &FieldDescriptor,
    item: Item<'w>,
) -> Result<Cow<'w, str>, XmlError> {
    let name = fd.json_name();
    let bad = |why: String| XmlError::new(format!("field `{name}`: {why}"));
    let text: Cow<str> = match item {
        Item::String(s) => Cow::Borrowed(s),
        Item::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
        Item::I32(v) => v.to_string().into(),
        Item::I64(v) => v.to_string().into(),
        Item::U32(v) => v.to_string().into(),
        Item::U64(v) => v.to_string().into(),
        Item::F32(v) => format_float(f64::from(v), Some(v)).into(),
        Item::F64(v) => format_float(v, None).into(),
        Item::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
        Item::Enum(n) => n.to_string().into(),
        Item::Message(_) => return Err(bad("expected a simple value".into())),
    };
    match info.check {
        Check::None => {}
        Check::Decimal if !is_decimal(&text) => {
            return Err(bad(format!("`{text}` is not an xsd:{}", info.builtin)))
        }
        Check::Integer { min_sign, max_sign } => {
            let sign = integer_sign(&text)
                .ok_or_else(|| bad(format!("`{text}` is not an xsd:{}", info.builtin)))?;
            if sign < min_sign || sign > max_sign {
                return Err(bad(format!(
                    "`{text}` is out of range for xsd:{}",
                    info.builtin
                )));
            }
        }
        Check::Range(min, max) => {
            let n: i64 = text
                .parse()
                .map_err(|_| bad(format!("`{text}` is not a number")))?;
            if n < min || n > max {
                return Err(bad(format!("{n} is out of range for xsd:{}", info.builtin)));
            }
        }
        Check::Decimal => {}
    }
    let facets = &info.facets;
    if !facets.enumeration.is_empty() && !facets.enumeration.iter().any(|e| *e == *text) {
        return Err(bad(format!(
            "`{text}` is not one of {}",
            facets.enumeration.join(", ")
        )));
    }
    let length = text.chars().count();
    if facets.min_length.is_some_and(|m| length < m)
        || facets.max_length.is_some_and(|m| length > m)
    {
        return Err(bad(format!(
            "`{text}` has a length outside the schema's bounds"
        )));
    }
    if let Some(pattern) = info.patterns.iter().find(|p| !p.matches(&text)) {
        return Err(bad(format!(
            "`{text}` does not match the pattern `{pattern}`"
        )));
    }
    if let Some(bound) = outside_range(&text, facets) {
        return Err(bad(format!("`{text}` is {bound}")));
    }
    Ok(text)
}

/// The range facet a number breaks, if any (numbers only: ranges of dates are not checked).
fn outside_range(text: &str, facets: &crate::registry::wsdl::model::Facets) -> Option<String> {
    let value: f64 = text.parse().ok()?;
    let bound = |b: &Option<String>| {
        let text = b.as_deref()?;
        Some((text.to_owned(), text.parse::<f64>().ok()?))
    };
    let broken = [
        (
            bound(&facets.min_inclusive),
            "below the minimum",
            (|v, n| v < n) as fn(f64, f64) -> bool,
        ),
        (bound(&facets.max_inclusive), "above the maximum", |v, n| {
            v > n
        }),
        (
            bound(&facets.min_exclusive),
            "not above the exclusive minimum",
            |v, n| v <= n,
        ),
        (
            bound(&facets.max_exclusive),
            "not below the exclusive maximum",
            |v, n| v >= n,
        ),
    ];
    broken.into_iter().find_map(|(bound, what, breaks)| {
        let (text, n) = bound?;
        breaks(value, n).then(|| format!("{what} {text}"))
    })
}

/// XSD writes infinities and NaN in words; other doubles in Rust's shortest round-trip form.
fn format_float(v: f64, single: Option<f32>) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "INF" } else { "-INF" }.into()
    } else if let Some(s) = single {
        format!("{s:?}")
    } else {
        format!("{v:?}")
    }
}

fn is_decimal(text: &str) -> bool {
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// -1, 0 or 1 for an integer's sign; `None` when it is not an integer.
fn integer_sign(text: &str) -> Option<i8> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(if digits.bytes().all(|b| b == b'0') {
        0
    } else if negative {
        -1
    } else {
        1
    })
}

/// Raw XML from a request (`xsd:any`, `xsd:anyType`, configured headers) goes into the
/// envelope only if it is well-formed and balanced, so it cannot close the Body early.
pub fn checked_fragment(raw: &str) -> Result<&str, XmlError> {
    let limits = Limits::with_max_size(usize::MAX);
    let mut reader = quick_xml::Reader::from_str(raw);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(XmlError::new("raw XML is nested too deeply"));
                }
            }
            Ok(Event::End(_)) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| XmlError::new("raw XML closes an element it did not open"))?;
            }
            Ok(Event::Eof) if depth == 0 => return Ok(raw),
            Ok(Event::Eof) => return Err(XmlError::new("raw XML leaves an element open")),
            Ok(Event::DocType(_)) => return Err(XmlError::new("raw XML may not hold a DOCTYPE")),
            Ok(_) => {}
            Err(e) => return Err(XmlError::new(format!("raw XML is not well-formed: {e}"))),
        }
    }
}
