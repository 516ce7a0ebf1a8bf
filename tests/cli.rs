//! The `rosetta` binary: `check` reports problems with exit codes; `demo` serves and stops.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rosetta");

fn examples_demo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/gateway.yaml")
}

#[test]
fn check_accepts_the_demo_configuration() {
    let output = Command::new(BIN)
        .args(["check", "-c"])
        .arg(examples_demo())
        .env("ROSETTA_DEMO_GRPC", "127.0.0.1:50051")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:8090")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.ends_with("gateway.yaml: ok (17 routes, GraphQL at /graphql, 2 gRPC services)\n"),
        "{stdout}"
    );
}

#[test]
fn check_fails_with_located_errors() {
    // Without the variable the demo configuration names, the address cannot be expanded.
    let output = Command::new(BIN)
        .args(["check", "-c"])
        .arg(examples_demo())
        .env_remove("ROSETTA_DEMO_GRPC")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: environment variable `ROSETTA_DEMO_GRPC` is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("examples/demo/gateway.yaml:11:14"),
        "{stderr}"
    );
    assert!(stderr.ends_with("1 error found\n"), "{stderr}");
}

/// `rosetta serve` of a demo configuration (backends nowhere) on a free port.
fn serve(config: &Path) -> (std::process::Child, u16) {
    serve_logging_to(config, Stdio::null())
}

