//! The WSDL/XSD importer and the XML codec on the constructs the shop WSDL of tests/soap.rs
//! does not use: attribute groups, model groups, repeated choices, restrictions of simple and
//! complex content, several levels of extension, element refs, unions, the odd built-in types;
//! load errors with their places; a WSDL fetched by URL with relative imports in a cycle.

mod common;

use std::path::Path;

use prost_reflect::{DescriptorPool, DynamicMessage};
use rosetta::config::{Diagnostics, Files, Pos};
use rosetta::protojson::{json_to_wire, wire_to_json, JsonOptions, Plan};
use rosetta::registry::wsdl::build::{self, Built, Choice};
use rosetta::registry::wsdl::{self, Location};
use rosetta::xml::read::{Decoder, Response};
use rosetta::xml::write::{Encoder, WriteError};
use rosetta::xml::Limits;

const TYPES: &str = r#"<?xml version="1.0"?>
<wsdl:definitions targetNamespace="urn:kit" xmlns:tns="urn:kit"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <wsdl:types>
    <xs:schema targetNamespace="urn:kit" elementFormDefault="qualified">
      <xs:attributeGroup name="Audit">
        <xs:attribute name="by" type="xs:string"/>
        <xs:attribute name="at" type="xs:dateTime"/>
      </xs:attributeGroup>
      <xs:group name="Dimensions">
        <xs:sequence>
          <xs:element name="width" type="xs:unsignedByte"/>
          <xs:element name="height" type="xs:unsignedByte"/>
        </xs:sequence>
      </xs:group>
      <xs:simpleType name="Code">
        <xs:restriction base="xs:string"><xs:maxLength value="4"/><xs:pattern value="[A-Z]{2}\d{2}"/></xs:restriction>
      </xs:simpleType>
      <xs:simpleType name="SizeOrAuto">
        <xs:union memberTypes="xs:int"><xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value="auto"/></xs:restriction></xs:simpleType></xs:union>
      </xs:simpleType>
      <xs:complexType name="Money">
        <xs:simpleContent>
          <xs:extension base="xs:decimal"><xs:attribute name="currency" type="xs:string"/></xs:extension>
        </xs:simpleContent>
      </xs:complexType>
      <xs:complexType name="Euros">
        <xs:simpleContent>
          <xs:restriction base="tns:Money"><xs:minInclusive value="0"/></xs:restriction>
        </xs:simpleContent>
      </xs:complexType>
      <xs:complexType name="Thing">
        <xs:sequence><xs:element name="name" type="xs:string"/></xs:sequence>
        <xs:attributeGroup ref="tns:Audit"/>
      </xs:complexType>
      <xs:complexType name="Box">
        <xs:complexContent>
          <xs:extension base="tns:Thing">
            <xs:sequence><xs:group ref="tns:Dimensions"/></xs:sequence>
          </xs:extension>
        </xs:complexContent>
      </xs:complexType>
      <xs:complexType name="GiftBox">
        <xs:complexContent>
          <xs:extension base="tns:Box">
            <xs:sequence><xs:element name="ribbon" type="xs:boolean"/></xs:sequence>
          </xs:extension>
        </xs:complexContent>
      </xs:complexType>
      <xs:complexType name="NamedOnly">
        <xs:complexContent>
          <xs:restriction base="tns:Thing">
            <xs:sequence><xs:element name="name" type="xs:string"/></xs:sequence>
            <xs:attribute name="at" use="prohibited"/>
          </xs:restriction>
        </xs:complexContent>
      </xs:complexType>
      <xs:element name="note" type="xs:string"/>
      <xs:element name="Kit">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="code" type="tns:Code"/>
            <xs:element name="size" type="tns:SizeOrAuto"/>
            <xs:element name="box" type="tns:GiftBox"/>
            <xs:element name="plain" type="tns:NamedOnly" minOccurs="0"/>
            <xs:element name="price" type="tns:Euros"/>
            <xs:choice maxOccurs="unbounded">
              <xs:element name="part" type="xs:string"/>
              <xs:element name="tool" type="xs:string"/>
            </xs:choice>
            <xs:element ref="tns:note" minOccurs="0" maxOccurs="unbounded"/>
            <xs:element name="ratio" type="xs:float"/>
            <xs:element name="checksum" type="xs:hexBinary"/>
            <xs:element name="count" type="xs:integer"/>
            <xs:element name="flags" type="xs:NMTOKENS"/>
            <xs:element name="extra" minOccurs="0"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="KitMessage"><wsdl:part name="kit" element="tns:Kit"/></wsdl:message>
  <wsdl:portType name="KitPort">
    <wsdl:operation name="Echo"><wsdl:input message="tns:KitMessage"/><wsdl:output message="tns:KitMessage"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="KitBinding" type="tns:KitPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Echo"><soap:operation soapAction="urn:kit:Echo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="KitService">
    <wsdl:port name="KitPort" binding="tns:KitBinding"><soap:address location="http://127.0.0.1:9/kit"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#;

