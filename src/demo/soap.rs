//! The demo SOAP backend (`CountryInfoService`, examples/demo/schemas/countries.wsdl): an
//! in-process SOAP 1.1 server built on rosetta's own WSDL importer and XML codec, so that
//! `rosetta demo` needs nothing installed. (The interop tests use third-party SOAP stacks.)

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, Value};

use crate::config::{Diagnostics, Pos};
use crate::registry::wsdl::build::{self, Choice, SoapService};
use crate::registry::wsdl::{self, model::QName, Location};
use crate::xml::read::{Decoder, Response as Envelope};
use crate::xml::write::Encoder;
use crate::xml::Limits;

/// The WSDL, as the demo configuration names it.
const WSDL: &str = "demo/schemas/countries.wsdl";

struct Country {
    code: &'static str,
    name: &'static str,
    capital: &'static str,
    phone: &'static str,
    continent: &'static str,
    currency: &'static str,
    population: i64,
    area_km2: &'static str,
    languages: &'static [(&'static str, &'static str)],
}

const COUNTRIES: &[Country] = &[
    Country {
        code: "BR",
        name: "Brazil",
        capital: "Brasília",
        phone: "55",
        continent: "SA",
        currency: "BRL",
        population: 203_080_756,
        area_km2: "8515767.049",
        languages: &[("pt", "Portuguese")],
    },
    Country {
        code: "CH",
        name: "Switzerland",
        capital: "Bern",
        phone: "41",
        continent: "EU",
        currency: "CHF",
        population: 8_902_308,
        area_km2: "41285",
        languages: &[
            ("de", "German"),
            ("fr", "French"),
            ("it", "Italian"),
            ("rm", "Romansh"),
        ],
    },
    Country {
        code: "JP",
        name: "Japan",
        capital: "Tokyo",
        phone: "81",
        continent: "AS",
        currency: "JPY",
        population: 124_516_650,
        area_km2: "377975",
        languages: &[("ja", "Japanese")],
    },
    Country {
        code: "NL",
        name: "Netherlands",
        capital: "Amsterdam",
        phone: "31",
        continent: "EU",
        currency: "EUR",
        population: 17_942_942,
        area_km2: "41850",
        languages: &[("nl", "Dutch"), ("fy", "Western Frisian")],
    },
];

struct Demo {
    service: SoapService,
    pool: DescriptorPool,
}

