//! The typed form of `gateway.yaml` and `mappings/*.yaml`.
//!
//! Every struct rejects unknown keys. The doc comments are the reference documentation: they
//! end up in the JSON Schema under `docs/` (see `rosetta schema config`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// A value with the line and column where it was written, for diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: u64,
    pub column: u64,
}

impl<T> Located<T> {
    /// A value with no place in a file (defaults, values made by the gateway).
    pub fn unplaced(value: T) -> Self {
        Located {
            value,
            line: 0,
            column: 0,
        }
    }
}

impl<T> std::ops::Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Located {
            value: spanned.value,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// A duration written as text: `250ms`, `5s`, `1m 30s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationText(pub Duration);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map(DurationText)
            .map_err(|e| serde::de::Error::custom(format!("invalid duration `{text}`: {e}")))
    }
}

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `250ms`, `5s` or `1m 30s`.",
            "examples": ["5s"]
        })
    }
}

/// A size in bytes: a number, or text with a unit (`512KiB`, `4MiB`, `1GB`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => parse_byte_size(&t).map(ByteSize).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid size `{t}`: expected a number of bytes or e.g. `512KiB`, `4MiB`"
                ))
            }),
        }
    }
}

fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" => 1 << 10,
        "MB" => 1000 * 1000,
        "MiB" => 1 << 20,
        "GB" => 1000 * 1000 * 1000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["integer", "string"],
            "description": "A size in bytes, or text with a unit such as `512KiB` or `4MiB`.",
            "examples": ["4MiB"]
        })
    }
}

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

/// Where cached replies are kept.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CachingConfig {
    /// The memory the cache may use (default 64MiB).
    #[serde(default)]
    pub memory: Option<ByteSize>,
    /// A Redis server shared by every instance, as a second level (`${ENV}` expanded).
    #[serde(default)]
    pub redis: Option<Located<String>>,
    /// A bearer token for `POST /_rosetta/cache/purge` (`${ENV}` or `file:`); without it there
    /// is no purge endpoint.
    #[serde(default)]
    pub purge_token: Option<Located<String>>,
}

/// What a mapping caches: the replies of its reads (unary methods that are GraphQL queries by
/// name, design.md section 4); never a mutation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheOptions {
    /// How long a reply is fresh (less if its `Cache-Control` says so).
    pub ttl: DurationText,
    /// Only these methods (default: every read of the mapping).
    #[serde(default)]
    pub methods: Vec<Located<String>>,
    /// One entry for every consumer and every caller's credentials (default: an entry per
    /// consumer, or per credentials when the gateway authenticates no consumer; a reply that
    /// says `Cache-Control: public` or `s-maxage` is shared all the same).
    #[serde(default)]
    pub public: bool,
    /// Request headers that identify a user to the backend besides `Authorization`, `Cookie`
    /// and the API-key headers of the authenticators: a request that carries one gets entries
    /// of its own.
    #[serde(default)]
    pub credential_headers: Vec<Located<String>>,
    /// After it is stale, answer with the entry for this long while it is fetched again.
    #[serde(default)]
    pub stale_while_revalidate: Option<DurationText>,
    /// After it is stale, answer with the entry for this long when the backend fails.
    #[serde(default)]
    pub stale_if_error: Option<DurationText>,
}

/// Injection filtering (security.md): the string fields of each decoded input message are
/// checked for SQL, script, command and path injection before the backend is called.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectionConfig {
    /// `block` answers a call that has an injection with INVALID_ARGUMENT (400); `log-only`
    /// lets it through and logs the field and the rule (never the value).
    #[serde(default)]
    pub mode: InjectionMode,
    /// The detectors that run (default all four).
    #[serde(default = "every_injection")]
    pub detect: Vec<InjectionKind>,
    /// Only these fields, by full name (`shop.v1.Order.note`); default every string field.
    #[serde(default)]
    pub fields: Vec<Located<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InjectionMode {
    #[default]
    Block,
    LogOnly,
}

/// What a detector looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InjectionKind {
    /// SQL injection (libinjection's tokenizer and fingerprints).
    Sql,
    /// Script injection into HTML (libinjection's HTML5 tokenizer).
    Script,
    /// Shell command injection (after OWASP CRS rules 932100-932160).
    Command,
    /// Path traversal and local file inclusion (after OWASP CRS rules 930100-930120).
    Path,
}

