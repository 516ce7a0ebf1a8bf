//! Backends: a folder per protocol, each with its builder (`build.rs`: its section of the
//! configuration checked, its schema imported) and its invoker (a canonical call made in that
//! protocol). The builders are registered in [`build::PROTOCOLS`].

pub(crate) mod build;
pub(crate) mod graphql;
pub(crate) mod grpc;
pub(crate) mod pooled;
pub(crate) mod reach;
pub(crate) mod rest;
pub(crate) mod soap;

pub use build::{connect, BackendSettings, Connect};

/// Why a backend's connections could not be prepared; reported at the backend's place.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid backend address: {0}")]
    Address(String),
    #[error("invalid TLS settings: {0}")]
    Tls(String),
    #[error("invalid CA certificate: {0}")]
    CaCertificate(reqwest::Error),
    #[error("cannot make the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error(
        "`server_name` is not supported for SOAP backends; use an address with that host name"
    )]
    SoapServerName,
    /// The WSDL's service lacks a message its operations name.
    #[error("{0}")]
    Service(String),
}
