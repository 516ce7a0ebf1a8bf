//! Assembling a running gateway from loaded configuration: schemas into the registry, backends,
//! and the routes of every mapping. Every problem is reported, with its place, before anything
//! starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};
use prost_types::field_descriptor_proto::Type as ScalarType;

use crate::backend::compose::{self, ComposeBackend};
use crate::backend::compose_schema::{self, Shape};
use crate::backend::graphql::{GraphqlBackend, GraphqlCall, GraphqlSettings};
use crate::backend::graphql_schema::{self, Documents, SchemaShape};
use crate::backend::grpc::{GrpcBackend, GrpcSettings, TlsSettings};
use crate::backend::rest::{RestBackend, RestCall, RestSettings};
use crate::backend::soap::{SoapBackend, SoapSettings, WsSecurity};
use crate::call::{self, Invoker};
use crate::config::{
    self, BackendConfig, BackendProtocol, Diagnostic, Diagnostics, Files, FrontendProtocol,
    GraphqlOptions, GraphqlRoot, LoadedConfig, LoadedMapping, Located, Pos, RuleMode, SoapConfig,
    Vars,
};
use crate::frontend::graphql::{self, EndpointOptions, Root, RootField, Target};
use crate::frontend::grpc::{GrpcFrontend, GrpcTarget};
use crate::frontend::proxy::ProxyRoute;
use crate::frontend::rest::matcher::{Lookup, Matcher};
use crate::frontend::rest::route::{self, MappingSettings, Route};
use crate::frontend::rest::RestFrontend;
use crate::frontend::soap::{SoapEndpoint, SoapTarget};
use crate::http_rule::{self, template, RuleSpec};
use crate::protojson::{JsonOptions, Plan};
use crate::registry::openapi::{self, ImportedRule};
use crate::registry::proto::{self, Compiled, SchemaRequest};
use crate::registry::wsdl::build::{Choice, SoapService};
use crate::registry::wsdl::{self, Location};
use crate::registry::{declared_at, Operation};
use crate::stages::cors::CorsPolicies;
use crate::stages::guard::{Guard, MappingGuards, PathGuards};
use crate::stages::ip_rules::IpGate;
use crate::stages::{self, Security, StageSettings};
use crate::xml::schema::XmlSchema;

/// A gateway ready to serve.
pub struct Gateway {
    pub listen: SocketAddr,
    /// The admin endpoints' own listener, if gateway.yaml names one.
    pub admin_listen: Option<SocketAddr>,
    /// The SHA-256 of the token with which the public listener serves the admin endpoints.
    admin_token: Option<[u8; 32]>,
    pub pool: DescriptorPool,
    pub rest: Arc<RestFrontend>,
    /// The GraphQL endpoints, one per path.
    pub graphql: Vec<Arc<graphql::Endpoint>>,
    /// The gRPC services of `frontend: grpc` mappings, if any.
    pub grpc: Option<GrpcFrontend>,
    /// The services of `frontend: soap` mappings.
    pub soap: Vec<Arc<SoapEndpoint>>,
    /// The paths relayed to HTTP backends as they are (`proxy` mappings).
    pub proxies: Vec<Arc<ProxyRoute>>,
    /// The most request headers, and their largest total size.
    pub header_limits: (usize, usize),
    /// The listener's timeouts and connection limits.
    pub listener: crate::server::Settings,
    /// What each path tells browsers (REST routes carry their own).
    pub guards: PathGuards,
    /// The cache, and the SHA-256 of the purge endpoint's token (when there is one).
    pub cache_purge: Option<(Arc<crate::stages::cache::Store>, [u8; 32])>,
    /// The rate limits' state, whose counters `GET /_rosetta/metrics` shows.
    pub limits: Arc<crate::stages::rate_limit::Store>,
    /// What injection filtering found, likewise.
    injections: Arc<crate::stages::injection::Counters>,
    /// Warnings found while loading.
    pub warnings: Vec<Diagnostic>,
    /// The same, rendered with their places and snippets (empty when there are none).
    pub warnings_text: String,
}

/// Loads `gateway.yaml` at `path` with everything it names and builds the gateway.
pub fn load(files: Files, path: &Path, vars: Vars) -> Result<Gateway, Diagnostics> {
    load_with(files, path, vars, &connect_grpc)
}

/// The checked settings of a backend of any protocol.
pub enum BackendSettings {
    Grpc(GrpcSettings),
    Soap(Arc<SoapSettings>),
    Rest(Arc<RestSettings>),
    Graphql(Arc<GraphqlSettings>),
}

/// Makes the invoker of a backend from its checked settings.
pub type Connect<'a> = &'a dyn Fn(&BackendSettings) -> Result<Invoker, String>;

/// Connects to real backends (lazily: nothing is dialled until the first call).
pub fn connect_grpc(settings: &BackendSettings) -> Result<Invoker, String> {
    match settings {
        BackendSettings::Grpc(grpc) => GrpcBackend::new(grpc).map(call::invoker),
        BackendSettings::Soap(soap) => SoapBackend::new(soap.clone()).map(call::invoker),
        BackendSettings::Rest(rest) => RestBackend::new(rest.clone()).map(call::invoker),
        BackendSettings::Graphql(graphql) => {
            GraphqlBackend::new(graphql.clone()).map(call::invoker)
        }
    }
}

/// A backend ready to be called, and for a SOAP backend the service its WSDL became.
#[derive(Clone)]
struct MadeBackend {
    invoker: Invoker,
    soap: Option<(String, Arc<SoapService>)>,
    /// A REST or GraphQL backend is made per mapping (its calls are the mapping's methods):
    /// where it is.
    rest: Option<Arc<HttpBase>>,
}

/// An HTTP backend's protocol, address and transport settings.
struct HttpBase {
    protocol: BackendProtocol,
    base: String,
    tls: Option<TlsSettings>,
    connect_timeout: Duration,
    /// For a REST backend described by OpenAPI: the service it became and each method's rule.
    openapi: Option<(String, HashMap<String, ImportedRule>)>,
    /// For a GraphQL backend whose schema is known: its shape, to check documents, and the
    /// service it became with each method's generated document (and result key).
    graphql_schema: Option<(SchemaShape, String, Documents)>,
}

/// Like [`load`], with backends made by `connect` (the dry run of `rosetta transcode` records
/// calls instead of making them).
pub fn load_with(
    files: Files,
    path: &Path,
    vars: Vars,
    connect: Connect<'_>,
) -> Result<Gateway, Diagnostics> {
    load_mappings(files, path, vars, connect, None)
}

/// Like [`load`], keeping only the mapping files whose path ends with `only` (for `rosetta
/// schema export --mapping`); an `only` that names no mapping is an error.
pub fn load_mappings(
    files: Files,
    path: &Path,
    vars: Vars,
    connect: Connect<'_>,
    only: Option<&Path>,
) -> Result<Gateway, Diagnostics> {
    let mut diags = Diagnostics::default();
    let gateway = config::load(files, path, vars, &mut diags).and_then(|mut loaded| {
        if let Some(only) = only {
            loaded
                .mappings
                .retain(|m| Path::new(&*m.file).ends_with(only));
            if loaded.mappings.is_empty() {
                diags.push(Diagnostic::at(
                    &unplaced(&loaded.gateway_file),
                    format!("no mapping file is `{}`", only.display()),
                ));
                return None;
            }
        }
        build(&loaded, connect, &mut diags)
    });
    match gateway {
        Some(mut gateway) if diags.is_empty() => {
            gateway.warnings_text = diags.render_warnings();
            gateway.warnings = std::mem::take(&mut diags.warnings);
            Ok(gateway)
        }
        _ => Err(diags),
    }
}