/// A running demo SOAP backend.
pub struct DemoSoap {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoSoap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The demo SOAP service as a router (`POST /countries`).
pub fn soap_router() -> axum::Router {
    axum::Router::new()
        .route("/countries", axum::routing::post(handle))
        .with_state(Arc::new(load()))
}

/// Starts the demo SOAP backend on `addr` (`POST /countries`).
pub async fn start_soap(addr: SocketAddr) -> std::io::Result<DemoSoap> {
    let app = soap_router();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(DemoSoap { addr, task })
}

fn load() -> Demo {
    let mut diags = Diagnostics::default();
    let at = Pos {
        file: "demo".into(),
        line: 1,
        column: 1,
    };
    let loaded = wsdl::load(
        &super::files(),
        Location::Path(WSDL.into()),
        &at,
        &mut diags,
    )
    .unwrap_or_else(|| panic!("the demo WSDL loads:\n{}", diags.render()));
    let choice = Choice {
        package: "demo.soap",
        service: None,
        port: None,
        at: &at,
    };
    let built =
        build::build(&loaded, &choice).unwrap_or_else(|e| panic!("the demo WSDL builds: {e}"));
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_proto(built.file)
        .expect("the demo WSDL's descriptors are valid");
    Demo {
        service: built.service,
        pool,
    }
}

async fn handle(State(demo): State<Arc<Demo>>, headers: HeaderMap, body: Bytes) -> Response {
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_matches('"');
    let name = action.rsplit('/').next().unwrap_or("");
    let encoder = Encoder {
        schema: &demo.service.xml,
        prefixes: &demo.service.prefixes,
    };
    let version = demo.service.version;
    let xml = |status: StatusCode, body: Vec<u8>| {
        (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
    };
    let fault = |client: bool,
                 sub: Option<&str>,
                 reason: &str,
                 detail: Option<(&QName, &DynamicMessage)>| {
        let detail = detail.map(|(name, m)| (name, m.descriptor(), m.encode_to_vec()));
        let detail = (detail.as_ref()).map(|(name, desc, wire)| (*name, desc, wire.as_slice()));
        let body = encoder
            .fault(version, client, sub, reason, detail)
            .unwrap_or_default();
        xml(StatusCode::INTERNAL_SERVER_ERROR, body)
    };
    let Some(operation) = demo.service.operations.get(name) else {
        return fault(
            true,
            Some("UnknownAction"),
            &format!("no operation for SOAPAction `{action}`"),
            None,
        );
    };
    let message = |name: &str| {
        demo.pool
            .get_message_by_name(name)
            .expect("the demo's messages are in its pool")
    };
    let decoder = Decoder {
        schema: &demo.service.xml,
    };
    let input = match decoder.envelope(&body, Limits::with_max_size(1 << 20), &operation.input, &[])
    {
        Ok(Envelope::Message(wire)) => {
            match DynamicMessage::decode(message(&operation.input.message), wire.as_slice()) {
                Ok(m) => m,
                Err(e) => return fault(false, None, &e.to_string(), None),
            }
        }
        Ok(Envelope::Fault(_)) => return fault(true, None, "a request is not a fault", None),
        Err(e) => return fault(true, None, &e.to_string(), None),
    };
    let text = |m: &DynamicMessage, field: &str| match m.get_field_by_name(field).as_deref() {
        Some(Value::String(s)) => s.to_ascii_uppercase(),
        _ => String::new(),
    };
    let mut output = DynamicMessage::new(message(&operation.output.message));
    let code = text(&input, "sCountryISOCode");
    let country = COUNTRIES.iter().find(|c| c.code == code);
    match (operation.name.as_str(), country) {
        ("ListOfCountryNamesByName", _) => {
            let continent = text(&input, "sContinentCode");
            let entry = output
                .descriptor()
                .get_field_by_name("tCountryCodeAndName")
                .expect("the demo WSDL has it");
            let items = COUNTRIES
                .iter()
                .filter(|c| continent.is_empty() || c.continent == continent)
                .map(|c| Value::Message(pairs(&entry, &[("sISOCode", c.code), ("sName", c.name)])))
                .collect();
            output.set_field(&entry, Value::List(items));
        }
        ("CapitalCity", Some(c)) => {
            output.set_field_by_name("CapitalCityResult", Value::String(c.capital.into()));
        }
        ("FullCountryInfo", Some(c)) => {
            let result = output
                .descriptor()
                .get_field_by_name("FullCountryInfoResult")
                .expect("the demo WSDL has it");
            output.set_field(&result, Value::Message(full_info(&result, c)));
        }
        (_, None) => {
            let (detail_name, detail_message) = &operation.faults[0];
            let mut detail = DynamicMessage::new(message(detail_message));
            detail.set_field_by_name("sCountryISOCode", Value::String(code.clone()));
            return fault(
                true,
                Some("UnknownCountry"),
                &format!("no country with ISO code `{code}`"),
                Some((detail_name, &detail)),
            );
        }
        _ => return fault(false, None, "not implemented", None),
    }
    let wire = output.encode_to_vec();
    match encoder.envelope(version, &operation.output, &output.descriptor(), &wire, &[]) {
        Ok(body) => xml(StatusCode::OK, body),
        Err(e) => fault(false, None, &e.to_string(), None),
    }
}

/// A message of string fields.
fn pairs(field: &prost_reflect::FieldDescriptor, values: &[(&str, &str)]) -> DynamicMessage {
    let prost_reflect::Kind::Message(desc) = field.kind() else {
        unreachable!("the demo WSDL's fields hold messages here")
    };
    let mut message = DynamicMessage::new(desc);
    for (name, value) in values {
        message.set_field_by_name(name, Value::String((*value).into()));
    }
    message
}

fn full_info(field: &prost_reflect::FieldDescriptor, c: &Country) -> DynamicMessage {
    let mut info = pairs(
        field,
        &[
            ("sISOCode", c.code),
            ("sName", c.name),
            ("sCapitalCity", c.capital),
            ("sPhoneCode", c.phone),
            ("sContinentCode", c.continent),
            ("sCurrencyISOCode", c.currency),
            ("dAreaKm2", c.area_km2),
        ],
    );
    info.set_field_by_name("lPopulation", Value::I64(c.population));
    let languages = info
        .descriptor()
        .get_field_by_name("Languages")
        .expect("the demo WSDL has it");
    let items = c
        .languages
        .iter()
        .map(|(code, name)| {
            Value::Message(pairs(&languages, &[("sISOCode", code), ("sName", name)]))
        })
        .collect();
    info.set_field(&languages, Value::List(items));
    info
}