fn at() -> Pos {
    Pos {
        file: "test".into(),
        line: 1,
        column: 1,
    }
}

/// Loads and builds the WSDL at `location`; the diagnostics rendered when it fails.
fn import(files: &Files, location: Location) -> Result<(Built, DescriptorPool), String> {
    let mut diags = Diagnostics::default();
    let from = at();
    let loaded = wsdl::load(files, location, &from, &mut diags).ok_or_else(|| diags.render())?;
    let choice = Choice {
        package: "test.kit",
        service: None,
        port: None,
        at: &from,
    };
    let built = build::build(&loaded, &choice).map_err(|problem| problem.to_string())?;
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_proto(built.file.clone()).unwrap();
    Ok((built, pool))
}

fn kit() -> (Built, DescriptorPool) {
    let files = Files::embedded(&[("kit/kit.wsdl", TYPES.as_bytes())]);
    import(&files, Location::Path("kit/kit.wsdl".into())).unwrap()
}

/// The kit's `Echo` operation: its input's descriptor, and the envelope a wire form of that
/// input becomes.
struct Echo {
    built: Built,
    desc: prost_reflect::MessageDescriptor,
}

impl Echo {
    fn new() -> Echo {
        let (built, pool) = kit();
        let input = &built.service.operations["Echo"].input.message;
        let desc = pool.get_message_by_name(input).unwrap();
        Echo { built, desc }
    }

    fn envelope(&self, wire: &[u8]) -> Result<Vec<u8>, WriteError> {
        let encoder = Encoder {
            schema: &self.built.service.xml,
            prefixes: &self.built.service.prefixes,
        };
        let operation = &self.built.service.operations["Echo"];
        encoder.envelope(
            self.built.service.version,
            &operation.input,
            &self.desc,
            wire,
            &[],
        )
    }
}

#[test]
fn xsd_constructs_round_trip_between_xml_and_json() {
    let echo = Echo::new();
    let (built, desc) = (&echo.built, &echo.desc);
    let operation = &built.service.operations["Echo"];
    let plan = Plan::new(
        desc,
        JsonOptions {
            emit_defaults: true,
            ..Default::default()
        },
    );
    let xml = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:k="urn:kit"><e:Body><k:Kit>
        <k:code>AB12</k:code><k:size>auto</k:size>
        <k:box by="ann" at="2024-05-01T10:00:00Z"><k:name>crate</k:name><k:width>10</k:width><k:height>255</k:height><k:ribbon>1</k:ribbon></k:box>
        <k:plain by="bob"><k:name>bare</k:name></k:plain>
        <k:price currency="EUR">12.50</k:price>
        <k:part>p1</k:part><k:tool>t1</k:tool><k:part>p2</k:part>
        <k:note>one</k:note><k:note>two</k:note>
        <k:ratio>INF</k:ratio><k:checksum>0FB7</k:checksum><k:count>-123456789012345678901234567890</k:count>
        <k:flags>a b  c</k:flags><k:extra><k:any attr="1">text</k:any></k:extra>
        </k:Kit></e:Body></e:Envelope>"#;
    let decoder = Decoder {
        schema: &built.service.xml,
    };
    let Ok(Response::Message(wire)) = decoder.envelope(
        xml.as_bytes(),
        Limits::with_max_size(1 << 20),
        &operation.input,
        &[],
    ) else {
        panic!("the envelope reads")
    };
    let mut json = Vec::new();
    wire_to_json(&plan, &wire, &mut json).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    insta::assert_json_snapshot!("kit_json", json);

    // And back: the JSON becomes the same document (modulo prefixes and whitespace).
    let wire = json_to_wire(&plan, json.to_string().as_bytes()).unwrap();
    let envelope = echo.envelope(&wire).unwrap();
    insta::assert_snapshot!("kit_envelope", String::from_utf8(envelope).unwrap());
}

