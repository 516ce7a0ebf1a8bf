//! How `frontend: graphql` mappings mount: their methods become root fields of the endpoint at
//! their path (mappings may share one), joins are resolved once every field is known, and each
//! endpoint's schema is made last.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{DescriptorPool, MethodDescriptor};

use super::{EndpointOptions, Root, RootField, Target};
use crate::config::{
    self, Diagnostic, Diagnostics, GraphqlOptions, GraphqlRoot, LoadedConfig, LoadedMapping,
    Located, Pos,
};
use crate::frontend::rest::matcher::{Lookup, Matcher};
use crate::frontend::{call_settings, CallTarget, Mount, MountContext};
use crate::mapping::{select_method, MappingTarget};
use crate::protojson::{JsonOptions, Plan};
use crate::registry::proto::Compiled;
use crate::registry::wsdl::build::SoapService;
use crate::registry::{declared_at, Operation};
use crate::stages::guard::PathGuards;
use crate::xml::schema::XmlSchema;

impl Mount for GraphqlEndpoints {
    fn add(
        &mut self,
        cx: &MountContext<'_>,
        target: MappingTarget,
        guards: &mut PathGuards,
        diags: &mut Diagnostics,
    ) {
        let path = match &cx.mapping.config.graphql {
            Some(options) => options.path.value.clone(),
            None => GraphqlOptions::default().path.value,
        };
        let at = cx.mapping.pos(&cx.mapping.config.frontend);
        let guard = target
            .guards
            .methods(target.methods.iter().map(|m| m.full_name()));
        let schema_path = format!("{}/schema.graphql", path.trim_end_matches('/'));
        guards.insert(schema_path, guard.clone(), at.clone(), diags);
        guards.insert(path, guard, at, diags);
        self.add_fields(cx, target, diags);
    }
}

/// A join's method among the endpoint's, with its fields checked.
fn resolve_join(
    join: &PendingJoin,
    fields: &[RootField],
    diags: &mut Diagnostics,
) -> Option<super::Join> {
    let config = &join.config;
    let find = |selector: &str, diags: &mut Diagnostics| {
        let tail = format!(".{selector}");
        let found = fields.iter().find(|f| {
            let name = f.target.operation.full_name();
            name == selector || name.ends_with(&tail)
        });
        if found.is_none() {
            diags.push(Diagnostic::at(
                &join.method_at,
                format!("`{selector}` names no method served at this endpoint (a join calls one of them)"),
            ));
        }
        found.map(|f| f.target.clone())
    };
    let fail = |message: String, diags: &mut Diagnostics| {
        diags.push(Diagnostic::at(&join.at, message));
        None
    };
    let json_field = |message: &prost_reflect::MessageDescriptor, name: &str| {
        message
            .fields()
            .find(|f| f.json_name() == name || f.name() == name)
    };
    let kind = match (&config.method, &config.batch) {
        (Some(method), None) => {
            let target = find(&method.value, diags)?;
            let input = target.operation.method.input();
            let mut arguments = Vec::new();
            for (field, from) in &config.arguments {
                let Some(found) = json_field(&input, field) else {
                    return fail(
                        format!("{} has no field `{field}`", input.full_name()),
                        diags,
                    );
                };
                arguments.push((found.json_name().to_owned(), from.value.clone()));
            }
            super::JoinKind::Single { target, arguments }
        }
        (None, Some(batch)) => {
            let target = find(&batch.method.value, diags)?;
            let method = &target.operation.method;
            let keys = json_field(&method.input(), &batch.keys.value).filter(|f| f.is_list());
            let items = json_field(&method.output(), &batch.items.value).filter(|f| f.is_list());
            let (Some(keys), Some(items)) = (keys, items) else {
                return fail(
                    format!(
                        "the batch method needs a repeated input field `{}` and a repeated output field `{}`",
                        batch.keys.value, batch.items.value
                    ),
                    diags,
                );
            };
            let prost_reflect::Kind::Message(item) = items.kind() else {
                return fail(
                    format!("`{}` does not hold messages", batch.items.value),
                    diags,
                );
            };
            let Some(key) = json_field(&item, &batch.key.value) else {
                return fail(
                    format!("{} has no field `{}`", item.full_name(), batch.key.value),
                    diags,
                );
            };
            super::JoinKind::Batch {
                keys: keys.json_name().to_owned(),
                from: batch.from.value.clone(),
                items: items.json_name().to_owned(),
                key: key.json_name().to_owned(),
                item,
                target,
            }
        }
        _ => {
            return fail(
                "a join has either `method` (with `arguments`) or `batch`".into(),
                diags,
            )
        }
    };
    Some(super::Join {
        on: config.on.value.clone(),
        field: config.field.value.clone(),
        origin: join.at.clone(),
        kind,
    })
}

/// The root fields of the GraphQL mappings, by endpoint path.
#[derive(Default)]
pub(crate) struct GraphqlEndpoints {
    endpoints: Vec<PendingEndpoint>,
}

struct PendingEndpoint {
    options: EndpointOptions,
    /// Where the path is written, for errors about the endpoint.
    origin: Pos,
    fields: Vec<RootField>,
    soap: Vec<Arc<SoapService>>,
    joins: Vec<PendingJoin>,
}

