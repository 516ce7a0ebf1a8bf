//! What every backend builder shares, and the one list that registers them: a protocol is a
//! folder under `backend/` whose `build.rs` implements [`Protocol`] and is named in
//! [`PROTOCOLS`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prost_reflect::{DescriptorPool, MethodDescriptor};

use super::graphql::schema::{Documents, SchemaShape};
use super::graphql::{GraphqlBackend, GraphqlSettings};
use super::grpc::{GrpcBackend, GrpcSettings, TlsSettings};
use super::rest::{RestBackend, RestSettings};
use super::soap::{SoapBackend, SoapSettings};
use super::ConnectError;
use crate::call::{self, Invoker};
use crate::config::{
    self, BackendConfig, BackendProtocol, Diagnostic, Diagnostics, LoadedConfig, LoadedMapping,
    Located, Pos,
};
use crate::registry::openapi::ImportedRule;
use crate::registry::wsdl::build::SoapService;

/// The backend protocols, each with its builder. Adding a protocol: its folder, and one line
/// here.
pub(crate) const PROTOCOLS: [&dyn Protocol; 4] = [
    &super::grpc::build::Grpc,
    &super::soap::build::Soap,
    &super::rest::build::Rest,
    &super::graphql::build::Graphql,
];

/// How one protocol's backends are built from their configuration.
pub(crate) trait Protocol: Sync {
    /// The `protocol:` value it builds.
    fn protocol(&self) -> BackendProtocol;

    /// A backend written in gateway.yaml or inline in a mapping: its section checked and its
    /// schema imported into the pool. Shared by every mapping that uses it.
    fn build(
        &self,
        cx: &mut BuildContext<'_, '_>,
        written: &Written<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Built>;

    /// What one mapping calls: by default the backend itself; a REST or GraphQL backend is
    /// made per mapping, because how it calls each method is the mapping's.
    fn invoker(
        &self,
        _connector: Connector<'_>,
        built: &Built,
        _mapping: &LoadedMapping,
        _methods: &[MethodDescriptor],
        _diags: &mut Diagnostics,
    ) -> Option<Invoker> {
        Some(built.invoker.clone())
    }

    /// The service the backend's own schema became, when it serves `mapping` (an OpenAPI
    /// document's, a GraphQL schema's); by default none, the mapping names its services.
    fn own_service<'b>(&self, _built: &'b Built, _mapping: &LoadedMapping) -> Option<&'b str> {
        None
    }

    /// The keys of `backend` that only this protocol reads, where they are written, with what
    /// to say when a backend of another protocol has one.
    fn own_keys<'b>(&self, _backend: &'b BackendConfig) -> Vec<(&'b Located<String>, String)> {
        Vec::new()
    }
}

/// A backend's configuration and the file it is written in.
pub(crate) struct Written<'a> {
    pub config: &'a LoadedConfig,
    pub file: &'a Arc<str>,
    pub dir: &'a Path,
    pub backend: &'a BackendConfig,
}

impl Written<'_> {
    pub(crate) fn pos<T>(&self, located: &Located<T>) -> Pos {
        config::pos_in(self.file, located)
    }
}

/// The checked settings of a backend of any protocol.
pub enum BackendSettings {
    Grpc(GrpcSettings),
    Soap(Arc<SoapSettings>),
    Rest(Arc<RestSettings>),
    Graphql(Arc<GraphqlSettings>),
}

/// Makes the invoker of a backend from its checked settings.
pub type Connect<'a> = &'a dyn Fn(&BackendSettings) -> Result<Invoker, ConnectError>;

