//! `POST /api/sendgrid/events`: SendGrid's signed Event Webhook. The
//! signature and timestamp are checked against the raw body before anything
//! is read from it; then the batch is stored in one go (the domain's
//! `deliverability`).
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde::Serialize;
use webinar::deliverability::event::SendGridEvent;

use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;

const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

/// What a batch did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Received {
    pub received: usize,
    /// Not seen before; the rest repeated stored events and changed nothing.
    pub new: usize,
    /// Entries without the fields every event has (`email`, `timestamp`, `event`, `sg_event_id`).
    pub skipped: usize,
    pub suppressed_addresses: usize,
    pub suppressed_jobs: u64,
}

/// SendGrid's events (delivered, bounce, open, …), each tied to its email
/// by the `job_id` the message carried. A hard bounce, a spam report or an
/// unsubscribe suppresses the address: its pending emails end as suppressed.
#[utoipa::path(post, path = "/api/sendgrid/events", tag = "operations",
    request_body(content = Vec<Object>, description = "SendGrid's event batch, up to 10,000 events"),
    params(
        ("X-Twilio-Email-Event-Webhook-Signature" = String, Header, description = "base64 DER ECDSA P-256 signature of timestamp + body"),
        ("X-Twilio-Email-Event-Webhook-Timestamp" = String, Header, description = "Unix seconds; at most 5 minutes from now"),
    ),
    responses(
        (status = 200, description = "Stored (each event once)", body = Received),
        (status = 403, description = "No or a wrong signature, an old timestamp, or no key set up: nothing changed", body = ErrorResponse),
        (status = 422, description = "Not a JSON array, or more than 10,000 events", body = ErrorResponse),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Received>, ApiError> {
    let body = body.map_err(|rejection| ApiError::BadBody { message: rejection.body_text(), field: None })?;
    let key = state.event_key.as_ref().ok_or(ApiError::EventsRefused("no SENDGRID_WEBHOOK_PUBLIC_KEY is set"))?;
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    key.verify(header(SIGNATURE), header(TIMESTAMP), &body, state.service.now()).map_err(|refused| {
        tracing::warn!(%refused, "provider events refused");
        ApiError::EventsRefused(match refused {
            webinar::deliverability::signature::Refused::Missing => "the signature or timestamp header is missing",
            webinar::deliverability::signature::Refused::Stale => "the timestamp is more than 5 minutes from now",
            webinar::deliverability::signature::Refused::Mismatch => "the signature does not match the body",
        })
    })?;
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|error| ApiError::BadBody {
        message: format!("expected a JSON array of events: {error}"),
        field: None,
    })?;
    let received = entries.len();
    let events: Vec<SendGridEvent> =
        entries.into_iter().filter_map(|entry| serde_json::from_value(entry).ok()).collect();
    let skipped = received - events.len();
    let ingested = state.service.ingest_provider_events(events).await?;
    Ok(Json(Received {
        received,
        new: ingested.new,
        skipped,
        suppressed_addresses: ingested.suppressed_addresses,
        suppressed_jobs: ingested.suppressed_jobs,
    }))
}
