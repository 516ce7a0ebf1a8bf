//! The OpenAPI 3.1 document of the REST routes: a path per route template, parameters from
//! path variables and (without a whole-message body) the remaining scalar fields, the request
//! body and the response as the proto3 JSON schemas of their messages, and every error in the
//! body shape of design.md section 6.

use std::collections::{BTreeMap, HashMap};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};
use serde_json::{json, Map, Value};

use super::route::Route;
use crate::http_rule::template::Segment;
use crate::http_rule::BodyBinding;
use crate::registry::{comments, wkt};

/// The document for `routes`.
pub(crate) fn document(routes: &[std::sync::Arc<Route>]) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut taken = HashMap::new();
    for route in routes {
        let method = &route.operation.method;
        let (path, path_params) = openapi_path(route);
        let mut parameters: Vec<Value> = path_params
            .iter()
            .zip(&route.variable_fields)
            .map(|(name, fields)| {
                let leaf = fields.last().expect("field paths are never empty");
                json!({"name": name, "in": "path", "required": true, "schema": schemas.field(leaf)})
            })
            .collect();
        let input = method.input();
        if !matches!(route.body, BodyBinding::Whole) {
            let mut query = Vec::new();
            query_parameters(&input, "", route, &mut Vec::new(), &mut schemas, &mut query);
            parameters.extend(query);
        }
        let mut operation = Map::new();
        operation.insert(
            "operationId".into(),
            json!(operation_id(method, &mut taken)),
        );
        if let Some(about) = comments(&method.parent_file(), method.path()) {
            operation.insert("description".into(), json!(about));
        }
        operation.insert("tags".into(), json!([method.parent_service().full_name()]));
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        body_and_responses(route, &mut schemas, &mut operation);
        paths.entry(path).or_default().insert(
            route.http_method.as_str().to_ascii_lowercase(),
            Value::Object(operation),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "rosetta", "version": "1", "description": "The REST routes rosetta serves."},
        "paths": paths,
        "components": {
            "schemas": schemas.done,
            "responses": {
                "Error": {
                    "description": "An error: a google.rpc.Status (code, message, details).",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "integer", "description": "The canonical (gRPC) code."},
                            "message": {"type": "string"},
                            "details": {"type": "array", "items": {"type": "object"}}
                        }
                    }}}
                }
            }
        }
    })
}

/// A unique operationId that code generators can use as a name: `Service_Method` (as
/// grpc-gateway's generator writes it), with the package when a service of another package
/// took that name, and a number for a method's further routes (`Users_GetUser_2`). `taken`:
/// the ids given so far, with the method each belongs to.
fn operation_id(method: &MethodDescriptor, taken: &mut HashMap<String, String>) -> String {
    let service = method.parent_service();
    let short = format!("{}_{}", service.name(), method.name());
    let base = match taken.get(&short) {
        Some(owner) if owner != method.full_name() => {
            format!(
                "{}_{}",
                service.full_name().replace('.', "_"),
                method.name()
            )
        }
        _ => short,
    };
    let (mut id, mut n) = (base.clone(), 1);
    while taken.contains_key(&id) {
        n += 1;
        id = format!("{base}_{n}");
    }
    taken.insert(id.clone(), method.full_name().to_owned());
    id
}

/// A route's request body (if it has one) and responses, into `operation`.
fn body_and_responses(route: &Route, schemas: &mut Schemas, operation: &mut Map<String, Value>) {
    let method = &route.operation.method;
    let body_schema = match &route.body {
        BodyBinding::None => None,
        BodyBinding::Whole => Some(schemas.message(&method.input())),
        BodyBinding::Field(path) => Some(schemas.field(path.last().expect("non-empty"))),
    };
    if let Some(schema) = body_schema {
        let content = if route.operation.kind.streams_requests() {
            json!({"application/x-ndjson": {"schema": schema}})
        } else {
            json!({"application/json": {"schema": schema}})
        };
        operation.insert(
            "requestBody".into(),
            json!({"required": true, "content": content}),
        );
    }
    let output = match &route.response_body {
        Some(field) => schemas.field(field),
        None => schemas.message(&method.output()),
    };
    let content = if route.operation.kind.streams_responses() {
        json!({
            "application/json": {"schema": {"type": "array", "items": output}},
            "application/x-ndjson": {"schema": output},
            "text/event-stream": {"schema": output}
        })
    } else {
        json!({"application/json": {"schema": output}})
    };
    operation.insert(
        "responses".into(),
        json!({
            "200": {"description": "OK", "content": content},
            "default": {"$ref": "#/components/responses/Error"}
        }),
    );
}

