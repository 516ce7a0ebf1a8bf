//! What answers an HTTP request before a frontend decodes it, in the order of design.md
//! section 7: the IP gate (a client refused by every rule set at the path), then CORS. Each
//! served path has a guard; REST routes carry theirs, the fixed paths (GraphQL and SOAP
//! endpoints, gRPC methods, proxies) are looked up here.

use std::collections::HashMap;
use std::sync::Arc;

use super::cors::CorsPolicy;
use super::ip_rules::IpGate;
use super::{MethodIpRules, PerMethod};
use crate::config::{Diagnostic, Diagnostics, LoadedConfig, Pos};

#[derive(Clone, Default)]
pub struct Guard {
    pub ip: Option<IpGate>,
    pub cors: Option<CorsPolicy>,
}

/// A mapping's IP rules and CORS policies, per method.
#[derive(Clone, Default)]
pub(crate) struct MappingGuards {
    pub ip: MethodIpRules,
    pub cors: PerMethod<Option<CorsPolicy>>,
}

impl MappingGuards {
    /// The guard of a path that serves one method (a REST route, a gRPC method).
    pub(crate) fn method(&self, method: &str) -> Guard {
        Guard {
            ip: IpGate::of([self.ip.of(method)]),
            cors: self.cors.of(method),
        }
    }

    /// The guard of a path that serves all of `methods` (GraphQL, SOAP, a proxy): a preflight
    /// names none of them, so the policy is the mapping's.
    pub(crate) fn methods<'m>(&self, methods: impl IntoIterator<Item = &'m str>) -> Guard {
        Guard {
            ip: IpGate::of(methods.into_iter().map(|m| self.ip.of(m))),
            cors: self.cors.mapping.clone(),
        }
    }
}

/// The guards of the fixed paths, and gateway.yaml's CORS policy for paths nothing serves.
#[derive(Clone, Default)]
pub struct PathGuards {
    /// Whether any IP rules or CORS policy is written at all: without, nothing is looked up.
    pub used: bool,
    /// Paths nothing serves: gateway.yaml's CORS policy, no IP gate.
    pub unserved: Arc<Guard>,
    paths: HashMap<String, (Arc<Guard>, Pos)>,
}

impl PathGuards {
    pub fn new(config: &LoadedConfig, gateway: Option<CorsPolicy>) -> PathGuards {
        let gateway_has = config.gateway.cors.is_some() || config.gateway.ip_rules.is_some();
        let mapping_has = config.mappings.iter().any(|m| {
            let own = &m.config;
            let routes = own.routes.values();
            own.cors.is_some()
                || own.ip_rules.is_some()
                || routes
                    .into_iter()
                    .any(|r| r.cors.is_some() || r.ip_rules.is_some())
        });
        PathGuards {
            used: gateway_has || mapping_has,
            unserved: Arc::new(Guard {
                ip: None,
                cors: gateway,
            }),
            paths: HashMap::new(),
        }
    }

    /// `path`, served by the mapping at `at`, is guarded by `guard`. Mappings that share a
    /// path (a GraphQL endpoint) must share its CORS policy; a client is refused there only if
    /// each of them refuses it.
    pub fn insert(&mut self, path: String, guard: Guard, at: Pos, diags: &mut Diagnostics) {
        match self.paths.get_mut(&path) {
            Some((other, _)) if other.cors == guard.cors => {
                let other = Arc::make_mut(other);
                other.ip = IpGate::both(other.ip.take(), guard.ip);
            }
            Some((_, other_at)) => diags.push(
                Diagnostic::at(
                    &at,
                    format!("mappings served at {path} have different `cors`: give them one"),
                )
                .with_related(Diagnostic::at(other_at, "the other mapping is here")),
            ),
            None => {
                self.paths.insert(path, (Arc::new(guard), at));
            }
        }
    }

    /// The guard of a fixed path, if it is one.
    pub fn at(&self, path: &str) -> Option<&Arc<Guard>> {
        self.paths.get(path).map(|(guard, _)| guard)
    }
}
