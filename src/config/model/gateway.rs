//! `gateway.yaml` itself: listeners, where mappings and schemas live, limits, admin.

use super::*;

/// `gateway.yaml`: listeners, backends, limits, and where mappings and schemas live.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Version of this file's format. Must be `1`.
    pub version: Located<u32>,
    /// Address and port the gateway listens on (HTTP/1.1 and HTTP/2 cleartext on one port).
    #[serde(default = "default_listen")]
    pub listen: Located<String>,
    /// Where schemas are found.
    #[serde(default)]
    pub schemas: SchemaConfig,
    /// Mapping files, or directories whose `*.yaml` files are mappings; relative to this file.
    #[serde(default = "default_mappings")]
    pub mappings: Vec<Located<String>>,
    /// Named backends that mappings refer to with `use:`.
    #[serde(default)]
    pub backends: BTreeMap<String, BackendConfig>,
    /// Limits on requests.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Named ways to authenticate; `auth.any_of` (here for every mapping, or in a mapping)
    /// picks them by name. See docs/authentication.md.
    #[serde(default)]
    pub authenticators: BTreeMap<String, Located<AuthenticatorConfig>>,
    /// Who may call: each consumer's credentials, plan and metadata, by id.
    #[serde(default)]
    pub consumers: BTreeMap<String, ConsumerConfig>,
    /// What a consumer's plan allows.
    #[serde(default)]
    pub plans: BTreeMap<String, PlanConfig>,
    /// Authentication of every mapping that has no `auth` of its own.
    #[serde(default)]
    pub auth: Option<AuthOptions>,
    /// Where rate limits keep their state, and whom to believe about the client's address.
    #[serde(default)]
    pub rate_limiting: RateLimitingConfig,
    /// Rate limits of every mapping that has no `rate_limits` of its own.
    #[serde(default)]
    pub rate_limits: Vec<Located<LimitConfig>>,
    /// Where cached replies are kept (mappings choose what to cache with `cache`).
    #[serde(default)]
    pub caching: CachingConfig,
    /// The cache of every mapping without `cache` of its own: all their reads (no `methods`).
    #[serde(default)]
    pub cache: Option<Located<CacheOptions>>,
    /// Client addresses allowed or denied, for every mapping without `ip_rules` of its own.
    #[serde(default)]
    pub ip_rules: Option<IpRules>,
    /// CORS for browsers, for every mapping without `cors` of its own.
    #[serde(default)]
    pub cors: Option<Located<CorsConfig>>,
    /// The validation of every mapping without `validation` of its own.
    #[serde(default)]
    pub validation: Option<ValidationConfig>,
    /// The injection filtering of every mapping without `injection` of its own (off unless
    /// written).
    #[serde(default)]
    pub injection: Option<InjectionConfig>,
    /// Header changes for every method of every mapping, before the mapping's own transforms
    /// (no `methods`, no `fields`: those belong to a mapping's schema).
    #[serde(default)]
    pub transforms: Vec<Located<TransformConfig>>,
    /// Where the admin endpoints (`/_rosetta/metrics`) are served. By default nowhere: never
    /// on the public listener without a token.
    #[serde(default)]
    pub admin: AdminConfig,
}

/// The admin endpoints: a listener of their own, or the public listener behind a token.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// An address and port for the admin endpoints alone (`127.0.0.1:9901`); keep it off the
    /// internet.
    #[serde(default)]
    pub listen: Option<Located<String>>,
    /// A bearer token (`${ENV}` or `file:`) with which the public listener serves them too.
    #[serde(default)]
    pub token: Option<Located<String>>,
}

fn default_listen() -> Located<String> {
    Located::unplaced("127.0.0.1:8080".into())
}

pub(crate) fn default_mappings() -> Vec<Located<String>> {
    vec![Located::unplaced("mappings".into())]
}

/// Where schemas are found.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaConfig {
    /// Directories searched for `.proto` files and their imports, relative to `gateway.yaml`.
    /// `google/api/*.proto`, `google/rpc/*.proto` and the well-known types are built in.
    #[serde(default = "default_include")]
    pub include: Vec<Located<String>>,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        SchemaConfig {
            include: default_include(),
        }
    }
}

fn default_include() -> Vec<Located<String>> {
    vec![Located::unplaced("schemas".into())]
}

/// Limits on requests.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body accepted; a larger one is refused with 413 before it is buffered.
    #[serde(default = "default_max_body")]
    pub max_body_size: ByteSize,
    /// Most request headers accepted (default and most 100: hyper answers more on HTTP/1.1
    /// with a 431 of its own); more is a 431.
    #[serde(default = "default_max_headers")]
    pub max_headers: Located<usize>,
    /// Largest total size of the request headers, names and values (default 32KiB); more is a
    /// 431.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: ByteSize,
    /// How long a client may take to send a request's headers, from its first byte (from the
    /// connection's start for its first request); then the connection is closed. Default 30s
    /// (hyper's; nginx's `client_header_timeout` is 60s).
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: DurationText,
    /// Longest pause while a request body is sent; then 408. Default 60s (nginx's
    /// `client_body_timeout`). gRPC streams are exempt: a stream may be quiet.
    #[serde(default = "default_body_idle_timeout")]
    pub body_idle_timeout: DurationText,
    /// How long a client may take to send a whole request body once its headers are in; then
    /// 408. Default 300s (Envoy's edge recommendation for `request_timeout`); `0s` for none.
    /// gRPC streams are exempt.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: DurationText,
    /// How long a connection is kept with no request in flight; then it is closed (HTTP/2:
    /// GOAWAY). Default 75s (nginx's `keepalive_timeout`).
    #[serde(default = "default_keep_alive_timeout")]
    pub keep_alive_timeout: DurationText,
    /// Most connections open at once (default 10000, and never more than the open-file limit
    /// leaves room for); a connection beyond is closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 /64 counts as one
    /// address; default 512, `0` for no limit); a connection beyond is closed at once. It is
    /// the peer's address: `rate_limiting.trusted_proxies` (a load balancer) are not held to
    /// it.
    #[serde(default = "default_max_connections_per_client")]
    pub max_connections_per_client: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_size: default_max_body(),
            max_headers: default_max_headers(),
            max_header_bytes: default_max_header_bytes(),
            header_read_timeout: default_header_read_timeout(),
            body_idle_timeout: default_body_idle_timeout(),
            request_timeout: default_request_timeout(),
            keep_alive_timeout: default_keep_alive_timeout(),
            max_connections: default_max_connections(),
            max_connections_per_client: default_max_connections_per_client(),
        }
    }
}

fn default_header_read_timeout() -> DurationText {
    DurationText(Duration::from_secs(30))
}

fn default_body_idle_timeout() -> DurationText {
    DurationText(Duration::from_secs(60))
}

fn default_request_timeout() -> DurationText {
    DurationText(Duration::from_secs(300))
}

fn default_keep_alive_timeout() -> DurationText {
    DurationText(Duration::from_secs(75))
}

fn default_max_connections() -> usize {
    10_000
}

fn default_max_connections_per_client() -> usize {
    512
}

/// hyper's own bound on the headers of an HTTP/1.1 request.
pub const MOST_HEADERS: usize = 100;

fn default_max_headers() -> Located<usize> {
    Located::unplaced(MOST_HEADERS)
}

fn default_max_header_bytes() -> ByteSize {
    ByteSize(32 << 10)
}

fn default_max_body() -> ByteSize {
    ByteSize(4 << 20)
}
