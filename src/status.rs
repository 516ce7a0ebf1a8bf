//! The canonical error: `google.rpc.Status` (design.md section 1 and 6).
//!
//! Every frontend renders a [`Status`] in its own form; this module holds the protocol-neutral
//! parts (codes, the HTTP status table, details) and the JSON body shared by REST.

use bytes::Bytes;
use http::StatusCode;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use prost_types::Any;

pub(crate) use tonic::Code;

/// The canonical code of an HTTP error a backend answered with, by meaning (design.md
/// section 6).
pub(crate) fn code_for_http(status: u16) -> Code {
    match status {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        501 => Code::Unimplemented,
        502 | 503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        500..=599 => Code::Internal,
        _ => Code::FailedPrecondition,
    }
}

/// A canonical error: a gRPC code, a message for humans and typed details.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: Code,
    pub message: String,
    pub details: Vec<Any>,
    /// An HTTP status that overrides the table of design.md section 6, for gateway-made errors that have
    /// no code of their own (405 and 413).
    pub http_override: Option<StatusCode>,
    /// Headers the gateway sends with the error (`WWW-Authenticate`, `Retry-After`): HTTP
    /// headers on HTTP frontends, trailing metadata on gRPC.
    pub headers: Option<Box<http::HeaderMap>>,
}

impl Status {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Status {
            code,
            message: message.into(),
            details: Vec::new(),
            http_override: None,
            headers: None,
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthenticated, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(Code::PermissionDenied, message)
    }

    /// Adds a header to send with the error.
    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers
            .get_or_insert_with(Default::default)
            .append(name, value);
        self
    }

    /// The headers to send with the error.
    pub fn header_iter(&self) -> impl Iterator<Item = (&http::HeaderName, &http::HeaderValue)> {
        self.headers.iter().flat_map(|headers| headers.iter())
    }

    pub fn deadline_exceeded() -> Self {
        Self::new(Code::DeadlineExceeded, "deadline exceeded")
    }

    /// 405: the path exists but not for this method. grpc-gateway uses UNIMPLEMENTED too.
    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            Code::Unimplemented,
            format!("method {method} is not allowed on {path}"),
        )
        .with_http(StatusCode::METHOD_NOT_ALLOWED)
    }

    /// 413: the request body is larger than the configured limit.
    /// 408: the client sent its request body too slowly.
    pub fn request_timeout() -> Self {
        Self::new(
            Code::DeadlineExceeded,
            "the request body was not sent in time",
        )
        .with_http(StatusCode::REQUEST_TIMEOUT)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            Code::ResourceExhausted,
            format!("request body is larger than the limit of {limit} bytes"),
        )
        .with_http(StatusCode::PAYLOAD_TOO_LARGE)
    }

    pub fn with_http(mut self, status: StatusCode) -> Self {
        self.http_override = Some(status);
        self
    }

    pub fn with_detail(mut self, detail: Any) -> Self {
        self.details.push(detail);
        self
    }

    /// The HTTP status of design.md section 6 for this code (or the override).
    pub fn http_status(&self) -> StatusCode {
        self.http_override
            .unwrap_or_else(|| http_status_for(self.code))
    }

    /// The JSON body of design.md section 6: `{"code", "message", "details"}`. Details whose type the pool
    /// knows are rendered as proto3 JSON with `@type`; unknown ones keep their bytes in base64.
    pub fn to_json(&self, pool: &DescriptorPool) -> serde_json::Value {
        serde_json::to_value(self.body(pool)).unwrap_or_default()
    }

    pub fn to_json_bytes(&self, pool: &DescriptorPool) -> Bytes {
        Bytes::from(serde_json::to_vec(&self.body(pool)).unwrap_or_default())
    }

    fn body(&self, pool: &DescriptorPool) -> StatusBody<'_> {
        StatusBody {
            code: self.code as i32,
            message: &self.message,
            details: self
                .details
                .iter()
                .map(|any| detail_json(pool, any))
                .collect(),
        }
    }
}

/// The JSON body of an error, fields in the order of `google.rpc.Status`.
#[derive(serde::Serialize)]
struct StatusBody<'a> {
    code: i32,
    message: &'a str,
    details: Vec<serde_json::Value>,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Status {}

fn detail_json(pool: &DescriptorPool, any: &Any) -> serde_json::Value {
    let rendered = pool
        .get_message_by_name("google.protobuf.Any")
        .and_then(|desc| DynamicMessage::decode(desc, any.encode_to_vec().as_slice()).ok())
        .and_then(|msg| {
            let mut out = serde_json::Serializer::new(Vec::new());
            msg.serialize_with_options(&mut out, &SerializeOptions::new())
                .ok()?;
            serde_json::from_slice(&out.into_inner()).ok()
        });
    rendered.unwrap_or_else(|| {
        use base64::Engine;
        serde_json::json!({
            "@type": any.type_url,
            "value": base64::engine::general_purpose::STANDARD.encode(&any.value),
        })
    })
}

/// The names of the canonical codes, by number (`google.rpc.Code`).
pub(crate) const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A canonical code by its name (`NOT_FOUND`).
pub(crate) fn code_by_name(name: &str) -> Option<Code> {
    CODE_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| Code::from_i32(i as i32))
}

/// Section 6: canonical code -> HTTP status.
pub(crate) fn http_status_for(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_matches_design() {
        let table: Vec<(i32, u16)> = (0..=16)
            .map(|c| (c, http_status_for(Code::from_i32(c)).as_u16()))
            .collect();
        assert_eq!(
            table,
            vec![
                (0, 200),
                (1, 499),
                (2, 500),
                (3, 400),
                (4, 504),
                (5, 404),
                (6, 409),
                (7, 403),
                (8, 429),
                (9, 400),
                (10, 409),
                (11, 400),
                (12, 501),
                (13, 500),
                (14, 503),
                (15, 500),
                (16, 401),
            ]
        );
    }
}
