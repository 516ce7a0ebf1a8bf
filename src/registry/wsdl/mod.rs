//! The WSDL/XSD importer: a WSDL 1.1 document with everything it imports and includes (local
//! paths or URLs, cycles allowed) is read into [`model`], then [`build`] turns the operations
//! of one port into a service of the registry's `DescriptorPool`, with the XML facts of every
//! message kept beside it ([`crate::xml::XmlSchema`]).

pub mod build;
pub(crate) mod model;

use std::collections::{HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{display_path, Diagnostic, Diagnostics, Files, Pos};
use model::{Definitions, Problem, SchemaContext, Schemas};

/// Where a document is: a file (or an embedded one) or an http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    Path(PathBuf),
    Url(String),
}

/// A reference that cannot be resolved against the URL of the document that makes it.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve `{reference}` against `{base}`: {why}")]
pub struct JoinError {
    reference: String,
    base: String,
    why: String,
}

impl Location {
    /// `reference` (a path or URL, as written in a document or mapping) relative to `self`.
    pub fn join(&self, reference: &str) -> Result<Location, JoinError> {
        if is_url(reference) {
            return Ok(Location::Url(reference.to_owned()));
        }
        match self {
            Location::Path(path) => {
                let dir = path.parent().unwrap_or(Path::new(""));
                Ok(Location::Path(normalize(&dir.join(reference))))
            }
            Location::Url(base) => reqwest::Url::parse(base)
                .and_then(|b| b.join(reference))
                .map(|u| Location::Url(u.into()))
                .map_err(|e| JoinError {
                    reference: reference.to_owned(),
                    base: base.clone(),
                    why: e.to_string(),
                }),
        }
    }

    pub fn shown(&self) -> String {
        match self {
            Location::Path(p) => display_path(p),
            Location::Url(u) => u.clone(),
        }
    }

    /// The document's last path segment without its extension (`customer` for
    /// `.../customer.wsdl?wsdl`).
    pub fn stem(&self) -> String {
        let text = match self {
            Location::Path(p) => p.to_string_lossy().into_owned(),
            Location::Url(u) => u.split(['?', '#']).next().unwrap_or(u).to_owned(),
        };
        let last = text.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        last.split('.').next().unwrap_or(last).to_owned()
    }
}

fn is_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

/// `a/b/../c` -> `a/c`, without touching the file system (documents may be embedded).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Largest document fetched or read.
const MAX_DOCUMENT: u64 = 16 << 20;

fn read(files: &Files, location: &Location) -> Result<String, String> {
    match location {
        Location::Path(path) => files.read_to_string(path).map_err(|e| e.to_string()),
        Location::Url(url) => fetch(url),
    }
}

/// Fetches a document at load time. Loading is synchronous and may run inside the async
/// runtime, where a blocking client must not be made; so it runs on a thread of its own.
fn fetch(url: &str) -> Result<String, String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .get(&url)
            .send()
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.without_url().to_string())?;
        if response.content_length().unwrap_or(0) > MAX_DOCUMENT {
            return Err(format!("larger than {MAX_DOCUMENT} bytes"));
        }
        let bytes = response.bytes().map_err(|e| e.without_url().to_string())?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(format!("larger than {MAX_DOCUMENT} bytes"));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| "not UTF-8 text".to_owned())
    })
    .join()
    .unwrap_or_else(|_| Err("the fetch failed".into()))
}

/// A WSDL with everything it refers to.
#[derive(Debug, Default)]
pub struct Loaded {
    pub schemas: Schemas,
    pub definitions: Definitions,
    /// Shown names of the documents read, for diagnostics and `rosetta check`.
    pub documents: Vec<String>,
}

enum Pending {
    Wsdl,
    /// A schema document; an include takes on the includer's namespace when it has none.
    Schema(Option<Arc<str>>),
}

