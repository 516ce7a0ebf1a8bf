//! Every problem of shape in one configuration file, found at once.
//!
//! serde stops at the first key or value of the wrong form. When it does, the file's YAML tree
//! (each node with its place) is checked against the JSON Schema generated from the same Rust
//! types, which finds all of them; then the file is mended where the mend is certain (a
//! misspelt key or value replaced by the one it was surely meant to be, an unknown key or a
//! wrong optional value blanked out) and parsed again, so that the checks which need the typed
//! file (backend names, methods, path variables) still run and report their own problems.

use std::borrow::Cow;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{JsonType, ValidationError};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::diagnostic::closest;

/// A problem of shape at a place (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ShapeProblem {
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// What was written and the names it could have been, for a did-you-mean.
    pub known: Option<(String, Vec<String>)>,
}

/// The problems of `text` against `schema`, and the text mended where each one's mend is
/// certain (None when some problem has no certain mend).
pub(super) fn check(text: &str, schema: &Value) -> (Vec<ShapeProblem>, Option<String>) {
    let Ok(root) = serde_saphyr::from_str::<Node>(text) else {
        return (Vec::new(), None); // a YAML syntax error: serde's own message says it all
    };
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return (Vec::new(), None);
    };
    let instance = root.to_json();
    let mut found = Found {
        root: &root,
        schema,
        problems: Vec::new(),
        mends: Vec::new(),
        certain: true,
    };
    for error in validator.iter_errors(&instance) {
        found.add(&error);
    }
    found.blank_emptied(&root, &mut Vec::new());
    found.problems.sort_by_key(|p| (p.line, p.column));
    let mended = if found.certain {
        mend(text, &found.mends)
    } else {
        None
    };
    (found.problems, mended)
}

/// A YAML node and where it starts.
struct Node {
    tree: Tree,
    line: u64,
    column: u64,
    /// Byte offset and length of a scalar in the text.
    bytes: Option<(usize, usize)>,
}

enum Tree {
    Scalar(Value),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Tree>::deserialize(d)?;
        let span = spanned.referenced.span();
        let bytes = match (&spanned.value, span.byte_offset(), span.byte_len()) {
            (Tree::Scalar(_), Some(offset), Some(len)) => Some((offset as usize, len as usize)),
            _ => None,
        };
        Ok(Node {
            tree: spanned.value,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
            bytes,
        })
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.into()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Scalar(v.into()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Scalar(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Scalar(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Tree::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Tree::Map(entries))
    }
}

impl Node {
    fn to_json(&self) -> Value {
        match &self.tree {
            Tree::Scalar(v) => v.clone(),
            Tree::List(items) => items.iter().map(Node::to_json).collect(),
            Tree::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.key_text().into_owned(), v.to_json()))
                .collect::<Map<_, _>>()
                .into(),
        }
    }

    fn key_text(&self) -> Cow<'_, str> {
        match &self.tree {
            Tree::Scalar(Value::String(s)) => Cow::Borrowed(s),
            Tree::Scalar(v) => Cow::Owned(v.to_string()),
            _ => Cow::Borrowed("?"),
        }
    }

    /// The entry `name` of a map: its key node and its value node.
    fn entry(&self, name: &str) -> Option<&(Node, Node)> {
        match &self.tree {
            Tree::Map(entries) => entries.iter().find(|(k, _)| k.key_text() == name),
            _ => None,
        }
    }

    fn child(&self, segment: &LocationSegment) -> Option<&Node> {
        match (segment, &self.tree) {
            (LocationSegment::Property(name), _) => self.entry(name).map(|(_, v)| v),
            (LocationSegment::Index(i), Tree::List(items)) => items.get(*i),
            _ => None,
        }
    }
}

/// A change to the text that lets it parse: replace a scalar, or blank out the lines of an
/// entry.
enum Mend {
    Replace { bytes: (usize, usize), with: String },
    Blank { line: u64, column: u64 },
}

struct Found<'a> {
    root: &'a Node,
    schema: &'a Value,
    problems: Vec<ShapeProblem>,
    mends: Vec<Mend>,
    certain: bool,
}

