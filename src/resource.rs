//! The resources: what the admin API (`/api/v1`) answers with, and what a
//! webhook carries. Their fields are the API's contract: rename none.
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::deliverability::{event, suppression};
use crate::email::Kind;
use crate::email::copy as email_copy;
use crate::email::links::Links;
use crate::webhook::EventType;
use crate::webhook::delivery::{self, DeliveryLog};
use crate::webhook::endpoint::Endpoint;
use crate::webinar::{self, AgendaItem, Speaker, Status, icp_variant};
use crate::{queue, registration, session};

/// One occurrence of a webinar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionResource {
    pub id: i64,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    /// The meeting link registrants are sent to (through their own `/j/` link).
    pub join_url: String,
    /// Seats; `null` for no limit.
    pub capacity: Option<i32>,
    pub status: session::Status,
    pub registrations: u64,
}

impl SessionResource {
    pub fn new(session: session::Model, registrations: u64) -> Self {
        Self {
            id: session.id,
            starts_at: session.starts_at,
            duration_minutes: session.duration_minutes,
            join_url: session.join_url,
            capacity: session.capacity,
            status: session.status,
            registrations,
        }
    }

    /// A webinar's sessions, each with its count.
    pub async fn of_webinar<C: sea_orm::ConnectionTrait>(db: &C, webinar_id: i64) -> Result<Vec<Self>, sea_orm::DbErr> {
        let counts = registration::count::by_session(db, [webinar_id]).await?;
        let sessions = session::of_webinar(db, webinar_id).await?;
        Ok(sessions.into_iter().map(|session| Self::with_count(session, &counts)).collect())
    }

    fn with_count(session: session::Model, counts: &std::collections::HashMap<i64, u64>) -> Self {
        let registrations = counts.get(&session.id).copied().unwrap_or(0);
        Self::new(session, registrations)
    }
}

/// A webinar with everything the admin editor edits. `starts_at`,
/// `duration_minutes`, `join_url` and `capacity` are those of its next
/// session (its only one, for a webinar that runs once); `sessions` lists
/// every one.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct WebinarResource {
    pub slug: String,
    pub title: String,
    pub subtitle: String,
    /// Markdown.
    pub description: String,
    pub speakers: Vec<Speaker>,
    pub agenda: Vec<AgendaItem>,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    /// IANA name, e.g. `Europe/Berlin`: how the start is shown.
    pub timezone: String,
    pub join_url: String,
    /// Seats; `null` for no limit.
    pub capacity: Option<i32>,
    pub status: Status,
    /// Over every session.
    pub registrations: u64,
    /// In start order.
    pub sessions: Vec<SessionResource>,
    pub icp_variants: Vec<VariantResource>,
    pub email_copy: Vec<EmailCopyResource>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webinar's sessions with their counts, and when they are looked at.
pub struct Timetable {
    pub sessions: Vec<session::Model>,
    pub counts: std::collections::HashMap<i64, u64>,
    pub now: DateTime<Utc>,
}

/// The landing page's headline and intro for visitors from one ICP (`?icp=`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct VariantResource {
    pub icp: String,
    pub headline: String,
    pub intro: String,
}

/// Marketing's own copy for one email kind, for everyone (`icp` empty) or one ICP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EmailCopyResource {
    pub kind: Kind,
    pub icp: String,
    pub subject: String,
    /// Markdown with `{{ variables }}`.
    pub body: String,
}

impl WebinarResource {
    /// Webinar `webinar` with its sessions, counts, variants and email copy,
    /// as it stands at `now` (which session is next).
    pub async fn load<C: sea_orm::ConnectionTrait>(
        db: &C,
        webinar: webinar::Model,
        now: DateTime<Utc>,
    ) -> Result<Self, sea_orm::DbErr> {
        let sessions = session::of_webinar(db, webinar.id).await?;
        let counts = registration::count::by_session(db, [webinar.id]).await?;
        let variants = icp_variant::for_webinar(db, webinar.id).await?;
        let copies = email_copy::for_webinars(db, [webinar.id]).await?;
        Ok(Self::new(webinar, Timetable { sessions, counts, now }, variants, copies))
    }

    pub fn new(
        webinar: webinar::Model,
        timetable: Timetable,
        variants: Vec<icp_variant::Model>,
        copies: Vec<email_copy::Model>,
    ) -> Self {
        let Timetable { sessions, counts, now } = timetable;
        let next = session::representative(&sessions, now).cloned();
        Self {
            speakers: webinar.speakers(),
            agenda: webinar.agenda(),
            slug: webinar.slug,
            title: webinar.title,
            subtitle: webinar.subtitle,
            description: webinar.description,
            starts_at: next.as_ref().map(|next| next.starts_at).unwrap_or(webinar.created_at),
            duration_minutes: next.as_ref().map(|next| next.duration_minutes).unwrap_or_default(),
            timezone: webinar.timezone,
            join_url: next.as_ref().map(|next| next.join_url.clone()).unwrap_or_default(),
            capacity: next.as_ref().and_then(|next| next.capacity),
            status: webinar.status,
            registrations: counts.values().sum(),
            sessions: sessions.into_iter().map(|session| SessionResource::with_count(session, &counts)).collect(),
            icp_variants: variants
                .into_iter()
                .map(|variant| VariantResource { icp: variant.icp, headline: variant.headline, intro: variant.intro })
                .collect(),
            email_copy: copies
                .into_iter()
                .map(|copy| EmailCopyResource {
                    kind: copy.kind,
                    icp: copy.icp,
                    subject: copy.subject,
                    body: copy.body,
                })
                .collect(),
            created_at: webinar.created_at,
            updated_at: webinar.updated_at,
        }
    }
}