/// Builds the gateway; `None` (with diagnostics) when anything is wrong.
pub fn build(
    config: &LoadedConfig,
    connect: Connect<'_>,
    diags: &mut Diagnostics,
) -> Option<Gateway> {
    let address = |text: &Located<String>, diags: &mut Diagnostics| match text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            diags.push(Diagnostic::at(
                &config.pos(text),
                format!(
                    "`{}` is not an address and port such as 127.0.0.1:8080",
                    text.value
                ),
            ));
            None
        }
    };
    let listen = address(&config.gateway.listen, diags);
    let admin = &config.gateway.admin;
    let admin_listen = admin.listen.as_ref().and_then(|l| address(l, diags));
    let admin_token = admin.token.as_ref().and_then(|t| {
        let secret = crate::config::secret(
            t,
            config.pos(t),
            &config.base_dir,
            &config.files,
            &config.vars,
            diags,
        )?;
        Some(crate::stages::auth::digest(secret.as_bytes()))
    });
    let includes = config
        .gateway
        .schemas
        .include
        .iter()
        .map(|dir| config.base_dir.join(&dir.value))
        .collect();
    let requests: Vec<SchemaRequest> = config
        .mappings
        .iter()
        .flat_map(|m| {
            m.config.schemas.iter().map(|s| SchemaRequest {
                path: s.value.clone(),
                dir: m.dir.clone(),
                pos: m.pos(s),
            })
        })
        .collect();
    let mut compiled = proto::compile(&config.files, includes, &requests, diags)?;
    let max_body = config.gateway.limits.max_body_size.0 as usize;
    let mut made = Made {
        pool: &mut compiled.pool,
        connect,
        max_body,
    };
    let named: HashMap<&str, MadeBackend> = config
        .gateway
        .backends
        .iter()
        .filter_map(|(name, backend)| {
            let backend = made.backend(
                config,
                &config.gateway_file,
                &config.base_dir,
                backend,
                diags,
            )?;
            Some((name.as_str(), backend))
        })
        .collect();

    let mut served = Served::default();
    let security = Security::new(config, diags);
    let cors = CorsPolicies::new(config, diags);
    served.guards = PathGuards::new(config, cors.gateway());
    let made_backends: Vec<Option<MadeBackend>> = config
        .mappings
        .iter()
        .map(|mapping| {
            // A composed endpoint has no backend of its own.
            if mapping.config.compose.is_some() {
                return None;
            }
            made.mapping_backend(config, mapping, &named, diags)
        })
        .collect();
    let rest_connect = (made.connect, made.max_body);
    let proxy_operation = config
        .mappings
        .iter()
        .any(|m| m.config.proxy.is_some())
        .then(|| crate::relay::operation(&mut compiled.pool));
    let mut proxies = Vec::new();
    let mut callables = compose::Callables::new();
    for (mapping, made_backend) in config.mappings.iter().zip(made_backends) {
        if mapping.config.compose.is_some() {
            continue;
        }
        if let (Some(options), Some(operation)) = (&mapping.config.proxy, &proxy_operation) {
            let route = proxy_route(
                config,
                mapping,
                options,
                made_backend.as_ref(),
                operation.clone(),
                rest_connect,
                &compiled.pool,
                diags,
            );
            proxies.extend(route.map(|mut route| {
                let methods = [route.operation.method.clone()];
                let invoker = route.invoker.clone();
                let staged = staged(config, &security, &cors, mapping, invoker, &methods, diags);
                route.invoker = staged.invoker;
                let guard = staged.guards.methods([route.operation.method.full_name()]);
                let at = mapping.pos(&mapping.config.frontend);
                served.guards.insert(route.prefix.clone(), guard, at, diags);
                Arc::new(route)
            }));
            continue;
        }
        // Without a backend the routes are still checked, so that every problem is reported.
        let soap = made_backend.as_ref().and_then(|b| b.soap.clone());
        let is_soap = soap.is_some() || mapping_is_soap(config, mapping);
        let invoker = made_backend
            .as_ref()
            .map_or_else(unreachable_backend, |b| b.invoker.clone());
        let backend = &mapping.config.backend;
        let named_timeout = backend
            .use_name
            .as_ref()
            .and_then(|name| config.gateway.backends.get(name.as_str()))
            .and_then(|b| b.timeout);
        let backend_timeout = backend.timeout.or(named_timeout).map(|d| d.0);
        let http_base = made_backend.as_ref().and_then(|b| b.rest.as_ref());
        let openapi = http_base
            .and_then(|base| base.openapi.as_ref())
            .map(|(service, _)| service.as_str())
            .or_else(|| {
                // A GraphQL backend's imported schema serves mappings that name no services.
                http_base
                    .and_then(|base| base.graphql_schema.as_ref())
                    .filter(|_| {
                        mapping.config.services.is_empty() && mapping.config.schemas.is_empty()
                    })
                    .map(|(_, service, _)| service.as_str())
            });
        let Some(methods) =
            mapping_methods(mapping, &compiled, soap.as_ref(), is_soap, openapi, diags)
        else {
            continue;
        };
        let invoker = match made_backend.as_ref().and_then(|b| b.rest.as_ref()) {
            Some(base) if base.protocol == BackendProtocol::Graphql => {
                graphql_backend(rest_connect, base, mapping, &methods, diags)
                    .unwrap_or_else(unreachable_backend)
            }
            Some(base) => rest_backend(rest_connect, base, mapping, &methods, diags)
                .unwrap_or_else(unreachable_backend),
            None => invoker,
        };
        // The backend's own limit counts every call to it, compose steps' too.
        let named = backend.use_name.as_ref().and_then(|name| {
            let config = config.gateway.backends.get(name.as_str())?;
            Some((name.as_str(), config))
        });
        let invoker = match named {
            Some((name, backend)) => security.outbound(invoker, name, backend),
            None => invoker,
        };
        for method in &methods {
            callables
                .entry(method.full_name().to_owned())
                .or_insert_with(|| compose::Callable {
                    operation: Operation::new(method.clone()),
                    invoker: invoker.clone(),
                    request_plan: Plan::new(&method.input(), JsonOptions::default()),
                    response_plan: Plan::new(
                        &method.output(),
                        JsonOptions {
                            emit_defaults: true,
                            ..JsonOptions::default()
                        },
                    ),
                });
        }
        // Compose steps (above) call the backend itself; clients go through the stages.
        let staged = staged(config, &security, &cors, mapping, invoker, &methods, diags);
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
        served.add(config, mapping, &compiled, target, diags);
    }
    for mapping in &config.mappings {
        let Some(options) = &mapping.config.compose else {
            continue;
        };
        if let Some(mut target) =
            compose_target(mapping, options, &callables, &mut compiled.pool, diags)
        {
            let invoker = target.invoker.clone();
            let staged = staged(
                config,
                &security,
                &cors,
                mapping,
                invoker,
                &target.methods,
                diags,
            );
            target.invoker = staged.invoker;
            target.credential_query = staged.credential_query;
            target.guards = staged.guards;
            served.add(config, mapping, &compiled, target, diags);
        }
    }
    let Served {
        guards: served_guards,
        routes,
        matcher,
        graphql,
        grpc,
        soap,
    } = served;
    let graphql = graphql.finish(&compiled.pool, &matcher, diags);
    let grpc = (!grpc.is_empty()).then(|| {
        let targets = grpc
            .into_iter()
            .map(|(name, (target, _))| (name, target))
            .collect();
        GrpcFrontend::new(targets, &compiled.pool, max_body)
    });
    let soap = soap
        .into_values()
        .map(|(service, targets, _)| Arc::new(SoapEndpoint::new(service, targets, max_body)))
        .collect();
    Some(Gateway {
        listen: listen?,
        admin_listen,
        admin_token,
        graphql,
        grpc,
        soap,
        proxies,
        header_limits: (
            header_count_limit(config, diags),
            config.gateway.limits.max_header_bytes.0 as usize,
        ),
        listener: crate::server::Settings::new(
            &config.gateway.limits,
            &security.store.trusted_proxies,
        ),
        guards: served_guards,
        limits: security.store.clone(),
        injections: security.injections.clone(),
        cache_purge: security
            .purge_token
            .map(|token| (security.cache.clone(), token)),
        pool: compiled.pool.clone(),
        rest: Arc::new(RestFrontend::new(matcher, routes, compiled.pool, max_body)),
        warnings: Vec::new(),
        warnings_text: String::new(),
    })
}

/// A mapping's invoker in its stages (gateway.yaml's, its own, its routes'), and what its
/// frontend needs of them.
struct Staged {
    invoker: Invoker,
    /// Query parameters that carry credentials, not input fields.
    credential_query: Vec<String>,
    guards: MappingGuards,
}

