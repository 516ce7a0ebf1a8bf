//! Assembling a running gateway from loaded configuration: schemas into the registry, backends,
//! and the routes of every mapping. Every problem is reported, with its place, before anything
//! starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};

use crate::backend::grpc::{GrpcBackend, GrpcSettings, TlsSettings};
use crate::call::Invoker;
use crate::config::{
    self, BackendConfig, Diagnostic, Diagnostics, Files, LoadedConfig, LoadedMapping, RuleMode,
    Vars,
};
use crate::frontend::rest::matcher::Matcher;
use crate::frontend::rest::route::{self, MappingSettings, Route, RuleSpec};
use crate::frontend::rest::RestFrontend;
use crate::protojson::{JsonOptions, Plan};
use crate::registry::proto::{self, Compiled, SchemaRequest};
use crate::registry::{declared_at, Operation};

/// A gateway ready to serve.
pub struct Gateway {
    pub listen: SocketAddr,
    pub pool: DescriptorPool,
    pub rest: Arc<RestFrontend>,
}

/// Loads `gateway.yaml` at `path` with everything it names and builds the gateway.
pub fn load(files: Files, path: &Path, vars: Vars) -> Result<Gateway, Diagnostics> {
    load_with(files, path, vars, &connect_grpc)
}

/// Makes the invoker of a gRPC backend from its checked settings.
pub type Connect<'a> = &'a dyn Fn(&GrpcSettings) -> Result<Invoker, String>;

/// Connects to real gRPC backends (lazily: nothing is dialled until the first call).
pub fn connect_grpc(settings: &GrpcSettings) -> Result<Invoker, String> {
    GrpcBackend::new(settings).map(GrpcBackend::into_invoker)
}

/// Like [`load`], with backends made by `connect` (the dry run of `rosetta transcode` records
/// calls instead of making them).
pub fn load_with(
    files: Files,
    path: &Path,
    vars: Vars,
    connect: Connect<'_>,
) -> Result<Gateway, Diagnostics> {
    let mut diags = Diagnostics::default();
    let gateway = config::load(files, path, vars, &mut diags)
        .and_then(|loaded| build(&loaded, connect, &mut diags));
    match gateway {
        Some(gateway) if diags.is_empty() => Ok(gateway),
        _ => Err(diags),
    }
}

/// Builds the gateway; `None` (with diagnostics) when anything is wrong.
pub fn build(
    config: &LoadedConfig,
    connect: Connect<'_>,
    diags: &mut Diagnostics,
) -> Option<Gateway> {
    let listen = match config.gateway.listen.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            diags.push(Diagnostic::at(
                &config.pos(&config.gateway.listen),
                format!(
                    "`{}` is not an address and port such as 127.0.0.1:8080",
                    config.gateway.listen.value
                ),
            ));
            None
        }
    };
    let named: HashMap<&str, Invoker> = config
        .gateway
        .backends
        .iter()
        .filter_map(|(name, backend)| {
            let invoker = make_backend(
                config,
                &config.gateway_file,
                &config.base_dir,
                backend,
                connect,
                diags,
            )?;
            Some((name.as_str(), invoker))
        })
        .collect();

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
    let compiled = proto::compile(&config.files, includes, &requests, diags)?;

    let mut routes: Vec<Arc<Route>> = Vec::new();
    let mut matcher = Matcher::default();
    for mapping in &config.mappings {
        // Without a backend the routes are still checked, so that every problem is reported.
        let invoker = mapping_backend(config, mapping, &named, connect, diags)
            .unwrap_or_else(unreachable_backend);
        let backend = &mapping.config.backend;
        let named_timeout = backend
            .use_name
            .as_ref()
            .and_then(|name| config.gateway.backends.get(name.as_str()))
            .and_then(|b| b.timeout);
        let backend_timeout = backend.timeout.or(named_timeout).map(|d| d.0);
        for spec in mapping_routes(mapping, &compiled, invoker, backend_timeout, diags) {
            let index = routes.len();
            if let Err(existing) = matcher.insert(&spec.http_method, &spec.template, index) {
                let other = &routes[existing];
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
            routes.push(Arc::new(spec));
        }
    }
    let max_body = config.gateway.limits.max_body_size.0 as usize;
    Some(Gateway {
        listen: listen?,
        pool: compiled.pool.clone(),
        rest: Arc::new(RestFrontend::new(matcher, routes, compiled.pool, max_body)),
    })
}

/// Stands in for a backend that could not be configured; the gateway is never built then.
fn unreachable_backend() -> Invoker {
    Invoker::new(tower::service_fn(|_: crate::call::Call| async {
        Err(crate::status::Status::unavailable(
            "the backend is not configured",
        ))
    }))
}

