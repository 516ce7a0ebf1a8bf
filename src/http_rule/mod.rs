//! HTTP rules (`google.api.http`): the rules of annotations, mapping files and automatic
//! routes, resolved against a method's messages. The REST frontend serves them and the REST
//! backend calls them, so they live below both.

pub(crate) mod json_seq;
pub mod template;

use http::Method;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value,
};

use crate::config::{HttpRuleConfig, Located, Pos, Problem};
use crate::registry::wkt::{is_nillable_stand_in, TEXT_FORMS, WRAPPERS};
use crate::registry::SchemaError;
use template::PathTemplate;

#[derive(Debug, Clone)]
pub enum BodyBinding {
    None,
    Whole,
    /// A field, possibly nested (`payload.input_value`, as grpc-gateway allows).
    Field(Vec<FieldDescriptor>),
}

/// An HTTP rule before it is resolved: from an annotation or from a mapping file.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
    pub response_body: Option<String>,
    /// (header name, field path): for calling a REST backend, fields sent as headers.
    pub headers: Vec<(String, String)>,
    /// Where the path template was written.
    pub origin: Pos,
}

/// The rules of a `google.api.http` annotation (the rule and its additional bindings).
pub fn annotation_rules(method: &MethodDescriptor, origin: &Pos) -> Vec<RuleSpec> {
    let Some(extension) = method
        .parent_pool()
        .get_extension_by_name("google.api.http")
    else {
        return Vec::new();
    };
    let options = method.options();
    if !options.has_extension(&extension) {
        return Vec::new();
    }
    let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    push_annotation_rule(&rule, origin, &mut out);
    if let Some(Value::List(more)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        for extra in more {
            if let Value::Message(extra) = extra {
                push_annotation_rule(&extra, origin, &mut out);
            }
        }
    }
    out
}

