//! Messages to XML with quick-xml's writer, driven by the schema facts: every element in its
//! schema order and own namespace, attributes and text where the schema puts them, `xsi:nil`
//! for nil, `xsi:type` for derived types. Values are checked against their XSD type and
//! facets on the way out, so a bad request is refused here (400), not by the backend.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use prost_reflect::{DynamicMessage, FieldDescriptor, ReflectMessage, Value};
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::schema::{
    Check, MessageKind, Role, SimpleInfo, XmlField, XmlMessage, XmlSchema, XmlValue,
};
use super::{Limits, XmlError, SOAP11_ENV, SOAP12_ENV, XSI};
use crate::registry::wsdl::build::SoapBody;
use crate::registry::wsdl::model::{QName, SoapVersion};

/// Writes messages of one schema; every namespace gets a prefix declared once, on the
/// envelope.
pub struct Encoder<'s> {
    pub schema: &'s XmlSchema,
    pub prefixes: &'s HashMap<Arc<str>, String>,
}

pub(crate) type Out = Writer<Vec<u8>>;

pub(crate) fn io(e: std::io::Error) -> XmlError {
    XmlError::new(e.to_string())
}

impl Encoder<'_> {
    /// The request envelope: `headers` (raw XML, already checked) and the header fields of
    /// `message` in the Header, the rest in the Body.
    pub fn envelope(
        &self,
        version: SoapVersion,
        body: &SoapBody,
        message: &DynamicMessage,
        headers: &[String],
    ) -> Result<Vec<u8>, XmlError> {
        let mut w = self.open(version)?;
        let xml = self.xml_of(message)?;
        let has_header_fields = xml
            .fields
            .iter()
            .any(|f| f.role == Role::Header && message.has_field_by_number(f.number));
        if has_header_fields || !headers.is_empty() {
            start(&mut w, "soap:Header")?;
            for raw in headers {
                w.get_mut().extend_from_slice(raw.as_bytes());
            }
            for field in xml.fields.iter().filter(|f| f.role == Role::Header) {
                self.field(&mut w, message, field)?;
            }
            end(&mut w, "soap:Header")?;
        }
        start(&mut w, "soap:Body")?;
        match &body.wrapper {
            Some(name) => {
                let tag = self.tag(name);
                self.element(&mut w, &tag, message, None)?;
            }
            None => {
                for field in xml.fields.iter().filter(|f| f.role != Role::Header) {
                    self.field(&mut w, message, field)?;
                }
            }
        }
        self.close(w)
    }

    /// A fault envelope. `client`: the sender's fault (`Client` / `Sender`), else the server's;
    /// `subcode` is appended to the 1.1 faultcode (`Client.NotFound`) or is the 1.2 Subcode;
    /// `detail` is written as the one element of the detail.
    pub fn fault(
        &self,
        version: SoapVersion,
        client: bool,
        subcode: Option<&str>,
        reason: &str,
        detail: Option<(&QName, &DynamicMessage)>,
    ) -> Result<Vec<u8>, XmlError> {
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
        if let Some((name, message)) = detail {
            start(&mut w, detail_tag)?;
            let tag = self.tag(name);
            self.element(&mut w, &tag, message, None)?;
            end(&mut w, detail_tag)?;
        }
        end(&mut w, "soap:Fault")?;
        self.close(w)
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

    fn xml_of(&self, message: &DynamicMessage) -> Result<&XmlMessage, XmlError> {
        let name = message.descriptor();
        self.schema
            .message(name.full_name())
            .map(|m| m.as_ref())
            .ok_or_else(|| XmlError::new(format!("no XML facts for {}", name.full_name())))
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
        message: &DynamicMessage,
        xsi_type: Option<&QName>,
    ) -> Result<(), XmlError> {
        let xml = self.xml_of(message)?;
        if xml.kind == MessageKind::Polymorphic {
            let member = xml
                .fields
                .iter()
                .find(|f| message.has_field_by_number(f.number));
            let Some(member) = member else {
                return self.empty_element(w, tag);
            };
            let value = message.get_field_by_number(member.number);
            let Some(Value::Message(inner)) = value.as_deref() else {
                return Err(XmlError::new("a polymorphic member is not a message"));
            };
            return self.element(w, tag, inner, member.xsi_type.as_ref());
        }
        let mut start = BytesStart::new(tag);
        if let Some(ty) = xsi_type {
            start.push_attribute(("xsi:type", self.tag(ty).as_str()));
        }
        let desc = message.descriptor();
        for field in xml.fields.iter().filter(|f| f.role == Role::Attribute) {
            if let Some(value) = message.get_field_by_number(field.number) {
                if !message.has_field_by_number(field.number) {
                    continue;
                }
                let fd = field_desc(&desc, field)?;
                let text = format_values(field, &fd, &value)?;
                start.push_attribute((field.tag.as_str(), text.as_str()));
            }
        }
        let content: Vec<&XmlField> = xml
            .fields
            .iter()
            .filter(|f| f.role != Role::Attribute && f.role != Role::Header)
            .filter(|f| message.has_field_by_number(f.number))
            .collect();
        if content.is_empty() {
            return w.write_event(Event::Empty(start)).map_err(io);
        }
        w.write_event(Event::Start(start)).map_err(io)?;
        for field in content {
            self.field(w, message, field)?;
        }
        w.write_event(Event::End(BytesEnd::new(tag))).map_err(io)
    }

    fn empty_element(&self, w: &mut Out, tag: &str) -> Result<(), XmlError> {
        w.write_event(Event::Empty(BytesStart::new(tag)))
            .map_err(io)
    }

    /// One field of `message`: every value of a list, as elements or text.
    fn field(
        &self,
        w: &mut Out,
        message: &DynamicMessage,
        field: &XmlField,
    ) -> Result<(), XmlError> {
        if !message.has_field_by_number(field.number) {
            return Ok(());
        }
        let desc = message.descriptor();
        let fd = field_desc(&desc, field)?;
        let value = message.get_field(&fd);
        match field.role {
            Role::Text => {
                let text = format_values(field, &fd, &value)?;
                w.write_event(Event::Text(BytesText::new(&text)))
                    .map_err(io)
            }
            Role::Any => {
                for item in items(&fd, &value) {
                    if let Value::String(raw) = item {
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
                    let text = format_values(field, &fd, &value)?;
                    return text_element(w, tag, &text);
                }
                for item in items(&fd, &value) {
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
        value: &Value,
    ) -> Result<(), XmlError> {
        let inner;
        let value = if field.nillable {
            let Value::Message(holder) = value else {
                return Err(XmlError::new("a nillable field is not a message"));
            };
            inner = holder
                .get_field_by_number(1)
                .filter(|_| holder.has_field_by_number(1));
            match inner.as_deref() {
                Some(inner) => inner,
                None => {
                    let mut start = BytesStart::new(tag);
                    start.push_attribute(("xsi:nil", "true"));
                    return w.write_event(Event::Empty(start)).map_err(io);
                }
            }
        } else {
            value
        };
        match (&field.value, value) {
            (XmlValue::Complex, Value::Message(m)) => self.element(w, tag, m, None),
            (XmlValue::Raw, Value::String(raw)) => {
                start(w, tag)?;
                w.get_mut()
                    .extend_from_slice(checked_fragment(raw)?.as_bytes());
                end(w, tag)
            }
            (XmlValue::Simple(info), v) => {
                let text = format_simple(info, fd, v)?;
                if text.is_empty() {
                    return self.empty_element(w, tag);
                }
                text_element(w, tag, &text)
            }
            _ => Err(XmlError::new(format!(
                "field `{}` holds a value of the wrong kind",
                fd.json_name()
            ))),
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

fn field_desc(
    desc: &prost_reflect::MessageDescriptor,
    field: &XmlField,
) -> Result<FieldDescriptor, XmlError> {
    desc.get_field(field.number).ok_or_else(|| {
        XmlError::new(format!(
            "{} has no field {}",
            desc.full_name(),
            field.number
        ))
    })
}

fn items<'v>(fd: &FieldDescriptor, value: &'v Value) -> Vec<&'v Value> {
    match value {
        Value::List(list) if fd.is_list() => list.iter().collect(),
        other => vec![other],
    }
}

/// The text of an attribute or text field: one value, or the items of an `xsd:list`.
fn format_values(
    field: &XmlField,
    fd: &FieldDescriptor,
    value: &Value,
) -> Result<String, XmlError> {
    let info = match &field.value {
        XmlValue::Simple(info) => info.clone(),
        _ => Arc::new(SimpleInfo::default()),
    };
    let parts = items(fd, value)
        .into_iter()
        .map(|v| format_simple(&info, fd, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(" "))
}

/// The XML text of a simple value, checked against its type and facets.
pub fn format_simple(
    info: &SimpleInfo,
    fd: &FieldDescriptor,
    value: &Value,
) -> Result<String, XmlError> {
    let name = fd.json_name();
    let bad = |why: String| XmlError::new(format!("field `{name}`: {why}"));
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::F32(v) => format_float(f64::from(*v), Some(*v)),
        Value::F64(v) => format_float(*v, None),
        Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::EnumNumber(n) => n.to_string(),
        _ => return Err(bad("expected a simple value".into())),
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
    if !facets.enumeration.is_empty() && !facets.enumeration.contains(&text) {
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
