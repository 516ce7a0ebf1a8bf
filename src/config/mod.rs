//! Loading `gateway.yaml` and the mapping files it names.
//!
//! Loading never stops at the first problem: every file is parsed and every problem is collected
//! into [`Diagnostics`], each with file, line and column.

mod diagnostic;
mod files;
pub(crate) mod model;
mod shape;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use shape::Form;

pub(crate) use diagnostic::closest;
pub use diagnostic::{line_col, Diagnostic, Diagnostics, Pos, Problem};
pub use files::{display_path, Files};
pub use model::*;

/// The only version of the file formats so far.
pub const FORMAT_VERSION: u32 = 1;

/// Looks up `${NAME}` variables: the process environment, unless the caller supplies others.
pub type Vars = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub fn env_vars() -> Vars {
    Arc::new(|name| std::env::var(name).ok())
}

/// `gateway.yaml` and its mappings, parsed and checked for shape.
pub struct LoadedConfig {
    pub files: Files,
    pub vars: Vars,
    /// The directory of `gateway.yaml`; relative paths in it start here.
    pub base_dir: PathBuf,
    pub gateway_file: Arc<str>,
    pub gateway: GatewayConfig,
    pub mappings: Vec<LoadedMapping>,
}

pub struct LoadedMapping {
    /// The file as shown in diagnostics.
    pub file: Arc<str>,
    pub dir: PathBuf,
    pub config: MappingConfig,
}

impl LoadedMapping {
    pub fn pos<T>(&self, located: &Located<T>) -> Pos {
        pos_in(&self.file, located)
    }
}

impl LoadedConfig {
    pub fn pos<T>(&self, located: &Located<T>) -> Pos {
        pos_in(&self.gateway_file, located)
    }

    /// A secret written in gateway.yaml (`${VAR}`, `file:`), resolved.
    pub fn secret(&self, text: &Located<String>, diags: &mut Diagnostics) -> Option<String> {
        let (dir, vars) = (&self.base_dir, &self.vars);
        secret(text, self.pos(text), dir, &self.files, vars, diags)
    }
}

pub fn pos_in<T>(file: &Arc<str>, located: &Located<T>) -> Pos {
    Pos {
        file: file.clone(),
        line: located.line.max(1),
        column: located.column.max(1),
    }
}

/// Reads `gateway.yaml` at `path` and every mapping it names.
pub fn load(
    files: Files,
    path: &Path,
    vars: Vars,
    diags: &mut Diagnostics,
) -> Option<LoadedConfig> {
    let gateway_file: Arc<str> = display_path(path).into();
    let gateway: Option<GatewayConfig> = parse_config(&files, path, &gateway_file, diags);
    if let Some(gateway) = &gateway {
        check_version(&gateway.version, &gateway_file, diags);
    }
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // A broken gateway.yaml does not hide the mappings' own problems: they are read from
    // where it names them, or else from the default place.
    let entries = gateway
        .as_ref()
        .map_or_else(model::default_mappings, |g| g.mappings.clone());

    let mut mappings = Vec::new();
    for entry in &entries {
        let target = base_dir.join(&entry.value);
        let paths = if files.is_dir(&target) {
            match files.list(&target, &["yaml", "yml"]) {
                Ok(list) => list,
                Err(e) => {
                    diags.push(Diagnostic::at(
                        &pos_in(&gateway_file, entry),
                        format!("cannot read mapping directory `{}`: {e}", entry.value),
                    ));
                    continue;
                }
            }
        } else {
            vec![target]
        };
        for mapping_path in paths {
            let file: Arc<str> = display_path(&mapping_path).into();
            match files.read(&mapping_path) {
                Err(e) => diags.push(Diagnostic::at(
                    &pos_in(&gateway_file, entry),
                    format!("cannot read mapping file `{file}`: {e}"),
                )),
                Ok(_) => {
                    if let Some(config) =
                        parse_config::<MappingConfig>(&files, &mapping_path, &file, diags)
                    {
                        check_version(&config.version, &file, diags);
                        mappings.push(LoadedMapping {
                            file,
                            dir: mapping_path
                                .parent()
                                .map(Path::to_path_buf)
                                .unwrap_or_default(),
                            config,
                        });
                    }
                }
            }
        }
    }
    Some(LoadedConfig {
        files,
        vars,
        base_dir,
        gateway_file,
        gateway: gateway?,
        mappings,
    })
}

