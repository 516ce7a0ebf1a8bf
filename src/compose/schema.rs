//! The typed face of a composed endpoint, so that it is an operation like any other (exported
//! to OpenAPI, served over GraphQL, gRPC and SOAP): a request message with the path variables,
//! the query parameters its expressions read and the body, and a response message whose field
//! types are inferred from the JMESPath expressions over the steps' own response types. What
//! cannot be inferred is a `google.protobuf.Value`: any JSON.

use std::collections::BTreeSet;

use jmespath::ast::Ast;
use jmespath::Variable;
use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto,
    OneofDescriptorProto, ServiceDescriptorProto,
};

use crate::registry::{pascal, proto_name};

/// What an expression yields, as far as its types tell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    Scalar(Type),
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
    List(Box<Shape>),
    /// A JSON object with these keys (a JMESPath multi-select hash, or the context).
    Object(Vec<(String, Shape)>),
    /// A JSON object of strings under any key (`query`, `headers`).
    Strings,
    /// Any JSON.
    Any,
}

impl Shape {
    /// The shape of a field of a step's response.
    pub(crate) fn of_field(field: &FieldDescriptor) -> Shape {
        let single = match field.kind() {
            Kind::Message(m) if m.is_map_entry() => return Shape::Any,
            Kind::Message(m) => Shape::Message(m),
            Kind::Enum(e) => Shape::Enum(e),
            kind => Shape::Scalar(scalar_type(&kind)),
        };
        if field.is_list() {
            Shape::List(Box::new(single))
        } else {
            single
        }
    }

    fn list_of(element: Shape) -> Shape {
        match element {
            // Lists of lists have no protobuf type: their elements are any JSON.
            Shape::List(_) => Shape::List(Box::new(Shape::Any)),
            element => Shape::List(Box::new(element)),
        }
    }

    fn member(&self, name: &str) -> Shape {
        match self {
            Shape::Object(fields) => fields
                .iter()
                .find(|(key, _)| key == name)
                .map_or(Shape::Any, |(_, shape)| shape.clone()),
            Shape::Message(message) => message
                .fields()
                .find(|f| f.json_name() == name)
                .or_else(|| message.get_field_by_name(name))
                .map_or(Shape::Any, |f| Shape::of_field(&f)),
            Shape::Strings => Shape::Scalar(Type::String),
            _ => Shape::Any,
        }
    }
}

fn scalar_type(kind: &Kind) -> Type {
    match kind {
        Kind::Double => Type::Double,
        Kind::Float => Type::Float,
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Type::Int32,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Type::Int64,
        Kind::Uint32 | Kind::Fixed32 => Type::Uint32,
        Kind::Uint64 | Kind::Fixed64 => Type::Uint64,
        Kind::Bool => Type::Bool,
        Kind::Bytes => Type::Bytes,
        Kind::String | Kind::Message(_) | Kind::Enum(_) => Type::String,
    }
}

