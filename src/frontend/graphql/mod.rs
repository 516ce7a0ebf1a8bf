//! The GraphQL frontend (design.md section 4): a schema generated at load time from the
//! operations of the mappings served at one path, executed by async-graphql's dynamic schema.
//! Root fields decode their arguments into the canonical call, and replies come back as proto3
//! JSON, which is already the GraphQL form of every scalar of design.md section 4.

pub mod cost;
mod endpoint;
pub(crate) mod graphiql;
mod join;
pub(crate) mod mount;
pub(crate) mod schema;
mod variables;
mod websocket;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::dynamic::{
    Field, FieldFuture, Object, ResolverContext, Schema, SchemaBuilder, SubscriptionField,
    SubscriptionFieldFuture, TypeRef,
};
use async_graphql::{
    Error, ErrorExtensions, Name, PathSegment, QueryPathNode, QueryPathSegment, ServerError,
    ValidationMode, Value,
};
use futures::StreamExt;
use prost_reflect::{DescriptorPool, MethodDescriptor};

use crate::call::{self, Call, Message, Origin};
use crate::config::{Pos, Problem};
use crate::protojson::message_json;
use crate::protojson::wire_to_json;
use crate::registry::comments;
use crate::status::{Status, CODE_NAMES};
use crate::xml::schema::XmlSchema;
use schema::{InputKind, InputPlans, OutputNames, Types};

use super::CallTarget;
pub use endpoint::{refusal, Endpoint};
pub use join::{Join, JoinKind, JoinLoaders};

/// The root type of a root field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Query,
    Mutation,
    Subscription,
}

/// What a root field calls.
pub struct Target {
    pub call: CallTarget,
    /// The JSON name of the request's `google.protobuf.FieldMask` field to fill from the
    /// selection set.
    pub field_mask: Option<String>,
}

/// A root field's target is first of all its call's.
impl std::ops::Deref for Target {
    type Target = CallTarget;

    fn deref(&self) -> &CallTarget {
        &self.call
    }
}

/// One root field of an endpoint, before the schema is made.
pub struct RootField {
    pub name: String,
    pub root: Root,
    pub target: Arc<Target>,
    /// Where the method (or the mapping that exposes it) is declared, for errors.
    pub origin: Pos,
}

/// Settings of one endpoint, merged from the mappings served at its path.
#[derive(Debug, Clone)]
pub struct EndpointOptions {
    pub path: String,
    pub maps_as_json: bool,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_request_size: usize,
    pub introspection: bool,
    pub persisted_queries: bool,
    pub websocket_init_timeout: Duration,
    pub max_socket_subscriptions: usize,
}

/// The field a schema without queries gets (GraphQL requires one).
const EMPTY_ROOT_FIELD: &str = "_empty";

/// What every resolver of an endpoint shares.
struct Shared {
    input_plans: InputPlans,
    output_names: OutputNames,
    pool: DescriptorPool,
}

