//! The README's tutorial, run as written: its files are extracted from the code blocks marked
//! `<!-- readme-test: file PATH -->` (or `append PATH`), and each `<!-- readme-test: commands -->`
//! block is run in order (`rosetta check`, `rosetta serve`, `curl`) with the installed binary
//! against a real gRPC backend of the tutorial's `Shop` service. Only the two addresses are
//! changed, to free loopback ports. So the tutorial cannot drift from what rosetta does.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use prost_reflect::{DynamicMessage, MethodDescriptor, Value};
use rosetta::grpc::server::{self, Handler, ResponseStream};

const BIN: &str = env!("CARGO_BIN_EXE_rosetta");

/// One marked step of the tutorial.
enum Step {
    File {
        path: String,
        text: String,
        append: bool,
    },
    Commands(Vec<String>),
}

/// The marked code blocks of `readme`, in order, dedented.
fn steps(readme: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(marker) = line
            .trim()
            .strip_prefix("<!-- readme-test: ")
            .and_then(|m| m.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().expect("a code block follows the marker");
        let indent = fence.len() - fence.trim_start().len();
        assert!(fence.trim_start().starts_with("```"), "{fence}");
        let mut text = String::new();
        for line in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                break;
            }
            text.push_str(line.get(indent..).unwrap_or(""));
            text.push('\n');
        }
        let (kind, path) = marker.split_once(' ').unwrap_or((marker, ""));
        steps.push(match kind {
            "file" | "append" => Step::File {
                path: path.to_owned(),
                text,
                append: kind == "append",
            },
            "commands" => Step::Commands(
                text.lines()
                    .map(|l| l.split('#').next().unwrap().trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect(),
            ),
            other => panic!("unknown readme-test marker `{other}`"),
        });
    }
    steps
}

/// The tutorial's backend: `GetItem` answers the item with the asked id.
struct Shop;

impl Handler for Shop {
    fn call(
        &self,
        method: MethodDescriptor,
        request: tonic::Request<tonic::Streaming<DynamicMessage>>,
    ) -> BoxFuture<'static, Result<tonic::Response<ResponseStream>, tonic::Status>> {
        async move {
            let asked = request.into_inner().next().await.expect("one request")?;
            let id = asked.get_field_by_name("id").unwrap().as_i64().unwrap();
            let mut item = DynamicMessage::new(method.output());
            item.set_field_by_name("id", Value::I64(id));
            item.set_field_by_name("title", Value::String(format!("item {id}")));
            Ok(server::single(item))
        }
        .boxed()
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs one `commands` block in `dir`; `serve` stays up until the next `serve` or the end.
fn run_commands(
    dir: &Path,
    commands: &[String],
    listen: &str,
    server: &mut Option<std::process::Child>,
) {
    for command in commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["rosetta", "check", args @ ..] => {
                let output = Command::new(BIN)
                    .current_dir(dir)
                    .arg("check")
                    .args(args)
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&output.stdout);
                assert!(
                    output.status.success() && stdout.contains(": ok ("),
                    "`{command}`: {stdout}{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            ["rosetta", "serve", args @ ..] => {
                if let Some(mut old) = server.take() {
                    let _ = old.kill();
                    let _ = old.wait();
                }
                let child = Command::new(BIN)
                    .current_dir(dir)
                    .arg("serve")
                    .args(args)
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                *server = Some(child);
                let up = (0..100).any(|_| {
                    std::thread::sleep(Duration::from_millis(50));
                    std::net::TcpStream::connect(listen).is_ok()
                });
                assert!(up, "`{command}` did not start listening on {listen}");
            }
            ["curl", url] => {
                let url = url.to_string();
                let (status, body) = tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async {
                        let response = reqwest::get(&url).await.unwrap();
                        (response.status(), response.text().await.unwrap())
                    })
                });
                assert_eq!(status, 200, "`{command}`: {body}");
                let id = url.rsplit('/').next().unwrap();
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(json["id"], id, "`{command}`: {body}");
                assert_eq!(json["title"], format!("item {id}"), "`{command}`: {body}");
            }
            _ => panic!("the test does not know how to run `{command}`"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_five_minute_tutorial_works_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let steps = steps(&readme);
    assert!(steps.len() >= 6, "the tutorial's marked steps went missing");
    let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    // The tutorial's addresses, moved to free ports.
    let moved = |text: &str| {
        text.replace("127.0.0.1:50051", &backend_addr.to_string())
            .replace("127.0.0.1:8080", &listen)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = None;
    let mut backend = Some(backend);
    let mut backend_task = None;
    for step in &steps {
        match step {
            Step::File { path, text, append } => {
                let path = dir.path().join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let mut content = if *append {
                    std::fs::read_to_string(&path).unwrap()
                } else {
                    String::new()
                };
                content.push_str(&moved(text));
                std::fs::write(&path, content).unwrap();
            }
            Step::Commands(commands) => {
                // The backend serves the tutorial's schema, as loaded by the gateway.
                if let Some(listener) = backend.take() {
                    let gateway = common::load(dir.path(), common::vars(&[]))
                        .unwrap_or_else(|d| panic!("{}", d.render()));
                    let services: Vec<_> = gateway
                        .pool
                        .services()
                        .filter(|s| s.full_name() == "shop.v1.Shop")
                        .collect();
                    assert_eq!(services.len(), 1);
                    let router = server::router(&services, Arc::new(Shop));
                    backend_task = Some(tokio::spawn(async move {
                        let _ = server::serve(listener, router).await;
                    }));
                }
                let commands: Vec<String> = commands.iter().map(|c| moved(c)).collect();
                run_commands(dir.path(), &commands, &listen, &mut server);
            }
        }
    }
    if let Some(mut child) = server {
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Some(task) = backend_task {
        task.abort();
    }
}
