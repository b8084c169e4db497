//! The public JSON API and the live-count websocket. Handlers only translate;
//! the domain's `Service` decides.
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use webinar::RegistrationRequest;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest registration body accepted.
pub const BODY_LIMIT: usize = 16 * 1024;

#[derive(Deserialize)]
pub struct WebinarQuery {
    webinar: Option<String>,
}

#[derive(Serialize)]
struct Registered {
    registration_id: i64,
    webinar: String,
    registrations: u64,
}

pub async fn register(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge { limit: BODY_LIMIT },
        _ => ApiError::BadBody { message: rejection.body_text(), field: None },
    })?;
    let request: RegistrationRequest = parse_json(&body)?;
    let outcome = state.service.register(request).await?;
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    let body = Registered {
        registration_id: outcome.registration.id,
        webinar: outcome.webinar.slug,
        registrations: outcome.registrations,
    };
    Ok((status, Json(body)).into_response())
}

/// Parses JSON, naming the field at fault (`serde_path_to_error`).
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        // `.` is the document itself and `?` a position serde could not name.
        let field = (path != "." && path != "?").then_some(path);
        ApiError::BadBody { message: error.into_inner().to_string(), field }
    })
}

/// The count from the cache, with `ETag` (so pollers get 304s) and
/// `Cache-Control`; while the database is down, the last known count with
/// `"stale": true`.
pub async fn stats(
    State(state): State<AppState>,
    Query(query): Query<WebinarQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let stats = state.stats.get(&state.service, query.webinar.as_deref()).await?;
    let not_modified = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == stats.etag || tag.trim() == "*");
    let headers_out = [(header::ETAG, stats.etag), (header::CACHE_CONTROL, stats.cache_control)];
    Ok(match not_modified {
        true => (StatusCode::NOT_MODIFIED, headers_out).into_response(),
        false => {
            let json = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
            (headers_out, json, stats.body).into_response()
        }
    })
}

/// Sends `{"registrations": N}` on connect and after every change.
pub async fn live(
    State(state): State<AppState>,
    Query(query): Query<WebinarQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let landing = state.service.landing(query.webinar.as_deref(), None).await?;
    let counts = state.live.subscribe(landing.webinar.id, landing.registrations);
    // Messages are a few bytes each way: small buffers keep 10,000 sockets cheap.
    let upgrade = upgrade.read_buffer_size(SOCKET_BUFFER).write_buffer_size(0).max_message_size(SOCKET_BUFFER);
    Ok(upgrade.on_upgrade(move |socket| push_counts(socket, counts, landing.registrations)))
}

async fn push_counts(mut socket: WebSocket, mut counts: watch::Receiver<u64>, current: u64) {
    counts.mark_unchanged();
    if send_count(&mut socket, current).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            changed = counts.changed() => {
                let count = *counts.borrow_and_update();
                if changed.is_err() || send_count(&mut socket, count).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A client that cannot take a message within this is dropped, so it holds
/// nothing (it reconnects and gets the current count).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const SOCKET_BUFFER: usize = 4096;

async fn send_count(socket: &mut WebSocket, registrations: u64) -> Result<(), ()> {
    let text = format!(r#"{{"registrations":{registrations}}}"#);
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
