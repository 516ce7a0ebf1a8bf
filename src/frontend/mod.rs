//! Frontends: a folder per protocol, each decoding requests into canonical calls and encoding
//! replies and statuses back, and mounting its mappings (`mount.rs`, a [`Mount`]). [`Served`]
//! holds one collector per frontend: adding a frontend is its folder and a line there.

pub mod graphql;
pub(crate) mod grpc;
pub(crate) mod proxy;
pub mod rest;
pub(crate) mod soap;

use std::sync::Arc;
use std::time::Duration;

use crate::call::{self, Call, Invoker, Message, Origin};
use crate::config::{Diagnostic, Diagnostics, FrontendProtocol, LoadedConfig, LoadedMapping};
use crate::frontend::rest::route::MappingSettings;
use crate::mapping::MappingTarget;
use crate::protojson::{error_text, json_to_wire, Plan};
use crate::registry::proto::Compiled;
use crate::registry::Operation;
use crate::stages::guard::PathGuards;
use crate::status::Status;

/// What a frontend calls for one method when it holds the input as proto3 JSON (GraphQL root
/// fields and joins, SOAP operations).
pub struct CallTarget {
    pub operation: Arc<Operation>,
    pub invoker: Invoker,
    pub timeout: Option<Duration>,
    pub forward_headers: Arc<[http::HeaderName]>,
    /// Reads the input message's proto3 JSON.
    pub request_plan: Arc<Plan>,
    /// Writes the output message's proto3 JSON, zero values included: a GraphQL or SOAP
    /// client reads a zero as a value, never as null or a missing element.
    pub response_plan: Arc<Plan>,
}

impl CallTarget {
    /// The call of `json` (the input message's proto3 JSON) for a client's request; `what`
    /// names the input in the error of one that does not fit ("argument", "request").
    pub fn call(&self, json: &[u8], origin: Arc<Origin>, what: &str) -> Result<Call, Status> {
        let wire = json_to_wire(&self.request_plan, json)
            .map_err(|e| Status::invalid_argument(format!("invalid {what}: {}", error_text(&e))))?;
        let input = Message::Encoded(self.operation.method.input(), wire.into());
        let (forward, timeout) = (&self.forward_headers, self.timeout);
        Call::unary(self.operation.clone(), input, origin, forward, timeout)
    }

    /// Calls once with `json` and waits for the one reply message.
    pub async fn reply(
        &self,
        json: &[u8],
        origin: Arc<Origin>,
        what: &str,
    ) -> Result<Message, Status> {
        let call = self.call(json, origin, what)?;
        call::invoke(&self.invoker, call)
            .await?
            .into_message()
            .await
    }
}

/// The mapping being mounted and what it was loaded with.
pub(crate) struct MountContext<'a> {
    pub config: &'a LoadedConfig,
    pub mapping: &'a LoadedMapping,
    pub compiled: &'a Compiled,
}

/// How a frontend gathers the mappings it serves.
pub(crate) trait Mount {
    /// Serves a mapping's methods; the IP rules and CORS policies of the paths it takes go in
    /// `guards`.
    fn add(
        &mut self,
        cx: &MountContext<'_>,
        target: MappingTarget,
        guards: &mut PathGuards,
        diags: &mut Diagnostics,
    );
}

/// What the mappings' frontends serve, gathered mapping by mapping: one collector per frontend.
#[derive(Default)]
pub(crate) struct Served {
    /// The guards of the GraphQL, SOAP, gRPC and proxy paths.
    pub guards: PathGuards,
    pub rest: rest::mount::RestRoutes,
    pub graphql: graphql::mount::GraphqlEndpoints,
    pub grpc: grpc::mount::GrpcMethods,
    pub soap: soap::mount::SoapServices,
}

impl Served {
    /// Serves a mapping's methods with its frontend.
    pub(crate) fn add(
        &mut self,
        cx: &MountContext<'_>,
        target: MappingTarget,
        diags: &mut Diagnostics,
    ) {
        let mapping = cx.mapping;
        if mapping.config.frontend.value != FrontendProtocol::Graphql {
            if let Some(options) = &mapping.config.graphql {
                diags.push(Diagnostic::at(
                    &mapping.pos(&options.path),
                    "`graphql` options belong to a mapping with `frontend: graphql`",
                ));
            }
        }
        let frontend: &mut dyn Mount = match mapping.config.frontend.value {
            FrontendProtocol::Rest => &mut self.rest,
            FrontendProtocol::Graphql => &mut self.graphql,
            FrontendProtocol::Grpc => &mut self.grpc,
            FrontendProtocol::Soap => &mut self.soap,
        };
        frontend.add(cx, target, &mut self.guards, diags);
    }
}

/// What the gRPC, SOAP and GraphQL frontends take from a mapping besides its methods: HTTP
/// `rules` are refused (they are for REST), and the forwarded headers and the deadline.
pub(crate) fn call_settings(
    mapping: &LoadedMapping,
    target: &MappingTarget,
    frontend: &str,
    diags: &mut Diagnostics,
) -> (Arc<[http::HeaderName]>, Option<Duration>) {
    if let Some(rule) = mapping.config.rules.first() {
        let at = rule
            .selector
            .as_ref()
            .map_or_else(|| mapping.pos(&mapping.config.frontend), |s| mapping.pos(s));
        diags.push(Diagnostic::at(
            &at,
            format!("HTTP `rules` are for REST mappings; a {frontend} mapping serves every method without them"),
        ));
    }
    if let Some(prefix) = &mapping.config.options.path_prefix {
        diags.push(Diagnostic::at(
            &mapping.pos(prefix),
            format!("`path_prefix` is for REST mappings; a {frontend} mapping has no routes"),
        ));
    }
    let settings = MappingSettings::new(&mapping.config.options, target.is_soap);
    let timeout = mapping
        .config
        .options
        .timeout
        .map(|d| d.0)
        .or(target.backend_timeout);
    (settings.forward_headers.into(), timeout)
}
