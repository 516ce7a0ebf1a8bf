//! Path templates of `google.api.http` (grammar in `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! Hand-written: the grammar is tiny and no maintained crate parses it; the gateway also needs
//! the flattened form below (variables as ranges over segments) for its trie.

use std::fmt;

/// One segment of a flattened template.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    Single,
    /// `**`: zero or more segments; only last.
    Multi,
}

/// A variable: the field it fills and the segments it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub field_path: Vec<String>,
    pub start: usize,
    /// Exclusive end; `None` when the variable ends with `**` and takes the rest of the path.
    pub end: Option<usize>,
}

impl Variable {
    /// A variable of exactly one `*` segment is fully unescaped; others keep reserved
    /// characters escaped (RFC 6570 `{var}` vs `{+var}`).
    pub fn is_single_segment(&self) -> bool {
        self.end == Some(self.start + 1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    pub segments: Vec<Segment>,
    pub variables: Vec<Variable>,
    pub verb: Option<String>,
}

/// A grammar error, with the byte offset in the template where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        while i < self.segments.len() {
            f.write_str("/")?;
            match self.variables.iter().find(|v| v.start == i) {
                Some(var) => {
                    let end = var.end.unwrap_or(self.segments.len());
                    let inner: Vec<String> = self.segments[i..end].iter().map(seg_text).collect();
                    write!(f, "{{{}={}}}", var.field_path.join("."), inner.join("/"))?;
                    i = end;
                }
                None => {
                    f.write_str(&seg_text(&self.segments[i]))?;
                    i += 1;
                }
            }
        }
        if let Some(verb) = &self.verb {
            write!(f, ":{verb}")?;
        }
        Ok(())
    }
}

fn seg_text(seg: &Segment) -> String {
    match seg {
        Segment::Literal(l) => l.clone(),
        Segment::Single => "*".into(),
        Segment::Multi => "**".into(),
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
}

pub fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
    let mut p = Parser {
        text,
        pos: 0,
        segments: Vec::new(),
        variables: Vec::new(),
    };
    if !text.starts_with('/') {
        return Err(p.error("a path template must start with `/`"));
    }
    p.pos = 1;
    p.segments(false)?;
    // The verb is all that follows the `:` (it may itself contain `:`).
    let verb = if p.peek() == Some(':') {
        let verb = &text[p.pos + 1..];
        if verb.is_empty() || verb.contains(['/', '{', '}', '*']) {
            p.pos += 1;
            return Err(p.error("expected a custom verb after `:`"));
        }
        p.pos = text.len();
        Some(verb.to_owned())
    } else {
        None
    };
    if p.pos != text.len() {
        return Err(p.error(&format!("unexpected `{}`", &text[p.pos..])));
    }
    if let Some(i) = p
        .segments
        .iter()
        .position(|s| *s == Segment::Multi)
        .filter(|i| *i + 1 != p.segments.len())
    {
        return Err(TemplateError {
            offset: 0,
            message: format!("`**` must be the last segment (it is segment {})", i + 1),
        });
    }
    Ok(PathTemplate {
        segments: p.segments,
        variables: p.variables,
        verb,
    })
}

