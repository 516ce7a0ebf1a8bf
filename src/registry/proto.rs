//! The `.proto` importer: compiles `.proto` files at run time with protox (no code generation)
//! and reads binary descriptor sets (`.pb`), into one `DescriptorPool`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use miette::Diagnostic as _;
use prost::Message;
use prost_reflect::DescriptorPool;
use protox::file::{File, FileResolver, GoogleFileResolver};

use crate::config::{display_path, line_col, Diagnostic, Diagnostics, Files, Pos};

/// `google/api` and `google/rpc` files that users import without shipping them.
const BUNDLED: &[(&str, &str)] = &[
    (
        "google/api/annotations.proto",
        include_str!("bundled/google/api/annotations.proto"),
    ),
    (
        "google/api/http.proto",
        include_str!("bundled/google/api/http.proto"),
    ),
    (
        "google/api/httpbody.proto",
        include_str!("bundled/google/api/httpbody.proto"),
    ),
    (
        "google/api/field_behavior.proto",
        include_str!("bundled/google/api/field_behavior.proto"),
    ),
    (
        "google/api/client.proto",
        include_str!("bundled/google/api/client.proto"),
    ),
    (
        "google/api/visibility.proto",
        include_str!("bundled/google/api/visibility.proto"),
    ),
    (
        "google/rpc/status.proto",
        include_str!("bundled/google/rpc/status.proto"),
    ),
    (
        "google/rpc/code.proto",
        include_str!("bundled/google/rpc/code.proto"),
    ),
    (
        "google/rpc/error_details.proto",
        include_str!("bundled/google/rpc/error_details.proto"),
    ),
];

/// The bundled files, by import path, for a backend's own build (`rosetta schema bundled`).
pub fn bundled() -> &'static [(&'static str, &'static str)] {
    BUNDLED
}

/// Files every pool gets, so that error details and HTTP bodies can always be rendered.
const ALWAYS: &[&str] = &[
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
    "google/api/annotations.proto",
    "google/api/httpbody.proto",
];

/// One schema a mapping asks for.
pub struct SchemaRequest {
    /// A `.proto` import path, or a path to a `.pb` descriptor set.
    pub path: String,
    /// Where a `.pb` path is relative to.
    pub dir: PathBuf,
    /// Where the request was written, for diagnostics.
    pub pos: Pos,
}

/// Resolves imports: descriptor sets first, then the include directories, then the bundled
/// Google files and the well-known types. Remembers each source read, for diagnostics.
struct Resolver {
    files: Files,
    includes: Vec<PathBuf>,
    descriptor_files: HashMap<String, File>,
    sources: Arc<Mutex<Sources>>,
    google: GoogleFileResolver,
}

impl FileResolver for Resolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if let Some(file) = self.descriptor_files.get(name) {
            return Ok(file.clone());
        }
        for include in &self.includes {
            let path = include.join(name);
            if let Ok(text) = self.files.read_to_string(&path) {
                self.remember(name, display_path(&path), &text);
                return File::from_source(name, &text);
            }
        }
        if let Some((_, text)) = BUNDLED.iter().find(|(n, _)| *n == name) {
            self.remember(name, format!("<bundled>/{name}"), text);
            return File::from_source(name, text);
        }
        self.google.open_file(name)
    }
}

impl Resolver {
    fn remember(&self, name: &str, shown: String, text: &str) {
        if let Ok(mut sources) = self.sources.lock() {
            sources.insert(name.to_owned(), (shown, text.into()));
        }
    }
}

/// The compiled pool, and where each of its files was read from.
pub struct Compiled {
    pub pool: DescriptorPool,
    /// Import name -> the path shown in diagnostics.
    pub shown: HashMap<String, String>,
    /// The mapping files that name a schema which did not compile (its problem is reported).
    failed_for: HashSet<String>,
}

impl Compiled {
    /// Whether a schema of the mapping in `file` did not compile.
    pub fn failed_for(&self, file: &str) -> bool {
        self.failed_for.contains(file)
    }

    pub fn shown_name(&self, import_name: &str) -> String {
        self.shown
            .get(import_name)
            .cloned()
            .unwrap_or_else(|| import_name.to_owned())
    }
}

