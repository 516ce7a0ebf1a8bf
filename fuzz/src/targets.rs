//! The fuzz targets: each takes one input and drives one decoder of rosetta with it, the way
//! a request or a configuration would. Shared by the AFL++ binaries (`fuzz/src/bin/`) and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every input that once crashed.
//!
//! A target must never panic, hang or grow without bound on any input; AFL++ reports a crash
//! or a timeout when one does.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use rosetta::config::{Diagnostics, Files};
use rosetta::protojson::{json_to_wire, wire_to_json, JsonOptions, Plan};
use tower::ServiceExt;

/// A target: one input in, nothing out.
pub type Target = fn(&[u8]);

/// Every target, by the name `fuzz/run` takes.
pub const TARGETS: [(&str, Target); 9] = [
    ("path_template", path_template),
    ("rest_request", rest_request),
    ("json_to_proto", json_to_proto),
    ("proto_to_json", proto_to_json),
    ("xml_request", xml_request),
    ("soap_envelope", soap_envelope),
    ("graphql_request", graphql_request),
    ("wsdl_import", wsdl_import),
    ("openapi_import", openapi_import),
];

/// A runtime, the demo backends, and gateways in front of them, made once per process.
struct World {
    runtime: tokio::runtime::Runtime,
    /// The demo gateway: REST and GraphQL over the demo gRPC service, REST over the SOAP one.
    demo: axum::Router,
    /// A SOAP frontend over the demo gRPC service.
    soap: axum::Router,
    /// The demo SOAP backend itself, which reads request envelopes.
    countries: axum::Router,
    pool: DescriptorPool,
    _dir: tempfile::TempDir,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // Clients made while loading need the runtime.
    let _inside = runtime.enter();
    let (grpc, soap) = runtime.block_on(async {
        let grpc = rosetta::demo::start_grpc("127.0.0.1:0".parse().unwrap()).await;
        let soap = rosetta::demo::start_soap("127.0.0.1:0".parse().unwrap()).await;
        (
            grpc.expect("the demo gRPC backend"),
            soap.expect("the demo SOAP backend"),
        )
    });
    let vars = {
        let (grpc, soap) = (grpc.addr.to_string(), soap.addr.to_string());
        Arc::new(move |name: &str| match name {
            rosetta::demo::GRPC_ADDRESS_VAR => Some(grpc.clone()),
            rosetta::demo::SOAP_ADDRESS_VAR => Some(soap.clone()),
            _ => None,
        })
    };
    let demo = rosetta::gateway::load(
        rosetta::demo::files(),
        rosetta::demo::GATEWAY_FILE.as_ref(),
        vars,
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The demo's schemas, from the fuzz crate or from the repository's own tests.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schemas = ["examples/demo/schemas", "../examples/demo/schemas"]
        .map(|p| manifest.join(p))
        .into_iter()
        .find(|p| p.is_dir())
        .expect("the demo's schemas");
    let schemas = schemas.display();
    std::fs::write(
        dir.path().join("gateway.yaml"),
        format!("version: 1\nschemas:\n  include: [{schemas}]\nbackends:\n  users:\n    protocol: grpc\n    address: http://{}\n", grpc.addr),
    )
    .expect("gateway.yaml");
    std::fs::create_dir(dir.path().join("mappings")).expect("mappings");
    std::fs::write(
        dir.path().join("mappings/soap.yaml"),
        "version: 1\nfrontend: soap\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n",
    )
    .expect("the mapping");
    let soap_gateway = rosetta::gateway::load(
        Files::Disk,
        &dir.path().join("gateway.yaml"),
        Arc::new(|_| None),
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    // The backends live as long as the process.
    std::mem::forget((grpc, soap));
    drop(_inside);
    World {
        runtime,
        pool: demo.pool.clone(),
        demo: demo.app(),
        soap: soap_gateway.app(),
        countries: rosetta::demo::soap_router(),
        _dir: dir,
    }
});

fn send(app: &axum::Router, request: http::Request<axum::body::Body>) {
    let world = &*WORLD;
    world.runtime.block_on(async {
        let response = match app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let _ = axum::body::to_bytes(response.into_body(), 16 << 20).await;
    });
}

fn post(path: &str, content_type: &str, body: &[u8]) -> http::Request<axum::body::Body> {
    http::Request::post(path)
        .header("host", "fuzz")
        .header("content-type", content_type)
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a request")
}

/// The demo's messages, to pick one by an input's first byte.
fn messages() -> &'static [MessageDescriptor] {
    static MESSAGES: LazyLock<Vec<MessageDescriptor>> = LazyLock::new(|| {
        let mut all: Vec<MessageDescriptor> = WORLD
            .pool
            .all_messages()
            .filter(|m| !m.full_name().starts_with("google."))
            .collect();
        all.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        all
    });
    &MESSAGES
}

/// The message the first byte picks, and the rest of the input.
fn pick(data: &[u8]) -> Option<(&'static MessageDescriptor, &[u8])> {
    let (first, rest) = data.split_first()?;
    let all = messages();
    Some((&all[usize::from(*first) % all.len()], rest))
}

