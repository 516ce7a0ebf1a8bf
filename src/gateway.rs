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
use crate::backend::soap::{SoapBackend, SoapSettings, WsSecurity};
use crate::call::Invoker;
use crate::config::{
    self, BackendConfig, BackendProtocol, Diagnostic, Diagnostics, Files, LoadedConfig,
    LoadedMapping, Located, Pos, RuleMode, SoapConfig, Vars,
};
use crate::frontend::rest::matcher::Matcher;
use crate::frontend::rest::route::{self, MappingSettings, Route, RuleSpec};
use crate::frontend::rest::RestFrontend;
use crate::protojson::{JsonOptions, Plan};
use crate::registry::proto::{self, Compiled, SchemaRequest};
use crate::registry::wsdl::build::{Choice, SoapService};
use crate::registry::wsdl::{self, Location};
use crate::registry::{declared_at, Operation};

/// A gateway ready to serve.
pub struct Gateway {
    pub listen: SocketAddr,
    pub pool: DescriptorPool,
    pub rest: Arc<RestFrontend>,
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
}

/// Makes the invoker of a backend from its checked settings.
pub type Connect<'a> = &'a dyn Fn(&BackendSettings) -> Result<Invoker, String>;

/// Connects to real backends (lazily: nothing is dialled until the first call).
pub fn connect_grpc(settings: &BackendSettings) -> Result<Invoker, String> {
    match settings {
        BackendSettings::Grpc(grpc) => GrpcBackend::new(grpc).map(GrpcBackend::into_invoker),
        BackendSettings::Soap(soap) => {
            SoapBackend::new(soap.clone()).map(SoapBackend::into_invoker)
        }
    }
}

/// A backend ready to be called, and for a SOAP backend the service its WSDL became.
#[derive(Clone)]
struct MadeBackend {
    invoker: Invoker,
    soap: Option<(String, Arc<SoapService>)>,
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

    let mut routes: Vec<Arc<Route>> = Vec::new();
    let mut matcher = Matcher::default();
    let made_backends: Vec<Option<MadeBackend>> = config
        .mappings
        .iter()
        .map(|mapping| made.mapping_backend(config, mapping, &named, diags))
        .collect();
    for (mapping, made_backend) in config.mappings.iter().zip(made_backends) {
        // Without a backend the routes are still checked, so that every problem is reported.
        let soap = made_backend.as_ref().and_then(|b| b.soap.clone());
        let is_soap = soap.is_some() || mapping_is_soap(config, mapping);
        let invoker = made_backend.map_or_else(unreachable_backend, |b| b.invoker);
        let backend = &mapping.config.backend;
        let named_timeout = backend
            .use_name
            .as_ref()
            .and_then(|name| config.gateway.backends.get(name.as_str()))
            .and_then(|b| b.timeout);
        let backend_timeout = backend.timeout.or(named_timeout).map(|d| d.0);
        let target = MappingTarget {
            invoker,
            backend_timeout,
            soap,
            is_soap,
        };
        for spec in mapping_routes(mapping, &compiled, target, diags) {
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
    Some(Gateway {
        listen: listen?,
        pool: compiled.pool.clone(),
        rest: Arc::new(RestFrontend::new(matcher, routes, compiled.pool, max_body)),
        warnings: Vec::new(),
        warnings_text: String::new(),
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
            (BackendProtocol::Grpc, Some(soap)) => {
                diags.push(Diagnostic::at(
                    &config::pos_in(file, &soap.wsdl),
                    "`soap` settings belong to a backend with `protocol: soap`",
                ));
                return None;
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
            Ok(invoker) => Some(MadeBackend { invoker, soap }),
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

    /// The backend a mapping calls: a named one, or one written in the mapping.
    fn mapping_backend(
        &mut self,
        config: &LoadedConfig,
        mapping: &LoadedMapping,
        named: &HashMap<&str, MadeBackend>,
        diags: &mut Diagnostics,
    ) -> Option<MadeBackend> {
        let backend = &mapping.config.backend;
        let inline_only =
            backend.protocol.is_some() || backend.tls.is_some() || backend.soap.is_some();
        match (&backend.use_name, &backend.address) {
            (Some(name), None) if inline_only => {
                diags.push(Diagnostic::at(
                    &mapping.pos(name),
                    "`protocol`, `tls` and `soap` belong to the backend in gateway.yaml, not beside `use`",
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
                    soap: backend.soap.clone(),
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
}

/// The routes of one mapping: for each method of its services, the mapping's rules, the
/// method's annotation (unless a rule replaces it), or the automatic route.
fn mapping_routes(
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
    } = target;
    let settings = Arc::new(MappingSettings::new(&mapping.config.options, is_soap));
    let pool = &compiled.pool;
    let mut methods: Vec<MethodDescriptor> = Vec::new();
    if is_soap {
        if let Some(first) = mapping
            .config
            .schemas
            .first()
            .or(mapping.config.services.first())
        {
            diags.push(Diagnostic::at(
                &mapping.pos(first),
                "with a SOAP backend the WSDL is the schema: leave out `schemas` and `services`",
            ));
        }
    }
    match &soap {
        Some((name, _)) => methods.extend(
            pool.get_service_by_name(name)
                .iter()
                .flat_map(|s| s.methods()),
        ),
        // The backend's problem is reported; its rules cannot be checked without it.
        None if is_soap => return Vec::new(),
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
        // A selector is a full name, or a unique tail of one (`Service.Method`).
        let tail = format!(".{}", selector.value);
        let matching: Vec<&MethodDescriptor> = methods
            .iter()
            .filter(|m| m.full_name() == selector.as_str() || m.full_name().ends_with(&tail))
            .collect();
        let method_name = match matching.as_slice() {
            [one] => one.full_name().to_owned(),
            [] => {
                diags.push(Diagnostic::at(
                    &pos(selector),
                    format!(
                        "selector `{}` names no method of the mapping's services",
                        selector.value
                    ),
                ));
                continue;
            }
            several => {
                let names: Vec<&str> = several.iter().map(|m| m.full_name()).collect();
                diags.push(Diagnostic::at(
                    &pos(selector),
                    format!(
                        "selector `{}` matches several methods ({}); write the full name",
                        selector.value,
                        names.join(", ")
                    ),
                ));
                continue;
            }
        };
        match route::config_rules(rule, &pos(selector), &pos) {
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
            specs.splice(0..0, route::annotation_rules(&method, &declared));
        }
        if specs.is_empty() && mapping.config.options.auto_routes {
            specs.push(route::auto_rule(&method, &declared, is_soap));
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