/// Compiles every requested schema into one pool. Problems become diagnostics that point into
/// the `.proto` file (or at the mapping entry, when the file itself is missing); the pool then
/// holds the files that did compile. `None` only when the bundled files do not.
pub fn compile(
    files: &Files,
    includes: Vec<PathBuf>,
    requests: &[SchemaRequest],
    diags: &mut Diagnostics,
) -> Option<Compiled> {
    let mut descriptor_files = HashMap::new();
    let mut unreadable_for = HashSet::new();
    let mut proto_requests = Vec::new();
    for request in requests {
        if request.path.ends_with(".pb") || request.path.ends_with(".binpb") {
            let path = request.dir.join(&request.path);
            let set = files
                .read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| split_descriptor_set(&bytes).map_err(|e| e.to_string()));
            match set {
                Ok(set) => {
                    for file in set {
                        proto_requests.push((file.name().to_owned(), request));
                        descriptor_files.insert(file.name().to_owned(), file);
                    }
                }
                Err(e) => {
                    unreadable_for.insert(request.pos.file.to_string());
                    diags.push(Diagnostic::at(
                        &request.pos,
                        format!("cannot read descriptor set `{}`: {e}", request.path),
                    ));
                }
            }
        } else {
            proto_requests.push((request.path.clone(), request));
        }
    }

    let include_list = includes
        .iter()
        .map(|p| display_path(p))
        .collect::<Vec<_>>()
        .join(", ");
    let sources = Arc::new(Mutex::new(Sources::new()));
    let resolver = Resolver {
        files: files.clone(),
        includes,
        descriptor_files,
        sources: sources.clone(),
        google: GoogleFileResolver::new(),
    };
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_source_info(true).include_imports(true);
    let mut failed = false;
    for name in ALWAYS {
        if let Err(e) = compiler.open_file(name) {
            diags.push(Diagnostic::new("<bundled>", 1, 1, e.to_string()));
            failed = true;
        }
    }
    if failed {
        return None;
    }
    // A file that does not compile leaves out only the mappings that name it: the others are
    // still built and checked.
    let mut failed_for = unreadable_for;
    for (name, request) in proto_requests {
        if let Err(e) = compiler.open_file(&name) {
            failed_for.insert(request.pos.file.to_string());
            let sources = sources.lock().map(|s| s.clone()).unwrap_or_default();
            let diagnostic = protox_diagnostic(&e, request, &sources, &include_list, diags);
            diags.push(diagnostic);
        }
    }
    let sources = sources.lock().map(|s| s.clone()).unwrap_or_default();
    let mut shown = HashMap::new();
    for (name, (path, text)) in sources {
        diags.remember_source(&path, text);
        shown.insert(name, path);
    }
    Some(Compiled {
        pool: compiler.descriptor_pool(),
        shown,
        failed_for,
    })
}

/// The files of a binary `FileDescriptorSet`, each decoded from its own bytes so that
/// extension options (`google.api.http` above all) are kept: decoding through `prost_types`
/// would drop them.
fn split_descriptor_set(bytes: &[u8]) -> Result<Vec<File>, prost::DecodeError> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawSet {
        #[prost(bytes = "bytes", repeated, tag = "1")]
        file: Vec<bytes::Bytes>,
    }
    RawSet::decode(bytes)?
        .file
        .into_iter()
        .map(File::decode_file_descriptor_proto)
        .collect()
}

/// import name -> (path as shown, text)
type Sources = HashMap<String, (String, Arc<str>)>;

fn protox_diagnostic(
    error: &protox::Error,
    request: &SchemaRequest,
    sources: &Sources,
    includes: &str,
    diags: &mut Diagnostics,
) -> Diagnostic {
    let mut message = error.to_string();
    let uses_editions = error
        .file()
        .and_then(|name| sources.get(name))
        .is_some_and(|(_, text)| text.lines().any(|l| l.trim_start().starts_with("edition")));
    if uses_editions && error.is_parse() {
        message = format!(
            "{message}\n  protobuf editions (`edition = \"2023\"`) are not supported yet: the schema \
             compiler (protox) reads proto2 and proto3 only; declare `syntax = \"proto3\"` instead"
        );
    }
    if error.is_file_not_found() && error.file().is_none_or(|f| f == request.path) {
        return Diagnostic::at(
            &request.pos,
            format!(
                "schema `{}` was not found in the include directories ({includes})",
                request.path
            ),
        );
    }
    // Point into the .proto file when protox knows where the problem is.
    let offset = error
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    match error.file().map(|name| (name, sources.get(name))) {
        Some((_, Some((shown, text)))) => {
            let (line, column) = offset.map(|o| line_col(text, o)).unwrap_or((1, 1));
            diags.remember_source(shown, text.clone());
            Diagnostic::new(shown.as_str(), line, column, message)
        }
        Some((name, None)) => Diagnostic::new(name, 1, 1, message),
        None => Diagnostic::at(&request.pos, message),
    }
}
