//! The JSON Schemas of gateway.yaml and mapping files under docs/ are generated from the Rust
//! types; this test fails when they drift. `ROSETTA_UPDATE_SCHEMAS=1 cargo test --test
//! json_schema` rewrites them.

use std::path::Path;

#[test]
fn committed_json_schemas_match_the_config_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema");
    let update = std::env::var_os("ROSETTA_UPDATE_SCHEMAS").is_some();
    for (name, schema) in rosetta::config::json_schemas() {
        let path = dir.join(name);
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with ROSETTA_UPDATE_SCHEMAS=1",
                path.display()
            )
        });
        assert_eq!(
            committed,
            generated,
            "{} is out of date; run `ROSETTA_UPDATE_SCHEMAS=1 cargo test --test json_schema`",
            path.display()
        );
    }
}

#[test]
fn the_schemas_describe_the_files() {
    let [(_, gateway), (_, mapping)] = rosetta::config::json_schemas();
    assert_eq!(gateway["additionalProperties"], serde_json::json!(false));
    for key in [
        "version", "listen", "schemas", "mappings", "backends", "limits",
    ] {
        assert!(
            gateway["properties"].get(key).is_some(),
            "gateway.yaml lacks {key}"
        );
    }
    for key in [
        "version", "frontend", "backend", "schemas", "services", "options", "rules",
    ] {
        assert!(
            mapping["properties"].get(key).is_some(),
            "mappings lack {key}"
        );
    }
    // `backend` is required by the loader unless the mapping composes other mappings' methods.
    assert_eq!(
        mapping["required"],
        serde_json::json!(["version", "frontend"])
    );
}
