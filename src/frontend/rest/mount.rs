//! How REST mappings mount: every method's routes (the mapping's rules, the annotation, or the
//! automatic route) resolved and put in the route trie, API versions of one route side by
//! side.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prost_reflect::MethodDescriptor;

use super::matcher::Matcher;
use super::route::{self, MappingSettings, Route};
use crate::config::{
    self, Diagnostic, Diagnostics, LoadedConfig, LoadedMapping, Located, RuleMode,
};
use crate::frontend::{Mount, MountContext};
use crate::http_rule::{self, RuleSpec};
use crate::mapping::{rule_problem, select_method, MappingTarget, Plans};
use crate::registry::proto::Compiled;
use crate::registry::{declared_at, Operation};
use crate::stages::guard::{Guard, PathGuards};
use crate::stages::ip_rules::IpGate;
use crate::stages::StageSettings;

/// The REST routes of every mapping, and the trie that finds them.
#[derive(Default)]
pub(crate) struct RestRoutes {
    pub routes: Vec<Arc<Route>>,
    pub matcher: Matcher,
}

/// The rules a mapping writes for one method: whether they replace its annotation's, their
/// timeout, and the rules.
type Override = (RuleMode, Option<Duration>, Vec<RuleSpec>);

impl Mount for RestRoutes {
    fn add(
        &mut self,
        cx: &MountContext<'_>,
        target: MappingTarget,
        _guards: &mut PathGuards,
        diags: &mut Diagnostics,
    ) {
        let (config, mapping, compiled) = (cx.config, cx.mapping, cx.compiled);
        for spec in mapping_routes(config, mapping, compiled, target, diags) {
            let index = self.routes.len();
            if let Err(existing) = self
                .matcher
                .insert(&spec.http_method, &spec.template, index)
            {
                // Another API version of the same route: served beside it.
                let version = spec.mapping.api_version.clone();
                let other = &self.routes[existing];
                let taken = std::iter::once(other)
                    .chain(&other.versions)
                    .any(|r| r.mapping.api_version == version);
                if !taken {
                    if let Some(route) = Arc::get_mut(&mut self.routes[existing]) {
                        // The versions share the path, so its gate refuses only whom they
                        // all refuse; a preflight names no version: the first one's CORS.
                        route.guard = Arc::new(Guard {
                            ip: IpGate::both(route.guard.ip.clone(), spec.guard.ip.clone()),
                            cors: route.guard.cors.clone(),
                        });
                        route.versions.push(Arc::new(spec));
                        continue;
                    }
                }
                let other = &self.routes[existing];
                diags.push(
                    Diagnostic::at(
                        &spec.origin,
                        format!(
                            "route {} of {} matches the same requests as route {} of {}",
                            spec.describe(),
                            spec.operation.full_name(),
                            other.describe(),
                            other.operation.full_name()
                        ),
                    )
                    .with_related(Diagnostic::at(
                        &other.origin,
                        "the other route is declared here",
                    )),
                );
                continue;
            }
            self.routes.push(Arc::new(spec));
        }
    }
}

