//! The admin's registration routes, behind the admin guard (`/api/admin/…`):
//! the CSV download, streamed page by page so a webinar with 100,000
//! registrants never sits in memory at once, and erasing a registrant.
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use webinar::registration::export;

use crate::error::ApiError;
use crate::state::AppState;

/// Registrations read per database query.
const PAGE: u64 = 500;

pub async fn registrations_csv(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response, ApiError> {
    let webinar = state.service.webinar_by_slug(&slug).await?;
    let session_starts = std::sync::Arc::new(state.service.session_starts(webinar.id).await?);
    let service = state.service.clone();
    let pages = futures::stream::unfold(Some(0_i64), move |after| {
        let (service, session_starts) = (service.clone(), session_starts.clone());
        async move {
            let after = after?;
            match service.registrations_page(webinar.id, after, PAGE).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = rows.last().map(|row| row.id);
                    Some((
                        export::csv_rows(&rows, &session_starts).map(Bytes::from).map_err(std::io::Error::other),
                        next,
                    ))
                }
                Err(error) => {
                    tracing::error!(%error, "registrations export failed mid-stream");
                    Some((Err(std::io::Error::other(error)), None))
                }
            }
        }
    });
    let header_line = futures::stream::once(async { Ok(Bytes::from(export::csv_header())) });
    let file_name: String = webinar.slug.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}-registrations.csv\"")),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, Body::from_stream(header_line.chain(pages))).into_response())
}

/// `DELETE /api/admin/registrations/{id}`: a GDPR erase; `204` when done.
pub async fn erase_registration(State(state): State<AppState>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    state.service.erase_registration(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
