//! One port of a loaded WSDL turned into a protobuf service (design.md sections 1 and 5):
//! every operation a method, every XSD type its input and output need a message, and the XML
//! facts of each message kept in an [`XmlSchema`]. Only what the operations reach is built.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    source_code_info::Location, DescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    MethodDescriptorProto, OneofDescriptorProto, ServiceDescriptorProto, SourceCodeInfo,
};

use super::model::*;
use super::Loaded;
use crate::config::Pos;
use crate::xml::schema::{
    Check, MessageKind, Role, SimpleInfo, WireKind, XmlField, XmlMessage, XmlSchema, XmlValue,
};

/// Prefix of the stand-ins of nillable elements; other messages never start with it.
pub const NILLABLE: &str = "Nillable";
/// Directory of the files the importer makes, in the pool.
pub const FILE_PREFIX: &str = "rosetta/wsdl/";

/// The SOAP facts of one operation.
#[derive(Debug, Clone)]
pub struct SoapOperation {
    pub name: String,
    pub action: Option<String>,
    pub input: SoapBody,
    pub output: SoapBody,
    /// Fault detail elements and their messages.
    pub faults: Vec<(QName, String)>,
    pub one_way: bool,
    /// Where the binding operation is written.
    pub pos: Pos,
}

/// How a message sits in the Body: inside one element (a document/literal wrapper, or the
/// rpc/literal operation element), or as the Body's children.
#[derive(Debug, Clone)]
pub struct SoapBody {
    pub wrapper: Option<QName>,
    pub message: String,
}

/// What building a port yields: the file for the pool, and what calling the port needs.
#[derive(Debug)]
pub struct Built {
    pub file: FileDescriptorProto,
    /// The service's full name in the pool.
    pub service_name: String,
    /// The port's `soap:address`.
    pub address: Option<String>,
    pub service: SoapService,
    /// Operations left out, and why.
    pub warnings: Vec<Problem>,
}

/// What the SOAP codec needs to call the operations of one port.
#[derive(Debug)]
pub struct SoapService {
    pub version: SoapVersion,
    pub xml: XmlSchema,
    /// A prefix for every namespace the messages use, declared once per envelope.
    pub prefixes: HashMap<Arc<str>, String>,
    /// By method name.
    pub operations: HashMap<String, SoapOperation>,
}

/// Which service and port to build.
pub struct Choice<'a> {
    pub package: &'a str,
    pub service: Option<&'a str>,
    pub port: Option<&'a str>,
    /// Where the choice was written, for problems that have no place in the WSDL.
    pub at: &'a Pos,
}

pub fn build(loaded: &Loaded, choice: &Choice) -> Result<Built, Problem> {
    let defs = &loaded.definitions;
    let service = pick_service(defs, choice)?;
    let (port, binding, version) = pick_port(defs, service, choice)?;
    let port_type = lookup(&defs.port_types, &binding.port_type).ok_or_else(|| {
        (
            binding.pos.clone(),
            format!("portType `{}` is not defined", binding.port_type),
        )
    })?;
    let mut builder = Builder::new(loaded, choice.package);
    let service_name = builder.names.claim(&sanitize(&service.name));
    let mut methods = Vec::new();
    let mut operations = HashMap::new();
    let mut warnings = Vec::new();
    for op in &binding.operations {
        if op.input.encoded || op.output.encoded {
            return Err((
                op.pos.clone(),
                format!(
                    "operation `{}` uses rpc/encoded (SOAP section 5 encoding), which is not \
                     supported: rosetta speaks document/literal and rpc/literal",
                    op.name
                ),
            ));
        }
        // An operation that cannot be imported is left out, with a warning; the rest of the
        // port still works (what node-soap and zeep users expect of half-broken WSDLs).
        let mark = builder.mark();
        match builder.operation(port_type, binding, op, &binding.port_type) {
            Ok((method, name, operation)) => {
                methods.push(method);
                operations.insert(name, operation);
            }
            Err((pos, message)) => {
                builder.rollback(mark);
                warnings.push((
                    pos,
                    format!("operation `{}` is left out: {message}", op.name),
                ));
            }
        }
    }
    if operations.is_empty() {
        if let Some(first) = warnings.first() {
            return Err(first.clone());
        }
    }
    warnings.append(&mut builder.warnings);
    let method_docs: Vec<Option<Arc<str>>> = methods
        .iter()
        .map(|m| {
            let name = operations
                .get(m.name())
                .map_or("", |o: &SoapOperation| &o.name);
            port_type
                .operations
                .iter()
                .find(|d| d.name == name)
                .and_then(|d| d.doc.clone())
        })
        .collect();
    let mut file = FileDescriptorProto {
        name: Some(format!("{FILE_PREFIX}{}.proto", builder.package)),
        package: Some(builder.package.clone()),
        message_type: std::mem::take(&mut builder.messages),
        service: vec![ServiceDescriptorProto {
            name: Some(service_name.clone()),
            method: methods,
            ..Default::default()
        }],
        syntax: Some("proto3".into()),
        ..Default::default()
    };
    file.source_code_info = Some(documentation(&file, &builder.docs, &method_docs));
    let package = builder.package.clone();
    let prefixes = prefixes(&builder.xml, &operations);
    for message in builder.xml.messages.values_mut() {
        let message = Arc::get_mut(message).expect("nothing else holds the messages yet");
        for field in &mut message.fields {
            field.tag = match prefixes.get(&field.ns) {
                Some(prefix) => format!("{prefix}:{}", field.name),
                None => field.name.to_string(),
            };
        }
    }
    Ok(Built {
        file,
        service_name: format!("{package}.{service_name}"),
        address: port.address.clone(),
        service: SoapService {
            version,
            xml: builder.xml,
            prefixes,
            operations,
        },
        warnings,
    })
}

