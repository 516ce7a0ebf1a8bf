//! Imports an OpenAPI 3.0/3.1 document (YAML or JSON, `$ref`s across files) into the registry
//! as one protobuf service: an operation becomes a method whose input holds its path and query
//! parameters and its JSON body (field `body`), whose output is its 2xx JSON response, and whose
//! HTTP rule is the operation's method and path, read by the REST backend.
//!
//! Schemas become messages whose proto3 JSON is the schema's JSON: a property is a field with
//! the property's name as its JSON name; `allOf` merges its parts; `oneOf`/`anyOf` (with or
//! without a discriminator) become one message with every variant's properties, so that any
//! variant's JSON reads and writes unchanged (the discriminator property is one of them);
//! `additionalProperties` is a map; integers are int32 or int64 by format; anything untyped is a
//! `google.protobuf.Value`. Formats such as `date-time` stay strings, so no value changes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MessageOptions,
    MethodDescriptorProto, ServiceDescriptorProto,
};
use serde_json::Value;

use super::SchemaError;
use crate::config::Files;
use crate::registry::{pascal, proto_name};

/// The HTTP rule of an imported operation.
#[derive(Debug, Clone)]
pub struct ImportedRule {
    pub method: http::Method,
    pub path: String,
    pub body: Option<String>,
    pub response_body: Option<String>,
    /// (header name, field): header parameters.
    pub headers: Vec<(String, String)>,
}

/// What importing a document yields.
pub struct Imported {
    pub file: FileDescriptorProto,
    /// `package.Service`.
    pub service_name: String,
    /// By method name.
    pub rules: HashMap<String, ImportedRule>,
}

/// Imports the document at `path` into package `package`. Errors name the file and the JSON
/// pointer of what is wrong.
pub fn import(files: &Files, path: &Path, package: &str) -> Result<Imported, SchemaError> {
    let mut builder = Builder {
        files,
        documents: HashMap::new(),
        messages: Vec::new(),
        named: HashMap::new(),
        taken: HashSet::new(),
        package: package.to_owned(),
        uses_value: false,
        entries: HashMap::new(),
    };
    let root = builder.load(path)?;
    let title = root
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("Api");
    let service_name = pascal(title);
    let mut methods = Vec::new();
    let mut rules = HashMap::new();
    let empty = serde_json::Map::new();
    let paths = root
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (template, item) in paths {
        let (item, item_file) = builder.resolve(item, path)?;
        for verb in ["get", "put", "post", "delete", "patch", "head", "options"] {
            let Some(operation) = item.get(verb) else {
                continue;
            };
            let (method, rule) =
                builder.operation(operation, (template, verb), (&item, &item_file), path)?;
            methods.push(method);
            rules.insert(rule.0, rule.1);
        }
    }
    if methods.is_empty() {
        return Err(format!("{} has no operations under `paths`", path.display()).into());
    }
    let mut dependency = Vec::new();
    if builder.uses_value {
        dependency.push("google/protobuf/struct.proto".to_owned());
    }
    let file = FileDescriptorProto {
        name: Some(format!("rosetta/openapi/{package}.proto")),
        package: Some(package.to_owned()),
        dependency,
        message_type: builder.messages,
        service: vec![ServiceDescriptorProto {
            name: Some(service_name.clone()),
            method: methods,
            ..Default::default()
        }],
        syntax: Some("proto3".into()),
        ..Default::default()
    };
    Ok(Imported {
        file,
        service_name: format!("{package}.{service_name}"),
        rules,
    })
}

/// The JSON schema of a request body or response: its `application/json` content.
fn json_schema(holder: &Value) -> Option<&Value> {
    let content = holder.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.starts_with("application/json") || media.ends_with("+json"))
        .and_then(|(_, c)| c.get("schema"))
}

struct Builder<'f> {
    files: &'f Files,
    documents: HashMap<PathBuf, Value>,
    messages: Vec<DescriptorProto>,
    /// Message names by the absolute location of their schema (`file#pointer`).
    named: HashMap<String, String>,
    taken: HashSet<String>,
    package: String,
    uses_value: bool,
    /// Map entries waiting for the message that holds them, by a key their field names.
    entries: HashMap<String, DescriptorProto>,
}