fn check_version(version: &Located<u32>, file: &Arc<str>, diags: &mut Diagnostics) {
    if version.value != FORMAT_VERSION {
        diags.push(Diagnostic::at(
            &pos_in(file, version),
            format!(
                "unsupported version {}: this rosetta reads version {FORMAT_VERSION}",
                version.value
            ),
        ));
    }
}

/// Parses one YAML file into `T`; a problem becomes a diagnostic at its line and column.
pub fn parse_yaml<T: DeserializeOwned>(
    files: &Files,
    path: &Path,
    shown: &Arc<str>,
    diags: &mut Diagnostics,
) -> Option<T> {
    let text = read_yaml(files, path, shown, diags)?;
    parse_yaml_str(&text, shown, diags)
}

/// Parses YAML text shown as `shown` in diagnostics.
pub fn parse_yaml_str<T: DeserializeOwned>(
    text: &str,
    shown: &Arc<str>,
    diags: &mut Diagnostics,
) -> Option<T> {
    diags.remember_source(shown, text.into());
    deserialize(text, shown).map_err(|d| diags.push(d)).ok()
}

/// Parses `gateway.yaml` or a mapping file, reporting every problem of shape in it at once
/// (see [`shape`]). When the file can be mended with certainty, the mended file is returned,
/// so that the checks that need it still run; the problems stay in `diags`.
fn parse_config<T: DeserializeOwned + schemars::JsonSchema>(
    files: &Files,
    path: &Path,
    shown: &Arc<str>,
    diags: &mut Diagnostics,
) -> Option<T> {
    let text = read_yaml(files, path, shown, diags)?;
    diags.remember_source(shown, text.as_str().into());
    let first = match deserialize::<T>(&text, shown) {
        Ok(config) => return Some(config),
        Err(first) => first,
    };
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    let (problems, mended) = shape::check(&text, &schema);
    let place = (first.line, first.column);
    diags.push(first);
    for problem in problems {
        if (problem.line, problem.column) == place {
            continue; // serde's own message for it is already there
        }
        let diagnostic = Diagnostic::new(
            shown.as_ref(),
            problem.line,
            problem.column,
            problem.message,
        );
        diags.push(match &problem.known {
            Some((written, known)) => {
                diagnostic.suggesting(written, known.iter().map(String::as_str))
            }
            None => diagnostic,
        });
    }
    deserialize(&mended?, shown).ok()
}

fn read_yaml(
    files: &Files,
    path: &Path,
    shown: &Arc<str>,
    diags: &mut Diagnostics,
) -> Option<String> {
    match files.read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            let message = format!("cannot read file: {e}");
            diags.push(Diagnostic::new(shown.as_ref(), 1, 1, message));
            None
        }
    }
}

/// `text` as a `T`, or its first problem.
fn deserialize<T: DeserializeOwned>(text: &str, shown: &Arc<str>) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        let message = yaml_message(&e);
        let message = plain_message(&message, text, line, column).unwrap_or(message);
        let diagnostic = Diagnostic::new(shown.as_ref(), line, column, message.as_str());
        match unknown_name(&message) {
            Some((written, known)) => diagnostic.suggesting(written, known),
            None => diagnostic,
        }
    })
}

/// The message of a YAML error without the snippet serde-saphyr renders itself (our own
/// rendering adds one, the same for every kind of diagnostic).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let full = e.without_snippet().to_string();
    // The location is reported separately; drop a trailing " at line X, column Y".
    match full.find(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

/// The parser's words for a value of the wrong form ("expected sequence start", "invalid u64")
/// said as what the key takes instead, with an example where the key is a known list.
fn plain_message(message: &str, text: &str, line: u64, column: u64) -> Option<String> {
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return Some(format!("`{key}` is written twice in the same map"));
    }
    let (key, item) = key_at(text, line, column)?;
    let form = match message {
        "expected sequence start" => Form::List,
        "expected string scalar" => Form::Text,
        "expected mapping start" => Form::Map,
        "invalid bool" | "invalid boolean" => Form::Bool,
        "invalid u8" | "invalid u16" | "invalid u32" | "invalid u64" | "invalid usize" => {
            Form::Unsigned
        }
        "invalid i8" | "invalid i16" | "invalid i32" | "invalid i64" => Form::Integer,
        "invalid f32" | "invalid f64" => Form::Number,
        _ => return None,
    };
    Some(shape::describe(&key, item, &form))
}