/// The google.api.http path template parser.
pub fn path_template(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rosetta::http_rule::template::parse(text);
    }
}

/// A request target (path and query) against the demo's REST routes: the route matcher, path
/// unescaping, query parameters into the input message, and the call.
pub fn rest_request(data: &[u8]) {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = http::Uri::try_from(target) else {
        return;
    };
    if uri.scheme().is_some() || !target.starts_with('/') {
        return;
    }
    let request = http::Request::get(uri)
        .header("host", "fuzz")
        .body(axum::body::Body::empty())
        .expect("a request");
    send(&WORLD.demo, request);
}

/// proto3 JSON into the wire form of a demo message (and, when it reads, back).
pub fn json_to_proto(data: &[u8]) {
    let Some((message, json)) = pick(data) else {
        return;
    };
    let plan = Plan::new(message, JsonOptions::default());
    if let Ok(wire) = json_to_wire(&plan, json) {
        let mut out = Vec::new();
        let _ = wire_to_json(&plan, &wire, &mut out);
    }
}

/// Wire bytes of a demo message into proto3 JSON, by the fast path or, when it gives up, the
/// DynamicMessage one.
pub fn proto_to_json(data: &[u8]) {
    let Some((message, wire)) = pick(data) else {
        return;
    };
    for options in [
        JsonOptions::default(),
        JsonOptions {
            emit_defaults: true,
            enums_as_numbers: true,
            proto_field_names: true,
            deny_unknown_fields: false,
        },
    ] {
        let plan = Plan::new(message, options);
        let mut out = Vec::new();
        if wire_to_json(&plan, wire, &mut out).is_err() {
            if let Ok(decoded) = DynamicMessage::decode(message.clone(), wire) {
                let _ = serde_json::to_vec(&decoded);
                let _ = decoded.encode_to_vec();
            }
        }
    }
}

/// A SOAP request envelope to the SOAP frontend: XML into the input message.
pub fn xml_request(data: &[u8]) {
    send(&WORLD.soap, post("/soap/Users", "text/xml", data));
}

/// An envelope to the demo SOAP service, which reads it the way the SOAP backend reads
/// responses and faults; the first byte picks the operation (its SOAPAction), without which
/// the service would refuse every envelope before reading it.
pub fn soap_envelope(data: &[u8]) {
    const ACTIONS: [&str; 3] = ["CapitalCity", "FullCountryInfo", "ListOfCountryNamesByName"];
    let Some((first, envelope)) = data.split_first() else {
        return;
    };
    let mut request = post("/countries", "text/xml", envelope);
    let action = ACTIONS[usize::from(*first) % ACTIONS.len()];
    if let Ok(value) = http::HeaderValue::from_str(&format!("\"{action}\"")) {
        request.headers_mut().insert("soapaction", value);
    }
    send(&WORLD.countries, request);
}

/// A GraphQL request to the demo endpoint: the body as sent (JSON with `query`, `variables`,
/// `operationName`), then the same bytes as the query text.
pub fn graphql_request(data: &[u8]) {
    send(&WORLD.demo, post("/graphql", "application/json", data));
    let body = serde_json::json!({ "query": String::from_utf8_lossy(data) });
    let body = serde_json::to_vec(&body).unwrap_or_default();
    send(&WORLD.demo, post("/graphql", "application/json", &body));
}

/// An importer follows `http(s)` imports with reqwest, which honours the proxy variables: every
/// fetch a fuzzed document asks for goes to a closed port on loopback, never anywhere else.
fn no_network() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for name in ["NO_PROXY", "no_proxy"] {
            std::env::remove_var(name);
        }
        for name in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            std::env::set_var(name, "http://127.0.0.1:9");
        }
    });
}

/// The input as the only file of a tree, so that an import of any other document fails to
/// read rather than reaching the disk. (Embedded files are `'static`: each input leaks, which
/// AFL++'s restart of the process every thousand runs bounds.)
fn only_file(name: &str, data: &[u8]) -> Files {
    let data: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    Files::embedded(&[(name, data)])
}

/// A WSDL document with its XSD, loaded and built into descriptors.
pub fn wsdl_import(data: &[u8]) {
    no_network();
    use rosetta::registry::wsdl::{self, build::Choice, Location};
    let files = only_file("fuzz/service.wsdl", data);
    let at = rosetta::config::unplaced("fuzz");
    let mut diags = Diagnostics::default();
    let Some(loaded) = wsdl::load(
        &files,
        Location::Path("fuzz/service.wsdl".into()),
        &at,
        &mut diags,
    ) else {
        return;
    };
    let choice = Choice {
        package: "fuzz.soap",
        service: None,
        port: None,
        at: &at,
    };
    if let Ok(built) = wsdl::build::build(&loaded, &choice) {
        let mut pool = DescriptorPool::new();
        let _ = pool.add_file_descriptor_proto(built.file);
    }
}

/// An OpenAPI document (JSON or YAML), imported into descriptors.
pub fn openapi_import(data: &[u8]) {
    no_network();
    let files = only_file("fuzz/openapi.yaml", data);
    let _ = rosetta::registry::openapi::import(&files, Path::new("fuzz/openapi.yaml"), "fuzz.api");
}
