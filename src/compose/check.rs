//! Checking a composed endpoint (`compose:` in a mapping): its steps' methods found among the
//! gateway's, its JMESPath expressions compiled and typed, each step after the steps it reads,
//! and the service it becomes added to the pool.

use std::path::Path;

use prost_reflect::{DescriptorPool, MessageDescriptor};
use prost_types::field_descriptor_proto::Type as ScalarType;

use super::schema::{self, Shape};
use super::{Batch, Callable, Callables, ComposeBackend, Expression, Step};
use crate::call;
use crate::config::{self, Diagnostic, Diagnostics, LoadedMapping, Located};
use crate::http_rule::{template, RuleSpec};
use crate::mapping::MappingTarget;
use crate::protojson::{JsonOptions, Plan};
use crate::stages::guard::MappingGuards;

/// A composed endpoint as a method of its own: its steps' methods among the gateway's, its
/// expressions compiled and typed, each step after the steps it reads; the service it becomes
/// is added to the pool.
pub(crate) fn compose_target(
    mapping: &LoadedMapping,
    options: &config::ComposeOptions,
    callables: &Callables,
    pool: &mut DescriptorPool,
    diags: &mut Diagnostics,
) -> Option<MappingTarget> {
    let mut checker = ComposeChecker {
        mapping,
        names: options.steps.iter().map(|s| s.name.value.clone()).collect(),
        query: std::collections::BTreeSet::new(),
        body: false,
        fine: true,
        diags,
    };
    let (template, path) = checker.path(&options.path);
    let mut steps = Vec::new();
    let mut step_shapes = Vec::new();
    for step in &options.steps {
        if let Some((checked, shape)) = checker.step(step, callables) {
            steps.push(checked);
            step_shapes.push((step.name.value.clone(), shape));
        }
    }
    let context = context_shape(&path, step_shapes);
    let mut response = Vec::new();
    let mut shapes = Vec::new();
    for (key, text) in &options.response {
        if let Some(expression) = checker.expression(text, false) {
            shapes.push((key.clone(), schema::infer(expression.as_ast(), &context)));
            response.push((key.clone(), expression));
        }
    }
    checker.check_order(&options.steps);
    let http_method = checker.http_method(&options.method)?;
    let (service, operation) = compose_names(mapping, options, template.as_ref(), &http_method);
    checker.names_are_identifiers(options, &service, &operation);
    let ComposeChecker {
        query, body, fine, ..
    } = checker;
    if !fine {
        return None;
    }
    let signature = Signature {
        service: &service,
        operation: &operation,
        path: &path,
        query,
        body,
        response: shapes,
    };
    let method = define_service(mapping, options, &signature, pool, diags)?;
    let rule = RuleSpec {
        method: http_method,
        path: options.path.value.clone(),
        body: body.then(|| "body".to_owned()),
        response_body: None,
        headers: Vec::new(),
        origin: mapping.pos(&options.path),
    };
    let backend = ComposeBackend {
        steps,
        response,
        query: method
            .input()
            .fields()
            .map(|f| f.json_name().to_owned())
            .filter(|name| !path.contains(name) && name != "body")
            .collect(),
        path,
        request_plan: Plan::new(&method.input(), JsonOptions::default()),
        response_plan: Plan::new(&method.output(), JsonOptions::default()),
        response_message: method.output(),
    };
    Some(MappingTarget {
        invoker: call::invoker(backend),
        backend_timeout: options.timeout.map(|d| d.0),
        soap: None,
        is_soap: false,
        backend_rules: vec![(method.full_name().to_owned(), rule)],
        methods: vec![method],
        credential_query: Vec::new(),
        guards: MappingGuards::default(),
    })
}

/// What a composed endpoint's service is made of.
struct Signature<'a> {
    service: &'a str,
    operation: &'a str,
    /// The path variables.
    path: &'a [String],
    /// The query parameters the expressions read.
    query: std::collections::BTreeSet<String>,
    /// Whether an expression reads the body.
    body: bool,
    /// The response's keys and their shapes.
    response: Vec<(String, Shape)>,
}

