//! Problems found while loading configuration, mappings and schemas.
//!
//! Each one names a file, a 1-based line and column, and what was expected; all of them are
//! collected and reported at once (the way `rustc` and Vector do), with a snippet of the line.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The most errors a rendering shows one by one.
const MOST_SHOWN: usize = 50;

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// A second place that the message refers to (e.g. the other of two ambiguous routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related: Option<Box<Diagnostic>>,
    /// What to write instead, when it can be told (a did-you-mean).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The line holds a secret: the rendering shows the place, not the line.
    #[serde(skip)]
    pub secret: bool,
}

impl Diagnostic {
    pub fn new(
        file: impl Into<String>,
        line: u64,
        column: u64,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line: line.max(1),
            column: column.max(1),
            message: message.into(),
            related: None,
            help: None,
            secret: false,
        }
    }

    pub fn at(pos: &Pos, message: impl Into<String>) -> Self {
        Self::new(&*pos.file, pos.line, pos.column, message)
    }

    /// Marks the place as holding a secret, so that its line is never printed.
    pub fn hiding_line(mut self) -> Self {
        self.secret = true;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// With a did-you-mean when one of `known` is close to `written`.
    pub fn suggesting<'k>(self, written: &str, known: impl IntoIterator<Item = &'k str>) -> Self {
        match closest(written, known) {
            Some(near) => self.with_help(format!("did you mean `{near}`?")),
            None => self,
        }
    }

    pub fn with_related(mut self, related: Diagnostic) -> Self {
        self.related = Some(Box::new(related));
        self
    }
}

/// A problem at one place, as a function returns it; its caller adds it to the diagnostics
/// (as an error or a warning).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct Problem {
    pub at: Pos,
    pub message: String,
}

impl Problem {
    pub fn new(at: Pos, message: String) -> Self {
        Problem { at, message }
    }
}

/// A place and a message, as functions build them before `?`.
impl From<(Pos, String)> for Problem {
    fn from((at, message): (Pos, String)) -> Self {
        Problem { at, message }
    }
}

impl From<Problem> for Diagnostic {
    fn from(problem: Problem) -> Self {
        Diagnostic::at(&problem.at, problem.message)
    }
}

/// The one of `known` closest to `written`, if it is close enough to be a typo: at most a
/// third of its characters differ (case aside; a swap of two counts as one).
pub(crate) fn closest<'k>(
    written: &str,
    known: impl IntoIterator<Item = &'k str>,
) -> Option<&'k str> {
    let lower = written.to_ascii_lowercase();
    let limit = (written.chars().count() / 3).max(1);
    known
        .into_iter()
        .filter(|k| *k != written)
        .map(|k| {
            (
                strsim::damerau_levenshtein(&lower, &k.to_ascii_lowercase()),
                k,
            )
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// A place in a source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Collects diagnostics and the texts of the files they point into, for snippets.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    /// Problems that do not stop the gateway (a WSDL operation left out, say).
    pub warnings: Vec<Diagnostic>,
    sources: HashMap<String, Arc<str>>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        if !self.items.contains(&diagnostic) {
            self.items.push(diagnostic);
        }
    }

    pub fn warn(&mut self, diagnostic: Diagnostic) {
        if !self.warnings.contains(&diagnostic) {
            self.warnings.push(diagnostic);
        }
    }

    pub fn remember_source(&mut self, file: &str, text: Arc<str>) {
        self.sources.insert(file.to_owned(), text);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Renders every diagnostic with a snippet, like:
    ///
    /// ```text
    /// error: unknown field `tmeout`, expected one of ...
    ///   --> mappings/users.yaml:7:3
    ///    |
    ///  7 |   tmeout: 5s
    ///    |   ^
    /// ```
    pub fn render(&self) -> String {
        let mut out = self.render_warnings();
        let mut items: Vec<&Diagnostic> = self.items.iter().collect();
        items.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        for d in items.iter().take(MOST_SHOWN) {
            self.render_one(&mut out, d, "error");
            if let Some(related) = &d.related {
                self.render_one(&mut out, related, "note");
            }
            out.push('\n');
        }
        // A long list is cut: the first ones (by place) are what to fix first, and
        // `--format json` has them all.
        if let Some(more) = items.len().checked_sub(MOST_SHOWN).filter(|n| *n > 0) {
            out.push_str(&format!(
                "... and {more} more (all of them: --format json)\n\n"
            ));
        }
        let n = self.items.len();
        out.push_str(&format!(
            "{n} error{} found\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    }

    /// The warnings alone, each with its snippet.
    pub fn render_warnings(&self) -> String {
        let mut out = String::new();
        let mut items: Vec<&Diagnostic> = self.warnings.iter().collect();
        items.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        for d in items {
            self.render_one(&mut out, d, "warning");
            out.push('\n');
        }
        out
    }

    fn render_one(&self, out: &mut String, d: &Diagnostic, level: &str) {
        out.push_str(&format!("{level}: {}\n", d.message));
        out.push_str(&format!("  --> {}:{}:{}\n", d.file, d.line, d.column));
        let line_text = self
            .sources
            .get(&d.file)
            .filter(|_| !d.secret)
            .and_then(|text| text.lines().nth(d.line as usize - 1));
        if let Some(text) = line_text {
            let number = d.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad: String = text
                .chars()
                .take(d.column as usize - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let token = token_len(text.chars().skip(d.column as usize - 1).collect());
            let carets = "^".repeat(token);
            out.push_str(&format!(
                " {pad} |\n {number} | {text}\n {pad} | {caret_pad}{carets}\n"
            ));
            if let Some(help) = &d.help {
                out.push_str(&format!(" {pad} |\n {pad} = help: {help}\n"));
            }
        } else if let Some(help) = &d.help {
            out.push_str(&format!("   = help: {help}\n"));
        }
    }
}

/// 1-based line and column of a byte offset in `text`.
/// The length of the token that starts `rest`: a key (up to its `: `), a value, a word. A
/// `{...}` inside a value (a path template's variable) is part of it.
fn token_len(rest: Vec<char>) -> usize {
    let mut depth = 0;
    for (i, &c) in rest.iter().enumerate() {
        match c {
            '{' if i > 0 => depth += 1,
            '}' if depth > 0 => depth -= 1,
            ':' if rest.get(i + 1).is_none_or(|n| n.is_whitespace()) => return i.max(1),
            c if c.is_whitespace() || ",[]{}#\"'".contains(c) => return i.max(1),
            _ => {}
        }
    }
    rest.len().max(1)
}

pub fn line_col(text: &str, offset: usize) -> (u64, u64) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0) as u64
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 99), (2, 3));
    }

    #[test]
    fn a_long_list_is_cut_with_a_count_of_the_rest() {
        let mut diags = Diagnostics::default();
        for line in 1..=(MOST_SHOWN as u64 + 7) {
            diags.push(Diagnostic::new(
                "m.yaml",
                line,
                1,
                format!("problem {line}"),
            ));
        }
        let text = diags.render();
        assert_eq!(text.matches("error: problem").count(), MOST_SHOWN);
        assert!(text.contains("error: problem 50\n"), "{text}");
        assert!(!text.contains("problem 51\n"), "{text}");
        assert!(
            text.ends_with("... and 7 more (all of them: --format json)\n\n57 errors found\n"),
            "{text}"
        );
    }
}
