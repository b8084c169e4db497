//! Checks every form's text fields share: lengths in characters and links.

const URL_MAX_CHARS: usize = 500;

/// Whether `value` has `min` to `max` characters (not bytes).
pub fn within(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.chars().count())
}

/// An absolute http(s) URL, as it is stored: the parser's own serialisation
/// of it. Anything else (`javascript:`, relative) is refused, and so is any
/// whitespace or control character inside: the URL parser would drop a tab
/// or line break silently, while the raw text (a redirect's `Location`)
/// would break on it.
pub fn web_url(raw: &str) -> Option<String> {
    if !within(raw, 1, URL_MAX_CHARS) || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    (matches!(url.scheme(), "https" | "http") && url.host().is_some()).then(|| url.to_string())
}
