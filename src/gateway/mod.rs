//! Assembling a running gateway from loaded configuration: schemas into the registry, backends
//! from their builders (`backend::build::PROTOCOLS`), every mapping's methods through the stage
//! chain (`stages::Security::stages`) and onto its frontend (`frontend::Served`). Every problem
//! is reported, with its place, before anything starts.

mod app;
mod assembly;
mod probe;
mod progress;

pub use crate::backend::{connect, BackendSettings, Connect, ConnectError};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use prost_reflect::DescriptorPool;

use crate::admin::Admin;
use crate::backend::build::{BuildContext, Built, Connector, Written};
use crate::config::{self, Diagnostic, Diagnostics, Files, LoadedConfig, Located, Vars};
use crate::frontend::graphql;
use crate::frontend::grpc::GrpcFrontend;
use crate::frontend::proxy::ProxyRoute;
use crate::frontend::rest::RestFrontend;
use crate::frontend::soap::SoapEndpoint;
use crate::frontend::Served;
use crate::registry::proto::{self, Compiled, SchemaRequest};
use crate::server::Live;
use crate::stages::cors::CorsPolicies;
use crate::stages::guard::PathGuards;
use crate::stages::Security;
use assembly::Assembly;
use progress::Progress;

/// A gateway ready to serve.
pub struct Gateway {
    pub listen: SocketAddr,
    /// The admin endpoints' own listener, if gateway.yaml names one.
    pub admin_listen: Option<SocketAddr>,
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
    /// The admin endpoints' state (metrics, cache purge).
    pub admin: Admin,
    /// Every backend with an address: what it is called, and where (for probes).
    pub backends: Vec<(String, String)>,
    /// Warnings found while loading.
    pub warnings: Vec<Diagnostic>,
    /// The same, rendered with their places and snippets (empty when there are none).
    pub warnings_text: String,
}