fn push_annotation_rule(rule: &DynamicMessage, origin: &Pos, out: &mut Vec<RuleSpec>) {
    let text = |name: &str| match rule.get_field_by_name(name).as_deref() {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let pattern = ["get", "put", "post", "delete", "patch"]
        .iter()
        .find_map(|m| text(m).map(|p| (m.to_ascii_uppercase(), p)))
        .or_else(|| match rule.get_field_by_name("custom").as_deref() {
            Some(Value::Message(custom)) if rule.has_field_by_name("custom") => {
                let field = |n: &str| match custom.get_field_by_name(n).as_deref() {
                    Some(Value::String(s)) => s.clone(),
                    _ => String::new(),
                };
                Some((field("kind"), field("path")))
            }
            _ => None,
        });
    if let Some((method, path)) = pattern {
        if let Ok(method) = Method::from_bytes(method.as_bytes()) {
            out.push(RuleSpec {
                method,
                path,
                body: text("body"),
                response_body: text("response_body"),
                headers: Vec::new(),
                origin: origin.clone(),
            });
        }
    }
}

/// The rules written in a mapping file (a rule and its additional bindings). `at` is the place
/// of the rule itself. Shape errors are returned as (place, message).
pub fn config_rules(
    rule: &HttpRuleConfig,
    at: &Pos,
    pos: &dyn Fn(&Located<String>) -> Pos,
) -> Result<Vec<RuleSpec>, Problem> {
    let mut out = vec![config_rule(rule, at, pos)?];
    for extra in &rule.additional_bindings {
        let spec = config_rule(extra, at, pos)?;
        let top_level_only = extra.selector.is_some()
            || extra.mode.is_some()
            || extra.timeout.is_some()
            || !extra.additional_bindings.is_empty();
        if top_level_only {
            return Err(Problem::new(
                spec.origin,
                "additional_bindings cannot have `selector`, `mode`, `timeout` or their own additional_bindings".into(),
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

fn config_rule(
    rule: &HttpRuleConfig,
    at: &Pos,
    pos: &dyn Fn(&Located<String>) -> Pos,
) -> Result<RuleSpec, Problem> {
    let mut patterns: Vec<(Method, &Located<String>)> = [
        (Method::GET, &rule.get),
        (Method::PUT, &rule.put),
        (Method::POST, &rule.post),
        (Method::DELETE, &rule.delete),
        (Method::PATCH, &rule.patch),
    ]
    .into_iter()
    .filter_map(|(m, p)| p.as_ref().map(|p| (m, p)))
    .collect();
    if let Some(custom) = &rule.custom {
        let method = Method::from_bytes(custom.kind.as_bytes()).map_err(|_| {
            Problem::new(
                pos(&custom.kind),
                format!("`{}` is not an HTTP method", custom.kind.value),
            )
        })?;
        patterns.push((method, &custom.path));
    }
    match patterns.as_slice() {
        [(method, path)] => Ok(RuleSpec {
            method: method.clone(),
            path: path.value.clone(),
            body: rule.body.as_ref().map(|b| b.value.clone()),
            response_body: rule.response_body.as_ref().map(|b| b.value.clone()),
            headers: rule
                .headers
                .iter()
                .map(|(name, field)| (name.clone(), field.value.clone()))
                .collect(),
            origin: pos(path),
        }),
        [] => Err(Problem::new(
            at.clone(),
            "a rule needs one of `get`, `put`, `post`, `delete`, `patch` or `custom`".into(),
        )),
        [_, (_, second), ..] => Err(Problem::new(
            pos(second),
            "a rule can have only one of `get`, `put`, `post`, `delete`, `patch` and `custom`"
                .into(),
        )),
    }
}

/// The automatic rule of a method with no HTTP rule: `POST /{package.Service}/{Method}`, or
/// `POST /{Service}/{Method}` with `short_service` (for services whose package an importer
/// made up, such as a WSDL's).
pub fn auto_rule(method: &MethodDescriptor, origin: &Pos, short_service: bool) -> RuleSpec {
    let service = method.parent_service();
    let service = if short_service {
        service.name()
    } else {
        service.full_name()
    };
    RuleSpec {
        method: Method::POST,
        path: format!("/{service}/{}", method.name()),
        body: Some("*".into()),
        response_body: None,
        headers: Vec::new(),
        origin: origin.clone(),
    }
}

/// The parts of a route that come from its rule, checked against the method's messages.
pub struct ResolvedRule {
    pub template: PathTemplate,
    pub variable_fields: Vec<Vec<FieldDescriptor>>,
    pub body: BodyBinding,
    pub response_body: Option<FieldDescriptor>,
    /// Fields sent as headers (backend rules only).
    pub header_fields: Vec<(http::HeaderName, Vec<FieldDescriptor>)>,
}

/// Resolves a rule's template, body and response body. Errors name what is wrong.
pub fn resolve(spec: &RuleSpec, method: &MethodDescriptor) -> Result<ResolvedRule, SchemaError> {
    let template = template::parse(&spec.path)
        .map_err(|e| format!("invalid path template `{}`: {}", spec.path, e))?;
    let input = method.input();
    let mut variable_fields = Vec::new();
    for variable in &template.variables {
        let dotted = variable.field_path.join(".");
        let fields = resolve_path(&input, &dotted).ok_or_else(|| {
            let message = format!(
                "path variable `{dotted}` names no singular field of {}",
                input.full_name()
            );
            near_field(&input, &dotted, message)
        })?;
        let leaf = fields.last().expect("non-empty");
        // A repeated field takes comma-separated values, as in grpc-gateway.
        if leaf.is_map() || !settable_from_text(leaf) {
            return Err(format!(
                "path variable `{dotted}` is bound to field `{}`, which cannot be given as text",
                leaf.full_name()
            )
            .into());
        }
        variable_fields.push(fields);
    }
    let body = match spec.body.as_deref() {
        // The messages of a client stream can only come from the body.
        None | Some("") if method.is_client_streaming() => BodyBinding::Whole,
        None | Some("") => BodyBinding::None,
        Some("*") => BodyBinding::Whole,
        Some(name) => BodyBinding::Field(resolve_path(&input, name).ok_or_else(|| {
            let message = format!(
                "body field `{name}` names no field of {}",
                input.full_name()
            );
            near_field(&input, name, message)
        })?),
    };
    let output = method.output();
    let response_body = match spec.response_body.as_deref() {
        None | Some("") => None,
        Some(name) => Some(output.get_field_by_name(name).ok_or_else(|| {
            format!(
                "response_body `{name}` is not a top-level field of {}",
                output.full_name()
            )
        })?),
    };
    if spec.method == Method::GET && !matches!(body, BodyBinding::None) {
        return Err("a GET rule cannot have a body".into());
    }
    let mut header_fields = Vec::new();
    for (header, dotted) in &spec.headers {
        let name = http::HeaderName::from_bytes(header.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("`{header}` is not a header name"))?;
        let fields = resolve_path(&input, dotted)
            .filter(|f| {
                f.last()
                    .is_some_and(|leaf| !leaf.is_map() && settable_from_text(leaf))
            })
            .ok_or_else(|| {
                format!(
                    "header `{header}`: `{dotted}` names no singular field of {} that can be text",
                    input.full_name()
                )
            })?;
        header_fields.push((name, fields));
    }
    Ok(ResolvedRule {
        template,
        variable_fields,
        body,
        response_body,
        header_fields,
    })
}

/// The problem `message` about a dotted field path, with a did-you-mean for its last part
/// (among the fields of the message that part would be in).
fn near_field(input: &MessageDescriptor, dotted: &str, message: String) -> SchemaError {
    let problem = SchemaError::from(message);
    let (parent, last) = match dotted.rsplit_once('.') {
        Some((parent, last)) => match resolve_path(input, parent).and_then(|p| p.last().cloned()) {
            Some(field) => match field.kind() {
                Kind::Message(m) => (m, last),
                _ => return problem,
            },
            None => return problem,
        },
        None => (input.clone(), dotted),
    };
    let names: Vec<String> = parent.fields().map(|f| f.name().to_owned()).collect();
    problem.suggesting(last, names.iter().map(String::as_str))
}

pub fn resolve_path(message: &MessageDescriptor, dotted: &str) -> Option<Vec<FieldDescriptor>> {
    let mut path = Vec::new();
    let mut current = message.clone();
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = current
            .get_field_by_name(part)
            .or_else(|| current.get_field_by_json_name(part))?;
        if parts.peek().is_some() {
            match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() => current = m,
                _ => return None,
            }
        }
        path.push(field);
    }
    Some(path)
}

/// Whether a field can be bound from text (a path variable or query parameter) at all.
pub fn settable_from_text(field: &FieldDescriptor) -> bool {
    match field.kind() {
        Kind::Message(m) if is_nillable_stand_in(&m) => m
            .get_field_by_name("value")
            .is_some_and(|inner| settable_from_text(&inner)),
        Kind::Message(m) => {
            TEXT_FORMS.contains(&m.full_name())
                || WRAPPERS.contains(&m.full_name())
                || m.full_name() == "google.protobuf.Value"
        }
        _ => true,
    }
}
