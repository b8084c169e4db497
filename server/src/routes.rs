//! The HTTP surface: pages (Leptos), server functions, JSON API, websocket.
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, response::IntoResponse};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};

use crate::state::AppState;
use crate::{api, registrant};

pub fn router(state: AppState) -> Router {
    let service = state.service.clone();
    let context = move || provide_context(service.clone());
    let options = state.leptos.clone();
    Router::new()
        .route("/api/webinar/register", post(api::register))
        .route("/api/webinar/stats", get(api::stats))
        .route("/api/webinar/live", get(api::live))
        .route("/healthz", get(health))
        .route("/j/{token}", get(registrant::join))
        .route("/u/{token}", get(registrant::confirm_unsubscribe).post(registrant::unsubscribe))
        .leptos_routes_with_context(&state, generate_route_list(app::App), context.clone(), move || {
            app::shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, app::shell))
        .layer(DefaultBodyLimit::max(api::BODY_LIMIT))
        .with_state(state)
}

/// Liveness plus what an operator needs at a glance: the database and the email queue.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let lag = state.service.queue_lag().await;
    let queue = match &lag {
        Ok(lag) => serde_json::json!({
            "due": lag.due,
            "oldest_due_age_seconds": lag.oldest_due_at.map(|at| (state.service.now() - at).num_seconds().max(0)),
        }),
        Err(_) => serde_json::Value::Null,
    };
    let healthy = lag.is_ok();
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "degraded" },
        "database": if healthy { "ok" } else { "unreachable" },
        "queue": queue,
    });
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body))
}
