//! Reverse proxying: a mapping's `proxy.path` relays requests to an HTTP backend as they are.
//! The request still goes through the canonical model, as the one operation
//! `rosetta.proxy.Proxy.Forward` whose input and output are the HTTP request and response
//! (method, path, query, headers, body), so that stages see it like any other call.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto,
    ServiceDescriptorProto,
};

use crate::call::{self, Call, Invoker, Message, Origin};
use crate::frontend::rest;
use crate::registry::Operation;
use crate::stages::transform::HeaderEdits;
use crate::status::Status;

/// The full name of the proxy operation's method.
pub const FORWARD: &str = "rosetta.proxy.Proxy.Forward";

/// One proxied path prefix.
pub struct ProxyRoute {
    pub prefix: String,
    pub operation: Arc<Operation>,
    pub invoker: Invoker,
    pub timeout: Option<Duration>,
    pub request_headers: HeaderEdits,
    pub response_headers: HeaderEdits,
    pub max_body: usize,
    pub pool: DescriptorPool,
}

/// Adds `rosetta/proxy.proto` to the pool (once) and returns the proxy operation.
pub fn operation(pool: &mut DescriptorPool) -> Arc<Operation> {
    if pool.get_service_by_name("rosetta.proxy.Proxy").is_none() {
        let field =
            |name: &str, number: i32, r#type: Type, type_name: Option<&str>, repeated: bool| {
                FieldDescriptorProto {
                    name: Some(name.into()),
                    json_name: Some(name.into()),
                    number: Some(number),
                    label: Some(if repeated {
                        Label::Repeated
                    } else {
                        Label::Optional
                    } as i32),
                    r#type: Some(r#type as i32),
                    type_name: type_name.map(str::to_owned),
                    ..Default::default()
                }
            };
        let header = ".rosetta.proxy.Header";
        let file = FileDescriptorProto {
            name: Some("rosetta/proxy.proto".into()),
            package: Some("rosetta.proxy".into()),
            message_type: vec![
                DescriptorProto {
                    name: Some("Header".into()),
                    field: vec![
                        field("name", 1, Type::String, None, false),
                        field("value", 2, Type::Bytes, None, false),
                    ],
                    ..Default::default()
                },
                DescriptorProto {
                    name: Some("HttpRequest".into()),
                    field: vec![
                        field("method", 1, Type::String, None, false),
                        field("path", 2, Type::String, None, false),
                        field("query", 3, Type::String, None, false),
                        field("headers", 4, Type::Message, Some(header), true),
                        field("body", 5, Type::Bytes, None, false),
                    ],
                    ..Default::default()
                },
                DescriptorProto {
                    name: Some("HttpResponse".into()),
                    field: vec![
                        field("status", 1, Type::Int32, None, false),
                        field("headers", 2, Type::Message, Some(header), true),
                        field("body", 3, Type::Bytes, None, false),
                    ],
                    ..Default::default()
                },
            ],
            service: vec![ServiceDescriptorProto {
                name: Some("Proxy".into()),
                method: vec![MethodDescriptorProto {
                    name: Some("Forward".into()),
                    input_type: Some(".rosetta.proxy.HttpRequest".into()),
                    output_type: Some(".rosetta.proxy.HttpResponse".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        pool.add_file_descriptor_proto(file)
            .expect("the proxy's descriptors are valid");
    }
    let method = pool
        .get_service_by_name("rosetta.proxy.Proxy")
        .and_then(|s| s.methods().next())
        .expect("the proxy service was just added");
    Operation::new(method)
}

/// The headers of a message's `headers` field.
pub fn headers_of(message: &DynamicMessage) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(Value::List(items)) = message.get_field_by_name("headers").as_deref() {
        for item in items {
            let Value::Message(header) = item else {
                continue;
            };
            let name = header.get_field_by_name("name");
            let value = header.get_field_by_name("value");
            if let (Some(Value::String(name)), Some(Value::Bytes(value))) =
                (name.as_deref(), value.as_deref())
            {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_bytes(value),
                ) {
                    out.append(name, value);
                }
            }
        }
    }
    out
}

/// A `headers` field's value (the caller has removed the hop-by-hop headers).
pub fn header_list(message: &DynamicMessage, headers: &HeaderMap) -> Value {
    use prost_reflect::{Kind, ReflectMessage};
    let desc = match message
        .descriptor()
        .get_field_by_name("headers")
        .map(|f| f.kind())
    {
        Some(Kind::Message(m)) => m,
        _ => unreachable!("the proxy messages have headers"),
    };
    Value::List(
        headers
            .iter()
            .map(|(name, value)| {
                let mut header = DynamicMessage::new(desc.clone());
                header.set_field_by_name("name", Value::String(name.as_str().to_owned()));
                header.set_field_by_name("value", Value::Bytes(value.as_bytes().to_vec().into()));
                Value::Message(header)
            })
            .collect(),
    )
}

impl ProxyRoute {
    pub async fn handle(self: Arc<Self>, request: http::Request<Body>) -> Response {
        match self.forward(request).await {
            Ok(response) => response,
            Err(status) => rest::response::error(&status, &self.pool),
        }
    }

    async fn forward(&self, request: http::Request<Body>) -> Result<Response, Status> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let rest_of_path = path.strip_prefix(&self.prefix).unwrap_or(path);
        let body = rest::read_body(body, &parts.headers, self.max_body).await?;
        let mut headers = parts.headers.clone();
        headers.remove(http::header::HOST);
        crate::hop_by_hop::remove(&mut headers);
        self.request_headers.apply(&mut headers);
        let mut message = DynamicMessage::new(self.operation.method.input());
        message.set_field_by_name("method", Value::String(parts.method.as_str().to_owned()));
        message.set_field_by_name("path", Value::String(rest_of_path.to_owned()));
        message.set_field_by_name(
            "query",
            Value::String(parts.uri.query().unwrap_or("").to_owned()),
        );
        let list = header_list(&message, &headers);
        message.set_field_by_name("headers", list);
        message.set_field_by_name("body", Value::Bytes(body));
        let input = Message::Decoded(message);
        // Nothing is forwarded as metadata: the headers travel in the message.
        let call = Call::unary(
            self.operation.clone(),
            input,
            Origin::new(&parts, None),
            &[],
            self.timeout,
        )?;
        let answer = call::invoke(&self.invoker, call)
            .await?
            .into_message()
            .await?;
        let answer = answer.decoded()?;
        let status = match answer.get_field_by_name("status").as_deref() {
            Some(Value::I32(code)) => {
                StatusCode::from_u16(*code as u16).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            _ => StatusCode::BAD_GATEWAY,
        };
        // The backend has removed the hop-by-hop headers of its response.
        let mut headers = headers_of(&answer);
        self.response_headers.apply(&mut headers);
        let body = match answer.get_field_by_name("body").as_deref() {
            Some(Value::Bytes(bytes)) => bytes.clone(),
            _ => Default::default(),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
