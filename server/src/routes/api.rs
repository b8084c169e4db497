//! The public JSON API and the live-count websocket. Handlers only translate;
//! the domain's `Service` decides.
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use webinar::{LiveCount, RegistrationRequest};

use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;

/// Query parameters; a malformed query answers a JSON error like a malformed body.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebinarQuery {
    /// A webinar's slug; the next upcoming published webinar when absent.
    webinar: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// A webinar's slug; the next upcoming published webinar when absent.
    webinar: Option<String>,
    /// One of the webinar's session ids: its count is answered too.
    session: Option<i64>,
}

/// The same answer whether or not the address was registered before, so it
/// tells nobody who is registered; the registrant's links go by email only.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Registered {
    /// The webinar's slug.
    webinar: String,
    /// The id of the session registered for (registering for another session
    /// of the webinar moves the registration there).
    session: i64,
    /// Registrations for the webinar over all its sessions, this one included.
    registrations: u64,
    /// Registrations for the session, this one included.
    session_registrations: u64,
}

/// Registers a person for a webinar; the confirmation email and the
/// reminders are queued in the same transaction.
#[utoipa::path(post, path = "/api/webinar/register", tag = "registration",
    request_body = RegistrationRequest,
    responses(
        (status = 201, description = "Registered (also when the address was registered already: nothing new is written, and the answer is the same)", body = Registered),
        (status = 404, description = "No published webinar has that slug, or it has no session with that id", body = ErrorResponse),
        (status = 409, description = "Registration is closed (full, ended or cancelled), for the webinar or the session asked for", body = ErrorResponse),
        (status = 413, description = "The body is larger than 16 KiB", body = ErrorResponse),
        (status = 422, description = "Invalid JSON or fields; `fields` names them", body = ErrorResponse),
        (status = 429, description = "Too many registrations from this address; see Retry-After", body = ErrorResponse),
        (status = 503, description = "The database is unreachable", body = ErrorResponse),
    ))]
pub async fn register(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Size is checked before any handler runs (`hardening::checked_input`).
    let (request, _): (RegistrationRequest, _) = json_body(body)?;
    let outcome = state.service.register(request).await?;
    let body = Registered {
        webinar: outcome.webinar.slug,
        session: outcome.session.id,
        registrations: outcome.registrations,
        session_registrations: outcome.session_registrations,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A JSON body read and parsed, and its bytes as they came.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<(T, Bytes), ApiError> {
    let body = body.map_err(|rejection| ApiError::BadBody { message: rejection.body_text(), field: None })?;
    Ok((parse_json(&body)?, body))
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
#[utoipa::path(get, path = "/api/webinar/stats", tag = "registration", params(StatsQuery),
    responses(
        (status = 200, description = "The registration count", body = webinar::Stats),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, description = "No published webinar has that slug, or it has no session with that id", body = ErrorResponse),
        (status = 429, description = "Too many requests from this address", body = ErrorResponse),
        (status = 503, description = "No count is known and the database is unreachable", body = ErrorResponse),
    ))]
pub async fn stats(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StatsQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let stats = state.stats.get(&state.service, query.webinar.as_deref(), query.session).await?;
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

/// A websocket: sends `{"registrations": N}` on connect and after every change.
#[utoipa::path(get, path = "/api/webinar/live", tag = "registration", params(WebinarQuery),
    responses(
        (status = 101, description = "Switching to a websocket of `{\"registrations\": N, \"sessions\": {\"id\": n}}` text messages: the total, and each session's count the change moved (on connect, every open session's)"),
        (status = 404, description = "No published webinar has that slug", body = ErrorResponse),
        (status = 426, description = "Not a websocket request", body = ErrorResponse),
        (status = 429, description = "Too many requests, or too many open websockets, from this address", body = ErrorResponse),
    ))]
pub async fn live(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiQuery(query): ApiQuery<WebinarQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|rejection| ApiError::NotWebSocket { message: rejection.body_text() })?;
    let client = state.limits.client_ip(peer.ip(), &headers);
    let Some(admitted) = state.connections.admit_websocket(client) else {
        return Err(ApiError::TooManyWebSockets);
    };
    let landing = state.service.landing(query.webinar.as_deref(), None).await?;
    let current = LiveCount {
        registrations: landing.registrations,
        sessions: landing.sessions.iter().map(|(session, registrations)| (session.id, *registrations)).collect(),
    };
    let counts = state.live.subscribe(landing.webinar.id, current.clone());
    // Messages are a few bytes each way: small buffers keep 10,000 sockets cheap.
    let upgrade = upgrade.read_buffer_size(SOCKET_BUFFER).write_buffer_size(0).max_message_size(SOCKET_BUFFER);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _admitted = admitted;
        push_counts(socket, counts, current).await
    }))
}

/// Counts this instance's open websockets (`webinar_websocket_clients`) while alive.
struct ClientGauge;

impl ClientGauge {
    fn open() -> Self {
        metrics::gauge!("webinar_websocket_clients").increment(1.0);
        ClientGauge
    }
}

impl Drop for ClientGauge {
    fn drop(&mut self) {
        metrics::gauge!("webinar_websocket_clients").decrement(1.0);
    }
}

async fn push_counts(mut socket: WebSocket, mut counts: watch::Receiver<LiveCount>, current: LiveCount) {
    let _client = ClientGauge::open();
    counts.mark_unchanged();
    if send_count(&mut socket, &current).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            changed = counts.changed() => {
                let count = counts.borrow_and_update().clone();
                if changed.is_err() || send_count(&mut socket, &count).await.is_err() {
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

async fn send_count(socket: &mut WebSocket, count: &LiveCount) -> Result<(), ()> {
    // A map of numbers always serializes.
    let text = serde_json::to_string(count).unwrap_or_default();
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