/// The shape of what `ast` yields when applied to a value of shape `current`.
pub(crate) fn infer(ast: &Ast, current: &Shape) -> Shape {
    match ast {
        Ast::Identity { .. } => current.clone(),
        Ast::Field { name, .. } => current.member(name),
        Ast::Subexpr { lhs, rhs, .. } => infer(rhs, &infer(lhs, current)),
        Ast::Index { .. } => match current {
            Shape::List(element) => (**element).clone(),
            _ => Shape::Any,
        },
        Ast::Slice { .. } => match current {
            Shape::List(_) => current.clone(),
            _ => Shape::Any,
        },
        Ast::Projection { lhs, rhs, .. } => match infer(lhs, current) {
            Shape::List(element) => Shape::list_of(infer(rhs, &element)),
            _ => Shape::Any,
        },
        Ast::Flatten { node, .. } => match infer(node, current) {
            Shape::List(element) => match *element {
                Shape::List(inner) => Shape::List(inner),
                element => Shape::List(Box::new(element)),
            },
            _ => Shape::Any,
        },
        // A filter yields the element it keeps.
        Ast::Condition { then, .. } => infer(then, current),
        Ast::Literal { value, .. } => match &**value {
            Variable::String(_) => Shape::Scalar(Type::String),
            Variable::Bool(_) => Shape::Scalar(Type::Bool),
            // A double, so that `1` stays the JSON number 1 (an int64 would be the string "1").
            Variable::Number(_) => Shape::Scalar(Type::Double),
            _ => Shape::Any,
        },
        Ast::Or { lhs, rhs, .. } => same(infer(lhs, current), infer(rhs, current)),
        Ast::Not { .. } | Ast::Comparison { .. } => Shape::Scalar(Type::Bool),
        Ast::MultiHash { elements, .. } => Shape::Object(
            elements
                .iter()
                .map(|pair| (pair.key.clone(), infer(&pair.value, current)))
                .collect(),
        ),
        Ast::MultiList { elements, .. } => Shape::list_of(
            elements
                .iter()
                .map(|element| infer(element, current))
                .reduce(same)
                .unwrap_or(Shape::Any),
        ),
        Ast::Function { name, args, .. } => {
            let first = || args.first().map_or(Shape::Any, |a| infer(a, current));
            match name.as_str() {
                "length" => Shape::Scalar(Type::Int32),
                "to_string" | "join" | "type" => Shape::Scalar(Type::String),
                "to_number" | "sum" | "avg" | "abs" | "ceil" | "floor" => {
                    Shape::Scalar(Type::Double)
                }
                "contains" | "starts_with" | "ends_with" => Shape::Scalar(Type::Bool),
                "keys" => Shape::List(Box::new(Shape::Scalar(Type::String))),
                "sort" | "reverse" | "sort_by" => first(),
                "max" | "min" => match first() {
                    Shape::List(element) => *element,
                    _ => Shape::Any,
                },
                "not_null" => args
                    .iter()
                    .map(|a| infer(a, current))
                    .reduce(same)
                    .unwrap_or(Shape::Any),
                _ => Shape::Any,
            }
        }
        _ => Shape::Any,
    }
}

fn same(a: Shape, b: Shape) -> Shape {
    if a == b {
        a
    } else {
        Shape::Any
    }
}

/// What `ast` reads of the value it is applied to (the context): each top-level field, with
/// the member read under it when there is one (`steps.user.name` -> `("steps", Some("user"))`).
pub(crate) fn roots(ast: &Ast) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    collect_roots(ast, &mut out);
    out
}

fn collect_roots(ast: &Ast, out: &mut Vec<(String, Option<String>)>) {
    match ast {
        Ast::Field { name, .. } => out.push((name.clone(), None)),
        Ast::Subexpr { lhs, rhs, .. } => match &**lhs {
            Ast::Field { name, .. } => {
                let member = match &**rhs {
                    Ast::Field { name, .. } => Some(name.clone()),
                    _ => None,
                };
                out.push((name.clone(), member));
            }
            // The right side reads what the left side yields, not the context.
            lhs => collect_roots(lhs, out),
        },
        Ast::Projection { lhs, .. } => collect_roots(lhs, out),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            collect_roots(node, out)
        }
        Ast::Comparison { lhs, rhs, .. } | Ast::And { lhs, rhs, .. } | Ast::Or { lhs, rhs, .. } => {
            collect_roots(lhs, out);
            collect_roots(rhs, out);
        }
        Ast::Condition {
            predicate, then, ..
        } => {
            collect_roots(predicate, out);
            collect_roots(then, out);
        }
        Ast::Function { args: nodes, .. }
        | Ast::MultiList {
            elements: nodes, ..
        } => nodes.iter().for_each(|n| collect_roots(n, out)),
        Ast::MultiHash { elements, .. } => {
            elements.iter().for_each(|p| collect_roots(&p.value, out))
        }
        // An expression reference reads the elements a function gives it.
        Ast::Expref { .. }
        | Ast::Identity { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => {}
    }
}

/// The request and response of a composed endpoint's method.
pub(crate) struct Signature<'a> {
    pub file: &'a str,
    pub package: &'a str,
    pub service: &'a str,
    pub method: &'a str,
    /// Path variables, then query parameters (`true`: optional), as JSON names.
    pub inputs: Vec<(String, bool)>,
    /// Whether the request has a JSON `body` field.
    pub body: bool,
    /// The response's fields: each key and what its expression yields.
    pub response: Vec<(String, Shape)>,
}

