//! Query strings, decoded strictly: shared by the frontends and the stages that read them.

use std::borrow::Cow;

/// The `key=value` pairs of a query string, decoded (`+` is a space, RFC 3986 escapes), or
/// `Err` with the pair's raw key when a key or value is not UTF-8 once decoded.
/// `form_urlencoded::parse` would replace such bytes silently.
pub(crate) fn pairs(
    query: &str,
) -> impl Iterator<Item = Result<(Cow<'_, str>, Cow<'_, str>), &str>> {
    fn decode(text: &str) -> Option<Cow<'_, str>> {
        if !text.contains(['%', '+']) {
            return Some(Cow::Borrowed(text));
        }
        let spaced = text.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(|decoded| Cow::Owned(decoded.into_owned()))
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (decode(key), decode(value)) {
                (Some(key), Some(value)) => Ok((key, value)),
                _ => Err(key),
            }
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairs_are_strict_utf8() {
        let pairs: Vec<_> = super::pairs("a=1&b=x+y%21&&c").collect();
        assert_eq!(
            pairs,
            [
                Ok(("a".into(), "1".into())),
                Ok(("b".into(), "x y!".into())),
                Ok(("c".into(), "".into()))
            ]
        );
        assert_eq!(super::pairs("name=%FF%FE").next(), Some(Err("name")));
    }
}
