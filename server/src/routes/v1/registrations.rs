//! `/api/v1/…/registrations`: cursor pages, one registrant, their emails, the erase.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use webinar::DomainError;
use webinar::api::registrations::RegistrationQuery;
use webinar::resource::{EmailJobResource, Page, RegistrationResource};

use super::{List, listed};
use crate::error::{ApiError, ErrorResponse};
use crate::routes::api::ApiQuery;
use crate::state::AppState;

/// A page of a webinar's registrations, in the order they were made. Follow
/// `next_cursor` while `has_more`: each registration comes exactly once,
/// however many arrive meanwhile (a registration shows once it is two
/// seconds old, when nothing committing can still come before it).
#[utoipa::path(get, path = "/api/v1/webinars/{slug}/registrations", tag = "admin-api", security(("token" = [])),
    params(("slug" = String, Path, description = "The webinar's slug"), RegistrationQuery),
    responses(
        (status = 200, description = "A page", body = Page<RegistrationResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No webinar has this slug", body = ErrorResponse),
        (status = 422, description = "A bad `limit`, `cursor` or `since`; `fields` names it", body = ErrorResponse),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiQuery(query): ApiQuery<RegistrationQuery>,
) -> Result<Json<Page<RegistrationResource>>, ApiError> {
    Ok(Json(state.service.api_registrations(&slug, &query).await?))
}

/// An id from the path; one that is no number names no registration.
fn registration_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::Domain(DomainError::RegistrationNotFound))
}

/// A registrant, with their join and unsubscribe links.
#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The registration's id")),
    responses(
        (status = 200, description = "The registration", body = RegistrationResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No such registration", body = ErrorResponse),
    ))]
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RegistrationResource>, ApiError> {
    Ok(Json(state.service.api_registration(registration_id(&id)?).await?))
}

/// Erases a registrant for good (GDPR): the row, its emails, its count.
#[utoipa::path(delete, path = "/api/v1/registrations/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The registration's id")),
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No such registration", body = ErrorResponse),
    ))]
pub async fn erase(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    state.service.erase_registration(registration_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A registrant's emails, the earliest due first.
#[utoipa::path(get, path = "/api/v1/registrations/{id}/emails", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The registration's id")),
    responses(
        (status = 200, description = "Their email jobs", body = List<EmailJobResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No such registration", body = ErrorResponse),
    ))]
pub async fn emails(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<List<EmailJobResource>>, ApiError> {
    Ok(listed(state.service.api_registration_emails(registration_id(&id)?).await?))
}