/// The routes of one mapping: for each method of its services, the mapping's rules, the
/// method's annotation (unless a rule replaces it), or the automatic route.
fn mapping_routes(
    config: &LoadedConfig,
    mapping: &LoadedMapping,
    compiled: &Compiled,
    target: MappingTarget,
    diags: &mut Diagnostics,
) -> Vec<Route> {
    let MappingTarget {
        invoker,
        backend_timeout,
        soap,
        is_soap,
        methods,
        backend_rules,
        credential_query,
        guards,
    } = target;
    // SOAP and composed responses show their zero values (a null or empty part is news).
    let emit_defaults = is_soap || mapping.config.compose.is_some();
    let mut settings = MappingSettings::new(&mapping.config.options, emit_defaults);
    settings.credential_query = credential_query;
    settings.api_version = api_version(mapping, diags);
    settings.response_headers = deprecation_headers(mapping, diags);
    settings.plain_headers =
        route::plain_headers(crate::stages::transform::written_response_headers(
            &StageSettings::of(config, mapping).transforms,
        ));
    let settings = Arc::new(settings);

    let mut overrides = rule_overrides(mapping, &methods, diags);
    let prefix = path_prefix(mapping, diags);
    let mut plans = Plans::new(settings.json);
    let mut routes = Vec::new();
    for method in methods {
        let soap_operation = soap
            .as_ref()
            .and_then(|(_, service)| service.operations.get(method.name()));
        let declared = match soap_operation {
            Some(op) => op.pos.clone(),
            None => declared_at(&method, &compiled.shown_name(method.parent_file().name())),
        };
        let (mode, timeout, mut specs) =
            overrides
                .remove(method.full_name())
                .unwrap_or((RuleMode::Add, None, Vec::new()));
        if mode == RuleMode::Add {
            let given = backend_rules
                .iter()
                .filter(|(name, _)| name == method.full_name())
                .map(|(_, spec)| spec.clone());
            specs.splice(
                0..0,
                http_rule::annotation_rules(&method, &declared)
                    .into_iter()
                    .chain(given),
            );
        }
        if specs.is_empty() && mapping.config.options.auto_routes {
            specs.push(http_rule::auto_rule(&method, &declared, is_soap));
        }
        let operation = Operation::new(method.clone());
        let request_plan = plans.get(&method.input());
        let response_plan = plans.get(&method.output());
        let timeout = timeout
            .or(mapping.config.options.timeout.map(|d| d.0))
            .or(backend_timeout);
        for mut spec in specs {
            if let Some(prefix) = &prefix {
                spec.path.insert_str(0, prefix);
            }
            match http_rule::resolve(&spec, &method) {
                Ok(resolved) => routes.push(Route {
                    operation: operation.clone(),
                    http_method: spec.method.clone(),
                    template: resolved.template,
                    variable_fields: resolved.variable_fields,
                    body: resolved.body,
                    response_body: resolved.response_body,
                    timeout,
                    mapping: settings.clone(),
                    request_plan: request_plan.clone(),
                    response_plan: response_plan.clone(),
                    invoker: invoker.clone(),
                    versions: Vec::new(),
                    origin: spec.origin.clone(),
                    guard: Arc::new(guards.method(method.full_name())),
                }),
                Err(problem) => diags.push(rule_problem(&spec, &method, problem)),
            }
        }
    }
    routes
}