/// Connects to real backends (lazily: nothing is dialled until the first call).
pub fn connect(settings: &BackendSettings) -> Result<Invoker, ConnectError> {
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
pub(crate) struct Built {
    pub protocol: BackendProtocol,
    pub invoker: Invoker,
    pub soap: Option<(String, Arc<SoapService>)>,
    /// A REST or GraphQL backend is made per mapping (its calls are the mapping's methods):
    /// where it is.
    pub http: Option<Arc<HttpBase>>,
}

/// An HTTP backend's protocol, address and transport settings.
pub(crate) struct HttpBase {
    pub base: String,
    pub tls: Option<TlsSettings>,
    pub connect_timeout: Duration,
    /// For a REST backend described by OpenAPI: the service it became and each method's rule.
    pub openapi: Option<(String, HashMap<String, ImportedRule>)>,
    /// For a GraphQL backend whose schema is known: its shape, to check documents, and the
    /// service it became with each method's generated document (and result key).
    pub graphql_schema: Option<(SchemaShape, String, Documents)>,
}

/// What connects a backend: real connections, or the dry run's recorder, and the largest
/// response body a backend may send.
#[derive(Clone, Copy)]
pub(crate) struct Connector<'c> {
    pub connect: Connect<'c>,
    pub max_body: usize,
}

impl Connector<'_> {
    /// Connects a mapping's own backend; a failure is reported at the mapping's `frontend`.
    pub(crate) fn mapping(
        &self,
        settings: &BackendSettings,
        mapping: &LoadedMapping,
        diags: &mut Diagnostics,
    ) -> Option<Invoker> {
        (self.connect)(settings)
            .map_err(|why| {
                diags.push(Diagnostic::at(
                    &mapping.pos(&mapping.config.frontend),
                    why.to_string(),
                ))
            })
            .ok()
    }
}

/// Stands in for a backend that could not be configured; the gateway is never built then.
pub(crate) fn unreachable_backend() -> Invoker {
    Invoker::new(tower::service_fn(|_: crate::call::Call| async {
        Err(crate::status::Status::unavailable(
            "the backend is not configured",
        ))
    }))
}

/// Makes backends; those with a schema of their own (WSDL, OpenAPI, GraphQL SDL) add it to the
/// pool.
pub(crate) struct BuildContext<'a, 'c> {
    pub pool: &'a mut DescriptorPool,
    pub connector: Connector<'c>,
}

/// Whether a mapping's backend speaks SOAP (also when it could not be made).
pub(crate) fn mapping_is_soap(config: &LoadedConfig, mapping: &LoadedMapping) -> bool {
    let backend = &mapping.config.backend;
    let named = backend
        .use_name
        .as_ref()
        .and_then(|n| config.gateway.backends.get(n.as_str()))
        .map(|b| b.protocol.value);
    backend.protocol.as_ref().map(|p| p.value).or(named) == Some(BackendProtocol::Soap)
        || backend.soap.is_some()
}

/// The protocol's builder.
fn protocol(protocol: BackendProtocol) -> &'static dyn Protocol {
    PROTOCOLS
        .into_iter()
        .find(|p| p.protocol() == protocol)
        .expect("every protocol is registered")
}

/// What one mapping calls through `built`.
pub(crate) fn mapping_invoker(
    connector: Connector<'_>,
    built: &Built,
    mapping: &LoadedMapping,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    protocol(built.protocol).invoker(connector, built, mapping, methods, diags)
}

/// The service `built`'s own schema became, when it serves `mapping`.
pub(crate) fn own_service<'b>(built: &'b Built, mapping: &LoadedMapping) -> Option<&'b str> {
    protocol(built.protocol).own_service(built, mapping)
}

/// A key of the backend that another protocol owns: where, and what to say.
fn foreign_key(written: &Written<'_>) -> Option<(Pos, String)> {
    let protocol = written.backend.protocol.value;
    let others = PROTOCOLS.into_iter().filter(|p| p.protocol() != protocol);
    let mut keys = others.flat_map(|p| p.own_keys(written.backend));
    keys.next().map(|(at, message)| (written.pos(at), message))
}

