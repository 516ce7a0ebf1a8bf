//! Backends: a folder per protocol, each with its builder (`build.rs`: its section of the
//! configuration checked, its schema imported) and its invoker (a canonical call made in that
//! protocol). The builders are registered in [`build::PROTOCOLS`].

pub(crate) mod build;
pub(crate) mod graphql;
pub(crate) mod grpc;
pub(crate) mod rest;
pub(crate) mod soap;

pub use build::{connect, BackendSettings, Connect};
