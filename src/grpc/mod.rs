//! gRPC pieces shared by the gRPC backend and by in-process gRPC servers (the demo backends and
//! test servers): a codec driven by descriptors and a server that dispatches by method.

mod codec;
pub mod server;
pub mod status;

pub use codec::{DescriptorCodec, WireMessage};
