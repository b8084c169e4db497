//! `/api/v1/webhooks`: endpoints made, read, changed and deleted; each one's
//! delivery log, and a delivery sent again.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use webinar::DomainError;
use webinar::api::webhooks::WebhookInput;
use webinar::resource::{DeliveryResource, WebhookResource};

use super::{List, listed};
use crate::error::{ApiError, ErrorResponse};
use crate::routes::api::json_body;
use crate::state::AppState;

/// An id in a path; anything else names no webhook (or delivery).
fn id_in_path(raw: &str, missing: DomainError) -> Result<i64, DomainError> {
    raw.parse().map_err(|_| missing)
}

/// Every endpoint, oldest first (without their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "admin-api", security(("token" = [])),
    responses(
        (status = 200, description = "The endpoints", body = List<WebhookResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<List<WebhookResource>>, ApiError> {
    let endpoints = state.service.webhooks().await?;
    Ok(listed(endpoints.into_iter().map(WebhookResource::new).collect()))
}

/// Creates an endpoint. The answer holds its signing `secret`, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "admin-api", security(("token" = [])),
    request_body = WebhookInput,
    responses(
        (status = 201, description = "Created, with its secret", body = WebhookResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 422, description = "A URL that is not https or resolves to an internal address, or unknown events", body = ErrorResponse),
    ))]
pub async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WebhookResource>), ApiError> {
    let (input, _): (WebhookInput, _) = json_body(body)?;
    let created = state.service.create_webhook(&input).await?;
    Ok((StatusCode::CREATED, Json(WebhookResource::created(created))))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ))]
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<WebhookResource>, ApiError> {
    let id = id_in_path(&id, DomainError::WebhookNotFound)?;
    Ok(Json(WebhookResource::new(state.service.webhook(id).await?)))
}

/// Changes what the body names: `url`, `events`, or `enabled` (`true` enables
/// a disabled endpoint again, and its pending deliveries resume).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    request_body = WebhookInput,
    responses(
        (status = 200, description = "Changed", body = WebhookResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
        (status = 422, description = "Invalid fields", body = ErrorResponse),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookResource>, ApiError> {
    let id = id_in_path(&id, DomainError::WebhookNotFound)?;
    let (input, _): (WebhookInput, _) = json_body(body)?;
    Ok(Json(WebhookResource::new(state.service.update_webhook(id, &input).await?)))
}

/// Deletes an endpoint with its delivery log; nothing more is sent to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ))]
pub async fn remove(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    state.service.delete_webhook(id_in_path(&id, DomainError::WebhookNotFound)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's latest 100 deliveries, newest first, each with its attempts.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "admin-api", security(("token" = [])),
    params(("id" = i64, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The delivery log", body = List<DeliveryResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 404, description = "No such endpoint", body = ErrorResponse),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<List<DeliveryResource>>, ApiError> {
    let log = state.service.webhook_deliveries(id_in_path(&id, DomainError::WebhookNotFound)?).await?;
    Ok(listed(log.into_iter().map(DeliveryResource::from).collect()))
}

/// Sends a delivery again at once, with fresh attempts and the same `webhook-id`.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "admin-api",
    security(("token" = [])),
    params(
        ("id" = i64, Path, description = "The endpoint's id"),
        ("delivery_id" = i64, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 202, description = "Queued again", body = DeliveryResource),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "No such endpoint or delivery", body = ErrorResponse),
        (status = 409, description = "The endpoint is disabled", body = ErrorResponse),
    ))]
pub async fn redeliver(
    State(state): State<AppState>,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryResource>), ApiError> {
    let id = id_in_path(&id, DomainError::WebhookNotFound)?;
    let delivery_id = id_in_path(&delivery_id, DomainError::DeliveryNotFound)?;
    let queued = state.service.redeliver_webhook(id, delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryResource::from(queued))))
}