/// A registrant, with the links their emails carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegistrationResource {
    pub id: i64,
    /// The webinar's slug.
    pub webinar: String,
    /// The id of the session they are in.
    pub session: i64,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub icp: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub registered_at: DateTime<Utc>,
    /// When they unsubscribed from the webinar's emails, if they did.
    pub unsubscribed_at: Option<DateTime<Utc>>,
    /// Their personal join link.
    pub join_url: String,
    /// Their unsubscribe link (it asks before it acts).
    pub unsubscribe_url: String,
}

impl RegistrationResource {
    pub fn new(registration: registration::Model, webinar_slug: &str, links: &Links) -> Self {
        Self {
            join_url: links.join_url(&registration.token),
            unsubscribe_url: links.unsubscribe_url(registration.id),
            id: registration.id,
            webinar: webinar_slug.to_owned(),
            session: registration.session_id,
            name: registration.name,
            email: registration.email,
            company: registration.company,
            icp: registration.icp,
            utm_source: registration.utm_source,
            utm_medium: registration.utm_medium,
            utm_campaign: registration.utm_campaign,
            registered_at: registration.created_at,
            unsubscribed_at: registration.unsubscribed_at,
        }
    }
}

/// One email a registrant is due or was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EmailJobResource {
    pub id: i64,
    pub kind: Kind,
    /// When it is (or was) due.
    pub due_at: DateTime<Utc>,
    pub status: queue::Status,
    pub attempts: i32,
    /// The provider's answer to the latest failed attempt, or why it was cancelled.
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// What the provider reported about it, oldest first.
    pub events: Vec<EmailEventResource>,
}

/// One thing the provider reported about an email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EmailEventResource {
    /// `processed`, `delivered`, `deferred`, `bounce`, `dropped`, `spamreport`,
    /// `unsubscribe`, `group_unsubscribe`, `open`, `click`.
    pub event: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// An address no email goes to, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SuppressionResource {
    pub email: String,
    /// The event that put it on the list.
    pub event: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<suppression::Model> for SuppressionResource {
    fn from(entry: suppression::Model) -> Self {
        Self { email: entry.email_key, event: entry.event, reason: entry.reason, created_at: entry.created_at }
    }
}

impl EmailJobResource {
    pub fn new(job: queue::job::Model, events: Vec<event::Model>) -> Self {
        Self {
            events: events
                .into_iter()
                .map(|event| EmailEventResource { event: event.event, at: event.occurred_at, reason: event.reason })
                .collect(),
            id: job.id,
            kind: job.kind,
            due_at: job.run_at,
            status: job.status,
            attempts: job.attempts,
            last_error: job.last_error,
            sent_at: job.sent_at,
            updated_at: job.updated_at,
        }
    }
}

/// One page of a list, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass it as `cursor` for the next page; it is there even when this page
    /// is the last for now, so a program can ask again later for what came since.
    pub next_cursor: String,
    /// More rows exist after this page right now.
    pub has_more: bool,
}

/// A webhook endpoint. `secret` is there only in the answer that created it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookResource {
    pub id: i64,
    pub url: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    /// The first failure since the last success; an endpoint failing for 24 hours is disabled.
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why it was disabled (by an admin, or automatically after a day of failures).
    pub disabled_reason: Option<String>,
    /// `whsec_…`: verify the `webhook-signature` header with it (Standard Webhooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookResource {
    /// The endpoint as lists show it: without its secret.
    pub fn new(endpoint: Endpoint) -> Self {
        let webhook = endpoint.webhook;
        Self {
            id: webhook.id,
            url: webhook.url,
            events: endpoint.events,
            enabled: webhook.enabled,
            failing_since: webhook.failing_since,
            disabled_at: webhook.disabled_at,
            disabled_reason: webhook.disabled_reason,
            secret: None,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }

    /// The endpoint just created, with its secret.
    pub fn created(endpoint: Endpoint) -> Self {
        let secret = Some(endpoint.webhook.secret.clone());
        Self { secret, ..Self::new(endpoint) }
    }
}

/// One event sent to one endpoint, with each attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryResource {
    pub id: i64,
    /// The event's name, e.g. `registration.created`.
    pub event: String,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    pub status: delivery::Status,
    pub attempts: i32,
    /// When the next attempt is due, while it is pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The body sent (the same on every attempt).
    pub payload: Option<String>,
    /// Newest first.
    pub log: Vec<AttemptResource>,
}

/// What one attempt got back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttemptResource {
    pub at: DateTime<Utc>,
    /// `null` when there was no answer (refused, timed out).
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    /// The answer's first 1,024 bytes.
    pub response: String,
    pub error: Option<String>,
}

impl From<DeliveryLog> for DeliveryResource {
    fn from(entry: DeliveryLog) -> Self {
        let delivery = entry.delivery;
        Self {
            id: delivery.id,
            event: entry.event_type,
            message_id: entry.message_id,
            next_attempt_at: (delivery.status == delivery::Status::Pending).then_some(delivery.run_at),
            status: delivery.status,
            attempts: delivery.attempts,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error,
            delivered_at: delivery.delivered_at,
            created_at: delivery.created_at,
            payload: entry.payload,
            log: entry
                .attempts
                .into_iter()
                .map(|attempt| AttemptResource {
                    at: attempt.attempted_at,
                    status_code: attempt.status_code,
                    duration_ms: attempt.duration_ms,
                    response: attempt.response,
                    error: attempt.error,
                })
                .collect(),
        }
    }
}
