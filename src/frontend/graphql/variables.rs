//! Checks a request's variable values against the types the operation declares for them.
//!
//! Once a document has passed every validation rule, later requests with it skip the rules
//! that depend only on the document (the endpoint remembers it passed); what depends on the
//! request is the variables, which async-graphql checks only inside its full validation (its
//! checker is not public). This is that check, over the schema's registry.

use async_graphql::parser::types::{BaseType, OperationDefinition, Type};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Value, Variables};

/// Whether every variable of `operation` has a value of its type (or none, where allowed).
/// Only whether: a request that fails goes through full validation, which says why.
pub(super) fn check(
    registry: &Registry,
    operation: &OperationDefinition,
    variables: &Variables,
) -> bool {
    operation.variable_definitions.iter().all(|definition| {
        let definition = &definition.node;
        let value = variables
            .get(&definition.name.node)
            .or(definition.default_value.as_ref().map(|d| &d.node));
        match value {
            None => definition.var_type.node.nullable,
            Some(value) => declared(registry, &definition.var_type.node, value),
        }
    })
}

/// A value against a type as written in the document (`[Int64!]`).
fn declared(registry: &Registry, ty: &Type, value: &Value) -> bool {
    match (value, &ty.base) {
        (Value::Null, _) => ty.nullable,
        (Value::List(items), BaseType::List(item)) => {
            items.iter().all(|value| declared(registry, item, value))
        }
        (value, BaseType::List(item)) => declared(registry, item, value),
        (value, BaseType::Named(name)) => named(registry, name, value),
    }
}

/// A value against a type as the registry writes it (`[String!]`).
fn registered(registry: &Registry, ty: &str, value: &Value) -> bool {
    match (MetaTypeName::create(ty), value) {
        (MetaTypeName::NonNull(_), Value::Null) => false,
        (MetaTypeName::NonNull(inner), value) => registered(registry, inner, value),
        (_, Value::Null) => true,
        (MetaTypeName::List(item), Value::List(items)) => {
            items.iter().all(|value| registered(registry, item, value))
        }
        (MetaTypeName::List(item), value) => registered(registry, item, value),
        (MetaTypeName::Named(name), value) => named(registry, name, value),
    }
}

fn named(registry: &Registry, name: &str, value: &Value) -> bool {
    match registry.types.get(name) {
        Some(MetaType::Scalar { is_valid, .. }) => {
            is_valid.as_ref().is_none_or(|valid| valid(value))
        }
        Some(MetaType::Enum { enum_values, .. }) => match value {
            Value::Enum(v) => enum_values.contains_key(v.as_str()),
            Value::String(v) => enum_values.contains_key(v.as_str()),
            _ => false,
        },
        Some(MetaType::InputObject {
            input_fields,
            oneof,
            ..
        }) => {
            let Value::Object(fields) = value else {
                return false;
            };
            // A @oneOf input takes exactly one field, and not null.
            if *oneof && (fields.len() != 1 || fields.values().any(|v| *v == Value::Null)) {
                return false;
            }
            fields.iter().all(|(key, value)| {
                (input_fields.get(key.as_str()))
                    .is_some_and(|field| registered(registry, &field.ty, value))
            })
        }
        _ => false,
    }
}