/// Adds the composed endpoint's service to the pool; its one method.
fn define_service(
    mapping: &LoadedMapping,
    options: &config::ComposeOptions,
    signature: &Signature<'_>,
    pool: &mut DescriptorPool,
    diags: &mut Diagnostics,
) -> Option<prost_reflect::MethodDescriptor> {
    let Signature {
        service,
        operation,
        path,
        query,
        body,
        response,
    } = signature;
    let (package, service_name) = service.rsplit_once('.')?;
    let inputs = path
        .iter()
        .map(|name| (name.clone(), false))
        .chain(
            query
                .iter()
                .filter(|q| !path.contains(q))
                .map(|q| (q.clone(), true)),
        )
        .collect();
    let file = schema::file(&schema::Signature {
        file: &format!("compose/{service}.proto"),
        package,
        service: service_name,
        method: operation,
        inputs,
        body: *body,
        response: response.clone(),
    });
    if pool.get_message_by_name(schema::STEP_ERROR).is_none() {
        crate::registry::add_imported(pool, schema::step_error_file()).ok()?;
    }
    if let Err(e) = crate::registry::add_imported(pool, file) {
        let at = options.service.as_ref().unwrap_or(&options.path);
        diags.push(Diagnostic::at(
            &mapping.pos(at),
            format!("cannot define the service `{service}`: {e}"),
        ));
        return None;
    }
    pool.get_service_by_name(service)?.methods().next()
}

/// The shape of the context the expressions read: the path variables, query, headers, body,
/// consumer, and each step's result.
fn context_shape(path: &[String], step_shapes: Vec<(String, Shape)>) -> Shape {
    Shape::Object(vec![
        (
            "path".into(),
            Shape::Object(
                path.iter()
                    .map(|name| (name.clone(), Shape::Scalar(ScalarType::String)))
                    .collect(),
            ),
        ),
        ("query".into(), Shape::Strings),
        ("headers".into(), Shape::Strings),
        ("body".into(), Shape::Any),
        (
            "consumer".into(),
            Shape::Object(vec![
                ("id".into(), Shape::Scalar(ScalarType::String)),
                ("plan".into(), Shape::Scalar(ScalarType::String)),
                ("metadata".into(), Shape::Any),
            ]),
        ),
        ("steps".into(), Shape::Object(step_shapes)),
    ])
}

/// The full name of a composed endpoint's service, and its method's name.
fn compose_names(
    mapping: &LoadedMapping,
    options: &config::ComposeOptions,
    template: Option<&template::PathTemplate>,
    http_method: &http::Method,
) -> (String, String) {
    let service = options.service.as_ref().map_or_else(
        || {
            let stem = Path::new(&*mapping.file)
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            // A package per mapping, so that two mappings' message names never meet.
            let package = crate::registry::proto_name(&stem).to_ascii_lowercase();
            format!(
                "rosetta.compose.{package}.{}",
                crate::registry::pascal(&stem)
            )
        },
        |s| s.value.clone(),
    );
    let service = if service.contains('.') {
        service
    } else {
        format!("rosetta.compose.{service}")
    };
    let operation = options.operation.as_ref().map_or_else(
        || {
            let verb = match *http_method {
                http::Method::GET => "Get",
                http::Method::POST => "Create",
                http::Method::PUT | http::Method::PATCH => "Update",
                http::Method::DELETE => "Delete",
                _ => "Call",
            };
            let word = template
                .into_iter()
                .flat_map(|t| &t.segments)
                .filter_map(|segment| match segment {
                    template::Segment::Literal(word) => Some(word.as_str()),
                    _ => None,
                })
                .next_back()
                .unwrap_or("root");
            format!("{verb}{}", crate::registry::pascal(word))
        },
        |o| o.value.clone(),
    );
    (service, operation)
}

fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a composed endpoint's steps and expressions, and gathers what they read.
struct ComposeChecker<'a, 'd> {
    mapping: &'a LoadedMapping,
    names: Vec<String>,
    /// The query parameters the expressions read.
    query: std::collections::BTreeSet<String>,
    /// Whether an expression reads the body.
    body: bool,
    fine: bool,
    diags: &'d mut Diagnostics,
}

