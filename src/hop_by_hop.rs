//! Headers that belong to one connection and are never relayed (RFC 9110 section 7.6.1): the
//! fixed list, and every header the `Connection` header names.

use http::header::CONNECTION;
use http::{HeaderMap, HeaderName};

/// The connection headers of RFC 9110, and the framing headers the HTTP stack sets itself.
const FIXED: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Whether `name` is hop-by-hop in a message with these `headers` (the list, or named by its
/// `Connection` header).
pub(crate) fn is_hop_by_hop(name: &HeaderName, headers: &HeaderMap) -> bool {
    FIXED.contains(&name.as_str())
        || named_by_connection(headers).any(|n| n.eq_ignore_ascii_case(name.as_str()))
}

/// Removes the hop-by-hop headers of `headers`.
pub(crate) fn remove(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = named_by_connection(headers)
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in FIXED {
        headers.remove(name);
    }
}

/// The header names a `Connection` header lists (its options).
fn named_by_connection(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|option| !option.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_what_connection_names() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", "close, X-Secret ,keep-alive".parse().unwrap());
        headers.insert("x-secret", "1".parse().unwrap());
        headers.insert("x-kept", "2".parse().unwrap());
        headers.insert("te", "trailers".parse().unwrap());
        assert!(is_hop_by_hop(
            &HeaderName::from_static("x-secret"),
            &headers
        ));
        remove(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }
}
