//! JSON <-> SOAP envelope on the REST -> SOAP paths, with the multi-namespace WSDL of the
//! tests (tests/soap/shop.wsdl), on a small order (one item) and a large one (about 1 MiB of
//! XML). Throughput is per byte of the envelope.
//!
//! - `json_to_envelope`: what a request costs: JSON -> protobuf wire (protojson) -> envelope
//!   (quick-xml writer, reading the wire form).
//! - `envelope_to_json`: what a response costs: envelope (NsReader) -> protobuf wire -> JSON.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use prost_reflect::{DescriptorPool, MessageDescriptor};
use rosetta::config::{Diagnostics, Files, Pos};
use rosetta::protojson::{json_to_wire, wire_to_json, JsonOptions, Plan};
use rosetta::registry::wsdl::build::{self, Choice, SoapService};
use rosetta::registry::wsdl::{self, Location};
use rosetta::xml::read::{Decoder, Response};
use rosetta::xml::write::Encoder;
use rosetta::xml::Limits;

struct Shop {
    service: SoapService,
    pool: DescriptorPool,
}

fn shop() -> Shop {
    let at = Pos {
        file: "bench".into(),
        line: 1,
        column: 1,
    };
    let wsdl_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/soap/shop.wsdl");
    let mut diags = Diagnostics::default();
    let loaded = wsdl::load(&Files::Disk, Location::Path(wsdl_path), &at, &mut diags)
        .expect("the WSDL loads");
    let choice = Choice {
        package: "bench.shop",
        service: None,
        port: Some("ShopSoap11"),
        at: &at,
    };
    let built = build::build(&loaded, &choice).expect("the WSDL builds");
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_proto(built.file).unwrap();
    Shop {
        service: built.service,
        pool,
    }
}

/// A PlaceOrder request with `n` items, as JSON.
fn order_json(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{i}","sku":"SKU-{i:06}-<blue & green>","quantity":{},"price":{{"currency":"EUR","$value":"{}.{:02}"}}}}"#,
                i % 100,
                i * 3,
                i % 100
            )
        })
        .collect();
    format!(
        r#"{{"order":{{"id":"9007199254740993","status":"OPEN","note":null,"items":[{}],"total":"12345678901234567890.123","created":"2024-02-29T12:30:00+01:00","receipt":"aGVsbG8gd29ybGQ=","delivery":{{"country":"NL","street":"Damrak 1","city":"Amsterdam"}},"payment":{{"CardPayment":{{"amount":"20.00","last4":"4242"}}}},"tags":["gift","fragile"]}}}}"#,
        items.join(",")
    )
}

fn bench(c: &mut Criterion) {
    let shop = shop();
    let operation = &shop.service.operations["PlaceOrder"];
    let input: MessageDescriptor = shop
        .pool
        .get_message_by_name(&operation.input.message)
        .unwrap();
    let plan = Plan::new(&input, JsonOptions::default());
    let encoder = Encoder {
        schema: &shop.service.xml,
        prefixes: &shop.service.prefixes,
    };
    let decoder = Decoder {
        schema: &shop.service.xml,
    };
    let limits = Limits::with_max_size(64 << 20);

    let mut group = c.benchmark_group("soap");
    for (label, items) in [("small", 1), ("1MiB", 6_400)] {
        let json = order_json(items);
        let to_envelope = |json: &[u8]| {
            let wire = json_to_wire(&plan, json).unwrap();
            encoder
                .envelope(shop.service.version, &operation.input, &input, &wire, &[])
                .unwrap()
        };
        let envelope = to_envelope(json.as_bytes());
        group.throughput(Throughput::Bytes(envelope.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("json_to_envelope", label),
            json.as_bytes(),
            |b, json| b.iter(|| to_envelope(json)),
        );
        // The same document read back, as a response would be.
        group.bench_with_input(
            BenchmarkId::new("envelope_to_json", label),
            &envelope,
            |b, envelope| {
                b.iter(|| {
                    let Ok(Response::Message(wire)) =
                        decoder.envelope(envelope, limits, &operation.input, &[])
                    else {
                        panic!("the envelope reads back")
                    };
                    let mut out = Vec::with_capacity(wire.len() * 2);
                    wire_to_json(&plan, &wire, &mut out).unwrap();
                    out
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