/// `rosetta serve` of `config` on a free port with the demo's backends down, its log (at the
/// default level) to `log`.
fn serve_logging_to(config: &Path, log: impl Into<Stdio>) -> (std::process::Child, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let child = Command::new(BIN)
        .args(["serve", "-c"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("ROSETTA_DEMO_GRPC", "127.0.0.1:9")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:9")
        .env_remove("RUST_LOG")
        .stderr(log)
        .spawn()
        .unwrap();
    (child, port)
}

/// A GET of `path` over HTTP/1.1 on a socket of its own; the whole answer, if there is one.
fn get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// The first answer to `path` once the gateway at `port` listens.
fn first_answer(port: u16, path: &str) -> String {
    (0..50)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            get(port, path)
        })
        .expect("the gateway answers")
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let (mut child, port) = serve(&examples_demo());
    // Wait until it listens, then ask it to stop as a container runtime would.
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_reloads_the_configuration_and_regenerates_the_graphql_schema() {
    let dir = demo_copy();
    let (mut child, port) = serve(&dir.path().join("gateway.yaml"));
    let sdl = || {
        reqwest::blocking::get(format!("http://127.0.0.1:{port}/graphql/schema.graphql"))
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    let wait_for = |wanted: &str| {
        for _ in 0..100 {
            if sdl().contains(wanted) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    assert!(wait_for("\tgetUser(id: Int64)"), "{}", sdl());
    let mapping = dir.path().join("mappings/users-graphql.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(
        &mapping,
        text.replace("graphql:\n", "graphql:\n  prefix: users_\n"),
    )
    .unwrap();
    hangup();
    assert!(wait_for("\tusers_getUser(id: Int64)"), "{}", sdl());
    // A configuration with errors is refused; the running one stays.
    std::fs::write(
        &mapping,
        "version: 1\nfrontend: graphql\nbackend: {use: nowhere}\n",
    )
    .unwrap();
    hangup();
    std::thread::sleep(Duration::from_millis(300));
    assert!(sdl().contains("\tusers_getUser(id: Int64)"), "{}", sdl());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn transcode_reads_the_request_from_stdin() {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["transcode", "--request", "-", "-c"])
        .arg(examples_demo())
        .env("ROSETTA_DEMO_GRPC", "127.0.0.1:9")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:9")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"method: GET\npath: /v1/users/7\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("backend:    grpc /demo.v1.Users/GetUser (Unary)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("message 1:  {\"id\":\"7\"}\n  bytes:    08 07"),
        "{stdout}"
    );
    // A dry run's report is its output: no access-log line beside it.
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn the_log_in_a_pipe_is_plain_text_with_rounded_durations() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let (mut child, port) = serve_logging_to(&examples_demo(), log.reopen().unwrap());
    assert!(first_answer(port, "/v1/users/1").starts_with("HTTP/1.1"));
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    let line = text.lines().find(|l| l.contains("served")).expect(&text);
    assert!(!text.contains('\u{1b}'), "colour codes in a file: {text:?}");
    let ms = line.split("ms=").nth(1).expect(line);
    let decimals = ms.split('.').nth(1).expect(line);
    assert_eq!(decimals.len(), 3, "{line}");
}

#[test]
fn check_reports_as_json_for_editors_and_ci() {
    let run = |with_var: bool| {
        let mut command = Command::new(BIN);
        command
            .args(["check", "--format", "json", "-c"])
            .arg(examples_demo());
        if with_var {
            command.env("ROSETTA_DEMO_GRPC", "127.0.0.1:9");
            command.env("ROSETTA_DEMO_SOAP", "127.0.0.1:9");
        } else {
            command.env_remove("ROSETTA_DEMO_GRPC");
            command.env("ROSETTA_DEMO_SOAP", "127.0.0.1:9");
        }
        let output = command.output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.code(), report)
    };
    let (code, report) = run(true);
    assert_eq!(code, Some(0));
    assert_eq!(
        report,
        serde_json::json!({"ok": true, "routes": 17, "graphql": ["/graphql"], "grpc": ["demo.v1.Users", "soap.countries.CountryInfoService"], "errors": [], "warnings": []})
    );
    let (code, report) = run(false);
    assert_eq!(code, Some(1));
    assert_eq!(report["ok"], false);
    let error = &report["errors"][0];
    assert!(
        error["file"]
            .as_str()
            .unwrap()
            .ends_with("examples/demo/gateway.yaml"),
        "{report}"
    );
    assert_eq!(
        (&error["line"], &error["column"]),
        (&serde_json::json!(11), &serde_json::json!(14))
    );
    assert_eq!(
        error["message"],
        "environment variable `ROSETTA_DEMO_GRPC` is not set"
    );
}

#[test]
fn the_demo_mapping_tests_pass() {
    let output = Command::new(BIN)
        .args(["test", "-c"])
        .arg(examples_demo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.ends_with("8 passed, 0 failed\n"), "{stdout}");
}

/// A copy of examples/demo to change.
fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let mut stack = vec![source.clone()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let target = dir.path().join(path.strip_prefix(&source).unwrap());
            if path.is_dir() {
                std::fs::create_dir_all(&target).unwrap();
                stack.push(path);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    dir
}

#[test]
fn a_changed_mapping_fails_with_a_diff_until_updated() {
    let dir = demo_copy();
    let mapping = dir.path().join("mappings/users.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap() + "options:\n  emit_defaults: true\n";
    std::fs::write(&mapping, text).unwrap();
    let run = |update: bool| {
        let mut command = Command::new(BIN);
        command
            .args(["test", "-c"])
            .arg(dir.path().join("gateway.yaml"));
        if update {
            command.arg("--update");
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, stdout) = run(false);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("FAILED   "), "{stdout}");
    // The response now carries the fields at their defaults.
    assert!(
        stdout.contains("-  body:     {\"id\":\"3\",\"name\":\"Grace Hopper\",\"email\":\"grace@navy.mil\"}\n")
            && stdout.contains("+  body:     {\"id\":\"3\",\"name\":\"Grace Hopper\",\"email\":\"grace@navy.mil\",\"role\":\"ROLE_UNSPECIFIED\",\"tags\":[]"),
        "{stdout}"
    );
    assert!(stdout.ends_with("5 passed, 3 failed\n"), "{stdout}");
    let (code, stdout) = run(true);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(stdout.matches("updated  ").count(), 3, "{stdout}");
    let (code, stdout) = run(false);
    assert_eq!(
        (code, stdout.ends_with("8 passed, 0 failed\n")),
        (Some(0), true),
        "{stdout}"
    );
}

#[test]
fn a_bad_case_file_is_a_located_failure() {
    let dir = demo_copy();
    let case = dir.path().join("mappings/tests/broken.yaml");
    std::fs::write(&case, "request:\n  method: GET\n  pth: /v1/users/1\n").unwrap();
    let output = Command::new(BIN)
        .args(["test", "-c"])
        .arg(dir.path().join("gateway.yaml"))
        .arg(&case)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.contains("unknown field `pth`"), "{stdout}");
    assert!(stdout.contains("broken.yaml:3:3"), "{stdout}");
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
}

#[test]
fn serve_refuses_to_start_on_errors() {
    let output = Command::new(BIN)
        .args(["serve", "-c", "/nonexistent/gateway.yaml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: the configuration `/nonexistent/gateway.yaml` does not exist\n  help: pass its path with `-c PATH`"),
        "{stderr}"
    );
}

#[test]
fn demo_prints_what_to_try_and_serves_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next().unwrap().unwrap();
    assert!(
        banner.starts_with("rosetta demo: REST/JSON on http://127.0.0.1:"),
        "{banner}"
    );
    let curl: Vec<String> = lines
        .by_ref()
        .take(12)
        .map(|l| l.unwrap())
        .filter(|l| l.trim_start().starts_with("curl"))
        .collect();
    assert!(curl.len() >= 5, "{curl:?}");
    // The first suggested command works.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = runtime.block_on(async {
        for _ in 0..50 {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/v1/users/1")).await {
                return r.text().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the demo did not answer");
    });
    child.kill().unwrap();
    let _ = child.wait();
    assert!(body.contains("\"name\":\"Ada Lovelace\""), "{body}");
}

#[test]
fn schema_export_of_one_mapping() {
    let output = Command::new(BIN)
        .args([
            "schema",
            "export",
            "--format",
            "openapi",
            "--mapping",
            "mappings/countries.yaml",
            "-c",
        ])
        .arg(examples_demo())
        .env("ROSETTA_DEMO_GRPC", "127.0.0.1:9")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert!(
        paths
            .iter()
            .any(|p| p.as_str() == "/countries/{sCountryISOCode}"),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.starts_with("/v1/")), "{paths:?}");
    let output = Command::new(BIN)
        .args(["schema", "export", "--format", "wsdl", "-c"])
        .arg(examples_demo())
        .env("ROSETTA_DEMO_GRPC", "127.0.0.1:9")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: no mapping serves SOAP\n"
    );
}

