//! Patterns a whole value must match: the `pattern` facets of XSD and the `pattern` rules of a
//! mapping's validation read them alike, anchored at both ends.

/// A compiled pattern, with its text as written (for messages).
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: regex::Regex,
    written: String,
}

impl Pattern {
    pub fn new(written: &str) -> Result<Pattern, regex::Error> {
        Ok(Pattern {
            regex: regex::Regex::new(&format!("^(?:{written})$"))?,
            written: written.to_owned(),
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.written)
    }
}
