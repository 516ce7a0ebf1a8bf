//! XML to messages: a streaming, namespace-aware reader (quick-xml's `NsReader`) driven by the
//! schema, never by the document: arrays come from `maxOccurs`, numbers from the XSD type.
//! Every event passes the input limits first, so a hostile document costs bounded memory
//! and time: no DTD is read at all, so no entity can expand.

use base64::Engine;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::schema::{MessageKind, Role, SimpleInfo, XmlField, XmlMessage, XmlSchema, XmlValue};
use super::{Limits, XmlError, SOAP11_ENV, SOAP12_ENV, XSI};
use crate::registry::wsdl::build::SoapBody;

/// One start tag as the reader keeps it: its resolved name and its checked attributes.
struct Start {
    ns: String,
    local: String,
    /// (namespace, local name, value), `xmlns` declarations left out.
    attributes: Vec<(String, String, String)>,
    empty: bool,
}

impl Start {
    fn xsi(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(ns, local, _)| ns == XSI && local == name)
            .map(|(.., v)| v.as_str())
    }

    fn is_nil(&self) -> bool {
        matches!(self.xsi("nil"), Some("true" | "1"))
    }
}

enum Item {
    Start(Start),
    Text(String),
    End,
}

pub struct Reader<'a> {
    reader: NsReader<&'a [u8]>,
    limits: Limits,
    /// Children seen so far, per open element.
    children: Vec<usize>,
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
            reader,
            limits,
            children: vec![0],
        })
    }

    fn next(&mut self) -> Result<Item, XmlError> {
        loop {
            let (resolved, event) = self
                .reader
                .read_resolved_event()
                .map_err(|e| XmlError::new(format!("not well-formed XML: {e}")))?;
            let ns = match resolved {
                ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(p) => {
                    return Err(XmlError::new(format!(
                        "namespace prefix `{}` is not declared",
                        String::from_utf8_lossy(&p)
                    )))
                }
            };
            match event {
                Event::Start(e) => return self.start(ns, &e, false).map(Item::Start),
                Event::Empty(e) => return self.start(ns, &e, true).map(Item::Start),
                Event::End(_) => {
                    self.children.pop();
                    return Ok(Item::End);
                }
                Event::Text(t) => {
                    let text = t
                        .xml_content()
                        .map_err(|e| XmlError::new(format!("bad text: {e}")))?;
                    return Ok(Item::Text(text.into_owned()));
                }
                Event::CData(t) => {
                    let text = t
                        .decode()
                        .map_err(|e| XmlError::new(format!("bad CDATA: {e}")))?;
                    return Ok(Item::Text(text.into_owned()));
                }
                Event::GeneralRef(r) => {
                    if let Some(c) = r
                        .resolve_char_ref()
                        .map_err(|e| XmlError::new(format!("bad character reference: {e}")))?
                    {
                        return Ok(Item::Text(c.to_string()));
                    }
                    let name = String::from_utf8_lossy(&r).into_owned();
                    return match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(text) => Ok(Item::Text(text.to_owned())),
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

    fn start(&mut self, ns: String, e: &BytesStart, empty: bool) -> Result<Start, XmlError> {
        let count = self
            .children
            .last_mut()
            .expect("the document level is never closed");
        *count += 1;
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
        let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let mut attributes = Vec::new();
        for (i, attribute) in e.attributes().enumerate() {
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
                ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                _ => String::new(),
            };
            let value = attribute
                .unescape_value()
                .map_err(|e| XmlError::new(format!("bad attribute value: {e}")))?;
            attributes.push((
                attr_ns,
                String::from_utf8_lossy(name.as_ref()).into_owned(),
                value.into_owned(),
            ));
        }
        Ok(Start {
            ns,
            local,
            attributes,
            empty,
        })
    }

    /// Skips the rest of an element whose start was read.
    fn skip(&mut self, start: &Start) -> Result<(), XmlError> {
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
    fn text(&mut self, start: &Start) -> Result<String, XmlError> {
        let mut text = String::new();
        if start.empty {
            return Ok(text);
        }
        loop {
            match self.next()? {
                Item::Text(t) => text.push_str(&t),
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
    fn raw(&mut self, start: Start, with_tag: bool) -> Result<String, XmlError> {
        let mut out = String::new();
        fn open(out: &mut String, s: &Start) {
            out.push('<');
            out.push_str(&s.local);
            if !s.ns.is_empty() {
                out.push_str(" xmlns=\"");
                out.push_str(&quick_xml::escape::escape(s.ns.as_str()));
                out.push('"');
            }
            for (ns, local, value) in &s.attributes {
                out.push(' ');
                if ns == XSI {
                    out.push_str("xmlns:xsi=\"");
                    out.push_str(XSI);
                    out.push_str("\" xsi:");
                }
                out.push_str(local);
                out.push_str("=\"");
                out.push_str(&quick_xml::escape::escape(value.as_str()));
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
        let mut open_names = vec![start.local.clone()];
        while !open_names.is_empty() {
            match self.next()? {
                Item::Start(s) => {
                    open(&mut out, &s);
                    if !s.empty {
                        open_names.push(s.local);
                    }
                }
                Item::Text(t) => out.push_str(&quick_xml::escape::escape(t.as_str())),
                Item::End => {
                    let name = open_names.pop().unwrap_or_default();
                    if !open_names.is_empty() || with_tag {
                        out.push_str("</");
                        out.push_str(&name);
                        out.push('>');
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Reads a document into messages of one schema.
pub struct Decoder<'s> {
    pub schema: &'s XmlSchema,
}

impl Decoder<'_> {
    fn xml_of(&self, desc: &MessageDescriptor) -> Result<&XmlMessage, XmlError> {
        self.schema
            .message(desc.full_name())
            .map(|m| m.as_ref())
            .ok_or_else(|| XmlError::new(format!("no XML facts for {}", desc.full_name())))
    }

    /// Fills `message` from the attributes and content of `start`, up to its end tag.
    fn content(
        &self,
        reader: &mut Reader,
        start: &Start,
        message: &mut DynamicMessage,
        roles: &[Role],
    ) -> Result<(), XmlError> {
        let desc = message.descriptor();
        let xml = self.xml_of(&desc)?;
        for (ns, local, value) in &start.attributes {
            if ns == XSI {
                continue;
            }
            if let Some(field) = xml.find(Role::Attribute, ns, local) {
                let fd = field_of(&desc, field)?;
                set_simple(message, &fd, field, value)?;
            }
        }
        if start.empty {
            return Ok(());
        }
        let text_field = xml.fields.iter().find(|f| f.role == Role::Text);
        let mut text = String::new();
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
                        .find_map(|role| xml.find(*role, &child.ns, &child.local))
                        .or_else(|| xml.fields.iter().find(|f| f.role == Role::Any));
                    match field {
                        Some(field) => self.field(reader, child, message, field)?,
                        None => reader.skip(&child)?,
                    }
                }
            }
        }
        if let Some(field) = text_field {
            let fd = field_of(&desc, field)?;
            set_simple(message, &fd, field, &text)?;
        }
        Ok(())
    }

    /// One child element into its field.
    fn field(
        &self,
        reader: &mut Reader,
        start: Start,
        message: &mut DynamicMessage,
        field: &XmlField,
    ) -> Result<(), XmlError> {
        let desc = message.descriptor();
        let fd = field_of(&desc, field)?;
        if field.role == Role::Any {
            let raw = reader.raw(start, true)?;
            return push(message, &fd, Value::String(raw));
        }
        let nil = start.is_nil();
        if field.nillable {
            let Kind::Message(wrapper) = fd.kind() else {
                return Err(XmlError::new("a nillable field is not a message"));
            };
            let mut holder = DynamicMessage::new(wrapper.clone());
            if nil {
                reader.skip(&start)?;
            } else {
                let inner = wrapper
                    .get_field(1)
                    .ok_or_else(|| XmlError::new("a nillable stand-in has no value"))?;
                self.value(reader, start, &mut holder, &inner, field)?;
            }
            return push(message, &fd, Value::Message(holder));
        }
        if nil {
            return reader.skip(&start);
        }
        self.value(reader, start, message, &fd, field)
    }

    /// The value of one element into field `fd` of `message`.
    fn value(
        &self,
        reader: &mut Reader,
        start: Start,
        message: &mut DynamicMessage,
        fd: &FieldDescriptor,
        field: &XmlField,
    ) -> Result<(), XmlError> {
        match (&field.value, fd.kind()) {
            (XmlValue::Raw, _) => {
                let raw = reader.raw(start, false)?;
                push(message, fd, Value::String(raw))
            }
            (XmlValue::Simple(_), _) => {
                let text = reader.text(&start)?;
                set_simple(message, fd, field, &text)
            }
            (XmlValue::Complex, Kind::Message(desc)) => {
                let mut inner = DynamicMessage::new(desc.clone());
                if self.xml_of(&desc)?.kind == MessageKind::Polymorphic {
                    self.polymorphic(reader, &start, &mut inner)?;
                } else {
                    self.content(reader, &start, &mut inner, &[Role::Element])?;
                }
                push(message, fd, Value::Message(inner))
            }
            _ => Err(XmlError::new(format!(
                "field `{}` does not hold a message",
                fd.name()
            ))),
        }
    }

    /// An element of a type with derived types: the member its `xsi:type` names.
    fn polymorphic(
        &self,
        reader: &mut Reader,
        start: &Start,
        holder: &mut DynamicMessage,
    ) -> Result<(), XmlError> {
        let desc = holder.descriptor();
        let xml = self.xml_of(&desc)?;
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
        let fd = field_of(&desc, member)?;
        let Kind::Message(member_desc) = fd.kind() else {
            return Err(XmlError::new("a polymorphic member is not a message"));
        };
        let mut inner = DynamicMessage::new(member_desc);
        self.content(reader, start, &mut inner, &[Role::Element])?;
        holder.set_field(&fd, Value::Message(inner));
        Ok(())
    }
}

fn field_of(desc: &MessageDescriptor, field: &XmlField) -> Result<FieldDescriptor, XmlError> {
    desc.get_field(field.number).ok_or_else(|| {
        XmlError::new(format!(
            "{} has no field {}",
            desc.full_name(),
            field.number
        ))
    })
}

fn push(message: &mut DynamicMessage, fd: &FieldDescriptor, value: Value) -> Result<(), XmlError> {
    if fd.is_list() {
        if let Value::List(list) = message.get_field_mut(fd) {
            list.push(value);
        }
    } else {
        message.set_field(fd, value);
    }
    Ok(())
}

/// Sets a simple value (or the space-separated items of a list) from its text.
fn set_simple(
    message: &mut DynamicMessage,
    fd: &FieldDescriptor,
    field: &XmlField,
    text: &str,
) -> Result<(), XmlError> {
    let info = match &field.value {
        XmlValue::Simple(info) => info.as_ref(),
        _ => &SimpleInfo::default(),
    };
    let kind = fd.kind();
    if info.list && fd.is_list() {
        for item in text.split_whitespace() {
            push(message, fd, parse_simple(&kind, info, item, fd)?)?;
        }
        return Ok(());
    }
    let value = parse_simple(&kind, info, text, fd)?;
    push(message, fd, value)
}

/// A value of an XSD simple type from its text, as the field's protobuf kind.
pub fn parse_simple(
    kind: &Kind,
    info: &SimpleInfo,
    text: &str,
    fd: &FieldDescriptor,
) -> Result<Value, XmlError> {
    let trimmed = text.trim();
    let bad = || {
        XmlError::new(format!(
            "`{}` is not a valid {} for `{}`",
            trimmed.chars().take(64).collect::<String>(),
            info.builtin,
            fd.json_name()
        ))
    };
    Ok(match kind {
        Kind::String => Value::String(if info.builtin.as_ref() == "string" {
            text.to_owned()
        } else {
            trimmed.to_owned()
        }),
        Kind::Bool => Value::Bool(match trimmed {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad()),
        }),
        Kind::Int32 => Value::I32(trimmed.trim_start_matches('+').parse().map_err(|_| bad())?),
        Kind::Int64 => Value::I64(trimmed.trim_start_matches('+').parse().map_err(|_| bad())?),
        Kind::Uint32 => Value::U32(trimmed.trim_start_matches('+').parse().map_err(|_| bad())?),
        Kind::Uint64 => Value::U64(trimmed.trim_start_matches('+').parse().map_err(|_| bad())?),
        Kind::Float => Value::F32(parse_float(trimmed).ok_or_else(bad)? as f32),
        Kind::Double => Value::F64(parse_float(trimmed).ok_or_else(bad)?),
        Kind::Bytes => {
            let compact: String = trimmed.split_whitespace().collect();
            Value::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|_| bad())?
                    .into(),
            )
        }
        _ => return Err(bad()),
    })
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

/// A SOAP fault as read from a response.
#[derive(Debug)]
pub struct Fault {
    /// The local part of the code (`Client`, `Server.NotFound`, `Sender`, ...).
    pub code: String,
    /// SOAP 1.2: the local part of the first subcode.
    pub subcode: Option<String>,
    pub reason: String,
    /// The detail converted by its `wsdl:fault` message, when one matched.
    pub detail: Option<DynamicMessage>,
    /// The detail as XML text, when none matched.
    pub raw_detail: Option<String>,
}

/// What a response envelope holds.
#[derive(Debug)]
pub enum Response {
    Message(DynamicMessage),
    Fault(Fault),
}

fn is_envelope_ns(ns: &str) -> bool {
    ns == SOAP11_ENV || ns == SOAP12_ENV
}

impl Decoder<'_> {
    /// Reads a response envelope: its headers and body into `output`, or its fault.
    /// `faults`: the fault detail elements of the operation and their messages.
    pub fn envelope(
        &self,
        input: &[u8],
        limits: Limits,
        body: &SoapBody,
        output: MessageDescriptor,
        faults: &[(MessageDescriptor, String, String)],
    ) -> Result<Response, XmlError> {
        let mut reader = Reader::new(input, limits)?;
        let envelope = loop {
            match reader.next()? {
                Item::Start(s) => break s,
                Item::Text(t) if t.trim().is_empty() => {}
                _ => return Err(XmlError::new("the response is not a SOAP envelope")),
            }
        };
        if envelope.local != "Envelope" || !is_envelope_ns(&envelope.ns) {
            return Err(XmlError::new(format!(
                "expected a SOAP Envelope, found `{}`",
                envelope.local
            )));
        }
        let mut message = DynamicMessage::new(output);
        loop {
            let section = match reader.next()? {
                Item::Start(s) => s,
                Item::End => return Err(XmlError::new("the envelope has no Body")),
                Item::Text(_) => continue,
            };
            match section.local.as_str() {
                "Header" => self.content(&mut reader, &section, &mut message, &[Role::Header])?,
                "Body" => return self.body(&mut reader, &section, body, message, faults),
                _ => reader.skip(&section)?,
            }
        }
    }

    fn body(
        &self,
        reader: &mut Reader,
        section: &Start,
        body: &SoapBody,
        mut message: DynamicMessage,
        faults: &[(MessageDescriptor, String, String)],
    ) -> Result<Response, XmlError> {
        if section.empty {
            return Ok(Response::Message(message));
        }
        match &body.wrapper {
            None => {
                // The parts are the Body's children; a Fault is one of them.
                loop {
                    match reader.next()? {
                        Item::End => return Ok(Response::Message(message)),
                        Item::Text(_) => {}
                        Item::Start(child) => {
                            if child.local == "Fault" && is_envelope_ns(&child.ns) {
                                return self.fault(reader, &child, faults).map(Response::Fault);
                            }
                            let xml = self.xml_of(&message.descriptor())?;
                            match xml.find(Role::Element, &child.ns, &child.local) {
                                Some(field) => {
                                    let field = field.clone();
                                    self.field(reader, child, &mut message, &field)?
                                }
                                None => reader.skip(&child)?,
                            }
                        }
                    }
                }
            }
            Some(_) => loop {
                match reader.next()? {
                    Item::End => return Ok(Response::Message(message)),
                    Item::Text(_) => {}
                    Item::Start(child) => {
                        if child.local == "Fault" && is_envelope_ns(&child.ns) {
                            return self.fault(reader, &child, faults).map(Response::Fault);
                        }
                        self.content(reader, &child, &mut message, &[Role::Element])?;
                        // Whatever follows the wrapper is not part of the message.
                        loop {
                            match reader.next()? {
                                Item::End => return Ok(Response::Message(message)),
                                Item::Start(s) => reader.skip(&s)?,
                                Item::Text(_) => {}
                            }
                        }
                    }
                }
            },
        }
    }

    /// A `Fault` element, SOAP 1.1 or 1.2.
    fn fault(
        &self,
        reader: &mut Reader,
        start: &Start,
        faults: &[(MessageDescriptor, String, String)],
    ) -> Result<Fault, XmlError> {
        let mut fault = Fault {
            code: String::new(),
            subcode: None,
            reason: String::new(),
            detail: None,
            raw_detail: None,
        };
        if start.empty {
            return Ok(fault);
        }
        let local_part = |q: &str| q.trim().rsplit(':').next().unwrap_or("").to_owned();
        loop {
            let child = match reader.next()? {
                Item::End => return Ok(fault),
                Item::Text(_) => continue,
                Item::Start(s) => s,
            };
            match child.local.as_str() {
                "faultcode" => fault.code = local_part(&reader.text(&child)?),
                "faultstring" => fault.reason = reader.text(&child)?.trim().to_owned(),
                "Code" => {
                    // <Value>, then an optional <Subcode><Value>.
                    self.code(reader, &child, &mut fault, 0)?;
                }
                "Reason" => {
                    let mut first = true;
                    loop {
                        match reader.next()? {
                            Item::End => break,
                            Item::Start(t) => {
                                let text = reader.text(&t)?;
                                if first {
                                    fault.reason = text.trim().to_owned();
                                    first = false;
                                }
                            }
                            Item::Text(_) => {}
                        }
                    }
                }
                "detail" | "Detail" => self.detail(reader, &child, &mut fault, faults)?,
                _ => reader.skip(&child)?,
            }
        }
    }

    fn code(
        &self,
        reader: &mut Reader,
        start: &Start,
        fault: &mut Fault,
        level: usize,
    ) -> Result<(), XmlError> {
        if start.empty {
            return Ok(());
        }
        loop {
            match reader.next()? {
                Item::End => return Ok(()),
                Item::Text(_) => {}
                Item::Start(s) if s.local == "Value" => {
                    let text = reader.text(&s)?;
                    let local = text.trim().rsplit(':').next().unwrap_or("").to_owned();
                    if level == 0 {
                        fault.code = local;
                    } else if fault.subcode.is_none() {
                        fault.subcode = Some(local);
                    }
                }
                Item::Start(s) if s.local == "Subcode" => {
                    self.code(reader, &s, fault, level + 1)?
                }
                Item::Start(s) => reader.skip(&s)?,
            }
        }
    }

    fn detail(
        &self,
        reader: &mut Reader,
        start: &Start,
        fault: &mut Fault,
        faults: &[(MessageDescriptor, String, String)],
    ) -> Result<(), XmlError> {
        if start.empty {
            return Ok(());
        }
        let mut raw = String::new();
        loop {
            match reader.next()? {
                Item::End => break,
                Item::Text(t) => {
                    if !t.trim().is_empty() {
                        raw.push_str(&quick_xml::escape::escape(t.trim()));
                    }
                }
                Item::Start(child) => {
                    let known = faults.iter().find(|(_, ns, local)| {
                        local == &child.local && (ns == &child.ns || ns.is_empty())
                    });
                    match known {
                        Some((desc, ..)) if fault.detail.is_none() => {
                            let mut message = DynamicMessage::new(desc.clone());
                            self.content(reader, &child, &mut message, &[Role::Element])?;
                            fault.detail = Some(message);
                        }
                        _ => raw.push_str(&reader.raw(child, true)?),
                    }
                }
            }
        }
        if !raw.is_empty() {
            fault.raw_detail = Some(raw);
        }
        Ok(())
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