/// The rules a mapping file writes, by method full name: whether they replace the method's
/// annotation, their timeout, and the rules.
fn rule_overrides(
    mapping: &LoadedMapping,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> HashMap<String, Override> {
    let mut overrides: HashMap<String, Override> = HashMap::new();
    let pos = |l: &config::Located<String>| mapping.pos(l);
    for rule in &mapping.config.rules {
        let Some(selector) = &rule.selector else {
            let at = rule
                .get
                .as_ref()
                .or(rule.post.as_ref())
                .or(rule.put.as_ref())
                .or(rule.delete.as_ref())
                .or(rule.patch.as_ref());
            let at = at
                .map(pos)
                .unwrap_or_else(|| mapping.pos(&mapping.config.version));
            diags.push(Diagnostic::at(
                &at,
                "a rule needs a `selector` naming its method",
            ));
            continue;
        };
        let Some(method) = select_method(methods, selector, &pos(selector), diags) else {
            continue;
        };
        let method_name = method.full_name().to_owned();
        if let Some(value) = rule.headers.values().next() {
            diags.push(Diagnostic::at(
                &pos(value),
                "`headers` binds fields to headers in `backend.rules` (of a REST backend), not in the frontend's rules",
            ));
            continue;
        }
        match http_rule::config_rules(rule, &pos(selector), &pos) {
            Ok(specs) => {
                let entry =
                    overrides
                        .entry(method_name)
                        .or_insert((RuleMode::Add, None, Vec::new()));
                if rule.mode.unwrap_or_default() == RuleMode::Replace {
                    entry.0 = RuleMode::Replace;
                }
                entry.1 = rule.timeout.map(|d| d.0).or(entry.1);
                entry.2.extend(specs);
            }
            Err(problem) => diags.push(problem.into()),
        }
    }
    overrides
}

/// The mapping's `path_prefix`, checked.
fn path_prefix(mapping: &LoadedMapping, diags: &mut Diagnostics) -> Option<String> {
    mapping
        .config
        .options
        .path_prefix
        .as_ref()
        .and_then(|prefix| {
            let fine = prefix.starts_with('/')
                && !prefix.ends_with('/')
                && !prefix.contains(['{', '}', '*', ':', '?', '#']);
            if !fine {
                diags.push(Diagnostic::at(
                    &mapping.pos(prefix),
                    format!("`{}` is not a path prefix such as /v2", prefix.value),
                ));
            }
            fine.then(|| prefix.value.clone())
        })
}

/// A mapping's `api_version`, checked.
fn api_version(mapping: &LoadedMapping, diags: &mut Diagnostics) -> Option<route::VersionMatch> {
    let version = mapping.config.api_version.as_ref()?;
    let at = mapping.pos(&version.value);
    let source = match (&version.header, &version.query, &version.media_type) {
        (Some(header), None, None) => {
            match http::HeaderName::from_bytes(header.value.to_ascii_lowercase().as_bytes()) {
                Ok(name) => route::VersionSource::Header(name),
                Err(_) => {
                    diags.push(Diagnostic::at(
                        &mapping.pos(header),
                        format!("`{}` is not a header name", header.value),
                    ));
                    return None;
                }
            }
        }
        (None, Some(query), None) => route::VersionSource::Query(query.value.clone()),
        (None, None, Some(parameter)) => route::VersionSource::MediaType(parameter.value.clone()),
        _ => {
            diags.push(Diagnostic::at(&at, "`api_version` takes the version from exactly one of `header`, `query` and `media_type`"));
            return None;
        }
    };
    Some(route::VersionMatch {
        value: version.value.value.clone(),
        source,
    })
}

/// The `Deprecation`, `Sunset` and `Link` headers of a mapping's `deprecated`.
fn deprecation_headers(
    mapping: &LoadedMapping,
    diags: &mut Diagnostics,
) -> Vec<(http::HeaderName, http::HeaderValue)> {
    let Some(deprecated) = &mapping.config.deprecated else {
        return Vec::new();
    };
    let time = |text: &Located<String>, diags: &mut Diagnostics| {
        let full = if text.value.len() == 10 {
            format!("{}T00:00:00Z", text.value)
        } else {
            text.value.clone()
        };
        match humantime::parse_rfc3339_weak(&full) {
            Ok(time) => Some(time),
            Err(_) => {
                diags.push(Diagnostic::at(
                    &mapping.pos(text),
                    format!("`{}` is not an RFC 3339 date or time", text.value),
                ));
                None
            }
        }
    };
    let mut headers = Vec::new();
    if let Some(since) = time(&deprecated.since, diags) {
        let seconds = since
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Ok(value) = http::HeaderValue::from_str(&format!("@{seconds}")) {
            headers.push((http::HeaderName::from_static("deprecation"), value));
        }
    }
    if let Some(sunset) = deprecated.sunset.as_ref().and_then(|s| time(s, diags)) {
        if let Ok(value) = http::HeaderValue::from_str(&httpdate::fmt_http_date(sunset)) {
            headers.push((http::HeaderName::from_static("sunset"), value));
        }
    }
    if let Some(link) = &deprecated.link {
        match http::HeaderValue::from_str(&format!("<{}>; rel=\"deprecation\"", link.value)) {
            Ok(value) => headers.push((http::header::LINK, value)),
            Err(_) => diags.push(Diagnostic::at(
                &mapping.pos(link),
                "the link cannot be a header value",
            )),
        }
    }
    headers
}
