//! gRPC pieces shared by the gRPC backend and by in-process gRPC servers (the demo backends and
//! test servers): a codec over `DynamicMessage` and a server that dispatches by method.

mod codec;
pub mod server;

pub use codec::DynamicCodec;