/// The envelope is written from the wire form as it is: fields in any order give the same
/// document; what only decoding settles (a singular field sent twice) is sent back to be made
/// canonical, and then gives the document of the value that wins.
#[test]
fn envelopes_are_written_from_wire_bytes_in_any_order() {
    use prost::Message as _;
    let echo = Echo::new();
    let desc = &echo.desc;
    let plan = Plan::new(desc, JsonOptions::default());
    let envelope = |wire: &[u8]| echo.envelope(wire);
    let json = serde_json::json!({
        "code": "AB12", "size": "auto", "price": {"currency": "EUR", "$value": "12.50"},
        "box": {"name": "crate", "width": 10, "height": 255, "ribbon": true},
        "note": ["one", "two"], "ratio": 0.5, "checksum": "0FB7", "count": "-12",
        "flags": ["a", "b"],
    });
    let wire = json_to_wire(&plan, json.to_string().as_bytes()).unwrap();
    let message = DynamicMessage::decode(desc.clone(), wire.as_slice()).unwrap();
    let canonical = envelope(&message.encode_to_vec()).unwrap();
    assert_eq!(envelope(&wire).unwrap(), canonical);

    // One record per field, concatenated last field first.
    let record = |field: &prost_reflect::FieldDescriptor, value: prost_reflect::Value| {
        let mut only = DynamicMessage::new(desc.clone());
        only.set_field(field, value);
        only.encode_to_vec()
    };
    let set: Vec<_> = message.fields().map(|(f, v)| (f, v.clone())).collect();
    assert!(set.len() >= 8, "the message sets most fields");
    let reversed: Vec<u8> = set
        .iter()
        .rev()
        .flat_map(|(f, v)| record(f, v.clone()))
        .collect();
    assert_eq!(envelope(&reversed).unwrap(), canonical);

    let code = desc.get_field_by_name("code").unwrap();
    let mut twice = record(&code, prost_reflect::Value::String("ZZ99".into()));
    twice.extend_from_slice(&wire);
    assert_eq!(envelope(&twice), Err(WriteError::NotCanonical));
    let decoded = DynamicMessage::decode(desc.clone(), twice.as_slice()).unwrap();
    assert_eq!(envelope(&decoded.encode_to_vec()).unwrap(), canonical);
    assert_eq!(
        envelope(b"\xff\xff"),
        Err(WriteError::NotCanonical),
        "bytes that are not protobuf"
    );
}

