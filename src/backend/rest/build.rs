//! The REST backend's builder: an address (and TLS), an optional OpenAPI document imported
//! into the pool, and per mapping the HTTP rule each method is called with.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::MethodDescriptor;

use super::{RestCall, RestSettings};
use crate::backend::build::{
    http_address, http_backend, BackendSettings, BuildContext, Built, Connector, HttpBase,
    Protocol, Written,
};
use crate::call::Invoker;
use crate::config::{
    BackendConfig, BackendProtocol, Diagnostic, Diagnostics, LoadedMapping, Located,
};
use crate::http_rule::{self, RuleSpec};
use crate::mapping::{rule_problem, select_method};
use crate::protojson::{JsonOptions, Plan};
use crate::registry::openapi::{self, ImportedRule};
use crate::registry::wsdl;

pub(crate) struct Rest;

impl Protocol for Rest {
    fn protocol(&self) -> BackendProtocol {
        BackendProtocol::Rest
    }

    fn own_keys<'b>(&self, backend: &'b BackendConfig) -> Vec<(&'b Located<String>, String)> {
        let message = "`openapi` describes a backend with `protocol: rest`";
        (backend.openapi.iter())
            .map(|at| (at, message.into()))
            .collect()
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_, '_>,
        written: &Written<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Built> {
        let (base, tls) = http_address(written, "REST", diags)?;
        let openapi = match &written.backend.openapi {
            Some(document) => Some(import(cx, written, document, diags)?),
            None => None,
        };
        let base = HttpBase {
            openapi,
            ..HttpBase::new(written, &base, tls)
        };
        Some(http_backend(written, base))
    }

    fn invoker(
        &self,
        connector: Connector<'_>,
        built: &Built,
        mapping: &LoadedMapping,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> Option<Invoker> {
        let base = built.http.as_ref()?;
        mapping_invoker(connector, base, mapping, methods, diags)
    }

    fn own_service<'b>(&self, built: &'b Built, _mapping: &LoadedMapping) -> Option<&'b str> {
        let (service, _) = built.http.as_ref()?.openapi.as_ref()?;
        Some(service)
    }
}

/// Imports an OpenAPI document into the pool: the service it became and the rules.
fn import(
    cx: &mut BuildContext<'_, '_>,
    written: &Written<'_>,
    document: &Located<String>,
    diags: &mut Diagnostics,
) -> Option<(String, HashMap<String, ImportedRule>)> {
    let at = written.pos(document);
    let path = written.dir.join(&document.value);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let package = format!(
        "openapi.{}",
        wsdl::build::sanitize(&stem).to_ascii_lowercase()
    );
    let imported = match openapi::import(&written.config.files, &path, &package) {
        Ok(imported) => imported,
        Err(message) => {
            diags.push(Diagnostic::at(&at, message.to_string()));
            return None;
        }
    };
    if cx.pool.get_file_by_name(imported.file.name()).is_some() {
        // The same document behind two backends: one import serves both.
        return Some((imported.service_name, imported.rules));
    }
    if let Err(e) = crate::registry::add_imported(cx.pool, imported.file) {
        diags.push(Diagnostic::at(
            &at,
            format!("the OpenAPI document's types cannot be registered: {e}"),
        ));
        return None;
    }
    Some((imported.service_name, imported.rules))
}

/// The REST backend of one mapping: how each of its methods is called, from the mapping's
/// `backend.rules` or the method's annotation.
pub(crate) fn mapping_invoker(
    connector: Connector<'_>,
    base: &HttpBase,
    mapping: &LoadedMapping,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    let pos = |l: &Located<String>| mapping.pos(l);
    let mut written: HashMap<String, RuleSpec> = HashMap::new();
    for rule in &mapping.config.backend.rules {
        let Some(selector) = &rule.selector else {
            diags.push(Diagnostic::at(
                &mapping.pos(&mapping.config.frontend),
                "a backend rule needs a `selector` naming its method",
            ));
            continue;
        };
        let Some(method) = select_method(methods, selector, &pos(selector), diags) else {
            continue;
        };
        match http_rule::config_rules(rule, &pos(selector), &pos) {
            Ok(mut specs) => {
                written.insert(method.full_name().to_owned(), specs.remove(0));
            }
            Err(problem) => diags.push(problem.into()),
        }
    }
    let mut calls = HashMap::new();
    for method in methods {
        let origin = mapping.pos(&mapping.config.frontend);
        // A rule in the mapping, else the method's annotation, else the OpenAPI operation's.
        let imported = base
            .openapi
            .as_ref()
            .and_then(|(_, rules)| rules.get(method.name()))
            .map(|rule| RuleSpec {
                method: rule.method.clone(),
                path: rule.path.clone(),
                body: rule.body.clone(),
                response_body: rule.response_body.clone(),
                headers: rule.headers.clone(),
                origin: origin.clone(),
            });
        let spec = written
            .remove(method.full_name())
            .or_else(|| {
                http_rule::annotation_rules(method, &origin)
                    .into_iter()
                    .next()
            })
            .or(imported);
        let Some(spec) = spec else {
            diags.warn(Diagnostic::at(
                &origin,
                format!(
                    "{} has no HTTP rule for the REST backend (no annotation, no `backend.rules` entry); calls to it are UNIMPLEMENTED",
                    method.full_name()
                ),
            ));
            continue;
        };
        match http_rule::resolve(&spec, method) {
            Ok(resolved) => {
                calls.insert(
                    method.full_name().to_owned(),
                    RestCall {
                        method: spec.method.clone(),
                        template: resolved.template,
                        variable_fields: resolved.variable_fields,
                        body: resolved.body,
                        response_body: resolved.response_body,
                        header_fields: resolved.header_fields,
                        response_plan: Plan::new(&method.output(), JsonOptions::default()),
                    },
                );
            }
            Err(problem) => diags.push(rule_problem(&spec, method, problem)),
        }
    }
    let settings = RestSettings {
        base: base.base.clone(),
        tls: base.tls.clone(),
        connect_timeout: base.connect_timeout,
        max_response: connector.max_body,
        calls,
    };
    connector.mapping(&BackendSettings::Rest(Arc::new(settings)), mapping, diags)
}
