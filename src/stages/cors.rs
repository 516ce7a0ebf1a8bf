//! CORS (design.md section 7): tower-http's layer, with the policy of the route a request
//! goes to. A policy is written in gateway.yaml, a mapping or one of its `routes`; the nearest
//! one applies. It acts on HTTP requests, before a frontend decodes a call, because a
//! preflight must be answered without calling anything.

use std::sync::Arc;

use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::config::{
    pos_in, CorsConfig, Diagnostic, Diagnostics, FrontendProtocol, LoadedConfig, LoadedMapping,
    Located,
};
use crate::stages::{PerMethod, Routes};

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
pub(crate) struct CorsPolicies {
    gateway: Option<CorsPolicy>,
}

impl CorsPolicies {
    pub(crate) fn new(config: &LoadedConfig, diags: &mut Diagnostics) -> CorsPolicies {
        let gateway = config.gateway.cors.as_ref();
        CorsPolicies {
            gateway: gateway.and_then(|cors| policy(&config.gateway_file, cors, diags)),
        }
    }

    /// gateway.yaml's policy: for requests no mapping serves.
    pub(crate) fn gateway(&self) -> Option<CorsPolicy> {
        self.gateway.clone()
    }

    /// The policies of `mapping` and its `routes`. Only REST and gRPC requests name their
    /// method in the path (a preflight carries nothing else), so only those mappings can have
    /// a policy per route.
    pub(crate) fn of_mapping(
        &self,
        mapping: &LoadedMapping,
        routes: &Routes<'_>,
        diags: &mut Diagnostics,
    ) -> PerMethod<Option<CorsPolicy>> {
        let own = mapping.config.cors.as_ref();
        let per_route = matches!(
            mapping.config.frontend.value,
            FrontendProtocol::Rest | FrontendProtocol::Grpc
        ) && mapping.config.proxy.is_none();
        let mut policies = PerMethod::new(match own {
            Some(cors) => policy(&mapping.file, cors, diags),
            None => self.gateway(),
        });
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
            policies.set(method.full_name(), policy(&mapping.file, cors, diags));
        }
        policies
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
