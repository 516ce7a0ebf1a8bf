//! Backends: one module per protocol, each turning a canonical call into that protocol's call.

pub mod compose;
pub mod compose_schema;
pub mod graphql;
pub mod graphql_schema;
pub mod grpc;
pub mod rest;
pub mod soap;
