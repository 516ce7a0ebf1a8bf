//! CORS (conventions section 7): tower-http's layer, with the policy of the route a request
//! goes to. A policy is written in gateway.yaml, a mapping or one of its `routes`; the nearest
//! one applies. It acts on HTTP requests, before a frontend decodes a call, because a
//! preflight must be answered without calling anything.

use std::collections::HashMap;
use std::sync::Arc;

use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::config::{
    pos_in, CorsConfig, Diagnostic, Diagnostics, FrontendProtocol, LoadedConfig, LoadedMapping,
    Located, Pos,
};
use crate::stages::Routes;

/// One `cors` as a layer; policies are equal when they are the same `cors` entry.
#[derive(Clone)]
pub struct CorsPolicy {
    /// Where it is written.
    id: (Arc<str>, u64, u64),
    pub layer: CorsLayer,
}

impl PartialEq for CorsPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl std::fmt::Debug for CorsPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CorsPolicy({}:{}:{})", self.id.0, self.id.1, self.id.2)
    }
}

/// gateway.yaml's policy, and the start of every mapping's.
pub struct CorsPolicies {
    gateway: Option<CorsPolicy>,
}

/// The policies of one mapping: its own (or gateway.yaml's), and its routes'.
#[derive(Clone, Default)]
pub struct MappingCors {
    pub mapping: Option<CorsPolicy>,
    by_method: HashMap<String, Option<CorsPolicy>>,
}

impl MappingCors {
    /// The policy of a method of the mapping.
    pub fn of(&self, method: &str) -> Option<CorsPolicy> {
        match self.by_method.get(method) {
            Some(policy) => policy.clone(),
            None => self.mapping.clone(),
        }
    }
}

impl CorsPolicies {
    pub fn new(config: &LoadedConfig, diags: &mut Diagnostics) -> CorsPolicies {
        let gateway = config.gateway.cors.as_ref();
        CorsPolicies {
            gateway: gateway.and_then(|cors| policy(&config.gateway_file, cors, diags)),
        }
    }

    /// Whether gateway.yaml, a mapping or a route has a policy.
    pub fn any(config: &LoadedConfig) -> bool {
        let routes = |m: &LoadedMapping| m.config.routes.values().any(|r| r.cors.is_some());
        config.gateway.cors.is_some()
            || (config.mappings.iter()).any(|m| m.config.cors.is_some() || routes(m))
    }

    /// gateway.yaml's policy: for requests no mapping serves.
    pub fn gateway(&self) -> Option<CorsPolicy> {
        self.gateway.clone()
    }

    /// The policies of `mapping` and its `routes`. Only REST and gRPC requests name their
    /// method in the path (a preflight carries nothing else), so only those mappings can have
    /// a policy per route.
    pub fn of_mapping(
        &self,
        mapping: &LoadedMapping,
        routes: &Routes<'_>,
        diags: &mut Diagnostics,
    ) -> MappingCors {
        let own = mapping.config.cors.as_ref();
        let per_route = matches!(
            mapping.config.frontend.value,
            FrontendProtocol::Rest | FrontendProtocol::Grpc
        ) && mapping.config.proxy.is_none();
        let mut by_method = HashMap::new();
        for (method, route) in routes {
            let Some(cors) = &route.cors else { continue };
            if !per_route {
                diags.push(Diagnostic::at(
                    &mapping.pos(cors),
                    "this frontend serves its methods at one path, so a browser's preflight \
                     names no method: set `cors` on the mapping",
                ));
                continue;
            }
            let policy = policy(&mapping.file, cors, diags);
            by_method.insert(method.full_name().to_owned(), policy);
        }
        MappingCors {
            mapping: match own {
                Some(cors) => policy(&mapping.file, cors, diags),
                None => self.gateway(),
            },
            by_method,
        }
    }
}

