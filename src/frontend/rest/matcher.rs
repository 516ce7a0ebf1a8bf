//! The route trie: matches a request path against every path template in time proportional to
//! the path's length, never by scanning the routes.
//!
//! Precedence (design.md section 3): a literal segment beats `*`, which beats `**`; a match
//! must consume the whole path. Two templates that flatten to the same segments, verb and
//! method match the same requests and are refused at load time.

use std::collections::{BTreeSet, HashMap};

use http::Method;

use crate::http_rule::template::{PathTemplate, Segment};

type Ends = HashMap<Option<String>, HashMap<Method, usize>>;

#[derive(Default)]
struct Node {
    literals: HashMap<String, Node>,
    single: Option<Box<Node>>,
    /// Routes whose template ends here.
    ends: Ends,
    /// Routes whose template ends here with `**` (zero or more further segments).
    multi_ends: Ends,
}

/// Maps (method, path) to an index into the caller's route list.
#[derive(Default)]
pub struct Matcher {
    root: Node,
    methods: BTreeSet<String>,
    /// The most `:` any registered verb contains, plus one; 0 when there are no verbs. Bounds
    /// the ways a request path is split, so a path full of colons costs no more than others.
    verb_splits: usize,
}

/// The outcome of a lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'p> {
    Found {
        route: usize,
        /// The raw (still escaped) path segments, for extracting variables.
        segments: Vec<&'p str>,
    },
    /// The path matches, but not with this method; the methods it does match.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

impl Matcher {
    /// Adds a route. On a conflict returns the index of the route that already matches exactly
    /// the same requests.
    pub fn insert(
        &mut self,
        method: &Method,
        template: &PathTemplate,
        route: usize,
    ) -> Result<(), usize> {
        let mut node = &mut self.root;
        let mut multi = false;
        for segment in &template.segments {
            match segment {
                Segment::Literal(l) => node = node.literals.entry(l.clone()).or_default(),
                Segment::Single => node = node.single.get_or_insert_with(Default::default),
                Segment::Multi => multi = true,
            }
        }
        let ends = if multi {
            &mut node.multi_ends
        } else {
            &mut node.ends
        };
        let by_method = ends.entry(template.verb.clone()).or_default();
        if let Some(existing) = by_method.get(method) {
            return Err(*existing);
        }
        by_method.insert(method.clone(), route);
        self.methods.insert(method.as_str().to_owned());
        if let Some(verb) = &template.verb {
            self.verb_splits = self.verb_splits.max(verb.matches(':').count() + 1);
        }
        Ok(())
    }

    /// Finds the route for `method` and `path` (the path without its query).
    pub fn lookup<'p>(&self, method: &Method, path: &'p str) -> Lookup<'p> {
        let Some(stripped) = path.strip_prefix('/') else {
            return Lookup::NotFound;
        };
        let segments: Vec<&str> = stripped.split('/').collect();
        let readings = self.candidates(segments);
        // The other methods a reading of the path matches.
        let others = |(segs, verb): &(Vec<&str>, Option<&str>)| -> Vec<Method> {
            (self.methods.iter())
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .filter(|m| m != method && search(&self.root, segs, 0, *verb, m).is_some())
                .collect()
        };
        for reading in &readings {
            if let Some(route) = search(&self.root, &reading.0, 0, reading.1, method) {
                let segments = reading.0.clone();
                return Lookup::Found { route, segments };
            }
            // A verb that a route registers for this path is split off for every method (as
            // the reference transcoder does): `GET /v1/shelves/1:reindex` next to `POST
            // /v1/{name=shelves/*}:reindex` is a 405, not a plain route with the verb kept.
            if reading.1.is_some() {
                let allowed = others(reading);
                if !allowed.is_empty() {
                    return Lookup::MethodNotAllowed(allowed);
                }
            }
        }
        let allowed = readings.last().map(others).unwrap_or_default();
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::MethodNotAllowed(allowed)
        }
    }

    /// The ways to read a path: with a custom verb split off its last segment at one of its
    /// last `:`s (the longest verb first, as verbs may contain `:`), and as it is.
    fn candidates<'p>(&self, segments: Vec<&'p str>) -> Vec<(Vec<&'p str>, Option<&'p str>)> {
        let last = segments.last().copied().unwrap_or_default();
        let mut colons: Vec<usize> = last
            .rmatch_indices(':')
            .take(self.verb_splits)
            .map(|(i, _)| i)
            .collect();
        colons.reverse();
        let mut out = Vec::with_capacity(colons.len() + 1);
        for colon in colons {
            let mut with_verb = segments.clone();
            *with_verb.last_mut().expect("non-empty") = &last[..colon];
            out.push((with_verb, Some(&last[colon + 1..])));
        }
        out.push((segments, None));
        out
    }
}