impl Found<'_> {
    fn add(&mut self, error: &ValidationError) {
        let path: Vec<LocationSegment> = error.instance_path().segments().collect();
        let Some(node) = path.iter().try_fold(self.root, |n, s| n.child(s)) else {
            return;
        };
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = property_names(self.schema, &path);
                for name in unexpected {
                    let Some((key_node, _)) = node.entry(name) else {
                        continue;
                    };
                    let list = known.join(", ");
                    let message = format!("unknown field `{name}`, expected one of {list}");
                    let near = closest(name, known.iter().map(String::as_str));
                    match (near, key_node.bytes) {
                        (Some(near), Some(bytes)) => self.mends.push(Mend::Replace {
                            bytes,
                            with: near.to_owned(),
                        }),
                        _ => self.mends.push(Mend::Blank {
                            line: key_node.line,
                            column: key_node.column,
                        }),
                    }
                    self.push(key_node, message, Some((name.clone(), known.clone())));
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                self.certain = false;
                self.push(node, format!("missing field `{name}`"), None);
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                self.add_alternatives(error, node, &path, context);
            }
            ValidationErrorKind::Enum { options } => {
                let known: Vec<String> = match &**options {
                    Value::Array(values) => values.iter().map(value_text).collect(),
                    _ => Vec::new(),
                };
                self.unknown_value(node, &path, known);
            }
            ValidationErrorKind::Constant { expected_value } => {
                self.unknown_value(node, &path, vec![value_text(expected_value)]);
            }
            kind => match expected_forms(kind, node) {
                Some(forms) if forms.is_empty() => {} // text written as a plain scalar
                Some(forms) => self.wrong(node, &path, &forms),
                None => {
                    self.blank_value(&path);
                    self.push(node, error.to_string(), None);
                }
            },
        }
    }

    /// A value that fits none of the forms a key takes: when every form failed right at the
    /// value, one message lists them; otherwise the problems of the form that came closest
    /// (the deepest) are the ones reported.
    fn add_alternatives(
        &mut self,
        error: &ValidationError,
        node: &Node,
        path: &[LocationSegment],
        context: &[Vec<ValidationError<'static>>],
    ) {
        let depth = error.instance_path().segments().count();
        let deepest = |errors: &Vec<ValidationError>| {
            (errors.iter())
                .map(|e| e.instance_path().segments().count())
                .max()
                .unwrap_or(0)
        };
        let all_here = context.iter().all(|errors| deepest(errors) == depth);
        if !all_here {
            let best = context
                .iter()
                .max_by_key(|errors| (deepest(errors), usize::MAX - errors.len()));
            for e in best.into_iter().flatten() {
                self.add(e);
            }
            return;
        }
        let constants: Vec<String> = (context.iter().flatten())
            .filter_map(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value } => {
                    Some(value_text(expected_value))
                }
                ValidationErrorKind::Enum { options } => Some(
                    options
                        .as_array()?
                        .iter()
                        .map(value_text)
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                _ => None,
            })
            .collect();
        if !constants.is_empty() && matches!(node.tree, Tree::Scalar(Value::String(_))) {
            return self.unknown_value(node, path, constants);
        }
        let mut types: Vec<JsonType> = (context.iter().flatten())
            .flat_map(|e| match e.kind() {
                ValidationErrorKind::Type { kind } => types_of(kind),
                _ => Vec::new(),
            })
            .filter(|t| *t != JsonType::Null)
            .collect();
        types.dedup();
        if accepts_as_text(&types, node) {
            return;
        }
        let forms: Vec<Form> = types.iter().map(|t| Form::of(*t)).collect();
        self.wrong(node, path, &forms);
    }

    fn unknown_value(&mut self, node: &Node, path: &[LocationSegment], known: Vec<String>) {
        let written = node.key_text().into_owned();
        let near = closest(&written, known.iter().map(String::as_str));
        match (near, node.bytes) {
            (Some(near), Some(bytes)) => self.mends.push(Mend::Replace {
                bytes,
                with: near.to_owned(),
            }),
            _ => self.blank_value(path),
        }
        let list = known.join(", ");
        let message = format!("unknown variant `{written}`, expected one of {list}");
        self.push(node, message, Some((written, known)));
    }

    /// A value of the wrong form. One value where a list is expected is surely meant as a
    /// list of one.
    fn wrong(&mut self, node: &Node, path: &[LocationSegment], forms: &[Form]) {
        match (forms, &node.tree, node.bytes) {
            ([Form::List], Tree::Scalar(Value::String(text)), Some(bytes)) => {
                let with = format!("[{text}]");
                self.mends.push(Mend::Replace { bytes, with });
            }
            _ => self.blank_value(path),
        }
        let (key, item) = name_of(path);
        self.push(node, describe_any(key, item, forms), None);
    }

    /// Blanks out the entry holding the value at `path`, when the key is optional.
    fn blank_value(&mut self, path: &[LocationSegment]) {
        let Some((LocationSegment::Property(name), parent_path)) = path.split_last() else {
            self.certain = false;
            return;
        };
        let parent = parent_path.iter().try_fold(self.root, |n, s| n.child(s));
        let required = required_names(self.schema, parent_path);
        match parent.and_then(|p| p.entry(name)) {
            Some((key, _)) if !required.iter().any(|r| r == name) => self.mends.push(Mend::Blank {
                line: key.line,
                column: key.column,
            }),
            _ => self.certain = false,
        }
    }

    /// A map whose every entry is blanked would be left as null: its own entry is blanked
    /// too (an empty optional section is the same as none). Whether `node` is such a map.
    fn blank_emptied<'n>(&mut self, node: &'n Node, path: &mut Vec<LocationSegment<'n>>) -> bool {
        let blanked = |found: &Self, key: &Node| {
            (found.mends.iter())
                .any(|m| matches!(m, Mend::Blank { line, column } if (*line, *column) == (key.line, key.column)))
        };
        match &node.tree {
            Tree::Map(entries) => {
                for (key, value) in entries {
                    path.push(LocationSegment::Property(key.key_text()));
                    if self.blank_emptied(value, path) {
                        self.blank_value(path);
                    }
                    path.pop();
                }
                !entries.is_empty() && entries.iter().all(|(key, _)| blanked(self, key))
            }
            Tree::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(LocationSegment::Index(i));
                    if self.blank_emptied(item, path) {
                        self.certain = false; // an item cannot be blanked out of its list
                    }
                    path.pop();
                }
                false
            }
            Tree::Scalar(_) => false,
        }
    }

    fn push(&mut self, node: &Node, message: String, known: Option<(String, Vec<String>)>) {
        let problem = ShapeProblem {
            line: node.line,
            column: node.column,
            message,
            known,
        };
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }
}

