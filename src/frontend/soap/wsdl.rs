//! The WSDL 1.1 of a service served over SOAP: document/literal wrapped, one binding for SOAP
//! 1.1 and one for 1.2, the XSD of every message the operations reach in the element form of
//! `xml::json` (one element per field, by JSON name).

use std::collections::BTreeMap;
use std::fmt::Write;

use prost_reflect::{
    EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, ServiceDescriptor,
};

use crate::registry::wkt;

/// The WSDL of `methods` of `service` in namespace `ns`, served at `location`.
pub(super) fn generate(
    service: &ServiceDescriptor,
    methods: &[MethodDescriptor],
    ns: &str,
    location: &str,
) -> String {
    let mut types = Types::default();
    let mut elements = String::new();
    for method in methods {
        for (name, message) in [
            (method.name().to_owned(), method.input()),
            (format!("{}Response", method.name()), method.output()),
        ] {
            let _ = writeln!(elements, r#"      <xs:element name="{name}">"#);
            let _ = writeln!(elements, "        <xs:complexType>");
            elements.push_str(&types.sequence(&message, "          "));
            let _ = writeln!(elements, "        </xs:complexType>\n      </xs:element>");
        }
    }
    let name = service.name();
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<wsdl:definitions name="{name}" targetNamespace="{ns}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{ns}">"#
    );
    let _ = writeln!(out, "  <wsdl:types>");
    let _ = writeln!(
        out,
        r#"    <xs:schema targetNamespace="{ns}" elementFormDefault="qualified">"#
    );
    out.push_str(&elements);
    for definition in types.done.values() {
        out.push_str(definition);
    }
    let _ = writeln!(out, "    </xs:schema>\n  </wsdl:types>");
    for method in methods {
        let m = method.name();
        let _ = writeln!(
            out,
            r#"  <wsdl:message name="{m}Request"><wsdl:part name="parameters" element="tns:{m}"/></wsdl:message>"#
        );
        let _ = writeln!(
            out,
            r#"  <wsdl:message name="{m}Response"><wsdl:part name="parameters" element="tns:{m}Response"/></wsdl:message>"#
        );
    }
    let _ = writeln!(out, r#"  <wsdl:portType name="{name}PortType">"#);
    for method in methods {
        let m = method.name();
        let _ = writeln!(
            out,
            r#"    <wsdl:operation name="{m}"><wsdl:input message="tns:{m}Request"/><wsdl:output message="tns:{m}Response"/></wsdl:operation>"#
        );
    }
    let _ = writeln!(out, "  </wsdl:portType>");
    for (binding, prefix) in [("Soap11", "soap"), ("Soap12", "soap12")] {
        let _ = writeln!(
            out,
            r#"  <wsdl:binding name="{name}{binding}" type="tns:{name}PortType">"#
        );
        let _ = writeln!(
            out,
            r#"    <{prefix}:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>"#
        );
        for method in methods {
            let m = method.name();
            let _ = writeln!(
                out,
                r#"    <wsdl:operation name="{m}"><{prefix}:operation soapAction="{ns}/{m}"/><wsdl:input><{prefix}:body use="literal"/></wsdl:input><wsdl:output><{prefix}:body use="literal"/></wsdl:output></wsdl:operation>"#
            );
        }
        let _ = writeln!(out, "  </wsdl:binding>");
    }
    let _ = writeln!(out, r#"  <wsdl:service name="{name}">"#);
    for (binding, prefix) in [("Soap11", "soap"), ("Soap12", "soap12")] {
        let _ = writeln!(
            out,
            r#"    <wsdl:port name="{name}{binding}" binding="tns:{name}{binding}"><{prefix}:address location="{}"/></wsdl:port>"#,
            escape(location)
        );
    }
    let _ = writeln!(out, "  </wsdl:service>\n</wsdl:definitions>");
    out
}

/// The named types the elements use, by name (sorted, so the document is stable).
#[derive(Default)]
struct Types {
    done: BTreeMap<String, String>,
}

impl Types {
    /// `<xs:sequence>` of a message's fields.
    fn sequence(&mut self, message: &MessageDescriptor, indent: &str) -> String {
        let mut out = format!("{indent}<xs:sequence>\n");
        for field in message.fields() {
            let ty = self.field_type(&field);
            let many = if field.is_list() || field.is_map() {
                r#" maxOccurs="unbounded""#
            } else {
                ""
            };
            let nillable = match field.kind() {
                Kind::Message(m) if wkt::WRAPPERS.contains(&m.full_name()) => r#" nillable="true""#,
                _ => "",
            };
            let _ = writeln!(
                out,
                r#"{indent}  <xs:element name="{}" type="{ty}" minOccurs="0"{many}{nillable}/>"#,
                field.json_name()
            );
        }
        let _ = writeln!(out, "{indent}</xs:sequence>");
        out
    }

    fn field_type(&mut self, field: &FieldDescriptor) -> String {
        match field.kind() {
            Kind::Double => "xs:double".into(),
            Kind::Float => "xs:float".into(),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "xs:int".into(),
            Kind::Uint32 | Kind::Fixed32 => "xs:unsignedInt".into(),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "xs:long".into(),
            Kind::Uint64 | Kind::Fixed64 => "xs:unsignedLong".into(),
            Kind::Bool => "xs:boolean".into(),
            Kind::String => "xs:string".into(),
            Kind::Bytes => "xs:base64Binary".into(),
            Kind::Enum(e) => self.enumeration(&e),
            Kind::Message(m) => match m.full_name() {
                "google.protobuf.Timestamp" => "xs:dateTime".into(),
                name if wkt::WRAPPERS.contains(&name) => match m.get_field(1) {
                    Some(value) => self.field_type(&value),
                    None => "xs:string".into(),
                },
                // Durations (`1.5s`), field masks, and JSON values (Struct, Any) as text.
                name if wkt::has_own_json_form(name) => "xs:string".into(),
                _ => self.complex(&m),
            },
        }
    }

    fn complex(&mut self, message: &MessageDescriptor) -> String {
        let name = type_name(message.full_name());
        if !self.done.contains_key(&name) {
            // Claimed before its fields, for recursive messages.
            self.done.insert(name.clone(), String::new());
            let sequence = self.sequence(message, "        ");
            let definition = format!(
                "      <xs:complexType name=\"{name}\">\n{sequence}      </xs:complexType>\n"
            );
            self.done.insert(name.clone(), definition);
        }
        format!("tns:{name}")
    }

    fn enumeration(&mut self, e: &EnumDescriptor) -> String {
        let name = type_name(e.full_name());
        if !self.done.contains_key(&name) {
            let mut definition = format!(
                "      <xs:simpleType name=\"{name}\">\n        <xs:restriction base=\"xs:string\">\n"
            );
            for value in e.values() {
                let _ = writeln!(
                    definition,
                    r#"          <xs:enumeration value="{}"/>"#,
                    value.name()
                );
            }
            definition.push_str("        </xs:restriction>\n      </xs:simpleType>\n");
            self.done.insert(name.clone(), definition);
        }
        format!("tns:{name}")
    }
}

/// A type's XSD name: its full name with `.` -> `_`.
fn type_name(full_name: &str) -> String {
    full_name.replace('.', "_")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}
