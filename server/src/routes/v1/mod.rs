//! The admin API for programs (`/api/v1`): webinars, their sessions, registrations, the
//! suppression list and webhooks, with
//! a bearer token (the admin guard checks it and its scope before any of
//! this runs). Handlers only translate; the domain's `webinar::api` decides.
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use webinar::api::idempotency::Answer;
use webinar::api::webinars::Answered;

use crate::state::AppState;

pub mod registrations;
pub mod sessions;
pub mod suppressions;
pub mod webhooks;
pub mod webinars;

/// The routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webinars::list, webinars::create))
        .routes(routes!(webinars::show, webinars::update))
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(sessions::show, sessions::update, sessions::remove))
        .routes(routes!(registrations::list))
        .routes(routes!(registrations::show, registrations::erase))
        .routes(routes!(registrations::emails))
        .routes(routes!(suppressions::list))
        .routes(routes!(suppressions::remove))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::show, webhooks::update, webhooks::remove))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
}

/// The API's security scheme in the OpenAPI description: `token`, HTTP bearer.
pub struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token (`wbt_…`) from the admin's API tokens page or `server create-token`. \
                 A `read` token may only GET.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("token", SecurityScheme::Http(scheme));
    }
}

/// JSON in the answer's status; a stored answer given again for a repeated
/// `Idempotency-Key` says so in `Idempotent-Replayed: true`.
fn answered(answered: Answered) -> Response {
    let status = StatusCode::from_u16(answered.answer.status).unwrap_or(StatusCode::OK);
    let mut response =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], answered.answer.body)
            .into_response();
    if answered.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A resource as the JSON answer to keep for its idempotency key.
fn json_answer(status: StatusCode, resource: &impl serde::Serialize) -> Answer {
    // The API's resources are plain structs with string keys: they always serialize.
    Answer { status: status.as_u16(), body: serde_json::to_string(resource).unwrap_or_default() }
}

/// Lists answer `{"data": [...]}`, so a list can gain fields without breaking readers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
}

fn listed<T: serde::Serialize>(data: Vec<T>) -> Json<List<T>> {
    Json(List { data })
}
