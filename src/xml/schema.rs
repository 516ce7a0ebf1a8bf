//! What XML needs beyond a message descriptor (design.md section 1): for every field, its
//! element or attribute name and namespace, its place in the document, and its XSD type.

use std::collections::HashMap;
use std::sync::Arc;

use crate::registry::wsdl::model::{Facets, QName};

/// The XML facts of every message made from a WSDL, by message full name.
#[derive(Debug, Default)]
pub struct XmlSchema {
    pub messages: HashMap<String, Arc<XmlMessage>>,
}

impl XmlSchema {
    pub fn message(&self, full_name: &str) -> Option<&Arc<XmlMessage>> {
        self.messages.get(full_name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Fields are attributes, child elements and text.
    Plain,
    /// The stand-in of an element that may be `xsi:nil`: field 1 holds the value, absent
    /// when the element is nil.
    Nillable,
    /// A complex type with derived types: one field per concrete type (a oneof), each
    /// written with its `xsi:type`.
    Polymorphic,
}

#[derive(Debug)]
pub struct XmlMessage {
    pub kind: MessageKind,
    /// Attributes first, then elements in schema order, then text.
    pub fields: Vec<XmlField>,
}

impl XmlMessage {
    /// The field for a child element or attribute, by namespace and local name; an element
    /// whose namespace does not match is still found by its local name (servers get
    /// qualification wrong more often than they reuse a local name).
    pub fn find(&self, role: Role, ns: &str, local: &str) -> Option<&XmlField> {
        self.find_from(role, ns, local, &mut 0)
    }

    /// `find`, looking first at the field `hint` and after it: documents list their elements
    /// in schema order, so the next element is almost always at or just after the last one.
    /// `hint` is moved to the field found.
    pub fn find_from(
        &self,
        role: Role,
        ns: &str,
        local: &str,
        hint: &mut usize,
    ) -> Option<&XmlField> {
        let start = (*hint).min(self.fields.len());
        let (after, before) = self.fields.split_at(start);
        let mut candidates = before
            .iter()
            .chain(after)
            .enumerate()
            .filter(|(_, f)| f.role == role && &*f.name == local);
        let (i, first) = candidates.next()?;
        let (i, found) = if &*first.ns == ns {
            (i, first)
        } else {
            candidates.find(|(_, f)| &*f.ns == ns).unwrap_or((i, first))
        };
        *hint = (start + i) % self.fields.len();
        Some(found)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Element,
    Attribute,
    /// The text of an element with simple content (`$value`), or of mixed content.
    Text,
    /// `xsd:any`: the elements as raw XML text.
    Any,
    /// A `soap:header` part of an operation's message.
    Header,
}

#[derive(Debug, Clone)]
pub struct XmlField {
    pub number: u32,
    pub name: Arc<str>,
    /// Empty when unqualified.
    pub ns: Arc<str>,
    /// The name as written, with the prefix of its namespace (`ns1:order`).
    pub tag: String,
    /// The protobuf type of the value (of the stand-in's value, for a nillable element).
    pub wire: WireKind,
    pub role: Role,
    pub value: XmlValue,
    pub repeated: bool,
    /// The field's type is a nillable stand-in (`MessageKind::Nillable`).
    pub nillable: bool,
    /// For the members of a polymorphic message: the type written as `xsi:type`.
    pub xsi_type: Option<QName>,
}

/// How a value is written in protobuf wire form.
#[derive(Debug, Clone, PartialEq)]
pub enum WireKind {
    Scalar(prost_types::field_descriptor_proto::Type),
    /// A message, by full name.
    Message(String),
}

#[derive(Debug, Clone)]
pub enum XmlValue {
    Simple(Arc<SimpleInfo>),
    /// A complex type: the field's message.
    Complex,
    /// `xsd:anyType`: the element's content as raw XML text.
    Raw,
}

/// An XSD simple type as the codec needs it.
#[derive(Debug, Clone, Default)]
pub struct SimpleInfo {
    /// The built-in type it derives from (`decimal`, `dateTime`, ...).
    pub builtin: Arc<str>,
    pub check: Check,
    pub facets: Facets,
    /// The `pattern` facets, compiled (a value must match every one).
    pub patterns: Vec<crate::pattern::Pattern>,
    /// `xsd:list`: a space-separated list, a repeated field.
    pub list: bool,
}

/// Lexical checks on values of types that protobuf holds more loosely.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Check {
    #[default]
    None,
    Decimal,
    /// An arbitrary-size integer, with bounds on its sign.
    Integer {
        min_sign: i8,
        max_sign: i8,
    },
    Range(i64, i64),
}
