//! HTTP hardening every request gets: a body size limit, a time limit, and
//! security headers on the answer.
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::input::{self, AddressRefusal, BodyRefusal};
use crate::error::ApiError;
use crate::state::AppState;

/// Adds the security headers. A Leptos page sets its own
/// Content-Security-Policy (it carries the hydration script's nonce); every
/// other response gets the same policy without one, so no inline script runs.
pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Join and unsubscribe links carry tokens in the path: other sites see only our origin.
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        // For browsers that predate CSP's frame-ancestors.
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(policy) = HeaderValue::from_str(&app::content_security_policy(None))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    if state.cookie_policy.secure {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Leptos fills a page's server action with the error named by its
/// `__err`/`__path` query parameters (how it reports a failed form post
/// without JavaScript), so a crafted link could put any words on the page.
/// Our forms report their failures with fixed codes instead; a page address
/// carrying those parameters is redirected to itself without them.
pub async fn drop_action_errors(request: Request, next: Next) -> Response {
    let is_page = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD)
        && !request.uri().path().starts_with("/api/");
    let query = request.uri().query().unwrap_or_default();
    let planted = |key: &str| key == "__err" || key == "__path";
    if !is_page || !url::form_urlencoded::parse(query.as_bytes()).any(|(key, _)| planted(&key)) {
        return next.run(request).await;
    }
    let kept: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(query.as_bytes()).filter(|(key, _)| !planted(key)))
        .finish();
    let path = request.uri().path();
    let location = if kept.is_empty() { path.to_owned() } else { format!("{path}?{kept}") };
    match HeaderValue::from_str(&location) {
        Ok(location) => (axum::http::StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => ApiError::BadAddress("The address could not be read.").into_response(),
    }
}

/// Answers 408 when a request (reading its body included) takes longer than
/// `REQUEST_TIMEOUT_SECS`, so a slow or stalled client cannot hold a worker.
/// A websocket is exempt once upgraded, and so is a streamed body (the CSV
/// export) once its head is out.
pub async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout { seconds: limit.as_secs().max(1) }.into_response(),
    }
}

/// An oversized body up to this size is read and thrown away before the 413,
/// so the client, still sending, reliably gets the answer (closing on unread
/// data resets the connection and loses it). Larger ones are cut off.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Checks the request's text (`input`) and reads the body up front,
/// refusing one over its path's limit with 413 before any handler runs —
/// server functions would otherwise report the cut-off body as their own
/// failure (500). Every body here is a form or JSON.
pub async fn checked_input(request: Request, next: Next) -> Response {
    match input::check_uri(request.uri()) {
        Ok(()) => {}
        Err(AddressRefusal::TooLong) => return ApiError::UriTooLong.into_response(),
        Err(AddressRefusal::Unclean(message)) => return ApiError::BadAddress(message).into_response(),
    }
    let caller = crate::route_table::caller_of(&request);
    let body_kind = crate::route_table::body(request.uri().path());
    let limit = body_kind.limit();
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok());
    let declared = declared.and_then(|length| length.parse::<usize>().ok());
    let (parts, body) = request.into_parts();
    if declared.is_some_and(|length| length > limit) {
        let drained = declared.is_some_and(|length| length <= DRAIN_LIMIT)
            && axum::body::to_bytes(body, DRAIN_LIMIT).await.is_ok();
        return too_large(limit, drained);
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) if !body_kind.is_text_of_a_person() => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
        }
        Ok(bytes) => match input::check_body(content_type(&parts.headers), &bytes) {
            Ok(()) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
            Err(BodyRefusal { field }) => ApiError::ControlCharacters { field, caller }.into_response(),
        },
        Err(error) if is_length_limit(&error) => too_large(limit, false),
        Err(error) => {
            ApiError::BadBody { message: format!("the body could not be read: {error}"), field: None }.into_response()
        }
    }
}

fn content_type(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok())
}

/// 413; `Connection: close` when part of the body was left unread.
fn too_large(limit: usize, drained: bool) -> Response {
    let mut response = ApiError::TooLarge { limit }.into_response();
    if !drained {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}
