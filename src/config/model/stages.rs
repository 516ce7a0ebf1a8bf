//! The settings of the stages, in gateway.yaml and in mappings.

use super::*;

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
