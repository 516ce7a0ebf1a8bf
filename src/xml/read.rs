//! XML to messages: a streaming, namespace-aware reader (quick-xml's `NsReader`) driven by the
//! schema, never by the document: arrays come from `maxOccurs`, numbers from the XSD type.
//! Every event passes the input limits first, so a hostile document costs bounded memory
//! and time: no DTD is read at all, so no entity can expand.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use prost_types::field_descriptor_proto::Type;
use quick_xml::events::attributes::Attributes;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::schema::{
    MessageKind, Role, SimpleInfo, WireKind, XmlField, XmlMessage, XmlSchema, XmlValue,
};
use super::{Limits, XmlError, SOAP11_ENV, SOAP12_ENV, XSI};
use crate::registry::wsdl::build::SoapBody;
use crate::registry::wsdl::model::QName;
use crate::wire::{
    begin_len, bytes_field, encode_varint, end_len, tag, FIXED32, FIXED64, LEN, VARINT,
};

mod envelope;

pub use envelope::{Fault, Response};

/// One start tag as the reader keeps it: its resolved name and its checked attributes.
/// Names and values borrow from the document: reading allocates next to nothing.
pub(crate) struct Start<'a> {
    pub(crate) ns: Arc<str>,
    pub(crate) local: &'a str,
    /// (namespace, local name, value), `xmlns` declarations left out.
    attributes: Vec<(Arc<str>, &'a str, Cow<'a, str>)>,
    pub(crate) empty: bool,
}

impl Start<'_> {
    fn xsi(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(ns, local, _)| &**ns == XSI && *local == name)
            .map(|(.., v)| &**v)
    }

    pub(crate) fn is_nil(&self) -> bool {
        matches!(self.xsi("nil"), Some("true" | "1"))
    }
}

