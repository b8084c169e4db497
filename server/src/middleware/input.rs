//! Every request's text checked at the edge, before any handler or the
//! database sees it: the path and each query value may hold no control
//! character at all, a form or JSON body none but tab and line breaks (in
//! multi-line fields), and the URI is bounded. Postgres refuses NUL in text,
//! and a refused statement would otherwise read as "database unavailable";
//! single-line fields (names, slugs, URLs) refuse line breaks where the
//! domain validates them.
use axum::http::Uri;

/// The longest URI taken (path and query): no route needs more.
pub const URI_MAX_BYTES: usize = 4096;

/// Why a request's address was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRefusal {
    TooLong,
    /// The path or query, with what the visitor can fix.
    Unclean(&'static str),
}

/// A body field holding a control character (its name or JSON path, when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRefusal {
    pub field: Option<String>,
}

/// A character no text here may hold. Tab, line feed and carriage return
/// are allowed when `multi_line`; every other C0 or C1 control and DEL
/// never is.
fn forbidden(c: char, multi_line: bool) -> bool {
    c.is_control() && !(multi_line && matches!(c, '\t' | '\n' | '\r'))
}

fn clean(text: &str, multi_line: bool) -> bool {
    !text.chars().any(|c| forbidden(c, multi_line))
}

/// Checks the path (percent-decoded, UTF-8) and every query key and value.
pub fn check_uri(uri: &Uri) -> Result<(), AddressRefusal> {
    let path_and_query = uri.path_and_query().map_or("", |pq| pq.as_str());
    if path_and_query.len() > URI_MAX_BYTES {
        return Err(AddressRefusal::TooLong);
    }
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8();
    if !path.is_ok_and(|path| clean(&path, false)) {
        return Err(AddressRefusal::Unclean(
            "The address holds characters that cannot be in a link (control characters or invalid UTF-8).",
        ));
    }
    let query = uri.query().unwrap_or_default();
    if !url::form_urlencoded::parse(query.as_bytes()).all(|(key, value)| clean(&key, false) && clean(&value, false)) {
        return Err(AddressRefusal::Unclean("A query value holds control characters; remove them from the link."));
    }
    Ok(())
}

/// Checks a form or JSON body's text; other bodies are the handler's to read.
pub fn check_body(content_type: Option<&str>, body: &[u8]) -> Result<(), BodyRefusal> {
    let essence = content_type.and_then(|value| value.split(';').next()).map(str::trim).unwrap_or_default();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return match url::form_urlencoded::parse(body).find(|(key, value)| !clean(key, false) || !clean(value, true)) {
            Some((key, _)) => Err(BodyRefusal { field: clean(&key, false).then(|| key.into_owned()) }),
            None => Ok(()),
        };
    }
    if essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json") {
        // Invalid JSON is left to the handler, which names what is wrong.
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return Ok(()) };
        return match dirty_string(&value, &mut Vec::new()) {
            Some(path) => Err(BodyRefusal { field: Some(path) }),
            None => Ok(()),
        };
    }
    Ok(())
}

/// The path (`name`, `answers.0`) of the first string or key holding a
/// forbidden character.
fn dirty_string(value: &serde_json::Value, path: &mut Vec<String>) -> Option<String> {
    use serde_json::Value;
    let here = |path: &Vec<String>| if path.is_empty() { ".".to_owned() } else { path.join(".") };
    match value {
        Value::String(text) => (!clean(text, true)).then(|| here(path)),
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            path.push(index.to_string());
            let found = dirty_string(item, path);
            path.pop();
            found
        }),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if !clean(key, false) {
                return Some(here(path));
            }
            path.push(key.clone());
            let found = dirty_string(item, path);
            path.pop();
            found
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().expect("a URI")
    }

    #[test]
    fn paths_and_query_values_refuse_every_control_character() {
        assert_eq!(check_uri(&uri("/webinars/launch?icp=founders&utm_source=x%20y")), Ok(()));
        assert_eq!(check_uri(&uri("/webinars/caf%C3%A9")), Ok(()));
        for bad in
            ["/j/abc%00", "/webinars/a%0Ab", "/u/1.%7F", "/webinars/%FF", "/?webinar=a%00", "/?a%0D=b", "/?x=%C2%85"]
        {
            assert!(matches!(check_uri(&uri(bad)), Err(AddressRefusal::Unclean(_))), "{bad}");
        }
        let long = format!("/?q={}", "a".repeat(URI_MAX_BYTES));
        assert_eq!(check_uri(&uri(&long)), Err(AddressRefusal::TooLong));
    }

    #[test]
    fn bodies_allow_line_breaks_in_text_but_no_other_control() {
        let form = Some("application/x-www-form-urlencoded");
        assert_eq!(check_body(form, b"name=Ada&description=one%0D%0Atwo%09three"), Ok(()));
        assert_eq!(check_body(form, b"name=Ada%00"), Err(BodyRefusal { field: Some("name".into()) }));
        assert_eq!(check_body(form, b"webinar=%1B"), Err(BodyRefusal { field: Some("webinar".into()) }));
        assert_eq!(check_body(form, b"na%00me=x"), Err(BodyRefusal { field: None }));
        let json = Some("application/json; charset=utf-8");
        assert_eq!(check_body(json, br#"{"name":"Ada\nLovelace","n":[1,"ok"]}"#), Ok(()));
        assert_eq!(check_body(json, br#"{"name":"Ada\u0000"}"#), Err(BodyRefusal { field: Some("name".into()) }));
        assert_eq!(
            check_body(json, br#"{"a":{"b":["x","\u0085"]}}"#),
            Err(BodyRefusal { field: Some("a.b.1".into()) })
        );
        assert_eq!(check_body(json, b"not json"), Ok(()), "left to the handler");
        assert_eq!(check_body(Some("text/csv"), b"\x00"), Ok(()), "not a text body we read");
    }
}