fn every_injection() -> Vec<InjectionKind> {
    vec![
        InjectionKind::Sql,
        InjectionKind::Script,
        InjectionKind::Command,
        InjectionKind::Path,
    ]
}

/// Checks of a mapping's input messages (validation.md).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Fields marked `(google.api.field_behavior) = REQUIRED` must be set (default true).
    #[serde(default = "yes")]
    pub required: bool,
    /// Enum fields must hold a number the enum defines (default true).
    #[serde(default = "yes")]
    pub enums: bool,
    /// Rules for fields, by full name (`shop.v1.Order.email`).
    #[serde(default)]
    pub rules: BTreeMap<String, Located<FieldRuleConfig>>,
}

/// What a field's values must be. Lengths count characters; for a repeated field, the
/// value rules apply to each item.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldRuleConfig {
    #[serde(default)]
    pub min_length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
    /// A regular expression the whole value must match (Rust `regex` syntax).
    #[serde(default)]
    pub pattern: Option<String>,
    /// The smallest number allowed.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// The largest number allowed.
    #[serde(default)]
    pub maximum: Option<f64>,
    /// For a repeated field or map: the fewest items.
    #[serde(default)]
    pub min_items: Option<usize>,
    /// For a repeated field or map: the most items.
    #[serde(default)]
    pub max_items: Option<usize>,
}

/// Changes to a mapping's calls (transforms.md): requests on the way in, replies on the way
/// out.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// Only these methods (default: every method of the mapping).
    #[serde(default)]
    pub methods: Vec<Located<String>>,
    #[serde(default)]
    pub request: Changes,
    #[serde(default)]
    pub response: Changes,
}

/// Changes to the headers and fields of one direction.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    #[serde(default)]
    pub headers: Edits<String>,
    /// Fields by dotted path from the message (`order.note`); values in proto3 JSON.
    #[serde(default)]
    pub fields: Edits<serde_json::Value>,
}

/// Entries to rename, remove and set (add or replace), applied in that order. In header
/// values, `${ENV_VAR}` is expanded.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edits<V> {
    #[serde(default)]
    pub set: BTreeMap<String, Located<V>>,
    #[serde(default)]
    pub remove: Vec<Located<String>>,
    /// From the old name to the new one.
    #[serde(default)]
    pub rename: BTreeMap<String, Located<String>>,
}

impl<V> Default for Edits<V> {
    fn default() -> Self {
        Edits {
            set: BTreeMap::new(),
            remove: Vec::new(),
            rename: BTreeMap::new(),
        }
    }
}