/// The key whose value is at `line`:`column` (1-based), and whether the value is an item of
/// its list: the last key before it on that line (also inside `{...}`), or for a value on a
/// line of its own (a `- ` item), the nearest less indented key above.
fn key_at(text: &str, line: u64, column: u64) -> Option<(String, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let here = *lines.get(line.checked_sub(1)? as usize)?;
    let before: String = here
        .chars()
        .take(column.saturating_sub(1) as usize)
        .collect();
    let last_key = |l: &str| -> Option<(String, usize)> {
        let colon = l
            .rfind(": ")
            .or_else(|| l.trim_end().ends_with(':').then(|| l.trim_end().len() - 1))?;
        let key = l[..colon].rsplit([' ', '{', '[', ',']).next()?.trim();
        (!key.is_empty()).then(|| (key.to_owned(), colon))
    };
    if let Some((key, colon)) = last_key(&before) {
        let after = &before[colon + 1..];
        let in_list = after.matches('[').count() > after.matches(']').count();
        return Some((key, in_list));
    }
    let item = here.trim_start().starts_with("- ");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mine = indent(here);
    let above = lines[..line as usize - 1].iter().rev();
    let key = above
        .filter(|l| !l.trim().is_empty() && indent(l) < mine)
        .find_map(|l| last_key(l))?;
    Some((key.0, item))
}

/// From serde's "unknown field `x`, expected one of a, b" (or "unknown variant"): what was
/// written, and the names it could have been.
fn unknown_name(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = (message.strip_prefix("unknown field `"))
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (written, rest) = rest.split_once('`')?;
    let list =
        (rest.strip_prefix(", expected one of ")).or_else(|| rest.strip_prefix(", expected "))?;
    let known = list
        .split([',', ' '])
        .map(|name| name.trim_matches(['`', ' ']))
        .filter(|name| !name.is_empty() && *name != "or")
        .collect();
    Some((written, known))
}

/// Expands `${NAME}` in a configuration string. A missing variable is a diagnostic that names
/// the variable but never shows any value.
pub fn expand(
    text: &Located<String>,
    pos: Pos,
    vars: &Vars,
    diags: &mut Diagnostics,
) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut ok = true;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            diags.push(Diagnostic::at(&pos, "unterminated `${` in value"));
            return None;
        };
        let name = &after[..end];
        match vars(name) {
            Some(value) => out.push_str(&value),
            None => {
                diags.push(Diagnostic::at(
                    &pos,
                    format!("environment variable `{name}` is not set"),
                ));
                ok = false;
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    ok.then_some(out)
}

/// A secret (design.md section 2): `${ENV_VAR}` (expanded), or `file:PATH` relative to `dir`
/// (read, one trailing newline dropped). Its value never appears in a diagnostic.
pub fn secret(
    text: &Located<String>,
    pos: Pos,
    dir: &std::path::Path,
    files: &Files,
    vars: &Vars,
    diags: &mut Diagnostics,
) -> Option<String> {
    if let Some(path) = text.strip_prefix("file:") {
        return match files.read_to_string(&dir.join(path.trim())) {
            Ok(value) => Some(value.strip_suffix('\n').unwrap_or(&value).to_owned()),
            Err(e) => {
                diags.push(Diagnostic::at(
                    &pos,
                    format!("cannot read secret file `{}`: {e}", path.trim()),
                ));
                None
            }
        };
    }
    if !text.contains("${") {
        diags.push(
            Diagnostic::at(
                &pos,
                "a secret is given as `${ENV_VAR}` or `file:PATH`, not written inline",
            )
            .hiding_line(),
        );
        return None;
    }
    expand(text, pos, vars, diags)
}

/// The JSON Schemas of `gateway.yaml` and of a mapping file, generated from the Rust types.
pub fn json_schemas() -> [(&'static str, serde_json::Value); 2] {
    [
        (
            "gateway.schema.json",
            serde_json::to_value(schemars::schema_for!(GatewayConfig)).unwrap_or_default(),
        ),
        (
            "mapping.schema.json",
            serde_json::to_value(schemars::schema_for!(MappingConfig)).unwrap_or_default(),
        ),
    ]
}

/// A place for things that come from no file (tests, generated configuration).
pub fn unplaced(what: &str) -> Pos {
    Pos {
        file: what.into(),
        line: 1,
        column: 1,
    }
}
