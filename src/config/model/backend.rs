//! Backends: where one is and how to talk to it.

use super::*;

/// The protocol a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendProtocol {
    /// gRPC over HTTP/2.
    Grpc,
    /// An HTTP JSON API; each method is called as its `google.api.http` rule (or the mapping's
    /// `backend.rules`) says.
    Rest,
    /// A GraphQL endpoint; each method sends the document of the mapping's `backend.documents`.
    Graphql,
    /// SOAP 1.1 or 1.2 over HTTP, described by a WSDL (`soap.wsdl`).
    Soap,
}

/// A backend: where it is and how to talk to it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// The protocol the backend speaks.
    pub protocol: Located<BackendProtocol>,
    /// `http://host:port` or `https://host:port` (for SOAP, the endpoint URL; default: the
    /// WSDL's `soap:address`). `${ENV_VAR}` is expanded.
    #[serde(default)]
    pub address: Option<Located<String>>,
    /// TLS to the backend. On when the address is `https://`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Deadline for each call unless the request or route sets a shorter one.
    #[serde(default)]
    pub timeout: Option<DurationText>,
    /// Time allowed to open a connection.
    #[serde(default)]
    pub connect_timeout: Option<DurationText>,
    /// HTTP/2 connections kept to the backend; calls are spread over them round-robin.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// The backend's own limit (a paid API's quota, say), for every mapping that calls it:
    /// calls past it wait in a queue of `queue` places, then fail with RESOURCE_EXHAUSTED.
    #[serde(default)]
    pub rate_limit: Option<OutboundLimitConfig>,
    /// For `protocol: soap`: the WSDL and how to call the service.
    #[serde(default)]
    pub soap: Option<SoapConfig>,
    /// For `protocol: rest`: an OpenAPI 3.0/3.1 document (YAML or JSON, relative to this file)
    /// that describes the API; its operations become the mapping's methods.
    #[serde(default)]
    pub openapi: Option<Located<String>>,
    /// For `protocol: graphql`: the endpoint's schema, to check the mappings' documents at load
    /// time: an SDL file (relative to this file), or `introspection` to ask the endpoint.
    #[serde(default)]
    pub graphql_schema: Option<Located<String>>,
}

/// A SOAP backend: its WSDL and how to call it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoapConfig {
    /// The WSDL: a path relative to this file, or an http(s) URL fetched at load time.
    pub wsdl: Located<String>,
    /// The `wsdl:service` to call (required when the WSDL has several).
    #[serde(default)]
    pub service: Option<Located<String>>,
    /// The `wsdl:port` to call (default: the service's first SOAP 1.1 or 1.2 port).
    #[serde(default)]
    pub port: Option<Located<String>>,
    /// Protobuf package the WSDL's types and service are imported into (default
    /// `soap.<WSDL file name>`).
    #[serde(default)]
    pub package: Option<Located<String>>,
    /// XML elements put in the Header of every request. `${ENV_VAR}` is expanded.
    #[serde(default)]
    pub headers: Vec<Located<String>>,
    /// WS-Security UsernameToken added to every request.
    #[serde(default)]
    pub ws_security: Option<WsSecurityConfig>,
    /// HTTP Basic authentication to the backend.
    #[serde(default)]
    pub basic_auth: Option<CredentialsConfig>,
    /// Canonical codes for fault codes, e.g. `Client.NotFound: NOT_FOUND` (a SOAP 1.1
    /// faultcode or a SOAP 1.2 subcode, without prefix). Others: Client/Sender ->
    /// INVALID_ARGUMENT, Server/Receiver -> INTERNAL.
    #[serde(default)]
    pub fault_codes: BTreeMap<String, Located<String>>,
}

/// A user name and password. The password is `${ENV_VAR}` or `file:PATH` (relative to the
/// file it is written in), never only inline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    pub username: Located<String>,
    pub password: Located<String>,
}

/// A WS-Security UsernameToken.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WsSecurityConfig {
    pub username: Located<String>,
    /// `${ENV_VAR}` or `file:PATH`.
    pub password: Located<String>,
    /// Send `PasswordDigest` (Base64(SHA-1(nonce + created + password))) instead of the
    /// password as text.
    #[serde(default)]
    pub digest: bool,
}

impl BackendConfig {
    pub const DEFAULT_CONNECTIONS: usize = 2;
}

fn default_connections() -> usize {
    BackendConfig::DEFAULT_CONNECTIONS
}

/// TLS settings for a backend connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA that signs the backend's certificate (default: the system's roots).
    #[serde(default)]
    pub ca_file: Option<Located<String>>,
    /// Name expected in the backend's certificate (default: the address's host).
    #[serde(default)]
    pub server_name: Option<String>,
}

/// A limit on the calls made to a backend.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundLimitConfig {
    pub requests: u32,
    pub per: DurationText,
    /// Default 1: calls are spread evenly.
    #[serde(default)]
    pub burst: Option<u32>,
    /// How many calls may wait for their turn (default 100).
    #[serde(default)]
    pub queue: Option<usize>,
}
