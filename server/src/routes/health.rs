//! `/healthz` (the process is up) and `/readyz` (it can do its work), as JSON
//! for load balancers and people alike.
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` while a configured Redis is unreachable.
    status: &'static str,
    /// `off` (not configured), `ok` or `unreachable`.
    redis: &'static str,
    /// `redis` (shared by every instance) or `in-process`.
    rate_limits: &'static str,
    /// `redis` or `in-process`.
    live_counts: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `ok`, or `unavailable` when this instance cannot serve registrations.
    status: &'static str,
    /// `ok` or `unreachable`.
    database: &'static str,
    /// Migrations this binary has that the database lacks (0 when current); null when
    /// unreachable, or when the database has migrations this binary does not know.
    pending_migrations: Option<usize>,
    redis: &'static str,
    /// The email queue's lag, so a stopped worker is visible; null when unreachable.
    queue: Option<QueueLag>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueLag {
    /// Jobs due now and not yet sent.
    due: u64,
    /// Seconds the oldest of them has been due.
    oldest_due_age_seconds: Option<i64>,
}

fn redis_state(state: &AppState) -> &'static str {
    match &state.redis {
        None => "off",
        Some(redis) if redis.is_up() => "ok",
        Some(_) => "unreachable",
    }
}

/// The process is up; and whether Redis is shared or we run on in-process
/// fallbacks. No I/O: load balancers may call it often.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let redis = redis_state(&state);
    let shared = if redis == "ok" { "redis" } else { "in-process" };
    Json(Health {
        status: if redis == "unreachable" { "degraded" } else { "ok" },
        redis,
        rate_limits: state.limits.mode(),
        live_counts: shared,
    })
}

/// Ready to serve: the database answers and its schema is this binary's;
/// plus Redis and the email queue's lag. Redis down is not "unready" (the
/// app degrades to in-process state), a database that cannot be reached or
/// is behind this binary's migrations is.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "The database is unreachable, or its schema is not this binary's", body = Ready),
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let redis = redis_state(&state);
    let lag = match state.service.queue_lag().await {
        Ok(lag) => lag,
        Err(error) => {
            tracing::warn!(%error, "readyz: database unreachable");
            let body =
                Ready { status: "unavailable", database: "unreachable", pending_migrations: None, redis, queue: None };
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
        }
    };
    // An error here means the database holds migrations this binary does not know (it is newer).
    let pending = state.service.pending_migrations().await.map_err(|error| {
        tracing::warn!(%error, "readyz: the database schema does not match this binary");
    });
    let current = pending == Ok(0);
    let oldest_due_age_seconds = lag.oldest_due_at.map(|at| (state.service.now() - at).num_seconds().max(0));
    let body = Ready {
        status: if current { "ok" } else { "unavailable" },
        database: "ok",
        pending_migrations: pending.ok(),
        redis,
        queue: Some(QueueLag { due: lag.due, oldest_due_age_seconds }),
    };
    (if current { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