impl Builder<'_> {
    /// One operation of the document: its method (input and output messages added) and its
    /// rule, by the method's name.
    fn operation(
        &mut self,
        operation: &Value,
        (template, verb): (&str, &str),
        (item, item_file): (&Value, &Path),
        path: &Path,
    ) -> Result<(MethodDescriptorProto, (String, ImportedRule)), SchemaError> {
        let at = format!(
            "{}#/paths/{}/{verb}",
            path.display(),
            template.replace('/', "~1")
        );
        let name = self.claim(
            &match operation.get("operationId").and_then(Value::as_str) {
                Some(id) => pascal(id),
                None => pascal(&format!("{verb} {template}")),
            },
        );
        let shared = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let own = operation
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut input = DescriptorProto {
            name: Some(format!("{name}Request")),
            ..Default::default()
        };
        let mut headers = Vec::new();
        for parameter in shared.iter().chain(&own) {
            let (parameter, parameter_file) = self.resolve(parameter, item_file)?;
            let location = parameter.get("in").and_then(Value::as_str).unwrap_or("");
            if !matches!(location, "path" | "query" | "header") {
                continue; // Cookies are the client's business.
            }
            let param_name = parameter
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}: a parameter has no name"))?;
            let schema = parameter.get("schema").cloned().unwrap_or(Value::Null);
            let field = self.field(
                param_name,
                &schema,
                &parameter_file,
                &format!("{name}_{param_name}"),
                input.field.len(),
            )?;
            if location == "header" {
                headers.push((param_name.to_owned(), field.name().to_owned()));
            }
            input.field.push(field);
        }
        let body_schema = operation
            .pointer("/requestBody")
            .map(|b| self.resolve(b, item_file))
            .transpose()?
            .and_then(|(body, file)| json_schema(&body).map(|s| (s.clone(), file)));
        let body = match body_schema {
            Some((schema, file)) => {
                let field = self.field(
                    "body",
                    &schema,
                    &file,
                    &format!("{name}Body"),
                    input.field.len(),
                )?;
                input.field.push(field);
                Some("body".to_owned())
            }
            None => None,
        };
        let input_name = self.add(input);
        let (output_name, response_body) = self.output(operation, item_file, &name)?;
        let method = MethodDescriptorProto {
            name: Some(name.clone()),
            input_type: Some(format!(".{}.{input_name}", self.package)),
            output_type: Some(format!(".{}.{output_name}", self.package)),
            ..Default::default()
        };
        let verb = http::Method::from_bytes(verb.to_ascii_uppercase().as_bytes())
            .expect("a known HTTP method");
        let rule = ImportedRule {
            method: verb,
            path: template.to_owned(),
            body,
            response_body,
            headers,
        };
        Ok((method, (name, rule)))
    }

    fn load(&mut self, path: &Path) -> Result<Value, SchemaError> {
        if let Some(document) = self.documents.get(path) {
            return Ok(document.clone());
        }
        let text = self
            .files
            .read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let document: Value = serde_saphyr::from_str(&text)
            .map_err(|e| format!("{} is not YAML or JSON: {e}", path.display()))?;
        self.documents.insert(path.to_owned(), document.clone());
        Ok(document)
    }

    /// Follows a `$ref` (in this file or another, relative to `file`): the value and the file it
    /// is in.
    fn resolve(&mut self, value: &Value, file: &Path) -> Result<(Value, PathBuf), SchemaError> {
        let mut value = value.clone();
        let mut file = file.to_owned();
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str).map(str::to_owned)
            else {
                return Ok((value, file));
            };
            let (target, pointer) = reference.split_once('#').unwrap_or((&reference, ""));
            if !target.is_empty() {
                file = file.parent().unwrap_or(Path::new("")).join(target);
            }
            let document = self.load(&file)?;
            value = document.pointer(pointer).cloned().ok_or_else(|| {
                format!(
                    "`$ref: {reference}` points at nothing in {}",
                    file.display()
                )
            })?;
        }
        Err(format!("`$ref`s in {} go round in a circle", file.display()).into())
    }

    fn claim(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_owned();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{wanted}{n}");
            n += 1;
        }
        name
    }

    /// Adds a message, with the map entries its fields use nested in it (where protobuf wants
    /// them).
    fn add(&mut self, mut message: DescriptorProto) -> String {
        let name = message.name().to_owned();
        for field in &mut message.field {
            let Some(key) = field
                .type_name
                .as_deref()
                .and_then(|t| t.strip_prefix(ENTRY))
            else {
                continue;
            };
            if let Some(entry) = self.entries.remove(key) {
                field.type_name = Some(format!(".{}.{name}.{}", self.package, entry.name()));
                message.nested_type.push(entry);
            }
        }
        self.messages.push(message);
        name
    }

    /// The output message of an operation: its first 2xx JSON response; arrays and scalars
    /// are wrapped in a message with one field (the rule's `response_body`).
    fn output(
        &mut self,
        operation: &Value,
        file: &Path,
        name: &str,
    ) -> Result<(String, Option<String>), SchemaError> {
        let responses = operation.get("responses").and_then(Value::as_object);
        let success = responses.and_then(|r| {
            r.iter()
                .filter(|(code, _)| code.starts_with('2'))
                .min_by_key(|(code, _)| code.as_str())
                .map(|(_, v)| v.clone())
        });
        let schema = match success {
            Some(response) => {
                let (response, response_file) = self.resolve(&response, file)?;
                json_schema(&response).map(|s| (s.clone(), response_file))
            }
            None => None,
        };
        let Some((schema, schema_file)) = schema else {
            let empty = self.claim(&format!("{name}Response"));
            return Ok((
                self.add(DescriptorProto {
                    name: Some(empty),
                    ..Default::default()
                }),
                None,
            ));
        };
        let (resolved, _) = self.resolve(&schema, &schema_file)?;
        if is_object(&resolved) {
            let message = self.message(&schema, &schema_file, &format!("{name}Response"))?;
            return Ok((message, None));
        }
        let wrapper = self.claim(&format!("{name}Response"));
        let mut message = DescriptorProto {
            name: Some(wrapper.clone()),
            ..Default::default()
        };
        let field = self.field("items", &schema, &schema_file, &format!("{name}Item"), 0)?;
        message.field.push(field);
        self.add(message);
        Ok((wrapper, Some("items".into())))
    }

    /// The message for an object schema (named by its `$ref`, else by `hint`).
    fn message(&mut self, schema: &Value, file: &Path, hint: &str) -> Result<String, SchemaError> {
        let key = schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(|r| absolute(file, r));
        if let Some(name) = key.as_ref().and_then(|k| self.named.get(k)) {
            return Ok(name.clone());
        }
        let wanted = key
            .as_ref()
            .and_then(|k| k.rsplit(['/', '#']).find(|s| !s.is_empty()))
            .map(|s| {
                pascal(
                    s.trim_end_matches(".yaml")
                        .trim_end_matches(".json")
                        .trim_end_matches(".yml"),
                )
            })
            .unwrap_or_else(|| pascal(hint));
        let name = self.claim(&wanted);
        if let Some(key) = key {
            self.named.insert(key, name.clone());
        }
        let (resolved, resolved_file) = self.resolve(schema, file)?;
        let mut properties: BTreeMap<String, (Value, PathBuf)> = BTreeMap::new();
        self.properties(&resolved, &resolved_file, &mut properties, 0)?;
        let mut message = DescriptorProto {
            name: Some(name.clone()),
            ..Default::default()
        };
        for (property, (property_schema, property_file)) in properties {
            let field = self.field(
                &property,
                &property_schema,
                &property_file,
                &format!("{name}_{property}"),
                message.field.len(),
            )?;
            message.field.push(field);
        }
        self.add(message);
        Ok(name)
    }

    /// The properties of an object schema, `allOf` parts and `oneOf`/`anyOf` variants merged.
    fn properties(
        &mut self,
        schema: &Value,
        file: &Path,
        out: &mut BTreeMap<String, (Value, PathBuf)>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if depth > 16 {
            return Err(format!("schemas in {} nest allOf/oneOf too deep", file.display()).into());
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                out.entry(name.clone())
                    .or_insert((property.clone(), file.to_owned()));
            }
        }
        for combinator in ["allOf", "oneOf", "anyOf"] {
            for part in schema
                .get(combinator)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (part, part_file) = self.resolve(part, file)?;
                self.properties(&part, &part_file, out, depth + 1)?;
            }
        }
        Ok(())
    }

    /// A field for a property (or parameter) of `schema`.
    fn field(
        &mut self,
        json_name: &str,
        schema: &Value,
        file: &Path,
        hint: &str,
        index: usize,
    ) -> Result<FieldDescriptorProto, SchemaError> {
        let (resolved, resolved_file) = self.resolve(schema, file)?;
        let mut field = FieldDescriptorProto {
            name: Some(proto_name(json_name)),
            json_name: Some(json_name.to_owned()),
            number: Some(index as i32 + 1),
            label: Some(Label::Optional as i32),
            ..Default::default()
        };
        let (r#type, type_name) = match schema_type(&resolved) {
            Some("array") => {
                let items = resolved.get("items").cloned().unwrap_or(Value::Null);
                let (item, _) = self.resolve(&items, &resolved_file)?;
                if schema_type(&item) == Some("array") {
                    // A list of lists: each inner list is a message with one repeated field.
                    let name = self.claim(&format!("{}List", pascal(hint)));
                    let inner = self.field("items", &items, &resolved_file, hint, 0)?;
                    self.add(DescriptorProto {
                        name: Some(name.clone()),
                        field: vec![inner],
                        ..Default::default()
                    });
                    field.label = Some(Label::Repeated as i32);
                    (Type::Message, Some(format!(".{}.{name}", self.package)))
                } else {
                    let mut item_field =
                        self.field(json_name, &items, &resolved_file, hint, index)?;
                    item_field.label = Some(Label::Repeated as i32);
                    return Ok(item_field);
                }
            }
            Some("object")
                if resolved.get("properties").is_none()
                    && resolved
                        .get("additionalProperties")
                        .is_some_and(|a| a.is_object() || a == &Value::Bool(true)) =>
            {
                let value_schema = match resolved.get("additionalProperties") {
                    Some(Value::Object(_)) => resolved["additionalProperties"].clone(),
                    _ => Value::Null,
                };
                let entry_name = format!("{}Entry", pascal(json_name));
                let value = self.field("value", &value_schema, &resolved_file, hint, 1)?;
                let key = FieldDescriptorProto {
                    name: Some("key".into()),
                    json_name: Some("key".into()),
                    number: Some(1),
                    label: Some(Label::Optional as i32),
                    r#type: Some(Type::String as i32),
                    ..Default::default()
                };
                let entry = DescriptorProto {
                    name: Some(entry_name.clone()),
                    field: vec![key, value],
                    options: Some(MessageOptions {
                        map_entry: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                // Nested in the message that holds the field, when `add` adds it.
                field.label = Some(Label::Repeated as i32);
                let key = format!("{hint}/{entry_name}");
                self.entries.insert(key.clone(), entry);
                (Type::Message, Some(format!("{ENTRY}{key}")))
            }
            _ if is_object(&resolved) => {
                let name = self.message(schema, file, hint)?;
                (Type::Message, Some(format!(".{}.{name}", self.package)))
            }
            Some("integer") if resolved.get("format").and_then(Value::as_str) == Some("int32") => {
                (Type::Int32, None)
            }
            Some("integer") => (Type::Int64, None),
            Some("number") => (Type::Double, None),
            Some("boolean") => (Type::Bool, None),
            Some("string") => (Type::String, None),
            _ => {
                self.uses_value = true;
                (Type::Message, Some(".google.protobuf.Value".into()))
            }
        };
        field.r#type = Some(r#type as i32);
        field.type_name = type_name;
        Ok(field)
    }
}

/// Marks the type name of a map field whose entry `add` has yet to nest.
const ENTRY: &str = "entry:";

fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        // 3.1: `type: [T, "null"]`.
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

fn is_object(schema: &Value) -> bool {
    schema_type(schema) == Some("object")
        || schema.get("properties").is_some()
        || ["allOf", "oneOf", "anyOf"]
            .iter()
            .any(|c| schema.get(*c).is_some())
}

fn absolute(file: &Path, reference: &str) -> String {
    let (target, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    let target = if target.is_empty() {
        file.to_owned()
    } else {
        file.parent().unwrap_or(Path::new("")).join(target)
    };
    format!("{}#{pointer}", target.display())
}