/// The message that lists the optional steps that failed, in a file of its own that every
/// composed endpoint's file imports.
pub(crate) const STEP_ERROR: &str = "rosetta.compose.StepError";
const STEP_ERROR_FILE: &str = "rosetta/compose/step_error.proto";
const VALUE: &str = ".google.protobuf.Value";

/// A file with the composed endpoint's service, its messages and the step errors' message.
pub(crate) fn file(signature: &Signature) -> FileDescriptorProto {
    let mut builder = Builder {
        dependencies: BTreeSet::new(),
    };
    let mut request = DescriptorProto {
        name: Some(format!("{}Request", signature.method)),
        ..Default::default()
    };
    for (name, optional) in &signature.inputs {
        let field = scalar_field(name, Type::String, *optional);
        builder.push(&mut request, field);
    }
    if signature.body {
        builder
            .dependencies
            .insert("google/protobuf/struct.proto".into());
        let mut body = scalar_field("body", Type::Message, false);
        body.type_name = Some(VALUE.into());
        builder.push(&mut request, body);
    }
    let mut response = DescriptorProto {
        name: Some(format!("{}Response", signature.method)),
        ..Default::default()
    };
    let scope = format!("{}.{}", signature.package, response.name());
    for (key, shape) in &signature.response {
        builder.field(&mut response, &scope, key, shape);
    }
    let errors = FieldDescriptorProto {
        label: Some(Label::Repeated as i32),
        type_name: Some(format!(".{STEP_ERROR}")),
        ..scalar_field("errors", Type::Message, false)
    };
    builder.push(&mut response, errors);
    builder.dependencies.insert(STEP_ERROR_FILE.into());
    let method = MethodDescriptorProto {
        name: Some(signature.method.to_owned()),
        input_type: Some(format!(".{}.{}", signature.package, request.name())),
        output_type: Some(format!(".{}.{}", signature.package, response.name())),
        ..Default::default()
    };
    FileDescriptorProto {
        name: Some(signature.file.to_owned()),
        package: Some(signature.package.to_owned()),
        dependency: builder.dependencies.into_iter().collect(),
        message_type: vec![request, response],
        service: vec![ServiceDescriptorProto {
            name: Some(signature.service.to_owned()),
            method: vec![method],
            ..Default::default()
        }],
        syntax: Some("proto3".into()),
        ..Default::default()
    }
}