/// The key a value belongs to, and whether the value is an item of that key's list.
fn name_of<'p>(path: &'p [LocationSegment]) -> (&'p str, bool) {
    let mut item = false;
    for segment in path.iter().rev() {
        match segment {
            LocationSegment::Property(name) => return (name, item),
            LocationSegment::Index(_) => item = true,
        }
    }
    ("", item)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn types_of(kind: &TypeKind) -> Vec<JsonType> {
    match kind {
        TypeKind::Single(t) => vec![*t],
        TypeKind::Multiple(set) => set.iter().collect(),
    }
}

/// A YAML scalar such as `8080` or `true` is text to a key that takes text.
fn accepts_as_text(types: &[JsonType], node: &Node) -> bool {
    types.contains(&JsonType::String) && matches!(node.tree, Tree::Scalar(_))
}

/// The forms a value must take, for errors of type and range (none: the value is fine).
fn expected_forms(kind: &ValidationErrorKind, node: &Node) -> Option<Vec<Form>> {
    Some(match kind {
        ValidationErrorKind::Type { kind } => {
            let types: Vec<JsonType> = (types_of(kind).into_iter())
                .filter(|t| *t != JsonType::Null)
                .collect();
            if accepts_as_text(&types, node) {
                Vec::new()
            } else {
                types.into_iter().map(Form::of).collect()
            }
        }
        ValidationErrorKind::Minimum { limit } if limit.as_u64() == Some(0) => vec![Form::Unsigned],
        ValidationErrorKind::Minimum { limit } => vec![Form::AtLeast(limit.to_string())],
        ValidationErrorKind::Maximum { limit } => vec![Form::AtMost(limit.to_string())],
        _ => return None,
    })
}

/// What a key takes, in the words of its diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Form {
    List,
    Text,
    Map,
    Bool,
    Unsigned,
    Integer,
    Number,
    AtLeast(String),
    AtMost(String),
}

impl Form {
    fn of(t: JsonType) -> Form {
        match t {
            JsonType::Array => Form::List,
            JsonType::Object => Form::Map,
            JsonType::Boolean => Form::Bool,
            JsonType::Integer => Form::Integer,
            JsonType::Number => Form::Number,
            JsonType::String | JsonType::Null => Form::Text,
        }
    }

