//! How `frontend: grpc` mappings mount: their methods, each served by one mapping, at the
//! gRPC paths (`/package.Service/Method`).

use std::collections::HashMap;

use prost_reflect::DescriptorPool;

use super::{GrpcFrontend, GrpcTarget};
use crate::config::{Diagnostic, Diagnostics, LoadedMapping, Pos};
use crate::frontend::{call_settings, Mount, MountContext};
use crate::mapping::MappingTarget;
use crate::registry::Operation;
use crate::stages::guard::PathGuards;

/// The methods of the gRPC mappings, by full name, with the mapping that serves each.
#[derive(Default)]
pub(crate) struct GrpcMethods(HashMap<String, (GrpcTarget, Pos)>);

impl Mount for GrpcMethods {
    fn add(
        &mut self,
        cx: &MountContext<'_>,
        target: MappingTarget,
        guards: &mut PathGuards,
        diags: &mut Diagnostics,
    ) {
        let at = cx.mapping.pos(&cx.mapping.config.frontend);
        for method in &target.methods {
            let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
            let guard = target.guards.method(method.full_name());
            guards.insert(path, guard, at.clone(), diags);
        }
        add_methods(cx.mapping, target, &mut self.0, diags);
    }
}

impl GrpcMethods {
    /// The gRPC frontend, if any mapping has one.
    pub(crate) fn finish(self, pool: &DescriptorPool, max_body: usize) -> Option<GrpcFrontend> {
        if self.0.is_empty() {
            return None;
        }
        let targets = self.0.into_iter().map(|(name, (target, _))| (name, target));
        Some(GrpcFrontend::new(targets.collect(), pool, max_body))
    }
}

/// Adds the methods of a `frontend: grpc` mapping to the gRPC frontend; a method served by two
/// mappings is an error.
fn add_methods(
    mapping: &LoadedMapping,
    target: MappingTarget,
    served: &mut HashMap<String, (GrpcTarget, Pos)>,
    diags: &mut Diagnostics,
) {
    let origin = mapping.pos(&mapping.config.frontend);
    let (forward_headers, timeout) = call_settings(mapping, &target, "gRPC", diags);
    for method in target.methods {
        let name = method.full_name().to_owned();
        if let Some((_, other)) = served.get(&name) {
            diags.push(
                Diagnostic::at(
                    &origin,
                    format!("{name} is already served over gRPC by another mapping"),
                )
                .with_related(Diagnostic::at(other, "the other mapping is here")),
            );
            continue;
        }
        let grpc_target = GrpcTarget {
            operation: Operation::new(method),
            invoker: target.invoker.clone(),
            timeout,
            forward_headers: forward_headers.clone(),
        };
        served.insert(name, (grpc_target, origin.clone()));
    }
}
