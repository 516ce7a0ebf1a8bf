//! `rosetta schema export`: what each frontend serves, in that frontend's own schema language.

use crate::gateway::Gateway;

/// A schema language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The `.proto` files of the services the gRPC frontend serves.
    Proto,
    /// OpenAPI 3.1 of the REST routes (also served at `/openapi.json`).
    Openapi,
    /// The SDL of every GraphQL endpoint.
    Graphql,
    /// The WSDL of every service the SOAP frontend serves.
    Wsdl,
}

/// Writes the `.proto` files rosetta bundles (`google/api/*`, `google/rpc/*`) under `dir`, by
/// their import paths, for a backend's own `protoc` build; returns the files written.
pub fn write_bundled(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for (name, text) in crate::registry::proto::bundled() {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// Why there is no schema to export.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// No mapping is served by the frontend of the format.
    #[error("no mapping serves {0}")]
    NotServed(&'static str),
}

/// The schema text, or why there is none.
pub fn export(gateway: &Gateway, format: ExportFormat) -> Result<String, ExportError> {
    let base = format!("http://{}", gateway.listen);
    let text = match format {
        ExportFormat::Openapi => {
            if gateway.rest.routes().is_empty() {
                return Err(ExportError::NotServed("REST"));
            }
            serde_json::to_string_pretty(&gateway.rest.openapi()).unwrap_or_default()
        }
        ExportFormat::Graphql => gateway
            .graphql
            .iter()
            .map(|e| format!("# {}{}\n{}", base, e.options.path, e.sdl()))
            .collect::<Vec<_>>()
            .join("\n"),
        ExportFormat::Wsdl => gateway
            .soap
            .iter()
            .map(|e| e.wsdl(&base))
            .collect::<Vec<_>>()
            .join("\n"),
        ExportFormat::Proto => {
            let mut files = Vec::new();
            for name in gateway.grpc.iter().flat_map(|g| g.services.iter()) {
                if let Some(service) = gateway.pool.get_service_by_name(name) {
                    let file = service.parent_file();
                    if !files.contains(&file) {
                        files.push(file);
                    }
                }
            }
            files
                .iter()
                .map(crate::registry::print::proto)
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    if text.is_empty() {
        let frontend = match format {
            ExportFormat::Proto => "gRPC",
            ExportFormat::Openapi => "REST",
            ExportFormat::Graphql => "GraphQL",
            ExportFormat::Wsdl => "SOAP",
        };
        return Err(ExportError::NotServed(frontend));
    }
    Ok(text)
}
