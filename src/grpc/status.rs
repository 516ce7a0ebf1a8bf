//! The canonical status in gRPC's own form: `grpc-status`, `grpc-message` and the details in
//! `grpc-status-details-bin`. Used by the gRPC backend and by in-process gRPC servers.

use bytes::Bytes;
use prost::Message;
use prost_types::Any;

use crate::status::{Code, Status};

/// The wire form of `google.rpc.Status`, used to decode `grpc-status-details-bin`.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// The canonical status of an error a gRPC peer sent, details included.
///
/// Errors that tonic made itself (connection refused, protocol errors) carry transport text that
/// may name internal addresses, so they are replaced by a neutral message.
pub fn from_tonic(status: &tonic::Status) -> Status {
    if std::error::Error::source(status).is_some() {
        let code = match status.code() {
            Code::DeadlineExceeded => Code::DeadlineExceeded,
            Code::Cancelled => Code::Cancelled,
            _ => Code::Unavailable,
        };
        return Status::new(code, neutral_message(code));
    }
    let details = if status.details().is_empty() {
        Vec::new()
    } else {
        RpcStatus::decode(status.details())
            .map(|s| s.details)
            .unwrap_or_default()
    };
    Status {
        code: status.code(),
        message: status.message().to_owned(),
        details,
        http_override: None,
        headers: None,
    }
}

/// The tonic form, with details packed into `grpc-status-details-bin`.
pub fn to_tonic(status: &Status) -> tonic::Status {
    let headers = status.headers.as_deref().cloned().unwrap_or_default();
    let metadata = tonic::metadata::MetadataMap::from_headers(headers);
    if status.details.is_empty() {
        return tonic::Status::with_metadata(status.code, status.message.clone(), metadata);
    }
    let body = RpcStatus {
        code: status.code as i32,
        message: status.message.clone(),
        details: status.details.clone(),
    };
    tonic::Status::with_details_and_metadata(
        status.code,
        status.message.clone(),
        Bytes::from(body.encode_to_vec()),
        metadata,
    )
}

fn neutral_message(code: Code) -> &'static str {
    match code {
        Code::DeadlineExceeded => "deadline exceeded",
        Code::Cancelled => "the call was cancelled",
        _ => "the backend is unavailable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_through_tonic() {
        let status = Status::invalid_argument("bad").with_detail(Any {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![1, 2, 3],
        });
        assert_eq!(from_tonic(&to_tonic(&status)), status);
    }

    #[test]
    fn transport_errors_never_show_their_text() {
        let transport = tonic::Status::from_error("tcp connect error: 10.0.0.7:443 refused".into());
        let status = from_tonic(&transport);
        assert_eq!(status.message, "the backend is unavailable");
    }
}