    fn words(&self, key: &str) -> String {
        match self {
            Form::List => {
                let (of, example) = match key {
                    "services" => (" of service names", "[shop.v1.Shop]"),
                    "schemas" => (" of .proto files", "[shop/v1/shop.proto]"),
                    "mappings" => (" of mapping files or directories", "[mappings]"),
                    "any_of" => (" of authenticator names", "[keys]"),
                    "methods" | "public" => (" of method names", "[GetItem]"),
                    "allow" | "deny" => (" of addresses or CIDR blocks", "[10.0.0.0/8]"),
                    "allow_origins" => (" of origins", "[https://app.example]"),
                    "include" => (" of directories", "[schemas]"),
                    _ => ("", "[a, b]"),
                };
                format!("a list{of}, e.g. `{example}`")
            }
            Form::Text => "a single value (text), not a list or a map".to_owned(),
            Form::Map => "a map of `name: value` entries".to_owned(),
            Form::Bool => "`true` or `false`".to_owned(),
            Form::Unsigned => "a whole number, 0 or more".to_owned(),
            Form::Integer => "a whole number".to_owned(),
            Form::Number => "a number".to_owned(),
            Form::AtLeast(limit) => format!("at least {limit}"),
            Form::AtMost(limit) => format!("at most {limit}"),
        }
    }
}

/// "`key` must be ...", or "each item of `key` must be ...".
pub(super) fn describe(key: &str, item: bool, form: &Form) -> String {
    describe_any(key, item, std::slice::from_ref(form))
}

fn describe_any(key: &str, item: bool, forms: &[Form]) -> String {
    let words: Vec<String> = forms.iter().map(|f| f.words(key)).collect();
    let form = match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "something else".to_owned(),
    };
    match (key, item) {
        ("", _) => format!("the file must be {form}"),
        (_, true) => format!("each item of `{key}` must be {form}"),
        (_, false) => format!("`{key}` must be {form}"),
    }
}

/// The schema of the value at `path`, following `$ref`s, and into the non-null form of an
/// optional value.
fn schema_at<'s>(root: &'s Value, path: &[LocationSegment]) -> Option<&'s Value> {
    let resolve = |mut s: &'s Value| -> Option<&'s Value> {
        for _ in 0..16 {
            if let Some(target) = s.get("$ref").and_then(Value::as_str) {
                let name = target.strip_prefix("#/$defs/")?;
                s = root.get("$defs")?.get(name)?;
            } else if let Some(forms) = s.get("anyOf").and_then(Value::as_array) {
                s = forms
                    .iter()
                    .find(|f| f.get("type") != Some(&"null".into()))?;
            } else {
                return Some(s);
            }
        }
        None
    };
    let mut here = resolve(root)?;
    for segment in path {
        here = resolve(match segment {
            LocationSegment::Property(name) => (here.get("properties"))
                .and_then(|p| p.get(name.as_ref()))
                .or_else(|| here.get("additionalProperties"))?,
            LocationSegment::Index(_) => here.get("items")?,
        })?;
    }
    Some(here)
}

