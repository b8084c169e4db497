//! Markdown that marketing writes, turned into HTML that is safe to put on
//! a page or in an email: CommonMark, then an allow-list sanitizer, so raw
//! HTML, scripts, event handlers and `javascript:` links cannot get through.
use pulldown_cmark::{Options, Parser, html};

pub fn to_safe_html(markdown: &str) -> String {
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(
        &mut unsafe_html,
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES),
    );
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto"].into())
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_survives() {
        let html = to_safe_html("Hello **world**\n\n- one\n- [two](https://example.com)");
        assert!(html.contains("<strong>world</strong>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains(r#"<a href="https://example.com" rel="noopener noreferrer nofollow">two</a>"#), "{html}");
    }

    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        let html = to_safe_html(
            "<script>alert(1)</script>\n\n\"><img src=x onerror=alert(2)>\n\n[click](javascript:alert(3)) <a href=\"javascript:alert(4)\">x</a>",
        );
        for forbidden in ["<script", "onerror", "javascript:", "alert(1)"] {
            assert!(!html.contains(forbidden), "{forbidden} in {html}");
        }
    }

    #[test]
    fn text_that_looks_like_html_in_a_code_span_is_escaped() {
        assert_eq!(to_safe_html("`<b>`"), "<p><code>&lt;b&gt;</code></p>\n");
    }
}
