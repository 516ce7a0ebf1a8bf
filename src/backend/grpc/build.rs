//! The gRPC backend's builder: an address, TLS and a connection pool size.

use super::GrpcSettings;
use crate::backend::build::{
    checked_address, connect_timeout, tls_settings, BackendSettings, BuildContext, Built, Protocol,
    Written,
};
use crate::config::{BackendProtocol, Diagnostic, Diagnostics};

pub(crate) struct Grpc;

impl Protocol for Grpc {
    fn protocol(&self) -> BackendProtocol {
        BackendProtocol::Grpc
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_, '_>,
        written: &Written<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Built> {
        let backend = written.backend;
        let Some(address) = &backend.address else {
            diags.push(Diagnostic::at(
                &written.pos(&backend.protocol),
                "a gRPC backend needs an `address`",
            ));
            return None;
        };
        let pos = written.pos(address);
        let address = checked_address(written.config, address, pos.clone(), diags)?;
        let settings = GrpcSettings {
            address,
            tls: tls_settings(written, diags)?,
            connect_timeout: connect_timeout(backend),
            connections: backend.connections,
        };
        let settings = BackendSettings::Grpc(settings);
        cx.shared(BackendProtocol::Grpc, settings, &pos, None, diags)
    }
}
