//! The HTTP layer's one error type, mapped once to a status and
//! `{"error": {"code", "message", "fields"?}}`.
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use webinar::{DomainError, FieldError};

use crate::rate_limit::Verdict;
use crate::route_table::Caller;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("The request body is not valid: {message}")]
    BadBody { message: String, field: Option<String> },
    #[error("The query string is not valid: {message}")]
    BadQuery { message: String },
    #[error("This address speaks websocket only ({message}); connect with a websocket client.")]
    NotWebSocket { message: String },
    #[error("The request body is larger than {limit} bytes.")]
    TooLarge { limit: usize },
    #[error("Too many attempts — try again in {} s.", verdict.retry_after_seconds())]
    RateLimited { verdict: Verdict, caller: Caller },
    #[error("Registration counts are unavailable right now: the database cannot be reached. Try again in a minute.")]
    StatsUnavailable,
    #[error("Please log in.")]
    Unauthorized { caller: Caller },
    #[error(
        "Send a live API token as `Authorization: Bearer wbt_…`; make one on the admin's API tokens page or with `server create-token`."
    )]
    NoToken,
    #[error("This API token may only read (GET); use a write token for changes.")]
    ReadOnlyToken,
    /// A provider event batch whose signature could not be verified; nothing is stored.
    #[error("The event batch was refused ({0}); nothing was stored.")]
    EventsRefused(&'static str),
    #[error("This request came from another site; admin changes must be made from this site's own pages.")]
    CrossSite,
    #[error(
        "The request took longer than {seconds} s and was stopped. Send it again; if it has a body, send it all at once."
    )]
    Timeout { seconds: u64 },
    #[error("Too many live-count connections are open from your address; close some pages and try again.")]
    TooManyWebSockets,
    #[error("The address is longer than {} bytes.", crate::middleware::input::URI_MAX_BYTES)]
    UriTooLong,
    #[error("{0}")]
    BadAddress(&'static str),
    /// A body field holds a control character (other than tab and line breaks).
    #[error("{CONTROL_CHARACTERS}")]
    ControlCharacters { field: Option<String>, caller: Caller },
}

/// What a field with a control character is told.
const CONTROL_CHARACTERS: &str = "Remove the control characters (such as NUL or escape) from this text.";

/// Every error answer of the JSON API.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    error: ErrorBody,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorBody {
    /// Stable, for programs: `invalid_input`, `rate_limited`, `registration_closed`, …
    code: &'static str,
    /// For people: what went wrong and what to do.
    message: String,
    /// The fields at fault, when the input was invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<FieldError>>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, Option<Vec<FieldError>>) {
        match self {
            ApiError::Domain(DomainError::Invalid(fields)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", Some(fields.clone()))
            }
            ApiError::Domain(DomainError::WebinarNotFound) => (StatusCode::NOT_FOUND, "webinar_not_found", None),
            ApiError::Domain(DomainError::RegistrationNotFound) => {
                (StatusCode::NOT_FOUND, "registration_not_found", None)
            }
            ApiError::Domain(DomainError::NotSuppressed) => (StatusCode::NOT_FOUND, "suppression_not_found", None),
            ApiError::Domain(DomainError::WebhookNotFound) => (StatusCode::NOT_FOUND, "webhook_not_found", None),
            ApiError::Domain(DomainError::DeliveryNotFound) => (StatusCode::NOT_FOUND, "delivery_not_found", None),
            ApiError::Domain(DomainError::WebhookDisabled) => (StatusCode::CONFLICT, "webhook_disabled", None),
            ApiError::Domain(DomainError::SessionNotFound) => (StatusCode::NOT_FOUND, "session_not_found", None),
            ApiError::Domain(DomainError::SessionHasRegistrants) => {
                (StatusCode::CONFLICT, "session_has_registrants", None)
            }
            ApiError::Domain(DomainError::LastSession) => (StatusCode::CONFLICT, "last_session", None),
            ApiError::Domain(DomainError::Closed(_)) => (StatusCode::CONFLICT, "registration_closed", None),
            ApiError::Domain(DomainError::Unavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", None)
            }
            ApiError::Domain(DomainError::Internal(_) | DomainError::Rendering(_) | DomainError::MailUnavailable) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
            ApiError::Domain(DomainError::NeedsConfirmation(_)) => (StatusCode::CONFLICT, "confirmation_needed", None),
            ApiError::Domain(DomainError::DeliveryFailed(_)) => (StatusCode::BAD_GATEWAY, "delivery_failed", None),
            ApiError::Domain(DomainError::IdempotencyKeyReused) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", None)
            }
            ApiError::BadBody { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                field.as_ref().map(|field| vec![FieldError::new(field, message.clone())]),
            ),
            ApiError::BadQuery { .. } => (StatusCode::BAD_REQUEST, "invalid_query", None),
            ApiError::NotWebSocket { .. } => (StatusCode::UPGRADE_REQUIRED, "websocket_required", None),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            ApiError::StatsUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "stats_unavailable", None),
            ApiError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::NoToken => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::ReadOnlyToken => (StatusCode::FORBIDDEN, "read_only_token", None),
            ApiError::EventsRefused(_) => (StatusCode::FORBIDDEN, "signature_refused", None),
            ApiError::CrossSite => (StatusCode::FORBIDDEN, "cross_site", None),
            ApiError::Timeout { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout", None),
            ApiError::UriTooLong => (StatusCode::URI_TOO_LONG, "uri_too_long", None),
            ApiError::TooManyWebSockets => (StatusCode::TOO_MANY_REQUESTS, "too_many_websockets", None),
            ApiError::BadAddress(_) => (StatusCode::BAD_REQUEST, "invalid_address", None),
            ApiError::ControlCharacters { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_text",
                field.as_ref().map(|field| vec![FieldError::new(field, CONTROL_CHARACTERS)]),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, fields) = self.parts();
        count_rejection(status, code);
        let message = match &self {
            ApiError::Domain(DomainError::Unavailable(error)) => {
                tracing::error!(%error, "database unreachable");
                "The service is temporarily unavailable: we cannot reach our database. Please try again in a minute."
                    .to_owned()
            }
            ApiError::Domain(
                error @ (DomainError::Internal(_) | DomainError::Rendering(_) | DomainError::MailUnavailable),
            ) => {
                tracing::error!(%error, "internal error");
                "Something went wrong on our side. Please try again in a moment.".to_owned()
            }
            ApiError::Domain(DomainError::Invalid(_)) => "Some fields are invalid; see `fields`.".to_owned(),
            other => other.to_string(),
        };
        let body = ErrorResponse { error: ErrorBody { code, message, fields } };
        match &self {
            ApiError::RateLimited { verdict, caller } => rate_limited(status, verdict, *caller, body),
            // The hydrated page decodes its server functions' errors as `AppError`.
            ApiError::Unauthorized { caller: Caller::ServerFunction } => {
                (status, Json(app::api::AppError::Unauthorized)).into_response()
            }
            // The form shows the message next to its field.
            ApiError::ControlCharacters { field, caller: Caller::ServerFunction | Caller::PlainForm } => {
                let fields = vec![app::api::FieldErrorView {
                    field: field.clone().unwrap_or_default(),
                    message: CONTROL_CHARACTERS.to_owned(),
                }];
                (status, Json(app::api::AppError::Invalid(fields))).into_response()
            }
            // RFC 6750: a 401 names the scheme to authenticate with.
            ApiError::NoToken => {
                (status, [(axum::http::header::WWW_AUTHENTICATE, "Bearer")], Json(body)).into_response()
            }
            _ => (status, Json(body)).into_response(),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadQuery { message: rejection.body_text() }
    }
}

