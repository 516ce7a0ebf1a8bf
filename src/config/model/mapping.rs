//! A mapping file and its frontends' options.

use super::*;

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