/// Where rate limits keep their state.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitingConfig {
    /// A Redis server shared by every gateway instance (`redis://host:port`, `${ENV}`
    /// expanded): one limit across the cluster. Without it, each instance counts alone.
    #[serde(default)]
    pub redis: Option<Located<String>>,
    /// When Redis cannot be reached: let calls through (`open`, the default) or refuse them
    /// with 503 (`closed`).
    #[serde(default)]
    pub redis_failure: RedisFailure,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` / `Forwarded` is believed:
    /// the client is the right-most address not in this list.
    #[serde(default)]
    pub trusted_proxies: Vec<Located<String>>,
    /// The most keys a local limit remembers (default 100000); while full, other clients
    /// share one budget until keys back at a fresh state are dropped.
    #[serde(default)]
    pub max_keys: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RedisFailure {
    #[default]
    Open,
    Closed,
}

/// One rate limit (GCRA): `requests` per `per` for each key, with bursts of up to `burst`
/// (default `requests`). `per: 1d` or `30d` makes a quota.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// What is counted: `ip` (the client's address), `consumer`, `credential` (the
    /// `Authorization` header), `header` (the value of `header`), `route` (the method),
    /// `global` (everything).
    pub key: LimitKey,
    /// The header, for `key: header`.
    #[serde(default)]
    pub header: Option<String>,
    pub requests: u32,
    pub per: DurationText,
    #[serde(default)]
    pub burst: Option<u32>,
    /// The name in `RateLimit-Policy` (default: the key).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LimitKey {
    Ip,
    Consumer,
    Credential,
    Header,
    Route,
    Global,
}

/// One way to authenticate: exactly one of `api_key`, `basic`, `jwt`, `hmac`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticatorConfig {
    /// A key in a header or a query parameter, matched against the consumers' `api_keys`.
    #[serde(default)]
    pub api_key: Option<ApiKeyConfig>,
    /// HTTP Basic, matched against the consumers' `basic` credentials.
    #[serde(default)]
    pub basic: Option<BasicConfig>,
    /// A JWT bearer token (`Authorization: Bearer ...`), verified with configured keys or a
    /// JWKS.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// A request signed with a consumer's HMAC secret (`Authorization: Signature ...`).
    #[serde(default)]
    pub hmac: Option<HmacConfig>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The header that carries the key (default `x-api-key`).
    #[serde(default)]
    pub header: Option<Located<String>>,
    /// A query parameter that may carry it instead.
    #[serde(default)]
    pub query: Option<Located<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicConfig {
    /// The realm named in `WWW-Authenticate` (default `rosetta`).
    #[serde(default)]
    pub realm: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The algorithms accepted (`RS256`, `ES256`, `EdDSA`, `HS256`, ...): a token's own `alg`
    /// is only believed when it is one of these.
    pub algorithms: Vec<Located<String>>,
    /// Keys: a secret (`HS*`, given as `${ENV}` or `file:`) or a PEM public key file.
    #[serde(default)]
    pub keys: Vec<JwtKeyConfig>,
    /// A JWKS endpoint: fetched in the background, cached, refreshed before `jwks_refresh`
    /// runs out, fetched again (at most once per `jwks_min_refetch`) for an unknown `kid`;
    /// the last good keys stay while the endpoint is down.
    #[serde(default)]
    pub jwks_url: Option<Located<String>>,
    /// Default 5m.
    #[serde(default)]
    pub jwks_refresh: Option<DurationText>,
    /// Default 10s.
    #[serde(default)]
    pub jwks_min_refetch: Option<DurationText>,
    /// The `iss` a token must have.
    #[serde(default)]
    pub issuer: Option<Located<String>>,
    /// The `aud` a token must have (one of these).
    #[serde(default)]
    pub audience: Vec<Located<String>>,
    /// Clock leeway for `exp` and `nbf`; at most 60s (default 30s).
    #[serde(default)]
    pub leeway: Option<Located<DurationText>>,
    /// Refuse tokens without `exp` (default true).
    #[serde(default = "yes")]
    pub require_exp: bool,
    /// The claim that names the consumer (default `sub`). A consumer of that id in
    /// `consumers` lends its plan and metadata; the token's claims join its metadata.
    #[serde(default)]
    pub consumer_claim: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyConfig {
    /// The key id tokens name in `kid` (a key without one is tried for tokens without `kid`).
    #[serde(default)]
    pub kid: Option<String>,
    /// An HMAC secret, as `${ENV_VAR}` or `file:PATH`.
    #[serde(default)]
    pub secret: Option<Located<String>>,
    /// A PEM file with an RSA, EC or Ed25519 public key (relative to gateway.yaml).
    #[serde(default)]
    pub pem_file: Option<Located<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    /// How far the request's `Date` (or `X-Date`) may be from the gateway's clock (default
    /// 300s); a signature is accepted once within twice this window.
    #[serde(default)]
    pub clock_skew: Option<DurationText>,
    /// Headers every signature must cover besides `(request-target)`, `date` and, for a
    /// request with a body, `digest`.
    #[serde(default)]
    pub headers: Vec<String>,
}

/// A consumer: its credentials (API keys hashed, secrets by reference), plan and metadata.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    #[serde(default)]
    pub plan: Option<Located<String>>,
    /// Anything to forward or to read in composed endpoints (`consumer.metadata...`).
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// API keys, stored hashed: `sha256:<64 hex digits>` (`printf %s KEY | sha256sum`), or
    /// the key itself as `${ENV_VAR}` or `file:PATH` (hashed at load).
    #[serde(default)]
    pub api_keys: Vec<Located<String>>,
    #[serde(default)]
    pub basic: Option<BasicCredential>,
    #[serde(default)]
    pub hmac: Vec<HmacCredential>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicCredential {
    pub username: Located<String>,
    /// `sha256:<hex>`, or `${ENV_VAR}` or `file:PATH`.
    pub password: Located<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacCredential {
    /// The `keyId` signatures name.
    pub key_id: Located<String>,
    /// `${ENV_VAR}` or `file:PATH`.
    pub secret: Located<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    /// The methods the plan's consumers may call: full names, unique tails, or prefixes
    /// ending in `*` (`demo.v1.Users.*`). Empty: every method.
    #[serde(default)]
    pub allow: Vec<Located<String>>,
    /// Limits for the plan's consumers, besides the mapping's (`key` is usually `consumer`).
    #[serde(default)]
    pub rate_limits: Vec<Located<LimitConfig>>,
}

/// Which authenticators a mapping's calls need.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthOptions {
    /// Authenticator names; a request is let in by any one of them.
    pub any_of: Vec<Located<String>>,
    /// Methods served without authentication (full names or unique tails).
    #[serde(default)]
    pub public: Vec<Located<String>>,
    /// A header (metadata) that tells the backend the consumer's id.
    #[serde(default)]
    pub forward_consumer: Option<Located<String>>,
    /// Consumer metadata or token claims forwarded as headers: claim -> header.
    #[serde(default)]
    pub forward_claims: BTreeMap<String, Located<String>>,
}

fn default_listen() -> Located<String> {
    Located::unplaced("127.0.0.1:8080".into())
}

fn default_mappings() -> Vec<Located<String>> {
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

/// Which client addresses may call (the address as rate limits see it: through
/// `rate_limiting.trusted_proxies`). Deny wins; with `allow`, only those.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IpRules {
    /// Addresses or CIDR blocks.
    #[serde(default)]
    pub allow: Vec<Located<String>>,
    #[serde(default)]
    pub deny: Vec<Located<String>>,
}

/// Cross-origin requests from browsers: the policy of every route without one of its own.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins (`https://app.example`), or `*` for any (not with `allow_credentials`).
    pub allow_origins: Vec<Located<String>>,
    /// Default: GET, POST, PUT, PATCH, DELETE.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Default: the headers the preflight asks for.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: bool,
    /// How long a browser may remember a preflight's answer.
    #[serde(default)]
    pub max_age: Option<DurationText>,
}