impl ComposeChecker<'_, '_> {
    /// The endpoint's path template, and its variables (plain names only).
    fn path(
        &mut self,
        path_text: &Located<String>,
    ) -> (Option<template::PathTemplate>, Vec<String>) {
        let template = match template::parse(&path_text.value) {
            Ok(template) => Some(template),
            Err(e) => {
                self.fail(path_text, format!("invalid path template: {e}"));
                None
            }
        };
        let mut path = Vec::new();
        for variable in template.iter().flat_map(|t| &t.variables) {
            match variable.field_path.as_slice() {
                [name] => path.push(name.clone()),
                _ => self.fail(
                    path_text,
                    "a composed endpoint's path variables are plain names (`{id}`)".into(),
                ),
            }
        }
        (template, path)
    }

    /// The endpoint's HTTP method, which has a body if the expressions read one.
    fn http_method(&mut self, method: &Located<String>) -> Option<http::Method> {
        let http_method =
            match http::Method::from_bytes(method.value.to_ascii_uppercase().as_bytes()) {
                Ok(method) => method,
                Err(_) => {
                    self.fail(method, "not an HTTP method".into());
                    return None;
                }
            };
        if self.body && matches!(http_method, http::Method::GET | http::Method::DELETE) {
            self.fail(
                method,
                format!("the expressions read `body`, which a {http_method} request does not have"),
            );
        }
        Some(http_method)
    }

    /// The service and method names, given or made up, are protobuf names.
    fn names_are_identifiers(
        &mut self,
        options: &config::ComposeOptions,
        service: &str,
        operation: &str,
    ) {
        for (name, at) in [
            (&service, options.service.as_ref()),
            (&operation, options.operation.as_ref()),
        ] {
            if !name.split('.').all(is_identifier) {
                let at = at.unwrap_or(&options.path);
                self.fail(at, format!("`{name}` is not a protobuf name"));
            }
        }
    }

    fn fail(&mut self, at: &Located<String>, message: String) {
        self.diags
            .push(Diagnostic::at(&self.mapping.pos(at), message));
        self.fine = false;
    }

    /// Compiles an expression and checks what it reads (`item` only in a fan-out's inputs).
    fn expression(&mut self, text: &Located<String>, item: bool) -> Option<Expression> {
        let expression = match jmespath::compile(&text.value) {
            Ok(expression) => expression,
            Err(e) => {
                self.fail(text, format!("not a JMESPath expression: {e}"));
                return None;
            }
        };
        for (root, member) in schema::roots(expression.as_ast()) {
            match (root.as_str(), member) {
                ("query", Some(name)) => {
                    self.query.insert(name);
                }
                ("body", _) => self.body = true,
                ("steps", Some(name)) if !self.names.contains(&name) => {
                    let message = format!("there is no step `{name}`");
                    self.fail(text, message);
                }
                ("path" | "query" | "headers" | "consumer" | "steps", _) => {}
                ("item", _) if item => {}
                (other, _) => {
                    let message = format!(
                        "`{other}` is not in the context: expressions read path, query, headers, body, consumer and steps{}",
                        if item { ", and item" } else { "" }
                    );
                    self.fail(text, message);
                }
            }
        }
        Some(expression)
    }