/// Reads the WSDL at `root` and every document it imports or includes. `from` is where the
/// WSDL was named (a mapping entry). Every problem is reported with its place.
pub fn load(files: &Files, root: Location, from: &Pos, diags: &mut Diagnostics) -> Option<Loaded> {
    let mut loaded = Loaded::default();
    let mut seen: HashSet<(Location, Option<Arc<str>>)> = HashSet::new();
    let mut queue = VecDeque::from([(root, Pending::Wsdl, from.clone())]);
    let mut failed = false;
    let mut first = true;
    while let Some((location, kind, named_at)) = queue.pop_front() {
        // The WSDL itself must be read; a document it imports that cannot be is left out with
        // a warning, and so are the operations that need it.
        let is_root = std::mem::replace(&mut first, false);
        let chameleon = match &kind {
            Pending::Schema(c) => c.clone(),
            Pending::Wsdl => None,
        };
        if !seen.insert((location.clone(), chameleon.clone())) {
            continue;
        }
        let shown = location.shown();
        let text = match read(files, &location) {
            Ok(text) => text,
            Err(e) if is_root => {
                diags.push(Diagnostic::at(
                    &named_at,
                    format!("cannot read `{shown}`: {e}"),
                ));
                failed = true;
                continue;
            }
            Err(e) => {
                diags.warn(Diagnostic::at(
                    &named_at,
                    format!("cannot read `{shown}` ({e}); what it defines is missing"),
                ));
                continue;
            }
        };
        diags.remember_source(&shown, text.as_str().into());
        loaded.documents.push(shown.clone());
        let file: Arc<str> = shown.into();
        let mut warnings = Vec::new();
        let result = read_document(
            &text,
            &file,
            chameleon,
            &location,
            &mut loaded,
            &mut queue,
            &mut warnings,
        );
        for warning in warnings {
            diags.warn(warning.into());
        }
        match result {
            Ok(()) => {}
            Err(problem) if is_root => {
                diags.push(problem.into());
                failed = true;
            }
            Err(Problem { at, message }) => diags.warn(Diagnostic::at(
                &at,
                format!("{message}; what this document defines is missing"),
            )),
        }
    }
    (!failed).then_some(loaded)
}

/// Parses a document. A prefix used without a declaration (which node-soap and zeep let
/// pass) is declared on the root element with a placeholder namespace, with a warning.
fn parse_lenient<'t>(
    text: &'t mut String,
    file: &Arc<str>,
    warnings: &mut Vec<model::Problem>,
) -> Result<roxmltree::Document<'t>, model::Problem> {
    fn options<'a>() -> roxmltree::ParsingOptions<'a> {
        roxmltree::ParsingOptions {
            allow_dtd: false,
            ..Default::default()
        }
    }
    let problem = |e: roxmltree::Error| {
        let at = e.pos();
        let pos = Pos {
            file: file.clone(),
            line: at.row as u64,
            column: at.col as u64,
        };
        (pos, format!("not a well-formed XML document: {e}"))
    };
    for _ in 0..32 {
        let unknown = match roxmltree::Document::parse_with_options(text, options()) {
            Err(roxmltree::Error::UnknownNamespace(prefix, at)) => (prefix, at),
            _ => break,
        };
        let (prefix, at) = unknown;
        let Some(insert_at) = root_name_end(text) else {
            break;
        };
        let pos = Pos {
            file: file.clone(),
            line: at.row as u64,
            column: at.col as u64,
        };
        // The prefixes WSDLs use by habit get their usual namespaces.
        let ns = match prefix.as_str() {
            "soap" => model::SOAP11_BINDING.to_owned(),
            "soap12" => model::SOAP12_BINDING.to_owned(),
            "xs" | "xsd" => model::XSD.to_owned(),
            "wsdl" => model::WSDL.to_owned(),
            other => format!("urn:rosetta:undeclared:{other}"),
        };
        warnings.push(Problem::new(
            pos,
            format!("namespace prefix `{prefix}` is not declared; taken as `{ns}`"),
        ));
        text.insert_str(insert_at, &format!(" xmlns:{prefix}=\"{ns}\""));
    }
    let text: &'t String = text;
    roxmltree::Document::parse_with_options(text, options()).map_err(|e| problem(e).into())
}

