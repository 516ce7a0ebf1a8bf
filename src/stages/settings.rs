//! What a mapping asks of its stages: its settings (or gateway.yaml's), its `routes`, and the
//! methods a selector names.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::MethodDescriptor;

use super::{ip_rules, transform};
use crate::config::{
    self, AuthOptions, Diagnostic, Diagnostics, LimitConfig, LoadedConfig, LoadedMapping, Located,
};

/// Rate limits as written, with the file they are written in.
pub(super) type LimitsIn<'a> = (&'a [Located<LimitConfig>], &'a Arc<str>);

/// What a mapping asks of its stages, each setting with the file it is written in: its own
/// settings, or gateway.yaml's where it has none (transforms: gateway.yaml's, then its own).
#[derive(Clone, Copy)]
pub struct StageSettings<'a> {
    pub transforms: [transform::TransformsIn<'a>; 2],
    pub validation: Option<(&'a config::ValidationConfig, &'a Arc<str>)>,
    pub injection: Option<(&'a config::InjectionConfig, &'a Arc<str>)>,
    pub cache: Option<(&'a Located<config::CacheOptions>, &'a Arc<str>)>,
    pub rate_limits: Option<LimitsIn<'a>>,
    pub auth: Option<(&'a AuthOptions, &'a Arc<str>)>,
    pub ip_rules: Option<(&'a config::IpRules, &'a Arc<str>)>,
}

impl<'a> StageSettings<'a> {
    pub fn of(config: &'a LoadedConfig, mapping: &'a LoadedMapping) -> StageSettings<'a> {
        let (gateway, own) = (&config.gateway, &mapping.config);
        let (mine, theirs) = (&mapping.file, &config.gateway_file);
        fn nearest<'a, T: ?Sized>(
            own: Option<&'a T>,
            gateway: Option<&'a T>,
            (mine, theirs): (&'a Arc<str>, &'a Arc<str>),
        ) -> Option<(&'a T, &'a Arc<str>)> {
            own.map(|v| (v, mine)).or(gateway.map(|v| (v, theirs)))
        }
        let files = (mine, theirs);
        let rate_limits = own.rate_limits.as_deref();
        StageSettings {
            transforms: [(&gateway.transforms, theirs), (&own.transforms, mine)],
            validation: nearest(own.validation.as_ref(), gateway.validation.as_ref(), files),
            injection: nearest(own.injection.as_ref(), gateway.injection.as_ref(), files),
            cache: nearest(own.cache.as_ref(), gateway.cache.as_ref(), files),
            rate_limits: nearest(rate_limits, Some(&gateway.rate_limits[..]), files),
            auth: nearest(own.auth.as_ref(), gateway.auth.as_ref(), files),
            ip_rules: nearest(own.ip_rules.as_ref(), gateway.ip_rules.as_ref(), files),
        }
    }
}

/// A mapping's `routes`: each method with its settings.
pub type Routes<'m> = Vec<(MethodDescriptor, &'m Located<config::RouteConfig>)>;

/// The methods a mapping's `routes` name (among its `methods`).
pub fn routes<'m>(
    mapping: &'m LoadedMapping,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Routes<'m> {
    let mut found: Routes<'m> = Vec::new();
    for (selector, route) in &mapping.config.routes {
        let at = mapping.pos(route);
        match named_method(selector, methods) {
            Some(method) if found.iter().any(|(m, _)| m == method) => diags.push(Diagnostic::at(
                &at,
                format!("{} has two `routes` entries", method.full_name()),
            )),
            Some(method) => found.push((method.clone(), route)),
            None => diags.push(no_method(at, selector, methods)),
        }
    }
    found
}

/// A setting of a mapping's methods: the mapping's, or a method's own (`routes`).
#[derive(Clone, Default)]
pub struct PerMethod<T> {
    pub mapping: T,
    by_method: HashMap<String, T>,
}

impl<T: Clone> PerMethod<T> {
    pub fn new(mapping: T) -> Self {
        PerMethod {
            mapping,
            by_method: HashMap::new(),
        }
    }

    pub fn set(&mut self, method: &str, value: T) {
        self.by_method.insert(method.to_owned(), value);
    }

    pub fn of(&self, method: &str) -> T {
        self.by_method.get(method).unwrap_or(&self.mapping).clone()
    }
}

/// The IP rules of a mapping's methods (the gate refuses by them before a body is read).
pub type MethodIpRules = PerMethod<Option<Arc<ip_rules::IpStage>>>;

/// The one method of `methods` that `selector` names: by full name, or by its end
/// (`Users.GetUser`, `GetUser`).
pub fn named_method<'m>(
    selector: &str,
    methods: &'m [MethodDescriptor],
) -> Option<&'m MethodDescriptor> {
    let tail = format!(".{selector}");
    let mut found = methods
        .iter()
        .filter(|m| m.full_name() == selector || m.full_name().ends_with(&tail));
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// The diagnostic for a selector that names no single method of `methods`.
pub fn no_method(at: config::Pos, selector: &str, methods: &[MethodDescriptor]) -> Diagnostic {
    let written = selector.rsplit('.').next().unwrap_or(selector);
    Diagnostic::at(
        &at,
        format!("`{selector}` names no single method of this mapping"),
    )
    .suggesting(written, methods.iter().map(|m| m.name()))
}