fn default_max_body() -> ByteSize {
    ByteSize(4 << 20)
}

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

/// The protocol a mapping serves to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FrontendProtocol {
    /// REST/JSON over HTTP, routed by `google.api.http` rules.
    Rest,
    /// GraphQL over HTTP (and WebSocket and SSE for subscriptions), with a schema generated
    /// from the backend's operations.
    Graphql,
    /// gRPC and gRPC-Web on the gateway's listener, with server reflection and health.
    Grpc,
    /// SOAP 1.1 and 1.2 at `/soap/{Service}`, with a generated WSDL at `?wsdl`.
    Soap,
}

/// A mapping file: one API, pairing a frontend with a backend's operations.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Version of this file's format. Must be `1`.
    pub version: Located<u32>,
    /// What clients speak.
    pub frontend: Located<FrontendProtocol>,
    /// Where calls go (not for `compose` mappings, whose steps call other mappings' methods).
    #[serde(default)]
    pub backend: BackendRef,
    /// Authentication of this mapping's calls (instead of gateway.yaml's `auth`).
    #[serde(default)]
    pub auth: Option<AuthOptions>,
    /// Rate limits of this mapping's calls (instead of gateway.yaml's `rate_limits`).
    #[serde(default)]
    pub rate_limits: Option<Vec<Located<LimitConfig>>>,
    /// Caching of this mapping's reads.
    #[serde(default)]
    pub cache: Option<Located<CacheOptions>>,
    /// Client addresses allowed or denied (instead of gateway.yaml's `ip_rules`).
    #[serde(default)]
    pub ip_rules: Option<IpRules>,
    /// Checks of the input messages before they reach the backend.
    #[serde(default)]
    pub validation: Option<ValidationConfig>,
    /// Injection filtering of the input messages' string fields (instead of gateway.yaml's
    /// `injection`).
    #[serde(default)]
    pub injection: Option<InjectionConfig>,
    /// Changes to headers and message fields on the way in and out.
    #[serde(default)]
    pub transforms: Vec<Located<TransformConfig>>,
    /// Cross-origin requests from browsers (instead of gateway.yaml's `cors`).
    #[serde(default)]
    pub cors: Option<Located<CorsConfig>>,
    /// Stages of single methods (full names or unique tails), in place of the mapping's.
    #[serde(default)]
    pub routes: BTreeMap<String, Located<RouteConfig>>,
    /// Schema files: `.proto` paths relative to an include directory, or `.pb` descriptor sets
    /// relative to this file. Not used with a SOAP backend (its WSDL is the schema).
    #[serde(default)]
    pub schemas: Vec<Located<String>>,
    /// Fully-qualified names of the services to expose (e.g. `demo.v1.Users`). With a SOAP
    /// backend: its WSDL service.
    #[serde(default)]
    pub services: Vec<Located<String>>,
    /// Options of the frontend: all of them for REST; `forward_headers` and `timeout` for
    /// GraphQL too.
    #[serde(default)]
    pub options: RestOptions,
    /// Options of the GraphQL frontend (`frontend: graphql`).
    #[serde(default)]
    pub graphql: Option<GraphqlOptions>,
    /// The API version this mapping's REST routes serve, chosen by a request header, a query
    /// parameter or a media-type parameter of `Accept`. Mappings may then serve the same routes
    /// for different versions.
    #[serde(default)]
    pub api_version: Option<ApiVersion>,
    /// Announce the mapping's REST routes as deprecated (`Deprecation`, `Sunset` and `Link`
    /// response headers).
    #[serde(default)]
    pub deprecated: Option<Deprecation>,
    /// An operation whose response is assembled from calls to operations the gateway serves
    /// (of any backend), instead of serving a schema's operations. Any frontend serves it.
    #[serde(default)]
    pub compose: Option<ComposeOptions>,
    /// Relay requests under a path to an HTTP backend as they are (a reverse proxy), instead
    /// of serving a schema's operations. Only with `frontend: rest`.
    #[serde(default)]
    pub proxy: Option<ProxyOptions>,
    /// HTTP rules that override or add to the `google.api.http` annotations, per method.
    #[serde(default)]
    pub rules: Vec<HttpRuleConfig>,
}

