//! The HTTP layer's one error type, mapped once to a status and
//! `{"error": {"code", "message", "fields"?}}`.
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use webinar::{DomainError, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("The request body is not valid: {message}")]
    BadBody { message: String, field: Option<String> },
    #[error("The request body is larger than {limit} bytes.")]
    TooLarge { limit: usize },
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<FieldError>>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, Option<Vec<FieldError>>) {
        match self {
            ApiError::Domain(DomainError::Invalid(fields)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", Some(fields.clone()))
            }
            ApiError::Domain(DomainError::WebinarNotFound) => (StatusCode::NOT_FOUND, "webinar_not_found", None),
            ApiError::Domain(DomainError::RegistrationNotFound) => {
                (StatusCode::NOT_FOUND, "registration_not_found", None)
            }
            ApiError::Domain(DomainError::Closed(_)) => (StatusCode::CONFLICT, "registration_closed", None),
            ApiError::Domain(DomainError::Database(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", None)
            }
            ApiError::Domain(DomainError::Rendering(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
            ApiError::BadBody { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                field.as_ref().map(|field| vec![FieldError::new(field, message.clone())]),
            ),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, fields) = self.parts();
        let message = match &self {
            ApiError::Domain(DomainError::Database(error)) => {
                tracing::error!(%error, "database error");
                "The service is temporarily unavailable. Please try again in a moment.".to_owned()
            }
            ApiError::Domain(error @ DomainError::Rendering(_)) => {
                tracing::error!(%error, "internal error");
                "Something went wrong on our side. Please try again in a moment.".to_owned()
            }
            ApiError::Domain(DomainError::Invalid(_)) => "Some fields are invalid; see `fields`.".to_owned(),
            other => other.to_string(),
        };
        (status, Json(Body { error: ErrorBody { code, message, fields } })).into_response()
    }
}
