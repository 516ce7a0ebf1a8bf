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

mod xsd;

use xsd::split;

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
        Problem::new(
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
            return Err(Problem::new(
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
            Err(Problem { at: pos, message }) => {
                builder.rollback(mark);
                warnings.push(Problem::new(
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
                Problem::new(
                    choice.at.clone(),
                    format!("the WSDL has no service `{name}` (it has: {})", names()),
                )
            }),
        None => match defs.services.as_slice() {
            [one] => Ok(one),
            [] => Err(Problem::new(
                choice.at.clone(),
                "the WSDL defines no service".into(),
            )),
            _ => Err(Problem::new(
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
                Problem::new(
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
            return Err(Problem::new(
                port.pos.clone(),
                format!("binding `{}` is not defined", port.binding),
            ));
        }
    }
    all.into_iter().next().ok_or_else(|| {
        Problem::new(
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
                Problem::new(
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
            Problem::new(
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
        self.headers(op, binding, message_name, header_parts, &mut fields)?;
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

    /// The header fields of a message: `own`, its parts that `soap:header` binds, and the
    /// parts of other messages it binds (one that is not defined is left out with a warning).
    fn headers(
        &mut self,
        op: &BindingOperation,
        binding: &BodyBinding,
        message_name: &QName,
        own: Vec<&Part>,
        fields: &mut Fields,
    ) -> Result<(), Problem> {
        let mut headers = own;
        for (m, part) in &binding.headers {
            if m != message_name {
                match lookup(&self.loaded.definitions.messages, m) {
                    Some(other) => headers.extend(other.parts.iter().find(|p| &p.name == part)),
                    None => self.warnings.push(Problem::new(
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
                Problem::new(
                    part.pos.clone(),
                    "a soap:header part needs an `element`".to_owned(),
                )
            })?;
            let decl = self.global_element(element, &part.pos)?;
            self.element(&decl, false, None, Role::Header, fields)?;
        }
        Ok(())
    }

    /// A part as a field: its element, or (rpc, or document without WS-I) a field named by
    /// the part with its type.
    fn part(&mut self, part: &Part, fields: &mut Fields) -> Result<(), Problem> {
        if let Some(element) = &part.element {
            let decl = self.global_element(element, &part.pos)?;
            return self.element(&decl, false, None, Role::Element, fields);
        }
        let ty = part.ty.as_ref().ok_or_else(|| {
            Problem::new(
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
            self.warnings.push(Problem::new(
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
}