/// The WSDL's documentation as the comments of the file's descriptors (where GraphQL
/// descriptions come from, as for `.proto` files).
fn documentation(
    file: &FileDescriptorProto,
    docs: &HashMap<String, MessageDocs>,
    methods: &[Option<Arc<str>>],
) -> SourceCodeInfo {
    let comment = |path: Vec<i32>, text: &Arc<str>| Location {
        path,
        span: vec![0, 0, 0],
        leading_comments: Some(text.to_string()),
        ..Default::default()
    };
    let mut location = Vec::new();
    for (i, message) in file.message_type.iter().enumerate() {
        let Some((doc, fields)) = docs.get(message.name()) else {
            continue;
        };
        location.extend(doc.iter().map(|d| comment(vec![4, i as i32], d)));
        for (j, doc) in fields.iter().enumerate() {
            location.extend(
                doc.iter()
                    .map(|d| comment(vec![4, i as i32, 2, j as i32], d)),
            );
        }
    }
    for (j, doc) in methods.iter().enumerate() {
        location.extend(doc.iter().map(|d| comment(vec![6, 0, 2, j as i32], d)));
    }
    SourceCodeInfo { location }
}

/// `ns1`, `ns2`, ... for the namespaces of the messages, in a stable order.
fn prefixes(
    xml: &XmlSchema,
    operations: &HashMap<String, SoapOperation>,
) -> HashMap<Arc<str>, String> {
    let mut all: Vec<Arc<str>> = Vec::new();
    for message in xml.messages.values() {
        for field in &message.fields {
            all.push(field.ns.clone());
            if let Some(t) = &field.xsi_type {
                all.push(t.ns.clone());
            }
        }
    }
    for op in operations.values() {
        for body in [&op.input, &op.output] {
            if let Some(w) = &body.wrapper {
                all.push(w.ns.clone());
            }
        }
    }
    all.retain(|ns| !ns.is_empty());
    all.sort();
    all.dedup();
    all.into_iter()
        .enumerate()
        .map(|(i, ns)| (ns, format!("ns{}", i + 1)))
        .collect()
}

fn pick_service<'d>(defs: &'d Definitions, choice: &Choice) -> Result<&'d Service, Problem> {
    let names = || {
        defs.services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match choice.service {
        Some(name) => defs
            .services
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                (
                    choice.at.clone(),
                    format!("the WSDL has no service `{name}` (it has: {})", names()),
                )
            }),
        None => match defs.services.as_slice() {
            [one] => Ok(one),
            [] => Err((choice.at.clone(), "the WSDL defines no service".into())),
            _ => Err((
                choice.at.clone(),
                format!(
                    "the WSDL defines several services; choose one with `service:` ({})",
                    names()
                ),
            )),
        },
    }
}

fn pick_port<'d>(
    defs: &'d Definitions,
    service: &'d Service,
    choice: &Choice,
) -> Result<(&'d Port, &'d Binding, SoapVersion), Problem> {
    let soap_ports = service.ports.iter().filter_map(|p| {
        let binding = lookup(&defs.bindings, &p.binding)?;
        Some((p, binding, binding.soap?))
    });
    let all: Vec<_> = soap_ports.collect();
    if let Some(name) = choice.port {
        return all
            .into_iter()
            .find(|(p, ..)| p.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = service.ports.iter().map(|p| p.name.as_str()).collect();
                (
                    choice.at.clone(),
                    format!(
                        "service `{}` has no SOAP port `{name}` (ports: {})",
                        service.name,
                        known.join(", ")
                    ),
                )
            });
    }
    for port in &service.ports {
        if lookup(&defs.bindings, &port.binding).is_none() {
            return Err((
                port.pos.clone(),
                format!("binding `{}` is not defined", port.binding),
            ));
        }
    }
    all.into_iter().next().ok_or_else(|| {
        (
            service.pos.clone(),
            format!(
                "service `{}` has no SOAP 1.1 or 1.2 port (HTTP and MIME bindings are not supported)",
                service.name
            ),
        )
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Input,
    Output,
}

/// A proto identifier for an XML name.
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'X');
    }
    out
}

/// Unique names in one scope.
#[derive(Default)]
struct Names(HashSet<String>);

impl Names {
    fn claim(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_owned();
        let mut n = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        name
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum TypeKey {
    Named(QName),
    /// An anonymous type, by its place.
    Anonymous(usize),
}

/// A field being collected, before numbering.
struct FieldSpec {
    name: Arc<str>,
    ns: Arc<str>,
    role: Role,
    value: XmlValue,
    /// A scalar type, or a message (its name in the package).
    proto: ProtoType,
    /// For a nillable element: the type of its value (`proto` is its stand-in).
    inner: Option<ProtoType>,
    repeated: bool,
    nillable: bool,
    oneof: Option<i32>,
    xsi_type: Option<QName>,
    /// The element's `xsd:documentation`.
    doc: Option<Arc<str>>,
}

impl FieldSpec {
    /// A field holding a simple value (an attribute or text).
    fn simple(name: Arc<str>, ns: Arc<str>, role: Role, value: Value) -> Self {
        let (value, proto) = split(value);
        FieldSpec {
            name,
            ns,
            role,
            repeated: matches!(&value, XmlValue::Simple(s) if s.list),
            value,
            proto,
            inner: None,
            nillable: false,
            oneof: None,
            xsi_type: None,
            doc: None,
        }
    }
}

#[derive(Clone)]
enum ProtoType {
    Scalar(Type),
    Message(String),
}

#[derive(Default)]
struct Fields {
    attributes: Vec<FieldSpec>,
    elements: Vec<FieldSpec>,
    text: Option<FieldSpec>,
    oneofs: Vec<String>,
}

/// A resolved value type.
#[derive(Clone)]
enum Value {
    Simple(Arc<SimpleInfo>, Type),
    Complex(String),
    Raw,
}

struct Builder<'l> {
    loaded: &'l Loaded,
    package: String,
    messages: Vec<DescriptorProto>,
    xml: XmlSchema,
    names: Names,
    types: HashMap<TypeKey, String>,
    nillables: HashMap<String, String>,
    /// Base type -> types derived from it directly.
    derived: HashMap<QName, Vec<QName>>,
    /// Complex types whose message is being built (for recursion through polymorphism).
    polymorphic: HashMap<QName, String>,
    journal: Vec<Undo>,
    /// What was forgiven on the way.
    warnings: Vec<Problem>,
    /// The documentation of messages, by name.
    docs: HashMap<String, MessageDocs>,
}

/// The documentation of a message and of its fields (by index).
type MessageDocs = (Option<Arc<str>>, Vec<Option<Arc<str>>>);

/// What the builder added, so that a failed operation can be taken back.
enum Undo {
    Name(String),
    Type(TypeKey),
    Nillable(String),
    Polymorphic(QName),
    Xml(String),
}

/// A point to roll back to.
struct Mark {
    messages: usize,
    journal: usize,
    warnings: usize,
}

impl<'l> Builder<'l> {
    fn mark(&self) -> Mark {
        Mark {
            messages: self.messages.len(),
            journal: self.journal.len(),
            warnings: self.warnings.len(),
        }
    }