/// The stages of one method: each setting given here replaces the mapping's (or
/// gateway.yaml's) for this method; what is left out stays as the mapping says.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(default)]
    pub auth: Option<AuthOptions>,
    #[serde(default)]
    pub rate_limits: Option<Vec<Located<LimitConfig>>>,
    /// The method's cache (`methods` has no place here).
    #[serde(default)]
    pub cache: Option<Located<CacheOptions>>,
    #[serde(default)]
    pub ip_rules: Option<IpRules>,
    /// Only for REST and gRPC(-Web) frontends, where a request's path names its method.
    #[serde(default)]
    pub cors: Option<Located<CorsConfig>>,
}

/// The backend of a mapping: a backend named in `gateway.yaml`, or one written here.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendRef {
    /// The name of a backend in `gateway.yaml`.
    #[serde(default, rename = "use")]
    pub use_name: Option<Located<String>>,
    /// The protocol, when the backend is written here.
    #[serde(default)]
    pub protocol: Option<Located<BackendProtocol>>,
    /// The address, when the backend is written here. `${ENV_VAR}` is expanded.
    #[serde(default)]
    pub address: Option<Located<String>>,
    /// TLS, when the backend is written here.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Per-call deadline; with `use`, it overrides the named backend's.
    #[serde(default)]
    pub timeout: Option<DurationText>,
    /// For `protocol: soap` written here: the WSDL and how to call the service.
    #[serde(default)]
    pub soap: Option<SoapConfig>,
    /// For `protocol: rest` written here: the OpenAPI document of the API.
    #[serde(default)]
    pub openapi: Option<Located<String>>,
    /// For a REST backend: how each method is called, as HTTP rules (default: the method's
    /// `google.api.http` annotation).
    #[serde(default)]
    pub rules: Vec<HttpRuleConfig>,
    /// For a GraphQL backend: the document each method sends, by method (full name or unique
    /// tail).
    #[serde(default)]
    pub documents: BTreeMap<String, GraphqlDocument>,
}

/// How a method calls a GraphQL backend: its variables are the input message's fields, its
/// output the JSON at `result` under `data`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphqlDocument {
    /// The operation, with a variable per input field it uses (`query($id: ID!) { ... }`).
    pub query: Located<String>,
    /// Where the output message is under `data`, as dotted response keys (default: the one
    /// root field).
    #[serde(default)]
    pub result: Option<String>,
}

