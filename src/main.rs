use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use rosetta::config::{env_vars, Files};
use rosetta::{demo, gateway};

/// rosetta: one gateway for REST/JSON, GraphQL, gRPC and SOAP.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    #[command(after_help = "Example: rosetta serve -c gateway.yaml --listen 0.0.0.0:8080")]
    Serve {
        /// The gateway configuration.
        #[arg(short, long, default_value = "gateway.yaml")]
        config: PathBuf,
        /// Listen here instead of at the configuration's `listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Load and check the configuration, mappings and schemas; print every problem.
    #[command(after_help = "Example: rosetta check -c gateway.yaml --format json")]
    Check {
        /// The gateway configuration.
        #[arg(short, long, default_value = "gateway.yaml")]
        config: PathBuf,
        /// `text` for people, `json` for editors and CI.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also open a connection to every backend with an address, and report those that
        /// cannot be reached.
        #[arg(long)]
        connect: bool,
    },
    /// Show what a request turns into: the route, the backend call (message as JSON and as
    /// bytes) and, with a recorded backend response, the response. Calls no backend.
    #[command(
        after_help = "Example: printf 'method: GET\\npath: /v1/users/1\\n' | rosetta transcode --request -"
    )]
    Transcode {
        /// The gateway configuration.
        #[arg(short, long, default_value = "gateway.yaml")]
        config: PathBuf,
        /// A request file (YAML: method, path, headers, body), or `-` for standard input.
        #[arg(long)]
        request: PathBuf,
        /// A recorded backend response (YAML: messages, metadata, status).
        #[arg(long)]
        response: Option<PathBuf>,
    },
    /// Run the mapping test cases (`NAME.yaml`, a request and optionally a recorded response)
    /// and compare their dry-run reports with the snapshots beside them (`NAME.snap`).
    #[command(after_help = "Example: rosetta test -c gateway.yaml mappings/tests --update")]
    Test {
        /// The gateway configuration.
        #[arg(short, long, default_value = "gateway.yaml")]
        config: PathBuf,
        /// Case files or directories of them (default: `tests/` in the mappings directory).
        paths: Vec<PathBuf>,
        /// Write the snapshots of the cases that differ or have none.
        #[arg(long)]
        update: bool,
    },
    /// Schemas of what the gateway serves.
    #[command(after_help = "Example: rosetta schema export --format graphql")]
    Schema {
        #[command(subcommand)]
        action: SchemaCommand,
    },
    /// Run the built-in demo: demo backends in-process and the gateway in front of them.
    #[command(after_help = "Example: rosetta demo --listen 127.0.0.1:8080")]
    Demo {
        /// Where the gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Run only the demo gRPC backend (demo.v1.Users), e.g. behind your own configuration or
    /// for benchmarks.
    #[command(after_help = "Example: rosetta demo-backend --listen 127.0.0.1:50051")]
    DemoBackend {
        /// Where the backend listens.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
    },
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Print what a frontend serves in its own schema language: OpenAPI 3.1 of the REST
    /// routes, the GraphQL SDL, the WSDL of the SOAP services, or the `.proto` files of the gRPC
    /// services.
    #[command(after_help = "Example: rosetta schema export -c gateway.yaml --format openapi")]
    Export {
        /// The gateway configuration.
        #[arg(short, long, default_value = "gateway.yaml")]
        config: PathBuf,
        /// The schema language: `proto`, `openapi`, `graphql` or `wsdl`.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Only this mapping file (a path relative to the working directory, or its tail such
        /// as `mappings/users.yaml`).
        #[arg(long)]
        mapping: Option<PathBuf>,
    },
    /// Write the `google/api` and `google/rpc` `.proto` files that rosetta bundles (and that
    /// annotated schemas import) into a directory, for a backend's own `protoc` build.
    #[command(
        after_help = "Example: rosetta schema bundled third_party && protoc -I third_party -I schemas ..."
    )]
    Bundled {
        /// The directory to write them under (created if missing), by their import paths.
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    Proto,
    Openapi,
    Graphql,
    Wsdl,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs at info (the access log among it); the one-shot commands, whose output is
    // their report, only what went wrong. RUST_LOG overrides both.
    let level = match cli.command {
        Command::Serve { .. } | Command::Demo { .. } | Command::DemoBackend { .. } => "info",
        _ => "warn",
    };
    // Colour only on a terminal, and never with NO_COLOR (https://no-color.org).
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Run on a worker thread, not on the main thread: a future polled by `block_on` makes
    // every I/O event hop between the main thread and the workers.
    let task = runtime.spawn(run(cli.command));
    runtime.block_on(task).unwrap_or(ExitCode::FAILURE)
}

