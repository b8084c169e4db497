//! The domain's one error type. The server maps it to HTTP once.
use sea_orm::DbErr;
use serde::Serialize;

/// One invalid input field, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

/// Why a webinar takes no more registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedReason {
    Cancelled,
    Ended,
    /// Every seat is taken (there is no waitlist).
    Full,
}

impl ClosedReason {
    pub fn message(self) -> &'static str {
        match self {
            ClosedReason::Cancelled => "This webinar was cancelled, so registration is closed.",
            ClosedReason::Ended => "This webinar has already ended, so registration is closed.",
            ClosedReason::Full => "This webinar is full, so registration is closed.",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("some fields are invalid")]
    Invalid(Vec<FieldError>),
    /// Unknown slug, or a draft (drafts are invisible to the public).
    #[error("No published webinar matches that link. Check the webinar's address.")]
    WebinarNotFound,
    #[error("{}", .0.message())]
    Closed(ClosedReason),
    /// The webinar has no session with the id a request named (a session of
    /// another webinar is none of this one's).
    #[error("This webinar has no session with this id. Pick one of the times on its page.")]
    SessionNotFound,
    /// A session with registrants is cancelled, not deleted: they must hear of it.
    #[error("This session has registrants: cancel it instead, and they are emailed a link to pick another time.")]
    SessionHasRegistrants,
    /// A webinar without a session would have no time to show or to register for.
    #[error("This is the webinar's only session: add another first, or cancel the webinar instead.")]
    LastSession,
    /// A link named a registration that no longer exists.
    #[error("This registration no longer exists.")]
    RegistrationNotFound,
    /// Saving would email registrants; the editor must confirm first.
    #[error("{0}")]
    NeedsConfirmation(String),
    /// An address an admin would take off the suppression list is not on it.
    #[error("This address is not on the suppression list.")]
    NotSuppressed,
    /// No webhook endpoint has the id a request named.
    #[error("No webhook has this id.")]
    WebhookNotFound,
    /// The webhook has no delivery with the id a request named.
    #[error("This webhook has no delivery with this id.")]
    DeliveryNotFound,
    /// A disabled endpoint gets nothing, redeliveries included.
    #[error("This webhook is disabled; enable it first, and its pending deliveries resume.")]
    WebhookDisabled,
    /// An `Idempotency-Key` came back with another request than its first.
    #[error(
        "This Idempotency-Key was used with another request in the last 24 hours; send a new key with a new request."
    )]
    IdempotencyKeyReused,
    /// Previews and test emails need the mail setup, which this process lacks.
    #[error("Email is not set up in this process.")]
    MailUnavailable,
    /// The provider refused or could not take a test email.
    #[error("The email could not be sent: {0}")]
    DeliveryFailed(String),
    /// The database cannot be reached, or is too busy to answer now: worth
    /// trying again in a moment (503).
    #[error("database unreachable: {0}")]
    Unavailable(DbErr),
    /// A fault on our side: the database refused a statement, returned what
    /// we cannot read, or a task we rely on stopped (500; the cause is logged,
    /// the person is told something went wrong).
    #[error("internal fault: {0}")]
    Internal(String),
    /// An email template failed to render (a defect in the templates, not in the input).
    #[error("email template error: {0}")]
    Rendering(#[from] minijinja::Error),
}

impl From<DbErr> for DomainError {
    /// Unreachable is the database's answer only when it says so
    /// ([`crate::store::is_unreachable`]); any other database error is ours.
    fn from(error: DbErr) -> Self {
        match crate::store::is_unreachable(&error) {
            true => DomainError::Unavailable(error),
            false => DomainError::Internal(error.to_string()),
        }
    }
}

impl DomainError {
    /// A short, stable name for metrics and logs (never the message, which may hold input).
    pub fn reason(&self) -> &'static str {
        match self {
            DomainError::Invalid(_) => "invalid",
            DomainError::WebinarNotFound => "webinar_not_found",
            DomainError::Closed(ClosedReason::Cancelled) => "cancelled",
            DomainError::Closed(ClosedReason::Ended) => "ended",
            DomainError::Closed(ClosedReason::Full) => "full",
            DomainError::SessionNotFound => "session_not_found",
            DomainError::SessionHasRegistrants => "session_has_registrants",
            DomainError::LastSession => "last_session",
            DomainError::RegistrationNotFound => "registration_not_found",
            DomainError::NeedsConfirmation(_) => "needs_confirmation",
            DomainError::IdempotencyKeyReused => "idempotency_key_reused",
            DomainError::NotSuppressed => "not_suppressed",
            DomainError::WebhookNotFound => "webhook_not_found",
            DomainError::DeliveryNotFound => "delivery_not_found",
            DomainError::WebhookDisabled => "webhook_disabled",
            DomainError::MailUnavailable => "mail_unavailable",
            DomainError::DeliveryFailed(_) => "delivery_failed",
            DomainError::Unavailable(_) => "database",
            DomainError::Internal(_) => "internal",
            DomainError::Rendering(_) => "rendering",
        }
    }
}