/// Options of the REST frontend (design.md section 3).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestOptions {
    /// Write JSON with the proto field names (`created_at`) instead of lowerCamelCase.
    #[serde(default)]
    pub proto_field_names: bool,
    /// Write fields that hold their default value (0, "", false, empty lists). Default:
    /// off, except with a SOAP backend (where a repeated element is always an array).
    #[serde(default)]
    pub emit_defaults: Option<bool>,
    /// Write enums as numbers instead of names.
    #[serde(default)]
    pub enums_as_numbers: bool,
    /// Refuse request bodies with unknown JSON fields (400 naming the field).
    #[serde(default)]
    pub strict: bool,
    /// Ignore query parameters that name no field instead of refusing them with 400.
    #[serde(default)]
    pub ignore_unknown_query_params: bool,
    /// Serve methods without an HTTP rule at `POST /{package.Service}/{Method}`.
    #[serde(default = "yes")]
    pub auto_routes: bool,
    /// Request headers forwarded to the backend as metadata. `grpc-metadata-*` headers are
    /// always forwarded with the prefix removed.
    #[serde(default = "default_forward_headers")]
    pub forward_headers: Vec<String>,
    /// Deadline of every route of this mapping, unless a rule sets its own.
    #[serde(default)]
    pub timeout: Option<DurationText>,
    /// Put before the path of every route of this mapping (e.g. `/v2`, to serve a second
    /// version of an API beside the first).
    #[serde(default)]
    pub path_prefix: Option<Located<String>>,
}

impl Default for RestOptions {
    fn default() -> Self {
        RestOptions {
            proto_field_names: false,
            emit_defaults: None,
            enums_as_numbers: false,
            strict: false,
            ignore_unknown_query_params: false,
            auto_routes: true,
            forward_headers: default_forward_headers(),
            timeout: None,
            path_prefix: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_forward_headers() -> Vec<String> {
    ["authorization", "x-request-id", "traceparent", "tracestate"]
        .map(String::from)
        .to_vec()
}

/// Options of the GraphQL frontend (design.md section 4). Mappings served at the same `path`
/// share one schema; of their limits the strictest applies.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphqlOptions {
    /// Where the endpoint is served; the SDL is at `{path}/schema.graphql`.
    #[serde(default = "default_graphql_path")]
    pub path: Located<String>,
    /// Put before every root field name of this mapping (`users_` gives `users_getUser`).
    #[serde(default)]
    pub prefix: Option<Located<String>>,
    /// Per method (a full name or a unique tail such as `Users.GetUser`): its root type and
    /// field mask.
    #[serde(default)]
    pub methods: BTreeMap<String, GraphqlMethodOptions>,
    /// Methods left out of the schema (full names or unique tails). Methods that stream
    /// requests, which GraphQL cannot express, are left out with a warning unless listed here.
    #[serde(default)]
    pub exclude: Vec<Located<String>>,
    /// Fields added to generated types, resolved by another operation of the endpoint with
    /// arguments from the parent (batched per request).
    #[serde(default)]
    pub joins: Vec<GraphqlJoin>,
    /// Map fields as the `JSON` scalar instead of lists of key/value entries.
    #[serde(default)]
    pub maps_as_json: bool,
    /// Deepest selection nesting allowed.
    #[serde(default = "default_graphql_depth")]
    pub max_depth: usize,
    /// Largest complexity allowed (each field selected counts 1).
    #[serde(default = "default_graphql_complexity")]
    pub max_complexity: usize,
    /// Most aliases one document may use.
    #[serde(default = "default_graphql_aliases")]
    pub max_aliases: usize,
    /// Largest request (body, or query string of a GET) accepted; default: `limits.max_body_size`.
    #[serde(default)]
    pub max_request_size: Option<ByteSize>,
    /// Answer introspection queries (`__schema`, `__type`).
    #[serde(default = "yes")]
    pub introspection: bool,
    /// Accept automatic persisted queries (`extensions.persistedQuery.sha256Hash`).
    #[serde(default = "yes")]
    pub persisted_queries: bool,
    /// How long a graphql-transport-ws socket may take to send `connection_init` before it is
    /// closed with 4408 (graphql-ws's default).
    #[serde(default = "default_websocket_init_timeout")]
    pub websocket_init_timeout: DurationText,
    /// Most subscriptions running at once on one WebSocket; one more is answered with an
    /// `error` message.
    #[serde(default = "default_socket_subscriptions")]
    pub max_socket_subscriptions: usize,
}

impl Default for GraphqlOptions {
    fn default() -> Self {
        GraphqlOptions {
            path: default_graphql_path(),
            prefix: None,
            methods: BTreeMap::new(),
            exclude: Vec::new(),
            joins: Vec::new(),
            maps_as_json: false,
            max_depth: default_graphql_depth(),
            max_complexity: default_graphql_complexity(),
            max_aliases: default_graphql_aliases(),
            max_request_size: None,
            introspection: true,
            persisted_queries: true,
            websocket_init_timeout: default_websocket_init_timeout(),
            max_socket_subscriptions: default_socket_subscriptions(),
        }
    }
}

fn default_websocket_init_timeout() -> DurationText {
    DurationText(Duration::from_secs(3))
}

fn default_socket_subscriptions() -> usize {
    100
}

fn default_graphql_path() -> Located<String> {
    Located::unplaced("/graphql".to_owned())
}

fn default_graphql_depth() -> usize {
    15
}

fn default_graphql_complexity() -> usize {
    1000
}

fn default_graphql_aliases() -> usize {
    30
}

/// A field added to a generated GraphQL type (`demo_v1_User.orders`), resolved by a method of
/// the same endpoint: one call per parent (`method` with `arguments`), or one call for all the
/// parents of a request (`batch`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphqlJoin {
    /// The GraphQL type that gets the field.
    pub on: Located<String>,
    /// The new field's name.
    pub field: Located<String>,
    /// A method called once per parent.
    #[serde(default)]
    pub method: Option<Located<String>>,
    /// For `method`: its input fields (JSON names), each taken from a field of the parent.
    #[serde(default)]
    pub arguments: BTreeMap<String, Located<String>>,
    /// A method called once for all the parents of a request.
    #[serde(default)]
    pub batch: Option<GraphqlBatch>,
}

/// A batch method: the parents' keys in one repeated input field, results matched back to
/// parents by a key field of each item (never by position).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphqlBatch {
    /// The method (full name or unique tail).
    pub method: Located<String>,
    /// The repeated input field that takes the keys.
    pub keys: Located<String>,
    /// The parent's field that gives its key.
    pub from: Located<String>,
    /// The repeated output field that holds the results.
    pub items: Located<String>,
    /// The field of a result that holds its parent's key.
    pub key: Located<String>,
}