#[test]
fn every_command_says_what_it_does_with_an_example() {
    for command in [
        &["serve"][..],
        &["check"],
        &["transcode"],
        &["test"],
        &["schema"],
        &["schema", "export"],
        &["schema", "bundled"],
        &["demo"],
        &["demo-backend"],
    ] {
        let output = Command::new(BIN)
            .args(command)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("\nExample: "), "{command:?}: {help}");
        // Every option but --help says what it is for.
        for line in help.lines().filter(|l| l.trim_start().starts_with('-')) {
            let described = line
                .trim()
                .split("  ")
                .filter(|p| !p.trim().is_empty())
                .count()
                > 1;
            assert!(described, "{command:?}: an option without help: {line}");
        }
    }
}

#[test]
fn mapping_tests_without_cases_say_where_they_looked() {
    let dir = demo_copy();
    std::fs::remove_dir_all(dir.path().join("mappings/tests")).unwrap();
    let output = Command::new(BIN)
        .current_dir(dir.path())
        .args(["test", "-c", "gateway.yaml"])
        .env("ROSETTA_DEMO_GRPC", "127.0.0.1:9")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .starts_with("error: no mapping test cases: `mappings/tests` does not exist\n  help: "),
        "{stderr}"
    );
}

#[test]
fn the_bundled_protos_build_a_backend_of_an_annotated_schema() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["schema", "bundled"])
        .arg(dir.path().join("third_party"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        listed.contains("third_party/google/api/annotations.proto"),
        "{listed}"
    );
    // A backend's own build: protoc (grpcio-tools) with only those files beside the schema.
    let python = std::env::var("ROSETTA_PEERS_PYTHON")
        .expect("ROSETTA_PEERS_PYTHON is not set: run the tests with scripts/test");
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/proto");
    let output = Command::new(python)
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", dir.path().join("third_party").display()))
        .arg(format!("-I{}", peers.display()))
        .arg(format!("--python_out={}", dir.path().display()))
        .arg("demo/v1/users.proto")
        .current_dir(&peers)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("demo/v1/users_pb2.py").exists());
}

