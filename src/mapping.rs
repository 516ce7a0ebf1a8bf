//! A mapping as the assembly hands it to a frontend: the methods it exposes, what calls them,
//! and the checks every frontend and backend builder shares (selectors, schema lists).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};

use crate::call::Invoker;
use crate::config::{Diagnostic, Diagnostics, LoadedMapping, Pos};
use crate::http_rule::RuleSpec;
use crate::protojson::{JsonOptions, Plan};
use crate::registry::proto::Compiled;
use crate::registry::wsdl::build::SoapService;
use crate::registry::SchemaError;
use crate::stages::guard::MappingGuards;

/// What a mapping's routes call.
pub(crate) struct MappingTarget {
    pub invoker: Invoker,
    pub backend_timeout: Option<Duration>,
    /// With a SOAP backend: the service its WSDL became, by full name.
    pub soap: Option<(String, Arc<SoapService>)>,
    pub is_soap: bool,
    /// The methods the mapping exposes.
    pub methods: Vec<MethodDescriptor>,
    /// HTTP rules the backend gives its methods, as annotations would (a composed endpoint's
    /// method and path), by method full name.
    pub backend_rules: Vec<(String, RuleSpec)>,
    /// Query parameters that carry credentials, not input fields.
    pub credential_query: Vec<String>,
    /// The IP rules and CORS policies of the methods.
    pub guards: MappingGuards,
}

/// The methods a mapping exposes: its services', or its SOAP backend's; `None` when the SOAP
/// backend could not be made or a schema of the mapping did not compile (the problem is
/// reported, and its methods cannot be checked).
pub(crate) fn mapping_methods(
    mapping: &LoadedMapping,
    compiled: &Compiled,
    soap: Option<&(String, Arc<SoapService>)>,
    is_soap: bool,
    openapi: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<Vec<MethodDescriptor>> {
    if compiled.failed_for(&mapping.file) {
        return None; // its schema's problem is reported; its methods cannot be checked
    }
    let pool = &compiled.pool;
    let mut methods: Vec<MethodDescriptor> = Vec::new();
    let schema_source = if is_soap {
        Some("with a SOAP backend the WSDL is the schema")
    } else if openapi.is_some() {
        Some("with an OpenAPI document the document is the schema")
    } else {
        None
    };
    if let Some(why) = schema_source {
        refuse_schema_lists(mapping, why, diags);
    }
    if let Some(name) = openapi {
        methods.extend(
            pool.get_service_by_name(name)
                .iter()
                .flat_map(|s| s.methods()),
        );
    }
    match &soap {
        Some((name, _)) => methods.extend(
            pool.get_service_by_name(name)
                .iter()
                .flat_map(|s| s.methods()),
        ),
        // The backend's problem is reported; its rules cannot be checked without it.
        None if is_soap => return None,
        None => {}
    }
    for service in &mapping.config.services {
        match pool.get_service_by_name(service) {
            Some(s) => methods.extend(s.methods()),
            None => {
                let message = format!("no service `{}` in the mapping's schemas", service.value);
                let diagnostic = Diagnostic::at(&mapping.pos(service), message);
                diags.push(match near_service(pool, service) {
                    Some(near) => diagnostic.with_help(format!("did you mean `{near}`?")),
                    None => diagnostic,
                });
            }
        }
    }

    Some(methods)
}

/// The method a selector names: a full name, or a unique tail of one (`Service.Method`).
pub(crate) fn select_method<'m>(
    methods: &'m [MethodDescriptor],
    selector: &str,
    at: &Pos,
    diags: &mut Diagnostics,
) -> Option<&'m MethodDescriptor> {
    let tail = format!(".{selector}");
    let matching: Vec<&MethodDescriptor> = methods
        .iter()
        .filter(|m| m.full_name() == selector || m.full_name().ends_with(&tail))
        .collect();
    match matching.as_slice() {
        [one] => Some(one),
        [] => {
            let written = selector.rsplit('.').next().unwrap_or(selector);
            let names = methods.iter().map(|m| m.name());
            diags.push(
                Diagnostic::at(
                    at,
                    format!("selector `{selector}` names no method of the mapping's services"),
                )
                .suggesting(written, names),
            );
            None
        }
        several => {
            let names: Vec<&str> = several.iter().map(|m| m.full_name()).collect();
            diags.push(Diagnostic::at(
                at,
                format!(
                    "selector `{selector}` matches several methods ({}); write the full name",
                    names.join(", ")
                ),
            ));
            None
        }
    }
}

/// Reports a mapping's `schemas` or `services` where its schema comes from elsewhere (`why`);
/// whether there were any.
pub(crate) fn refuse_schema_lists(
    mapping: &LoadedMapping,
    why: &str,
    diags: &mut Diagnostics,
) -> bool {
    let config = &mapping.config;
    let Some(first) = config.schemas.first().or(config.services.first()) else {
        return false;
    };
    diags.push(Diagnostic::at(
        &mapping.pos(first),
        format!("{why}: leave out `schemas` and `services`"),
    ));
    true
}

/// The service a misspelt name was meant to be: one with the same short name (another
/// package or version), or else a close one.
fn near_service(pool: &DescriptorPool, name: &str) -> Option<String> {
    let short = name.rsplit('.').next().unwrap_or(name);
    let names: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
    (names.iter())
        .find(|full| full.rsplit('.').next() == Some(short))
        .map(String::as_str)
        .or_else(|| crate::config::closest(name, names.iter().map(String::as_str)))
        .map(str::to_owned)
}

/// JSON plans of one mapping, one per message type, shared by its routes.
pub(crate) struct Plans {
    options: JsonOptions,
    built: HashMap<String, Arc<Plan>>,
}

impl Plans {
    pub(crate) fn new(options: JsonOptions) -> Self {
        Plans {
            options,
            built: HashMap::new(),
        }
    }

    pub(crate) fn get(&mut self, desc: &MessageDescriptor) -> Arc<Plan> {
        let options = self.options;
        self.built
            .entry(desc.full_name().to_owned())
            .or_insert_with(|| Plan::new(desc, options))
            .clone()
    }
}

/// A rule that does not fit its method, at the rule: `pkg.S.M (GET /v1/things/{id}): ...`.
pub(crate) fn rule_problem(
    spec: &RuleSpec,
    method: &MethodDescriptor,
    problem: SchemaError,
) -> Diagnostic {
    let message = format!(
        "{} ({} {}): {}",
        method.full_name(),
        spec.method,
        spec.path,
        problem.message
    );
    let diagnostic = Diagnostic::at(&spec.origin, message);
    match problem.help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}