/// A `graphql.joins` entry with its places, resolved when the endpoint's methods are known.
struct PendingJoin {
    config: config::GraphqlJoin,
    at: Pos,
    method_at: Pos,
}

impl GraphqlEndpoints {
    /// Adds the root fields of a `frontend: graphql` mapping.
    fn add_fields(
        &mut self,
        cx: &MountContext<'_>,
        target: MappingTarget,
        diags: &mut Diagnostics,
    ) {
        let (config, mapping, compiled) = (cx.config, cx.mapping, cx.compiled);
        let default_options = GraphqlOptions::default();
        let options = mapping.config.graphql.as_ref().unwrap_or(&default_options);
        let origin = if options.path.line == 0 {
            mapping.pos(&mapping.config.frontend)
        } else {
            mapping.pos(&options.path)
        };
        let (forward_headers, timeout) = call_settings(mapping, &target, "GraphQL", diags);
        let path = &options.path.value;
        if !path.starts_with('/') || path.contains(['{', '}', '?', '#']) {
            diags.push(Diagnostic::at(
                &origin,
                format!("`{path}` is not a path such as /graphql"),
            ));
            return;
        }
        let mut methods = target.methods.clone();
        let excluded: Vec<String> = options
            .exclude
            .iter()
            .filter_map(|selector| select_method(&methods, selector, &mapping.pos(selector), diags))
            .map(|method| method.full_name().to_owned())
            .collect();
        methods.retain(|method| !excluded.iter().any(|name| name == method.full_name()));
        let mut settings: HashMap<String, (Option<GraphqlRoot>, Option<&Located<String>>)> =
            HashMap::new();
        for (selector, method_options) in &options.methods {
            let at = method_options
                .root
                .as_ref()
                .map(|r| mapping.pos(r))
                .or(method_options.field_mask.as_ref().map(|f| mapping.pos(f)))
                .unwrap_or_else(|| origin.clone());
            if let Some(method) = select_method(&methods, selector, &at, diags) {
                settings.insert(
                    method.full_name().to_owned(),
                    (
                        method_options.root.as_ref().map(|r| r.value),
                        method_options.field_mask.as_ref(),
                    ),
                );
            }
        }
        let prefix = options.prefix.as_ref().map_or("", |p| p.value.as_str());
        let cx = FieldContext {
            mapping,
            compiled,
            target: &target,
            prefix,
            forward_headers,
            timeout,
        };
        let fields: Vec<RootField> = methods
            .into_iter()
            .filter_map(|method| root_field(&cx, method, &mut settings, diags))
            .collect();
        let joins: Vec<PendingJoin> = options
            .joins
            .iter()
            .map(|join| PendingJoin {
                config: join.clone(),
                at: mapping.pos(&join.field),
                method_at: join
                    .method
                    .as_ref()
                    .or(join.batch.as_ref().map(|b| &b.method))
                    .map_or_else(|| mapping.pos(&join.field), |m| mapping.pos(m)),
            })
            .collect();
        let pending = PendingEndpoint {
            options: endpoint_options(config, options),
            origin,
            fields,
            soap: target
                .soap
                .map(|(_, service)| service)
                .into_iter()
                .collect(),
            joins,
        };
        self.merge(pending, diags);
    }

    /// Adds a mapping's fields to the endpoint at their path, or a new endpoint; the mappings
    /// of one endpoint agree on `maps_as_json`, and the strictest of their limits applies.
    fn merge(&mut self, pending: PendingEndpoint, diags: &mut Diagnostics) {
        let PendingEndpoint {
            options: wanted,
            origin,
            fields,
            soap,
            joins,
        } = pending;
        let path = &wanted.path;
        match self.endpoints.iter_mut().find(|e| e.options.path == *path) {
            Some(endpoint) => {
                if endpoint.options.maps_as_json != wanted.maps_as_json {
                    diags.push(
                        Diagnostic::at(
                            &origin,
                            format!("the mappings served at {path} disagree on `maps_as_json`"),
                        )
                        .with_related(Diagnostic::at(
                            &endpoint.origin,
                            "the other mapping is here",
                        )),
                    );
                }
                // The strictest limits of the mappings apply.
                let merged = &mut endpoint.options;
                merged.max_depth = merged.max_depth.min(wanted.max_depth);
                merged.max_complexity = merged.max_complexity.min(wanted.max_complexity);
                merged.max_aliases = merged.max_aliases.min(wanted.max_aliases);
                merged.max_request_size = merged.max_request_size.min(wanted.max_request_size);
                merged.introspection &= wanted.introspection;
                merged.persisted_queries &= wanted.persisted_queries;
                merged.websocket_init_timeout = merged
                    .websocket_init_timeout
                    .min(wanted.websocket_init_timeout);
                merged.max_socket_subscriptions = merged
                    .max_socket_subscriptions
                    .min(wanted.max_socket_subscriptions);
                endpoint.fields.extend(fields);
                endpoint.soap.extend(soap);
                endpoint.joins.extend(joins);
            }
            None => self.endpoints.push(PendingEndpoint {
                options: wanted,
                origin,
                fields,
                soap,
                joins,
            }),
        }
    }

