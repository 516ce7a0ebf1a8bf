//! Every WSDL of the node-soap corpus (tests/corpus/wsdl/node-soap, copied from the shared
//! corpus) goes through the importer; the outcome of each, and the reason of each failure with
//! its place, is a snapshot. A WSDL loads when every service with a SOAP port becomes a
//! service of the registry; what had to be left out on the way is listed as warnings.

use std::path::{Path, PathBuf};

use rosetta::config::{Diagnostics, Files, Pos};
use rosetta::registry::wsdl::{self, build, Location};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/wsdl/node-soap")
}

fn wsdl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            wsdl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "wsdl") {
            out.push(path);
        }
    }
}

/// "ok: N services, M operations" or the first problem, with places relative to the corpus.
fn outcome(path: &Path) -> String {
    let root = corpus();
    let from = Pos {
        file: "test".into(),
        line: 1,
        column: 1,
    };
    let mut diags = Diagnostics::default();
    let shown = |text: String| text.replace(&format!("{}/", root.display()), "");
    let Some(loaded) = wsdl::load(
        &Files::Disk,
        Location::Path(path.to_owned()),
        &from,
        &mut diags,
    ) else {
        let d = &diags.items[0];
        return shown(format!(
            "FAIL {}:{}:{}: {}",
            d.file, d.line, d.column, d.message
        ));
    };
    let mut services = 0;
    let mut operations = 0;
    let mut warnings: Vec<String> = diags
        .warnings
        .iter()
        .map(|d| shown(format!("{}:{}:{}: {}", d.file, d.line, d.column, d.message)))
        .collect();
    for service in &loaded.definitions.services {
        let choice = build::Choice {
            package: "corpus",
            service: Some(&service.name),
            port: None,
            at: &from,
        };
        match build::build(&loaded, &choice) {
            Ok(built) => {
                let mut pool = prost_reflect::DescriptorPool::new();
                if let Err(e) = pool.add_file_descriptor_proto(built.file) {
                    return format!("FAIL descriptors of service {}: {e}", service.name);
                }
                services += 1;
                operations += built.service.operations.len();
                warnings.extend(built.warnings.iter().map(
                    |rosetta::config::Problem { at: pos, message }| {
                        shown(format!(
                            "{}:{}:{}: {message}",
                            pos.file, pos.line, pos.column
                        ))
                    },
                ));
            }
            Err(rosetta::config::Problem { at: pos, message })
                if message.contains("has no SOAP 1.1 or 1.2 port") =>
            {
                let _ = pos;
            }
            Err(rosetta::config::Problem { at: pos, message }) => {
                return shown(format!(
                    "FAIL {}:{}:{}: {message}",
                    pos.file, pos.line, pos.column
                ))
            }
        }
    }
    let mut out = if services == 0 {
        "no SOAP service (nothing to import)".to_owned()
    } else {
        format!("ok: {services} services, {operations} operations")
    };
    for warning in warnings {
        out.push_str("\n    warning: ");
        out.push_str(&warning);
    }
    out
}

#[test]
fn every_corpus_wsdl_is_imported_or_refused_with_its_reason() {
    let mut files = Vec::new();
    wsdl_files(&corpus(), &mut files);
    assert!(files.len() >= 50, "the corpus is missing: {}", files.len());
    let report: Vec<String> = files
        .iter()
        .map(|path| {
            let name = path.strip_prefix(corpus()).unwrap().display().to_string();
            format!("{name}: {}", outcome(path))
        })
        .collect();
    insta::assert_snapshot!(report.join("\n"));
}