/// The policies of the frontends whose paths are fixed (GraphQL and SOAP endpoints, gRPC
/// methods, proxies), by path; REST routes carry their own.
#[derive(Clone, Default)]
pub struct CorsByPath {
    /// Whether any policy is written at all: without one, requests are not looked up.
    pub used: bool,
    pub gateway: Option<CorsPolicy>,
    paths: HashMap<String, (Option<CorsPolicy>, Pos)>,
}

impl CorsByPath {
    /// `path`, served by the mapping at `at`, answers with `policy`; mappings that share a
    /// path (a GraphQL endpoint) must share the policy too.
    pub fn insert(
        &mut self,
        path: String,
        policy: Option<CorsPolicy>,
        at: Pos,
        diags: &mut Diagnostics,
    ) {
        match self.paths.get(&path) {
            Some((other, _)) if *other == policy => {}
            Some((_, other_at)) => diags.push(
                Diagnostic::at(
                    &at,
                    format!("mappings served at {path} have different `cors`: give them one"),
                )
                .with_related(Diagnostic::at(other_at, "the other mapping is here")),
            ),
            None => {
                self.paths.insert(path, (policy, at));
            }
        }
    }

    /// The policy of a fixed path: `None` when no such path is served, `Some(None)` when it
    /// has no CORS.
    pub fn at(&self, path: &str) -> Option<Option<&CorsPolicy>> {
        self.paths.get(path).map(|(policy, _)| policy.as_ref())
    }
}

fn policy(
    file: &Arc<str>,
    cors: &Located<CorsConfig>,
    diags: &mut Diagnostics,
) -> Option<CorsPolicy> {
    Some(CorsPolicy {
        id: (file.clone(), cors.line, cors.column),
        layer: layer(file, cors, diags)?,
    })
}

/// The layer of a `cors` written in `file`; `*` with credentials is refused (browsers would
/// refuse it too, and a list of origins is what was meant).
fn layer(
    file: &Arc<str>,
    cors: &Located<CorsConfig>,
    diags: &mut Diagnostics,
) -> Option<CorsLayer> {
    let any = cors.allow_origins.iter().any(|o| o.value == "*");
    if any && cors.allow_credentials {
        diags.push(Diagnostic::at(
            &pos_in(file, cors),
            "`allow_origins: [\"*\"]` cannot go with `allow_credentials`: list the origins",
        ));
        return None;
    }
    let mut origins = Vec::new();
    for origin in &cors.allow_origins {
        match http::HeaderValue::from_str(&origin.value) {
            Ok(value) if origin.value.contains("://") || origin.value == "*" => origins.push(value),
            _ => diags.push(Diagnostic::at(
                &pos_in(file, origin),
                format!(
                    "`{}` is not an origin such as https://app.example",
                    origin.value
                ),
            )),
        }
    }
    let names = |list: &[String], diags: &mut Diagnostics| -> Vec<http::HeaderName> {
        list.iter()
            .filter_map(|name| {
                http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                    .map_err(|_| {
                        diags.push(Diagnostic::at(
                            &pos_in(file, cors),
                            format!("`{name}` is not a header name"),
                        ))
                    })
                    .ok()
            })
            .collect()
    };
    let methods: Vec<http::Method> = if cors.allow_methods.is_empty() {
        ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .iter()
            .filter_map(|m| m.parse().ok())
            .collect()
    } else {
        cors.allow_methods
            .iter()
            .filter_map(|m| m.to_ascii_uppercase().parse().ok())
            .collect()
    };
    let mut layer = CorsLayer::new()
        .allow_origin(if any {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origins)
        })
        .allow_methods(methods)
        .allow_headers(if cors.allow_headers.is_empty() {
            AllowHeaders::mirror_request()
        } else {
            AllowHeaders::list(names(&cors.allow_headers, diags))
        })
        .expose_headers(names(&cors.expose_headers, diags))
        .allow_credentials(cors.allow_credentials);
    if let Some(max_age) = cors.max_age {
        layer = layer.max_age(max_age.0);
    }
    Some(layer)
}
