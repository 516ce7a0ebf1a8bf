//! How `proxy` mappings mount: a path prefix relayed as it is to an HTTP backend.

use std::sync::Arc;

use super::ProxyRoute;
use crate::backend::build::{relay_invoker, Built, Connector};
use crate::config::{Diagnostic, Diagnostics, FrontendProtocol, ProxyOptions};
use crate::frontend::MountContext;
use crate::mapping::refuse_schema_lists;
use crate::registry::Operation;

/// The proxy of a `proxy` mapping: its path, its header changes, and the HTTP backend that
/// relays the requests.
pub(crate) fn proxy_route(
    cx: &MountContext<'_>,
    options: &ProxyOptions,
    backend: Option<&Built>,
    operation: Arc<Operation>,
    connector: Connector<'_>,
    diags: &mut Diagnostics,
) -> Option<ProxyRoute> {
    let (config, mapping) = (cx.config, cx.mapping);
    let at = mapping.pos(&options.path);
    let mut fine = true;
    if mapping.config.frontend.value != FrontendProtocol::Rest {
        diags.push(Diagnostic::at(
            &at,
            "`proxy` is for mappings with `frontend: rest`",
        ));
        fine = false;
    }
    if refuse_schema_lists(mapping, "a proxy relays requests as they are", diags) {
        fine = false;
    }
    if let Some(rule) = mapping.config.rules.first() {
        let where_ = rule
            .selector
            .as_ref()
            .map_or(at.clone(), |s| mapping.pos(s));
        diags.push(Diagnostic::at(
            &where_,
            "a proxy has no `rules`: it relays every request under its path",
        ));
        fine = false;
    }
    // The cache stage keys and stores the reads of named methods; a relay has none, so a
    // `cache` here would be accepted and never used.
    if let Some(cache) = &mapping.config.cache {
        diags.push(Diagnostic::at(
            &mapping.pos(cache),
            "a proxy relays responses as they are and does not cache them: remove `cache`",
        ));
        fine = false;
    }
    let path = options.path.value.trim_end_matches('/').to_owned();
    if !path.starts_with('/') || path.contains(['{', '}', '*', '?', '#']) {
        diags.push(Diagnostic::at(
            &at,
            format!(
                "`{}` is not a path prefix such as /shop",
                options.path.value
            ),
        ));
        fine = false;
    }
    let edits = |edits, diags: &mut Diagnostics| {
        crate::stages::transform::header_edits(&mapping.file, edits, &config.vars, diags)
    };
    let request_headers = edits(&options.request_headers, diags);
    let response_headers = edits(&options.response_headers, diags);
    let Some(backend) = backend.filter(|b| b.http.is_some()) else {
        if backend.is_some() {
            diags.push(Diagnostic::at(
                &at,
                "a proxy relays to an HTTP backend: `protocol: rest` or `graphql`",
            ));
        }
        return None;
    };
    let invoker = relay_invoker(connector, backend, mapping, diags)?;
    fine.then(|| ProxyRoute {
        prefix: path,
        operation,
        invoker,
        timeout: mapping.config.options.timeout.map(|d| d.0),
        request_headers,
        response_headers,
        max_body: connector.max_body,
        pool: cx.compiled.pool.clone(),
    })
}
