//! How `frontend: soap` mappings mount: each service as a SOAP endpoint at its own path, its
//! unary methods as operations.

use std::collections::HashMap;
use std::sync::Arc;

use super::SoapEndpoint;
use crate::config::{Diagnostic, Diagnostics, LoadedMapping, Pos};
use crate::frontend::CallTarget;
use crate::frontend::{call_settings, Mount, MountContext};
use crate::mapping::{MappingTarget, Plans};
use crate::protojson::JsonOptions;
use crate::registry::Operation;
use crate::stages::guard::PathGuards;

/// The services of the SOAP mappings.
#[derive(Default)]
pub(crate) struct SoapServices(Services);

impl Mount for SoapServices {
    fn add(
        &mut self,
        cx: &MountContext<'_>,
        target: MappingTarget,
        guards: &mut PathGuards,
        diags: &mut Diagnostics,
    ) {
        let at = cx.mapping.pos(&cx.mapping.config.frontend);
        let guard = target
            .guards
            .methods(target.methods.iter().map(|m| m.full_name()));
        for method in &target.methods {
            let path = super::path_of(method.parent_service());
            guards.insert(path, guard.clone(), at.clone(), diags);
        }
        add_services(cx.mapping, target, &mut self.0, diags);
    }
}

impl SoapServices {
    /// An endpoint per service.
    pub(crate) fn finish(self, max_body: usize) -> Vec<Arc<SoapEndpoint>> {
        self.0
            .into_values()
            .map(|(service, targets, _)| Arc::new(SoapEndpoint::new(service, targets, max_body)))
            .collect()
    }
}

/// The services of `frontend: soap` mappings by full name: the service, its operations by
/// name, and the mapping that serves it.
type Services = HashMap<
    String,
    (
        prost_reflect::ServiceDescriptor,
        HashMap<String, CallTarget>,
        Pos,
    ),
>;

/// Adds the services of a `frontend: soap` mapping; a service served by two mappings is an
/// error.
fn add_services(
    mapping: &LoadedMapping,
    target: MappingTarget,
    served: &mut Services,
    diags: &mut Diagnostics,
) {
    let origin = mapping.pos(&mapping.config.frontend);
    let (forward_headers, timeout) = call_settings(mapping, &target, "SOAP", diags);
    let mut plans = Plans::new(JsonOptions::default());
    let mut responses = Plans::new(JsonOptions::EVERY_FIELD);
    for method in target.methods {
        if method.is_client_streaming() || method.is_server_streaming() {
            diags.warn(Diagnostic::at(
                &origin,
                format!(
                    "{} streams, which SOAP cannot; it is left out of the SOAP service",
                    method.full_name()
                ),
            ));
            continue;
        }
        let service = method.parent_service().clone();
        let entry = served
            .entry(service.full_name().to_owned())
            .or_insert_with(|| (service.clone(), HashMap::new(), origin.clone()));
        if entry.2 != origin {
            diags.push(
                Diagnostic::at(
                    &origin,
                    format!(
                        "{} is already served over SOAP by another mapping",
                        service.full_name()
                    ),
                )
                .with_related(Diagnostic::at(&entry.2, "the other mapping is here")),
            );
            return;
        }
        let soap_target = CallTarget {
            operation: Operation::new(method.clone()),
            invoker: target.invoker.clone(),
            timeout,
            forward_headers: forward_headers.clone(),
            request_plan: plans.get(&method.input()),
            response_plan: responses.get(&method.output()),
        };
        entry.1.insert(method.name().to_owned(), soap_target);
    }
}