/// 429 with the `RateLimit-*` and `Retry-After` headers, in the caller's encoding.
fn rate_limited(status: StatusCode, verdict: &Verdict, caller: Caller, body: ErrorResponse) -> Response {
    let mut response = match caller {
        Caller::Api => (status, Json(body)).into_response(),
        Caller::ServerFunction => {
            let error = app::api::AppError::TooManyAttempts { retry_after_seconds: verdict.retry_after_seconds() };
            (status, Json(error)).into_response()
        }
        Caller::PlainForm => {
            let page = format!(
                "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>Too many attempts</title>\
                 <main><h1>Too many attempts</h1><p>{}</p>\
                 <p>Go back and try again then.</p></main></html>",
                body.error.message
            );
            (status, axum::response::Html(page)).into_response()
        }
    };
    verdict.write_headers(response.headers_mut());
    response
}

/// A server function that fails before its body runs (its arguments could
/// not be read) answers 500 from Leptos whatever the error; this gives such
/// an answer the status of the error it carries (`AppError::status`), as
/// failures inside the body already get. To a plain form post Leptos
/// answers with a redirect to the `Referer` carrying the error in `__err`:
/// the `Referer` is the client's word, so the redirect goes to the same
/// path on this site instead, without the error (its text is not ours).
pub async fn server_function_status(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_function = request.uri().path().starts_with("/api/fn/");
    let host = request.headers().get(axum::http::header::HOST).cloned();
    let mut response = next.run(request).await;
    if is_function && response.status().is_redirection() {
        keep_redirect_on_site(&mut response, host.as_ref().and_then(|host| host.to_str().ok()));
    }
    if !is_function || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // An error answer is a short JSON value; anything longer is passed on as it was.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::api::AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Rewrites a redirect that carries Leptos's `__err` to the path it names on
/// this site (`/` when it names another site).
fn keep_redirect_on_site(response: &mut Response, host: Option<&str>) {
    use axum::http::{HeaderValue, header::LOCATION};
    let Some(location) = response.headers().get(LOCATION).and_then(|value| value.to_str().ok()) else { return };
    if !location.contains("__err=") {
        return;
    }
    let base = url::Url::parse(&format!("http://{}/", host.unwrap_or("localhost"))).ok();
    let target = base.as_ref().and_then(|base| base.join(location).ok());
    let path = match (&base, &target) {
        (Some(base), Some(target)) if target.host_str() == base.host_str() && target.port() == base.port() => {
            target.path().to_owned()
        }
        _ => "/".to_owned(),
    };
    let path = HeaderValue::from_str(&path).unwrap_or(HeaderValue::from_static("/"));
    response.headers_mut().insert(LOCATION, path);
}

/// Counts a 4xx error answer by its code (`webinar_rejections_total`).
fn count_rejection(status: StatusCode, code: &'static str) {
    if status.is_client_error() {
        metrics::counter!("webinar_rejections_total", "code" => code).increment(1);
    }
}
