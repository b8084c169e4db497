//! The links in a registrant's emails: join (`/j/{token}`) and unsubscribe
//! (`/u/{signed}`). Unsubscribing takes a POST, from the confirmation page's
//! button or from a mail client's one-click (RFC 8058); a GET only asks, so
//! link scanners cannot unsubscribe anyone.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use webinar::DomainError;

use crate::state::AppState;

/// A registrant's join link: redirects to the webinar's current meeting URL.
#[utoipa::path(get, path = "/j/{token}", tag = "registrant",
    params(("token" = String, Path, description = "The registrant's join token, from their emails")),
    responses(
        (status = 307, description = "Redirect to the meeting"),
        (status = 404, description = "An HTML page: the link is not valid", content_type = "text/html"),
        (status = 503, description = "An HTML page: try again in a moment", content_type = "text/html"),
    ))]
pub async fn join(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.service.join_url(&token).await {
        Ok(url) => Redirect::temporary(&url).into_response(),
        Err(DomainError::Unavailable(error)) => {
            tracing::error!(%error, "join link lookup failed");
            page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment", "We could not look up your link just now.")
        }
        Err(error @ DomainError::Internal(_)) => fault(&error),
        Err(_) => page(
            StatusCode::NOT_FOUND,
            "This join link is not valid",
            "Use the link from your most recent email about this webinar.",
        ),
    }
}

/// Asks before unsubscribing (so link scanners unsubscribe nobody).
#[utoipa::path(get, path = "/u/{token}", tag = "registrant",
    params(("token" = String, Path, description = "The signed unsubscribe token, from an email")),
    responses(
        (status = 200, description = "An HTML page with the Unsubscribe button", content_type = "text/html"),
        (status = 404, description = "An HTML page: the link is not valid", content_type = "text/html"),
    ))]
pub async fn confirm_unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if state.links.verify_unsubscribe(&token).is_none() {
        return invalid_unsubscribe_link();
    }
    let form = format!(
        r#"<p>You will get no more emails about this webinar.</p>
<form method="post" action="/u/{}"><button type="submit">Unsubscribe</button></form>"#,
        escape(&token)
    );
    page_with(StatusCode::OK, "Unsubscribe from these emails?", &form)
}

/// Unsubscribes: the page's button, or a mail client's one-click (RFC 8058).
#[utoipa::path(post, path = "/u/{token}", tag = "registrant",
    params(("token" = String, Path, description = "The signed unsubscribe token, from an email")),
    responses(
        (status = 200, description = "An HTML page: unsubscribed", content_type = "text/html"),
        (status = 404, description = "An HTML page: the link is not valid", content_type = "text/html"),
        (status = 503, description = "An HTML page: try again in a moment", content_type = "text/html"),
    ))]
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(registration_id) = state.links.verify_unsubscribe(&token) else {
        return invalid_unsubscribe_link();
    };
    match state.service.unsubscribe(registration_id).await {
        Ok(title) => page(
            StatusCode::OK,
            "You're unsubscribed",
            &format!("You won't get any more emails about {title}. Your registration and join link still work."),
        ),
        Err(DomainError::Unavailable(error)) => {
            tracing::error!(%error, "unsubscribe failed");
            page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment", "We could not unsubscribe you just now.")
        }
        Err(error @ DomainError::Internal(_)) => fault(&error),
        Err(_) => invalid_unsubscribe_link(),
    }
}

/// A fault on our side: logged, and a page that says so without its cause.
fn fault(error: &DomainError) -> Response {
    tracing::error!(%error, "registrant link failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Something went wrong on our side. Try the link again later.",
    )
}

fn invalid_unsubscribe_link() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This unsubscribe link is not valid",
        "Use the link at the bottom of your most recent email about this webinar.",
    )
}

fn page(status: StatusCode, heading: &str, text: &str) -> Response {
    page_with(status, heading, &format!("<p>{}</p>", escape(text)))
}

/// A small page in the site's style; `body` is trusted HTML.
fn page_with(status: StatusCode, heading: &str, body: &str) -> Response {
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title><link rel="stylesheet" href="/pkg/webinar.css"></head>
<body><main><section class="register notice"><h1>{heading}</h1>{body}</section></main></body></html>"#,
        heading = escape(heading),
    );
    (status, Html(html)).into_response()
}

/// Escapes text for element content and double-quoted attributes (the only kind used here).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
