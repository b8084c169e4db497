//! The HTTP surface: pages (Leptos), server functions, JSON API, websocket.
//!
//! The public API is registered through `utoipa_axum`, so a route and its
//! OpenAPI description (`/api/openapi.json`) cannot drift apart.
use std::sync::{Arc, OnceLock};

use axum::extract::Extension;
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::middleware::{admin_guard, hardening, rate_limit};
use crate::state::AppState;
use crate::{error, observability};
use v1::BearerToken;

pub mod admin_registrations;
pub mod api;
pub mod health;
pub mod provider_events;
pub mod registrant;
pub mod v1;

#[derive(OpenApi)]
#[openapi(
    info(title = "Webinar registration", description = "The public API of a webinar's landing page (register, follow the count, the links in registrants' emails) and the admin API for programs under `/api/v1`. Errors are `{\"error\": {\"code\", \"message\", \"fields\"?}}`."),
    tags(
        (name = "registration", description = "Register and follow the registration count"),
        (name = "registrant", description = "The links in a registrant's emails"),
        (name = "operations", description = "Health, readiness, metrics and this description"),
        (name = "admin-api", description = "The admin API for programs: webinars and registrations, with an API token (`Authorization: Bearer wbt_…`)"),
    ),
    modifiers(&BearerToken)
)]
struct PublicApi;

/// The public routes, each with its OpenAPI operation.
fn public_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PublicApi::openapi())
        .routes(routes!(api::register))
        .routes(routes!(api::stats))
        .routes(routes!(api::live))
        .routes(routes!(registrant::join))
        .routes(routes!(registrant::confirm_unsubscribe, registrant::unsubscribe))
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(observability::metrics_endpoint))
        .routes(routes!(openapi_json))
        .routes(routes!(provider_events::receive))
        .merge(v1::routes())
}

/// This description of the public API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 JSON", content_type = "application/json")))]
async fn openapi_json(
    Extension(description): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(description.as_ref().clone())
}

/// The pages' routes, generated once per process. Generating them renders
/// the app with a process-wide flag set that parks every resource first
/// polled meanwhile, forever (leptos_server's `SuppressResourceLoad`): a
/// second application built in a process that already serves (the in-process
/// tests do) would hang a page being rendered at that moment.
pub fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

pub fn router(state: AppState) -> Router {
    let service = state.service.clone();
    let cookies = state.cookie_policy;
    let context = move || {
        provide_context(service.clone());
        provide_context(cookies);
    };
    let options = state.leptos.clone();
    let (public, description) = public_api().split_for_parts();
    let (set_request_id, propagate_request_id) = observability::request_ids();
    // Layers run outside in, from the last added: request id, logs and
    // metrics, security headers, time limit, rate limit, input checks and
    // body limit, planted form errors, admin guard, server functions' error status.
    public
        .layer(Extension(Arc::new(description)))
        .route("/api/admin/webinars/{slug}/registrations.csv", get(admin_registrations::registrations_csv))
        .route("/api/admin/registrations/{id}", axum::routing::delete(admin_registrations::erase_registration))
        .leptos_routes_with_context(&state, page_routes(), context.clone(), move || app::shell(options.clone()))
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, app::shell))
        .layer(axum::middleware::from_fn(error::server_function_status))
        .layer(axum::middleware::from_fn_with_state(state.clone(), admin_guard::guard))
        .layer(axum::middleware::from_fn(hardening::drop_action_errors))
        .layer(axum::middleware::from_fn(hardening::checked_input))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), hardening::time_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), hardening::security_headers))
        .layer(axum::middleware::from_fn(observability::track))
        .layer(propagate_request_id)
        .layer(set_request_id)
        .with_state(state)
}