    fn rollback(&mut self, mark: Mark) {
        self.messages.truncate(mark.messages);
        self.warnings.truncate(mark.warnings);
        for undo in self.journal.drain(mark.journal..) {
            match undo {
                Undo::Name(n) => {
                    self.names.0.remove(&n);
                }
                Undo::Type(k) => {
                    self.types.remove(&k);
                }
                Undo::Nillable(k) => {
                    self.nillables.remove(&k);
                }
                Undo::Polymorphic(q) => {
                    self.polymorphic.remove(&q);
                }
                Undo::Xml(m) => {
                    self.xml.messages.remove(&m);
                }
            }
        }
    }

    /// One binding operation as a method, its name, and its SOAP facts.
    fn operation(
        &mut self,
        port_type: &PortType,
        binding: &Binding,
        op: &BindingOperation,
        port_type_name: &QName,
    ) -> Result<(MethodDescriptorProto, String, SoapOperation), Problem> {
        let def = port_type
            .operations
            .iter()
            .find(|d| d.name == op.name)
            .ok_or_else(|| {
                (
                    op.pos.clone(),
                    format!("it is not in portType `{port_type_name}`"),
                )
            })?;
        let style = op.style.unwrap_or(binding.style);
        let method = sanitize(&op.name);
        let input = self.body(def, op, style, Direction::Input)?;
        let (output, one_way) = match def.output {
            Some(_) => (self.body(def, op, style, Direction::Output)?, false),
            None => (self.empty(&format!("{method}Response")), true),
        };
        let mut faults = Vec::new();
        for (_, message) in &def.faults {
            faults.extend(self.fault(message, &def.pos)?);
        }
        let package = self.package.clone();
        let full = |b: SoapBody| SoapBody {
            message: format!("{package}.{}", b.message),
            wrapper: b.wrapper,
        };
        let descriptor = MethodDescriptorProto {
            name: Some(method.clone()),
            input_type: Some(format!(".{package}.{}", input.message)),
            output_type: Some(format!(".{package}.{}", output.message)),
            ..Default::default()
        };
        let operation = SoapOperation {
            name: op.name.clone(),
            action: op.action.clone(),
            input: full(input),
            output: full(output),
            faults: faults
                .into_iter()
                .map(|(q, m)| (q, format!("{package}.{m}")))
                .collect(),
            one_way,
            pos: op.pos.clone(),
        };
        Ok((descriptor, method, operation))
    }

    fn new(loaded: &'l Loaded, package: &str) -> Self {
        let mut derived: HashMap<QName, Vec<QName>> = HashMap::new();
        let mut named: Vec<_> = loaded.schemas.types.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        for (name, ty) in named {
            if let TypeDef::Complex(ct) = &**ty {
                if let Some((base, _)) = &ct.base {
                    derived.entry(base.clone()).or_default().push(name.clone());
                }
            }
        }
        Builder {
            loaded,
            package: package.to_owned(),
            messages: Vec::new(),
            xml: XmlSchema::default(),
            names: Names::default(),
            types: HashMap::new(),
            nillables: HashMap::new(),
            derived,
            polymorphic: HashMap::new(),
            journal: Vec::new(),
            warnings: Vec::new(),
            docs: HashMap::new(),
        }
    }

    /// A top-level message name; only stand-ins of nillable elements start with `Nillable`.
    fn message_name(&mut self, hint: &str) -> String {
        let mut name = sanitize(hint);
        if name.starts_with(NILLABLE) {
            name.insert(0, 'X');
        }
        let name = self.names.claim(&name);
        self.journal.push(Undo::Name(name.clone()));
        name
    }

    fn empty(&mut self, hint: &str) -> SoapBody {
        let name = self.message_name(hint);
        self.finish(&name, Fields::default(), MessageKind::Plain);
        SoapBody {
            wrapper: None,
            message: name,
        }
    }

    // --- operations ---