impl BuildContext<'_, '_> {
    /// A backend from its configuration, by its protocol's builder.
    pub(crate) fn backend(
        &mut self,
        written: &Written<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Built> {
        if let Some((at, message)) = foreign_key(written) {
            diags.push(Diagnostic::at(&at, message));
            return None;
        }
        protocol(written.backend.protocol.value).build(self, written, diags)
    }

    /// A backend that every mapping shares, connected now (lazily: nothing is dialled yet).
    pub(crate) fn shared(
        &self,
        protocol: BackendProtocol,
        settings: BackendSettings,
        pos: &Pos,
        soap: Option<(String, Arc<SoapService>)>,
        diags: &mut Diagnostics,
    ) -> Option<Built> {
        match (self.connector.connect)(&settings) {
            Ok(invoker) => Some(Built {
                protocol,
                invoker,
                soap,
                http: None,
            }),
            Err(why) => {
                diags.push(Diagnostic::at(pos, why.to_string()));
                None
            }
        }
    }

    /// The backend a mapping calls: a named one, or one written in the mapping.
    pub(crate) fn mapping_backend(
        &mut self,
        config: &LoadedConfig,
        mapping: &LoadedMapping,
        named: &HashMap<&str, Built>,
        diags: &mut Diagnostics,
    ) -> Option<Built> {
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
                    let message = format!(
                        "no backend named `{}` in {} (known: {})",
                        name.value,
                        config.gateway_file,
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    );
                    let diagnostic = Diagnostic::at(&mapping.pos(name), message);
                    diags.push(diagnostic.suggesting(&name.value, known));
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
                self.backend(
                    &Written {
                        config,
                        file: &mapping.file,
                        dir: &mapping.dir,
                        backend: &inline,
                    },
                    diags,
                )
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

pub(crate) fn connect_timeout(backend: &BackendConfig) -> Duration {
    backend
        .connect_timeout
        .map_or(Duration::from_secs(5), |d| d.0)
}

pub(crate) fn checked_address(
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

pub(crate) fn tls_settings(
    written: &Written<'_>,
    diags: &mut Diagnostics,
) -> Option<Option<TlsSettings>> {
    let Written {
        config,
        dir,
        backend,
        ..
    } = written;
    let Some(tls) = &backend.tls else {
        return Some(None);
    };
    let ca_pem = match &tls.ca_file {
        None => None,
        Some(ca) => match config.files.read(&dir.join(&ca.value)) {
            Ok(pem) => Some(pem),
            Err(e) => {
                diags.push(Diagnostic::at(
                    &written.pos(ca),
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

/// The address and TLS of an HTTP backend (REST or GraphQL), checked.
pub(crate) fn http_address(
    written: &Written<'_>,
    kind: &str,
    diags: &mut Diagnostics,
) -> Option<(String, Option<TlsSettings>)> {
    let backend = written.backend;
    let Some(address) = &backend.address else {
        diags.push(Diagnostic::at(
            &written.pos(&backend.protocol),
            format!("a {kind} backend needs an `address`"),
        ));
        return None;
    };
    let base = checked_address(written.config, address, written.pos(address), diags)?;
    let tls = tls_settings(written, diags)?;
    Some((base, tls))
}

impl HttpBase {
    /// The base of an HTTP backend at `base`, with no schema of its own yet.
    pub(crate) fn new(written: &Written<'_>, base: &str, tls: Option<TlsSettings>) -> HttpBase {
        HttpBase {
            base: base.trim_end_matches('/').to_owned(),
            tls,
            connect_timeout: connect_timeout(written.backend),
            openapi: None,
            graphql_schema: None,
        }
    }
}

/// An HTTP backend, made per mapping: until then, where it is and what its schema said.
pub(crate) fn http_backend(written: &Written<'_>, base: HttpBase) -> Built {
    Built {
        protocol: written.backend.protocol.value,
        invoker: unreachable_backend(),
        soap: None,
        http: Some(Arc::new(base)),
    }
}

/// What a `proxy` mapping relays through: the REST backend's client, which sends the
/// `rosetta.proxy.Proxy.Forward` request as it is, whichever HTTP protocol the backend speaks.
pub(crate) fn relay_invoker(
    connector: Connector<'_>,
    built: &Built,
    mapping: &LoadedMapping,
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    let base = built.http.as_ref()?;
    super::rest::build::mapping_invoker(connector, base, mapping, &[], diags)
}
