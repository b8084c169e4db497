//! What crosses the wire between the page and the server: views, the error
//! type and the server functions. The functions only translate; the domain
//! crate decides.
// A server function takes one argument per form field, so `ActionForm` can post
// the form as it is; the generated client function inherits that arity.
#![allow(clippy::too_many_arguments)]
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldErrorView {
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeakerView {
    pub name: String,
    pub title: String,
    pub photo_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgendaItemView {
    pub at: String,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LandingView {
    pub slug: String,
    pub title: String,
    pub subtitle: String,
    /// The description's Markdown as sanitized HTML (safe to insert as is).
    pub description_html: String,
    pub speakers: Vec<SpeakerView>,
    pub agenda: Vec<AgendaItemView>,
    /// The next session's start in the webinar's zone, with zone name and UTC offset.
    pub start_local: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    /// Over every session.
    pub registrations: u64,
    /// The sessions a visitor may pick, the next first (one: nothing to pick).
    pub sessions: Vec<SessionChoiceView>,
    /// The session the form starts on.
    pub session: Option<i64>,
    /// Why registration is closed, in words; `None` while open.
    pub closed: Option<String>,
    /// After a form post without JavaScript succeeded: the name the visitor
    /// typed (from their own short-lived cookie; never from the URL).
    pub registered_name: Option<String>,
    /// Set after a form post without JavaScript was rejected.
    pub form_errors: Vec<FieldErrorView>,
}

/// One session a visitor may pick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionChoiceView {
    pub id: i64,
    pub start_local: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub registrations: u64,
    /// Its seats, so the page can tell it is full, and fills while it is open.
    pub seats: Option<u64>,
}

/// Whether `registrations` take every one of `seats` (never, without a limit).
pub fn fills(seats: Option<u64>, registrations: u64) -> bool {
    seats.is_some_and(|seats| registrations >= seats)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisteredView {
    pub name: String,
    pub registrations: u64,
    /// The session registered for, and its count.
    pub session: i64,
    pub session_registrations: u64,
}

/// The server functions' error, shown to a person as it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please correct the highlighted fields.")]
    Invalid(Vec<FieldErrorView>),
    #[error("This webinar does not exist or is not published yet.")]
    NotFound,
    #[error("{0}")]
    Closed(String),
    #[error("Too many attempts — try again in {retry_after_seconds} s.")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error("Registration is temporarily unavailable: we cannot reach our database. Please try again in a minute.")]
    Unavailable,
    #[error("The email or password is not correct.")]
    LoginFailed,
    #[error("Please log in.")]
    Unauthorized,
    /// Saving would email registrants: the editor confirms first.
    #[error("{0}")]
    NeedsConfirmation(String),
    #[error("{0}")]
    DeliveryFailed(String),
    /// The call's arguments could not be read (a field missing or malformed).
    #[error("The request is malformed: {0}")]
    BadRequest(String),
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Server,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => AppError::Unreachable,
            ServerFnErrorErr::Args(message)
            | ServerFnErrorErr::MissingArg(message)
            | ServerFnErrorErr::Deserialization(message) => AppError::BadRequest(message),
            _ => AppError::Server,
        }
    }
}

impl AppError {
    /// The HTTP status a server function answers with this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Invalid(_) => 422,
            AppError::NotFound => 404,
            AppError::Closed(_) | AppError::NeedsConfirmation(_) => 409,
            AppError::DeliveryFailed(_) => 502,
            AppError::TooManyAttempts { .. } => 429,
            AppError::LoginFailed | AppError::Unauthorized => 401,
            AppError::Unavailable | AppError::Unreachable => 503,
            AppError::Server => 500,
        }
    }

    /// The message, and for invalid input each field's own: for a form
    /// that shows its errors in one place.
    pub fn in_full(&self) -> String {
        match self {
            AppError::Invalid(fields) => {
                fields.iter().map(|error| error.message.as_str()).collect::<Vec<_>>().join(" ")
            }
            other => other.to_string(),
        }
    }

    pub fn field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid(fields) => {
                fields.iter().find(|error| error.field == field).map(|error| error.message.clone())
            }
            _ => None,
        }
    }
}

#[server(prefix = "/api/fn", endpoint = "landing")]
pub async fn get_landing(
    slug: Option<String>,
    icp: Option<String>,
    registered: Option<String>,
    invalid: Option<String>,
) -> Result<LandingView, AppError> {
    ssr::answered(ssr::landing(slug, icp, registered, invalid).await)
}