    fn body(
        &mut self,
        def: &OperationDef,
        op: &BindingOperation,
        style: Style,
        direction: Direction,
    ) -> Result<SoapBody, Problem> {
        let (message_name, binding, suffix) = match direction {
            Direction::Input => (&def.input, &op.input, "Request"),
            Direction::Output => (&def.output, &op.output, "Response"),
        };
        let hint = format!("{}{suffix}", sanitize(&op.name));
        let Some(message_name) = message_name else {
            return Ok(self.empty(&hint));
        };
        let message = lookup(&self.loaded.definitions.messages, message_name).ok_or_else(|| {
            (
                def.pos.clone(),
                format!("message `{message_name}` is not defined"),
            )
        })?;
        let header_parts: Vec<&Part> = binding
            .headers
            .iter()
            .filter(|(m, _)| m == message_name)
            .filter_map(|(_, part)| message.parts.iter().find(|p| &p.name == part))
            .collect();
        let body_parts: Vec<&Part> = message
            .parts
            .iter()
            .filter(|p| match &binding.parts {
                Some(names) => names.contains(&p.name),
                None => !header_parts.iter().any(|h| h.name == p.name),
            })
            .collect();
        let mut fields = Fields::default();
        // Headers bound from other messages.
        let mut headers: Vec<&Part> = header_parts.clone();
        for (m, part) in &binding.headers {
            if m != message_name {
                match lookup(&self.loaded.definitions.messages, m) {
                    Some(other) => headers.extend(other.parts.iter().find(|p| &p.name == part)),
                    None => self.warnings.push((
                        op.pos.clone(),
                        format!(
                            "operation `{}`: its soap:header message `{m}` is not defined; the \
                             header is left out (configure it under `soap.headers`)",
                            op.name
                        ),
                    )),
                }
            }
        }
        for part in headers {
            let element = part.element.as_ref().ok_or_else(|| {
                (
                    part.pos.clone(),
                    "a soap:header part needs an `element`".to_owned(),
                )
            })?;
            let decl = self.global_element(element, &part.pos)?;
            self.element(&decl, false, None, Role::Header, &mut fields)?;
        }
        let wrapper = match style {
            Style::Rpc => {
                let ns = binding.namespace.clone().unwrap_or_default();
                let local = match direction {
                    Direction::Input => op.name.clone(),
                    Direction::Output => format!("{}Response", op.name),
                };
                for part in &body_parts {
                    self.part(part, &mut fields)?;
                }
                Some(QName::new(&ns, &local))
            }
            Style::Document => {
                // One element part of a complex type: the message is that type's content.
                let single = match body_parts.as_slice() {
                    [part] => match &part.element {
                        Some(e) => {
                            let decl = self.global_element(e, &part.pos)?;
                            self.complex_of(decl.ty.as_ref(), &part.pos)?
                                .map(|(key, ct)| (decl, key, ct))
                        }
                        None => None,
                    },
                    _ => None,
                };
                match single {
                    Some((decl, key, ct)) if fields.elements.is_empty() => {
                        let name = self.complex_message(key, &ct, &decl.name.local)?;
                        return Ok(SoapBody {
                            wrapper: Some(decl.name.clone()),
                            message: name,
                        });
                    }
                    Some((decl, _, ct)) => {
                        self.content(&ct, &mut fields, 0)?;
                        Some(decl.name.clone())
                    }
                    None => {
                        for part in &body_parts {
                            self.part(part, &mut fields)?;
                        }
                        None
                    }
                }
            }
        };
        let name = self.message_name(&hint);
        self.finish(&name, fields, MessageKind::Plain);
        Ok(SoapBody {
            wrapper,
            message: name,
        })
    }

    /// A part as a field: its element, or (rpc, or document without WS-I) a field named by
    /// the part with its type.
    fn part(&mut self, part: &Part, fields: &mut Fields) -> Result<(), Problem> {
        if let Some(element) = &part.element {
            let decl = self.global_element(element, &part.pos)?;
            return self.element(&decl, false, None, Role::Element, fields);
        }
        let ty = part.ty.as_ref().ok_or_else(|| {
            (
                part.pos.clone(),
                format!("part `{}` needs an `element` or a `type`", part.name),
            )
        })?;
        let decl = ElementDecl {
            name: QName::new("", &part.name),
            ty: Some(TypeRef::Named(ty.clone())),
            nillable: false,
            is_abstract: false,
            doc: None,
            pos: part.pos.clone(),
        };
        self.element(&decl, false, None, Role::Element, fields)
    }

    fn fault(&mut self, message: &QName, at: &Pos) -> Result<Option<(QName, String)>, Problem> {
        let Some(message) = lookup(&self.loaded.definitions.messages, message) else {
            self.warnings.push((
                at.clone(),
                format!("fault message `{message}` is not defined; its detail stays XML text"),
            ));
            return Ok(None);
        };
        let Some(element) = message.parts.first().and_then(|p| p.element.clone()) else {
            return Ok(None);
        };
        let decl = self.global_element(&element, at)?;
        let name = match self.complex_of(decl.ty.as_ref(), at)? {
            Some((key, ct)) => self.complex_message(key, &ct, &decl.name.local)?,
            None => {
                let mut fields = Fields::default();
                self.element(&decl, false, None, Role::Element, &mut fields)?;
                let name = self.message_name(&format!("{}Fault", decl.name.local));
                self.finish(&name, fields, MessageKind::Plain);
                return Ok(Some((QName::new("", ""), name)));
            }
        };
        Ok(Some((decl.name.clone(), name)))
    }

    // --- lookups ---

    fn global_element(&self, name: &QName, at: &Pos) -> Result<Arc<ElementDecl>, Problem> {
        defined(&self.loaded.schemas.elements, name, "element", at)
    }

    fn named_type(&self, name: &QName, at: &Pos) -> Result<Arc<TypeDef>, Problem> {
        defined(&self.loaded.schemas.types, name, "type", at)
    }

    /// A built-in type named without the XSD namespace (`type="string"` under a default
    /// namespace that is not XSD's), which no schema defines.
    fn builtin_by_mistake(&self, q: &QName) -> bool {
        lookup(&self.loaded.schemas.types, q).is_none() && builtin(&q.local).is_some()
    }

