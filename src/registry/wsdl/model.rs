//! WSDL 1.1 and XSD documents read into an owned model: every global component keyed by its
//! qualified name, every local declaration with the place it was written. Nothing here decides
//! how the model becomes descriptors (`build.rs` does).

use std::collections::HashMap;
use std::sync::Arc;

use roxmltree::Node;

use crate::config::Pos;

mod wsdl;
mod xsd;

pub(crate) use wsdl::definitions;

pub(crate) const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// Drafts of XSD that old WSDLs still name; read as XSD.
const XSD_OLD: [&str; 2] = [
    "http://www.w3.org/2000/10/XMLSchema",
    "http://www.w3.org/1999/XMLSchema",
];
pub(crate) const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
pub(crate) const WSDL20: &str = "http://www.w3.org/ns/wsdl";
pub(crate) const SOAP11_BINDING: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
pub(crate) const SOAP12_BINDING: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
pub(crate) const SOAP_ENCODING: &str = "http://schemas.xmlsoap.org/soap/encoding/";

pub(crate) fn is_xsd(ns: &str) -> bool {
    ns == XSD || XSD_OLD.contains(&ns)
}

/// A qualified name; an empty namespace is no namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    pub ns: Arc<str>,
    pub local: Arc<str>,
}

impl QName {
    pub fn new(ns: &str, local: &str) -> Self {
        QName {
            ns: ns.into(),
            local: local.into(),
        }
    }
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.ns.is_empty() {
            f.write_str(&self.local)
        } else {
            write!(f, "{{{}}}{}", self.ns, self.local)
        }
    }
}

/// `maxOccurs="unbounded"`.
pub(crate) const UNBOUNDED: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub enum TypeRef {
    Named(QName),
    Anonymous(Arc<TypeDef>),
}

#[derive(Debug)]
pub enum TypeDef {
    Simple(SimpleType),
    Complex(ComplexType),
}

