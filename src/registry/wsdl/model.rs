//! WSDL 1.1 and XSD documents read into an owned model: every global component keyed by its
//! qualified name, every local declaration with the place it was written. Nothing here decides
//! how the model becomes descriptors (`build.rs` does).

use std::collections::HashMap;
use std::sync::Arc;

use roxmltree::Node;

use crate::config::Pos;

pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// Drafts of XSD that old WSDLs still name; read as XSD.
const XSD_OLD: [&str; 2] = [
    "http://www.w3.org/2000/10/XMLSchema",
    "http://www.w3.org/1999/XMLSchema",
];
pub const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
pub const WSDL20: &str = "http://www.w3.org/ns/wsdl";
pub const SOAP11_BINDING: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
pub const SOAP12_BINDING: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
pub const SOAP_ENCODING: &str = "http://schemas.xmlsoap.org/soap/encoding/";

pub fn is_xsd(ns: &str) -> bool {
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
pub const UNBOUNDED: u32 = u32::MAX;

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
pub fn pos_of(file: &Arc<str>, node: Node) -> Pos {
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
pub fn lookup<'m, V>(map: &'m HashMap<QName, V>, name: &QName) -> Option<&'m V> {
    map.get(name).or_else(|| {
        let mut found = map.iter().filter(|(k, _)| k.local == name.local);
        let first = found.next()?;
        found.next().is_none().then_some(first.1)
    })
}

/// A problem at a place in a schema document.
pub type Problem = (Pos, String);

