//! Joins (`graphql.joins`): a field added to a generated type and resolved by another
//! operation, one call per parent or one batch call for all the parents of a request.

use super::*;

/// A field added to a generated type, resolved by another operation (a `graphql.joins` entry).
pub struct Join {
    /// The GraphQL type that gets the field.
    pub on: String,
    pub field: String,
    pub origin: Pos,
    pub kind: JoinKind,
}

pub enum JoinKind {
    /// One call per parent: input fields (JSON names) from parent fields (JSON names).
    Single {
        target: Arc<Target>,
        arguments: Vec<(String, String)>,
    },
    /// One call for the request's parents: keys in `keys`, results in `items` matched by `key`.
    Batch {
        target: Arc<Target>,
        keys: String,
        from: String,
        items: String,
        key: String,
        item: prost_reflect::MessageDescriptor,
    },
}

/// Adds the join fields to the generated `objects`; a join may not replace a field or name a
/// type the endpoint does not have.
pub(super) fn add_fields(
    joins: &[Join],
    types: &mut Types,
    objects: &mut [Object],
    shared: &Arc<OnceLock<Shared>>,
) -> Result<(), Vec<Problem>> {
    let mut joined = std::collections::HashSet::new();
    for (index, join) in joins.iter().enumerate() {
        if types.has_field(&join.on, &join.field) || !joined.insert((&join.on, &join.field)) {
            return Err(vec![Problem::new(
                join.origin.clone(),
                format!("`{}` already has a field `{}`", join.on, join.field),
            )]);
        }
        let Some(object) = objects.iter_mut().find(|o| o.type_name() == join.on) else {
            return Err(vec![Problem::new(
                join.origin.clone(),
                format!("no GraphQL type `{}` in this endpoint's schema", join.on),
            )]);
        };
        let output = match &join.kind {
            JoinKind::Single { target, .. } => {
                types.output_message(&target.operation.method.output())
            }
            JoinKind::Batch { item, .. } => types.output_message(item),
        };
        let field = join_field(join, index, &output, shared.clone());
        *object = std::mem::replace(object, Object::new("")).field(field);
    }
    Ok(())
}

/// The loaders of a request's batch joins, made on first use (async-graphql's DataLoader
/// gathers the keys its fields ask for in one tick into one call).
#[derive(Default)]
pub struct JoinLoaders(std::sync::Mutex<HashMap<usize, Arc<DataLoader<BatchLoader>>>>);

pub(super) struct BatchLoader {
    target: Arc<Target>,
    keys: String,
    items: String,
    key: String,
    origin: Arc<Origin>,
}

impl Loader<String> for BatchLoader {
    type Value = Value;
    type Error = Arc<Status>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Value>, Self::Error> {
        let values: Vec<serde_json::Value> = keys
            .iter()
            .filter_map(|k| serde_json::from_str(k).ok())
            .collect();
        let input = serde_json::json!({ self.keys.as_str(): values });
        let answer = call_with_json(&self.target, &input, &self.origin)
            .await
            .map_err(Arc::new)?;
        let mut found = HashMap::new();
        if let Some(Value::List(items)) = match &answer {
            Value::Object(object) => object.get(self.items.as_str()),
            _ => None,
        } {
            for item in items {
                if let Value::Object(fields) = item {
                    if let Some(key) = fields.get(self.key.as_str()) {
                        let key = key
                            .clone()
                            .into_json()
                            .map(|k| k.to_string())
                            .unwrap_or_default();
                        found.insert(key, item.clone());
                    }
                }
            }
        }
        Ok(found)
    }
}

/// Calls a target with a proto3 JSON input; the reply as a GraphQL value.
async fn call_with_json(
    target: &Target,
    input: &serde_json::Value,
    origin: &Arc<Origin>,
) -> Result<Value, Status> {
    let bytes = serde_json::to_vec(input).map_err(|e| Status::internal(e.to_string()))?;
    let message = target
        .reply(&bytes, origin.clone(), "join argument")
        .await?;
    output_value(target, &message).map_err(|e| Status::internal(e.message))
}

/// The resolver of a join field. Errors are reported with the field's path and make it null
/// (async-graphql's dynamic schema would drop the field instead).
fn join_field(
    join: &Join,
    index: usize,
    output: &str,
    shared: Arc<std::sync::OnceLock<Shared>>,
) -> Field {
    let kind = match &join.kind {
        JoinKind::Single { target, arguments } => (target.clone(), Some(arguments.clone()), None),
        JoinKind::Batch {
            target,
            keys,
            from,
            items,
            key,
            ..
        } => (
            target.clone(),
            None,
            Some((keys.clone(), from.clone(), items.clone(), key.clone())),
        ),
    };
    Field::new(&join.field, TypeRef::named(output), move |ctx| {
        let (target, arguments, batch) = kind.clone();
        let shared = shared.clone();
        FieldFuture::new(async move {
            let parent = match ctx.parent_value.as_value() {
                Some(Value::Object(object)) => object.clone(),
                _ => return Ok(None),
            };
            let origin = request_origin(&ctx);
            let result = match (arguments, batch) {
                (Some(arguments), _) => {
                    let mut input = serde_json::Map::new();
                    for (field, from) in &arguments {
                        if let Some(value) = parent.get(from.as_str()) {
                            input.insert(
                                field.clone(),
                                value.clone().into_json().unwrap_or_default(),
                            );
                        }
                    }
                    call_with_json(&target, &serde_json::Value::Object(input), &origin)
                        .await
                        .map(Some)
                }
                (None, Some((keys, from, items, key))) => {
                    let Some(parent_key) = parent.get(from.as_str()) else {
                        return Ok(None);
                    };
                    let parent_key = parent_key
                        .clone()
                        .into_json()
                        .map(|k| k.to_string())
                        .unwrap_or_default();
                    let loaders = ctx.data_opt::<JoinLoaders>();
                    let loader = loaders.and_then(|l| l.0.lock().ok()).map(|mut map| {
                        map.entry(index)
                            .or_insert_with(|| {
                                Arc::new(DataLoader::new(
                                    BatchLoader {
                                        target: target.clone(),
                                        keys,
                                        items,
                                        key,
                                        origin: origin.clone(),
                                    },
                                    tokio::spawn,
                                ))
                            })
                            .clone()
                    });
                    match loader {
                        Some(loader) => loader.load_one(parent_key).await.map_err(|e| (*e).clone()),
                        None => Ok(None),
                    }
                }
                (None, None) => Ok(None),
            };
            match result {
                Ok(value) => Ok(value),
                Err(status) => {
                    let pool = &shared.get().expect("the schema is made").pool;
                    let error = status_error(&status, pool).into_server_error(ctx.item.pos);
                    ctx.add_error(ServerError {
                        path: path_of(ctx.path_node.as_ref()),
                        ..error
                    });
                    Ok(None)
                }
            }
        })
    })
}