/// How one method appears in the GraphQL schema.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphqlMethodOptions {
    /// The root type of its field (default: by name, design.md section 4; server streaming is always a
    /// subscription).
    #[serde(default)]
    pub root: Option<Located<GraphqlRoot>>,
    /// A `google.protobuf.FieldMask` field of the request, filled with the paths of the fields
    /// the query selects.
    #[serde(default)]
    pub field_mask: Option<Located<String>>,
}

/// A GraphQL root operation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GraphqlRoot {
    Query,
    Mutation,
}

/// A composed endpoint: steps that call operations (concurrently where they do not depend on
/// each other), and a response assembled from their results. Inputs and the response are
/// JMESPath expressions over `{path, query, headers, body, steps}` (and `item` in a fan-out).
/// It is served as a method with typed messages: `operation` of `service`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeOptions {
    /// The full name of the service it belongs to (default: from the mapping file's name,
    /// `rosetta.compose.mobile_bff.MobileBff` for `mobile-bff.yaml`).
    #[serde(default)]
    pub service: Option<Located<String>>,
    /// The method's name (default: from the HTTP method and the path's last word, e.g.
    /// `GetProfile` for `GET /bff/profile/{id}`).
    #[serde(default)]
    pub operation: Option<Located<String>>,
    /// `GET`, `POST`, ...
    pub method: Located<String>,
    /// The path, with `{name}` variables (`/bff/users/{id}`).
    pub path: Located<String>,
    /// Deadline of the whole request (a request's `grpc-timeout` can shorten it).
    #[serde(default)]
    pub timeout: Option<DurationText>,
    pub steps: Vec<ComposeStep>,
    /// Each response field (in this order) and the expression that gives it.
    pub response: indexmap::IndexMap<String, Located<String>>,
}

/// One call of a composed endpoint.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeStep {
    /// The step's name: its result is `steps.<name>`.
    pub name: Located<String>,
    /// A method some mapping of the gateway serves (full name or unique tail).
    pub call: Located<String>,
    /// Each input field (JSON name) and the expression that gives it.
    #[serde(default)]
    pub input: BTreeMap<String, Located<String>>,
    /// Call once per element of this list (each element is `item` in the inputs); the result
    /// is the list of results.
    #[serde(default)]
    pub for_each: Option<Located<String>>,
    /// Make the fan-out one call of `call`, a batch method: the `for_each` elements go in the
    /// request's list field `keys`, and each element's result is the item of the reply's list
    /// `items` whose field `key` equals it (null when there is none).
    #[serde(default)]
    pub batch: Option<ComposeBatch>,
    /// A failing optional step leaves its result null and the response lists it under
    /// `errors`; a failing required step fails the request.
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub timeout: Option<DurationText>,
}