/// The file of [`STEP_ERROR`].
pub(crate) fn step_error_file() -> FileDescriptorProto {
    let (package, name) = STEP_ERROR.rsplit_once('.').unwrap_or_default();
    let mut step_error = DescriptorProto {
        name: Some(name.into()),
        ..Default::default()
    };
    let mut builder = Builder {
        dependencies: BTreeSet::new(),
    };
    for (field, r#type) in [
        ("step", Type::String),
        ("code", Type::Int32),
        ("message", Type::String),
    ] {
        builder.push(&mut step_error, scalar_field(field, r#type, false));
    }
    FileDescriptorProto {
        name: Some(STEP_ERROR_FILE.into()),
        package: Some(package.into()),
        message_type: vec![step_error],
        syntax: Some("proto3".into()),
        ..Default::default()
    }
}

/// A field numbered 1 named after `json_name`; proto3 `optional` when `optional`.
fn scalar_field(json_name: &str, r#type: Type, optional: bool) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(proto_name(json_name)),
        json_name: Some(json_name.to_owned()),
        number: Some(1),
        label: Some(Label::Optional as i32),
        r#type: Some(r#type as i32),
        proto3_optional: optional.then_some(true),
        ..Default::default()
    }
}

struct Builder {
    dependencies: BTreeSet<String>,
}

impl Builder {
    /// Adds `field` to `message`, numbered after the others (with its synthetic oneof when it
    /// is proto3 `optional`).
    fn push(&mut self, message: &mut DescriptorProto, mut field: FieldDescriptorProto) {
        field.number = Some(message.field.len() as i32 + 1);
        if field.proto3_optional == Some(true) {
            field.oneof_index = Some(message.oneof_decl.len() as i32);
            message.oneof_decl.push(OneofDescriptorProto {
                name: Some(format!("_{}", field.name())),
                ..Default::default()
            });
        }
        message.field.push(field);
    }

    /// Adds a field of shape `shape` to `message` (nesting a message for an object).
    /// `scope` is the full name of `message`.
    fn field(&mut self, message: &mut DescriptorProto, scope: &str, key: &str, shape: &Shape) {
        let (element, repeated) = match shape {
            Shape::List(element) => (&**element, true),
            shape => (shape, false),
        };
        let mut field = scalar_field(key, Type::Message, !repeated);
        match element {
            Shape::Scalar(t) => field.r#type = Some(*t as i32),
            Shape::Message(m) => {
                self.dependencies.insert(m.parent_file().name().to_owned());
                field.type_name = Some(format!(".{}", m.full_name()));
                field.proto3_optional = None;
            }
            Shape::Enum(e) => {
                self.dependencies.insert(e.parent_file().name().to_owned());
                field.r#type = Some(Type::Enum as i32);
                field.type_name = Some(format!(".{}", e.full_name()));
            }
            Shape::Object(fields) => {
                let mut name = pascal(key);
                while message.nested_type.iter().any(|n| n.name() == name) {
                    name.push('_');
                }
                let mut nested = DescriptorProto {
                    name: Some(name.clone()),
                    ..Default::default()
                };
                let nested_scope = format!("{scope}.{name}");
                for (key, shape) in fields {
                    self.field(&mut nested, &nested_scope, key, shape);
                }
                message.nested_type.push(nested);
                field.type_name = Some(format!(".{nested_scope}"));
                field.proto3_optional = None;
            }
            Shape::List(_) | Shape::Strings | Shape::Any => {
                self.dependencies
                    .insert("google/protobuf/struct.proto".into());
                field.type_name = Some(VALUE.into());
                field.proto3_optional = None;
            }
        }
        if repeated {
            field.label = Some(Label::Repeated as i32);
            field.proto3_optional = None;
        }
        self.push(message, field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(expression: &str, context: &Shape) -> Shape {
        infer(jmespath::compile(expression).unwrap().as_ast(), context)
    }

    #[test]
    fn shapes_follow_the_expressions() {
        let string = || Shape::Scalar(Type::String);
        let context = Shape::Object(vec![
            ("query".into(), Shape::Strings),
            (
                "names".into(),
                Shape::List(Box::new(Shape::Object(vec![("first".into(), string())]))),
            ),
        ]);
        assert_eq!(shape("query.q || 'x'", &context), string());
        assert_eq!(shape("query.q || `1`", &context), Shape::Any);
        assert_eq!(shape("query.q == 'x'", &context), Shape::Scalar(Type::Bool));
        assert_eq!(
            shape("names[].first", &context),
            Shape::List(Box::new(string()))
        );
        assert_eq!(shape("names[0].first", &context), string());
        assert_eq!(
            shape("names[?first == 'a'].first", &context),
            Shape::List(Box::new(string()))
        );
        assert_eq!(shape("length(names)", &context), Shape::Scalar(Type::Int32));
        assert_eq!(shape("`2`", &context), Shape::Scalar(Type::Double));
        assert_eq!(
            shape("[query.a, query.b]", &context),
            Shape::List(Box::new(string()))
        );
        assert_eq!(
            shape("{a: query.a, n: length(names)}", &context),
            Shape::Object(vec![
                ("a".into(), string()),
                ("n".into(), Shape::Scalar(Type::Int32))
            ])
        );
        // A list of lists is a list of any JSON; unknown names are any JSON.
        assert_eq!(
            shape("[names, names]", &context),
            Shape::List(Box::new(Shape::Any))
        );
        assert_eq!(shape("nothing.here", &context), Shape::Any);
    }

    #[test]
    fn roots_are_what_the_context_gives() {
        let roots = |e: &str| roots(jmespath::compile(e).unwrap().as_ast());
        assert_eq!(
            roots("steps.user.friends[].name || query.q"),
            vec![
                ("steps".into(), Some("user".into())),
                ("query".into(), Some("q".into()))
            ]
        );
        // Projections and filters read the elements, not the context.
        assert_eq!(
            roots("body.items[?kind == 'a'].id"),
            vec![("body".into(), Some("items".into()))]
        );
        assert_eq!(
            roots("sort_by(steps.list, &name)"),
            vec![("steps".into(), Some("list".into()))]
        );
        assert_eq!(roots("item"), vec![("item".into(), None)]);
    }
}