    /// The complex type of a declaration, if it has one.
    fn complex_of(
        &self,
        ty: Option<&TypeRef>,
        at: &Pos,
    ) -> Result<Option<(TypeKey, Arc<TypeDef>)>, Problem> {
        let (key, def) = match ty {
            None => return Ok(None),
            Some(TypeRef::Named(q)) if q.ns.as_ref() == XSD || q.ns.as_ref() == SOAP_ENCODING => {
                return Ok(None)
            }
            Some(TypeRef::Named(q)) if self.builtin_by_mistake(q) => return Ok(None),
            Some(TypeRef::Named(q)) => (TypeKey::Named(q.clone()), self.named_type(q, at)?),
            Some(TypeRef::Anonymous(def)) => {
                (TypeKey::Anonymous(Arc::as_ptr(def) as usize), def.clone())
            }
        };
        Ok(matches!(&*def, TypeDef::Complex(_)).then_some((key, def)))
    }

    // --- messages ---

    fn complex_message(
        &mut self,
        key: TypeKey,
        def: &TypeDef,
        hint: &str,
    ) -> Result<String, Problem> {
        if let Some(name) = self.types.get(&key) {
            return Ok(name.clone());
        }
        let TypeDef::Complex(ct) = def else {
            unreachable!("complex_message is called with complex types")
        };
        let name = self.message_name(ct.name.as_ref().map_or(hint, |q| &q.local));
        self.types.insert(key.clone(), name.clone());
        self.journal.push(Undo::Type(key));
        let mut fields = Fields::default();
        self.content(def, &mut fields, 0)?;
        self.finish(&name, fields, MessageKind::Plain);
        if let Some(docs) = self.docs.get_mut(&name) {
            docs.0 = ct.doc.clone();
        }
        Ok(name)
    }

    /// The fields of a complex type, its base types' first.
    fn content(&mut self, def: &TypeDef, out: &mut Fields, depth: usize) -> Result<(), Problem> {
        let TypeDef::Complex(ct) = def else {
            unreachable!("content is asked of complex types")
        };
        if depth > 64 {
            return Err((ct.pos.clone(), "the type derives from itself".into()));
        }
        match &ct.base {
            None => {
                if ct.mixed {
                    out.text =
                        Some(self.text_field(Value::Simple(string_info("string"), Type::String)));
                }
                self.attributes(&ct.attributes, out)?;
                if let Content::Elements(Some(p)) = &ct.content {
                    self.particle(p, false, None, out)?;
                }
            }
            Some((base, how)) => {
                let base_is_simple = base.ns.as_ref() == XSD
                    || matches!(self.named_type(base, &ct.pos)?.as_ref(), TypeDef::Simple(_));
                if base_is_simple {
                    let value = self.simple_value(&TypeRef::Named(base.clone()), &ct.pos)?;
                    out.text = Some(self.text_field(value));
                } else {
                    let base_def = self.named_type(base, &ct.pos)?;
                    match (how, &ct.content) {
                        (Derivation::Restriction, Content::Elements(_)) => {
                            // A restriction restates its particles; only attributes carry over.
                            let mut inherited = Fields::default();
                            self.content(&base_def, &mut inherited, depth + 1)?;
                            out.attributes = inherited.attributes;
                            out.text = inherited.text;
                        }
                        _ => self.content(&base_def, out, depth + 1)?,
                    }
                    // A restriction of simple content narrows the inherited text's facets.
                    let text = out.text.as_mut().map(|t| &mut t.value);
                    if let (Content::Simple(facets), Some(XmlValue::Simple(info))) =
                        (&ct.content, text)
                    {
                        merge_facets(Arc::make_mut(info), facets);
                    }
                }
                for attribute in &ct.attributes {
                    if let AttributeUse::Prohibited(local) = attribute {
                        out.attributes.retain(|f| &f.name != local);
                    }
                }
                self.attributes(&ct.attributes, out)?;
                if let Content::Elements(Some(p)) = &ct.content {
                    self.particle(p, false, None, out)?;
                }
                if ct.mixed && out.text.is_none() {
                    out.text =
                        Some(self.text_field(Value::Simple(string_info("string"), Type::String)));
                }
            }
        }
        Ok(())
    }

    fn text_field(&self, value: Value) -> FieldSpec {
        FieldSpec::simple("$value".into(), "".into(), Role::Text, value)
    }

    fn attributes(&mut self, uses: &[AttributeUse], out: &mut Fields) -> Result<(), Problem> {
        for attribute in uses {
            let decl = match attribute {
                AttributeUse::Decl { decl, .. } => decl.clone(),
                AttributeUse::Ref { name, pos, .. } => {
                    if name.ns.as_ref() == "http://www.w3.org/XML/1998/namespace" {
                        Arc::new(AttributeDecl {
                            name: name.clone(),
                            ty: None,
                            pos: pos.clone(),
                        })
                    } else {
                        defined(&self.loaded.schemas.attributes, name, "attribute", pos)?
                    }
                }
                AttributeUse::GroupRef(name, pos) => {
                    let group = defined(
                        &self.loaded.schemas.attribute_groups,
                        name,
                        "attributeGroup",
                        pos,
                    )?;
                    self.attributes(&group.attributes, out)?;
                    continue;
                }
                AttributeUse::Prohibited(_) => continue,
            };
            let value = match &decl.ty {
                Some(ty) => self.simple_value(ty, &decl.pos)?,
                None => Value::Simple(string_info("anySimpleType"), Type::String),
            };
            // A restriction or extension may restate an inherited attribute.
            out.attributes.retain(|f| f.name != decl.name.local);
            out.attributes.push(FieldSpec::simple(
                decl.name.local.clone(),
                decl.name.ns.clone(),
                Role::Attribute,
                value,
            ));
        }
        Ok(())
    }

