//! The façade the server function and the JSON API both call, so the two
//! paths cannot drift apart.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::admin::{self, AdminError};
use crate::registration::count as registration_count;
use crate::registration::write::ErasedRegistration;
use crate::registration::writer::RegistrationWriter;
use crate::registration::{self, RegistrationOutcome, RegistrationRequest};
use crate::webhook::{self, Announcement, EventType};
use crate::webinar::icp_variant;
use crate::{Clock, ClosedReason, CountPublisher, DomainError, queue, session, webinar};

#[derive(Clone)]
pub struct Service {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    counts: Arc<dyn CountPublisher>,
    mail: Option<Arc<admin::Mail>>,
    /// SQLite: the one task that writes registrations (`None` on Postgres).
    writer: Option<RegistrationWriter>,
    /// Login attempts per account (the server limits them per IP as well).
    login_budget: Arc<admin::LoginBudget>,
    /// Where webhook endpoints may point.
    webhook_guard: webhook::address::Guard,
    /// How many sessions a landing page lists, the next ones first.
    sessions_offered: u16,
}

/// A landing page's data.
#[derive(Clone, Debug)]
pub struct Landing {
    pub webinar: webinar::Model,
    /// Over every session.
    pub registrations: u64,
    /// The sessions a visitor may pick (in start order, at most
    /// [`Service::with_sessions_offered`]), each with its count; full ones included.
    pub sessions: Vec<(session::Model, u64)>,
    /// The session preselected: the next one with a seat (or the next one).
    pub session: Option<session::Model>,
    /// Why registration is closed; `None` while a session is open.
    pub closed: Option<ClosedReason>,
    /// The headline and intro for the visitor's ICP, when the webinar has them.
    pub variant: Option<icp_variant::Model>,
}

/// How many sessions a landing page lists unless told otherwise: three
/// months of a weekly webinar.
pub const SESSIONS_OFFERED: u16 = 12;

/// The public registration count.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    #[serde(skip)]
    #[schema(ignore)]
    pub webinar_id: i64,
    pub webinar: String,
    /// Over every session.
    pub registrations: u64,
    /// The session asked for (`?session=`), with its own count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionStats>,
    pub updated_at: DateTime<Utc>,
    pub stale: bool,
}

/// One session's public count.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SessionStats {
    pub id: i64,
    pub registrations: u64,
    pub full: bool,
    /// Kept so a cached view can tell `full` again when its count moves.
    #[serde(skip)]
    #[schema(ignore)]
    pub capacity: Option<i32>,
}

impl SessionStats {
    pub fn set_registrations(&mut self, registrations: u64) {
        self.registrations = registrations;
        self.full = session::fills(self.capacity, registrations);
    }
}

/// The sessions a visitor may pick at `now` (open ones, full ones
/// included, in start order), and why registration is closed when none has
/// a seat: full if some are only full, else cancelled if every one was
/// cancelled, else ended.
fn open_choice<'a>(
    sessions: &'a [session::Model],
    counts: &std::collections::HashMap<i64, u64>,
    now: DateTime<Utc>,
) -> (Vec<&'a session::Model>, Option<ClosedReason>) {
    let offered: Vec<&session::Model> = sessions.iter().filter(|session| session.is_offered(now)).collect();
    let has_seat = |session: &&session::Model| !session.is_full(counts.get(&session.id).copied().unwrap_or(0));
    let closed = match (offered.iter().any(has_seat), offered.is_empty()) {
        (true, _) => None,
        (false, false) => Some(ClosedReason::Full),
        (false, true) if !sessions.is_empty() && sessions.iter().all(|s| s.status == session::Status::Cancelled) => {
            Some(ClosedReason::Cancelled)
        }
        (false, true) => Some(ClosedReason::Ended),
    };
    (offered, closed)
}

/// The session a visitor's form starts on: the next open one with a seat,
/// else the next open one.
fn preselected<'a>(
    sessions: &'a [session::Model],
    counts: &std::collections::HashMap<i64, u64>,
    now: DateTime<Utc>,
) -> Option<&'a session::Model> {
    let (offered, _) = open_choice(sessions, counts, now);
    let with_seat = offered.iter().find(|session| !session.is_full(counts.get(&session.id).copied().unwrap_or(0)));
    with_seat.or(offered.first()).copied()
}

