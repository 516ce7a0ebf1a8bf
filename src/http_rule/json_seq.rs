//! Splits a streamed request body into JSON values as the bytes arrive: either one JSON array
//! (`[{...},{...}]`) or a sequence of values separated by whitespace (NDJSON).
//!
//! Hand-written: serde_json's `StreamDeserializer` reads whitespace-separated values but not
//! the elements of an array that is still arriving, and client-streaming calls must start
//! before the whole body is there.

use bytes::{Buf, Bytes, BytesMut};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Array,
    Sequence,
}

#[derive(Debug, Default)]
pub(crate) struct JsonSplitter {
    buf: BytesMut,
    /// Next byte to scan, relative to `buf`.
    pos: usize,
    mode: Option<Mode>,
    /// Where the current value starts in `buf`, once one has started.
    start: Option<usize>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    closed: bool,
    max_value: usize,
}

/// Why a body is not a JSON sequence or array of messages.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FramingError {
    #[error("unexpected data after the closing `]`")]
    AfterArray,
    #[error("a message is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the JSON array is not closed")]
    Unclosed,
    #[error("the body ends inside a JSON value")]
    Truncated,
}

impl JsonSplitter {
    /// `max_value`: the largest single value accepted, in bytes.
    pub(crate) fn new(max_value: usize) -> Self {
        JsonSplitter {
            max_value,
            ..Default::default()
        }
    }

    /// Adds bytes; returns the values they complete.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, FramingError> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while self.pos < self.buf.len() {
            let b = self.buf[self.pos];
            if self.closed {
                if !b.is_ascii_whitespace() {
                    return Err(FramingError::AfterArray);
                }
            } else if self.start.is_none() {
                self.between_values(b)?;
            } else if let Some(value) = self.in_value(b) {
                out.push(value);
                continue;
            }
            self.pos += 1;
        }
        if self.start.is_none() {
            self.buf.advance(self.pos);
            self.pos = 0;
        } else if self.pos - self.start.unwrap_or(0) > self.max_value {
            return Err(FramingError::TooLarge(self.max_value));
        }
        Ok(out)
    }

    /// Ends the input; returns a last value that had no terminator.
    pub(crate) fn finish(&mut self) -> Result<Option<Bytes>, FramingError> {
        match (self.mode, self.start) {
            (Some(Mode::Array), _) if !self.closed => Err(FramingError::Unclosed),
            (_, Some(start)) if self.depth == 0 && !self.in_string => {
                Ok(Some(self.buf.split_to(self.pos).split_off(start).freeze()))
            }
            (_, Some(_)) => Err(FramingError::Truncated),
            _ => Ok(None),
        }
    }

    fn between_values(&mut self, b: u8) -> Result<(), FramingError> {
        if b.is_ascii_whitespace() {
            return Ok(());
        }
        match (self.mode, b) {
            (None, b'[') => self.mode = Some(Mode::Array),
            (Some(Mode::Array), b',') => {}
            (Some(Mode::Array), b']') => self.closed = true,
            _ => {
                self.mode.get_or_insert(Mode::Sequence);
                self.start = Some(self.pos);
                self.depth = 0;
                self.scan_first(b);
            }
        }
        Ok(())
    }

    fn scan_first(&mut self, b: u8) {
        match b {
            b'{' | b'[' => self.depth = 1,
            b'"' => self.in_string = true,
            _ => {}
        }
    }

    /// Scans one byte inside a value; returns the value when this byte completes it.
    fn in_value(&mut self, b: u8) -> Option<Bytes> {
        let start = self.start.expect("called inside a value");
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.depth == 0 {
                    return Some(self.take(start, self.pos + 1));
                }
            }
            return None;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' if self.depth > 0 => {
                self.depth -= 1;
                if self.depth == 0 {
                    return Some(self.take(start, self.pos + 1));
                }
            }
            // A bare scalar (number, true, null) ends at a separator.
            b if self.depth == 0 && (b.is_ascii_whitespace() || b == b',' || b == b']') => {
                return Some(self.take(start, self.pos));
            }
            _ => {}
        }
        None
    }

    fn take(&mut self, start: usize, end: usize) -> Bytes {
        let value = self.buf.split_to(end).split_off(start).freeze();
        self.pos = 0;
        self.start = None;
        self.depth = 0;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&str]) -> Result<Vec<String>, FramingError> {
        let mut s = JsonSplitter::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.push(c.as_bytes())?);
        }
        out.extend(s.finish()?);
        Ok(out
            .into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect())
    }

    #[test]
    fn ndjson_across_chunks() {
        assert_eq!(
            split(&["{\"a\":1}\n{\"b\"", ":\"}{\"}\n", "{\"c\":[1,{}]}"]).unwrap(),
            vec!["{\"a\":1}", "{\"b\":\"}{\"}", "{\"c\":[1,{}]}"]
        );
    }

    #[test]
    fn arrays_across_chunks() {
        assert_eq!(
            split(&[" [ {\"a\":\"]\\\"\"}", " , {\"b\":2}", "]  "]).unwrap(),
            vec!["{\"a\":\"]\\\"\"}", "{\"b\":2}"]
        );
        assert_eq!(split(&["[]"]).unwrap(), Vec::<String>::new());
        assert_eq!(
            split(&["[1, \"x\" ,true]"]).unwrap(),
            vec!["1", "\"x\"", "true"]
        );
    }

    #[test]
    fn errors() {
        assert!(split(&["[{\"a\":1}"]).is_err());
        assert!(split(&["[{}] x"]).is_err());
        assert!(split(&["{\"a\":"]).is_err());
        let mut s = JsonSplitter::new(4);
        assert!(s.push(b"{\"abcdef").is_err());
    }
}