async fn run(command: Command) -> ExitCode {
    let config = match &command {
        Command::Serve { config, .. }
        | Command::Check { config, .. }
        | Command::Transcode { config, .. }
        | Command::Test { config, .. }
        | Command::Schema {
            action: SchemaCommand::Export { config, .. },
        } => Some(config),
        Command::Demo { .. }
        | Command::DemoBackend { .. }
        | Command::Schema {
            action: SchemaCommand::Bundled { .. },
        } => None,
    };
    if let Some(code) = config.and_then(|config| missing(config)) {
        return code;
    }
    match command {
        Command::Check {
            config,
            format,
            connect,
        } => run_check(&config, format, connect).await,
        Command::Serve { config, listen } => {
            match gateway::load(Files::Disk, &config, env_vars()) {
                Ok(mut gateway) => {
                    eprint!("{}", gateway.warnings_text);
                    gateway.listen = listen.unwrap_or(gateway.listen);
                    gateway.warn_unreachable_backends(PROBE_TIMEOUT);
                    serve(gateway, Some(config)).await
                }
                Err(diags) => {
                    eprint!("{}", diags.render());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Transcode {
            config,
            request,
            response,
        } => run_transcode(&config, &request, response.as_deref()).await,
        Command::Test {
            config,
            paths,
            update,
        } => run_mapping_tests(&config, paths, update).await,
        Command::Schema {
            action:
                SchemaCommand::Export {
                    config,
                    format,
                    mapping,
                },
        } => run_export(&config, format, mapping.as_deref()),
        Command::Schema {
            action: SchemaCommand::Bundled { dir },
        } => match rosetta::toolchain::export::write_bundled(&dir) {
            Ok(written) => {
                for path in written {
                    println!("{}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write under {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Command::Demo { listen } => run_demo(listen).await,
        Command::DemoBackend { listen } => match demo::start_grpc(listen).await {
            Ok(backend) => {
                println!("demo gRPC backend demo.v1.Users on {}", backend.addr);
                shutdown_signal().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot start the demo backend on {listen}: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// How long a probe of a backend waits for its connection.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// When `config` names no file: says so plainly, with what to do instead (a diagnostic at
/// line 1 of a file that is not there would only puzzle).
fn missing(config: &Path) -> Option<ExitCode> {
    if config.is_file() {
        return None;
    }
    let what = if config.exists() {
        "is not a file"
    } else {
        "does not exist"
    };
    eprintln!(
        "error: the configuration `{}` {what}\n  help: pass its path with `-c PATH`, or run `rosetta demo` for a built-in one",
        config.display()
    );
    Some(ExitCode::FAILURE)
}

/// `rosetta check`: every problem of the configuration at `config`, or a summary of what it
/// serves.
async fn run_check(config: &Path, format: Format, connect: bool) -> ExitCode {
    let outcome = gateway::load(Files::Disk, config, env_vars());
    let unreachable = match (&outcome, connect) {
        (Ok(gateway), true) => gateway.unreachable_backends(PROBE_TIMEOUT).await,
        _ => Vec::new(),
    };
    if format == Format::Json {
        // One JSON document on stdout either way: {"ok", "routes", "graphql", "errors",
        // "warnings"}.
        let (routes, graphql, errors, warnings) = match &outcome {
            Ok(gateway) => (
                gateway.rest.routes().len(),
                graphql_paths(gateway),
                Vec::new(),
                gateway.warnings.clone(),
            ),
            Err(diags) => (0, Vec::new(), diags.items.clone(), diags.warnings.clone()),
        };
        let grpc = gateway_grpc(&outcome);
        let unreachable: Vec<_> = (unreachable.iter())
            .map(|(name, address, why)| serde_json::json!({"backend": name, "address": address, "error": why.to_string()}))
            .collect();
        let ok = errors.is_empty() && unreachable.is_empty();
        let mut report = serde_json::json!({"ok": ok, "routes": routes, "graphql": graphql, "grpc": grpc, "errors": errors, "warnings": warnings});
        // `--connect`'s findings, only when asked for (the document is otherwise as it was).
        if connect {
            report["unreachable"] = unreachable.into();
        }
        println!("{report}");
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match outcome {
        Ok(gateway) => {
            eprint!("{}", gateway.warnings_text);
            let graphql = graphql_paths(&gateway);
            let grpc = gateway.grpc.as_ref().map_or(0, |g| g.services.len());
            let routes = gateway.rest.routes().len();
            println!(
                "{}: ok ({routes} route{}{}{})",
                config.display(),
                if routes == 1 { "" } else { "s" },
                if graphql.is_empty() {
                    String::new()
                } else {
                    format!(", GraphQL at {}", graphql.join(", "))
                },
                if grpc == 0 {
                    String::new()
                } else {
                    format!(", {grpc} gRPC service{}", if grpc == 1 { "" } else { "s" })
                }
            );
            if connect {
                for (name, address, why) in &unreachable {
                    eprintln!("error: {name} at {address} cannot be reached: {why}");
                }
                let probed = gateway.backends.len();
                if !unreachable.is_empty() {
                    eprintln!(
                        "{} of {probed} backends cannot be reached",
                        unreachable.len()
                    );
                    return ExitCode::FAILURE;
                }
                println!(
                    "{probed} backend{} reachable",
                    if probed == 1 { "" } else { "s" }
                );
            }
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprint!("{}", diags.render());
            ExitCode::FAILURE
        }
    }
}

/// `rosetta schema export`: the mappings' schemas in `format`.
fn run_export(config: &Path, format: ExportFormat, mapping: Option<&Path>) -> ExitCode {
    use rosetta::toolchain::export::{export, ExportFormat as Export};
    let format = match format {
        ExportFormat::Proto => Export::Proto,
        ExportFormat::Openapi => Export::Openapi,
        ExportFormat::Graphql => Export::Graphql,
        ExportFormat::Wsdl => Export::Wsdl,
    };
    let loaded =
        gateway::load_mappings(Files::Disk, config, env_vars(), &gateway::connect, mapping);
    match loaded {
        Ok(gateway) => match export(&gateway, format) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(why) => {
                eprintln!("error: {why}");
                ExitCode::FAILURE
            }
        },
        Err(diags) => {
            eprint!("{}", diags.render());
            ExitCode::FAILURE
        }
    }
}

/// The gRPC services a loaded gateway serves.
fn gateway_grpc<E>(outcome: &Result<gateway::Gateway, E>) -> Vec<String> {
    match outcome {
        Ok(gateway) => gateway
            .grpc
            .as_ref()
            .map(|g| g.services.to_vec())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

fn graphql_paths(gateway: &gateway::Gateway) -> Vec<String> {
    gateway
        .graphql
        .iter()
        .map(|e| e.options.path.clone())
        .collect()
}

/// Serves `gateway`; with the path of its configuration, SIGHUP reloads it (a configuration
/// with errors is reported and the running one kept).
async fn serve(gateway: gateway::Gateway, config: Option<PathBuf>) -> ExitCode {
    // SIGHUP is caught before the first request is served: its default action ends the process.
    let hangups = config.and_then(|config| {
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        signal.ok().map(|hangups| (hangups, config))
    });
    let listener = match tokio::net::TcpListener::bind(gateway.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", gateway.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        address = %gateway.listen,
        routes = gateway.rest.routes().len(),
        "rosetta is listening"
    );
    let live = Arc::new(gateway.live());
    if let Some(address) = gateway.admin_listen {
        let admin = match tokio::net::TcpListener::bind(address).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {address} (admin.listen): {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(%address, "the admin endpoints are listening");
        tokio::spawn(rosetta::server::Live::serve_admin(
            live.clone(),
            admin,
            std::future::pending(),
        ));
    }
    if let Some((hangups, config)) = hangups {
        tokio::spawn(reload_on_hangup(live.clone(), hangups, config));
    }
    match rosetta::server::serve_live(live, listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_transcode(config: &Path, request: &Path, response: Option<&Path>) -> ExitCode {
    let read = |path: &Path| -> Result<(String, String), String> {
        let text = if path == Path::new("-") {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(path)
        };
        text.map(|t| (path.display().to_string(), t))
            .map_err(|e| format!("error: cannot read {}: {e}", path.display()))
    };
    let texts = read(request).and_then(|req| Ok((req, response.map(read).transpose()?)));
    let (request, response) = match texts {
        Ok(texts) => texts,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rosetta::toolchain::transcode::transcode(
        Files::Disk,
        config,
        env_vars(),
        (&request.0, &request.1),
        response
            .as_ref()
            .map(|(name, text)| (name.as_str(), text.as_str())),
    )
    .await;
    match outcome {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprint!("{}", diags.render());
            ExitCode::FAILURE
        }
    }
}

async fn run_mapping_tests(config: &Path, paths: Vec<PathBuf>, update: bool) -> ExitCode {
    use rosetta::toolchain::mapping_tests::{self, Verdict};
    use std::io::IsTerminal;
    let paths = if paths.is_empty() {
        vec![config
            .parent()
            .unwrap_or(Path::new(""))
            .join("mappings/tests")]
    } else {
        paths
    };
    let mut cases = Vec::new();
    for path in &paths {
        if !path.exists() {
            eprintln!(
                "error: no mapping test cases: `{}` does not exist\n  help: a case is a request file (`NAME.yaml`) in that directory, or name case files and directories as arguments; see docs/testing-mappings.md",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        match mapping_tests::cases_at(&Files::Disk, path) {
            Ok(found) => cases.extend(found),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if cases.is_empty() {
        let places: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "error: no mapping test cases in {}\n  help: a case is a request file (`NAME.yaml`); see docs/testing-mappings.md",
            places.join(", ")
        );
        return ExitCode::FAILURE;
    }
    let outcomes = match mapping_tests::run(Files::Disk, config, env_vars(), &cases, update).await {
        Ok(outcomes) => outcomes,
        Err(diags) => {
            eprint!("{}", diags.render());
            return ExitCode::FAILURE;
        }
    };
    let colour = std::io::stdout().is_terminal();
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for outcome in &outcomes {
        let ms = outcome.elapsed.as_millis();
        match &outcome.verdict {
            Verdict::Passed => {
                passed += 1;
                println!("{}  {} ({ms} ms)", paint("32", "ok     "), outcome.case);
            }
            Verdict::Updated => {
                passed += 1;
                println!("{}  {} ({ms} ms)", paint("33", "updated"), outcome.case);
            }
            Verdict::Failed(why) => {
                failed += 1;
                println!(
                    "{}  {} ({ms} ms)\n{why}",
                    paint("31", "FAILED "),
                    outcome.case
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && !cases.is_empty() {
        ExitCode::SUCCESS
    } else {
        if cases.is_empty() {
            eprintln!("error: no test cases found");
        }
        ExitCode::FAILURE
    }
}

async fn run_demo(listen: SocketAddr) -> ExitCode {
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("valid");
    let backends = tokio::try_join!(demo::start_grpc(any_port), demo::start_soap(any_port));
    let (grpc_backend, soap_backend) = match backends {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot start the demo backends: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (grpc, soap) = (grpc_backend.addr.to_string(), soap_backend.addr.to_string());
    let vars: rosetta::config::Vars = Arc::new(move |name| match name {
        demo::GRPC_ADDRESS_VAR => Some(grpc.clone()),
        demo::SOAP_ADDRESS_VAR => Some(soap.clone()),
        _ => std::env::var(name).ok(),
    });
    let mut gateway = match gateway::load(demo::files(), demo::GATEWAY_FILE.as_ref(), vars) {
        Ok(g) => g,
        Err(diags) => {
            eprint!("{}", diags.render());
            return ExitCode::FAILURE;
        }
    };
    gateway.listen = listen;
    println!(
        "{}",
        demo_banner(listen, grpc_backend.addr, soap_backend.addr)
    );
    serve(gateway, None).await
}

/// Reloads the configuration on every SIGHUP.
async fn reload_on_hangup(
    live: Arc<rosetta::server::Live>,
    mut hangups: tokio::signal::unix::Signal,
    config: PathBuf,
) {
    while hangups.recv().await.is_some() {
        // Loading a big configuration takes seconds of CPU: off the workers that serve, so
        // requests keep being answered on the old routers meanwhile.
        let path = config.clone();
        let loaded =
            tokio::task::spawn_blocking(move || gateway::load(Files::Disk, &path, env_vars()));
        let Ok(loaded) = loaded.await else {
            tracing::error!(
                "reloading {} failed; still serving the previous configuration",
                config.display()
            );
            continue;
        };
        match loaded {
            Ok(gateway) => {
                eprint!("{}", gateway.warnings_text);
                live.replace(gateway.app(), gateway.admin.app());
                tracing::info!(
                    routes = gateway.rest.routes().len(),
                    graphql = gateway.graphql.len(),
                    "reloaded {}",
                    config.display()
                );
            }
            Err(diags) => {
                eprint!("{}", diags.render());
                tracing::error!(
                    "{} has errors; still serving the previous configuration",
                    config.display()
                );
            }
        }
    }
}

fn demo_banner(listen: SocketAddr, grpc: SocketAddr, soap: SocketAddr) -> String {
    let base = format!("http://{listen}");
    format!(
        r#"rosetta demo: REST/JSON on {base}, GraphQL on {base}/graphql, gRPC on {listen}
  -> demo gRPC backend demo.v1.Users on {grpc}
  -> demo SOAP backend CountryInfoService on http://{soap}/countries

Try (gRPC behind REST):
  curl {base}/v1/users/1
  curl '{base}/v1/users?role=ROLE_ADMIN&page_size=2'
  curl -H 'Accept: application/x-ndjson' '{base}/v1/users?interval_ms=300'
  curl -X POST {base}/v1/users -d '{{"name":"Katherine Johnson","role":"ROLE_USER","tags":["nasa"]}}'
  curl -X PATCH '{base}/v1/users/3?update_mask=email' -d '{{"email":"grace@navy.mil"}}'
  curl -X POST {base}/v1/users:upload -H 'Content-Type: application/x-ndjson' --data-binary $'{{"user":{{"name":"a"}}}}\n{{"user":{{"name":"b"}}}}'
  curl {base}/v1/users/2/avatar
  curl {base}/v1/users:export
  curl -i {base}/v1/users/999
  curl -i -H 'grpc-timeout: 100m' '{base}/v1/sleep?duration=2s'

Try (SOAP behind REST):
  curl {base}/countries/NL
  curl '{base}/countries?sContinentCode=EU'
  curl {base}/countries/JP/capital
  curl -X POST {base}/CountryInfoService/CapitalCity -d '{{"sCountryISOCode":"BR"}}'
  curl -i {base}/countries/XX

Try (GraphQL over both; GraphiQL at {base}/graphql in a browser):
  curl {base}/graphql/schema.graphql
  curl {base}/graphql -H 'Content-Type: application/json' -d '{{"query":"{{ getUser(id: 1) {{ name role createdAt }} capitalCity(sCountryISOCode: \"JP\") {{ CapitalCityResult }} }}"}}'
  curl {base}/graphql -H 'Content-Type: application/json' -d '{{"query":"mutation {{ updateUser(user: {{id: 3, email: \"grace@navy.mil\"}}) {{ email }} }}"}}'
  curl -N {base}/graphql -H 'Accept: text/event-stream' -H 'Content-Type: application/json' -d '{{"query":"subscription {{ listUsers(intervalMs: 300) {{ id name }} }}"}}'
  curl {base}/graphql -H 'Content-Type: application/json' -d '{{"query":"{{ a: getUser(id: 1) {{ name }} b: getUser(id: 999) {{ name }} }}"}}'

Try (a backend-for-frontend endpoint: one gRPC and one SOAP call, composed):
  curl '{base}/bff/profile/1?country=JP'

Try (gRPC in front of both, with reflection; grpcurl is not bundled):
  grpcurl -plaintext {listen} list
  grpcurl -plaintext -d '{{"id": 1}}' {listen} demo.v1.Users/GetUser
  grpcurl -plaintext -d '{{"sCountryISOCode": "JP"}}' {listen} soap.countries.CountryInfoService/CapitalCity

Press Ctrl-C to stop."#
    )
}

/// Ctrl-C, or SIGTERM (what container runtimes and systemd send).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