/// Facets are checked before a request leaves for a SOAP backend: enumeration, lengths,
/// patterns and numeric ranges.
#[test]
fn xsd_facets_refuse_bad_values_before_they_are_sent() {
    let echo = Echo::new();
    let plan = Plan::new(&echo.desc, JsonOptions::default());
    let encode = |json: serde_json::Value| {
        let wire = json_to_wire(&plan, json.to_string().as_bytes()).unwrap();
        echo.envelope(&wire).map(|_| ()).map_err(|e| e.to_string())
    };
    let kit = |code: &str, price: &str| {
        serde_json::json!({
            "code": code, "size": "auto", "price": {"$value": price},
            "box": {"name": "b", "width": 1, "height": 1, "ribbon": false},
            "ratio": 1.0, "checksum": "00", "count": "1", "flags": ["a"],
        })
    };
    assert_eq!(encode(kit("AB12", "0")), Ok(()));
    let refused = [
        (
            kit("ab12", "1"),
            "`ab12` does not match the pattern `[A-Z]{2}\\d{2}`",
        ),
        (
            kit("ABC12", "1"),
            "has a length outside the schema's bounds",
        ),
        (kit("AB12", "-0.01"), "`-0.01` is below the minimum 0"),
    ];
    for (json, expected) in refused {
        let error = encode(json).expect_err(expected);
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn descriptors_of_the_peer_and_demo_wsdls() {
    for (name, path) in [
        ("customer", "tests/peers/customer.wsdl"),
        ("countries", "examples/demo/schemas/countries.wsdl"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let (built, pool) = import(&Files::Disk, Location::Path(path)).unwrap();
        let _ = built;
        insta::assert_snapshot!(
            format!("descriptors_{name}"),
            common::describe_package(&pool, "test.kit")
        );
    }
}

#[test]
fn what_cannot_be_imported_is_refused_with_its_place() {
    let cases: [(&str, &str); 4] = [
        (
            "wsdl2.wsdl",
            r#"<description xmlns="http://www.w3.org/ns/wsdl"/>"#,
        ),
        (
            "encoded.wsdl",
            &TYPES.replace(
                r#"<soap:body use="literal"/>"#,
                r#"<soap:body use="encoded"/>"#,
            ),
        ),
        (
            "redefine.wsdl",
            &TYPES
                .replace(
                    r#"<xs:element name="note" type="xs:string"/>"#,
                    r#"<xs:redefine schemaLocation="x.xsd"/>"#,
                )
                .replace(
                    r#"<xs:element ref="tns:note" minOccurs="0" maxOccurs="unbounded"/>"#,
                    "",
                ),
        ),
        (
            "doctype.wsdl",
            &format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{TYPES}"),
        ),
    ];
    let dir = common::write_files(&cases);
    let mut report = String::new();
    for (name, _) in cases {
        let mut diags = Diagnostics::default();
        let path = dir.path().join(name);
        let loaded = wsdl::load(&Files::Disk, Location::Path(path), &at(), &mut diags);
        let outcome = match loaded {
            None => diags.render(),
            Some(loaded) => {
                let choice = Choice {
                    package: "test.kit",
                    service: None,
                    port: None,
                    at: &at(),
                };
                match build::build(&loaded, &choice) {
                    Ok(_) => format!("{}imported", diags.render_warnings()),
                    Err(problem) => format!("{}{problem}\n", diags.render_warnings()),
                }
            }
        };
        let outcome = outcome.replace(&format!("{}/", dir.path().display()), "");
        report.push_str(&format!("== {name}\n{outcome}\n"));
    }
    insta::assert_snapshot!("refused", report);
}

#[tokio::test]
async fn a_wsdl_is_fetched_by_url_with_its_relative_imports_in_a_cycle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/soap");
    let app = axum::Router::new().fallback_service(tower_http_like_files(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/wsdl/shop.wsdl?wsdl");
    let (built, _) = tokio::task::spawn_blocking(move || import(&Files::Disk, Location::Url(url)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(built.service_name, "test.kit.Shop");
    assert_eq!(built.service.operations.len(), 3);
    // A document that is not there is a located error at the import that names it.
    let url = format!("http://{addr}/wsdl/missing.wsdl");
    let error = tokio::task::spawn_blocking(move || import(&Files::Disk, Location::Url(url)))
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.contains("cannot read `http://127.0.0.1:"), "{error}");
    assert!(error.contains("404"), "{error}");
}

/// Serves the files of `dir` under `/wsdl/`.
fn tower_http_like_files(dir: std::path::PathBuf) -> axum::routing::MethodRouter {
    axum::routing::get(move |uri: axum::http::Uri| {
        let dir = dir.clone();
        async move {
            let name = uri.path().trim_start_matches("/wsdl/").to_owned();
            match std::fs::read(dir.join(&name)) {
                Ok(bytes) if !name.contains("..") => (axum::http::StatusCode::OK, bytes),
                _ => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
            }
        }
    })
}
