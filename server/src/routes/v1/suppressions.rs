//! `/api/v1/suppressions`: the addresses no email goes to, and taking one off.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use webinar::resource::SuppressionResource;

use super::{List, listed};
use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;

/// Every suppressed address, newest first, with the event that put it there.
#[utoipa::path(get, path = "/api/v1/suppressions", tag = "admin-api", security(("token" = [])),
    responses(
        (status = 200, description = "The suppression list", body = List<SuppressionResource>),
        (status = 401, description = "No live API token", body = ErrorResponse),
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<List<SuppressionResource>>, ApiError> {
    let entries = state.service.suppressions().await?;
    Ok(listed(entries.into_iter().map(SuppressionResource::from).collect()))
}

/// Lets email go to the address again (emails it missed stay suppressed).
#[utoipa::path(delete, path = "/api/v1/suppressions/{email}", tag = "admin-api", security(("token" = [])),
    params(("email" = String, Path, description = "The address, URL-encoded")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No live API token", body = ErrorResponse),
        (status = 403, description = "A read token", body = ErrorResponse),
        (status = 404, description = "The address is not on the list", body = ErrorResponse),
    ))]
pub async fn remove(State(state): State<AppState>, Path(email): Path<String>) -> Result<StatusCode, ApiError> {
    state.service.remove_suppression(&email).await?;
    Ok(StatusCode::NO_CONTENT)
}
