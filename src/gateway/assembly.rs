//! Mounting the mappings: each one's methods found, called through its backend's builder and
//! its stages, and handed to its frontend.

use std::sync::Arc;

use prost_reflect::MethodDescriptor;

use crate::backend::build::{
    mapping_invoker, mapping_is_soap, own_service, unreachable_backend, Built, Connector,
};
use crate::call::Invoker;
use crate::compose::{self, check::compose_target};
use crate::config::{Diagnostics, LoadedConfig, LoadedMapping};
use crate::frontend::proxy::{mount::proxy_route, ProxyRoute};
use crate::frontend::{MountContext, Served};
use crate::mapping::{mapping_methods, MappingTarget};
use crate::protojson::{JsonOptions, Plan};
use crate::registry::proto::Compiled;
use crate::registry::Operation;
use crate::stages::cors::CorsPolicies;
use crate::stages::guard::MappingGuards;
use crate::stages::{self, Security, StageSettings};

/// What the mappings are mounted with, and what they add up to.
pub(super) struct Assembly<'a, 'c> {
    config: &'a LoadedConfig,
    security: &'a Security,
    cors: &'a CorsPolicies,
    connector: Connector<'c>,
    served: &'a mut Served,
    /// Every method a mapping serves, as compose steps call it: the backend without the
    /// client-facing stages.
    callables: compose::Callables,
    pub proxies: Vec<Arc<ProxyRoute>>,
}

impl<'a, 'c> Assembly<'a, 'c> {
    pub(super) fn new(
        config: &'a LoadedConfig,
        security: &'a Security,
        cors: &'a CorsPolicies,
        connector: Connector<'c>,
        served: &'a mut Served,
    ) -> Self {
        Assembly {
            config,
            security,
            cors,
            connector,
            served,
            callables: compose::Callables::new(),
            proxies: Vec::new(),
        }
    }

    /// A `proxy` mapping: its path relayed to its HTTP backend, through its stages.
    pub(super) fn proxy(
        &mut self,
        mapping: &LoadedMapping,
        built: Option<&Built>,
        operation: Arc<Operation>,
        compiled: &Compiled,
        diags: &mut Diagnostics,
    ) {
        let Some(options) = &mapping.config.proxy else {
            return;
        };
        let cx = MountContext {
            config: self.config,
            mapping,
            compiled,
        };
        let Some(mut route) = proxy_route(&cx, options, built, operation, self.connector, diags)
        else {
            return;
        };
        let methods = [route.operation.method.clone()];
        let staged = self.staged(mapping, route.invoker.clone(), &methods, diags);
        route.invoker = staged.invoker;
        let guard = staged.guards.methods([route.operation.method.full_name()]);
        let at = mapping.pos(&mapping.config.frontend);
        let guards = &mut self.served.guards;
        guards.insert(route.prefix.clone(), guard, at, diags);
        self.proxies.push(Arc::new(route));
    }

    /// A mapping with a backend: its methods called through the backend's builder and the
    /// stages, served by its frontend. Without a backend its routes are still checked, so that
    /// every problem is reported.
    pub(super) fn mapping(
        &mut self,
        mapping: &LoadedMapping,
        built: Option<&Built>,
        compiled: &Compiled,
        diags: &mut Diagnostics,
    ) {
        let config = self.config;
        let soap = built.and_then(|b| b.soap.clone());
        let is_soap = soap.is_some() || mapping_is_soap(config, mapping);
        let backend = &mapping.config.backend;
        let named = backend
            .use_name
            .as_ref()
            .and_then(|name| Some((name.as_str(), config.gateway.backends.get(name.as_str())?)));
        let backend_timeout = backend
            .timeout
            .or(named.and_then(|(_, b)| b.timeout))
            .map(|d| d.0);
        let Some(methods) = mapping_methods(
            mapping,
            compiled,
            soap.as_ref(),
            is_soap,
            built.and_then(|b| own_service(b, mapping)),
            diags,
        ) else {
            return;
        };
        let invoker = built
            .and_then(|b| mapping_invoker(self.connector, b, mapping, &methods, diags))
            .unwrap_or_else(unreachable_backend);
        // The backend's own limit counts every call to it, compose steps' too.
        let invoker = match named {
            Some((name, backend)) => self.security.outbound(invoker, name, backend),
            None => invoker,
        };
        self.callable(&methods, &invoker);
        // Compose steps call the backend itself; clients go through the stages.
        let staged = self.staged(mapping, invoker, &methods, diags);
        let target = MappingTarget {
            invoker: staged.invoker,
            backend_timeout,
            soap,
            is_soap,
            methods,
            backend_rules: Vec::new(),
            credential_query: staged.credential_query,
            guards: staged.guards,
        };
        let cx = MountContext {
            config: self.config,
            mapping,
            compiled,
        };
        self.served.add(&cx, target, diags);
    }

    /// A composed endpoint, once every method its steps may call is known.
    pub(super) fn composed(
        &mut self,
        mapping: &LoadedMapping,
        compiled: &mut Compiled,
        diags: &mut Diagnostics,
    ) {
        let Some(options) = &mapping.config.compose else {
            return;
        };
        let pool = &mut compiled.pool;
        let Some(mut target) = compose_target(mapping, options, &self.callables, pool, diags)
        else {
            return;
        };
        let staged = self.staged(mapping, target.invoker.clone(), &target.methods, diags);
        target.invoker = staged.invoker;
        target.credential_query = staged.credential_query;
        target.guards = staged.guards;
        let cx = MountContext {
            config: self.config,
            mapping,
            compiled,
        };
        self.served.add(&cx, target, diags);
    }

    /// Records the methods compose steps can call (the first mapping to serve one wins).
    fn callable(&mut self, methods: &[MethodDescriptor], invoker: &Invoker) {
        for method in methods {
            self.callables
                .entry(method.full_name().to_owned())
                .or_insert_with(|| compose::Callable {
                    operation: Operation::new(method.clone()),
                    invoker: invoker.clone(),
                    request_plan: Plan::new(&method.input(), JsonOptions::default()),
                    response_plan: Plan::new(&method.output(), JsonOptions::EVERY_FIELD),
                });
        }
    }

    /// A mapping's invoker in its stages (gateway.yaml's, its own, its routes'), and what its
    /// frontend needs of them.
    fn staged(
        &self,
        mapping: &LoadedMapping,
        invoker: Invoker,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> Staged {
        let settings = StageSettings::of(self.config, mapping);
        let routes = stages::routes(mapping, methods, diags);
        let (invoker, ip) = self
            .security
            .stages(invoker, mapping, settings, &routes, methods, diags);
        Staged {
            invoker,
            credential_query: self.security.credential_query(settings, &routes),
            guards: MappingGuards {
                ip,
                cors: self.cors.of_mapping(mapping, &routes, diags),
            },
        }
    }
}

/// A mapping's invoker in its stages, and what its frontend needs of them.
struct Staged {
    invoker: Invoker,
    /// Query parameters that carry credentials, not input fields.
    credential_query: Vec<String>,
    guards: MappingGuards,
}
