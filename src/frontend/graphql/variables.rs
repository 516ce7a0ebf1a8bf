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
pub(super) fn check(
    registry: &Registry,
    operation: &OperationDefinition,
    variables: &Variables,
) -> Result<(), String> {
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        let name = &definition.name.node;
        let value = variables
            .get(name)
            .or(definition.default_value.as_ref().map(|d| &d.node));
        match value {
            None if !definition.var_type.node.nullable => {
                return Err(format!("variable `${name}` is required"))
            }
            None => {}
            Some(value) => declared(registry, &definition.var_type.node, value)
                .map_err(|why| format!("variable `${name}`: {why}"))?,
        }
    }
    Ok(())
}

/// A value against a type as written in the document (`[Int64!]`).
fn declared(registry: &Registry, ty: &Type, value: &Value) -> Result<(), String> {
    match (value, &ty.base) {
        (Value::Null, _) if ty.nullable => Ok(()),
        (Value::Null, _) => Err(format!("null for the non-null type {ty}")),
        (Value::List(items), BaseType::List(item)) => items
            .iter()
            .try_for_each(|value| declared(registry, item, value)),
        (value, BaseType::List(item)) => declared(registry, item, value),
        (value, BaseType::Named(name)) => named(registry, name, value),
    }
}

/// A value against a type as the registry writes it (`[String!]`).
fn registered(registry: &Registry, ty: &str, value: &Value) -> Result<(), String> {
    match (MetaTypeName::create(ty), value) {
        (MetaTypeName::NonNull(_), Value::Null) => Err(format!("null for the non-null type {ty}")),
        (MetaTypeName::NonNull(inner), value) => registered(registry, inner, value),
        (_, Value::Null) => Ok(()),
        (MetaTypeName::List(item), Value::List(items)) => items
            .iter()
            .try_for_each(|value| registered(registry, item, value)),
        (MetaTypeName::List(item), value) => registered(registry, item, value),
        (MetaTypeName::Named(name), value) => named(registry, name, value),
    }
}

fn named(registry: &Registry, name: &str, value: &Value) -> Result<(), String> {
    let wrong = || Err(format!("{value} is not a {name}"));
    match registry.types.get(name) {
        Some(MetaType::Scalar { is_valid, .. }) => match is_valid {
            Some(valid) if !valid(value) => wrong(),
            _ => Ok(()),
        },
        Some(MetaType::Enum { enum_values, .. }) => match value {
            Value::Enum(v) if enum_values.contains_key(v.as_str()) => Ok(()),
            Value::String(v) if enum_values.contains_key(v.as_str()) => Ok(()),
            _ => wrong(),
        },
        Some(MetaType::InputObject {
            input_fields,
            oneof,
            ..
        }) => {
            let Value::Object(fields) = value else {
                return wrong();
            };
            if *oneof && (fields.len() != 1 || fields.values().any(|v| *v == Value::Null)) {
                return Err(format!(
                    "{name} takes exactly one field, and not null (it is @oneOf)"
                ));
            }
            for (key, value) in fields {
                let field = input_fields
                    .get(key.as_str())
                    .ok_or_else(|| format!("{name} has no field `{key}`"))?;
                registered(registry, &field.ty, value).map_err(|why| format!("{key}: {why}"))?;
            }
            Ok(())
        }
        _ => Err(format!("{name} is not an input type")),
    }
}