    /// The fields of a particle. `repeated`: an enclosing particle repeats; `oneof`: the
    /// particle is a member of a choice.
    fn particle(
        &mut self,
        particle: &Particle,
        repeated: bool,
        oneof: Option<i32>,
        out: &mut Fields,
    ) -> Result<(), Problem> {
        let repeated = repeated || particle.max > 1;
        match &particle.term {
            Term::Element(decl) => self.element(decl, repeated, oneof, Role::Element, out),
            Term::ElementRef(name) => {
                let decl = self.global_element(name, &particle.pos)?;
                if decl.is_abstract {
                    return Err((
                        particle.pos.clone(),
                        format!(
                            "element `{name}` is abstract (substitution groups are not supported)"
                        ),
                    ));
                }
                self.element(&decl, repeated, oneof, Role::Element, out)
            }
            Term::Sequence(items) | Term::All(items) => {
                for item in items {
                    self.particle(item, repeated, None, out)?;
                }
                Ok(())
            }
            Term::Choice(items) => {
                let oneof = if repeated || items.len() < 2 {
                    None
                } else {
                    out.oneofs.push(format!("choice{}", out.oneofs.len() + 1));
                    Some(out.oneofs.len() as i32 - 1)
                };
                for item in items {
                    let singular = item.max <= 1
                        && matches!(
                            item.term,
                            Term::Element(_) | Term::ElementRef(_) | Term::Any
                        );
                    self.particle(item, repeated, oneof.filter(|_| singular), out)?;
                }
                Ok(())
            }
            Term::GroupRef(name) => {
                let group = defined(&self.loaded.schemas.groups, name, "group", &particle.pos)?;
                match &group.particle {
                    Some(inner) => self.particle(inner, repeated, oneof, out),
                    None => Ok(()),
                }
            }
            Term::Any => {
                out.elements.push(FieldSpec {
                    name: "any".into(),
                    ns: "".into(),
                    role: Role::Any,
                    value: XmlValue::Raw,
                    proto: ProtoType::Scalar(Type::String),
                    inner: None,
                    repeated,
                    nillable: false,
                    oneof,
                    xsi_type: None,
                    doc: None,
                });
                Ok(())
            }
        }
    }

    fn element(
        &mut self,
        decl: &ElementDecl,
        repeated: bool,
        oneof: Option<i32>,
        role: Role,
        out: &mut Fields,
    ) -> Result<(), Problem> {
        let value = match &decl.ty {
            None => Value::Raw,
            Some(ty) => self.value(ty, &decl.name.local, &decl.pos)?,
        };
        let list = matches!(&value, Value::Simple(s, _) if s.list);
        let (value, mut proto) = split(value);
        // A list held in one element cannot also repeat, nor be nil: it stays text then.
        let (value, nillable) = if list && (repeated || decl.nillable) {
            proto = ProtoType::Scalar(Type::String);
            (XmlValue::Simple(string_info("string")), decl.nillable)
        } else {
            (value, decl.nillable)
        };
        let mut inner = None;
        if nillable {
            let stand_in = ProtoType::Message(self.nillable(&proto));
            inner = Some(std::mem::replace(&mut proto, stand_in));
        }
        out.elements.push(FieldSpec {
            name: decl.name.local.clone(),
            ns: decl.name.ns.clone(),
            role,
            value,
            proto,
            inner,
            repeated: repeated || (list && !nillable),
            nillable,
            oneof,
            xsi_type: None,
            doc: decl.doc.clone(),
        });
        Ok(())
    }

    /// The value type of a declaration: a simple type, or a complex type's message (a
    /// polymorphic one when types derive from it).
    fn value(&mut self, ty: &TypeRef, hint: &str, at: &Pos) -> Result<Value, Problem> {
        if let TypeRef::Named(q) = ty {
            if q.ns.as_ref() == XSD && &*q.local == "anyType" {
                return Ok(Value::Raw);
            }
        }
        match self.complex_of(Some(ty), at)? {
            None => self.simple_value(ty, at),
            Some((TypeKey::Named(q), def)) if self.derived.contains_key(&q) => {
                Ok(Value::Complex(self.polymorphic(&q, &def, at)?))
            }
            Some((key, def)) => Ok(Value::Complex(self.complex_message(key, &def, hint)?)),
        }
    }

    /// For a type with derived types: a message with one member per concrete type.
    fn polymorphic(&mut self, base: &QName, def: &TypeDef, at: &Pos) -> Result<String, Problem> {
        if let Some(name) = self.polymorphic.get(base) {
            return Ok(name.clone());
        }
        let name = self.message_name(&format!("{}OrDerived", base.local));
        self.polymorphic.insert(base.clone(), name.clone());
        self.journal.push(Undo::Polymorphic(base.clone()));
        let mut concrete = Vec::new();
        let mut queue = vec![base.clone()];
        let mut seen = HashSet::new();
        while let Some(q) = queue.pop() {
            if !seen.insert(q.clone()) {
                continue;
            }
            concrete.push(q.clone());
            if let Some(children) = self.derived.get(&q) {
                queue.extend(children.iter().rev().cloned());
            }
        }
        let mut fields = Fields {
            oneofs: vec!["type".into()],
            ..Default::default()
        };
        for q in concrete {
            let def_q = if &q == base {
                None
            } else {
                Some(self.named_type(&q, at)?)
            };
            let def = def_q.as_deref().unwrap_or(def);
            let TypeDef::Complex(ct) = def else { continue };
            if ct.is_abstract {
                continue;
            }
            let message = self.complex_message(TypeKey::Named(q.clone()), def, &q.local)?;
            fields.elements.push(FieldSpec {
                name: q.local.clone(),
                ns: q.ns.clone(),
                role: Role::Element,
                value: XmlValue::Complex,
                proto: ProtoType::Message(message),
                inner: None,
                repeated: false,
                nillable: false,
                oneof: Some(0),
                xsi_type: (&q != base).then(|| q.clone()),
                doc: None,
            });
        }
        self.finish(&name, fields, MessageKind::Polymorphic);
        Ok(name)
    }