fn search(
    node: &Node,
    segments: &[&str],
    i: usize,
    verb: Option<&str>,
    method: &Method,
) -> Option<usize> {
    let find = |ends: &Ends| {
        ends.get(&verb.map(str::to_owned))
            .and_then(|m| m.get(method))
            .copied()
    };
    if i == segments.len() {
        if let Some(route) = find(&node.ends) {
            return Some(route);
        }
    } else {
        let found = node
            .literals
            .get(segments[i])
            .and_then(|child| search(child, segments, i + 1, verb, method))
            .or_else(|| {
                // `*` matches one segment, never an empty one.
                node.single
                    .as_deref()
                    .filter(|_| !segments[i].is_empty())
                    .and_then(|child| search(child, segments, i + 1, verb, method))
            });
        if found.is_some() {
            return found;
        }
    }
    find(&node.multi_ends)
}

/// Characters that stay escaped in multi-segment variables (RFC 6570 reserved set).
const RESERVED: &[u8] = b":/?#[]@!$&'()*+,;=";

/// Unescapes a path variable. Single-segment variables are fully decoded; multi-segment ones
/// keep reserved characters (such as `%2F`) escaped. `+` is literal in paths.
/// `None` when the result is not UTF-8.
pub(crate) fn unescape(raw: &str, single_segment: bool) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    if single_segment {
        return percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match decoded {
            Some(b) if !RESERVED.contains(&b) => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_rule::template::parse;

    fn matcher(routes: &[(&str, &str)]) -> Matcher {
        let mut m = Matcher::default();
        for (i, (method, template)) in routes.iter().enumerate() {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            m.insert(&method, &parse(template).unwrap(), i).unwrap();
        }
        m
    }

    fn found(m: &Matcher, method: &str, path: &str) -> Option<usize> {
        match m.lookup(&Method::from_bytes(method.as_bytes()).unwrap(), path) {
            Lookup::Found { route, .. } => Some(route),
            _ => None,
        }
    }

    #[test]
    fn literal_beats_single_beats_multi() {
        let m = matcher(&[
            ("GET", "/v1/{name=**}"),
            ("GET", "/v1/{id}"),
            ("GET", "/v1/me"),
            ("GET", "/v1/{id}/items"),
        ]);
        assert_eq!(found(&m, "GET", "/v1/me"), Some(2));
        assert_eq!(found(&m, "GET", "/v1/42"), Some(1));
        assert_eq!(found(&m, "GET", "/v1/42/items"), Some(3));
        assert_eq!(found(&m, "GET", "/v1/42/other"), Some(0));
        assert_eq!(found(&m, "GET", "/v1/a/b/c"), Some(0));
    }

    #[test]
    fn multi_matches_zero_segments_and_backtracks() {
        let m = matcher(&[("GET", "/files/**"), ("GET", "/files/*/meta")]);
        assert_eq!(found(&m, "GET", "/files"), Some(0));
        assert_eq!(found(&m, "GET", "/files/a/meta"), Some(1));
        // The literal branch fails one level down, so the `**` route takes it.
        assert_eq!(found(&m, "GET", "/files/a/meta/x"), Some(0));
    }

    #[test]
    fn match_must_be_complete() {
        let m = matcher(&[("GET", "/v1/users/{id}")]);
        assert_eq!(found(&m, "GET", "/v1/users"), None);
        assert_eq!(found(&m, "GET", "/v1/users/1/extra"), None);
        assert_eq!(
            found(&m, "GET", "/v1/users/"),
            None,
            "an empty segment is no id"
        );
    }

    #[test]
    fn verbs() {
        let m = matcher(&[
            ("POST", "/v1/{name=ops/*}:cancel"),
            ("GET", "/v1/ops/{id}"),
            ("POST", "/v1/users:batchGet"),
            ("POST", "/v1/{uuid}:custom"),
            ("POST", "/v1/{uuid}:custom:custom"),
        ]);
        assert_eq!(found(&m, "POST", "/v1/x:custom:custom"), Some(4));
        assert_eq!(found(&m, "POST", "/v1/x:custom"), Some(3));
        assert_eq!(found(&m, "POST", "/v1/ops/7:cancel"), Some(0));
        assert_eq!(found(&m, "POST", "/v1/users:batchGet"), Some(2));
        // Without a matching verb route, the colon is part of the segment.
        assert_eq!(found(&m, "GET", "/v1/ops/a:b"), Some(1));
        assert_eq!(found(&m, "POST", "/v1/ops/7:other"), None);
        // A registered verb is split off for every method: another method is refused, not
        // served by a plain route that would take the verb into its variable.
        assert_eq!(
            m.lookup(&Method::GET, "/v1/ops/7:cancel"),
            Lookup::MethodNotAllowed(vec![Method::POST])
        );
    }

    #[test]
    fn hostile_paths_cost_little() {
        let m = matcher(&[("POST", "/v1/{name}:cancel"), ("GET", "/v1/{a=**}")]);
        let path = format!("/v1{}/{}", "/x".repeat(16_000), ":".repeat(16_000));
        let started = std::time::Instant::now();
        assert_eq!(found(&m, "GET", &path), Some(1));
        assert_eq!(found(&m, "POST", &path), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn methods_and_405() {
        let m = matcher(&[("GET", "/v1/users/{id}"), ("DELETE", "/v1/users/{id}")]);
        assert_eq!(
            m.lookup(&Method::POST, "/v1/users/1"),
            Lookup::MethodNotAllowed(vec![Method::DELETE, Method::GET])
        );
        assert_eq!(m.lookup(&Method::POST, "/nowhere"), Lookup::NotFound);
    }

    #[test]
    fn same_requests_twice_is_a_conflict() {
        let mut m = Matcher::default();
        m.insert(&Method::GET, &parse("/v1/{a}").unwrap(), 0)
            .unwrap();
        assert_eq!(
            m.insert(&Method::GET, &parse("/v1/{b}").unwrap(), 1),
            Err(0)
        );
        assert_eq!(
            m.insert(&Method::POST, &parse("/v1/{b}").unwrap(), 2),
            Ok(())
        );
        assert_eq!(
            m.insert(&Method::GET, &parse("/v1/{b}:x").unwrap(), 3),
            Ok(())
        );
    }

    #[test]
    fn unescaping() {
        assert_eq!(unescape("a%2Fb%20c", true).unwrap(), "a/b c");
        assert_eq!(unescape("a%2Fb%20c", false).unwrap(), "a%2Fb c");
        assert_eq!(unescape("x/y%3Az%41", false).unwrap(), "x/y%3AzA");
        assert_eq!(unescape("a+b", true).unwrap(), "a+b");
        assert_eq!(unescape("%zz%4", true).unwrap(), "%zz%4");
        assert_eq!(unescape("%ff", true), None);
    }
}
