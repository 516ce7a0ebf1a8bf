//! The proxy operation: an HTTP request relayed as it is still travels through the canonical
//! model, as the one method `rosetta.proxy.Proxy.Forward` whose input and output are the HTTP
//! request and response (method, path, query, headers, body). The proxy frontend writes these
//! messages and the REST backend reads them, so they live below both.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto,
    ServiceDescriptorProto,
};

use crate::registry::Operation;

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

/// The headers of a message's `headers` field.
pub(crate) fn headers_of(message: &DynamicMessage) -> HeaderMap {
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
pub(crate) fn header_list(message: &DynamicMessage, headers: &HeaderMap) -> Value {
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
