//! GraphiQL in a real browser (headless Chromium, installed by scripts/test), with every host
//! but the gateway's unresolvable: the page renders from the files shipped in the binary (its
//! container exists only once React and GraphiQL have loaded and run).

mod common;

use std::process::Command;

use common::pins::Pins;

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_renders_offline() {
    let pins = Pins::start(&[(
        "graphql.yaml",
        "version: 1\nfrontend: graphql\nbackend:\n  use: things\nschemas: [pins.proto]\nservices: [pins.v1.Things]\n",
    )])
    .await;
    let url = pins.gateway.url("/graphql");
    let profile = tempfile::tempdir().unwrap();
    let dom = tokio::task::spawn_blocking(move || {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                // Offline: nothing resolves but loopback.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&url)
            .output()
            .expect("chromium runs (scripts/test installs it)")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        text.contains("graphiql-container"),
        "GraphiQL did not render: {text}\n{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(!text.contains("Loading GraphiQL"), "{text}");
}
