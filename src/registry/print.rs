//! Descriptors written back as `.proto` text: what `rosetta schema export --format proto`
//! prints for the services the gRPC frontend serves, also those the WSDL importer made (whose
//! files exist only in the registry). Hand-written because no crate prints prost-reflect
//! descriptors; options other than `optional` are left out, comments are kept.

use std::fmt::Write;

use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    ServiceDescriptor,
};

use super::comments;

/// The `.proto` text of a file.
pub fn proto(file: &FileDescriptor) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "// {} (as rosetta's registry holds it)", file.name());
    let syntax = match file.file_descriptor_proto().syntax() {
        "proto2" => "proto2",
        _ => "proto3",
    };
    let _ = writeln!(out, "syntax = \"{syntax}\";\n");
    if !file.package_name().is_empty() {
        let _ = writeln!(out, "package {};\n", file.package_name());
    }
    for dependency in file.dependencies() {
        let _ = writeln!(out, "import \"{}\";", dependency.name());
    }
    if file.dependencies().next().is_some() {
        out.push('\n');
    }
    for e in file.enums() {
        write_enum(&mut out, &e, "");
    }
    for message in file.messages() {
        write_message(&mut out, &message, "");
    }
    for service in file.services() {
        write_service(&mut out, &service);
    }
    out
}

fn write_comment(out: &mut String, file: &FileDescriptor, path: &[i32], indent: &str) {
    if let Some(text) = comments(file, path) {
        for line in text.lines() {
            let _ = writeln!(out, "{indent}// {line}");
        }
    }
}

fn write_message(out: &mut String, message: &MessageDescriptor, indent: &str) {
    if message.is_map_entry() {
        return;
    }
    write_comment(out, &message.parent_file(), message.path(), indent);
    let _ = writeln!(out, "{indent}message {} {{", message.name());
    let inner = format!("{indent}  ");
    for e in message.child_enums() {
        write_enum(out, &e, &inner);
    }
    for nested in message.child_messages() {
        write_message(out, &nested, &inner);
    }
    for oneof in message.oneofs().filter(|o| !o.is_synthetic()) {
        let _ = writeln!(out, "{inner}oneof {} {{", oneof.name());
        for field in oneof.fields() {
            write_field(out, &field, &format!("{inner}  "), false);
        }
        let _ = writeln!(out, "{inner}}}");
    }
    for field in message.fields() {
        if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            continue;
        }
        write_field(out, &field, &inner, true);
    }
    let _ = writeln!(out, "{indent}}}\n");
}

fn write_field(out: &mut String, field: &FieldDescriptor, indent: &str, label: bool) {
    write_comment(out, &field.parent_file(), field.path(), indent);
    let ty = if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields are messages")
        };
        format!(
            "map<{}, {}>",
            type_name(&entry.map_entry_key_field()),
            type_name(&entry.map_entry_value_field())
        )
    } else {
        type_name(field)
    };
    let label = match (label, field.cardinality()) {
        (true, Cardinality::Repeated) if !field.is_map() => "repeated ",
        (true, Cardinality::Optional) if field.field_descriptor_proto().proto3_optional() => {
            "optional "
        }
        (true, Cardinality::Required) => "required ",
        _ => "",
    };
    let json = if field.json_name() != super::lower_camel(field.name()) {
        format!(" [json_name = \"{}\"]", field.json_name())
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{indent}{label}{ty} {} = {}{json};",
        field.name(),
        field.number()
    );
}

fn type_name(field: &FieldDescriptor) -> String {
    match field.kind() {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
    }
}

fn write_enum(out: &mut String, e: &EnumDescriptor, indent: &str) {
    write_comment(out, &e.parent_file(), e.path(), indent);
    let _ = writeln!(out, "{indent}enum {} {{", e.name());
    let numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
    if (1..numbers.len()).any(|i| numbers[..i].contains(&numbers[i])) {
        let _ = writeln!(out, "{indent}  option allow_alias = true;");
    }
    for value in e.values() {
        write_comment(out, &e.parent_file(), value.path(), &format!("{indent}  "));
        let _ = writeln!(out, "{indent}  {} = {};", value.name(), value.number());
    }
    let _ = writeln!(out, "{indent}}}\n");
}

fn write_service(out: &mut String, service: &ServiceDescriptor) {
    write_comment(out, &service.parent_file(), service.path(), "");
    let _ = writeln!(out, "service {} {{", service.name());
    for method in service.methods() {
        write_comment(out, &service.parent_file(), method.path(), "  ");
        let stream = |yes: bool| if yes { "stream " } else { "" };
        let _ = writeln!(
            out,
            "  rpc {}({}.{}) returns ({}.{});",
            method.name(),
            stream(method.is_client_streaming()),
            method.input().full_name(),
            stream(method.is_server_streaming()),
            method.output().full_name()
        );
    }
    let _ = writeln!(out, "}}\n");
}