    fn simple_value(&mut self, ty: &TypeRef, at: &Pos) -> Result<Value, Problem> {
        let info = self.simple_info(ty, at, 0)?;
        let proto = proto_of(&info);
        Ok(Value::Simple(Arc::new(info), proto))
    }

    fn simple_info(&self, ty: &TypeRef, at: &Pos, depth: usize) -> Result<SimpleInfo, Problem> {
        if depth > 64 {
            return Err((at.clone(), "the simple type derives from itself".into()));
        }
        let def = match ty {
            TypeRef::Named(q)
                if q.ns.as_ref() == XSD
                    || q.ns.as_ref() == SOAP_ENCODING
                    || self.builtin_by_mistake(q) =>
            {
                return builtin(&q.local).ok_or_else(|| {
                    (
                        at.clone(),
                        format!("`{}` is not an XSD built-in type", q.local),
                    )
                });
            }
            TypeRef::Named(q) => self.named_type(q, at)?,
            TypeRef::Anonymous(def) => def.clone(),
        };
        match &*def {
            TypeDef::Complex(ct) => match (&ct.content, &ct.base) {
                (Content::Simple(facets), Some((base, _))) => {
                    let mut info =
                        self.simple_info(&TypeRef::Named(base.clone()), at, depth + 1)?;
                    merge_facets(&mut info, facets);
                    Ok(info)
                }
                _ => Err((
                    at.clone(),
                    "a complex type is used where a simple type is needed".into(),
                )),
            },
            TypeDef::Simple(st) => match &st.variety {
                SimpleVariety::Restriction(base) => {
                    let mut info = self.simple_info(base, &st.pos, depth + 1)?;
                    merge_facets(&mut info, &st.facets);
                    Ok(info)
                }
                SimpleVariety::List(item) => {
                    let mut info = self.simple_info(item, &st.pos, depth + 1)?;
                    if info.list {
                        return Err((st.pos.clone(), "a list of lists is not valid XSD".into()));
                    }
                    info.list = true;
                    merge_facets(&mut info, &st.facets);
                    Ok(info)
                }
                SimpleVariety::Union => Ok(SimpleInfo {
                    builtin: "string".into(),
                    ..Default::default()
                }),
            },
        }
    }

    /// The stand-in for a nillable element of `proto`.
    fn nillable(&mut self, proto: &ProtoType) -> String {
        let (key, hint, field_proto) = match proto {
            ProtoType::Scalar(t) => (format!("{t:?}"), format!("{NILLABLE}{t:?}"), proto.clone()),
            ProtoType::Message(m) => (m.clone(), format!("{NILLABLE}{m}"), proto.clone()),
        };
        if let Some(name) = self.nillables.get(&key) {
            return name.clone();
        }
        let name = self.names.claim(&sanitize(&hint));
        self.journal.push(Undo::Name(name.clone()));
        self.nillables.insert(key.clone(), name.clone());
        self.journal.push(Undo::Nillable(key));
        let mut fields = Fields::default();
        fields.elements.push(FieldSpec {
            name: "value".into(),
            ns: "".into(),
            role: Role::Text,
            value: XmlValue::Complex,
            proto: field_proto,
            inner: None,
            repeated: false,
            nillable: false,
            oneof: None,
            xsi_type: None,
            doc: None,
        });
        self.finish(&name, fields, MessageKind::Nillable);
        name
    }

