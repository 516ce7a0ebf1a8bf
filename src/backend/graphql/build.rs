//! The GraphQL backend's builder: an address (and TLS), an optional schema (SDL or
//! introspection) imported into the pool, and per mapping the document each method sends.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::MethodDescriptor;

use super::schema::{self, Documents, SchemaShape};
use super::{GraphqlCall, GraphqlSettings};
use crate::backend::build::{
    http_address, http_backend, BackendSettings, BuildContext, Built, Connector, HttpBase,
    Protocol, Written,
};
use crate::call::Invoker;
use crate::config::{
    BackendConfig, BackendProtocol, Diagnostic, Diagnostics, LoadedMapping, Located,
};
use crate::mapping::select_method;
use crate::registry::wsdl;
use crate::registry::SchemaError;

pub(crate) struct Graphql;

impl Protocol for Graphql {
    fn protocol(&self) -> BackendProtocol {
        BackendProtocol::Graphql
    }

    fn own_keys<'b>(&self, backend: &'b BackendConfig) -> Vec<(&'b Located<String>, String)> {
        let message = "`graphql_schema` describes a backend with `protocol: graphql`";
        (backend.graphql_schema.iter())
            .map(|at| (at, message.into()))
            .collect()
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_, '_>,
        written: &Written<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Built> {
        let (base, tls) = http_address(written, "GraphQL", diags)?;
        let graphql_schema = match &written.backend.graphql_schema {
            Some(source) => Some(import(cx, written, source, &base, diags)?),
            None => None,
        };
        let base = HttpBase {
            graphql_schema,
            ..HttpBase::new(written, &base, tls)
        };
        Some(http_backend(written, base))
    }

    fn invoker(
        &self,
        connector: Connector<'_>,
        built: &Built,
        mapping: &LoadedMapping,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> Option<Invoker> {
        let base = built.http.as_ref()?;
        mapping_invoker(connector, base, mapping, methods, diags)
    }

    /// The imported schema serves the mappings that name no services.
    fn own_service<'b>(&self, built: &'b Built, mapping: &LoadedMapping) -> Option<&'b str> {
        let names_none = mapping.config.services.is_empty() && mapping.config.schemas.is_empty();
        let (_, service, _) = built.http.as_ref()?.graphql_schema.as_ref()?;
        names_none.then_some(service)
    }
}

/// A GraphQL backend's schema (an SDL file or `introspection`), imported into the pool: its
/// shape, the service it became, and the generated documents.
fn import(
    cx: &mut BuildContext<'_, '_>,
    written: &Written<'_>,
    source: &Located<String>,
    base: &str,
    diags: &mut Diagnostics,
) -> Option<(SchemaShape, String, Documents)> {
    let (config, dir) = (written.config, written.dir);
    let at = written.pos(source);
    let shape = if source.value == "introspection" {
        schema::introspect(base)
    } else {
        config
            .files
            .read_to_string(&dir.join(&source.value))
            .map_err(|e| SchemaError::from(format!("cannot read {}: {e}", source.value)))
            .and_then(|text| SchemaShape::from_sdl(&text))
    };
    let shape = match shape {
        Ok(shape) => shape,
        Err(message) => {
            diags.push(Diagnostic::at(&at, message.to_string()));
            return None;
        }
    };
    let package = format!(
        "graphql.{}",
        wsdl::build::sanitize(
            base.trim_end_matches('/')
                .rsplit(['/', ':'])
                .find(|s| !s.is_empty() && s.parse::<u16>().is_err())
                .unwrap_or("api")
        )
        .to_ascii_lowercase()
    );
    let (imported, service, documents) = shape.import(&package);
    if cx.pool.get_file_by_name(imported.name()).is_none() {
        if let Err(e) = crate::registry::add_imported(cx.pool, imported) {
            diags.push(Diagnostic::at(
                &at,
                format!("the GraphQL schema's types cannot be registered: {e}"),
            ));
            return None;
        }
    }
    Some((shape, service, documents))
}

/// The GraphQL backend of one mapping: the document each method sends.
fn mapping_invoker(
    connector: Connector<'_>,
    base: &HttpBase,
    mapping: &LoadedMapping,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Option<Invoker> {
    let mut calls = HashMap::new();
    for (selector, document) in &mapping.config.backend.documents {
        let at = mapping.pos(&document.query);
        let Some(method) = select_method(methods, selector, &at, diags) else {
            continue;
        };
        match GraphqlCall::new(
            method,
            &document.query.value,
            document.result.as_deref(),
            base.graphql_schema.as_ref().map(|(shape, ..)| shape),
        ) {
            Ok(call) => {
                calls.insert(method.full_name().to_owned(), call);
            }
            Err(message) => diags.push(Diagnostic::at(
                &at,
                format!("{}: {message}", method.full_name()),
            )),
        }
    }
    // The imported service's methods have generated documents.
    if let Some((shape, service, documents)) = &base.graphql_schema {
        for method in methods
            .iter()
            .filter(|m| m.parent_service().full_name() == service)
        {
            if calls.contains_key(method.full_name()) {
                continue;
            }
            if let Some((query, wrap)) = documents.get(method.name()) {
                match GraphqlCall::new(method, query, None, Some(shape)) {
                    Ok(mut call) => {
                        call.wrap = wrap.clone();
                        calls.insert(method.full_name().to_owned(), call);
                    }
                    Err(message) => diags.push(Diagnostic::at(
                        &mapping.pos(&mapping.config.frontend),
                        format!(
                            "{}: the generated document does not fit: {message}",
                            method.full_name()
                        ),
                    )),
                }
            }
        }
    }
    for method in methods {
        if !calls.contains_key(method.full_name()) {
            diags.warn(Diagnostic::at(
                &mapping.pos(&mapping.config.frontend),
                format!(
                    "{} has no document in `backend.documents`; calls to it are UNIMPLEMENTED",
                    method.full_name()
                ),
            ));
        }
    }
    let settings = GraphqlSettings {
        url: base.base.clone(),
        tls: base.tls.clone(),
        connect_timeout: base.connect_timeout,
        max_response: connector.max_body,
        calls,
    };
    connector.mapping(
        &BackendSettings::Graphql(Arc::new(settings)),
        mapping,
        diags,
    )
}