#[test]
fn check_connect_names_each_unreachable_backend() {
    let output = Command::new(BIN)
        .args(["check", "--connect", "-c"])
        .arg(examples_demo())
        .env("ROSETTA_DEMO_GRPC", "127.0.0.1:9")
        .env("ROSETTA_DEMO_SOAP", "127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: backend `demo-grpc` at http://127.0.0.1:9 cannot be reached: cannot connect to 127.0.0.1:9: Connection refused"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("2 of 2 backends cannot be reached\n"),
        "{stderr}"
    );
}

#[test]
fn a_down_backend_is_named_in_the_log_at_start_and_when_called() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let (mut child, port) = serve_logging_to(&examples_demo(), log.reopen().unwrap());
    // The client learns only that the backend is unavailable; three more calls, one warning.
    let first = first_answer(port, "/v1/users/1");
    assert!(first.starts_with("HTTP/1.1 503"), "{first}");
    assert!(!first.contains("127.0.0.1:9"), "{first}");
    for _ in 0..3 {
        get(port, "/v1/users/1").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        text.contains("WARN rosetta::backend: backend `demo-grpc` at http://127.0.0.1:9 cannot be reached: cannot connect to 127.0.0.1:9: Connection refused"),
        "{text}"
    );
    let calls = text
        .matches("cannot reach the backend at http://127.0.0.1:9: ")
        .count();
    assert_eq!(calls, 1, "{text}");
    assert!(text.contains("Connection refused"), "{text}");
}

#[test]
fn slow_loading_shows_its_phase_on_a_terminal_and_logs_each_phase() {
    // A WSDL served slowly, as a remote one can be: loading takes more than a second.
    let wsdl = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/schemas/countries.wsdl"),
    )
    .unwrap();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut stream, _)) = server.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            std::thread::sleep(Duration::from_millis(1600));
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                wsdl.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(wsdl.as_bytes());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("mappings")).unwrap();
    std::fs::write(
        dir.path().join("gateway.yaml"),
        format!("version: 1\nbackends:\n  countries:\n    protocol: soap\n    soap: {{wsdl: http://127.0.0.1:{port}/countries.wsdl}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mappings/countries.yaml"),
        "version: 1\nfrontend: rest\nbackend:\n  use: countries\n",
    )
    .unwrap();
    // `script` runs the check on a pseudo-terminal, as a person at a shell would.
    let output = Command::new("script")
        .args(["-qec", &format!("{BIN} check -c gateway.yaml"), "/dev/null"])
        .current_dir(dir.path())
        .env("RUST_LOG", "rosetta::load=info")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(
            "\r\x1b[2Kloading: importing the backends' schemas (WSDL, OpenAPI, GraphQL) ("
        ),
        "{text:?}"
    );
    for phase in [
        "reading the configuration and mappings: ",
        "compiling the .proto schemas: ",
        "importing the backends' schemas (WSDL, OpenAPI, GraphQL): ",
        "building the routes, schemas and stages: ",
        "loaded in ",
    ] {
        assert!(text.contains(phase), "{phase}: {text:?}");
    }
    assert!(text.contains("gateway.yaml: ok ("), "{text:?}");
}

#[test]
fn check_counts_in_words() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("gateway.yaml", "version: 1\nbackends:\n  shop: {protocol: grpc, address: http://127.0.0.1:9}\n"),
        ("mappings/shop.yaml", "version: 1\nfrontend: rest\nbackend:\n  use: shop\nschemas: [shop.proto]\nservices: [shop.v1.Shop]\n"),
        ("schemas/shop.proto", "syntax = \"proto3\";\npackage shop.v1;\nimport \"google/api/annotations.proto\";\nmessage Id { int64 id = 1; }\nservice Shop {\n  rpc Get(Id) returns (Id) { option (google.api.http) = { get: \"/v1/{id}\" }; }\n}\n"),
    ] {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let output = Command::new(BIN)
        .current_dir(dir.path())
        .args(["check", "-c", "gateway.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout,
        "gateway.yaml: ok (1 route)\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