/// Resolves a QName-valued attribute (`tns:Foo`) against the namespaces in scope at `node`.
/// An unprefixed name takes the default namespace, or `no_prefix` when there is none (the
/// target namespace of a chameleon include).
pub fn resolve_qname(
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
pub struct SchemaContext {
    pub file: Arc<str>,
    pub target: Arc<str>,
    /// For unprefixed references in a chameleon include: the includer's namespace.
    pub no_prefix: Arc<str>,
    pub elements_qualified: bool,
    pub attributes_qualified: bool,
}

/// A schema document read: its components go into `schemas`; its imports and includes are
/// returned (location, and for an include the namespace it takes on).
pub struct SchemaRefs {
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

fn xsd_children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(|n| n.is_element() && n.tag_name().namespace().is_some_and(is_xsd))
}

fn occurs(node: Node, name: &str, file: &Arc<str>) -> Result<u32, Problem> {
    match node.attribute(name) {
        None => Ok(1),
        Some("unbounded") => Ok(UNBOUNDED),
        Some(v) => v.trim().parse().map_err(|_| {
            (
                pos_of(file, node),
                format!("`{name}=\"{v}\"` is not a number or `unbounded`"),
            )
        }),
    }
}

impl SchemaContext {
    pub fn new(file: Arc<str>, schema: Node, chameleon: Option<Arc<str>>) -> Self {
        let own = schema.attribute("targetNamespace").unwrap_or("");
        let target: Arc<str> = match (&chameleon, own) {
            (Some(tns), "") => tns.clone(),
            _ => own.into(),
        };
        SchemaContext {
            no_prefix: if own.is_empty() {
                target.clone()
            } else {
                "".into()
            },
            file,
            target,
            elements_qualified: schema.attribute("elementFormDefault") == Some("qualified"),
            attributes_qualified: schema.attribute("attributeFormDefault") == Some("qualified"),
        }
    }

    fn pos(&self, node: Node) -> Pos {
        pos_of(&self.file, node)
    }

    fn qname(&self, node: Node, value: &str) -> Result<QName, Problem> {
        resolve_qname(node, value, &self.no_prefix, &self.file)
    }

    fn global(&self, node: Node) -> Result<QName, Problem> {
        let name = node
            .attribute("name")
            .ok_or_else(|| (self.pos(node), "a global declaration needs a `name`".into()))?;
        Ok(QName::new(&self.target, name))
    }

    fn unsupported(&self, node: Node) -> Problem {
        (
            self.pos(node),
            format!(
                "XSD construct `{}` is not supported here",
                node.tag_name().name()
            ),
        )
    }

    /// Reads the top level of `<xsd:schema>`. A global component that cannot be read is left
    /// out with a warning (the operations that need it are left out in turn).
    pub fn schema(
        &self,
        schema: Node,
        out: &mut Schemas,
        warnings: &mut Vec<Problem>,
    ) -> SchemaRefs {
        let mut refs = SchemaRefs {
            imports: Vec::new(),
            includes: Vec::new(),
        };
        for child in xsd_children(schema) {
            if let Err((pos, message)) = self.component(child, out, &mut refs) {
                let what = child
                    .attribute("name")
                    .map(|n| format!(" `{n}`"))
                    .unwrap_or_default();
                warnings.push((
                    pos,
                    format!(
                        "{message}; the {}{what} is left out",
                        child.tag_name().name()
                    ),
                ));
            }
        }
        refs
    }

    fn component(
        &self,
        child: Node,
        out: &mut Schemas,
        refs: &mut SchemaRefs,
    ) -> Result<(), Problem> {
        {
            match child.tag_name().name() {
                "import" => {
                    if let Some(location) = child.attribute("schemaLocation") {
                        refs.imports.push((location.to_owned(), self.pos(child)));
                    }
                }
                "include" => {
                    if let Some(location) = child.attribute("schemaLocation") {
                        refs.includes.push((location.to_owned(), self.pos(child)));
                    }
                }
                "element" => {
                    let decl = self.element_decl(child, true)?;
                    out.elements.insert(decl.name.clone(), Arc::new(decl));
                }
                "complexType" => {
                    let name = self.global(child)?;
                    let ty = self.complex_type(child, Some(name.clone()))?;
                    out.types.insert(name, Arc::new(TypeDef::Complex(ty)));
                }
                "simpleType" => {
                    let name = self.global(child)?;
                    let ty = self.simple_type(child, Some(name.clone()))?;
                    out.types.insert(name, Arc::new(TypeDef::Simple(ty)));
                }
                "group" => {
                    let name = self.global(child)?;
                    let particle = self.group_content(child)?;
                    out.groups.insert(name, Arc::new(Group { particle }));
                }
                "attributeGroup" => {
                    let name = self.global(child)?;
                    let (attributes, any_attribute) = self.attributes(child)?;
                    out.attribute_groups.insert(
                        name,
                        Arc::new(AttributeGroup {
                            attributes,
                            any_attribute,
                        }),
                    );
                }
                "attribute" => {
                    let decl = self.attribute_decl(child, true)?;
                    out.attributes.insert(decl.name.clone(), Arc::new(decl));
                }
                "annotation" | "notation" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        Ok(())
    }

    fn element_decl(&self, node: Node, global: bool) -> Result<ElementDecl, Problem> {
        let name = node.attribute("name").ok_or_else(|| {
            (
                self.pos(node),
                "an element needs a `name` or a `ref`".into(),
            )
        })?;
        let qualified = global
            || match node.attribute("form") {
                Some(form) => form == "qualified",
                None => self.elements_qualified,
            };
        let ns: &str = if qualified { &self.target } else { "" };
        let mut ty = match node.attribute("type") {
            Some(t) => Some(TypeRef::Named(self.qname(node, t)?)),
            None => None,
        };
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "complexType" => {
                    ty = Some(TypeRef::Anonymous(Arc::new(TypeDef::Complex(
                        self.complex_type(child, None)?,
                    ))))
                }
                "simpleType" => {
                    ty = Some(TypeRef::Anonymous(Arc::new(TypeDef::Simple(
                        self.simple_type(child, None)?,
                    ))))
                }
                // Identity constraints constrain documents, not their shape.
                "annotation" | "unique" | "key" | "keyref" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        Ok(ElementDecl {
            name: QName::new(ns, name),
            ty,
            nillable: node.attribute("nillable") == Some("true"),
            is_abstract: node.attribute("abstract") == Some("true"),
            doc: documentation(node),
            pos: self.pos(node),
        })
    }

    fn particle(&self, node: Node) -> Result<Option<Particle>, Problem> {
        let file = &self.file;
        let min = occurs(node, "minOccurs", file)?;
        let max = occurs(node, "maxOccurs", file)?;
        let term = match node.tag_name().name() {
            "element" => match node.attribute("ref") {
                Some(r) => Term::ElementRef(self.qname(node, r)?),
                None => Term::Element(Arc::new(self.element_decl(node, false)?)),
            },
            "sequence" | "choice" | "all" => {
                let mut items = Vec::new();
                for child in xsd_children(node) {
                    if let Some(p) = self.particle(child)? {
                        items.push(p);
                    }
                }
                match node.tag_name().name() {
                    "sequence" => Term::Sequence(items),
                    "choice" => Term::Choice(items),
                    _ => Term::All(items),
                }
            }
            "group" => {
                let r = node
                    .attribute("ref")
                    .ok_or_else(|| (self.pos(node), "a local group needs a `ref`".to_owned()))?;
                Term::GroupRef(self.qname(node, r)?)
            }
            "any" => Term::Any,
            "annotation" => return Ok(None),
            _ => return Err(self.unsupported(node)),
        };
        if max == 0 {
            return Ok(None);
        }
        Ok(Some(Particle {
            min,
            max,
            term,
            pos: self.pos(node),
        }))
    }

    fn group_content(&self, node: Node) -> Result<Option<Particle>, Problem> {
        for child in xsd_children(node) {
            if child.tag_name().name() != "annotation" {
                return self.particle(child);
            }
        }
        Ok(None)
    }

    fn attribute_decl(&self, node: Node, global: bool) -> Result<AttributeDecl, Problem> {
        let name = node.attribute("name").ok_or_else(|| {
            (
                self.pos(node),
                "an attribute needs a `name` or a `ref`".into(),
            )
        })?;
        let qualified = global
            || match node.attribute("form") {
                Some(form) => form == "qualified",
                None => self.attributes_qualified,
            };
        let mut ty = match node.attribute("type") {
            Some(t) => Some(TypeRef::Named(self.qname(node, t)?)),
            None => None,
        };
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "simpleType" => {
                    ty = Some(TypeRef::Anonymous(Arc::new(TypeDef::Simple(
                        self.simple_type(child, None)?,
                    ))))
                }
                "annotation" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        Ok(AttributeDecl {
            name: QName::new(if qualified { &self.target } else { "" }, name),
            ty,
            pos: self.pos(node),
        })
    }

    /// The attribute uses among `node`'s children, and whether `anyAttribute` is one of them.
    fn attributes(&self, node: Node) -> Result<(Vec<AttributeUse>, bool), Problem> {
        let mut uses = Vec::new();
        let mut any = false;
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "attribute" => {
                    let required = child.attribute("use") == Some("required");
                    if child.attribute("use") == Some("prohibited") {
                        let name = child.attribute("name").or(child.attribute("ref"));
                        let local = name.map(|n| n.rsplit(':').next().unwrap_or(n));
                        uses.push(AttributeUse::Prohibited(local.unwrap_or("").into()));
                    } else if let Some(r) = child.attribute("ref") {
                        uses.push(AttributeUse::Ref {
                            name: self.qname(child, r)?,
                            required,
                            pos: self.pos(child),
                        });
                    } else {
                        uses.push(AttributeUse::Decl {
                            decl: Arc::new(self.attribute_decl(child, false)?),
                            required,
                        });
                    }
                }
                "attributeGroup" => {
                    let r = child.attribute("ref").ok_or_else(|| {
                        (
                            self.pos(child),
                            "a local attributeGroup needs a `ref`".to_owned(),
                        )
                    })?;
                    uses.push(AttributeUse::GroupRef(
                        self.qname(child, r)?,
                        self.pos(child),
                    ));
                }
                "anyAttribute" => any = true,
                _ => {}
            }
        }
        Ok((uses, any))
    }

    fn complex_type(&self, node: Node, name: Option<QName>) -> Result<ComplexType, Problem> {
        let mut ty = ComplexType {
            name,
            base: None,
            content: Content::Elements(None),
            attributes: Vec::new(),
            any_attribute: false,
            mixed: node.attribute("mixed") == Some("true"),
            is_abstract: node.attribute("abstract") == Some("true"),
            doc: documentation(node),
            pos: self.pos(node),
        };
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "sequence" | "choice" | "all" | "group" => {
                    ty.content = Content::Elements(self.particle(child)?);
                }
                "simpleContent" | "complexContent" => {
                    let simple = child.tag_name().name() == "simpleContent";
                    if child.attribute("mixed") == Some("true") {
                        ty.mixed = true;
                    }
                    let derivation = xsd_children(child)
                        .find(|n| n.tag_name().name() != "annotation")
                        .ok_or_else(|| {
                            (
                                self.pos(child),
                                "needs an `extension` or a `restriction`".to_owned(),
                            )
                        })?;
                    let how = match derivation.tag_name().name() {
                        "extension" => Derivation::Extension,
                        "restriction" => Derivation::Restriction,
                        _ => return Err(self.unsupported(derivation)),
                    };
                    let base = derivation
                        .attribute("base")
                        .ok_or_else(|| (self.pos(derivation), "needs a `base` type".to_owned()))?;
                    ty.base = Some((self.qname(derivation, base)?, how));
                    ty.content = if simple {
                        Content::Simple(self.facets(derivation))
                    } else {
                        Content::Elements(self.group_content_except_attributes(derivation)?)
                    };
                    let (attributes, any) = self.attributes(derivation)?;
                    ty.attributes = attributes;
                    ty.any_attribute = any;
                }
                "attribute" | "attributeGroup" | "anyAttribute" | "annotation" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        if ty.base.is_none() {
            let (attributes, any) = self.attributes(node)?;
            ty.attributes = attributes;
            ty.any_attribute = any;
        }
        Ok(ty)
    }

    fn group_content_except_attributes(&self, node: Node) -> Result<Option<Particle>, Problem> {
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "sequence" | "choice" | "all" | "group" => return self.particle(child),
                // Facets of a simple-content restriction, attributes: not particles.
                _ => {}
            }
        }
        Ok(None)
    }

    fn simple_type(&self, node: Node, name: Option<QName>) -> Result<SimpleType, Problem> {
        let pos = self.pos(node);
        for child in xsd_children(node) {
            let variety = match child.tag_name().name() {
                "restriction" => {
                    let base = match child.attribute("base") {
                        Some(b) => TypeRef::Named(self.qname(child, b)?),
                        None => self.inline_simple(child)?,
                    };
                    SimpleVariety::Restriction(base)
                }
                "list" => SimpleVariety::List(match child.attribute("itemType") {
                    Some(t) => TypeRef::Named(self.qname(child, t)?),
                    None => self.inline_simple(child)?,
                }),
                "union" => SimpleVariety::Union,
                "annotation" => continue,
                _ => return Err(self.unsupported(child)),
            };
            return Ok(SimpleType {
                name,
                variety,
                facets: self.facets(child),
                pos,
            });
        }
        Err((
            pos,
            "a simpleType needs a restriction, list or union".into(),
        ))
    }

    fn inline_simple(&self, node: Node) -> Result<TypeRef, Problem> {
        let inner = xsd_children(node)
            .find(|n| n.tag_name().name() == "simpleType")
            .ok_or_else(|| (self.pos(node), "needs a base type".to_owned()))?;
        Ok(TypeRef::Anonymous(Arc::new(TypeDef::Simple(
            self.simple_type(inner, None)?,
        ))))
    }

    fn facets(&self, node: Node) -> Facets {
        let mut facets = Facets::default();
        for child in xsd_children(node) {
            let value = child.attribute("value").unwrap_or("").to_owned();
            let number = || value.trim().parse::<usize>().ok();
            match child.tag_name().name() {
                "enumeration" => facets.enumeration.push(value),
                "length" => {
                    facets.min_length = number();
                    facets.max_length = number();
                }
                "minLength" => facets.min_length = number(),
                "maxLength" => facets.max_length = number(),
                "pattern" => facets.pattern.push(value),
                "minInclusive" => facets.min_inclusive = Some(value),
                "maxInclusive" => facets.max_inclusive = Some(value),
                "minExclusive" => facets.min_exclusive = Some(value),
                "maxExclusive" => facets.max_exclusive = Some(value),
                _ => {}
            }
        }
        facets
    }
}