/// Makes the schema of one endpoint. Errors name the root field or type at fault.
pub fn endpoint(
    options: EndpointOptions,
    fields: Vec<RootField>,
    joins: Vec<Join>,
    pool: &DescriptorPool,
    xml: &[&XmlSchema],
) -> Result<Endpoint, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut seen: std::collections::HashMap<&str, &RootField> = Default::default();
    for field in &fields {
        if let Some(other) = seen.insert(&field.name, field) {
            problems.push(Problem::new(
                field.origin.clone(),
                format!(
                    "root field `{}` of {} has the name of the one of {} ({}); give one of the mappings `graphql.prefix`",
                    field.name,
                    field.target.operation.full_name(),
                    other.target.operation.full_name(),
                    other.origin
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // The same schema twice: validating every rule (the first time a document is seen), and
    // validating only what depends on more than the document (once it has passed; the
    // variables are checked by `variables::check`).
    let strict = schema(&options, &fields, &joins, pool, xml, ValidationMode::Strict)?;
    let fast = schema(&options, &fields, &joins, pool, xml, ValidationMode::Fast)?;
    Ok(Endpoint::new(options, strict, fast))
}

/// The schema of an endpoint's root fields, validating documents in `mode`.
fn schema(
    options: &EndpointOptions,
    fields: &[RootField],
    joins: &[Join],
    pool: &DescriptorPool,
    xml: &[&XmlSchema],
    mode: ValidationMode,
) -> Result<Schema, Vec<Problem>> {
    let mut types = Types::new(options.maps_as_json, xml);
    // Resolvers are made before the plans they use are complete.
    let shared = Arc::new(std::sync::OnceLock::<Shared>::new());
    let roots = Roots::new(fields, &mut types, &shared);
    if !types.problems.is_empty() {
        let at = options_origin(fields);
        return Err(types
            .problems
            .into_iter()
            .map(|p| Problem::new(at.clone(), p))
            .collect());
    }
    let mut builder = roots.builder(options, mode);
    for scalar in types.scalars() {
        builder = builder.register(scalar);
    }
    let mut objects: Vec<Object> = types.objects.drain(..).collect();
    join::add_fields(joins, &mut types, &mut objects, &shared)?;
    // Types the joins reached.
    objects.append(&mut types.objects);
    for object in objects {
        builder = builder.register(object);
    }
    for input in types.inputs.drain(..) {
        builder = builder.register(input);
    }
    for e in types.enums.drain(..) {
        builder = builder.register(e);
    }
    let schema = builder.finish().map_err(|e| {
        vec![Problem::new(
            options_origin(fields),
            format!("the GraphQL schema is invalid: {e}"),
        )]
    })?;
    let _ = shared.set(Shared {
        input_plans: types.input_plans,
        output_names: types.output_names,
        pool: pool.clone(),
    });
    Ok(schema)
}

/// An endpoint's root fields, by root type.
#[derive(Default)]
struct Roots {
    queries: Vec<Field>,
    mutations: Vec<Field>,
    subscriptions: Vec<SubscriptionField>,
}

impl Roots {
    fn new(fields: &[RootField], types: &mut Types, shared: &Arc<OnceLock<Shared>>) -> Roots {
        let mut roots = Roots::default();
        for field in fields {
            let method = &field.target.operation.method;
            let output = types.output_message(&method.output());
            let arguments = types.input_fields(&method.input());
            let description = comments(&method.parent_file(), method.path());
            let (target, shared) = (field.target.clone(), shared.clone());
            if field.root == Root::Subscription {
                let mut root = subscription_field(&field.name, &output, target, shared);
                for argument in arguments {
                    root = root.argument(argument);
                }
                if let Some(about) = description {
                    root = root.description(about);
                }
                roots.subscriptions.push(root);
                continue;
            }
            let mut root = unary_field(&field.name, &output, target, shared);
            for argument in arguments {
                root = root.argument(argument);
            }
            if let Some(about) = description {
                root = root.description(about);
            }
            match field.root {
                Root::Mutation => roots.mutations.push(root),
                _ => roots.queries.push(root),
            }
        }
        roots
    }

    /// The schema's root types, and its limits.
    fn builder(self, options: &EndpointOptions, mode: ValidationMode) -> SchemaBuilder {
        let mut query = Object::new("Query");
        if self.queries.is_empty() {
            // A schema needs a query type with a field.
            query = query.field(
                Field::new(EMPTY_ROOT_FIELD, TypeRef::named("Boolean"), |_| {
                    FieldFuture::Value(None)
                })
                .description("Always null: this API has no queries."),
            );
        }
        let query = self.queries.into_iter().fold(query, Object::field);
        let mutation = (!self.mutations.is_empty())
            .then(|| (self.mutations.into_iter()).fold(Object::new("Mutation"), Object::field));
        let subscription = (!self.subscriptions.is_empty()).then(|| {
            let root = async_graphql::dynamic::Subscription::new("Subscription");
            (self.subscriptions.into_iter()).fold(root, |object, field| object.field(field))
        });
        let mut builder = Schema::build(
            "Query",
            mutation.as_ref().map(|_| "Mutation"),
            subscription.as_ref().map(|_| "Subscription"),
        )
        .register(query)
        .limit_depth(options.max_depth)
        .limit_complexity(options.max_complexity)
        .validation_mode(mode);
        if !options.introspection {
            builder = builder.disable_introspection();
        }
        if let Some(mutation) = mutation {
            builder = builder.register(mutation);
        }
        if let Some(subscription) = subscription {
            builder = builder.register(subscription);
        }
        builder
    }
}

/// A subscription root field: a server-streaming method's replies, one event each.
fn subscription_field(
    name: &str,
    output: &str,
    target: Arc<Target>,
    shared: Arc<OnceLock<Shared>>,
) -> SubscriptionField {
    SubscriptionField::new(name, TypeRef::named(output), move |ctx| {
        let (shared, target) = (shared.clone(), target.clone());
        SubscriptionFieldFuture::new(async move {
            let shared = shared.get().expect("the schema is made");
            let reply = invoke(&ctx, shared, &target).await?;
            let pool = shared.pool.clone();
            Ok(reply.messages.map(move |item| {
                item.map_err(|status| status_error(&status, &pool))
                    .and_then(|message| output_value(&target, &message))
            }))
        })
    })
}

/// A query or mutation root field.
fn unary_field(
    name: &str,
    output: &str,
    target: Arc<Target>,
    shared: Arc<OnceLock<Shared>>,
) -> Field {
    Field::new(name, TypeRef::named(output), move |ctx| {
        let (shared, target) = (shared.clone(), target.clone());
        FieldFuture::new(async move {
            let shared = shared.get().expect("the schema is made");
            // async-graphql's dynamic schema drops a field whose resolver fails (instead of
            // making it null) and leaves the error without a path: report it here.
            match root_value(&ctx, shared, &target).await {
                Ok(value) => Ok(value),
                Err(error) => {
                    let error = error.into_server_error(ctx.item.pos);
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

/// The request a resolver runs for (every request's data holds it).
fn request_origin(ctx: &ResolverContext<'_>) -> Arc<Origin> {
    ctx.data_opt::<Arc<Origin>>().cloned().unwrap_or_default()
}

fn options_origin(fields: &[RootField]) -> Pos {
    fields
        .first()
        .map(|f| f.origin.clone())
        .unwrap_or_else(|| crate::config::unplaced("graphql"))
}

/// The root type a method's field goes under by default (design.md section 4).
pub fn default_root(method: &MethodDescriptor) -> Root {
    if method.is_server_streaming() {
        Root::Subscription
    } else if crate::registry::reads_by_name(method) {
        Root::Query
    } else {
        Root::Mutation
    }
}

/// The value of a query or mutation field: the backend's reply, or null with errors when it
/// holds enum values the schema lacks where they are selected.
async fn root_value(
    ctx: &ResolverContext<'_>,
    shared: &Shared,
    target: &Target,
) -> Result<Option<Value>, Error> {
    let reply = invoke(ctx, shared, target).await?;
    let message = reply
        .into_message()
        .await
        .map_err(|status| status_error(&status, &shared.pool))?;
    let mut value = output_value(target, &message)?;
    let mut errors = Vec::new();
    let mut path = path_of(ctx.path_node.as_ref());
    let output = target.operation.method.output();
    let valid = known_enums(
        shared,
        output.full_name(),
        ctx.field(),
        &mut value,
        &mut path,
        &mut errors,
    );
    if valid {
        return Ok(Some(value));
    }
    for error in errors {
        ctx.add_error(ServerError {
            locations: vec![ctx.item.pos],
            ..error
        });
    }
    Ok(None)
}

/// Checks the selected enum fields of a message's value. A value the schema lacks makes the
/// message null (its enum fields are non-null): returns false for this message, and nulls
/// nested messages itself. Errors carry the response path.
fn known_enums(
    shared: &Shared,
    message: &str,
    selection: async_graphql::SelectionField<'_>,
    value: &mut Value,
    path: &mut Vec<PathSegment>,
    errors: &mut Vec<ServerError>,
) -> bool {
    let (Value::Object(object), Some(fields)) = (value, shared.output_names.get(message)) else {
        return true;
    };
    let mut valid = true;
    for selected in selection.selection_set() {
        let Some(field) = fields.get(selected.name()) else {
            continue;
        };
        let Some(found) = object.get_mut(field.json.as_str()) else {
            continue;
        };
        path.push(PathSegment::Field(
            selected.alias().unwrap_or(selected.name()).to_owned(),
        ));
        if let Some(desc) = &field.enumeration {
            let items = match found {
                Value::List(items) => items.as_slice(),
                one => std::slice::from_ref(&*one),
            };
            if let Some(bad) = items
                .iter()
                .find(|v| !matches!(v, Value::String(n) if desc.get_value_by_name(n).is_some()))
            {
                let error = schema::unknown_enum(desc, bad).into_server_error(Default::default());
                errors.push(ServerError {
                    path: path.clone(),
                    ..error
                });
                valid = false;
            }
        } else if let Some(child) = &field.message {
            match found {
                Value::List(items) if field.repeated => {
                    for (i, item) in items.iter_mut().enumerate() {
                        path.push(PathSegment::Index(i));
                        if !known_enums(shared, child, selected, item, path, errors) {
                            *item = Value::Null;
                        }
                        path.pop();
                    }
                }
                one => {
                    if !known_enums(shared, child, selected, one, path, errors) {
                        *one = Value::Null;
                    }
                }
            }
        }
        path.pop();
    }
    valid
}

/// The response path of a field.
fn path_of(node: Option<&QueryPathNode<'_>>) -> Vec<PathSegment> {
    let mut path = Vec::new();
    let mut at = node;
    while let Some(current) = at {
        path.push(match current.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
            QueryPathSegment::Index(i) => PathSegment::Index(i),
        });
        at = current.parent;
    }
    path.reverse();
    path
}

/// Calls the backend with the field's arguments.
async fn invoke(
    ctx: &ResolverContext<'_>,
    shared: &Shared,
    target: &Target,
) -> Result<call::Reply, Error> {
    let call = canonical_call(ctx, shared, target).map_err(|s| status_error(&s, &shared.pool))?;
    call::invoke(&target.invoker, call)
        .await
        .map_err(|status| status_error(&status, &shared.pool))
}

fn canonical_call(
    ctx: &ResolverContext<'_>,
    shared: &Shared,
    target: &Target,
) -> Result<Call, Status> {
    let input = target.operation.method.input();
    let mut json = serde_json::Map::new();
    object_json(
        shared,
        input.full_name(),
        ctx.args.as_index_map(),
        &mut json,
    )?;
    if let Some(mask) = &target.field_mask {
        if !json.contains_key(mask) {
            let mut paths = Vec::new();
            let output = target.operation.method.output();
            selected_paths(shared, output.full_name(), ctx.field(), "", &mut paths);
            json.insert(mask.clone(), paths.join(",").into());
        }
    }
    let bytes = serde_json::to_vec(&json).map_err(|e| Status::internal(e.to_string()))?;
    target.call(&bytes, request_origin(ctx), "argument")
}

/// Writes the proto3 JSON of a GraphQL input object (or a root field's arguments) into `out`.
fn object_json(
    shared: &Shared,
    plan_key: &str,
    object: &async_graphql::indexmap::IndexMap<Name, Value>,
    out: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Status> {
    let plan = shared
        .input_plans
        .get(plan_key)
        .ok_or_else(|| Status::internal(format!("no input plan for {plan_key}")))?;
    for (name, value) in object {
        let Some(field) = plan.get(name.as_str()) else {
            continue;
        };
        if matches!(value, Value::Null) {
            continue;
        }
        match &field.kind {
            InputKind::Group(key) => match value {
                Value::Object(members) => object_json(shared, key, members, out)?,
                _ => {
                    return Err(Status::invalid_argument(format!(
                        "`{name}` takes an object"
                    )))
                }
            },
            kind => {
                if let Some(json) = value_json(shared, kind, value)? {
                    out.insert(field.key.to_string(), json);
                }
            }
        }
    }
    Ok(())
}

fn value_json(
    shared: &Shared,
    kind: &InputKind,
    value: &Value,
) -> Result<Option<serde_json::Value>, Status> {
    let json = match (kind, value) {
        (_, Value::Null) => return Ok(None),
        (InputKind::Present, Value::Boolean(true)) => serde_json::json!({}),
        (InputKind::Present, _) => return Ok(None),
        (InputKind::Message(_) | InputKind::Map(_), Value::List(items)) => {
            if let InputKind::Map(value_kind) = kind {
                return map_json(shared, value_kind.as_deref(), items).map(Some);
            }
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                list.extend(value_json(shared, kind, item)?);
            }
            serde_json::Value::Array(list)
        }
        (InputKind::Message(message), Value::Object(fields)) => {
            let mut object = serde_json::Map::new();
            object_json(shared, message, fields, &mut object)?;
            serde_json::Value::Object(object)
        }
        (_, other) => other
            .clone()
            .into_json()
            .map_err(|e| Status::invalid_argument(e.to_string()))?,
    };
    Ok(Some(json))
}

/// Map entries `[{key, value}]` as the JSON object proto3 JSON writes for a map.
fn map_json(
    shared: &Shared,
    value_message: Option<&str>,
    entries: &[Value],
) -> Result<serde_json::Value, Status> {
    let mut object = serde_json::Map::new();
    for entry in entries {
        let Value::Object(entry) = entry else {
            continue;
        };
        let key = match entry.get("key") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Boolean(b)) => b.to_string(),
            _ => return Err(Status::invalid_argument("a map entry needs a `key`")),
        };
        let value_kind = match value_message {
            Some(message) => InputKind::Message(message.to_owned()),
            None => InputKind::Plain,
        };
        let value = match entry.get("value") {
            Some(value) => value_json(shared, &value_kind, value)?,
            None => None,
        };
        object.insert(key, value.unwrap_or(serde_json::Value::Null));
    }
    Ok(serde_json::Value::Object(object))
}

/// The field-mask paths (proto3 JSON names) of the fields a selection set reaches.
fn selected_paths(
    shared: &Shared,
    message: &str,
    selection: async_graphql::SelectionField<'_>,
    prefix: &str,
    out: &mut Vec<String>,
) {
    let Some(names) = shared.output_names.get(message) else {
        return;
    };
    for field in selection.selection_set() {
        let Some(about) = names.get(field.name()) else {
            continue;
        };
        let path = format!("{prefix}{}", about.json);
        match &about.message {
            Some(child) if !about.repeated && field.selection_set().next().is_some() => {
                selected_paths(shared, child, field, &format!("{path}."), out)
            }
            _ if !out.contains(&path) => out.push(path),
            _ => {}
        }
    }
}

/// A reply message as the GraphQL value of its field.
fn output_value(target: &Target, message: &Message) -> Result<Value, Error> {
    let output = target.operation.method.output();
    if output.fields().len() == 0 && !crate::registry::wkt::has_own_json_form(output.full_name()) {
        return Ok(Value::Boolean(true));
    }
    let mut json = Vec::new();
    let written = match message {
        Message::Encoded(_, wire) => wire_to_json(&target.response_plan, wire, &mut json).is_ok(),
        Message::Decoded(_) | Message::Relayed(..) => false,
    };
    if !written {
        let decoded = message.decoded().map_err(|s| Error::new(s.message))?;
        let options = prost_reflect::SerializeOptions::new()
            .skip_default_fields(false)
            .stringify_64_bit_integers(true);
        json = message_json(&decoded, &options)
            .map_err(|s| Error::new(s.message))?
            .to_vec();
    }
    serde_json::from_slice(&json).map_err(|e| Error::new(format!("cannot read the reply: {e}")))
}

/// A canonical status as a GraphQL error with the extensions of design.md section 4.
pub fn status_error(status: &Status, pool: &DescriptorPool) -> Error {
    let details = match status.to_json(pool) {
        serde_json::Value::Object(mut body) => body.remove("details"),
        _ => None,
    };
    let details = details
        .and_then(|d| Value::from_json(d).ok())
        .unwrap_or(Value::List(Vec::new()));
    let code = status.code as usize;
    let http_status = status.http_status().as_u16();
    Error::new(status.message.clone()).extend_with(|_, extensions| {
        extensions.set("code", CODE_NAMES.get(code).copied().unwrap_or("UNKNOWN"));
        extensions.set("grpcCode", code as i32);
        extensions.set("httpStatus", http_status);
        extensions.set("details", details.clone());
    })
}