#[derive(Debug, Clone)]
pub struct ElementDecl {
    /// With its namespace when the element is qualified.
    pub name: QName,
    /// `None`: no type given, which is `xsd:anyType`.
    pub ty: Option<TypeRef>,
    pub nillable: bool,
    pub is_abstract: bool,
    /// Its `xsd:documentation`.
    pub doc: Option<Arc<str>>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct Particle {
    pub min: u32,
    pub max: u32,
    pub term: Term,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum Term {
    Element(Arc<ElementDecl>),
    ElementRef(QName),
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
    All(Vec<Particle>),
    GroupRef(QName),
    Any,
}

#[derive(Debug, Clone)]
pub enum AttributeUse {
    Decl {
        decl: Arc<AttributeDecl>,
        required: bool,
    },
    Ref {
        name: QName,
        required: bool,
        pos: Pos,
    },
    GroupRef(QName, Pos),
    /// `use="prohibited"` in a restriction: removes an inherited attribute.
    Prohibited(Arc<str>),
}

#[derive(Debug)]
pub struct AttributeDecl {
    pub name: QName,
    /// `None`: `xsd:anySimpleType`.
    pub ty: Option<TypeRef>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    Extension,
    Restriction,
}

#[derive(Debug)]
pub enum Content {
    /// Elements (or nothing).
    Elements(Option<Particle>),
    /// Text of a simple type, with attributes; a restriction's facets.
    Simple(Facets),
}

#[derive(Debug)]
pub struct ComplexType {
    pub name: Option<QName>,
    /// The base type and how this type derives from it.
    pub base: Option<(QName, Derivation)>,
    /// For simple content: the type of the text, when it is written here (a restriction's
    /// inline type) rather than inherited.
    pub content: Content,
    pub attributes: Vec<AttributeUse>,
    pub any_attribute: bool,
    pub mixed: bool,
    pub is_abstract: bool,
    /// Its `xsd:documentation`.
    pub doc: Option<Arc<str>>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Default)]
pub struct Facets {
    pub enumeration: Vec<String>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Vec<String>,
    pub min_inclusive: Option<String>,
    pub max_inclusive: Option<String>,
    pub min_exclusive: Option<String>,
    pub max_exclusive: Option<String>,
}

#[derive(Debug)]
pub enum SimpleVariety {
    Restriction(TypeRef),
    List(TypeRef),
    Union,
}

#[derive(Debug)]
pub struct SimpleType {
    pub name: Option<QName>,
    pub variety: SimpleVariety,
    pub facets: Facets,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct Group {
    pub particle: Option<Particle>,
}

#[derive(Debug)]
pub struct AttributeGroup {
    pub attributes: Vec<AttributeUse>,
    pub any_attribute: bool,
}

/// Every global component of every schema read.
#[derive(Debug, Default)]
pub struct Schemas {
    pub elements: HashMap<QName, Arc<ElementDecl>>,
    pub types: HashMap<QName, Arc<TypeDef>>,
    pub groups: HashMap<QName, Arc<Group>>,
    pub attribute_groups: HashMap<QName, Arc<AttributeGroup>>,
    pub attributes: HashMap<QName, Arc<AttributeDecl>>,
}

// --- WSDL ---

#[derive(Debug)]
pub struct Part {
    pub name: String,
    pub element: Option<QName>,
    pub ty: Option<QName>,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct WsdlMessage {
    pub parts: Vec<Part>,
}

#[derive(Debug)]
pub struct OperationDef {
    pub name: String,
    pub input: Option<QName>,
    pub output: Option<QName>,
    /// Name and message of each fault.
    pub faults: Vec<(String, QName)>,
    /// Its `wsdl:documentation`.
    pub doc: Option<Arc<str>>,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct PortType {
    pub operations: Vec<OperationDef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Document,
    Rpc,
}

#[derive(Debug, Clone, Default)]
pub struct BodyBinding {
    pub encoded: bool,
    /// rpc style: the namespace of the wrapper element.
    pub namespace: Option<String>,
    /// The parts in the body; `None` for all of them.
    pub parts: Option<Vec<String>>,
    /// `soap:header`: message and part.
    pub headers: Vec<(QName, String)>,
}

#[derive(Debug)]
pub struct BindingOperation {
    pub name: String,
    pub action: Option<String>,
    pub style: Option<Style>,
    pub input: BodyBinding,
    pub output: BodyBinding,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct Binding {
    pub port_type: QName,
    /// `None` for bindings that are not SOAP (HTTP, MIME).
    pub soap: Option<SoapVersion>,
    pub style: Style,
    pub operations: Vec<BindingOperation>,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct Port {
    pub name: String,
    pub binding: QName,
    pub address: Option<String>,
    pub pos: Pos,
}

#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub ports: Vec<Port>,
    pub pos: Pos,
}

#[derive(Debug, Default)]
pub struct Definitions {
    pub messages: HashMap<QName, WsdlMessage>,
    pub port_types: HashMap<QName, PortType>,
    pub bindings: HashMap<QName, Binding>,
    pub services: Vec<Service>,
}

// --- reading ---

/// The place of `node` in its document.
pub(crate) fn pos_of(file: &Arc<str>, node: Node) -> Pos {
    let at = node.document().text_pos_at(node.range().start);
    Pos {
        file: file.clone(),
        line: at.row as u64,
        column: at.col as u64,
    }
}

/// Looks up a component by name. A reference whose namespace matches nothing is resolved by
/// its local name when exactly one component has that name: WSDLs in the wild misqualify
/// references, and node-soap and zeep forgive it.
pub(crate) fn lookup<'m, V>(map: &'m HashMap<QName, V>, name: &QName) -> Option<&'m V> {
    map.get(name).or_else(|| {
        let mut found = map.iter().filter(|(k, _)| k.local == name.local);
        let first = found.next()?;
        found.next().is_none().then_some(first.1)
    })
}

/// A problem at a place in a schema document.
pub(crate) use crate::config::Problem;

/// Resolves a QName-valued attribute (`tns:Foo`) against the namespaces in scope at `node`.
/// An unprefixed name takes the default namespace, or `no_prefix` when there is none (the
/// target namespace of a chameleon include).
pub(crate) fn resolve_qname(
    node: Node,
    value: &str,
    no_prefix: &str,
    file: &Arc<str>,
) -> Result<QName, Problem> {
    let (prefix, local) = match value.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, value),
    };
    let _ = file;
    // An undeclared prefix gets a namespace of its own; `lookup` may still find the component
    // by its local name.
    let undeclared;
    let ns = match prefix {
        Some(p) => match node.lookup_namespace_uri(Some(p)) {
            Some(ns) => ns,
            None => {
                undeclared = format!("urn:rosetta:undeclared:{p}");
                &undeclared
            }
        },
        None => node.lookup_namespace_uri(None).unwrap_or(no_prefix),
    };
    let ns = if is_xsd(ns) { XSD } else { ns };
    Ok(QName::new(ns, local.trim()))
}

/// What a schema document is read with.
pub(crate) struct SchemaContext {
    pub file: Arc<str>,
    pub target: Arc<str>,
    /// For unprefixed references in a chameleon include: the includer's namespace.
    pub no_prefix: Arc<str>,
    pub elements_qualified: bool,
    pub attributes_qualified: bool,
}

/// A schema document read: its components go into `schemas`; its imports and includes are
/// returned (location, and for an include the namespace it takes on).
pub(crate) struct SchemaRefs {
    pub imports: Vec<(String, Pos)>,
    pub includes: Vec<(String, Pos)>,
}

/// The text of a node's `xsd:annotation/xsd:documentation` (or `wsdl:documentation`), each
/// line trimmed.
fn documentation(node: Node) -> Option<Arc<str>> {
    let is = |n: &Node, name: &str| n.is_element() && n.tag_name().name() == name;
    let docs = node.children().flat_map(|child| {
        let direct = is(&child, "documentation").then_some(child);
        let annotated = is(&child, "annotation")
            .then(|| child.children().filter(|n| is(n, "documentation")))
            .into_iter()
            .flatten();
        direct.into_iter().chain(annotated)
    });
    let text: Vec<String> = docs
        .flat_map(|doc| {
            doc.descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
        })
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    (!text.is_empty()).then(|| text.join("\n").into())
}