fn property_names(root: &Value, path: &[LocationSegment]) -> Vec<String> {
    (schema_at(root, path).and_then(|s| s.get("properties")?.as_object()))
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn required_names(root: &Value, path: &[LocationSegment]) -> Vec<String> {
    (schema_at(root, path).and_then(|s| s.get("required")?.as_array()))
        .map(|r| r.iter().map(value_text).collect())
        .unwrap_or_default()
}

/// The text with every mend made. A blanked entry is its key's line and every more indented
/// line after it; it is only blanked when the key starts its line (block style), else there
/// is no mend.
fn mend(text: &str, mends: &[Mend]) -> Option<String> {
    let mut replaced = text.to_owned();
    let mut replacements: Vec<(usize, usize, &str)> = mends
        .iter()
        .filter_map(|m| match m {
            Mend::Replace { bytes, with } => Some((bytes.0, bytes.1, with.as_str())),
            Mend::Blank { .. } => None,
        })
        .collect();
    // From the end, so that earlier offsets stay right; lines and columns before each
    // replacement do not move, which is what the blanking below relies on.
    replacements.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (offset, len, with) in replacements {
        if replaced.is_char_boundary(offset) && replaced.is_char_boundary(offset + len) {
            replaced.replace_range(offset..offset + len, with);
        }
    }
    let mut lines: Vec<String> = replaced.lines().map(str::to_owned).collect();
    for m in mends {
        let Mend::Blank { line, column } = m else {
            continue;
        };
        let first = (*line as usize).saturating_sub(1);
        let indent = (*column as usize).saturating_sub(1);
        let key_line = lines.get(first)?;
        if !key_line.chars().take(indent).all(|c| c == ' ') {
            return None;
        }
        lines[first].clear();
        for later in lines.iter_mut().skip(first + 1) {
            let trimmed = later.trim_start();
            let own = later.len() - trimmed.len();
            // A block list may sit at its key's own indent.
            let item_of_key = own == indent && trimmed.starts_with('-');
            if !trimmed.is_empty() && !trimmed.starts_with('#') && own <= indent && !item_of_key {
                break;
            }
            later.clear();
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GatewayConfig, MappingConfig};

    fn schema<T: schemars::JsonSchema>() -> Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap()
    }

    fn messages(problems: &[ShapeProblem]) -> Vec<String> {
        (problems.iter())
            .map(|p| format!("{}:{} {}", p.line, p.column, p.message))
            .collect()
    }

    #[test]
    fn every_problem_of_a_file_is_found_and_mended() {
        let text = "version: 1
listen: [127.0.0.1:1]
backends:
  users:
    protocol: grcp
    adress: http://127.0.0.1:9
    timeout: 5s
limits:
  max_connections: -3
";
        let (problems, mended) = check(text, &schema::<GatewayConfig>());
        assert_eq!(
            messages(&problems),
            [
                "2:9 `listen` must be a single value (text), not a list or a map",
                "5:15 unknown variant `grcp`, expected one of grpc, rest, graphql, soap",
                "6:5 unknown field `adress`, expected one of address, connect_timeout, \
                 connections, graphql_schema, openapi, protocol, rate_limit, soap, timeout, tls",
                "9:20 `max_connections` must be a whole number, 0 or more",
            ]
        );
        // The misspelt names become what they were meant to be; the wrong values go, and so
        // does `limits`, left empty; every other line keeps its place.
        let mended = mended.unwrap();
        assert_eq!(
            mended,
            "version: 1\n\nbackends:\n  users:\n    protocol: grpc\n    \
             address: http://127.0.0.1:9\n    timeout: 5s\n\n\n"
        );
        assert!(serde_saphyr::from_str::<GatewayConfig>(&mended).is_ok());
    }

    #[test]
    fn one_name_where_a_list_is_expected_is_a_list_of_one() {
        let text = "version: 1\nfrontend: rest\nservices: demo.v1.Users\n";
        let (problems, mended) = check(text, &schema::<MappingConfig>());
        assert_eq!(
            messages(&problems),
            ["3:11 `services` must be a list of service names, e.g. `[shop.v1.Shop]`"]
        );
        assert_eq!(
            mended.unwrap(),
            "version: 1\nfrontend: rest\nservices: [demo.v1.Users]\n"
        );
    }

    #[test]
    fn a_missing_required_key_has_no_mend() {
        let text = "version: 1\nservices: [a]\n";
        let (problems, mended) = check(text, &schema::<MappingConfig>());
        assert_eq!(messages(&problems), ["1:1 missing field `frontend`"]);
        assert_eq!(mended, None);
    }

    #[test]
    fn plain_scalars_are_text_to_keys_that_take_text() {
        // `8080` and `true` are YAML numbers and booleans, and serde reads them as text.
        let text = "version: 1\nfrontend: rest\nservices: [8080, true]\nbackend:\n  use: 12\n";
        let (problems, _) = check(text, &schema::<MappingConfig>());
        assert_eq!(messages(&problems), Vec::<String>::new());
    }

    /// The schema and serde agree: no file that serde reads has a problem of shape.
    #[test]
    fn the_files_serde_reads_have_no_problem_of_shape() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let demo = root.join("examples/demo");
        let mut texts = vec![std::fs::read_to_string(demo.join("gateway.yaml")).unwrap()];
        for entry in std::fs::read_dir(demo.join("mappings")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                texts.push(std::fs::read_to_string(path).unwrap());
            }
        }
        for doc in ["README.md", "docs/mapping-reference.md", "docs/tutorial.md"] {
            let Ok(text) = std::fs::read_to_string(root.join(doc)) else {
                continue;
            };
            for block in text.split("```yaml\n").skip(1) {
                let block = block.split("```").next().unwrap_or_default();
                if block.starts_with("version: 1") {
                    texts.push(block.to_owned());
                }
            }
        }
        let (gateway, mapping) = (schema::<GatewayConfig>(), schema::<MappingConfig>());
        for text in &texts {
            let schema = if serde_saphyr::from_str::<GatewayConfig>(text).is_ok() {
                &gateway
            } else if serde_saphyr::from_str::<MappingConfig>(text).is_ok() {
                &mapping
            } else {
                continue;
            };
            let (problems, _) = check(text, schema);
            assert_eq!(messages(&problems), Vec::<String>::new(), "{text}");
        }
        assert!(texts.len() >= 8);
    }
}
