//! The registrations CSV download, streamed page by page so a webinar with
//! 100,000 registrants never sits in memory at once. Behind the admin guard
//! (`/api/admin/…`).
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use webinar::export;

use crate::error::ApiError;
use crate::state::AppState;

/// Registrations read per database query.
const PAGE: u64 = 500;

pub async fn registrations_csv(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response, ApiError> {
    let webinar = state.service.webinar_by_slug(&slug).await?;
    let service = state.service.clone();
    let pages = futures::stream::unfold(Some(0_i64), move |after| {
        let service = service.clone();
        async move {
            let after = after?;
            match service.registrations_page(webinar.id, after, PAGE).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = rows.last().map(|row| row.id);
                    Some((export::csv_rows(&rows).map(Bytes::from).map_err(std::io::Error::other), next))
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
