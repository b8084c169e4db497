//! `/api/v1/webinars`: list, create (idempotent with a key), read, change.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use webinar::DomainError;
use webinar::api::idempotency::Keyed;
use webinar::api::webinars::WebinarInput;
use webinar::resource::WebinarResource;

use super::{List, answered, json_answer, listed};
use crate::error::{ApiError, ErrorResponse};
use crate::middleware::admin_guard::ApiCaller;
use crate::routes::api::json_body;
use crate::state::AppState;

/// Every webinar, drafts included, newest start first.
#[utoipa::path(get, path = "/api/v1/webinars", tag = "admin-api", security(("token" = [])),
    responses(
        (status = 200, description = "The webinars", body = List<WebinarResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<List<WebinarResource>>, ApiError> {
    Ok(listed(state.service.api_webinars().await?))
}

/// Creates a webinar. With an `Idempotency-Key`, the same key and body within
/// 24 hours answer what the first request answered and create nothing more.
#[utoipa::path(post, path = "/api/v1/webinars", tag = "admin-api", security(("token" = [])),
    request_body = WebinarInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Any 1 to 255 visible ASCII characters, e.g. a UUID, new for each create")),
    responses(
        (status = 201, description = "Created", body = WebinarResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 422, description = "Invalid fields (`fields` names them), or a key used with another body", body = ErrorResponse),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<ApiCaller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (input, body): (WebinarInput, _) = json_body(body)?;
    let keyed = idempotency_key(&headers, caller, &[b"POST", b"/api/v1/webinars", &body])?;
    let created = state
        .service
        .api_create_webinar(&input, keyed.as_ref(), |webinar| json_answer(StatusCode::CREATED, webinar))
        .await?;
    Ok(answered(created))
}

/// The request's `Idempotency-Key`, tied to the token and the request.
pub(super) fn idempotency_key(
    headers: &HeaderMap,
    caller: ApiCaller,
    request: &[&[u8]],
) -> Result<Option<Keyed>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().unwrap_or("\u{0}");
    let keyed = Keyed::new(caller.token_id, key, request).map_err(|error| DomainError::Invalid(vec![error]))?;
    Ok(Some(keyed))
}

#[utoipa::path(get, path = "/api/v1/webinars/{slug}", tag = "admin-api", security(("token" = [])),
    params(("slug" = String, Path, description = "The webinar's slug")),
    responses(
        (status = 200, description = "The webinar", body = WebinarResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No webinar has this slug", body = ErrorResponse),
    ))]
pub async fn show(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Json<WebinarResource>, ApiError> {
    Ok(Json(state.service.api_webinar(&slug).await?))
}

/// Changes the fields the body names, by the admin editor's rules. A new
/// start or a cancellation that would email registrants needs `"notify": true`.
#[utoipa::path(patch, path = "/api/v1/webinars/{slug}", tag = "admin-api", security(("token" = [])),
    params(("slug" = String, Path, description = "The webinar's slug")),
    request_body = WebinarInput,
    responses(
        (status = 200, description = "Saved", body = WebinarResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No webinar has this slug", body = ErrorResponse),
        (status = 409, description = "The change would email registrants and the body does not say `\"notify\": true`", body = ErrorResponse),
        (status = 422, description = "Invalid fields; `fields` names them", body = ErrorResponse),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebinarResource>, ApiError> {
    let (input, _): (WebinarInput, _) = json_body(body)?;
    Ok(Json(state.service.api_update_webinar(&slug, &input).await?))
}
