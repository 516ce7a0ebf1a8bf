//! Frontends: one module per protocol, each decoding requests into canonical calls and
//! encoding replies and statuses back.

pub mod graphql;
pub mod grpc;
pub mod proxy;
pub mod rest;
pub mod soap;
