//! rosetta: a multi-protocol API translation gateway.
//!
//! A request flows: frontend decode -> canonical [`call::Call`] -> backend -> [`call::Reply`]
//! -> frontend encode. Schemas are reflected at run time into one `DescriptorPool`
//! ([`registry`]); errors are one canonical [`status::Status`].

pub mod admin;
pub mod backend;
pub mod call;
pub mod compose;
pub mod config;
pub mod demo;
pub mod frontend;
pub mod gateway;
pub mod grpc;
pub mod hop_by_hop;
pub mod http_rule;
pub(crate) mod mapping;
pub mod pattern;
pub mod protojson;
pub mod query_string;
pub mod registry;
pub mod relay;
pub mod server;
pub mod stages;
pub mod status;
pub mod toolchain;
pub mod wire;
pub mod xml;