pub(crate) enum Item<'a> {
    Start(Start<'a>),
    Text(Cow<'a, str>),
    End,
}

pub struct Reader<'a> {
    input: &'a [u8],
    reader: NsReader<&'a [u8]>,
    limits: Limits,
    /// Children seen so far, per open element.
    children: Vec<usize>,
    /// The namespaces seen, so that each element names its own without allocating.
    namespaces: Vec<Arc<str>>,
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8], limits: Limits) -> Result<Self, XmlError> {
        if input.len() > limits.max_size {
            return Err(XmlError::new(format!(
                "the document is larger than {} bytes",
                limits.max_size
            )));
        }
        let mut reader = NsReader::from_reader(input);
        reader.config_mut().trim_text(false);
        Ok(Reader {
            input,
            reader,
            limits,
            children: vec![0],
            namespaces: vec!["".into()],
        })
    }

    pub(crate) fn next(&mut self) -> Result<Item<'a>, XmlError> {
        loop {
            let (resolved, event) = self
                .reader
                .read_resolved_event()
                .map_err(|e| XmlError::new(format!("not well-formed XML: {e}")))?;
            let empty = matches!(event, Event::Empty(_));
            match event {
                Event::Start(e) | Event::Empty(e) => {
                    let ns = match resolved {
                        ResolveResult::Bound(ns) => intern(&mut self.namespaces, ns.as_ref()),
                        ResolveResult::Unbound => self.namespaces[0].clone(),
                        ResolveResult::Unknown(p) => {
                            return Err(XmlError::new(format!(
                                "namespace prefix `{}` is not declared",
                                String::from_utf8_lossy(&p)
                            )))
                        }
                    };
                    return self.start(ns, e, empty).map(Item::Start);
                }
                Event::End(_) => {
                    self.children.pop();
                    return Ok(Item::End);
                }
                Event::Text(t) => {
                    let text = t
                        .xml_content()
                        .map_err(|e| XmlError::new(format!("bad text: {e}")))?;
                    return Ok(Item::Text(text));
                }
                Event::CData(t) => {
                    let text = t
                        .decode()
                        .map_err(|e| XmlError::new(format!("bad CDATA: {e}")))?;
                    return Ok(Item::Text(text));
                }
                Event::GeneralRef(r) => {
                    if let Some(c) = r
                        .resolve_char_ref()
                        .map_err(|e| XmlError::new(format!("bad character reference: {e}")))?
                    {
                        return Ok(Item::Text(Cow::Owned(c.to_string())));
                    }
                    let name = String::from_utf8_lossy(&r).into_owned();
                    return match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(text) => Ok(Item::Text(Cow::Borrowed(text))),
                        None => Err(XmlError::new(format!("unknown entity `&{name};`"))),
                    };
                }
                Event::DocType(_) => {
                    return Err(XmlError::new(
                        "a DOCTYPE is not allowed (no DTD is ever read)",
                    ))
                }
                Event::Eof => return Err(XmlError::new("the document ends too early")),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
        }
    }

    fn start(
        &mut self,
        ns: Arc<str>,
        e: BytesStart<'a>,
        empty: bool,
    ) -> Result<Start<'a>, XmlError> {
        let at_document_level = self.children.len() == 1;
        let count = self
            .children
            .last_mut()
            .expect("the document level is never closed");
        *count += 1;
        if at_document_level && *count > 1 {
            return Err(XmlError::new("content after the document element"));
        }
        if *count > self.limits.max_children {
            return Err(XmlError::new(format!(
                "an element has more than {} children",
                self.limits.max_children
            )));
        }
        if !empty {
            if self.children.len() > self.limits.max_depth {
                return Err(XmlError::new(format!(
                    "elements are nested deeper than {}",
                    self.limits.max_depth
                )));
            }
            self.children.push(0);
        }
        // The tag as borrowed text: its name, then its attributes. A reader over a slice
        // always borrows.
        let name_len = e.name().as_ref().len();
        // The tag's text ends just before `>` (or `/>`), where the reader stands now.
        let end = self.reader.buffer_position() as usize - if empty { 2 } else { 1 };
        let raw = end
            .checked_sub(e.len())
            .and_then(|start| self.input.get(start..end))
            .filter(|raw| raw.first() == e.first())
            .ok_or_else(|| XmlError::new("a tag could not be located in the document"))?;
        let tag = std::str::from_utf8(raw).map_err(|_| XmlError::new("a tag is not UTF-8"))?;
        let name = &tag[..name_len];
        let local = name.rsplit(':').next().unwrap_or(name);
        let mut attributes = Vec::new();
        for (i, attribute) in Attributes::new(tag, name_len).enumerate() {
            if i >= self.limits.max_attributes {
                return Err(XmlError::new(format!(
                    "an element has more than {} attributes",
                    self.limits.max_attributes
                )));
            }
            let attribute = attribute.map_err(|e| XmlError::new(format!("bad attribute: {e}")))?;
            if attribute.value.len() > self.limits.max_attribute_value {
                return Err(XmlError::new(format!(
                    "an attribute value is longer than {} bytes",
                    self.limits.max_attribute_value
                )));
            }
            let key = attribute.key;
            if key.as_namespace_binding().is_some() {
                continue;
            }
            let (resolved, name) = self.reader.resolve_attribute(key);
            let attr_ns = match resolved {
                ResolveResult::Bound(n) => intern(&mut self.namespaces, n.as_ref()),
                _ => self.namespaces[0].clone(),
            };
            let name = std::str::from_utf8(name.into_inner())
                .map_err(|_| XmlError::new("an attribute name is not UTF-8"))?;
            let value = attribute
                .unescape_value()
                .map_err(|e| XmlError::new(format!("bad attribute value: {e}")))?;
            attributes.push((attr_ns, name, value));
        }
        Ok(Start {
            ns,
            local,
            attributes,
            empty,
        })
    }

    /// Skips the rest of an element whose start was read.
    /// Reads the rest of the document: what is left of the open elements, unread, then
    /// nothing but white space, comments and processing instructions after the document
    /// element. A second root element, or text after the first, makes the document
    /// ill-formed (XML 1.0 section 2.1).
    pub(crate) fn finish(&mut self) -> Result<(), XmlError> {
        while self.children.len() > 1 {
            self.next()?;
        }
        loop {
            match self.reader.read_event() {
                Ok(Event::Eof) => return Ok(()),
                Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
                Ok(Event::Comment(_) | Event::PI(_)) => {}
                Ok(_) => return Err(XmlError::new("content after the document element")),
                Err(e) => return Err(XmlError::new(format!("not well-formed XML: {e}"))),
            }
        }
    }

    pub(crate) fn skip(&mut self, start: &Start) -> Result<(), XmlError> {
        if start.empty {
            return Ok(());
        }
        let mut depth = 1;
        while depth > 0 {
            match self.next()? {
                Item::Start(s) if !s.empty => depth += 1,
                Item::End => depth -= 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// The text of an element of simple content.
    pub(crate) fn text(&mut self, start: &Start) -> Result<Cow<'a, str>, XmlError> {
        let mut text = Cow::Borrowed("");
        if start.empty {
            return Ok(text);
        }
        loop {
            match self.next()? {
                Item::Text(t) if text.is_empty() => text = t,
                Item::Text(t) => text.to_mut().push_str(&t),
                Item::End => return Ok(text),
                Item::Start(s) => {
                    return Err(XmlError::new(format!(
                        "element `{}` has simple content, but holds element `{}`",
                        start.local, s.local
                    )))
                }
            }
        }
    }

    /// An element (`with_tag`) or its content, written back as XML text.
    fn raw(&mut self, start: Start<'a>, with_tag: bool) -> Result<String, XmlError> {
        let mut out = String::new();
        fn open(out: &mut String, s: &Start) {
            out.push('<');
            out.push_str(s.local);
            if !s.ns.is_empty() {
                out.push_str(" xmlns=\"");
                out.push_str(&quick_xml::escape::escape(&*s.ns));
                out.push('"');
            }
            for (ns, local, value) in &s.attributes {
                out.push(' ');
                if &**ns == XSI {
                    out.push_str("xmlns:xsi=\"");
                    out.push_str(XSI);
                    out.push_str("\" xsi:");
                }
                out.push_str(local);
                out.push_str("=\"");
                out.push_str(&quick_xml::escape::escape(&**value));
                out.push('"');
            }
            out.push_str(if s.empty { "/>" } else { ">" });
        }
        if with_tag {
            open(&mut out, &start);
        }
        if start.empty {
            return Ok(out);
        }
        let mut open_names = vec![start.local];
        while !open_names.is_empty() {
            match self.next()? {
                Item::Start(s) => {
                    open(&mut out, &s);
                    if !s.empty {
                        open_names.push(s.local);
                    }
                }
                Item::Text(t) => out.push_str(&quick_xml::escape::escape(&*t)),
                Item::End => {
                    let name = open_names.pop().unwrap_or_default();
                    if !open_names.is_empty() || with_tag {
                        out.push_str("</");
                        out.push_str(name);
                        out.push('>');
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The shared copy of a namespace name (documents use a handful, over and over).
fn intern(namespaces: &mut Vec<Arc<str>>, ns: &[u8]) -> Arc<str> {
    if let Some(known) = namespaces.iter().rev().find(|n| n.as_bytes() == ns) {
        return known.clone();
    }
    let ns: Arc<str> = String::from_utf8_lossy(ns).into();
    namespaces.push(ns.clone());
    ns
}

/// Reads documents into messages of one schema, in protobuf wire form: no message is built in
/// between (the REST frontend writes JSON straight from the wire form).
pub struct Decoder<'s> {
    pub schema: &'s XmlSchema,
}

impl Decoder<'_> {
    fn xml(&self, full_name: &str) -> Result<&XmlMessage, XmlError> {
        self.schema
            .message(full_name)
            .map(|m| m.as_ref())
            .ok_or_else(|| XmlError::new(format!("no XML facts for {full_name}")))
    }

    /// The fields of `xml` from the attributes and content of `start`, up to its end tag.
    fn content<'a>(
        &self,
        reader: &mut Reader<'a>,
        start: &Start<'a>,
        xml: &XmlMessage,
        roles: &[Role],
        out: &mut Vec<u8>,
    ) -> Result<(), XmlError> {
        for (ns, local, value) in &start.attributes {
            if &**ns == XSI {
                continue;
            }
            if let Some(field) = xml.find(Role::Attribute, ns, local) {
                simple(field, field.number, value, out)?;
            }
        }
        if start.empty {
            return Ok(());
        }
        let text_field = xml.fields.iter().find(|f| f.role == Role::Text);
        let mut text = String::new();
        let mut hint = 0;
        loop {
            match reader.next()? {
                Item::End => break,
                Item::Text(t) => {
                    if text_field.is_some() {
                        text.push_str(&t);
                    }
                }
                Item::Start(child) => {
                    let field = roles
                        .iter()
                        .find_map(|role| xml.find_from(*role, &child.ns, child.local, &mut hint))
                        .or_else(|| xml.fields.iter().find(|f| f.role == Role::Any));
                    match field {
                        Some(field) => self.field(reader, child, field, out)?,
                        None => reader.skip(&child)?,
                    }
                }
            }
        }
        if let Some(field) = text_field {
            simple(field, field.number, &text, out)?;
        }
        Ok(())
    }

    /// One child element into its field.
    fn field<'a>(
        &self,
        reader: &mut Reader<'a>,
        start: Start<'a>,
        field: &XmlField,
        out: &mut Vec<u8>,
    ) -> Result<(), XmlError> {
        if field.role == Role::Any {
            let raw = reader.raw(start, true)?;
            bytes_field(field.number, raw.as_bytes(), out);
            return Ok(());
        }
        let nil = start.is_nil();
        if field.nillable {
            // The stand-in is present; its value (field 1) only when the element is not nil.
            tag(field.number, LEN, out);
            let at = begin_len(out);
            if nil {
                reader.skip(&start)?;
            } else {
                self.value(reader, start, field, 1, out)?;
            }
            end_len(out, at);
            return Ok(());
        }
        if nil {
            return reader.skip(&start);
        }
        self.value(reader, start, field, field.number, out)
    }

    /// The value of one element as field `number`.
    fn value<'a>(
        &self,
        reader: &mut Reader<'a>,
        start: Start<'a>,
        field: &XmlField,
        number: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), XmlError> {
        match (&field.value, &field.wire) {
            (XmlValue::Raw, _) => {
                let raw = reader.raw(start, false)?;
                bytes_field(number, raw.as_bytes(), out);
                Ok(())
            }
            (XmlValue::Simple(_), _) => {
                let text = reader.text(&start)?;
                simple(field, number, &text, out)
            }
            (XmlValue::Complex, WireKind::Message(name)) => {
                let xml = self.xml(name)?;
                tag(number, LEN, out);
                let at = begin_len(out);
                if xml.kind == MessageKind::Polymorphic {
                    self.polymorphic(reader, &start, xml, out)?;
                } else {
                    self.content(reader, &start, xml, &[Role::Element], out)?;
                }
                end_len(out, at);
                Ok(())
            }
            _ => Err(XmlError::new(format!(
                "field `{}` does not hold a message",
                field.name
            ))),
        }
    }

    /// An element of a type with derived types: the member its `xsi:type` names.
    fn polymorphic<'a>(
        &self,
        reader: &mut Reader<'a>,
        start: &Start<'a>,
        xml: &XmlMessage,
        out: &mut Vec<u8>,
    ) -> Result<(), XmlError> {
        let wanted = start.xsi("type").map(|t| t.rsplit(':').next().unwrap_or(t));
        let member = match wanted {
            Some(local) => xml
                .fields
                .iter()
                .find(|f| f.xsi_type.as_ref().is_some_and(|q| &*q.local == local))
                .ok_or_else(|| XmlError::new(format!("xsi:type `{local}` is not a known type")))?,
            None => xml
                .fields
                .iter()
                .find(|f| f.xsi_type.is_none())
                .or(xml.fields.first())
                .ok_or_else(|| XmlError::new("no concrete type"))?,
        };
        let WireKind::Message(name) = &member.wire else {
            return Err(XmlError::new("a polymorphic member is not a message"));
        };
        tag(member.number, LEN, out);
        let at = begin_len(out);
        self.content(reader, start, self.xml(name)?, &[Role::Element], out)?;
        end_len(out, at);
        Ok(())
    }
}

/// A simple value (or the space-separated items of a list) from its text, as field `number`.
fn simple(field: &XmlField, number: u32, text: &str, out: &mut Vec<u8>) -> Result<(), XmlError> {
    let info = match &field.value {
        XmlValue::Simple(info) => info.as_ref(),
        _ => &SimpleInfo::default(),
    };
    let WireKind::Scalar(kind) = field.wire else {
        return Err(XmlError::new(format!(
            "`{}` is not a simple value",
            field.name
        )));
    };
    if info.list && field.repeated {
        for item in text.split_whitespace() {
            scalar(kind, info, &field.name, number, item, out)?;
        }
        return Ok(());
    }
    scalar(kind, info, &field.name, number, text, out)
}

/// One value of an XSD simple type from its text, in the wire form of its protobuf type.
fn scalar(
    kind: Type,
    info: &SimpleInfo,
    name: &str,
    number: u32,
    text: &str,
    out: &mut Vec<u8>,
) -> Result<(), XmlError> {
    let trimmed = text.trim();
    let bad = || {
        XmlError::new(format!(
            "`{}` is not a valid {} for `{name}`",
            trimmed.chars().take(64).collect::<String>(),
            info.builtin,
        ))
    };
    let integer = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let varint = |value: u64, out: &mut Vec<u8>| {
        tag(number, VARINT, out);
        encode_varint(value, out);
    };
    match kind {
        Type::String => {
            let value = if info.builtin.as_ref() == "string" {
                text
            } else {
                trimmed
            };
            bytes_field(number, value.as_bytes(), out);
        }
        Type::Bytes => {
            let compact: String = trimmed.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| bad())?;
            bytes_field(number, &bytes, out);
        }
        Type::Bool => match trimmed {
            "true" | "1" => varint(1, out),
            "false" | "0" => varint(0, out),
            _ => return Err(bad()),
        },
        Type::Int32 => varint(
            integer.parse::<i32>().map_err(|_| bad())? as i64 as u64,
            out,
        ),
        Type::Int64 => varint(integer.parse::<i64>().map_err(|_| bad())? as u64, out),
        Type::Uint32 => varint(integer.parse::<u32>().map_err(|_| bad())?.into(), out),
        Type::Uint64 => varint(integer.parse::<u64>().map_err(|_| bad())?, out),
        Type::Float => {
            let value = parse_float(trimmed).ok_or_else(bad)? as f32;
            tag(number, FIXED32, out);
            out.extend_from_slice(&value.to_le_bytes());
        }
        Type::Double => {
            let value = parse_float(trimmed).ok_or_else(bad)?;
            tag(number, FIXED64, out);
            out.extend_from_slice(&value.to_le_bytes());
        }
        _ => return Err(bad()),
    }
    Ok(())
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "INF" | "+INF" => Some(f64::INFINITY),
        "-INF" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        // Rust also reads `inf` and `nan`, which XSD does not allow.
        t if t
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) =>
        {
            None
        }
        t => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], limits: Limits) -> Result<usize, XmlError> {
        let mut reader = Reader::new(input, limits)?;
        let mut starts = 0;
        loop {
            match reader.next() {
                Ok(Item::Start(s)) => {
                    starts += 1;
                    // An empty root element is the whole document.
                    if s.empty && reader.children.len() == 1 {
                        return Ok(starts);
                    }
                }
                Ok(Item::End) if reader.children.len() == 1 => return Ok(starts),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn limits() -> Limits {
        Limits::with_max_size(64 << 20)
    }

    #[test]
    fn hostile_documents_are_refused() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><a>&lol1;</a>"#;
        assert!(read_all(bomb, limits()).unwrap_err().0.contains("DOCTYPE"));
        let unknown_entity = b"<a>&lol;</a>";
        assert!(read_all(unknown_entity, limits())
            .unwrap_err()
            .0
            .contains("unknown entity"));

        let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        let error = read_all(deep.as_bytes(), limits()).unwrap_err();
        assert!(error.0.contains("nested deeper than 100"), "{error}");

        let mut many = String::from("<a");
        for i in 0..1_000_000 {
            many.push_str(&format!(" a{i}=\"x\""));
        }
        many.push_str("/>");
        let started = std::time::Instant::now();
        let error = read_all(many.as_bytes(), limits()).unwrap_err();
        assert!(error.0.contains("more than 500 attributes"), "{error}");
        // Refused after reading 501 attributes, not all of them.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));

        let long_value = format!("<a b=\"{}\"/>", "x".repeat(70_000));
        let error = read_all(long_value.as_bytes(), limits()).unwrap_err();
        assert!(error.0.contains("longer than 65536"), "{error}");

        let wide = format!("<a>{}</a>", "<b/>".repeat(50_001));
        let error = read_all(wide.as_bytes(), limits()).unwrap_err();
        assert!(error.0.contains("more than 50000 children"), "{error}");

        let error = read_all(&[b' '; 100], Limits::with_max_size(10)).unwrap_err();
        assert!(error.0.contains("larger than 10 bytes"), "{error}");
    }

    #[test]
    fn documents_within_the_limits_are_read() {
        let ok = format!("<a>{}</a>", "<b x=\"1\"/>".repeat(1000));
        assert_eq!(read_all(ok.as_bytes(), limits()), Ok(1001));
        let nested = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(read_all(nested.as_bytes(), limits()), Ok(100));
    }

    #[test]
    fn floats_use_the_xsd_forms() {
        assert_eq!(parse_float("INF"), Some(f64::INFINITY));
        assert_eq!(parse_float("-INF"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("1.5E3"), Some(1500.0));
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("nan"), None);
    }
}
