#![warn(unreachable_pub)]
//! rosetta: a multi-protocol API translation gateway.
//!
//! A request flows: frontend decode -> canonical [`call::Call`] -> backend -> [`call::Reply`]
//! -> frontend encode. Schemas are reflected at run time into one `DescriptorPool`
//! ([`registry`]); errors are one canonical [`status::Status`].

pub(crate) mod admin;
pub(crate) mod backend;
pub(crate) mod call;
pub(crate) mod compose;
pub mod config;
pub mod demo;
pub mod frontend;
pub mod gateway;
pub mod grpc;
pub(crate) mod hop_by_hop;
pub mod http_rule;
pub(crate) mod mapping;
pub(crate) mod pattern;
pub mod protojson;
pub(crate) mod query_string;
pub mod registry;
pub(crate) mod relay;
pub mod server;
pub mod stages;
pub(crate) mod status;
pub mod toolchain;
pub(crate) mod wire;
pub mod xml;
