//! JSON <-> protobuf transcoding on the request and response paths, on messages of about
//! 100 B, 10 KiB and 1 MiB of JSON. Throughput is per byte of JSON.
//!
//! - `json_to_protobuf`: what a REST request body costs: JSON -> wire bytes (rosetta's direct
//!   transcoder, `protojson`).
//! - `protobuf_to_json`: what a gRPC response costs: wire bytes -> JSON.
//! - `*_via_dynamic`: the same through prost-reflect's `DynamicMessage`, for comparison (the
//!   fallback path).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use rosetta::config::{Diagnostics, Files, Pos};
use rosetta::frontend::rest::request;
use rosetta::protojson::{json_to_wire, wire_to_json, JsonOptions, Plan};
use rosetta::registry::proto::{self, SchemaRequest};

const PROTO: &[u8] = br#"
syntax = "proto3";
package bench;
import "google/protobuf/timestamp.proto";
enum Kind { KIND_UNSPECIFIED = 0; KIND_BOOK = 1; KIND_FILM = 2; }
message Price { string currency = 1; int64 units = 2; int32 nanos = 3; }
message Item {
  int64 id = 1;
  string title = 2;
  string description = 3;
  Kind kind = 4;
  repeated string tags = 5;
  Price price = 6;
  double rating = 7;
  bool available = 8;
  map<string, string> attributes = 9;
  google.protobuf.Timestamp updated_at = 10;
}
message Page { repeated Item items = 1; string next_page_token = 2; }
"#;

fn page_descriptor() -> MessageDescriptor {
    let files = Files::embedded(&[("bench/bench.proto", PROTO)]);
    let request = SchemaRequest {
        path: "bench.proto".into(),
        dir: "bench".into(),
        pos: Pos {
            file: "bench".into(),
            line: 1,
            column: 1,
        },
    };
    let mut diags = Diagnostics::default();
    let compiled =
        proto::compile(&files, vec!["bench".into()], &[request], &mut diags).expect("compiles");
    compiled.pool.get_message_by_name("bench.Page").unwrap()
}

/// A page of `n` items as JSON (each item is about 400 bytes).
fn page_json(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{}","title":"Item number {i}","description":"A fairly ordinary description of item {i}, long enough to be realistic.","kind":"KIND_BOOK","tags":["alpha","beta","gamma"],"price":{{"currency":"EUR","units":"{}","nanos":990000000}},"rating":4.25,"available":true,"attributes":{{"colour":"blue","size":"L"}},"updatedAt":"2024-05-06T07:08:09Z"}}"#,
                9_000_000_000u64 + i as u64,
                i * 3
            )
        })
        .collect();
    format!(r#"{{"items":[{}],"nextPageToken":"abc"}}"#, items.join(","))
}

fn small_json() -> String {
    r#"{"items":[{"id":"7","title":"Small","kind":"KIND_FILM","rating":3.5,"available":true}]}"#
        .to_owned()
}

fn cases() -> Vec<(&'static str, String)> {
    vec![
        ("100B", small_json()),
        ("10KiB", page_json(25)),
        ("1MiB", page_json(2600)),
    ]
}

fn json_to_protobuf(c: &mut Criterion) {
    let plan = Plan::new(&page_descriptor(), JsonOptions::default());
    let mut group = c.benchmark_group("json_to_protobuf");
    for (name, json) in cases() {
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &json, |b, json| {
            b.iter(|| json_to_wire(&plan, json.as_bytes()).unwrap())
        });
    }
    group.finish();
}

fn protobuf_to_json(c: &mut Criterion) {
    let plan = Plan::new(&page_descriptor(), JsonOptions::default());
    let mut group = c.benchmark_group("protobuf_to_json");
    for (name, json) in cases() {
        let wire = json_to_wire(&plan, json.as_bytes()).unwrap();
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &wire, |b, wire| {
            b.iter(|| {
                let mut out = Vec::with_capacity(wire.len() * 2);
                wire_to_json(&plan, wire, &mut out).unwrap();
                out
            })
        });
    }
    group.finish();
}

fn json_to_protobuf_via_dynamic(c: &mut Criterion) {
    let desc = page_descriptor();
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let mut group = c.benchmark_group("json_to_protobuf_via_dynamic");
    for (name, json) in cases() {
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &json, |b, json| {
            b.iter(|| {
                let message =
                    request::decode_json(desc.clone(), json.as_bytes(), &options).unwrap();
                message.encode_to_vec()
            })
        });
    }
    group.finish();
}

fn protobuf_to_json_via_dynamic(c: &mut Criterion) {
    let desc = page_descriptor();
    let options = SerializeOptions::new()
        .skip_default_fields(true)
        .stringify_64_bit_integers(true);
    let mut group = c.benchmark_group("protobuf_to_json_via_dynamic");
    for (name, json) in cases() {
        let wire = request::decode_json(desc.clone(), json.as_bytes(), &DeserializeOptions::new())
            .unwrap()
            .encode_to_vec();
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &wire, |b, wire| {
            b.iter(|| {
                let message = DynamicMessage::decode(desc.clone(), wire.as_slice()).unwrap();
                rosetta::protojson::message_json(&message, &options).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    json_to_protobuf,
    protobuf_to_json,
    json_to_protobuf_via_dynamic,
    protobuf_to_json_via_dynamic
);
criterion_main!(benches);
