//! The shape of a GraphQL backend's schema (its object types' fields, their arguments and result
//! types), from an SDL file or the endpoint's introspection, to check the mapping's documents at
//! load time: every selected field exists on its type and every argument on its field.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, SelectionSet, Type, TypeKind,
};
use serde_json::Value;

/// A field: its argument names and the named type of its result.
type Field = (Vec<String>, String);

pub struct SchemaShape {
    query: String,
    mutation: Option<String>,
    /// Object and interface types: their fields by name.
    types: HashMap<String, HashMap<String, Field>>,
}

fn named(ty: &Type) -> String {
    match &ty.base {
        BaseType::Named(name) => name.to_string(),
        BaseType::List(inner) => named(inner),
    }
}

impl SchemaShape {
    pub fn from_sdl(text: &str) -> Result<Self, String> {
        let document = async_graphql::parser::parse_schema(text).map_err(|e| {
            format!(
                "the SDL does not parse: {}",
                e.to_string().lines().last().unwrap_or("").trim()
            )
        })?;
        let mut shape = SchemaShape {
            query: "Query".into(),
            mutation: None,
            types: HashMap::new(),
        };
        let mut mutation_type_seen = false;
        for definition in &document.definitions {
            match definition {
                async_graphql::parser::types::TypeSystemDefinition::Schema(schema) => {
                    if let Some(query) = &schema.node.query {
                        shape.query = query.node.to_string();
                    }
                    shape.mutation = schema.node.mutation.as_ref().map(|m| m.node.to_string());
                }
                async_graphql::parser::types::TypeSystemDefinition::Type(ty) => {
                    let fields = match &ty.node.kind {
                        TypeKind::Object(object) => &object.fields,
                        TypeKind::Interface(interface) => &interface.fields,
                        _ => continue,
                    };
                    let name = ty.node.name.node.to_string();
                    mutation_type_seen |= name == "Mutation";
                    let fields: Vec<(String, Field)> = fields
                        .iter()
                        .map(|f| {
                            let args: Vec<String> = f
                                .node
                                .arguments
                                .iter()
                                .map(|a| a.node.name.node.to_string())
                                .collect();
                            (f.node.name.node.to_string(), (args, named(&f.node.ty.node)))
                        })
                        .collect();
                    shape.types.entry(name).or_default().extend(fields);
                }
                _ => {}
            }
        }
        if shape.mutation.is_none() && mutation_type_seen {
            shape.mutation = Some("Mutation".into());
        }
        Ok(shape)
    }

    /// From the answer to `INTROSPECTION`.
    pub fn from_introspection(answer: &Value) -> Result<Self, String> {
        let schema = answer.pointer("/data/__schema").ok_or(
            "the endpoint answered introspection without data.__schema (is introspection off?)",
        )?;
        fn type_name(ty: &Value) -> String {
            match ty.get("name").and_then(Value::as_str) {
                Some(name) => name.to_owned(),
                None => ty.get("ofType").map(type_name).unwrap_or_default(),
            }
        }
        let mut types = HashMap::new();
        for ty in schema
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(fields) = ty.get("fields").and_then(Value::as_array) else {
                continue;
            };
            let name = ty
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let fields = fields
                .iter()
                .map(|f| {
                    let args = f
                        .get("args")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_owned))
                        .collect();
                    let field_name = f
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    (
                        field_name,
                        (args, f.get("type").map(type_name).unwrap_or_default()),
                    )
                })
                .collect();
            types.insert(name, fields);
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
    pub fn check(&self, document: &ExecutableDocument) -> Result<(), String> {
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
    ) -> Result<(), String> {
        if depth > 32 {
            return Ok(());
        }
        let Some(fields) = self.types.get(ty) else {
            return Ok(()); // A scalar, enum or union: nothing more to check here.
        };
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    let (args, result) = fields.get(name).ok_or_else(|| {
                        format!("`{name}` is not a field of {ty} in the backend's schema")
                    })?;
                    for (arg, _) in &field.node.arguments {
                        if !args.iter().any(|a| a == arg.node.as_str()) {
                            return Err(format!("`{name}` of {ty} has no argument `{}`", arg.node));
                        }
                    }
                    self.selections(document, &field.node.selection_set.node, result, depth + 1)?;
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
}

/// Enough introspection to know the object types' fields and arguments.
const INTROSPECTION: &str = "{ __schema { queryType { name } mutationType { name } types { name fields(includeDeprecated: true) { name args { name } type { name ofType { name ofType { name ofType { name ofType { name } } } } } } } } }";

/// Asks the endpoint for its schema (at load time, so on a thread of its own).
pub fn introspect(url: &str) -> Result<SchemaShape, String> {
    let url = url.to_owned();
    let answer = std::thread::spawn(move || -> Result<Value, String> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "query": INTROSPECTION }).to_string())
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.bytes())
            .map_err(|e| e.without_url().to_string())
            .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    })
    .join()
    .unwrap_or_else(|_| Err("the introspection failed".into()))
    .map_err(|e| format!("cannot introspect the GraphQL backend: {e}"))?;
    SchemaShape::from_introspection(&answer)
}