    /// Makes the schema of every endpoint.
    pub(crate) fn finish(
        self,
        pool: &DescriptorPool,
        rest: &Matcher,
        diags: &mut Diagnostics,
    ) -> Vec<Arc<super::Endpoint>> {
        let mut endpoints = Vec::new();
        for pending in self.endpoints {
            let path = &pending.options.path;
            if !matches!(rest.lookup(&http::Method::POST, path), Lookup::NotFound)
                || !matches!(rest.lookup(&http::Method::GET, path), Lookup::NotFound)
            {
                diags.push(Diagnostic::at(
                    &pending.origin,
                    format!("a REST route of another mapping also serves {path}"),
                ));
                continue;
            }
            let xml: Vec<&XmlSchema> = pending.soap.iter().map(|s| &s.xml).collect();
            let joins: Vec<super::Join> = pending
                .joins
                .iter()
                .filter_map(|join| resolve_join(join, &pending.fields, diags))
                .collect();
            match super::endpoint(pending.options, pending.fields, joins, pool, &xml) {
                Ok(endpoint) => endpoints.push(Arc::new(endpoint)),
                Err(problems) => {
                    for problem in problems {
                        diags.push(problem.into());
                    }
                }
            }
        }
        endpoints
    }
}

/// What every root field of one mapping shares.
struct FieldContext<'a> {
    mapping: &'a LoadedMapping,
    compiled: &'a Compiled,
    target: &'a MappingTarget,
    prefix: &'a str,
    forward_headers: Arc<[http::HeaderName]>,
    timeout: Option<std::time::Duration>,
}

/// The root field of one method; `None` when GraphQL cannot serve it (a warning says why) or
/// its settings are wrong.
fn root_field(
    cx: &FieldContext<'_>,
    method: MethodDescriptor,
    settings: &mut HashMap<String, (Option<GraphqlRoot>, Option<&Located<String>>)>,
    diags: &mut Diagnostics,
) -> Option<RootField> {
    let FieldContext {
        mapping,
        compiled,
        target,
        prefix,
        ..
    } = cx;
    let (forward_headers, timeout) = (&cx.forward_headers, cx.timeout);
    let declared = match target
        .soap
        .as_ref()
        .and_then(|(_, s)| s.operations.get(method.name()))
    {
        Some(op) => op.pos.clone(),
        None => declared_at(&method, &compiled.shown_name(method.parent_file().name())),
    };
    if method.is_client_streaming() {
        diags.warn(Diagnostic::at(
            &declared,
            format!(
                "{} streams requests, which GraphQL cannot; it is left out of the schema",
                method.full_name()
            ),
        ));
        return None;
    }
    let (root, mask) = settings.remove(method.full_name()).unwrap_or_default();
    let root = match (root, super::default_root(&method)) {
        (_, Root::Subscription) => Root::Subscription,
        (Some(GraphqlRoot::Query), _) => Root::Query,
        (Some(GraphqlRoot::Mutation), _) => Root::Mutation,
        (None, root) => root,
    };
    let field_mask = match mask {
        None => None,
        Some(name) => {
            let field = method.input().get_field_by_name(&name.value);
            match field.filter(|f| matches!(f.kind(), prost_reflect::Kind::Message(m) if m.full_name() == "google.protobuf.FieldMask") && !f.is_list()) {
                Some(field) => Some(field.json_name().to_owned()),
                None => {
                    diags.push(Diagnostic::at(
                        &mapping.pos(name),
                        format!("{} has no google.protobuf.FieldMask field `{}`", method.input().full_name(), name.value),
                    ));
                    return None;
                }
            }
        }
    };
    let name = format!(
        "{prefix}{}",
        super::schema::lower_camel_method(method.name())
    );
    let target = Target {
        call: CallTarget {
            operation: Operation::new(method.clone()),
            invoker: target.invoker.clone(),
            timeout,
            forward_headers: forward_headers.clone(),
            request_plan: Plan::new(&method.input(), JsonOptions::default()),
            response_plan: Plan::new(&method.output(), JsonOptions::EVERY_FIELD),
        },
        field_mask,
    };
    Some(RootField {
        name,
        root,
        target: Arc::new(target),
        origin: declared,
    })
}

/// The endpoint options a mapping asks for.
fn endpoint_options(config: &LoadedConfig, options: &GraphqlOptions) -> EndpointOptions {
    let path = &options.path.value;
    let max_request_size = options
        .max_request_size
        .map_or(config.gateway.limits.max_body_size.0, |s| s.0) as usize;
    EndpointOptions {
        path: path.clone(),
        maps_as_json: options.maps_as_json,
        max_depth: options.max_depth,
        max_complexity: options.max_complexity,
        max_aliases: options.max_aliases,
        max_request_size,
        introspection: options.introspection,
        persisted_queries: options.persisted_queries,
        websocket_init_timeout: options.websocket_init_timeout.0,
        max_socket_subscriptions: options.max_socket_subscriptions,
    }
}
