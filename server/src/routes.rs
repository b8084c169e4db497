//! The HTTP surface: pages (Leptos), server functions, JSON API, websocket.
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, response::IntoResponse};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};

use crate::state::AppState;
use crate::{admin_guard, admin_registrations, api, rate_limit, registrant};

pub fn router(state: AppState) -> Router {
    let service = state.service.clone();
    let cookies = state.cookie_policy;
    let context = move || {
        provide_context(service.clone());
        provide_context(cookies);
    };
    let options = state.leptos.clone();
    Router::new()
        .route("/api/webinar/register", post(api::register))
        .route("/api/webinar/stats", get(api::stats))
        .route("/api/webinar/live", get(api::live))
        .route("/api/admin/webinars/{slug}/registrations.csv", get(admin_registrations::registrations_csv))
        .route("/api/admin/registrations/{id}", axum::routing::delete(admin_registrations::erase_registration))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/j/{token}", get(registrant::join))
        .route("/u/{token}", get(registrant::confirm_unsubscribe).post(registrant::unsubscribe))
        .leptos_routes_with_context(&state, generate_route_list(app::App), context.clone(), move || {
            app::shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, app::shell))
        .layer(DefaultBodyLimit::max(api::BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), admin_guard::guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        .with_state(state)
}

/// The process is up; and whether Redis is shared or we run on in-process
/// fallbacks. No I/O: load balancers may call it often.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let redis = match &state.redis {
        None => "off",
        Some(redis) if redis.is_up() => "ok",
        Some(_) => "unreachable",
    };
    let live_counts = if redis == "ok" { "redis" } else { "in-process" };
    Json(serde_json::json!({
        "status": if redis == "unreachable" { "degraded" } else { "ok" },
        "redis": redis,
        "rate_limits": state.limits.mode(),
        "live_counts": live_counts,
    }))
}

/// Ready to serve: the database answers; plus the email queue's lag, so a
/// stopped worker is visible.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.service.queue_lag().await {
        Ok(lag) => {
            let oldest = lag.oldest_due_at.map(|at| (state.service.now() - at).num_seconds().max(0));
            let body = serde_json::json!({
                "status": "ok",
                "database": "ok",
                "queue": { "due": lag.due, "oldest_due_age_seconds": oldest },
            });
            (StatusCode::OK, Json(body))
        }
        Err(error) => {
            tracing::warn!(%error, "readyz: database unreachable");
            let body = serde_json::json!({ "status": "unavailable", "database": "unreachable", "queue": null });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
