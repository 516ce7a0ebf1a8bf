//! `rosetta schema export` and `/openapi.json`: the OpenAPI document of the demo's REST routes
//! (checked by the PyPI `openapi-spec-validator`), `.proto` files that compile back to the same
//! services (also the one the WSDL importer made), the SDL, and the WSDL of a SOAP frontend.

mod common;

use std::process::Command;

use rosetta::toolchain::export::{export, ExportFormat};

#[tokio::test]
async fn openapi_of_the_demo_is_valid_and_served() {
    let demo = common::demo().await;
    let exported = export(&demo.gateway.gateway, ExportFormat::Openapi).unwrap();
    let served: serde_json::Value = reqwest::get(demo.gateway.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        served,
        serde_json::from_str::<serde_json::Value>(&exported).unwrap()
    );
    // A path with its parameter, the error response, an int64 schema.
    assert_eq!(
        served["paths"]["/v1/users/{id}"]["get"]["parameters"][0],
        serde_json::json!({"name": "id", "in": "path", "required": true, "schema": {"type": ["string", "integer"], "format": "int64"}})
    );
    assert_eq!(
        served["paths"]["/v1/users/{id}"]["get"]["responses"]["default"]["$ref"],
        "#/components/responses/Error"
    );
    // operationIds are names a code generator can use: unique, letters, digits and `_`.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for (verb, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{verb} {path}: {id}"
            );
            assert!(ids.insert(id.to_owned()), "{id} twice");
        }
    }
    assert_eq!(
        served["paths"]["/v1/users/{id}"]["get"]["operationId"],
        "Users_GetUser"
    );
    insta::assert_json_snapshot!("demo_openapi", served);

    let python = std::env::var("ROSETTA_PEERS_PYTHON").unwrap_or_else(|_| {
        panic!("ROSETTA_PEERS_PYTHON is not set: run the tests with scripts/test, which installs openapi-spec-validator")
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &exported).unwrap();
    let output = Command::new(python)
        .args(["-c", "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn exported_protos_compile_back_to_the_same_services() {
    let demo = common::demo().await;
    let gateway = &demo.gateway.gateway;
    let text = export(gateway, ExportFormat::Proto).unwrap();
    // One file per service file, each starting with a line that names it.
    const HEADER: &str = " (as rosetta's registry holds it)";
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        match line
            .strip_prefix("// ")
            .and_then(|l| l.strip_suffix(HEADER))
        {
            Some(name) => files.push((name.to_owned(), String::new())),
            None => {
                let (_, body) = files.last_mut().expect("a header first");
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert_eq!(files.len(), 2, "{text}");
    let dir = tempfile::tempdir().unwrap();
    let mut requests = Vec::new();
    for (name, body) in files {
        let path = dir.path().join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        requests.push(rosetta::registry::proto::SchemaRequest {
            path: name,
            dir: dir.path().to_owned(),
            pos: rosetta::config::unplaced("export"),
        });
    }
    let mut diags = rosetta::config::Diagnostics::default();
    let compiled = rosetta::registry::proto::compile(
        &rosetta::config::Files::Disk,
        vec![dir.path().to_owned()],
        &requests,
        &mut diags,
    )
    .unwrap_or_else(|| panic!("{}\n{text}", diags.render()));
    for service in ["demo.v1.Users", "soap.countries.CountryInfoService"] {
        let before = common::describe_package(&gateway.pool, service.rsplit_once('.').unwrap().0);
        let after = common::describe_package(&compiled.pool, service.rsplit_once('.').unwrap().0);
        assert_eq!(before, after, "{service}");
    }
}

#[tokio::test]
async fn graphql_and_wsdl_exports() {
    let demo = common::demo().await;
    let sdl = export(&demo.gateway.gateway, ExportFormat::Graphql).unwrap();
    assert!(sdl.starts_with("# http://127.0.0.1:8080/graphql\n"));
    assert!(sdl.ends_with(demo.gateway.gateway.graphql[0].sdl()));
    // The demo has no SOAP frontend: the export says so.
    assert_eq!(
        export(&demo.gateway.gateway, ExportFormat::Wsdl)
            .unwrap_err()
            .to_string(),
        "no mapping serves SOAP"
    );
    let gateway = format!(
        "version: 1\nschemas:\n  include: [{}/examples/demo/schemas]\nbackends:\n  users:\n    protocol: grpc\n    address: http://127.0.0.1:9\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let mapping = "version: 1\nfrontend: soap\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n";
    let dir = common::write_files(&[("gateway.yaml", &gateway), ("mappings/soap.yaml", mapping)]);
    let loaded = common::load(dir.path(), common::vars(&[])).unwrap();
    let wsdl = export(&loaded, ExportFormat::Wsdl).unwrap();
    assert!(
        wsdl.contains(r#"<soap:address location="http://127.0.0.1:8080/soap/Users"/>"#),
        "{wsdl}"
    );
}
