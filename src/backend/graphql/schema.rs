//! A GraphQL backend's schema, from an SDL file or the endpoint's introspection: to check the
//! mapping's documents at load time (every selected field exists on its type, every argument on
//! its field), and to import the schema into the registry when the mapping gives no `.proto`
//! (`import`): each root field becomes a method with a generated document.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, SelectionSet, Type, TypeKind,
};
use prost_types::field_descriptor_proto::{Label, Type as ProtoType};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto,
    ServiceDescriptorProto,
};
use serde_json::Value;

use crate::registry::SchemaError;

/// A type reference: the named type, whether it is a list, and how it is written (`[ID!]!`).
#[derive(Debug, Clone)]
pub(crate) struct TypeRef {
    pub name: String,
    pub list: bool,
    pub text: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub args: Vec<(String, TypeRef)>,
    pub ty: TypeRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Input,
    Enum,
    Scalar,
    /// Unions: no fields to select but `__typename`.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct GqlType {
    pub kind: Kind,
    /// Object, interface and input object fields, in schema order.
    pub fields: Vec<Field>,
}

/// Generated documents by method name: the document, and the output field its result fills
/// (for outputs that are not objects).
pub(crate) type Documents = BTreeMap<String, (String, Option<String>)>;

pub struct SchemaShape {
    query: String,
    mutation: Option<String>,
    types: BTreeMap<String, GqlType>,
}

fn from_parser(ty: &Type) -> TypeRef {
    fn named(ty: &Type) -> (String, bool) {
        match &ty.base {
            BaseType::Named(name) => (name.to_string(), false),
            BaseType::List(inner) => (named(inner).0, true),
        }
    }
    let (name, list) = named(ty);
    TypeRef {
        name,
        list,
        text: ty.to_string(),
    }
}

impl SchemaShape {
    pub fn from_sdl(text: &str) -> Result<Self, SchemaError> {
        let document = async_graphql::parser::parse_schema(text).map_err(|e| {
            format!(
                "the SDL does not parse: {}",
                e.to_string().lines().last().unwrap_or("").trim()
            )
        })?;
        let mut shape = SchemaShape {
            query: "Query".into(),
            mutation: None,
            types: BTreeMap::new(),
        };
        let mut explicit_mutation = None;
        for definition in &document.definitions {
            use async_graphql::parser::types::TypeSystemDefinition as Definition;
            match definition {
                Definition::Schema(schema) => {
                    if let Some(query) = &schema.node.query {
                        shape.query = query.node.to_string();
                    }
                    explicit_mutation = schema.node.mutation.as_ref().map(|m| m.node.to_string());
                }
                Definition::Type(ty) => {
                    let field = |f: &async_graphql::parser::types::FieldDefinition| Field {
                        name: f.name.node.to_string(),
                        args: f
                            .arguments
                            .iter()
                            .map(|a| (a.node.name.node.to_string(), from_parser(&a.node.ty.node)))
                            .collect(),
                        ty: from_parser(&f.ty.node),
                    };
                    let (kind, fields) = match &ty.node.kind {
                        TypeKind::Object(o) => (
                            Kind::Object,
                            o.fields.iter().map(|f| field(&f.node)).collect(),
                        ),
                        TypeKind::Interface(i) => (
                            Kind::Object,
                            i.fields.iter().map(|f| field(&f.node)).collect(),
                        ),
                        TypeKind::InputObject(i) => (
                            Kind::Input,
                            i.fields
                                .iter()
                                .map(|f| Field {
                                    name: f.node.name.node.to_string(),
                                    args: Vec::new(),
                                    ty: from_parser(&f.node.ty.node),
                                })
                                .collect(),
                        ),
                        TypeKind::Enum(_) => (Kind::Enum, Vec::new()),
                        TypeKind::Scalar => (Kind::Scalar, Vec::new()),
                        TypeKind::Union(_) => (Kind::Other, Vec::new()),
                    };
                    let entry =
                        shape
                            .types
                            .entry(ty.node.name.node.to_string())
                            .or_insert(GqlType {
                                kind,
                                fields: Vec::new(),
                            });
                    entry.fields.extend(fields);
                }
                _ => {}
            }
        }
        shape.mutation = explicit_mutation.or_else(|| {
            shape
                .types
                .contains_key("Mutation")
                .then(|| "Mutation".into())
        });
        Ok(shape)
    }