fn staged(
    config: &LoadedConfig,
    security: &Security,
    cors: &CorsPolicies,
    mapping: &LoadedMapping,
    invoker: Invoker,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Staged {
    let settings = StageSettings::of(config, mapping);
    let routes = stages::routes(mapping, methods, diags);
    let (invoker, ip) = security.stages(invoker, mapping, settings, &routes, methods, diags);
    Staged {
        invoker,
        credential_query: security.credential_query(settings, &routes),
        guards: MappingGuards {
            ip,
            cors: cors.of_mapping(mapping, &routes, diags),
        },
    }
}

/// `limits.max_headers`, which cannot be above what hyper itself accepts.
fn header_count_limit(config: &LoadedConfig, diags: &mut Diagnostics) -> usize {
    let limit = &config.gateway.limits.max_headers;
    if limit.value > config::MOST_HEADERS {
        diags.push(Diagnostic::at(
            &config.pos(limit),
            format!(
                "`max_headers` can be at most {}: the HTTP/1.1 server refuses more headers itself",
                config::MOST_HEADERS
            ),
        ));
    }
    limit.value.min(config::MOST_HEADERS)
}

/// What the mappings' frontends serve, gathered mapping by mapping.
#[derive(Default)]
struct Served {
    /// The guards of the GraphQL, SOAP, gRPC and proxy paths.
    guards: PathGuards,
    routes: Vec<Arc<Route>>,
    matcher: Matcher,
    graphql: GraphqlEndpoints,
    grpc: HashMap<String, (GrpcTarget, Pos)>,
    soap: SoapServices,
}

impl Served {
    /// Serves a mapping's methods with its frontend.
    fn add(
        &mut self,
        config: &LoadedConfig,
        mapping: &LoadedMapping,
        compiled: &Compiled,
        target: MappingTarget,
        diags: &mut Diagnostics,
    ) {
        if mapping.config.frontend.value != FrontendProtocol::Graphql {
            if let Some(options) = &mapping.config.graphql {
                diags.push(Diagnostic::at(
                    &mapping.pos(&options.path),
                    "`graphql` options belong to a mapping with `frontend: graphql`",
                ));
            }
        }
        let at = mapping.pos(&mapping.config.frontend);
        match mapping.config.frontend.value {
            FrontendProtocol::Graphql => {
                let path = match &mapping.config.graphql {
                    Some(options) => options.path.value.clone(),
                    None => GraphqlOptions::default().path.value,
                };
                let guard = target
                    .guards
                    .methods(target.methods.iter().map(|m| m.full_name()));
                let schema_path = format!("{}/schema.graphql", path.trim_end_matches('/'));
                self.guards
                    .insert(schema_path, guard.clone(), at.clone(), diags);
                self.guards.insert(path, guard, at, diags);
                self.graphql.add(config, mapping, compiled, target, diags);
                return;
            }
            FrontendProtocol::Grpc => {
                for method in &target.methods {
                    let path =
                        format!("/{}/{}", method.parent_service().full_name(), method.name());
                    let guard = target.guards.method(method.full_name());
                    self.guards.insert(path, guard, at.clone(), diags);
                }
                grpc_methods(mapping, target, &mut self.grpc, diags);
                return;
            }
            FrontendProtocol::Soap => {
                let guard = target
                    .guards
                    .methods(target.methods.iter().map(|m| m.full_name()));
                for method in &target.methods {
                    let path = crate::frontend::soap::path_of(method.parent_service());
                    self.guards.insert(path, guard.clone(), at.clone(), diags);
                }
                soap_methods(mapping, target, &mut self.soap, diags);
                return;
            }
            FrontendProtocol::Rest => {}
        }
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

/// Stands in for a backend that could not be configured; the gateway is never built then.
fn unreachable_backend() -> Invoker {
    Invoker::new(tower::service_fn(|_: crate::call::Call| async {
        Err(crate::status::Status::unavailable(
            "the backend is not configured",
        ))
    }))
}

/// Makes backends; SOAP backends add their WSDL's service to the pool.
struct Made<'a, 'c> {
    pool: &'a mut DescriptorPool,
    connect: Connect<'c>,
    max_body: usize,
}

/// Whether a mapping's backend speaks SOAP (also when it could not be made).
fn mapping_is_soap(config: &LoadedConfig, mapping: &LoadedMapping) -> bool {
    let backend = &mapping.config.backend;
    let named = backend
        .use_name
        .as_ref()
        .and_then(|n| config.gateway.backends.get(n.as_str()))
        .map(|b| b.protocol.value);
    backend.protocol.as_ref().map(|p| p.value).or(named) == Some(BackendProtocol::Soap)
        || backend.soap.is_some()
}

impl Made<'_, '_> {
    /// A backend from its configuration; `file` and `dir` are those of the file it is written in.
    fn backend(
        &mut self,
        config: &LoadedConfig,
        file: &Arc<str>,
        dir: &Path,
        backend: &BackendConfig,
        diags: &mut Diagnostics,
    ) -> Option<MadeBackend> {
        let protocol_pos = config::pos_in(file, &backend.protocol);
        match (backend.protocol.value, &backend.soap) {
            (BackendProtocol::Soap, Some(soap)) => {
                return self.soap_backend(config, file, dir, backend, soap, diags)
            }
            (BackendProtocol::Soap, None) => {
                diags.push(Diagnostic::at(
                    &protocol_pos,
                    "a SOAP backend needs `soap: {wsdl: <path or URL>}`",
                ));
                return None;
            }
            (
                BackendProtocol::Grpc | BackendProtocol::Rest | BackendProtocol::Graphql,
                Some(soap),
            ) => {
                diags.push(Diagnostic::at(
                    &config::pos_in(file, &soap.wsdl),
                    "`soap` settings belong to a backend with `protocol: soap`",
                ));
                return None;
            }
            (protocol @ (BackendProtocol::Rest | BackendProtocol::Graphql), None) => {
                let Some(address) = &backend.address else {
                    diags.push(Diagnostic::at(
                        &protocol_pos,
                        "a REST backend needs an `address`",
                    ));
                    return None;
                };
                let base = checked_address(config, address, config::pos_in(file, address), diags)?;
                let tls = tls_settings(config, file, dir, backend, diags)?;
                // Each key belongs to one protocol.
                for (key, value, owner) in [
                    (
                        "graphql_schema",
                        &backend.graphql_schema,
                        BackendProtocol::Graphql,
                    ),
                    ("openapi", &backend.openapi, BackendProtocol::Rest),
                ] {
                    if let Some(value) = value.as_ref().filter(|_| protocol != owner) {
                        let owner = if owner == BackendProtocol::Rest {
                            "rest"
                        } else {
                            "graphql"
                        };
                        diags.push(Diagnostic::at(
                            &config::pos_in(file, value),
                            format!("`{key}` describes a backend with `protocol: {owner}`"),
                        ));
                        return None;
                    }
                }
                let graphql_schema = match &backend.graphql_schema {
                    Some(source) => {
                        Some(self.graphql_schema(config, file, dir, source, &base, diags)?)
                    }
                    None => None,
                };
                let openapi = match &backend.openapi {
                    Some(document) => Some(self.openapi(config, file, dir, document, diags)?),
                    None => None,
                };
                return Some(MadeBackend {
                    invoker: unreachable_backend(),
                    soap: None,
                    rest: Some(Arc::new(HttpBase {
                        protocol,
                        base: base.trim_end_matches('/').to_owned(),
                        tls,
                        connect_timeout: connect_timeout(backend),
                        openapi,
                        graphql_schema,
                    })),
                });
            }
            (BackendProtocol::Grpc, None) => {}
        }
        let Some(address) = &backend.address else {
            diags.push(Diagnostic::at(
                &protocol_pos,
                "a gRPC backend needs an `address`",
            ));
            return None;
        };
        let pos = config::pos_in(file, address);
        let address = checked_address(config, address, pos.clone(), diags)?;
        let tls = tls_settings(config, file, dir, backend, diags)?;
        let settings = GrpcSettings {
            address,
            tls,
            connect_timeout: connect_timeout(backend),
            connections: backend.connections,
        };
        self.connect(BackendSettings::Grpc(settings), &pos, None, diags)
    }

    fn connect(
        &mut self,
        settings: BackendSettings,
        pos: &Pos,
        soap: Option<(String, Arc<SoapService>)>,
        diags: &mut Diagnostics,
    ) -> Option<MadeBackend> {
        match (self.connect)(&settings) {
            Ok(invoker) => Some(MadeBackend {
                invoker,
                soap,
                rest: None,
            }),
            Err(why) => {
                diags.push(Diagnostic::at(pos, why));
                None
            }
        }
    }

    /// Imports the WSDL into the pool and makes the backend that calls its port.
    fn soap_backend(
        &mut self,
        config: &LoadedConfig,
        file: &Arc<str>,
        dir: &Path,
        backend: &BackendConfig,
        soap: &SoapConfig,
        diags: &mut Diagnostics,
    ) -> Option<MadeBackend> {
        let pos = |l: &Located<String>| config::pos_in(file, l);
        let wsdl_pos = pos(&soap.wsdl);
        let expanded = |l: &Option<Located<String>>, diags: &mut Diagnostics| match l {
            Some(l) => config::expand(l, pos(l), &config.vars, diags).map(Some),
            None => Some(None),
        };
        let wsdl = config::expand(&soap.wsdl, wsdl_pos.clone(), &config.vars, diags)?;
        let service_name = expanded(&soap.service, diags)?;
        let port_name = expanded(&soap.port, diags)?;
        let location = Location::Path(dir.join("gateway.yaml"))
            .join(&wsdl)
            .map_err(|e| diags.push(Diagnostic::at(&wsdl_pos, e)))
            .ok()?;
        let loaded = wsdl::load(&config.files, location.clone(), &wsdl_pos, diags)?;
        let package = match &soap.package {
            Some(p) => p.value.clone(),
            None => format!(
                "soap.{}",
                wsdl::build::sanitize(&location.stem()).to_ascii_lowercase()
            ),
        };
        let choice = Choice {
            package: &package,
            service: service_name.as_deref(),
            port: port_name.as_deref(),
            at: &wsdl_pos,
        };
        let built = match wsdl::build::build(&loaded, &choice) {
            Ok(built) => {
                for (at, message) in &built.warnings {
                    diags.warn(Diagnostic::at(at, message.clone()));
                }
                built
            }
            Err((at, message)) => {
                diags.push(Diagnostic::at(&at, message));
                return None;
            }
        };
        let file_name = built.file.name().to_owned();
        if self.pool.get_file_by_name(&file_name).is_some() {
            let at = soap.package.as_ref().map_or(wsdl_pos.clone(), pos);
            diags.push(Diagnostic::at(
                &at,
                format!(
                    "package `{package}` is already used by another SOAP backend; give this one                      its own `soap.package`"
                ),
            ));
            return None;
        }
        if let Err(e) = self.pool.add_file_descriptor_proto(built.file) {
            diags.push(Diagnostic::at(
                &wsdl_pos,
                format!("the WSDL's types cannot be registered: {e}"),
            ));
            return None;
        }
        let address = match (&backend.address, &built.address) {
            (Some(a), _) => checked_address(config, a, pos(a), diags)?,
            (None, Some(a)) if a.starts_with("http://") || a.starts_with("https://") => a.clone(),
            _ => {
                diags.push(Diagnostic::at(
                    &wsdl_pos,
                    "the WSDL's port has no http(s) soap:address; give the backend an `address`",
                ));
                return None;
            }
        };
        let mut headers = Vec::new();
        for header in &soap.headers {
            let text = config::expand(header, pos(header), &config.vars, diags)?;
            if let Err(e) = crate::xml::write::checked_fragment(&text) {
                diags.push(Diagnostic::at(&pos(header), e.to_string()));
                return None;
            }
            headers.push(text);
        }
        let secret = |l: &Located<String>, diags: &mut Diagnostics| {
            config::secret(l, pos(l), dir, &config.files, &config.vars, diags)
        };
        let ws_security = match &soap.ws_security {
            Some(ws) => Some(WsSecurity {
                username: config::expand(&ws.username, pos(&ws.username), &config.vars, diags)?,
                password: secret(&ws.password, diags)?,
                digest: ws.digest,
            }),
            None => None,
        };
        let basic_auth = match &soap.basic_auth {
            Some(basic) => Some((
                config::expand(&basic.username, pos(&basic.username), &config.vars, diags)?,
                secret(&basic.password, diags)?,
            )),
            None => None,
        };
        let mut fault_codes = HashMap::new();
        for (fault, code) in &soap.fault_codes {
            match crate::status::code_by_name(code) {
                Some(c) => {
                    fault_codes.insert(fault.clone(), c);
                }
                None => diags.push(Diagnostic::at(
                    &pos(code),
                    format!(
                        "`{}` is not a canonical code (one of {})",
                        code.value,
                        crate::status::CODE_NAMES.join(", ")
                    ),
                )),
            }
        }
        let tls = tls_settings(config, file, dir, backend, diags)?;
        let service = Arc::new(built.service);
        let settings = SoapSettings {
            address,
            service: service.clone(),
            pool: self.pool.clone(),
            headers,
            ws_security,
            basic_auth,
            fault_codes,
            tls,
            connect_timeout: connect_timeout(backend),
            max_response: self.max_body,
        };
        self.connect(
            BackendSettings::Soap(Arc::new(settings)),
            &wsdl_pos,
            Some((built.service_name, service)),
            diags,
        )
    }

    /// A GraphQL backend's schema (an SDL file or `introspection`), imported into the pool: its
    /// shape, the service it became, and the generated documents.
    fn graphql_schema(
        &mut self,
        config: &LoadedConfig,
        file: &Arc<str>,
        dir: &Path,
        source: &Located<String>,
        base: &str,
        diags: &mut Diagnostics,
    ) -> Option<(SchemaShape, String, Documents)> {
        let at = config::pos_in(file, source);
        let shape = if source.value == "introspection" {
            graphql_schema::introspect(base)
        } else {
            config
                .files
                .read_to_string(&dir.join(&source.value))
                .map_err(|e| format!("cannot read {}: {e}", source.value))
                .and_then(|text| SchemaShape::from_sdl(&text))
        };
        let shape = match shape {
            Ok(shape) => shape,
            Err(message) => {
                diags.push(Diagnostic::at(&at, message));
                return None;
            }
        };
        let package = format!(
            "graphql.{}",
            wsdl::build::sanitize(
                base.trim_end_matches('/')
                    .rsplit(['/', ':'])
                    .find(|s| !s.is_empty() && s.parse::<u16>().is_err())
                    .unwrap_or("api")
            )
            .to_ascii_lowercase()
        );
        let (imported, service, documents) = shape.import(&package);
        if self.pool.get_file_by_name(imported.name()).is_none() {
            if let Err(e) = crate::registry::add_imported(self.pool, imported) {
                diags.push(Diagnostic::at(
                    &at,
                    format!("the GraphQL schema's types cannot be registered: {e}"),
                ));
                return None;
            }
        }
        Some((shape, service, documents))
    }

    /// Imports an OpenAPI document into the pool: the service it became and the rules.
    fn openapi(
        &mut self,
        config: &LoadedConfig,
        file: &Arc<str>,
        dir: &Path,
        document: &Located<String>,
        diags: &mut Diagnostics,
    ) -> Option<(String, HashMap<String, ImportedRule>)> {
        let at = config::pos_in(file, document);
        let path = dir.join(&document.value);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let package = format!(
            "openapi.{}",
            wsdl::build::sanitize(&stem).to_ascii_lowercase()
        );
        let imported = match openapi::import(&config.files, &path, &package) {
            Ok(imported) => imported,
            Err(message) => {
                diags.push(Diagnostic::at(&at, message));
                return None;
            }
        };
        if self.pool.get_file_by_name(imported.file.name()).is_some() {
            // The same document behind two backends: one import serves both.
            return Some((imported.service_name, imported.rules));
        }
        if let Err(e) = crate::registry::add_imported(self.pool, imported.file) {
            diags.push(Diagnostic::at(
                &at,
                format!("the OpenAPI document's types cannot be registered: {e}"),
            ));
            return None;
        }
        Some((imported.service_name, imported.rules))
    }

    /// The backend a mapping calls: a named one, or one written in the mapping.
    fn mapping_backend(
        &mut self,
        config: &LoadedConfig,
        mapping: &LoadedMapping,
        named: &HashMap<&str, MadeBackend>,
        diags: &mut Diagnostics,
    ) -> Option<MadeBackend> {
        let backend = &mapping.config.backend;
        let inline_only = backend.protocol.is_some()
            || backend.tls.is_some()
            || backend.soap.is_some()
            || backend.openapi.is_some();
        match (&backend.use_name, &backend.address) {
            (Some(name), None) if inline_only => {
                diags.push(Diagnostic::at(
                    &mapping.pos(name),
                    "`protocol`, `tls`, `soap` and `openapi` belong to the backend in gateway.yaml, not beside `use`",
                ));
                None
            }
            (Some(name), None) => {
                let found = named.get(name.as_str()).cloned();
                if found.is_none() && !config.gateway.backends.contains_key(name.as_str()) {
                    let known: Vec<&str> =
                        config.gateway.backends.keys().map(String::as_str).collect();
                    diags.push(Diagnostic::at(
                        &mapping.pos(name),
                        format!(
                            "no backend named `{}` in {} (known: {})",
                            name.value,
                            config.gateway_file,
                            if known.is_empty() {
                                "none".into()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
                found
            }
            (None, address) if address.is_some() || backend.soap.is_some() => {
                // (An inline REST backend with `openapi` has an address too.)
                let protocol = backend.protocol.clone().unwrap_or_else(|| {
                    Located::unplaced(if backend.soap.is_some() {
                        BackendProtocol::Soap
                    } else {
                        BackendProtocol::Grpc
                    })
                });
                let inline = BackendConfig {
                    protocol,
                    address: address.clone(),
                    tls: backend.tls.clone(),
                    timeout: backend.timeout,
                    connect_timeout: None,
                    connections: BackendConfig::DEFAULT_CONNECTIONS,
                    rate_limit: None,
                    soap: backend.soap.clone(),
                    openapi: backend.openapi.clone(),
                    graphql_schema: None,
                };
                self.backend(config, &mapping.file, &mapping.dir, &inline, diags)
            }
            (Some(name), Some(_)) => {
                diags.push(Diagnostic::at(
                    &mapping.pos(name),
                    "a backend has either `use` or `address`, not both",
                ));
                None
            }
            (None, _) => {
                diags.push(Diagnostic::at(
                    &mapping.pos(&mapping.config.frontend),
                    "the backend needs `use: <name of a backend in gateway.yaml>`, an `address`, or `soap`",
                ));
                None
            }
        }
    }
}

/// The REST backend of one mapping: how each of its methods is called, from the mapping's
/// `backend.rules` or the method's annotation.
fn rest_backend(
    (connect, max_body): (Connect<'_>, usize),
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
            Err((at, message)) => diags.push(Diagnostic::at(&at, message)),
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
            Err(message) => diags.push(Diagnostic::at(
                &spec.origin,
                format!("{} ({}): {message}", method.full_name(), describe(&spec)),
            )),
        }
    }
    let settings = RestSettings {
        base: base.base.clone(),
        tls: base.tls.clone(),
        connect_timeout: base.connect_timeout,
        max_response: max_body,
        calls,
    };
    connect_mapping(
        connect,
        &BackendSettings::Rest(Arc::new(settings)),
        mapping,
        diags,
    )
}

/// The GraphQL backend of one mapping: the document each method sends.
fn graphql_backend(
    (connect, max_body): (Connect<'_>, usize),
    base: &HttpBase,
    mapping: &LoadedMapping,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    let mut calls = HashMap::new();
    for (selector, document) in &mapping.config.backend.documents {
        let at = mapping.pos(&document.query);
        let Some(method) = select_method(methods, selector, &at, diags) else {
            continue;
        };
        match GraphqlCall::new(
            method,
            &document.query.value,
            document.result.as_deref(),
            base.graphql_schema.as_ref().map(|(shape, ..)| shape),
        ) {
            Ok(call) => {
                calls.insert(method.full_name().to_owned(), call);
            }
            Err(message) => diags.push(Diagnostic::at(
                &at,
                format!("{}: {message}", method.full_name()),
            )),
        }
    }
    // The imported service's methods have generated documents.
    if let Some((shape, service, documents)) = &base.graphql_schema {
        for method in methods
            .iter()
            .filter(|m| m.parent_service().full_name() == service)
        {
            if calls.contains_key(method.full_name()) {
                continue;
            }
            if let Some((query, wrap)) = documents.get(method.name()) {
                match GraphqlCall::new(method, query, None, Some(shape)) {
                    Ok(mut call) => {
                        call.wrap = wrap.clone();
                        calls.insert(method.full_name().to_owned(), call);
                    }
                    Err(message) => diags.push(Diagnostic::at(
                        &mapping.pos(&mapping.config.frontend),
                        format!(
                            "{}: the generated document does not fit: {message}",
                            method.full_name()
                        ),
                    )),
                }
            }
        }
    }
    for method in methods {
        if !calls.contains_key(method.full_name()) {
            diags.warn(Diagnostic::at(
                &mapping.pos(&mapping.config.frontend),
                format!(
                    "{} has no document in `backend.documents`; calls to it are UNIMPLEMENTED",
                    method.full_name()
                ),
            ));
        }
    }
    let settings = GraphqlSettings {
        url: base.base.clone(),
        tls: base.tls.clone(),
        connect_timeout: base.connect_timeout,
        max_response: max_body,
        calls,
    };
    connect_mapping(
        connect,
        &BackendSettings::Graphql(Arc::new(settings)),
        mapping,
        diags,
    )
}

/// Reports a mapping's `schemas` or `services` where its schema comes from elsewhere (`why`);
/// whether there were any.
fn refuse_schema_lists(mapping: &LoadedMapping, why: &str, diags: &mut Diagnostics) -> bool {
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

/// Connects a mapping's own backend; a failure is reported at the mapping's `frontend`.
fn connect_mapping(
    connect: Connect<'_>,
    settings: &BackendSettings,
    mapping: &LoadedMapping,
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    connect(settings)
        .map_err(|why| diags.push(Diagnostic::at(&mapping.pos(&mapping.config.frontend), why)))
        .ok()
}

fn connect_timeout(backend: &BackendConfig) -> Duration {
    backend
        .connect_timeout
        .map_or(Duration::from_secs(5), |d| d.0)
}

fn checked_address(
    config: &LoadedConfig,
    address: &Located<String>,
    pos: Pos,
    diags: &mut Diagnostics,
) -> Option<String> {
    let address = config::expand(address, pos.clone(), &config.vars, diags)?;
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        diags.push(Diagnostic::at(
            &pos,
            "a backend address starts with http:// or https://",
        ));
        return None;
    }
    Some(address)
}

fn tls_settings(
    config: &LoadedConfig,
    file: &Arc<str>,
    dir: &Path,
    backend: &BackendConfig,
    diags: &mut Diagnostics,
) -> Option<Option<TlsSettings>> {
    let Some(tls) = &backend.tls else {
        return Some(None);
    };
    let ca_pem = match &tls.ca_file {
        None => None,
        Some(ca) => match config.files.read(&dir.join(&ca.value)) {
            Ok(pem) => Some(pem),
            Err(e) => {
                diags.push(Diagnostic::at(
                    &config::pos_in(file, ca),
                    format!("cannot read CA file `{}`: {e}", ca.value),
                ));
                return None;
            }
        },
    };
    Some(Some(TlsSettings {
        ca_pem,
        server_name: tls.server_name.clone(),
    }))
}

/// What a mapping's routes call.
struct MappingTarget {
    invoker: Invoker,
    backend_timeout: Option<Duration>,
    /// With a SOAP backend: the service its WSDL became, by full name.
    soap: Option<(String, Arc<SoapService>)>,
    is_soap: bool,
    /// The methods the mapping exposes.
    methods: Vec<MethodDescriptor>,
    /// HTTP rules the backend gives its methods, as annotations would (a composed endpoint's
    /// method and path), by method full name.
    backend_rules: Vec<(String, RuleSpec)>,
    /// Query parameters that carry credentials, not input fields.
    credential_query: Vec<String>,
    /// The IP rules and CORS policies of the methods.
    guards: MappingGuards,
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

    // Rules from the mapping file, by method.
    let mut overrides: HashMap<String, (RuleMode, Option<Duration>, Vec<RuleSpec>)> =
        HashMap::new();
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
        let Some(method) = select_method(&methods, selector, &pos(selector), diags) else {
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
            Err((at, message)) => diags.push(Diagnostic::at(&at, message)),
        }
    }

    let prefix = mapping
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
        });
    let mut plans = Plans {
        options: settings.json,
        built: HashMap::new(),
    };
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
                Err(message) => diags.push(Diagnostic::at(
                    &spec.origin,
                    format!("{} ({}): {message}", method.full_name(), describe(&spec)),
                )),
            }
        }
    }
    routes
}

/// The methods a mapping exposes: its services', or its SOAP backend's; `None` when the SOAP
/// backend could not be made (its problem is reported, and its methods cannot be checked).
fn mapping_methods(
    mapping: &LoadedMapping,
    compiled: &Compiled,
    soap: Option<&(String, Arc<SoapService>)>,
    is_soap: bool,
    openapi: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<Vec<MethodDescriptor>> {
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
            None => diags.push(Diagnostic::at(
                &mapping.pos(service),
                format!(
                    "no service `{}` in the mapping's schemas{}",
                    service.value,
                    suggest(pool, service)
                ),
            )),
        }
    }

    Some(methods)
}

/// The method a selector names: a full name, or a unique tail of one (`Service.Method`).
fn select_method<'m>(
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
            diags.push(Diagnostic::at(
                at,
                format!("selector `{selector}` names no method of the mapping's services"),
            ));
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

/// What the gRPC, SOAP and GraphQL frontends take from a mapping besides its methods: HTTP
/// `rules` are refused (they are for REST), and the forwarded headers and the deadline.
fn call_settings(
    mapping: &LoadedMapping,
    target: &MappingTarget,
    frontend: &str,
    diags: &mut Diagnostics,
) -> (Arc<[http::HeaderName]>, Option<Duration>) {
    if let Some(rule) = mapping.config.rules.first() {
        let at = rule
            .selector
            .as_ref()
            .map_or_else(|| mapping.pos(&mapping.config.frontend), |s| mapping.pos(s));
        diags.push(Diagnostic::at(
            &at,
            format!("HTTP `rules` are for REST mappings; a {frontend} mapping serves every method without them"),
        ));
    }
    if let Some(prefix) = &mapping.config.options.path_prefix {
        diags.push(Diagnostic::at(
            &mapping.pos(prefix),
            format!("`path_prefix` is for REST mappings; a {frontend} mapping has no routes"),
        ));
    }
    let settings = MappingSettings::new(&mapping.config.options, target.is_soap);
    let timeout = mapping
        .config
        .options
        .timeout
        .map(|d| d.0)
        .or(target.backend_timeout);
    (settings.forward_headers.into(), timeout)
}

/// Adds the methods of a `frontend: grpc` mapping to the gRPC frontend; a method served by two
/// mappings is an error.
fn grpc_methods(
    mapping: &LoadedMapping,
    target: MappingTarget,
    served: &mut HashMap<String, (GrpcTarget, Pos)>,
    diags: &mut Diagnostics,
) {
    let origin = mapping.pos(&mapping.config.frontend);
    let (forward_headers, timeout) = call_settings(mapping, &target, "gRPC", diags);
    for method in target.methods {
        let name = method.full_name().to_owned();
        if let Some((_, other)) = served.get(&name) {
            diags.push(
                Diagnostic::at(
                    &origin,
                    format!("{name} is already served over gRPC by another mapping"),
                )
                .with_related(Diagnostic::at(other, "the other mapping is here")),
            );
            continue;
        }
        let grpc_target = GrpcTarget {
            operation: Operation::new(method),
            invoker: target.invoker.clone(),
            timeout,
            forward_headers: forward_headers.clone(),
        };
        served.insert(name, (grpc_target, origin.clone()));
    }
}

/// The proxy of a `proxy` mapping: its path, its header changes, and the HTTP backend that
/// relays the requests.
#[allow(clippy::too_many_arguments)]
fn proxy_route(
    config: &LoadedConfig,
    mapping: &LoadedMapping,
    options: &config::ProxyOptions,
    backend: Option<&MadeBackend>,
    operation: Arc<Operation>,
    connect: (Connect<'_>, usize),
    pool: &DescriptorPool,
    diags: &mut Diagnostics,
) -> Option<ProxyRoute> {
    let at = mapping.pos(&options.path);
    let mut fine = true;
    if mapping.config.frontend.value != FrontendProtocol::Rest {
        diags.push(Diagnostic::at(
            &at,
            "`proxy` is for mappings with `frontend: rest`",
        ));
        fine = false;
    }
    if refuse_schema_lists(mapping, "a proxy relays requests as they are", diags) {
        fine = false;
    }
    if let Some(rule) = mapping.config.rules.first() {
        let where_ = rule
            .selector
            .as_ref()
            .map_or(at.clone(), |s| mapping.pos(s));
        diags.push(Diagnostic::at(
            &where_,
            "a proxy has no `rules`: it relays every request under its path",
        ));
        fine = false;
    }
    let path = options.path.value.trim_end_matches('/').to_owned();
    if !path.starts_with('/') || path.contains(['{', '}', '*', '?', '#']) {
        diags.push(Diagnostic::at(
            &at,
            format!(
                "`{}` is not a path prefix such as /shop",
                options.path.value
            ),
        ));
        fine = false;
    }
    let edits = |edits, diags: &mut Diagnostics| {
        crate::stages::transform::header_edits(&mapping.file, edits, &config.vars, diags)
    };
    let request_headers = edits(&options.request_headers, diags);
    let response_headers = edits(&options.response_headers, diags);
    let Some(base) = backend.and_then(|b| b.rest.as_ref()) else {
        if backend.is_some() {
            diags.push(Diagnostic::at(
                &at,
                "a proxy relays to an HTTP backend: `protocol: rest` or `graphql`",
            ));
        }
        return None;
    };
    let invoker = rest_backend(connect, base, mapping, &[], diags)?;
    fine.then(|| ProxyRoute {
        prefix: path,
        operation,
        invoker,
        timeout: mapping.config.options.timeout.map(|d| d.0),
        request_headers,
        response_headers,
        max_body: connect.1,
        pool: pool.clone(),
    })
}

/// The services of `frontend: soap` mappings by full name: the service, its operations by
/// name, and the mapping that serves it.
type SoapServices = HashMap<
    String,
    (
        prost_reflect::ServiceDescriptor,
        HashMap<String, SoapTarget>,
        Pos,
    ),
>;

/// Adds the services of a `frontend: soap` mapping; a service served by two mappings is an
/// error.
fn soap_methods(
    mapping: &LoadedMapping,
    target: MappingTarget,
    served: &mut SoapServices,
    diags: &mut Diagnostics,
) {
    let origin = mapping.pos(&mapping.config.frontend);
    let (forward_headers, timeout) = call_settings(mapping, &target, "SOAP", diags);
    let mut plans = Plans {
        options: JsonOptions::default(),
        built: HashMap::new(),
    };
    let mut responses = Plans {
        options: JsonOptions {
            emit_defaults: true,
            ..JsonOptions::default()
        },
        built: HashMap::new(),
    };
    for method in target.methods {
        if method.is_client_streaming() || method.is_server_streaming() {
            diags.warn(Diagnostic::at(
                &origin,
                format!(
                    "{} streams, which SOAP cannot; it is left out of the SOAP service",
                    method.full_name()
                ),
            ));
            continue;
        }
        let service = method.parent_service().clone();
        let entry = served
            .entry(service.full_name().to_owned())
            .or_insert_with(|| (service.clone(), HashMap::new(), origin.clone()));
        if entry.2 != origin {
            diags.push(
                Diagnostic::at(
                    &origin,
                    format!(
                        "{} is already served over SOAP by another mapping",
                        service.full_name()
                    ),
                )
                .with_related(Diagnostic::at(&entry.2, "the other mapping is here")),
            );
            return;
        }
        let soap_target = SoapTarget {
            operation: Operation::new(method.clone()),
            invoker: target.invoker.clone(),
            timeout,
            forward_headers: forward_headers.clone(),
            request_plan: plans.get(&method.input()),
            response_plan: responses.get(&method.output()),
        };
        entry.1.insert(method.name().to_owned(), soap_target);
    }
}

/// A join's method among the endpoint's, with its fields checked.
fn resolve_join(
    join: &PendingJoin,
    fields: &[RootField],
    diags: &mut Diagnostics,
) -> Option<graphql::Join> {
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
            graphql::JoinKind::Single { target, arguments }
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
            graphql::JoinKind::Batch {
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
    Some(graphql::Join {
        on: config.on.value.clone(),
        field: config.field.value.clone(),
        origin: join.at.clone(),
        kind,
    })
}

/// The root fields of the GraphQL mappings, by endpoint path.
#[derive(Default)]
struct GraphqlEndpoints {
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
    fn add(
        &mut self,
        config: &LoadedConfig,
        mapping: &LoadedMapping,
        compiled: &Compiled,
        target: MappingTarget,
        diags: &mut Diagnostics,
    ) {
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
        let mut fields = Vec::new();
        for method in methods {
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
                continue;
            }
            let (root, mask) = settings.remove(method.full_name()).unwrap_or_default();
            let root = match (root, graphql::default_root(&method)) {
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
                            continue;
                        }
                    }
                }
            };
            let name = format!(
                "{prefix}{}",
                graphql::schema::lower_camel_method(method.name())
            );
            let target = Target {
                operation: Operation::new(method.clone()),
                invoker: target.invoker.clone(),
                timeout,
                forward_headers: forward_headers.clone(),
                request_plan: Plan::new(&method.input(), JsonOptions::default()),
                response_plan: Plan::new(
                    &method.output(),
                    JsonOptions {
                        emit_defaults: true,
                        ..JsonOptions::default()
                    },
                ),
                field_mask,
            };
            fields.push(RootField {
                name,
                root,
                target: Arc::new(target),
                origin: declared,
            });
        }
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
        let max_request_size = options
            .max_request_size
            .map_or(config.gateway.limits.max_body_size.0, |s| s.0)
            as usize;
        let wanted = EndpointOptions {
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
        };
        let soap = target.soap.map(|(_, service)| service);
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
                soap: soap.into_iter().collect(),
                joins,
            }),
        }
    }

    /// Makes the schema of every endpoint.
    fn finish(
        self,
        pool: &DescriptorPool,
        rest: &Matcher,
        diags: &mut Diagnostics,
    ) -> Vec<Arc<graphql::Endpoint>> {
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
            let joins: Vec<graphql::Join> = pending
                .joins
                .iter()
                .filter_map(|join| resolve_join(join, &pending.fields, diags))
                .collect();
            match graphql::endpoint(pending.options, pending.fields, joins, pool, &xml) {
                Ok(endpoint) => endpoints.push(Arc::new(endpoint)),
                Err(problems) => {
                    for (at, message) in problems {
                        diags.push(Diagnostic::at(&at, message));
                    }
                }
            }
        }
        endpoints
    }
}