/// The OpenAPI form of a route's template (`/v1/{name}`) and the names of its parameters. A
/// variable over several segments (`{name=shelves/*}`) is one parameter whose value holds `/`.
fn openapi_path(route: &Route) -> (String, Vec<String>) {
    let template = &route.template;
    let mut path = String::new();
    let mut names = Vec::new();
    let mut segment = 0;
    while segment < template.segments.len() {
        path.push('/');
        match template.variables.iter().find(|v| v.start == segment) {
            Some(variable) => {
                let name = variable.field_path.join(".");
                path.push_str(&format!("{{{name}}}"));
                names.push(name);
                segment = variable.end.unwrap_or(template.segments.len());
            }
            None => {
                match &template.segments[segment] {
                    Segment::Literal(text) => path.push_str(text),
                    Segment::Single => path.push('*'),
                    Segment::Multi => path.push_str("**"),
                }
                segment += 1;
            }
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    if let Some(verb) = &template.verb {
        path.push(':');
        path.push_str(verb);
    }
    (path, names)
}

/// Query parameters: the scalar (and repeated scalar) fields not bound by the path or body,
/// nested messages as `a.b`.
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &str,
    route: &Route,
    path: &mut Vec<FieldDescriptor>,
    schemas: &mut Schemas,
    out: &mut Vec<Value>,
) {
    for field in message.fields() {
        path.push(field.clone());
        if !route.path_bound(path) && !route.body_bound(path) {
            let name = format!("{prefix}{}", field.json_name());
            match field.kind() {
                Kind::Message(m)
                    if !field.is_list()
                        && !field.is_map()
                        && !wkt::has_own_json_form(m.full_name())
                        && path.len() < 8 =>
                {
                    query_parameters(&m, &format!("{name}."), route, path, schemas, out)
                }
                Kind::Message(m) if field.is_map() || !wkt::has_own_json_form(m.full_name()) => {}
                _ => {
                    out.push(json!({"name": name, "in": "query", "schema": schemas.field(&field)}))
                }
            }
        }
        path.pop();
    }
}

/// The JSON Schemas of the messages and enums the document uses, by full name.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Value>,
}

impl Schemas {
    fn reference(name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = well_known(message) {
            return schema;
        }
        if wkt::is_nillable_stand_in(message) {
            if let Some(value) = message.get_field(1) {
                let inner = self.field(&value);
                return json!({"anyOf": [inner, {"type": "null"}]});
            }
        }
        let name = message.full_name().to_owned();
        if !self.done.contains_key(&name) {
            self.done.insert(name.clone(), Value::Null);
            let mut properties = Map::new();
            for field in message.fields() {
                let mut schema = self.field(&field);
                if let (Some(about), Value::Object(object)) =
                    (comments(&message.parent_file(), field.path()), &mut schema)
                {
                    if !object.contains_key("$ref") {
                        object.insert("description".into(), json!(about));
                    }
                }
                properties.insert(field.json_name().to_owned(), schema);
            }
            let mut schema = json!({"type": "object", "properties": properties});
            if let Some(about) = comments(&message.parent_file(), message.path()) {
                schema["description"] = json!(about);
            }
            self.done.insert(name.clone(), schema);
        }
        Self::reference(&name)
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields are messages")
            };
            let value = self.field(&entry.map_entry_value_field());
            return json!({"type": "object", "additionalProperties": value});
        }
        let single = match field.kind() {
            Kind::Double | Kind::Float => json!({"type": "number"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": ["string", "integer"], "format": "int64"})
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({"type": ["string", "integer"], "format": "uint64"})
            }
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Kind::Enum(e) => {
                let name = e.full_name().to_owned();
                if !self.done.contains_key(&name) {
                    let values: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
                    self.done
                        .insert(name.clone(), json!({"type": "string", "enum": values}));
                }
                Self::reference(&name)
            }
            Kind::Message(m) => self.message(&m),
        };
        if field.is_list() {
            json!({"type": "array", "items": single})
        } else {
            single
        }
    }
}

/// The schema of a well-known type's own JSON form.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    let name = message.full_name();
    Some(match name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"})
        }
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Any" => {
            json!({"type": "object", "properties": {"@type": {"type": "string"}}})
        }
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.NullValue" => json!({"type": "null"}),
        _ if wkt::WRAPPERS.contains(&name) => {
            let value = message.get_field(1)?;
            let mut schemas = Schemas::default();
            let inner = schemas.field(&value);
            json!({"anyOf": [inner, {"type": "null"}]})
        }
        _ => return None,
    })
}