    /// From the answer to `INTROSPECTION`.
    pub fn from_introspection(answer: &Value) -> Result<Self, SchemaError> {
        let schema = answer.pointer("/data/__schema").ok_or(
            "the endpoint answered introspection without data.__schema (is introspection off?)",
        )?;
        fn type_ref(ty: &Value) -> TypeRef {
            match ty.get("kind").and_then(Value::as_str) {
                Some("NON_NULL") => {
                    let inner = type_ref(&ty["ofType"]);
                    TypeRef {
                        text: format!("{}!", inner.text),
                        ..inner
                    }
                }
                Some("LIST") => {
                    let inner = type_ref(&ty["ofType"]);
                    TypeRef {
                        list: true,
                        text: format!("[{}]", inner.text),
                        name: inner.name,
                    }
                }
                _ => {
                    let name = ty
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    TypeRef {
                        text: name.clone(),
                        name,
                        list: false,
                    }
                }
            }
        }
        let fields_of = |list: Option<&Value>| -> Vec<Field> {
            list.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|f| Field {
                    name: f
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    args: f
                        .get("args")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            (
                                a.get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_owned(),
                                type_ref(&a["type"]),
                            )
                        })
                        .collect(),
                    ty: type_ref(&f["type"]),
                })
                .collect()
        };
        let mut types = BTreeMap::new();
        for ty in schema
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = ty
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let (kind, fields) = match ty.get("kind").and_then(Value::as_str) {
                Some("OBJECT" | "INTERFACE") => (Kind::Object, fields_of(ty.get("fields"))),
                Some("INPUT_OBJECT") => (Kind::Input, fields_of(ty.get("inputFields"))),
                Some("ENUM") => (Kind::Enum, Vec::new()),
                Some("SCALAR") => (Kind::Scalar, Vec::new()),
                _ => (Kind::Other, Vec::new()),
            };
            types.insert(name, GqlType { kind, fields });
        }
        Ok(SchemaShape {
            query: schema
                .pointer("/queryType/name")
                .and_then(Value::as_str)
                .unwrap_or("Query")
                .to_owned(),
            mutation: schema
                .pointer("/mutationType/name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            types,
        })
    }

    /// Checks a document's selections against the schema.
    pub fn check(&self, document: &ExecutableDocument) -> Result<(), SchemaError> {
        for (_, operation) in document.operations.iter() {
            let root = match operation.node.ty {
                OperationType::Query => self.query.clone(),
                OperationType::Mutation => {
                    self.mutation.clone().ok_or("the schema has no mutations")?
                }
                OperationType::Subscription => {
                    return Err("subscriptions cannot be backend calls".into())
                }
            };
            self.selections(document, &operation.node.selection_set.node, &root, 0)?;
        }
        Ok(())
    }

    fn selections(
        &self,
        document: &ExecutableDocument,
        set: &SelectionSet,
        ty: &str,
        depth: usize,
    ) -> Result<(), SchemaError> {
        let Some(gql) = self.types.get(ty).filter(|t| t.kind == Kind::Object) else {
            return Ok(()); // Scalars, enums and unions: nothing more to check here.
        };
        if depth > 32 {
            return Ok(());
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    let found = gql.fields.iter().find(|f| f.name == name).ok_or_else(|| {
                        format!("`{name}` is not a field of {ty} in the backend's schema")
                    })?;
                    for (arg, _) in &field.node.arguments {
                        if !found.args.iter().any(|(a, _)| a == arg.node.as_str()) {
                            return Err(
                                format!("`{name}` of {ty} has no argument `{}`", arg.node).into()
                            );
                        }
                    }
                    self.selections(
                        document,
                        &field.node.selection_set.node,
                        &found.ty.name,
                        depth + 1,
                    )?;
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(ty.to_owned(), |c| c.node.on.node.to_string());
                    self.selections(document, &fragment.node.selection_set.node, &on, depth + 1)?;
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        let on = fragment.node.type_condition.node.on.node.to_string();
                        self.selections(
                            document,
                            &fragment.node.selection_set.node,
                            &on,
                            depth + 1,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Imports the schema as one protobuf service in `package`: a method per root field of the
    /// query and mutation types, named in PascalCase, whose input holds the field's arguments and
    /// whose output is the field's type (a message with one field `value` for scalars and
    /// lists). Returns the file, the service's full name, and each method's generated document
    /// and the key its result is wrapped in (if any).
    pub fn import(&self, package: &str) -> (FileDescriptorProto, String, Documents) {
        let mut importer = Importer {
            shape: self,
            package,
            messages: Vec::new(),
            done: HashSet::new(),
        };
        let mut methods = Vec::new();
        let mut documents = BTreeMap::new();
        let roots = [
            (Some(self.query.clone()), "query"),
            (self.mutation.clone(), "mutation"),
        ];
        for (root, keyword) in roots {
            let Some(root) = root else { continue };
            let Some(gql) = self.types.get(&root) else {
                continue;
            };
            for field in &gql.fields {
                if field.name.starts_with("__") {
                    continue;
                }
                let method = pascal(&field.name);
                let input = format!("{method}Request");
                let mut request = DescriptorProto {
                    name: Some(input.clone()),
                    ..Default::default()
                };
                for (i, (name, ty)) in field.args.iter().enumerate() {
                    request.field.push(importer.field(name, ty, i));
                }
                importer.messages.push(request);
                let (output, wrap) = if !field.ty.list && self.kind(&field.ty.name) == Kind::Object
                {
                    (importer.message(&field.ty.name), None)
                } else {
                    let name = format!("{method}Response");
                    let value = importer.field("value", &field.ty, 0);
                    importer.messages.push(DescriptorProto {
                        name: Some(name.clone()),
                        field: vec![value],
                        ..Default::default()
                    });
                    (name, Some("value".to_owned()))
                };
                methods.push(MethodDescriptorProto {
                    name: Some(method.clone()),
                    input_type: Some(format!(".{package}.{input}")),
                    output_type: Some(format!(".{package}.{output}")),
                    ..Default::default()
                });
                let variables: Vec<String> = field
                    .args
                    .iter()
                    .map(|(n, t)| format!("${n}: {}", t.text))
                    .collect();
                let arguments: Vec<String> = field
                    .args
                    .iter()
                    .map(|(n, _)| format!("{n}: ${n}"))
                    .collect();
                let mut document = keyword.to_owned();
                if !variables.is_empty() {
                    document.push_str(&format!("({})", variables.join(", ")));
                }
                document.push_str(&format!(" {{ {}", field.name));
                if !arguments.is_empty() {
                    document.push_str(&format!("({})", arguments.join(", ")));
                }
                document.push_str(&self.selection(&field.ty.name, 0));
                document.push_str(" }");
                documents.insert(method, (document, wrap));
            }
        }
        let file = FileDescriptorProto {
            name: Some(format!("rosetta/graphql/{package}.proto")),
            package: Some(package.to_owned()),
            dependency: vec!["google/protobuf/struct.proto".into()],
            message_type: importer.messages,
            service: vec![ServiceDescriptorProto {
                name: Some("Api".into()),
                method: methods,
                ..Default::default()
            }],
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        (file, format!("{package}.Api"), documents)
    }

    fn kind(&self, name: &str) -> Kind {
        match name {
            "Int" | "Float" | "String" | "Boolean" | "ID" => Kind::Scalar,
            _ => self.types.get(name).map_or(Kind::Scalar, |t| t.kind),
        }
    }

    /// The selection set of a generated document: every field without required arguments, three
    /// levels of objects deep.
    fn selection(&self, ty: &str, depth: usize) -> String {
        match self.kind(ty) {
            Kind::Object => {}
            Kind::Other => return " { __typename }".into(),
            _ => return String::new(),
        }
        let Some(gql) = self.types.get(ty) else {
            return String::new();
        };
        let mut parts = Vec::new();
        for field in &gql.fields {
            if field.args.iter().any(|(_, t)| t.text.ends_with('!')) || field.name.starts_with("__")
            {
                continue;
            }
            match self.kind(&field.ty.name) {
                Kind::Object if depth < 3 => parts.push(format!(
                    "{}{}",
                    field.name,
                    self.selection(&field.ty.name, depth + 1)
                )),
                Kind::Object | Kind::Other => {}
                _ => parts.push(field.name.clone()),
            }
        }
        if parts.is_empty() {
            parts.push("__typename".into());
        }
        format!(" {{ {} }}", parts.join(" "))
    }
}

/// Makes the messages of an import.
struct Importer<'s> {
    shape: &'s SchemaShape,
    package: &'s str,
    messages: Vec<DescriptorProto>,
    done: HashSet<String>,
}

impl Importer<'_> {
    /// The message of an object or input type, named as the type.
    fn message(&mut self, name: &str) -> String {
        if self.done.insert(name.to_owned()) {
            let fields = self
                .shape
                .types
                .get(name)
                .map(|t| t.fields.clone())
                .unwrap_or_default();
            let mut message = DescriptorProto {
                name: Some(name.to_owned()),
                ..Default::default()
            };
            for (i, field) in fields.iter().enumerate() {
                message.field.push(self.field(&field.name, &field.ty, i));
            }
            self.messages.push(message);
        }
        name.to_owned()
    }

    /// A field of a GraphQL type: Int -> int32, Float -> double, String and ID -> string,
    /// Boolean -> bool, enums -> string (their names), objects and inputs -> messages, unions
    /// and custom scalars -> google.protobuf.Value (any JSON, so nothing is reinterpreted).
    fn field(&mut self, name: &str, ty: &TypeRef, index: usize) -> FieldDescriptorProto {
        let (r#type, type_name) = match ty.name.as_str() {
            "Int" => (ProtoType::Int32, None),
            "Float" => (ProtoType::Double, None),
            "String" | "ID" => (ProtoType::String, None),
            "Boolean" => (ProtoType::Bool, None),
            other => match self.shape.kind(other) {
                Kind::Enum => (ProtoType::String, None),
                Kind::Object | Kind::Input => {
                    let message = self.message(other);
                    (
                        ProtoType::Message,
                        Some(format!(".{}.{message}", self.package)),
                    )
                }
                _ => (
                    ProtoType::Message,
                    Some(".google.protobuf.Value".to_owned()),
                ),
            },
        };
        FieldDescriptorProto {
            name: Some(name.to_owned()),
            json_name: Some(name.to_owned()),
            number: Some(index as i32 + 1),
            label: Some(if ty.list {
                Label::Repeated
            } else {
                Label::Optional
            } as i32),
            r#type: Some(r#type as i32),
            type_name,
            ..Default::default()
        }
    }
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Enough introspection to know every type's fields, arguments and their types.
const INTROSPECTION: &str = "{ __schema { queryType { name } mutationType { name } types { kind name fields(includeDeprecated: true) { name args { name type { ...T } } type { ...T } } inputFields { name type { ...T } } } } } fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

/// Asks the endpoint for its schema (at load time, so on a thread of its own).
pub(crate) fn introspect(url: &str) -> Result<SchemaShape, SchemaError> {
    let url = url.to_owned();
    let answer = std::thread::spawn(move || -> Result<Value, SchemaError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| SchemaError::from(e.to_string()))?;
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "query": INTROSPECTION }).to_string())
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.bytes())
            .map_err(|e| e.without_url().to_string())
            .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
            .map_err(SchemaError::from)
    })
    .join()
    .unwrap_or_else(|_| Err("the introspection failed".into()))
    .map_err(|e| format!("cannot introspect the GraphQL backend: {e}"))?;
    SchemaShape::from_introspection(&answer)
}
