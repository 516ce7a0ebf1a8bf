//! The proxy operation: an HTTP request relayed as it is still travels through the canonical
//! model, as the one method `rosetta.proxy.Proxy.Forward` whose input and output are the HTTP
//! request and response (method, path, query, headers, body). The proxy frontend writes these
//! messages and the REST backend reads them, so they live below both.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto,
    ServiceDescriptorProto,
};

use crate::registry::Operation;
use crate::status::Status;

/// The full name of the proxy operation's method.
pub(crate) const FORWARD: &str = "rosetta.proxy.Proxy.Forward";

/// Adds `rosetta/proxy.proto` to the pool (once) and returns the proxy operation.
pub(crate) fn operation(pool: &mut DescriptorPool) -> Arc<Operation> {
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

/// An HTTP request or response of a `proxy` mapping, kept as it arrived: the relay reads
/// and writes it without copying each header into a field. Its `rosetta.proxy` message is
/// built only for a stage that asks for the fields.
#[derive(Debug, Clone)]
pub struct Relayed {
    pub head: Head,
    /// Without the hop-by-hop headers.
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
pub enum Head {
    Request {
        method: Method,
        /// Below the proxy's path prefix.
        path: String,
        query: String,
    },
    Response {
        status: StatusCode,
    },
}

impl Relayed {
    /// The `HttpRequest` or `HttpResponse` message of `desc`.
    pub(crate) fn to_message(&self, desc: &MessageDescriptor) -> DynamicMessage {
        let mut message = DynamicMessage::new(desc.clone());
        match &self.head {
            Head::Request {
                method,
                path,
                query,
            } => {
                message.set_field_by_name("method", Value::String(method.as_str().to_owned()));
                message.set_field_by_name("path", Value::String(path.clone()));
                message.set_field_by_name("query", Value::String(query.clone()));
            }
            Head::Response { status } => {
                message.set_field_by_name("status", Value::I32(i32::from(status.as_u16())));
            }
        }
        let list = header_list(&message, &self.headers);
        message.set_field_by_name("headers", list);
        message.set_field_by_name("body", Value::Bytes(self.body.clone()));
        message
    }

    /// Read back from the fields: a response when the message has a `status`.
    pub(crate) fn from_message(message: &DynamicMessage) -> Result<Relayed, Status> {
        let text = |name: &str| match message.get_field_by_name(name).as_deref() {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let head = if message.descriptor().get_field_by_name("status").is_some() {
            let status = match message.get_field_by_name("status").as_deref() {
                Some(Value::I32(code)) => u16::try_from(*code)
                    .ok()
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .unwrap_or(StatusCode::BAD_GATEWAY),
                _ => StatusCode::BAD_GATEWAY,
            };
            Head::Response { status }
        } else {
            Head::Request {
                method: Method::from_bytes(text("method").as_bytes())
                    .map_err(|_| Status::invalid_argument("not an HTTP method"))?,
                path: text("path"),
                query: text("query"),
            }
        };
        let body = match message.get_field_by_name("body").as_deref() {
            Some(Value::Bytes(bytes)) => bytes.clone(),
            _ => Bytes::new(),
        };
        Ok(Relayed {
            head,
            headers: headers_of(message),
            body,
        })
    }
}

/// The headers of a message's `headers` field.
fn headers_of(message: &DynamicMessage) -> HeaderMap {
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

/// A `headers` field's value.
fn header_list(message: &DynamicMessage, headers: &HeaderMap) -> Value {
    use prost_reflect::Kind;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A relayed message read back from its fields (as a cached reply or a stage's rewrite
    /// would be) is the message it was.
    #[test]
    fn relayed_messages_read_back_from_their_fields() {
        let mut pool = DescriptorPool::new();
        let method = operation(&mut pool).method.clone();
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let request = Relayed {
            head: Head::Request {
                method: Method::PATCH,
                path: "/items/7".into(),
                query: "a=1&b=2".into(),
            },
            headers: headers.clone(),
            body: Bytes::from_static(b"\x00\xffbody"),
        };
        let back = Relayed::from_message(&request.to_message(&method.input())).unwrap();
        let Head::Request {
            method: verb,
            path,
            query,
        } = back.head
        else {
            panic!("a request reads back as a request")
        };
        assert_eq!(
            (verb, path.as_str(), query.as_str()),
            (Method::PATCH, "/items/7", "a=1&b=2")
        );
        assert_eq!(back.headers, headers);
        assert_eq!(back.body, request.body);

        let response = Relayed {
            head: Head::Response {
                status: StatusCode::IM_A_TEAPOT,
            },
            headers: headers.clone(),
            body: Bytes::from_static(b"{}"),
        };
        let back = Relayed::from_message(&response.to_message(&method.output())).unwrap();
        assert!(
            matches!(back.head, Head::Response { status } if status == StatusCode::IM_A_TEAPOT)
        );
        assert_eq!(back.headers, headers);

        let mut bad = request.to_message(&method.input());
        bad.set_field_by_name("method", Value::String("NOT A METHOD".into()));
        assert_eq!(
            Relayed::from_message(&bad).unwrap_err().message,
            "not an HTTP method"
        );
    }
}