    /// A step with its callable found and its batch checked, and the shape of its result.
    fn step(&mut self, step: &config::ComposeStep, callables: &Callables) -> Option<(Step, Shape)> {
        let tail = format!(".{}", step.call.value);
        let found: Vec<&String> = callables
            .keys()
            .filter(|k| **k == step.call.value || k.ends_with(&tail))
            .collect();
        let callable = match found.as_slice() {
            [one] => callables[*one].clone(),
            [] => {
                let message = format!("no mapping serves a method `{}`", step.call.value);
                self.fail(&step.call, message);
                return None;
            }
            _ => {
                let message = format!(
                    "`{}` names several methods; write the full name",
                    step.call.value
                );
                self.fail(&step.call, message);
                return None;
            }
        };
        let fan_out = step.for_each.is_some() && step.batch.is_none();
        let after = self.after(step);
        let input: Vec<_> = step
            .input
            .iter()
            .filter_map(|(field, text)| Some((field.clone(), self.expression(text, fan_out)?)))
            .collect();
        let for_each = match &step.for_each {
            Some(text) => Some(self.expression(text, false)?),
            None => None,
        };
        let output = callable.operation.method.output();
        let (batch, shape) = match &step.batch {
            None if for_each.is_some() => (None, Shape::List(Box::new(Shape::Message(output)))),
            None => (None, Shape::Message(output)),
            Some(batch) => {
                if step.for_each.is_none() {
                    self.fail(
                        &batch.keys,
                        "`batch` makes a fan-out one call: it needs `for_each`".into(),
                    );
                    return None;
                }
                let (checked, item) = self.batch(batch, &callable)?;
                (Some(checked), Shape::List(Box::new(Shape::Message(item))))
            }
        };
        let checked = Step {
            name: step.name.value.clone(),
            callable,
            input,
            for_each,
            batch,
            optional: step.optional,
            timeout: step.timeout.map(|d| d.0),
            after,
        };
        Some((checked, shape))
    }

    /// A batch's fields, found by protobuf or JSON name, and the reply items' message.
    fn batch(
        &mut self,
        batch: &config::ComposeBatch,
        callable: &Callable,
    ) -> Option<(Batch, MessageDescriptor)> {
        let method = &callable.operation.method;
        let field = |message: &MessageDescriptor, name: &str| {
            message
                .get_field_by_name(name)
                .or_else(|| message.fields().find(|f| f.json_name() == name))
                .filter(|f| f.is_list())
        };
        let Some(keys) = field(&method.input(), &batch.keys.value) else {
            let message = format!(
                "`{}` is not a list field of {}",
                batch.keys.value,
                method.input().full_name()
            );
            self.fail(&batch.keys, message);
            return None;
        };
        let items = field(&method.output(), &batch.items.value);
        let Some((items, item)) =
            items.and_then(|f| Some((f.clone(), f.kind().as_message()?.clone())))
        else {
            let message = format!(
                "`{}` is not a list of messages in {}",
                batch.items.value,
                method.output().full_name()
            );
            self.fail(&batch.items, message);
            return None;
        };
        let Some(key) = item
            .get_field_by_name(&batch.key.value)
            .or_else(|| item.fields().find(|f| f.json_name() == batch.key.value))
        else {
            let message = format!("{} has no field `{}`", item.full_name(), batch.key.value);
            self.fail(&batch.key, message);
            return None;
        };
        let checked = Batch {
            keys: keys.json_name().to_owned(),
            items: items.json_name().to_owned(),
            key: key.json_name().to_owned(),
        };
        Some((checked, item))
    }

    /// The indices of the steps that `step`'s expressions read.
    fn after(&self, step: &config::ComposeStep) -> Vec<usize> {
        let mut after: Vec<usize> = step
            .input
            .values()
            .chain(&step.for_each)
            .filter_map(|text| jmespath::compile(&text.value).ok())
            .flat_map(|e| schema::roots(e.as_ast()))
            .filter(|(root, _)| root == "steps")
            .filter_map(|(_, member)| self.names.iter().position(|n| Some(n) == member.as_ref()))
            .collect();
        after.sort_unstable();
        after.dedup();
        after
    }

    /// Every step can run: none waits, through others, for itself.
    fn check_order(&mut self, declared: &[config::ComposeStep]) {
        let after: Vec<Vec<usize>> = declared.iter().map(|step| self.after(step)).collect();
        let mut done = vec![false; declared.len()];
        while let Some(next) =
            (0..declared.len()).find(|&i| !done[i] && after[i].iter().all(|&d| done[d]))
        {
            done[next] = true;
        }
        let waiting: Vec<&Located<String>> = declared
            .iter()
            .zip(&done)
            .filter(|(_, done)| !**done)
            .map(|(step, _)| &step.name)
            .collect();
        if let Some(first) = waiting.first() {
            let names: Vec<&str> = waiting.iter().map(|n| n.value.as_str()).collect();
            let message = format!("the steps {} wait for each other", names.join(", "));
            self.fail(first, message);
        }
    }
}
