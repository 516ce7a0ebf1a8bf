//! The registry of operations: every schema source reflected into one `DescriptorPool`
//! (design.md section 1). Frontends and backends see only operations and typed messages.

pub mod openapi;
pub mod print;
pub mod proto;
pub(crate) mod wkt;
pub mod wsdl;

use std::sync::Arc;

use prost_reflect::{DescriptorPool, FieldDescriptor, FileDescriptor, MethodDescriptor};
use prost_types::source_code_info::Location;

use crate::config::Pos;

/// Why a schema document (OpenAPI, GraphQL SDL or introspection), a rule or a document written
/// against a schema cannot be used: what is wrong, in the document's own terms. The caller
/// reports it at the configuration key that names the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    pub message: String,
    /// What to write instead, when it can be told (a did-you-mean).
    pub help: Option<String>,
}

impl SchemaError {
    /// With a did-you-mean when one of `known` is close to `written`.
    pub fn suggesting<'k>(
        mut self,
        written: &str,
        known: impl IntoIterator<Item = &'k str>,
    ) -> Self {
        self.help =
            crate::config::closest(written, known).map(|near| format!("did you mean `{near}`?"));
        self
    }
}

impl SchemaError {
    /// As a diagnostic at `at`, with its help.
    pub fn at(self, at: &Pos) -> crate::config::Diagnostic {
        let diagnostic = crate::config::Diagnostic::at(at, self.message);
        match self.help {
            Some(help) => diagnostic.with_help(help),
            None => diagnostic,
        }
    }
}

/// The field a full name such as `shop.v1.Order.email` names, or the problem with a
/// did-you-mean (a field of the same message, or the same field of a close message).
pub(crate) fn field_by_full_name(
    pool: &DescriptorPool,
    name: &str,
) -> Result<FieldDescriptor, SchemaError> {
    let (message, field) = name.rsplit_once('.').unwrap_or(("", name));
    let problem = SchemaError::from(format!(
        "`{name}` names no field of the mapping's schemas (write `package.Message.field`)"
    ));
    match pool.get_message_by_name(message) {
        Some(m) => m.get_field_by_name(field).ok_or_else(|| {
            let known: Vec<String> = m.fields().map(|f| f.full_name().to_owned()).collect();
            problem.suggesting(name, known.iter().map(String::as_str))
        }),
        None => {
            let known: Vec<String> = (pool.all_messages())
                .filter(|m| m.get_field_by_name(field).is_some())
                .map(|m| format!("{}.{field}", m.full_name()))
                .collect();
            Err(problem.suggesting(name, known.iter().map(String::as_str)))
        }
    }
}

impl From<String> for SchemaError {
    fn from(message: String) -> Self {
        SchemaError {
            message,
            help: None,
        }
    }
}

impl From<&str> for SchemaError {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

/// How many messages flow each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

impl CallKind {
    pub fn of(method: &MethodDescriptor) -> Self {
        match (method.is_client_streaming(), method.is_server_streaming()) {
            (false, false) => CallKind::Unary,
            (false, true) => CallKind::ServerStreaming,
            (true, false) => CallKind::ClientStreaming,
            (true, true) => CallKind::Bidi,
        }
    }

    pub fn streams_requests(self) -> bool {
        matches!(self, CallKind::ClientStreaming | CallKind::Bidi)
    }

    pub fn streams_responses(self) -> bool {
        matches!(self, CallKind::ServerStreaming | CallKind::Bidi)
    }
}

/// One operation: a method with typed input and output.
#[derive(Debug)]
pub struct Operation {
    pub method: MethodDescriptor,
    pub kind: CallKind,
    /// `/package.Service/Method`, the gRPC path.
    pub grpc_path: http::uri::PathAndQuery,
}

impl Operation {
    pub fn new(method: MethodDescriptor) -> Arc<Self> {
        let grpc_path = format!("/{}/{}", method.parent_service().full_name(), method.name())
            .parse()
            .expect("service and method names are valid path characters");
        Arc::new(Operation {
            kind: CallKind::of(&method),
            method,
            grpc_path,
        })
    }

    pub fn full_name(&self) -> &str {
        self.method.full_name()
    }
}

/// Whether a method's name says it reads (`GetUser`, `listOrders`; design.md section 4):
/// GraphQL makes it a query, the cache may keep its replies.
pub fn reads_by_name(method: &MethodDescriptor) -> bool {
    const READ_PREFIXES: [&str; 10] = [
        "Get", "List", "Search", "Find", "Count", "Lookup", "Query", "Fetch", "Read", "BatchGet",
    ];
    let name = method.name();
    READ_PREFIXES.iter().any(|prefix| {
        // `getCustomer` (SOAP operations are often lowerCamelCase) counts; `Getaway` does not.
        name.len() >= prefix.len()
            && name[..prefix.len()].eq_ignore_ascii_case(prefix)
            && name[..1].eq_ignore_ascii_case(&prefix[..1])
            && name[1..prefix.len()] == prefix[1..]
            && !name[prefix.len()..].starts_with(|c: char| c.is_ascii_lowercase())
    })
}

/// `snake_case` -> `snakeCase`: the JSON name protoc gives a field.
pub fn lower_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Adds an imported file to the pool, with the well-known files it imports that the pool lacks
/// (an import may need `struct.proto` when no `.proto` of the configuration brought it).
pub fn add_imported(
    pool: &mut prost_reflect::DescriptorPool,
    file: prost_types::FileDescriptorProto,
) -> Result<(), prost_reflect::DescriptorError> {
    let known = prost_reflect::DescriptorPool::global();
    let mut missing: Vec<prost_types::FileDescriptorProto> = Vec::new();
    let mut stack: Vec<String> = file.dependency.clone();
    while let Some(name) = stack.pop() {
        if pool.get_file_by_name(&name).is_some() || missing.iter().any(|f| f.name() == name) {
            continue;
        }
        if let Some(dependency) = known.get_file_by_name(&name) {
            stack.extend(dependency.dependencies().map(|d| d.name().to_owned()));
            missing.push(dependency.file_descriptor_proto().clone());
        }
    }
    // Dependencies before the files that import them.
    missing.reverse();
    pool.add_file_descriptor_protos(missing.into_iter().chain(std::iter::once(file)))
}

/// An UpperCamelCase name from any text, whose other characters separate words:
/// `list pets`, `showPetById`, `Pet.yaml` -> `ListPets`, `ShowPetById`, `PetYaml`.
pub fn pascal(text: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        } else {
            upper = true;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, 'X');
    }
    out
}

/// A protobuf field name for a JSON name: its characters that may not appear turned into `_`.
pub fn proto_name(json_name: &str) -> String {
    let mut name: String = json_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        name.insert(0, 'f');
    }
    name
}

/// Where a descriptor was declared, from the source info protox keeps.
pub fn declared_at(method: &MethodDescriptor, shown_file: &str) -> Pos {
    let span = location(&method.parent_file(), method.path()).map(|l| l.span.clone());
    let (line, column) = match span.as_deref() {
        Some([line, column, ..]) => (*line as u64 + 1, *column as u64 + 1),
        _ => (1, 1),
    };
    Pos {
        file: shown_file.into(),
        line,
        column,
    }
}

/// The comment written before (or else after) a descriptor, without comment markers: what
/// GraphQL shows as its description.
pub fn comments(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let location = location(file, path)?;
    let text = location
        .leading_comments
        .as_deref()
        .or(location.trailing_comments.as_deref())?;
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn location<'f>(file: &'f FileDescriptor, path: &[i32]) -> Option<&'f Location> {
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()?
        .location
        .iter()
        .find(|l| l.path == path)
}