/// A composed endpoint as a method of its own: its steps' methods among the gateway's, its
/// expressions compiled and typed, each step after the steps it reads; the service it becomes
/// is added to the pool.
fn compose_target(
    mapping: &LoadedMapping,
    options: &config::ComposeOptions,
    callables: &compose::Callables,
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
    let template = match template::parse(&options.path.value) {
        Ok(template) => Some(template),
        Err(e) => {
            checker.fail(&options.path, format!("invalid path template: {e}"));
            None
        }
    };
    let mut path = Vec::new();
    for variable in template.iter().flat_map(|t| &t.variables) {
        match variable.field_path.as_slice() {
            [name] => path.push(name.clone()),
            _ => checker.fail(
                &options.path,
                "a composed endpoint's path variables are plain names (`{id}`)".into(),
            ),
        }
    }
    let mut steps = Vec::new();
    let mut step_shapes = Vec::new();
    for step in &options.steps {
        if let Some((checked, shape)) = checker.step(step, callables) {
            steps.push(checked);
            step_shapes.push((step.name.value.clone(), shape));
        }
    }
    let context = Shape::Object(vec![
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
    ]);
    let mut response = Vec::new();
    let mut shapes = Vec::new();
    for (key, text) in &options.response {
        if let Some(expression) = checker.expression(text, false) {
            shapes.push((
                key.clone(),
                compose_schema::infer(expression.as_ast(), &context),
            ));
            response.push((key.clone(), expression));
        }
    }
    checker.check_order(&options.steps);
    let http_method =
        match http::Method::from_bytes(options.method.value.to_ascii_uppercase().as_bytes()) {
            Ok(method) => method,
            Err(_) => {
                checker.fail(&options.method, "not an HTTP method".into());
                return None;
            }
        };
    if checker.body && matches!(http_method, http::Method::GET | http::Method::DELETE) {
        checker.fail(
            &options.method,
            format!("the expressions read `body`, which a {http_method} request does not have"),
        );
    }
    let (service, operation) = compose_names(mapping, options, template.as_ref(), &http_method);
    for (name, at) in [
        (&service, options.service.as_ref()),
        (&operation, options.operation.as_ref()),
    ] {
        if !name.split('.').all(is_identifier) {
            let at = at.unwrap_or(&options.path);
            checker.fail(at, format!("`{name}` is not a protobuf name"));
        }
    }
    let ComposeChecker {
        query, body, fine, ..
    } = checker;
    if !fine {
        return None;
    }
    let (package, service_name) = service.rsplit_once('.')?;
    let inputs = path
        .iter()
        .map(|name| (name.clone(), false))
        .chain(
            query
                .into_iter()
                .filter(|q| !path.contains(q))
                .map(|q| (q, true)),
        )
        .collect();
    let file = compose_schema::file(&compose_schema::Signature {
        file: &format!("compose/{service}.proto"),
        package,
        service: service_name,
        method: &operation,
        inputs,
        body,
        response: shapes,
    });
    if pool
        .get_message_by_name(compose_schema::STEP_ERROR)
        .is_none()
    {
        crate::registry::add_imported(pool, compose_schema::step_error_file()).ok()?;
    }
    if let Err(e) = crate::registry::add_imported(pool, file) {
        let at = options.service.as_ref().unwrap_or(&options.path);
        diags.push(Diagnostic::at(
            &mapping.pos(at),
            format!("cannot define the service `{service}`: {e}"),
        ));
        return None;
    }
    let method = pool.get_service_by_name(&service)?.methods().next()?;
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
    fn fail(&mut self, at: &Located<String>, message: String) {
        self.diags
            .push(Diagnostic::at(&self.mapping.pos(at), message));
        self.fine = false;
    }

    /// Compiles an expression and checks what it reads (`item` only in a fan-out's inputs).
    fn expression(&mut self, text: &Located<String>, item: bool) -> Option<compose::Expression> {
        let expression = match jmespath::compile(&text.value) {
            Ok(expression) => expression,
            Err(e) => {
                self.fail(text, format!("not a JMESPath expression: {e}"));
                return None;
            }
        };
        for (root, member) in compose_schema::roots(expression.as_ast()) {
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
    fn step(
        &mut self,
        step: &config::ComposeStep,
        callables: &compose::Callables,
    ) -> Option<(compose::Step, Shape)> {
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
        let checked = compose::Step {
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
        callable: &compose::Callable,
    ) -> Option<(compose::Batch, MessageDescriptor)> {
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
        let checked = compose::Batch {
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
            .flat_map(|e| compose_schema::roots(e.as_ast()))
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

/// JSON plans of one mapping, one per message type, shared by its routes.
struct Plans {
    options: JsonOptions,
    built: HashMap<String, Arc<Plan>>,
}

impl Plans {
    fn get(&mut self, desc: &MessageDescriptor) -> Arc<Plan> {
        let options = self.options;
        self.built
            .entry(desc.full_name().to_owned())
            .or_insert_with(|| Plan::new(desc, options))
            .clone()
    }
}

fn describe(spec: &RuleSpec) -> String {
    format!("{} {}", spec.method, spec.path)
}

/// " (did you mean `x`?)" when a service with the same short name exists.
fn suggest(pool: &DescriptorPool, name: &str) -> String {
    let short = name.rsplit('.').next().unwrap_or(name);
    pool.services()
        .find(|s| s.name() == short)
        .map(|s| format!(" (did you mean `{}`?)", s.full_name()))
        .unwrap_or_default()
}

impl Gateway {
    /// Every frontend in one router: the GraphQL endpoints at their paths, REST for the rest.
    /// Each path is guarded by its own IP gate and CORS policy.
    pub fn app(&self) -> axum::Router {
        let mut app = axum::Router::new();
        let guards = &self.guards;
        // A handler for a fixed path, behind its guard.
        let guarded_route = |front: Front, path: &str, serve: Handler| {
            let guard = guards.at(path).unwrap_or(&guards.unserved).clone();
            if guard.ip.is_none() && guard.cors.is_none() {
                return axum::routing::any(move |request| serve(request));
            }
            let pool = self.pool.clone();
            axum::routing::any(move |request: http::Request<axum::body::Body>| {
                let (guard, pool, serve) = (guard.clone(), pool.clone(), serve.clone());
                async move { guarded(front, &guard, &pool, request, serve).await }
            })
        };
        for endpoint in &self.graphql {
            let path = endpoint.options.path.clone();
            let schema_path = format!("{}/schema.graphql", path.trim_end_matches('/'));
            let (sdl, served) = (endpoint.clone(), endpoint.clone());
            let serve = handler(move |request| served.clone().handle(request));
            let schema = handler(move |_| std::future::ready(sdl.serve_sdl()));
            let schema = only(http::Method::GET, schema);
            app = app
                .route(&path, guarded_route(Front::Graphql, &path, serve))
                .route(
                    &schema_path,
                    guarded_route(Front::Graphql, &schema_path, schema),
                );
        }
        if let Some(token) = self.admin_token {
            let pool = self.pool.clone();
            let metrics = self.metrics_endpoint();
            let metrics = handler(move |request: http::Request<axum::body::Body>| {
                let (metrics, pool) = (metrics.clone(), pool.clone());
                async move {
                    match unauthorized(request.headers(), &token, &pool) {
                        None => metrics(request).await,
                        Some(refusal) => refusal,
                    }
                }
            });
            app = app.route(
                METRICS_PATH,
                guarded_route(Front::Rest, METRICS_PATH, metrics),
            );
        }
        if let Some(purge) = self.purge_endpoint() {
            app = app.route(PURGE_PATH, guarded_route(Front::Rest, PURGE_PATH, purge));
        }
        for proxy in &self.proxies {
            let served = proxy.clone();
            let serve = handler(move |request| served.clone().handle(request));
            let route = guarded_route(Front::Rest, &proxy.prefix, serve);
            app = app
                .route(&proxy.prefix, route.clone())
                .route(&format!("{}/{{*rest}}", proxy.prefix), route);
        }
        for endpoint in &self.soap {
            let served = endpoint.clone();
            let serve = handler(move |request| served.clone().handle(request));
            let route = guarded_route(Front::Soap, &endpoint.path, serve);
            app = app.route(&endpoint.path, route);
        }
        let (rest, grpc, guards) = (self.rest.clone(), self.grpc.clone(), self.guards.clone());
        let pool = self.pool.clone();
        let app = app.fallback(move |request: http::Request<axum::body::Body>| {
            let guard =
                (guards.used).then(|| fallback_guard(&request, &rest, grpc.is_some(), &guards));
            let (rest, grpc, pool) = (rest.clone(), grpc.clone(), pool.clone());
            async move {
                let Some((front, guard)) = guard else {
                    return serve_fallback(rest, grpc, request).await;
                };
                let serve =
                    handler(move |request| serve_fallback(rest.clone(), grpc.clone(), request));
                guarded(front, &guard, &pool, request, serve).await
            }
        });
        let (max_headers, max_header_bytes) = self.header_limits;
        let pool = self.pool.clone();
        app.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let pool = pool.clone();
                async move {
                let count = request.headers().len();
                let bytes: usize = request
                    .headers()
                    .iter()
                    .map(|(name, value)| name.as_str().len() + value.len())
                    .sum();
                if count > max_headers || bytes > max_header_bytes {
                    let status = crate::status::Status::invalid_argument(format!(
                        "the request's headers are too many or too large (at most {max_headers} headers, {max_header_bytes} bytes)"
                    ))
                    .with_http(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
                    return crate::frontend::rest::response::error(&status, &pool);
                }
                next.run(request).await
                }
            },
        ))
        .layer(crate::stages::access_log::layer(self.limits.clone()))
    }
}

const METRICS_PATH: &str = "/_rosetta/metrics";
const PURGE_PATH: &str = "/_rosetta/cache/purge";

impl Gateway {
    /// The admin endpoints alone, for the admin listener: the metrics without a token, the
    /// purge endpoint behind its own.
    pub fn admin_app(&self) -> axum::Router {
        let route = |serve: Handler| axum::routing::any(move |request| serve(request));
        let mut app = axum::Router::new().route(METRICS_PATH, route(self.metrics_endpoint()));
        if let Some(purge) = self.purge_endpoint() {
            app = app.route(PURGE_PATH, route(purge));
        }
        let pool = self.pool.clone();
        app.fallback(move || {
            let status = crate::status::Status::not_found("no admin endpoint at this path");
            std::future::ready(crate::frontend::rest::response::error(&status, &pool))
        })
    }

    /// `GET /_rosetta/metrics`: the Prometheus text.
    fn metrics_endpoint(&self) -> Handler {
        let (limits, injections) = (self.limits.clone(), self.injections.clone());
        let metrics = handler(move |_| {
            let text = limits.metrics() + &injections.metrics();
            let content_type = [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")];
            std::future::ready((content_type, text).into_response())
        });
        only(http::Method::GET, metrics)
    }

    /// `POST /_rosetta/cache/purge`, when gateway.yaml gives it a token.
    fn purge_endpoint(&self) -> Option<Handler> {
        let (store, token) = self.cache_purge.clone()?;
        let pool = self.pool.clone();
        let purge =
            handler(move |request| purge_endpoint(store.clone(), token, pool.clone(), request));
        Some(only(http::Method::POST, purge))
    }
}

/// The 401 to answer unless the request carries `Authorization: Bearer <token>` for the token
/// whose SHA-256 is `token` (compared in constant time).
fn unauthorized(
    headers: &http::HeaderMap,
    token: &[u8; 32],
    pool: &DescriptorPool,
) -> Option<axum::response::Response> {
    use subtle::ConstantTimeEq;
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| crate::stages::auth::digest(t.trim().as_bytes()));
    if presented.is_some_and(|p| bool::from(p.ct_eq(token))) {
        return None;
    }
    let status = crate::status::Status::unauthenticated("a bearer token is required").with_header(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer realm=\"rosetta\""),
    );
    Some(crate::frontend::rest::response::error(&status, pool))
}

/// `POST /_rosetta/cache/purge[?method=<full name>][&key=<key>]` with `Authorization: Bearer
/// <token>`: forgets entries, in memory and in Redis. 204, or an error in the REST shape.
async fn purge_endpoint(
    store: Arc<crate::stages::cache::Store>,
    token: [u8; 32],
    pool: DescriptorPool,
    request: http::Request<axum::body::Body>,
) -> axum::response::Response {
    use crate::status::Status;
    let error = |status: Status| crate::frontend::rest::response::error(&status, &pool);
    if let Some(refusal) = unauthorized(request.headers(), &token, &pool) {
        return refusal;
    }
    let query: HashMap<String, String> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let purged = store
        .purge(
            query.get("method").map(String::as_str),
            query.get("key").map(String::as_str),
        )
        .await;
    match purged {
        Ok(()) => http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(Status::unavailable(format!("cannot purge: {e}"))),
    }
}

/// A request no fixed path serves: a gRPC call, or REST.
async fn serve_fallback(
    rest: Arc<RestFrontend>,
    grpc: Option<GrpcFrontend>,
    request: http::Request<axum::body::Body>,
) -> axum::response::Response {
    match grpc.filter(|_| GrpcFrontend::accepts(&request)) {
        Some(grpc) => grpc.handle(request).await,
        None => rest.handle(request).await,
    }
}

/// Which frontend a path belongs to: how a client its IP gate refuses is answered.
#[derive(Clone, Copy)]
enum Front {
    Rest,
    Grpc,
    Graphql,
    Soap,
}

/// What serves a request: a frontend's handler, shared by the requests of its path.
type Handler = Arc<
    dyn Fn(
            http::Request<axum::body::Body>,
        ) -> futures::future::BoxFuture<'static, axum::response::Response>
        + Send
        + Sync,
>;

fn handler<F, Fut>(serve: F) -> Handler
where
    F: Fn(http::Request<axum::body::Body>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    Arc::new(move |request| Box::pin(serve(request)))
}

/// A handler for requests of `method` only (GET also answers HEAD); others get 405.
fn only(method: http::Method, serve: Handler) -> Handler {
    let allow = if method == http::Method::GET {
        http::HeaderValue::from_static("GET,HEAD")
    } else {
        http::HeaderValue::from_str(method.as_str())
            .unwrap_or(http::HeaderValue::from_static("POST"))
    };
    handler(move |request| {
        let asked = request.method();
        let allowed =
            asked == method || (method == http::Method::GET && asked == http::Method::HEAD);
        let answer = allowed.then(|| serve(request));
        let allow = allow.clone();
        async move {
            match answer {
                Some(answer) => answer.await,
                None => {
                    let mut response = http::StatusCode::METHOD_NOT_ALLOWED.into_response();
                    response.headers_mut().insert(http::header::ALLOW, allow);
                    response
                }
            }
        }
    })
}

/// Serves `request` behind `guard`, in the order of conventions section 7: a client the IP
/// gate refuses is answered at once (its body unread, no CORS), then CORS, then `serve`.
async fn guarded(
    front: Front,
    guard: &Guard,
    pool: &DescriptorPool,
    request: http::Request<axum::body::Body>,
    serve: Handler,
) -> axum::response::Response {
    if let Some(gate) = &guard.ip {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        if gate.refuses(peer, request.headers()) {
            let status = crate::stages::ip_rules::refusal();
            let headers = request.headers();
            // A browser's preflight is answered in HTTP's terms, whatever the frontend.
            let preflight = request.method() == http::Method::OPTIONS;
            return match if preflight { Front::Rest } else { front } {
                Front::Rest => crate::frontend::rest::response::error(&status, pool),
                Front::Grpc => crate::frontend::grpc::refusal(&status, headers),
                Front::Graphql => crate::frontend::graphql::refusal(&status, headers, pool),
                Front::Soap => crate::frontend::soap::refusal(&status, headers),
            };
        }
    }
    match &guard.cors {
        None => serve(request).await,
        Some(policy) => {
            use tower::{Layer, ServiceExt};
            let service = tower::service_fn(move |request| {
                let answer = serve(request);
                async move { Ok::<_, std::convert::Infallible>(answer.await) }
            });
            match policy.layer.layer(service).oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }
}

/// The guard of a request that no fixed path serves: its gRPC method's, its REST route's, or
/// the one of unserved paths. A preflight is matched by the method it asks for.
fn fallback_guard(
    request: &http::Request<axum::body::Body>,
    rest: &RestFrontend,
    serves_grpc: bool,
    guards: &PathGuards,
) -> (Front, Arc<Guard>) {
    let path = request.uri().path();
    let asked = request
        .headers()
        .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        .filter(|_| request.method() == http::Method::OPTIONS)
        .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok());
    let grpc_call = serves_grpc && (asked.is_some() || GrpcFrontend::accepts(request));
    if let Some(guard) = guards.at(path).filter(|_| grpc_call) {
        return (Front::Grpc, guard.clone());
    }
    match rest.route_for(asked.as_ref().unwrap_or(request.method()), path) {
        Some(route) => (Front::Rest, route.guard.clone()),
        None => (Front::Rest, guards.unserved.clone()),
    }
}

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn serve(
    gateway: &Gateway,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_live(Arc::new(Live::new(gateway)), listener, shutdown).await
}

/// The gateway being served, replaced whole on reload: requests already running finish on the
/// gateway they started on. The listener's limits are those it started with.
pub struct Live {
    app: std::sync::RwLock<axum::Router>,
    admin: std::sync::RwLock<axum::Router>,
    listener: crate::server::Settings,
}

impl Live {
    pub fn new(gateway: &Gateway) -> Self {
        Live {
            app: std::sync::RwLock::new(gateway.app()),
            admin: std::sync::RwLock::new(gateway.admin_app()),
            listener: gateway.listener.clone(),
        }
    }

    /// Serves `gateway` from now on (a reload: new routes, new GraphQL schemas).
    pub fn replace(&self, gateway: &Gateway) {
        for (lock, app) in [
            (&self.app, gateway.app()),
            (&self.admin, gateway.admin_app()),
        ] {
            if let Ok(mut current) = lock.write() {
                *current = app;
            }
        }
    }

    /// Serves the admin endpoints of whatever gateway `live` holds on `listener`.
    pub async fn serve_admin(
        live: Arc<Live>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let settings = live.listener.clone();
        crate::server::serve(Arc::new(AdminApp(live)), listener, settings, shutdown).await
    }
}

fn read(lock: &std::sync::RwLock<axum::Router>) -> axum::Router {
    match lock.read() {
        Ok(app) => app.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

impl crate::server::App for Live {
    fn current(&self) -> axum::Router {
        read(&self.app)
    }
}

/// The admin endpoints of the gateway being served.
struct AdminApp(Arc<Live>);

impl crate::server::App for AdminApp {
    fn current(&self) -> axum::Router {
        read(&self.0.admin)
    }
}

/// Serves whatever gateway `live` holds on `listener` until `shutdown` completes.
pub async fn serve_live(
    live: Arc<Live>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = live.listener.clone();
    crate::server::serve(live, listener, settings, shutdown).await
}

/// A place for things that come from no file (tests, generated configuration).
pub fn unplaced(what: &str) -> crate::config::Pos {
    crate::config::Pos {
        file: what.into(),
        line: 1,
        column: 1,
    }
}
