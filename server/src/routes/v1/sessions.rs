//! `/api/v1/webinars/{slug}/sessions` and `/api/v1/sessions/{id}`: a
//! webinar's times, added one at a time or as a repeating series.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use webinar::DomainError;
use webinar::api::sessions::SessionInput;
use webinar::resource::SessionResource;

use super::{List, listed};
use crate::error::{ApiError, ErrorResponse};
use crate::routes::api::json_body;
use crate::state::AppState;

/// An id from the path; one that is no number names no session.
fn session_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::Domain(DomainError::SessionNotFound))
}

/// The webinar's sessions, past and cancelled ones included, in start order.
#[utoipa::path(get, path = "/api/v1/webinars/{slug}/sessions", tag = "admin-api", security(("token" = [])),
    params(("slug" = String, Path, description = "The webinar's slug")),
    responses(
        (status = 200, description = "The sessions", body = List<SessionResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No webinar has this slug", body = ErrorResponse),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<List<SessionResource>>, ApiError> {
    Ok(listed(state.service.api_sessions(&slug).await?))
}

/// Adds a session (`starts_at`; length, link and seats default to the
/// webinar's next session), or with `repeat` a series; answers the sessions made.
#[utoipa::path(post, path = "/api/v1/webinars/{slug}/sessions", tag = "admin-api", security(("token" = [])),
    params(("slug" = String, Path, description = "The webinar's slug")),
    request_body = SessionInput,
    responses(
        (status = 201, description = "The sessions made", body = List<SessionResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No webinar has this slug", body = ErrorResponse),
        (status = 409, description = "The webinar is cancelled", body = ErrorResponse),
        (status = 422, description = "Invalid fields; `fields` names them", body = ErrorResponse),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<List<SessionResource>>), ApiError> {
    let (input, _): (SessionInput, _) = json_body(body)?;
    Ok((StatusCode::CREATED, listed(state.service.api_create_sessions(&slug, &input).await?)))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session", body = SessionResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
    ))]
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<SessionResource>, ApiError> {
    Ok(Json(state.service.api_session(session_id(&id)?).await?))
}

/// Changes the fields the body names. A new start or `"status": "cancelled"`
/// that would email registrants needs `"notify": true`.
#[utoipa::path(patch, path = "/api/v1/sessions/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The session's id")),
    request_body = SessionInput,
    responses(
        (status = 200, description = "Saved", body = SessionResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The change would email registrants without `\"notify\": true`, or the session is cancelled", body = ErrorResponse),
        (status = 422, description = "Invalid fields; `fields` names them", body = ErrorResponse),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionResource>, ApiError> {
    let id = session_id(&id)?;
    let (input, _): (SessionInput, _) = json_body(body)?;
    Ok(Json(state.service.api_update_session(id, &input).await?))
}

/// Deletes a session nobody registered for (cancel one that has registrants).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The session's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "It has registrants, or it is the webinar's only session", body = ErrorResponse),
    ))]
pub async fn remove(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    state.service.api_delete_session(session_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
