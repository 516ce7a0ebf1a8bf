//! Routes: HTTP rules (from `google.api.http` annotations and mapping files) resolved against
//! the descriptors, ready to transcode.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use prost_reflect::{FieldDescriptor, SerializeOptions};

use crate::call::Invoker;
use crate::config::{Pos, RestOptions};
use crate::http_rule::template::PathTemplate;
use crate::http_rule::BodyBinding;
use crate::protojson::{JsonOptions, Plan};
use crate::registry::Operation;

/// Per-mapping settings every route of the mapping shares.
#[derive(Debug)]
pub struct MappingSettings {
    pub json: JsonOptions,
    /// The same options for the `DynamicMessage` path.
    pub serialize: SerializeOptions,
    pub proto_field_names: bool,
    pub strict: bool,
    pub ignore_unknown_query_params: bool,
    /// Query parameters that carry credentials (an API key): not fields of the input.
    pub credential_query: Vec<String>,
    pub forward_headers: Vec<HeaderName>,
    /// The API version the mapping's routes serve (`api_version`).
    pub api_version: Option<VersionMatch>,
    /// Headers every response of the mapping's routes carries (`deprecated`).
    pub response_headers: Vec<(HeaderName, http::HeaderValue)>,
    /// Reply metadata the mapping's transforms write: sent as these headers, not as
    /// `grpc-metadata-*` (the prefixed name, then the header).
    pub plain_headers: Vec<(HeaderName, HeaderName)>,
}

/// `plain_headers` for reply metadata sent as these headers.
pub(crate) fn plain_headers(names: Vec<HeaderName>) -> Vec<(HeaderName, HeaderName)> {
    names
        .into_iter()
        .filter_map(|name| {
            let prefixed = HeaderName::from_bytes(format!("grpc-metadata-{name}").as_bytes());
            Some((prefixed.ok()?, name))
        })
        .collect()
}

/// Where a request names its API version, and the version a mapping serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMatch {
    pub value: String,
    pub source: VersionSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    Header(HeaderName),
    Query(String),
    /// A parameter of the `Accept` header's media type.
    MediaType(String),
}

impl VersionSource {
    /// The version a request names this way, if it does.
    pub fn read(&self, parts: &http::request::Parts) -> Option<String> {
        match self {
            VersionSource::Header(name) => parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned()),
            VersionSource::Query(name) => crate::query_string::pairs(parts.uri.query()?)
                .flatten()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
            VersionSource::MediaType(name) => {
                let accept = parts.headers.get(http::header::ACCEPT)?.to_str().ok()?;
                accept.split([',', ';']).find_map(|part| {
                    let (key, value) = part.split_once('=')?;
                    (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
                })
            }
        }
    }
}

impl MappingSettings {
    /// `emit_defaults` is the default of the option of that name: the backend decides it (a
    /// SOAP backend writes repeated elements as arrays also when empty).
    pub fn new(options: &RestOptions, emit_defaults: bool) -> Self {
        let emit_defaults = options.emit_defaults.unwrap_or(emit_defaults);
        MappingSettings {
            json: JsonOptions {
                proto_field_names: options.proto_field_names,
                emit_defaults,
                enums_as_numbers: options.enums_as_numbers,
                deny_unknown_fields: options.strict,
            },
            serialize: SerializeOptions::new()
                .use_proto_field_name(options.proto_field_names)
                .skip_default_fields(!emit_defaults)
                .use_enum_numbers(options.enums_as_numbers)
                .stringify_64_bit_integers(true),
            proto_field_names: options.proto_field_names,
            strict: options.strict,
            ignore_unknown_query_params: options.ignore_unknown_query_params,
            credential_query: Vec::new(),
            api_version: None,
            response_headers: Vec::new(),
            plain_headers: Vec::new(),
            forward_headers: options
                .forward_headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).ok())
                .collect(),
        }
    }
}

pub struct Route {
    pub operation: Arc<Operation>,
    pub http_method: Method,
    pub template: PathTemplate,
    /// The resolved fields of each template variable, in the same order.
    pub variable_fields: Vec<Vec<FieldDescriptor>>,
    pub body: BodyBinding,
    pub response_body: Option<FieldDescriptor>,
    pub timeout: Option<Duration>,
    pub mapping: Arc<MappingSettings>,
    /// JSON plans of the input and output types, for the direct transcoder.
    pub request_plan: Arc<Plan>,
    pub response_plan: Arc<Plan>,
    pub invoker: Invoker,
    /// The same route (method and template) of other mappings, for other API versions.
    pub versions: Vec<Arc<Route>>,
    /// Where the rule was written.
    pub origin: Pos,
    /// The route's IP gate and CORS policy (the route's, the mapping's or gateway.yaml's).
    pub guard: Arc<crate::stages::guard::Guard>,
}

impl Route {
    /// Whether a field path is (inside) a field bound by a path variable.
    pub fn path_bound(&self, path: &[FieldDescriptor]) -> bool {
        self.variable_fields
            .iter()
            .any(|bound| path.starts_with(bound) || bound.starts_with(path))
    }

    /// Whether a field path is filled from the body.
    pub fn body_bound(&self, path: &[FieldDescriptor]) -> bool {
        match &self.body {
            BodyBinding::None => false,
            BodyBinding::Whole => true,
            BodyBinding::Field(body) => path.starts_with(body) || body.starts_with(path),
        }
    }

    pub fn describe(&self) -> String {
        format!("{} {}", self.http_method, self.template)
    }
}