// --- WSDL reading ---

fn wsdl_children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(|n| n.is_element() && n.tag_name().namespace() == Some(WSDL))
}

fn soap_child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<(Node<'a, 'i>, SoapVersion)> {
    node.children().find_map(|n| {
        if !n.is_element() || n.tag_name().name() != name {
            return None;
        }
        match n.tag_name().namespace() {
            Some(SOAP11_BINDING) => Some((n, SoapVersion::V11)),
            Some(SOAP12_BINDING) => Some((n, SoapVersion::V12)),
            _ => None,
        }
    })
}

/// Reads the top level of `<wsdl:definitions>` (except `types` and `import`, which the loader
/// follows) into `out`.
pub fn definitions(root: Node, file: &Arc<str>, out: &mut Definitions) -> Result<(), Problem> {
    let target = root.attribute("targetNamespace").unwrap_or("");
    let pos = |n: Node| pos_of(file, n);
    let name_of = |n: Node| -> Result<String, Problem> {
        n.attribute("name")
            .map(str::to_owned)
            .ok_or_else(|| (pos(n), format!("`{}` needs a `name`", n.tag_name().name())))
    };
    let qname = |n: Node, v: &str| resolve_qname(n, v, "", file);
    for child in wsdl_children(root) {
        match child.tag_name().name() {
            "message" => {
                let mut parts = Vec::new();
                for part in wsdl_children(child).filter(|n| n.tag_name().name() == "part") {
                    parts.push(Part {
                        name: name_of(part)?,
                        element: part
                            .attribute("element")
                            .map(|e| qname(part, e))
                            .transpose()?,
                        ty: part.attribute("type").map(|t| qname(part, t)).transpose()?,
                        pos: pos(part),
                    });
                }
                out.messages
                    .insert(QName::new(target, &name_of(child)?), WsdlMessage { parts });
            }
            "portType" => {
                let mut operations = Vec::new();
                for op in wsdl_children(child).filter(|n| n.tag_name().name() == "operation") {
                    let message = |kind: &str| -> Result<Option<QName>, Problem> {
                        wsdl_children(op)
                            .find(|n| n.tag_name().name() == kind)
                            .and_then(|n| n.attribute("message").map(|m| qname(n, m)))
                            .transpose()
                    };
                    let mut faults = Vec::new();
                    for fault in wsdl_children(op).filter(|n| n.tag_name().name() == "fault") {
                        if let Some(m) = fault.attribute("message") {
                            faults.push((name_of(fault)?, qname(fault, m)?));
                        }
                    }
                    operations.push(OperationDef {
                        name: name_of(op)?,
                        input: message("input")?,
                        output: message("output")?,
                        faults,
                        doc: documentation(op),
                        pos: pos(op),
                    });
                }
                out.port_types.insert(
                    QName::new(target, &name_of(child)?),
                    PortType { operations },
                );
            }
            "binding" => {
                let port_type = child
                    .attribute("type")
                    .ok_or_else(|| (pos(child), "a binding needs a `type`".to_owned()))?;
                let soap = soap_child(child, "binding");
                let style = match soap.and_then(|(n, _)| n.attribute("style")) {
                    Some("rpc") => Style::Rpc,
                    _ => Style::Document,
                };
                let mut operations = Vec::new();
                for op in wsdl_children(child).filter(|n| n.tag_name().name() == "operation") {
                    let soap_op = soap_child(op, "operation").map(|(n, _)| n);
                    let body = |kind: &str| -> Result<BodyBinding, Problem> {
                        let Some(io) = wsdl_children(op).find(|n| n.tag_name().name() == kind)
                        else {
                            return Ok(BodyBinding::default());
                        };
                        let mut binding = BodyBinding::default();
                        if let Some((body, _)) = soap_child(io, "body") {
                            binding.encoded = body.attribute("use") == Some("encoded");
                            binding.namespace = body.attribute("namespace").map(str::to_owned);
                            binding.parts = body
                                .attribute("parts")
                                .map(|p| p.split_whitespace().map(str::to_owned).collect());
                        }
                        for header in io.children().filter(|n| {
                            n.is_element()
                                && n.tag_name().name() == "header"
                                && matches!(
                                    n.tag_name().namespace(),
                                    Some(SOAP11_BINDING | SOAP12_BINDING)
                                )
                        }) {
                            if header.attribute("use") == Some("encoded") {
                                binding.encoded = true;
                            }
                            let message = header.attribute("message").ok_or_else(|| {
                                (pos(header), "soap:header needs a `message`".to_owned())
                            })?;
                            let part = header.attribute("part").ok_or_else(|| {
                                (pos(header), "soap:header needs a `part`".to_owned())
                            })?;
                            binding
                                .headers
                                .push((qname(header, message)?, part.to_owned()));
                        }
                        Ok(binding)
                    };
                    operations.push(BindingOperation {
                        name: name_of(op)?,
                        action: soap_op
                            .and_then(|n| n.attribute("soapAction"))
                            .filter(|a| !a.is_empty())
                            .map(str::to_owned),
                        style: match soap_op.and_then(|n| n.attribute("style")) {
                            Some("rpc") => Some(Style::Rpc),
                            Some("document") => Some(Style::Document),
                            _ => None,
                        },
                        input: body("input")?,
                        output: body("output")?,
                        pos: pos(op),
                    });
                }
                out.bindings.insert(
                    QName::new(target, &name_of(child)?),
                    Binding {
                        port_type: qname(child, port_type)?,
                        soap: soap.map(|(_, v)| v),
                        style,
                        operations,
                        pos: pos(child),
                    },
                );
            }
            "service" => {
                let mut ports = Vec::new();
                for port in wsdl_children(child).filter(|n| n.tag_name().name() == "port") {
                    let binding = port
                        .attribute("binding")
                        .ok_or_else(|| (pos(port), "a port needs a `binding`".to_owned()))?;
                    ports.push(Port {
                        name: name_of(port)?,
                        binding: qname(port, binding)?,
                        address: soap_child(port, "address")
                            .and_then(|(n, _)| n.attribute("location"))
                            .map(str::to_owned),
                        pos: pos(port),
                    });
                }
                out.services.push(Service {
                    name: name_of(child)?,
                    ports,
                    pos: pos(child),
                });
            }
            _ => {}
        }
    }
    Ok(())
}