/// A backend from its configuration; `file` and `dir` are those of the file it is written in.
fn make_backend(
    config: &LoadedConfig,
    file: &Arc<str>,
    dir: &Path,
    backend: &BackendConfig,
    connect: Connect<'_>,
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    let address = &backend.address;
    let pos = config::pos_in(file, address);
    let address = config::expand(address, pos.clone(), &config.vars, diags)?;
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        diags.push(Diagnostic::at(
            &pos,
            "a backend address starts with http:// or https://",
        ));
        return None;
    }
    let tls = match &backend.tls {
        None => None,
        Some(tls) => {
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
            Some(TlsSettings {
                ca_pem,
                server_name: tls.server_name.clone(),
            })
        }
    };
    let settings = GrpcSettings {
        address,
        tls,
        connect_timeout: backend
            .connect_timeout
            .map_or(Duration::from_secs(5), |d| d.0),
        connections: backend.connections,
    };
    match connect(&settings) {
        Ok(invoker) => Some(invoker),
        Err(why) => {
            diags.push(Diagnostic::at(&pos, why));
            None
        }
    }
}

/// The backend a mapping calls: a named one, or one written in the mapping.
fn mapping_backend(
    config: &LoadedConfig,
    mapping: &LoadedMapping,
    named: &HashMap<&str, Invoker>,
    connect: Connect<'_>,
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    let backend = &mapping.config.backend;
    match (&backend.use_name, &backend.address) {
        (Some(name), None) if backend.protocol.is_some() || backend.tls.is_some() => {
            diags.push(Diagnostic::at(
                &mapping.pos(name),
                "`protocol` and `tls` belong to the backend in gateway.yaml, not beside `use`",
            ));
            None
        }
        (Some(name), None) => {
            let found = named.get(name.as_str()).cloned();
            if found.is_none() && !config.gateway.backends.contains_key(name.as_str()) {
                let known: Vec<&str> = config.gateway.backends.keys().map(String::as_str).collect();
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
        (None, Some(address)) => {
            let inline = BackendConfig {
                protocol: backend
                    .protocol
                    .clone()
                    .unwrap_or_else(|| config::Located::unplaced(config::BackendProtocol::Grpc)),
                address: address.clone(),
                tls: backend.tls.clone(),
                timeout: backend.timeout,
                connect_timeout: None,
                connections: BackendConfig::DEFAULT_CONNECTIONS,
            };
            make_backend(config, &mapping.file, &mapping.dir, &inline, connect, diags)
        }
        (Some(name), Some(_)) => {
            diags.push(Diagnostic::at(
                &mapping.pos(name),
                "a backend has either `use` or `address`, not both",
            ));
            None
        }
        (None, None) => {
            diags.push(Diagnostic::at(
                &mapping.pos(&mapping.config.frontend),
                "the backend needs `use: <name of a backend in gateway.yaml>` or an `address`",
            ));
            None
        }
    }
}

/// The routes of one mapping: for each method of its services, the mapping's rules, the
/// method's annotation (unless a rule replaces it), or the automatic route.
fn mapping_routes(
    mapping: &LoadedMapping,
    compiled: &Compiled,
    invoker: Invoker,
    backend_timeout: Option<Duration>,
    diags: &mut Diagnostics,
) -> Vec<Route> {
    let settings = Arc::new(MappingSettings::new(&mapping.config.options));
    let pool = &compiled.pool;
    let mut methods: Vec<MethodDescriptor> = Vec::new();
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
        if !methods.iter().any(|m| m.full_name() == selector.as_str()) {
            diags.push(Diagnostic::at(
                &pos(selector),
                format!(
                    "selector `{}` names no method of the mapping's services",
                    selector.value
                ),
            ));
            continue;
        }
        match route::config_rules(rule, &pos(selector), &pos) {
            Ok(specs) => {
                let entry = overrides.entry(selector.value.clone()).or_insert((
                    RuleMode::Add,
                    None,
                    Vec::new(),
                ));
                if rule.mode.unwrap_or_default() == RuleMode::Replace {
                    entry.0 = RuleMode::Replace;
                }
                entry.1 = rule.timeout.map(|d| d.0).or(entry.1);
                entry.2.extend(specs);
            }
            Err((at, message)) => diags.push(Diagnostic::at(&at, message)),
        }
    }

    let mut plans = Plans {
        options: settings.json,
        built: HashMap::new(),
    };
    let mut routes = Vec::new();
    for method in methods {
        let declared = declared_at(&method, &compiled.shown_name(method.parent_file().name()));
        let (mode, timeout, mut specs) =
            overrides
                .remove(method.full_name())
                .unwrap_or((RuleMode::Add, None, Vec::new()));
        if mode == RuleMode::Add {
            specs.splice(0..0, route::annotation_rules(&method, &declared));
        }
        if specs.is_empty() && mapping.config.options.auto_routes {
            specs.push(route::auto_rule(&method, &declared));
        }
        let operation = Operation::new(method.clone());
        let request_plan = plans.get(&method.input());
        let response_plan = plans.get(&method.output());
        let timeout = timeout
            .or(mapping.config.options.timeout.map(|d| d.0))
            .or(backend_timeout);
        for spec in specs {
            match route::resolve(&spec, &method) {
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
                    origin: spec.origin.clone(),
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

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn serve(
    gateway: &Gateway,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let rest = gateway.rest.clone();
    let app = axum::Router::new().fallback(move |request: http::Request<axum::body::Body>| {
        let rest = rest.clone();
        async move { rest.handle(request).await }
    });
    // Small responses must leave at once, not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A place for things that come from no file (tests, generated configuration).
pub fn unplaced(what: &str) -> crate::config::Pos {
    crate::config::Pos {
        file: what.into(),
        line: 1,
        column: 1,
    }
}