impl Service {
    /// Call it inside the runtime: on SQLite it starts the registration writer.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, counts: Arc<dyn CountPublisher>) -> Self {
        let sqlite = db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
        let writer = sqlite.then(|| RegistrationWriter::start(db.clone()));
        Self {
            db,
            clock,
            counts,
            mail: None,
            writer,
            login_budget: Arc::default(),
            webhook_guard: Default::default(),
            sessions_offered: SESSIONS_OFFERED,
        }
    }

    /// Sets how many sessions a landing page lists (at least one).
    pub fn with_sessions_offered(self, sessions_offered: u16) -> Self {
        Self { sessions_offered: sessions_offered.max(1), ..self }
    }

    /// Sets where webhook endpoints may point (private addresses only in development).
    pub fn with_webhook_guard(self, webhook_guard: webhook::address::Guard) -> Self {
        Self { webhook_guard, ..self }
    }

    pub fn webhook_guard(&self) -> webhook::address::Guard {
        self.webhook_guard
    }

    /// Sets how many login attempts each account gets.
    pub fn with_login_budget(self, budget: admin::LoginBudget) -> Self {
        Self { login_budget: Arc::new(budget), ..self }
    }

    /// Lets the admin preview and test-send emails.
    pub fn with_mail(self, mail: admin::Mail) -> Self {
        Self { mail: Some(Arc::new(mail)), ..self }
    }

    pub(crate) fn mail_parts(&self) -> Option<&admin::Mail> {
        self.mail.as_deref()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Registers, counting every outcome in the `webinar_registrations_total`
    /// metric (`created`, `existing`, or the reason it was refused).
    pub async fn register(&self, request: RegistrationRequest) -> Result<RegistrationOutcome, DomainError> {
        let result = self.register_unmetered(request).await;
        let outcome = match &result {
            Ok(outcome) if outcome.created => "created",
            Ok(_) => "existing",
            Err(error) => error.reason(),
        };
        metrics::counter!("webinar_registrations_total", "outcome" => outcome).increment(1);
        result
    }

    async fn register_unmetered(&self, request: RegistrationRequest) -> Result<RegistrationOutcome, DomainError> {
        let valid = request.validate().map_err(DomainError::Invalid)?;
        let now = self.clock.now();
        let (webinar, sessions) = webinar::resolve_with_sessions(&self.db, request.webinar.as_deref(), now).await?;
        webinar.check_open()?;
        let session = self.session_to_register_for(&webinar, sessions, request.session, now).await?;
        let masked_email = valid.email.masked();
        let new = registration::NewRegistration::new(webinar, session, valid, now)?;
        let outcome = match &self.writer {
            Some(writer) => writer.register(new).await?,
            None => registration::write_alone(&self.db, new).await?,
        };
        if outcome.created {
            tracing::info!(webinar = %outcome.webinar.slug, session = outcome.session.id, email = %masked_email,
                count = outcome.registrations, "registered");
        }
        if outcome.created || outcome.moved {
            self.publish_counts(&outcome).await;
        }
        Ok(outcome)
    }

    /// Tells the pages following the webinar its new counts. A new
    /// registration moved its own session's count, which the write returned;
    /// a switch moved two, read afresh. The registration stands either way:
    /// a count not published now is the next page load's.
    async fn publish_counts(&self, outcome: &RegistrationOutcome) {
        let sessions = match outcome.moved {
            false => [(outcome.session.id, outcome.session_registrations)].into(),
            true => match registration_count::by_session(&self.db, [outcome.webinar.id]).await {
                Ok(counts) => counts.into_iter().collect(),
                Err(error) => {
                    tracing::warn!(webinar = outcome.webinar.id, %error, "session counts not published");
                    return;
                }
            },
        };
        let count = crate::LiveCount { registrations: outcome.registrations, sessions };
        self.counts.publish(outcome.webinar.id, count);
    }

    /// The session a registration goes to: the one asked for (a session of
    /// another webinar is not found; a past, cancelled or full one is refused
    /// when written), else the next open one with a seat.
    async fn session_to_register_for(
        &self,
        webinar: &webinar::Model,
        sessions: Vec<session::Model>,
        requested: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<session::Model, DomainError> {
        if let Some(id) = requested {
            return sessions.into_iter().find(|session| session.id == id).ok_or(DomainError::SessionNotFound);
        }
        let counts = match sessions.iter().any(|session| session.capacity.is_some()) {
            true => registration_count::by_session(&self.db, [webinar.id]).await?,
            false => Default::default(),
        };
        // A full session is still picked: it refuses a new registrant when
        // written, while someone registered already gets their registration.
        match preselected(&sessions, &counts, now) {
            Some(session) => Ok(session.clone()),
            None => Err(DomainError::Closed(open_choice(&sessions, &counts, now).1.unwrap_or(ClosedReason::Ended))),
        }
    }

    /// A public landing page, in the copy for `icp` when there is one.
    pub async fn landing(&self, slug: Option<&str>, icp: Option<&str>) -> Result<Landing, DomainError> {
        let webinar = webinar::resolve(&self.db, slug, self.clock.now()).await?;
        self.landing_of(webinar, icp).await
    }

    /// Any webinar's page as a visitor would see it, drafts included (the admin's preview).
    pub async fn preview_landing(&self, slug: &str, icp: Option<&str>) -> Result<Landing, DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        self.landing_of(webinar, icp).await
    }

    async fn landing_of(&self, webinar: webinar::Model, icp: Option<&str>) -> Result<Landing, DomainError> {
        let now = self.clock.now();
        let variant = match icp {
            Some(icp) => icp_variant::find(&self.db, webinar.id, icp).await?,
            None => None,
        };
        let sessions = session::of_webinar(&self.db, webinar.id).await?;
        let counts = registration_count::by_session(&self.db, [webinar.id]).await?;
        let registrations = counts.values().sum();
        let (offered, session_closed) = open_choice(&sessions, &counts, now);
        let closed = match webinar.check_open() {
            Err(DomainError::Closed(reason)) => Some(reason),
            _ => session_closed,
        };
        let session = preselected(&sessions, &counts, now).cloned();
        let count_of = |session: &session::Model| counts.get(&session.id).copied().unwrap_or(0);
        let sessions =
            offered.into_iter().take(self.sessions_offered.into()).map(|session| (session.clone(), count_of(session)));
        Ok(Landing { webinar, registrations, sessions: sessions.collect(), session, closed, variant })
    }

    /// The public count: the webinar's, and with `session`, that session's too.
    pub async fn stats(&self, slug: Option<&str>, session: Option<i64>) -> Result<Stats, DomainError> {
        let webinar = webinar::resolve(&self.db, slug, self.clock.now()).await?;
        let session = match session {
            Some(id) => {
                let session = session::find_of_webinar(&self.db, webinar.id, id).await?;
                let registrations = registration_count::for_session(&self.db, session.id).await?;
                let full = session.is_full(registrations);
                Some(SessionStats { id: session.id, registrations, full, capacity: session.capacity })
            }
            None => None,
        };
        Ok(Stats {
            webinar_id: webinar.id,
            registrations: registration_count::for_webinar(&self.db, webinar.id).await?,
            webinar: webinar.slug,
            session,
            updated_at: self.clock.now(),
            stale: false,
        })
    }

    /// Due-but-unsent email jobs: a stopped worker shows here.
    pub async fn queue_lag(&self) -> Result<queue::QueueLag, DomainError> {
        Ok(queue::lag(&self.db, self.clock.now()).await?)
    }

    pub async fn pending_migrations(&self) -> Result<usize, DomainError> {
        Ok(crate::store::pending_migrations(&self.db).await?)
    }

    /// Email jobs in each state, over every webinar.
    pub async fn email_jobs_by_status(&self) -> Result<Vec<(queue::Status, u64)>, DomainError> {
        let mut totals: Vec<(queue::Status, u64)> = Vec::new();
        for (_, status, jobs) in queue::counts_by_webinar_and_status(&self.db).await? {
            match totals.iter_mut().find(|(seen, _)| *seen == status) {
                Some((_, total)) => *total += jobs,
                None => totals.push((status, jobs)),
            }
        }
        Ok(totals)
    }

    /// Where a registrant's join link leads now (their session's current meeting URL).
    pub async fn join_url(&self, token: &str) -> Result<String, DomainError> {
        let registration =
            registration::find_by_token(&self.db, token).await?.ok_or(DomainError::RegistrationNotFound)?;
        let session = session::find(&self.db, registration.session_id).await?;
        session.map(|session| session.join_url).ok_or(DomainError::RegistrationNotFound)
    }

    /// Stops a registrant's emails; returns the webinar's title for the page.
    pub async fn unsubscribe(&self, registration_id: i64) -> Result<String, DomainError> {
        let (registration, webinar) = registration::unsubscribe(&self.db, registration_id, self.clock.now()).await?;
        tracing::info!(registration = registration.id, webinar = %webinar.slug, "unsubscribed");
        Ok(webinar.title)
    }

    /// Checks an admin's credentials and opens a session.
    pub async fn admin_log_in(&self, email: &str, password: &str) -> Result<admin::Login, AdminError> {
        if let Err(retry_after_seconds) = self.login_budget.take(email) {
            tracing::info!("admin login refused: the account's budget is spent");
            return Err(AdminError::TooManyAttempts { retry_after_seconds });
        }
        let login = admin::log_in(&self.db, email, password, self.clock.now()).await;
        match &login {
            Ok(login) => tracing::info!(admin = login.admin.id, "admin logged in"),
            Err(AdminError::BadCredentials) => tracing::info!("admin login refused"),
            Err(_) => {}
        }
        login
    }

    /// The admin behind a session cookie, while the session lasts.
    pub async fn admin_session(&self, token: &str) -> Result<Option<admin::account::Model>, DomainError> {
        Ok(admin::authenticate(&self.db, token, self.clock.now()).await?)
    }

    pub async fn admin_log_out(&self, token: &str) -> Result<(), DomainError> {
        Ok(admin::log_out(&self.db, token, self.clock.now()).await?)
    }

    pub async fn admin_overview(&self) -> Result<Vec<admin::WebinarSummary>, DomainError> {
        Ok(admin::overview(&self.db).await?)
    }

    /// A webinar by slug, whatever its status (admin views).
    pub async fn webinar_by_slug(&self, slug: &str) -> Result<webinar::Model, DomainError> {
        webinar::find_by_slug(&self.db, slug).await?.ok_or(DomainError::WebinarNotFound)
    }

    pub async fn registrations_page(
        &self,
        webinar_id: i64,
        after_id: i64,
        limit: u64,
    ) -> Result<Vec<registration::Model>, DomainError> {
        Ok(registration::page_for_webinar(&self.db, webinar_id, after_id, limit).await?)
    }

    /// Erases a registrant, all their email jobs, what the provider reported
    /// about them and the webhook events about them (GDPR), in one
    /// transaction, and tells the endpoints that want `registration.erased`.
    pub async fn erase_registration(&self, registration_id: i64) -> Result<(), DomainError> {
        let txn = crate::store::begin_write(&self.db).await?;
        let jobs: Vec<i64> = queue::for_registration(&txn, registration_id).await?.iter().map(|job| job.id).collect();
        crate::deliverability::event::forget_jobs(&txn, &jobs).await?;
        webhook::event::forget_registration(&txn, registration_id).await?;
        let registration =
            registration::erase(&txn, registration_id).await?.ok_or(DomainError::RegistrationNotFound)?;
        let webinar_id = registration.webinar_id;
        let webinar = webinar::by_ids(&txn, [webinar_id]).await?.remove(&webinar_id);
        let erased = ErasedRegistration {
            id: registration.id,
            webinar: webinar.map(|webinar| webinar.slug).unwrap_or_default(),
            email: registration.email,
            erased_at: self.now(),
        };
        let announcement = Announcement::new(EventType::RegistrationErased, erased.erased_at, &erased);
        webhook::event::announce(&txn, vec![announcement]).await?;
        txn.commit().await?;
        tracing::info!(registration = registration_id, webinar = webinar_id, "registrant erased");
        Ok(())
    }
}