impl Parser<'_> {
    fn error(&self, message: &str) -> TemplateError {
        TemplateError {
            offset: self.pos,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn segments(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        loop {
            self.segment(in_variable)?;
            if self.peek() == Some('/') {
                self.pos += 1;
            } else {
                return Ok(());
            }
        }
    }

    fn segment(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        let rest = &self.text[self.pos..];
        if rest.starts_with("**") {
            self.pos += 2;
            self.segments.push(Segment::Multi);
        } else if rest.starts_with('*') {
            self.pos += 1;
            self.segments.push(Segment::Single);
        } else if rest.starts_with('{') {
            if in_variable {
                return Err(self.error("variables cannot be nested"));
            }
            self.variable()?;
        } else {
            let literal = self.literal()?;
            self.segments.push(Segment::Literal(literal));
        }
        Ok(())
    }

    fn variable(&mut self) -> Result<(), TemplateError> {
        self.pos += 1; // `{`
        let mut field_path = Vec::new();
        loop {
            let start = self.pos;
            let ident_len = self.text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(self.text.len() - start);
            if ident_len == 0 {
                return Err(self.error("expected a field name"));
            }
            field_path.push(self.text[start..start + ident_len].to_string());
            self.pos += ident_len;
            if self.peek() == Some('.') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let start = self.segments.len();
        if self.peek() == Some('=') {
            self.pos += 1;
            self.segments(true)?;
        } else {
            self.segments.push(Segment::Single);
        }
        if self.peek() != Some('}') {
            return Err(self.error("expected `}` to close the variable"));
        }
        self.pos += 1;
        if self.variables.iter().any(|v| v.field_path == field_path) {
            return Err(self.error(&format!(
                "field `{}` is bound twice in the template",
                field_path.join(".")
            )));
        }
        let end = match self.segments.last() {
            Some(Segment::Multi) => None,
            _ => Some(self.segments.len()),
        };
        self.variables.push(Variable {
            field_path,
            start,
            end,
        });
        Ok(())
    }

    /// A literal runs to the next `/`, `}`, `{`, or (outside a variable, at the end) `:verb`.
    fn literal(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        let rest = &self.text[start..];
        let mut len = rest.find(['/', '{', '}', '=']).unwrap_or(rest.len());
        // In the last segment, a `:` starts the verb.
        if start + len == self.text.len() {
            if let Some(colon) = rest[..len].find(':') {
                len = colon;
            }
        }
        if len == 0 {
            return Err(self.error("expected a path segment"));
        }
        let literal = &rest[..len];
        if literal.contains('*') {
            return Err(self.error("`*` must be a whole segment"));
        }
        self.pos += len;
        Ok(literal.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.into())
    }

    #[test]
    fn literals_and_variables() {
        let t = parse("/v1/users/{id}").unwrap();
        assert_eq!(t.segments, vec![lit("v1"), lit("users"), Segment::Single]);
        assert_eq!(
            t.variables,
            vec![Variable {
                field_path: vec!["id".into()],
                start: 2,
                end: Some(3)
            }]
        );
        assert!(t.variables[0].is_single_segment());
        assert_eq!(t.verb, None);
    }

    #[test]
    fn nested_field_paths_and_multi_segment_variables() {
        let t = parse("/v1/{book.name=shelves/*/books/*}").unwrap();
        assert_eq!(
            t.segments,
            vec![
                lit("v1"),
                lit("shelves"),
                Segment::Single,
                lit("books"),
                Segment::Single
            ]
        );
        assert_eq!(t.variables[0].field_path, vec!["book", "name"]);
        assert_eq!((t.variables[0].start, t.variables[0].end), (1, Some(5)));
        assert!(!t.variables[0].is_single_segment());
    }

    #[test]
    fn double_wildcard_takes_the_rest() {
        let t = parse("/v1/{name=files/**}").unwrap();
        assert_eq!(t.variables[0].end, None);
        let t = parse("/v1/**").unwrap();
        assert_eq!(t.segments.last(), Some(&Segment::Multi));
    }

    #[test]
    fn custom_verbs() {
        let t = parse("/v1/{name=operations/*}:cancel").unwrap();
        assert_eq!(t.verb.as_deref(), Some("cancel"));
        let t = parse("/v1/users:batchGet").unwrap();
        assert_eq!(t.segments, vec![lit("v1"), lit("users")]);
        assert_eq!(t.verb.as_deref(), Some("batchGet"));
        let t = parse("/v1/{name=**}:undelete").unwrap();
        assert_eq!(t.verb.as_deref(), Some("undelete"));
        let t = parse("/v1/{uuid}:custom:custom").unwrap();
        assert_eq!(t.verb.as_deref(), Some("custom:custom"));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "/v1/users/{id=*}",
            "/v1/{name=shelves/*/books/*}:get",
            "/v1/{path=**}",
            "/a/*/b/**",
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn grammar_errors() {
        let cases = [
            ("v1/users", "a path template must start with `/`"),
            ("/v1/{a={b}}", "variables cannot be nested"),
            (
                "/v1/**/x",
                "`**` must be the last segment (it is segment 2)",
            ),
            ("/v1/{}", "expected a field name"),
            ("/v1/{id", "expected `}` to close the variable"),
            ("/v1/a*b", "`*` must be a whole segment"),
            ("/v1//x", "expected a path segment"),
            ("/v1/{id}/{id}", "field `id` is bound twice in the template"),
            ("/v1/x:", "expected a custom verb after `:`"),
        ];
        for (text, expected) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.message, expected, "for {text}");
        }
    }
}