#[server(prefix = "/api/fn", endpoint = "register")]
pub async fn register(
    webinar: Option<String>,
    session: Option<String>,
    name: String,
    email: String,
    company: Option<String>,
    icp: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
) -> Result<RegisteredView, AppError> {
    let session = ssr::session_id(session.as_deref());
    let request = webinar::RegistrationRequest {
        webinar,
        session: None,
        name,
        email,
        company,
        icp,
        utm_source,
        utm_medium,
        utm_campaign,
    };
    ssr::answered(ssr::register(request, session).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use super::*;
    use webinar::registration::{COMPANY_MESSAGE, NAME_MESSAGE};
    use webinar::{DomainError, RegistrationRequest, Service};

    pub(crate) fn service() -> Result<Service, AppError> {
        use_context::<Service>().ok_or(AppError::Server)
    }

    impl From<DomainError> for AppError {
        fn from(error: DomainError) -> Self {
            match error {
                DomainError::Invalid(fields) => AppError::Invalid(
                    fields.into_iter().map(|f| FieldErrorView { field: f.field, message: f.message }).collect(),
                ),
                DomainError::WebinarNotFound
                | DomainError::RegistrationNotFound
                | DomainError::WebhookNotFound
                | DomainError::DeliveryNotFound => AppError::NotFound,
                // The visitor's form named a time that is not the webinar's: say so where they can act.
                error @ DomainError::SessionNotFound => {
                    AppError::Invalid(vec![FieldErrorView { field: "session".into(), message: error.to_string() }])
                }
                error @ DomainError::NotSuppressed => {
                    AppError::Invalid(vec![FieldErrorView { field: "email".into(), message: error.to_string() }])
                }
                DomainError::Closed(reason) => AppError::Closed(reason.message().to_owned()),
                DomainError::Unavailable(error) => {
                    tracing::error!(%error, "database unreachable in a server function");
                    AppError::Unavailable
                }
                DomainError::NeedsConfirmation(message) => AppError::NeedsConfirmation(message),
                error @ DomainError::DeliveryFailed(_) => AppError::DeliveryFailed(error.to_string()),
                error @ (DomainError::IdempotencyKeyReused
                | DomainError::WebhookDisabled
                | DomainError::SessionHasRegistrants
                | DomainError::LastSession) => AppError::BadRequest(error.to_string()),
                error @ (DomainError::Internal(_) | DomainError::Rendering(_) | DomainError::MailUnavailable) => {
                    tracing::error!(%error, "internal error in a server function");
                    AppError::Server
                }
            }
        }
    }

    /// A failed call answers with its error's status (not the default 500),
    /// except to a plain form post, which is redirected back to its page.
    pub(crate) fn answered<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(error) = &result
            && !is_plain_form_post()
            && let (Some(response), Ok(status)) =
                (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(error.status()))
        {
            response.set_status(status);
        }
        result
    }

    /// A plain form post (no JavaScript) asks for HTML back.
    pub(crate) fn is_plain_form_post() -> bool {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.headers.get(http::header::ACCEPT)?.to_str().ok().map(|v| v.contains("text/html")))
            .unwrap_or(false)
    }

    /// The cookie that carries a no-JavaScript registrant's typed name to the
    /// page they are sent back to: set by our own answer only, so no link can
    /// put words on the page.
    const REGISTERED_COOKIE: &str = "webinar_registered";

    /// Answers the same way whether or not the address was registered before:
    /// the same status, the name the visitor typed, the same redirect. The
    /// registrant's links travel by email only.
    pub async fn register(
        request: RegistrationRequest,
        session: Result<Option<i64>, DomainError>,
    ) -> Result<RegisteredView, AppError> {
        let typed_name = request.typed_name();
        let service = service()?;
        let result = match session {
            Ok(session) => service.register(RegistrationRequest { session, ..request }).await,
            Err(error) => Err(error),
        };
        if is_plain_form_post() {
            // Without JavaScript the page reloads: the outcome goes in its URL
            // as fixed words only, and the typed name in a cookie of our own.
            let (slug, query) = match &result {
                Ok(outcome) => {
                    set_registered_cookie(&typed_name);
                    (Some(outcome.webinar.slug.as_str()), "registered=1".to_owned())
                }
                Err(DomainError::Invalid(fields)) => {
                    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                    (None, format!("invalid={}", names.join(",")))
                }
                Err(DomainError::SessionNotFound) => (None, "invalid=session".to_owned()),
                Err(_) => (None, String::new()),
            };
            leptos_axum::redirect(&back_to_page(slug, &query));
        }
        let outcome = result?;
        Ok(RegisteredView {
            name: typed_name,
            registrations: outcome.registrations,
            session: outcome.session.id,
            session_registrations: outcome.session_registrations,
        })
    }

    /// Where a plain form post goes back to: the webinar registered for, or
    /// the page the form was on (the `Referer` path), never a URL built from
    /// the posted fields.
    fn back_to_page(slug: Option<&str>, query: &str) -> String {
        let path = match slug {
            Some(slug) => format!("/webinars/{slug}"),
            None => use_context::<http::request::Parts>()
                .and_then(|parts| parts.headers.get(http::header::REFERER)?.to_str().ok()?.parse::<http::Uri>().ok())
                .map(|referer| referer.path().to_owned())
                .filter(|path| path == "/" || path.starts_with("/webinars/"))
                .unwrap_or_else(|| "/".to_owned()),
        };
        match query.is_empty() {
            true => format!("{path}#register"),
            false => format!("{path}?{query}#register"),
        }
    }

    fn set_registered_cookie(name: &str) {
        let value: String = name.bytes().map(|byte| format!("{byte:02x}")).collect();
        let cookie = format!("{REGISTERED_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
        if let (Some(response), Ok(cookie)) = (use_context::<leptos_axum::ResponseOptions>(), cookie.parse()) {
            response.append_header(http::header::SET_COOKIE, cookie);
        }
    }

    /// The name in this request's registered cookie, if it holds one.
    fn registered_cookie() -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
        let value = crate::cookie(&parts.headers, REGISTERED_COOKIE)?;
        let bytes: Option<Vec<u8>> = (0..value.len())
            .step_by(2)
            .map(|at| value.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
            .collect();
        String::from_utf8(bytes?).ok().filter(|name| !name.is_empty() && !name.chars().any(char::is_control))
    }

    pub async fn landing(
        slug: Option<String>,
        icp: Option<String>,
        registered: Option<String>,
        invalid: Option<String>,
    ) -> Result<LandingView, AppError> {
        let service = service()?;
        let landing = service.landing(slug.as_deref(), icp.as_deref()).await?;
        let registered_name = registered.is_some().then(registered_cookie).flatten();
        let form_errors = invalid.as_deref().map(form_errors_named).unwrap_or_default();
        Ok(LandingView { registered_name, form_errors, ..landing_view(landing) })
    }

    /// The session a form picked: empty is none (the next open one); anything
    /// but an id names no session of the webinar.
    pub fn session_id(raw: Option<&str>) -> Result<Option<i64>, DomainError> {
        match raw.map(str::trim).filter(|raw| !raw.is_empty()) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| DomainError::SessionNotFound),
        }
    }

    /// A landing page's view, in the visitor's ICP copy when it has one.
    pub(crate) fn landing_view(landing: webinar::Landing) -> LandingView {
        let webinar = landing.webinar;
        let zone = webinar.tz();
        let sessions = landing
            .sessions
            .into_iter()
            .map(|(session, registrations)| SessionChoiceView {
                id: session.id,
                start_local: session.start_local(zone),
                starts_at: session.starts_at.to_rfc3339(),
                seats: session.capacity.map(|capacity| u64::try_from(capacity).unwrap_or(0)),
                registrations,
            })
            .collect();
        let (title, subtitle) = match landing.variant {
            Some(variant) => (variant.headline, variant.intro),
            None => (webinar.title.clone(), webinar.subtitle.clone()),
        };
        LandingView {
            registered_name: None,
            form_errors: Vec::new(),
            speakers: webinar
                .speakers()
                .into_iter()
                .map(|speaker| SpeakerView { name: speaker.name, title: speaker.title, photo_url: speaker.photo_url })
                .collect(),
            agenda: webinar
                .agenda()
                .into_iter()
                .map(|item| AgendaItemView { at: item.at, title: item.title })
                .collect(),
            description_html: webinar::email::markdown::to_safe_html(&webinar.description),
            start_local: landing.session.as_ref().map(|session| session.start_local(zone)).unwrap_or_default(),
            starts_at: landing.session.as_ref().map(|session| session.starts_at.to_rfc3339()).unwrap_or_default(),
            session: landing.session.map(|session| session.id),
            sessions,
            registrations: landing.registrations,
            closed: landing.closed.map(|reason| reason.message().to_owned()),
            slug: webinar.slug,
            title,
            subtitle,
        }
    }

    /// The messages for fields named in a URL (`invalid=name,email`). Only
    /// known fields map to our own fixed text, so a crafted link cannot put
    /// words on the page.
    fn form_errors_named(names: &str) -> Vec<FieldErrorView> {
        names
            .split(',')
            .filter_map(|field| {
                let message = match field {
                    "name" => NAME_MESSAGE.to_owned(),
                    "email" => webinar::email_address::InvalidEmail.to_string(),
                    "company" => COMPANY_MESSAGE.to_owned(),
                    "session" => DomainError::SessionNotFound.to_string(),
                    _ => return None,
                };
                Some(FieldErrorView { field: field.to_owned(), message })
            })
            .collect()
    }
}
