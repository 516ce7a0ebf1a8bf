//! The access log: a line per request on `rosetta::access`, with the consumer authentication
//! named, and never the query string (where an API key may travel).

mod common;

use std::sync::{Arc, Mutex};

use common::pins::Pins;
use serde_json::json;

/// Everything the log writes, for the assertions.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_per_request_with_the_consumer_and_no_secrets() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_env_filter("rosetta::access=info")
        .with_writer(captured.clone())
        .with_ansi(false)
        .init();
    let extra = "authenticators:\n  keys:\n    api_key: {header: x-api-key, query: api_key}\nconsumers:\n  app:\n    api_keys: [\"${KEY}\"]\n";
    let mapping = |frontend: &str| {
        format!("version: 1\nfrontend: {frontend}\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\nauth: {{any_of: [keys]}}\n")
    };
    let (rest, grpc) = (mapping("rest"), mapping("grpc"));
    let vars = [("KEY", "secret-key-1234".to_owned())];
    let mappings = [("rest.yaml", &rest[..]), ("grpc.yaml", &grpc[..])];
    let pins = Pins::start_with(extra, &vars, &mappings).await;
    let client = reqwest::Client::new();
    let url = pins
        .gateway
        .url("/pins.v1.Things/EchoThing?api_key=secret-key-1234");
    let fine = client
        .post(&url)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
    let refused = client
        .post(pins.gateway.url("/pins.v1.Things/EchoThing"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // gRPC too: the consumer is recorded while the call is served.
    let metadata = [("x-api-key", "secret-key-1234")];
    pins.grpc_with("GetThing", json!({"name": "x"}), &metadata)
        .await
        .unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("served")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    let expected = [
        ("consumer=app", "status=200"),
        ("path=/pins.v1.Things/EchoThing", "status=401"),
        ("consumer=app", "path=/pins.v1.Things/GetThing"),
    ];
    for (line, (one, other)) in lines.iter().zip(expected) {
        assert!(line.contains(one) && line.contains(other), "{line}");
        assert!(
            line.contains("method=POST") && line.contains("client=127.0.0.1"),
            "{line}"
        );
    }
    assert!(!lines[1].contains("consumer="), "{}", lines[1]);
    assert!(!text.contains("secret-key-1234"), "{text}");
}