    /// Numbers the fields, names them, and adds the message and its XML facts.
    fn finish(&mut self, name: &str, fields: Fields, kind: MessageKind) {
        let Fields {
            attributes,
            elements,
            text,
            oneofs,
        } = fields;
        let element_names: HashSet<Arc<str>> = elements.iter().map(|f| f.name.clone()).collect();
        let mut proto_names = Names::default();
        let mut json_names = Names::default();
        let mut descriptor = DescriptorProto {
            name: Some(name.to_owned()),
            oneof_decl: oneofs
                .iter()
                .map(|n| OneofDescriptorProto {
                    name: Some(proto_names.claim(n)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut xml_fields = Vec::new();
        let mut field_docs = Vec::new();
        let all = attributes.into_iter().chain(elements).chain(text);
        for (i, spec) in all.enumerate() {
            let number = i as u32 + 1;
            let json = match spec.role {
                Role::Attribute if element_names.contains(&spec.name) => format!("@{}", spec.name),
                _ => spec.name.to_string(),
            };
            let json = json_names.claim(&json);
            let proto_name = proto_names.claim(&sanitize(match spec.role {
                Role::Text if kind != MessageKind::Nillable => "value_",
                _ => &spec.name,
            }));
            let (r#type, type_name) = match &spec.proto {
                ProtoType::Scalar(t) => (*t, None),
                ProtoType::Message(m) => (Type::Message, Some(format!(".{}.{m}", self.package))),
            };
            let optional = !spec.repeated && spec.oneof.is_none() && r#type != Type::Message;
            descriptor.field.push(FieldDescriptorProto {
                name: Some(proto_name.clone()),
                number: Some(number as i32),
                label: Some(if spec.repeated {
                    Label::Repeated
                } else {
                    Label::Optional
                } as i32),
                r#type: Some(r#type as i32),
                type_name,
                json_name: Some(json),
                oneof_index: spec.oneof,
                proto3_optional: optional.then_some(true),
                ..Default::default()
            });
            let wire = match spec.inner.as_ref().unwrap_or(&spec.proto) {
                ProtoType::Scalar(t) => WireKind::Scalar(*t),
                ProtoType::Message(m) => WireKind::Message(format!("{}.{m}", self.package)),
            };
            field_docs.push(spec.doc);
            xml_fields.push(XmlField {
                number,
                wire,
                tag: String::new(),
                name: spec.name,
                ns: spec.ns,
                role: spec.role,
                value: spec.value,
                repeated: spec.repeated,
                nillable: spec.nillable,
                xsi_type: spec.xsi_type,
            });
        }
        // proto3 `optional` fields each get a synthetic oneof, after the real ones.
        for field in &mut descriptor.field {
            if field.proto3_optional == Some(true) {
                field.oneof_index = Some(descriptor.oneof_decl.len() as i32);
                let synthetic = proto_names.claim(&format!("_{}", field.name()));
                descriptor.oneof_decl.push(OneofDescriptorProto {
                    name: Some(synthetic),
                    ..Default::default()
                });
            }
        }
        self.messages.push(descriptor);
        self.docs.insert(name.to_owned(), (None, field_docs));
        self.journal
            .push(Undo::Xml(format!("{}.{name}", self.package)));
        self.xml.messages.insert(
            format!("{}.{name}", self.package),
            Arc::new(XmlMessage {
                kind,
                fields: xml_fields,
            }),
        );
    }
}

/// A global component by name (see `lookup`), or the problem that it is not defined.
fn defined<V: Clone>(
    map: &HashMap<QName, V>,
    name: &QName,
    what: &str,
    at: &Pos,
) -> Result<V, Problem> {
    lookup(map, name)
        .cloned()
        .ok_or_else(|| (at.clone(), format!("{what} `{name}` is not defined")))
}

fn split(value: Value) -> (XmlValue, ProtoType) {
    match value {
        Value::Simple(info, t) => (XmlValue::Simple(info), ProtoType::Scalar(t)),
        Value::Complex(m) => (XmlValue::Complex, ProtoType::Message(m)),
        Value::Raw => (XmlValue::Raw, ProtoType::Scalar(Type::String)),
    }
}

fn string_info(builtin: &str) -> Arc<SimpleInfo> {
    Arc::new(SimpleInfo {
        builtin: builtin.into(),
        ..Default::default()
    })
}

fn merge_facets(info: &mut SimpleInfo, facets: &Facets) {
    if !facets.enumeration.is_empty() {
        info.facets.enumeration = facets.enumeration.clone();
    }
    let f = &mut info.facets;
    f.min_length = facets.min_length.or(f.min_length);
    f.max_length = facets.max_length.or(f.max_length);
    f.pattern.extend(facets.pattern.iter().cloned());
    // XSD patterns are anchored; the few XSD-only escapes (`\i`, `\c`, class subtraction)
    // do not compile and are left unchecked.
    info.patterns.extend(
        facets
            .pattern
            .iter()
            .filter_map(|p| crate::pattern::Pattern::new(p).ok()),
    );
    let f = &mut info.facets;
    f.min_inclusive = facets.min_inclusive.clone().or(f.min_inclusive.take());
    f.max_inclusive = facets.max_inclusive.clone().or(f.max_inclusive.take());
    f.min_exclusive = facets.min_exclusive.clone().or(f.min_exclusive.take());
    f.max_exclusive = facets.max_exclusive.clone().or(f.max_exclusive.take());
}

/// The protobuf type that holds a simple type (design.md section 5: decimal and the
/// unbounded integers stay text, so nothing is rounded).
fn proto_of(info: &SimpleInfo) -> Type {
    match &*info.builtin {
        "boolean" => Type::Bool,
        "float" => Type::Float,
        "double" => Type::Double,
        "long" => Type::Int64,
        "int" | "short" | "byte" => Type::Int32,
        "unsignedLong" => Type::Uint64,
        "unsignedInt" | "unsignedShort" | "unsignedByte" => Type::Uint32,
        "base64Binary" => Type::Bytes,
        _ => Type::String,
    }
}

/// Every XSD built-in type (XSD 1.0 and the 1.1 additions), by local name.
fn builtin(local: &str) -> Option<SimpleInfo> {
    let check = match local {
        "decimal" => Check::Decimal,
        "integer" => Check::Integer {
            min_sign: -1,
            max_sign: 1,
        },
        "nonNegativeInteger" => Check::Integer {
            min_sign: 0,
            max_sign: 1,
        },
        "positiveInteger" => Check::Integer {
            min_sign: 1,
            max_sign: 1,
        },
        "nonPositiveInteger" => Check::Integer {
            min_sign: -1,
            max_sign: 0,
        },
        "negativeInteger" => Check::Integer {
            min_sign: -1,
            max_sign: -1,
        },
        "short" => Check::Range(i16::MIN.into(), i16::MAX.into()),
        "byte" => Check::Range(i8::MIN.into(), i8::MAX.into()),
        "unsignedShort" => Check::Range(0, u16::MAX.into()),
        "unsignedByte" => Check::Range(0, u8::MAX.into()),
        "string" | "normalizedString" | "token" | "language" | "Name" | "NCName" | "ID"
        | "IDREF" | "ENTITY" | "NMTOKEN" | "QName" | "NOTATION" | "anyURI" | "boolean" | "long"
        | "int" | "unsignedLong" | "unsignedInt" | "float" | "double" | "duration" | "dateTime"
        | "dateTimeStamp" | "time" | "date" | "gYearMonth" | "gYear" | "gMonthDay" | "gDay"
        | "gMonth" | "hexBinary" | "base64Binary" | "anySimpleType" | "anyAtomicType"
        | "dayTimeDuration" | "yearMonthDuration" => Check::None,
        // Built-in list types.
        "IDREFS" | "ENTITIES" | "NMTOKENS" => {
            return Some(SimpleInfo {
                builtin: "string".into(),
                list: true,
                ..Default::default()
            })
        }
        _ => return None,
    };
    Some(SimpleInfo {
        builtin: local.into(),
        check,
        ..Default::default()
    })
}