/// Loads `gateway.yaml` at `path` with everything it names and builds the gateway.
pub fn load(files: Files, path: &Path, vars: Vars) -> Result<Gateway, Diagnostics> {
    load_with(files, path, vars, &connect)
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
    let progress = Progress::start("reading the configuration and mappings");
    let gateway = config::load(files, path, vars, &mut diags).and_then(|mut loaded| {
        if let Some(only) = only {
            loaded
                .mappings
                .retain(|m| Path::new(&*m.file).ends_with(only));
            if loaded.mappings.is_empty() {
                diags.push(Diagnostic::at(
                    &config::unplaced(&loaded.gateway_file),
                    format!("no mapping file is `{}`", only.display()),
                ));
                return None;
            }
        }
        build(&loaded, connect, &progress, &mut diags)
    });
    progress.finish();
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
fn build(
    config: &LoadedConfig,
    connect: Connect<'_>,
    progress: &Progress,
    diags: &mut Diagnostics,
) -> Option<Gateway> {
    let listen = address(config, &config.gateway.listen, diags);
    let admin_listen = config
        .gateway
        .admin
        .listen
        .as_ref()
        .and_then(|l| address(config, l, diags));
    let admin_token = admin_token(config, diags);
    progress.phase("compiling the .proto schemas");
    let mut compiled = compile(config, diags)?;
    progress.phase("importing the backends' schemas (WSDL, OpenAPI, GraphQL)");
    let connector = Connector {
        connect,
        max_body: config.gateway.limits.max_body_size.0 as usize,
    };
    let mut cx = BuildContext {
        pool: &mut compiled.pool,
        connector,
    };
    let backends = backends(&mut cx, config, diags);
    progress.phase("building the routes, schemas and stages");
    let security = Security::new(config, diags);
    let cors = CorsPolicies::new(config, diags);
    let mut served = Served {
        guards: PathGuards::new(config, cors.gateway()),
        ..Served::default()
    };
    let mut assembly = Assembly::new(config, &security, &cors, connector, &mut served);
    let proxy_operation = config
        .mappings
        .iter()
        .any(|m| m.config.proxy.is_some())
        .then(|| crate::relay::operation(&mut compiled.pool));
    for (mapping, built) in config.mappings.iter().zip(backends) {
        match (&mapping.config.proxy, &proxy_operation) {
            _ if mapping.config.compose.is_some() => {}
            (Some(_), Some(operation)) => {
                assembly.proxy(mapping, built.as_ref(), operation.clone(), &compiled, diags)
            }
            _ => assembly.mapping(mapping, built.as_ref(), &compiled, diags),
        }
    }
    for mapping in &config.mappings {
        assembly.composed(mapping, &mut compiled, diags);
    }
    let Assembly { proxies, .. } = assembly;
    let Served {
        guards,
        rest,
        graphql,
        grpc,
        soap,
    } = served;
    let max_body = connector.max_body;
    Some(Gateway {
        listen: listen?,
        admin_listen,
        graphql: graphql.finish(&compiled.pool, &rest.matcher, diags),
        grpc: grpc.finish(&compiled.pool, max_body),
        soap: soap.finish(max_body),
        proxies,
        header_limits: (
            header_count_limit(config, diags),
            config.gateway.limits.max_header_bytes.0 as usize,
        ),
        listener: crate::server::Settings::new(
            &config.gateway.limits,
            &security.store.trusted_proxies,
        ),
        guards,
        admin: Admin {
            pool: compiled.pool.clone(),
            token: admin_token,
            limits: security.store.clone(),
            metrics: Arc::new(security.registry()),
            cache_purge: security
                .purge_token
                .map(|token| (security.cache.clone(), token)),
        },
        pool: compiled.pool.clone(),
        rest: Arc::new(RestFrontend::new(
            rest.matcher,
            rest.routes,
            compiled.pool,
            max_body,
        )),
        backends: probe::backend_addresses(config),
        warnings: Vec::new(),
        warnings_text: String::new(),
    })
}

/// Every mapping's backend (`None` for a composed endpoint, which has none of its own, and for
/// one that could not be made): a named one of gateway.yaml, or its own.
fn backends(
    cx: &mut BuildContext<'_, '_>,
    config: &LoadedConfig,
    diags: &mut Diagnostics,
) -> Vec<Option<Built>> {
    let named: HashMap<&str, Built> = config
        .gateway
        .backends
        .iter()
        .filter_map(|(name, backend)| {
            let written = Written {
                config,
                file: &config.gateway_file,
                dir: &config.base_dir,
                backend,
            };
            Some((name.as_str(), cx.backend(&written, diags)?))
        })
        .collect();
    config
        .mappings
        .iter()
        .map(|mapping| match &mapping.config.compose {
            Some(_) => None,
            None => cx.mapping_backend(config, mapping, &named, diags),
        })
        .collect()
}

/// An address and port written in gateway.yaml.
fn address(
    config: &LoadedConfig,
    text: &Located<String>,
    diags: &mut Diagnostics,
) -> Option<SocketAddr> {
    match text.parse() {
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
    }
}

/// The SHA-256 of `admin.token`, read from wherever it is kept.
fn admin_token(config: &LoadedConfig, diags: &mut Diagnostics) -> Option<[u8; 32]> {
    let token = config.gateway.admin.token.as_ref()?;
    let secret = config.secret(token, diags)?;
    Some(crate::stages::auth::digest(secret.as_bytes()))
}

/// Every `.proto` the mappings name, compiled into one pool.
fn compile(config: &LoadedConfig, diags: &mut Diagnostics) -> Option<Compiled> {
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
    proto::compile(&config.files, includes, &requests, diags)
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

impl Gateway {
    /// The gateway as the listener serves it, ready to be replaced on reload.
    pub fn live(&self) -> Live {
        Live::new(self.app(), self.admin.app(), self.listener.clone())
    }
}

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn serve(
    gateway: &Gateway,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::server::serve_live(Arc::new(gateway.live()), listener, shutdown).await
}