/// The byte offset just after the root element's name.
fn root_name_end(text: &str) -> Option<usize> {
    let mut rest = 0;
    loop {
        let start = rest + text[rest..].find('<')?;
        let next = text[start + 1..].chars().next()?;
        if next == '?' || next == '!' {
            rest = start + 1;
            continue;
        }
        let name_len =
            text[start + 1..].find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        return Some(start + 1 + name_len);
    }
}

fn read_document(
    text: &str,
    file: &Arc<str>,
    chameleon: Option<Arc<str>>,
    location: &Location,
    loaded: &mut Loaded,
    queue: &mut VecDeque<(Location, Pending, Pos)>,
    warnings: &mut Vec<model::Problem>,
) -> Result<(), model::Problem> {
    let start = Pos {
        file: file.clone(),
        line: 1,
        column: 1,
    };
    let mut text = text.to_owned();
    let doc = parse_lenient(&mut text, file, warnings)?;
    let root = doc.root_element();
    let join = |reference: &str, pos: &Pos| {
        location
            .join(reference)
            .map_err(|e| Problem::new(pos.clone(), e.to_string()))
    };
    match (root.tag_name().namespace(), root.tag_name().name()) {
        (Some(model::WSDL), "definitions") => {
            for child in root.children().filter(|n| n.is_element()) {
                let pos = model::pos_of(file, child);
                match (child.tag_name().namespace(), child.tag_name().name()) {
                    (Some(model::WSDL), "import") => {
                        if let Some(l) = child.attribute("location") {
                            queue.push_back((join(l, &pos)?, Pending::Wsdl, pos));
                        }
                    }
                    (Some(model::WSDL), "types") => {
                        for schema in child.children().filter(|n| {
                            n.is_element()
                                && n.tag_name().name() == "schema"
                                && n.tag_name().namespace().is_some_and(model::is_xsd)
                        }) {
                            let context = SchemaContext::new(file.clone(), schema, None);
                            schema_document(&context, schema, location, loaded, queue, warnings)?;
                        }
                    }
                    _ => {}
                }
            }
            model::definitions(root, file, &mut loaded.definitions)
        }
        (Some(ns), "schema") if model::is_xsd(ns) => {
            let context = SchemaContext::new(file.clone(), root, chameleon);
            schema_document(&context, root, location, loaded, queue, warnings)
        }
        (Some(model::WSDL20), _) => Err(Problem::new(
            start,
            "WSDL 2.0 is not supported: rosetta reads WSDL 1.1 (`http://schemas.xmlsoap.org/wsdl/`)"
                .into(),
        )),
        (ns, name) => Err(Problem::new(
            start,
            format!(
                "expected a WSDL 1.1 `definitions` or an XSD `schema`, found `{name}`{}",
                ns.map(|n| format!(" in namespace `{n}`")).unwrap_or_default()
            ),
        )),
    }
}

fn schema_document(
    context: &SchemaContext,
    schema: roxmltree::Node,
    location: &Location,
    loaded: &mut Loaded,
    queue: &mut VecDeque<(Location, Pending, Pos)>,
    warnings: &mut Vec<model::Problem>,
) -> Result<(), model::Problem> {
    let refs = context.schema(schema, &mut loaded.schemas, warnings);
    for (reference, pos) in refs.imports {
        let target =
            (location.join(&reference)).map_err(|e| Problem::new(pos.clone(), e.to_string()))?;
        queue.push_back((target, Pending::Schema(None), pos));
    }
    for (reference, pos) in refs.includes {
        let target =
            (location.join(&reference)).map_err(|e| Problem::new(pos.clone(), e.to_string()))?;
        queue.push_back((target, Pending::Schema(Some(context.target.clone())), pos));
    }
    Ok(())
}