/// How a batch method takes keys and answers with items.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeBatch {
    /// The request's repeated field that takes the keys.
    pub keys: Located<String>,
    /// The reply's repeated message field with the items.
    pub items: Located<String>,
    /// The field of an item that holds its key.
    pub key: Located<String>,
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

/// Which requests a mapping's routes serve: those whose version (from exactly one of
/// `header`, `query` or `media_type`) is `value`; a mapping without `api_version` serves
/// requests that name no version. A version nobody serves is a 404.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiVersion {
    pub value: Located<String>,
    /// A request header, e.g. `Accept-Version`.
    #[serde(default)]
    pub header: Option<Located<String>>,
    /// A query parameter, e.g. `version`.
    #[serde(default)]
    pub query: Option<Located<String>>,
    /// A parameter of the `Accept` media type, e.g. `version` in
    /// `application/json; version=2`.
    #[serde(default)]
    pub media_type: Option<Located<String>>,
}

/// Deprecation of a mapping's routes (RFC 9745 `Deprecation`, RFC 8594 `Sunset`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deprecation {
    /// Since when (RFC 3339 date or time, e.g. `2026-01-01`).
    pub since: Located<String>,
    /// When the routes go away.
    #[serde(default)]
    pub sunset: Option<Located<String>>,
    /// Where to read about it (a `Link` with `rel="deprecation"`).
    #[serde(default)]
    pub link: Option<Located<String>>,
}

/// A reverse proxy: requests under `path` go to the backend's address with the rest of their
/// path, method, query, headers and body; the response comes back as it is.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyOptions {
    /// The path prefix served (`/shop` serves `/shop` and everything below it).
    pub path: Located<String>,
    /// Changes to the request's headers on the way to the backend.
    #[serde(default)]
    pub request_headers: Edits<String>,
    /// Changes to the response's headers on the way back.
    #[serde(default)]
    pub response_headers: Edits<String>,
}

/// How a rule in a mapping combines with the method's own annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleMode {
    /// The rule replaces the method's `google.api.http` annotation.
    #[default]
    Replace,
    /// The rule's bindings are served in addition to the annotation's.
    Add,
}

/// An HTTP rule in the form of `google.api.HttpRule`, as in a gRPC API configuration file.
/// Exactly one of `get`, `put`, `post`, `delete`, `patch`, `custom` is set.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRuleConfig {
    /// The method, `package.Service.Method`. Only on top-level rules.
    #[serde(default)]
    pub selector: Option<Located<String>>,
    /// Replace the annotation (default) or add to it. Only on top-level rules.
    #[serde(default)]
    pub mode: Option<RuleMode>,
    /// Deadline for this method's routes. Only on top-level rules.
    #[serde(default)]
    pub timeout: Option<DurationText>,
    /// Path template served with HTTP GET.
    #[serde(default)]
    pub get: Option<Located<String>>,
    /// Path template served with HTTP PUT.
    #[serde(default)]
    pub put: Option<Located<String>>,
    /// Path template served with HTTP POST.
    #[serde(default)]
    pub post: Option<Located<String>>,
    /// Path template served with HTTP DELETE.
    #[serde(default)]
    pub delete: Option<Located<String>>,
    /// Path template served with HTTP PATCH.
    #[serde(default)]
    pub patch: Option<Located<String>>,
    /// Any other HTTP method.
    #[serde(default)]
    pub custom: Option<CustomPatternConfig>,
    /// `*` for the whole request message, a field name for one field, or absent for none.
    #[serde(default)]
    pub body: Option<Located<String>>,
    /// A field of the response message to send as the whole HTTP body.
    #[serde(default)]
    pub response_body: Option<Located<String>>,
    /// Only in a REST backend's `backend.rules`: input fields sent as request headers, by
    /// header name (`x-tenant: tenant_id`).
    #[serde(default)]
    pub headers: BTreeMap<String, Located<String>>,
    /// More bindings for the same method. Only on top-level rules.
    #[serde(default)]
    pub additional_bindings: Vec<HttpRuleConfig>,
}

/// An HTTP method other than the five named ones.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomPatternConfig {
    /// The HTTP method, e.g. `HEAD` or `OPTIONS`.
    pub kind: Located<String>,
    /// The path template.
    pub path: Located<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("4MiB"), Some(4 << 20));
        assert_eq!(parse_byte_size("10 KB"), Some(10_000));
        assert_eq!(parse_byte_size("12"), Some(12));
        assert_eq!(parse_byte_size("4 parsecs"), None);
    }
}
