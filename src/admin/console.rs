//! What the admin pages do, as [`Service`] methods: edit webinars and their
//! ICP copy, write email copy (preview, test send), look after registrations
//! and the email queue. The pages and server functions only translate.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::admin::AdminError;
use crate::announce;
use crate::delivery::{Delivery, Mailbox, Outgoing, Recipient};
use crate::email::copy as email_copy;
use crate::email::links::Links;
use crate::email::render::{CustomCopy, Emails, Rendered, WebinarLinks};
use crate::queue::{self, Kind};
use crate::session::schedule_change;
use crate::webhook::EventType;
use crate::webinar::editor::{self, Saved, WebinarForm};
use crate::webinar::icp_variant::{self, Variant};
use crate::{DomainError, FieldError, Service, deliverability, registration, webinar};

/// Email rendering and delivery outside the worker: previews and test sends.
pub struct Mail {
    pub emails: Emails,
    pub delivery: Arc<dyn Delivery>,
    pub from: Mailbox,
    pub links: Links,
}

/// The sample registrant previews and test emails are written for.
pub const SAMPLE_NAME: &str = "Ada Lovelace";
const SAMPLE_TOKEN: &str = "sample-registration";

/// An email kind's editable copy: saved, or the built-in copy to start from.
#[derive(Clone, Debug)]
pub struct CopyDraft {
    pub copy: CustomCopy,
    pub saved: bool,
}

/// A webinar's email queue at a glance.
#[derive(Clone, Debug)]
pub struct QueueView {
    /// The webinar's sessions, in start order.
    pub sessions: Vec<crate::session::Model>,
    pub counts: Vec<queue::SessionCount>,
    /// How the sent emails fared at the provider.
    pub delivery: deliverability::DeliveryCounts,
    pub dead: Vec<(queue::job::Model, Option<registration::Model>)>,
}

const DEAD_LETTERS_SHOWN: u64 = 200;

impl Service {
    fn mail(&self) -> Result<&Mail, DomainError> {
        self.mail_parts().ok_or(DomainError::MailUnavailable)
    }

    pub async fn admin_webinar(&self, slug: &str) -> Result<(webinar::Model, Vec<icp_variant::Model>), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let variants = icp_variant::for_webinar(self.db(), webinar.id).await?;
        Ok((webinar, variants))
    }

    /// The webinar's form as the editor opens it: its schedule fields are
    /// those of its next session ([`crate::session::representative`]).
    pub async fn webinar_form(&self, webinar: &webinar::Model) -> Result<WebinarForm, DomainError> {
        let sessions = crate::session::of_webinar(self.db(), webinar.id).await?;
        let shown = crate::session::representative(&sessions, self.now()).ok_or(DomainError::SessionNotFound)?;
        Ok(WebinarForm::of(webinar, shown))
    }

    pub async fn create_webinar(&self, form: &WebinarForm) -> Result<Saved, DomainError> {
        let new = form.validate().map_err(DomainError::Invalid)?;
        editor::create(self.db(), new, self.now()).await
    }

    pub async fn update_webinar(&self, slug: &str, form: &WebinarForm, confirmed: bool) -> Result<Saved, DomainError> {
        let new = form.validate().map_err(DomainError::Invalid)?;
        let current = self.webinar_by_slug(slug).await?;
        let txn = crate::store::begin_write(self.db()).await?;
        let saved = editor::update(&txn, current.id, new, confirmed, self.now()).await?;
        announce::webinar_row_saved(&txn, saved.event, &saved.webinar, self.now()).await?;
        txn.commit().await?;
        Ok(saved)
    }

    pub async fn publish_webinar(&self, slug: &str) -> Result<webinar::Model, DomainError> {
        let current = self.webinar_by_slug(slug).await?;
        let txn = crate::store::begin_write(self.db()).await?;
        let published = editor::publish(&txn, current.id, self.now()).await?;
        announce::webinar_row_saved(&txn, EventType::WebinarUpdated, &published, self.now()).await?;
        txn.commit().await?;
        Ok(published)
    }

    pub async fn save_icp_variant(
        &self,
        slug: &str,
        icp: &str,
        headline: &str,
        intro: &str,
    ) -> Result<(), DomainError> {
        let variant = Variant::parse(icp, headline, intro).map_err(DomainError::Invalid)?;
        let webinar = self.webinar_by_slug(slug).await?;
        Ok(icp_variant::save(self.db(), webinar.id, variant, self.now()).await?)
    }

    pub async fn delete_icp_variant(&self, slug: &str, icp: &str) -> Result<(), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        icp_variant::delete(self.db(), webinar.id, icp).await?;
        Ok(())
    }

    /// The copy the editor starts from: the saved one, else the built-in text.
    pub async fn email_copy(&self, slug: &str, kind: Kind, icp: &str) -> Result<CopyDraft, DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let icp = copy_icp(icp)?;
        Ok(match email_copy::find(self.db(), webinar.id, kind, &icp).await? {
            Some(saved) => CopyDraft { copy: saved.copy(), saved: true },
            None => CopyDraft { copy: self.mail()?.emails.builtin_copy(kind)?, saved: false },
        })
    }

    /// The email as the sample registrant would get it.
    pub async fn preview_email(&self, slug: &str, kind: Kind, copy: &CustomCopy) -> Result<Rendered, DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        self.render_sample(&webinar, kind, copy, SAMPLE_NAME).await
    }

    pub async fn save_email_copy(
        &self,
        slug: &str,
        kind: Kind,
        icp: &str,
        copy: CustomCopy,
    ) -> Result<(), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let icp = copy_icp(icp)?;
        self.render_sample(&webinar, kind, &copy, SAMPLE_NAME).await?;
        email_copy::save(self.db(), webinar.id, kind, &icp, copy, self.now()).await?;
        tracing::info!(webinar = %webinar.slug, kind = ?kind, icp, "email copy saved");
        Ok(())
    }

    pub async fn reset_email_copy(&self, slug: &str, kind: Kind, icp: &str) -> Result<(), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        email_copy::delete(self.db(), webinar.id, kind, &copy_icp(icp)?).await?;
        Ok(())
    }

    /// Sends the copy as it stands in the editor to `to` (the admin).
    pub async fn send_test_email(
        &self,
        slug: &str,
        kind: Kind,
        copy: &CustomCopy,
        to: &Mailbox,
    ) -> Result<(), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let mail = self.mail()?;
        let content = self.render_sample(&webinar, kind, copy, &to.name).await?;
        let unsubscribe_url = format!("{}/admin", mail.links.base_url());
        let message = Outgoing {
            from: mail.from.clone(),
            category: "test".into(),
            content: Rendered { subject: format!("[Test] {}", content.subject), ..content },
            attachments: Vec::new(),
            recipients: vec![Recipient {
                job_id: 0,
                registration_id: 0,
                to: to.clone(),
                substitutions: Default::default(),
                unsubscribe_url,
            }],
        };
        mail.delivery.deliver(&message).await.map_err(|error| DomainError::DeliveryFailed(error.to_string()))?;
        tracing::info!(webinar = %webinar.slug, kind = ?kind, "test email sent");
        Ok(())
    }

    /// Renders about the webinar's next session (the preview shows its time).
    async fn render_sample(
        &self,
        webinar: &webinar::Model,
        kind: Kind,
        copy: &CustomCopy,
        name: &str,
    ) -> Result<Rendered, DomainError> {
        let mail = self.mail()?;
        let sessions = crate::session::of_webinar(self.db(), webinar.id).await?;
        let session = crate::session::representative(&sessions, self.now()).ok_or(DomainError::SessionNotFound)?;
        let links = WebinarLinks::new(webinar, session, mail.links.base_url());
        mail.emails.check(copy).map_err(DomainError::Invalid)?;
        let rendered = mail.emails.render(kind, None, webinar, session, &links, Some(copy))?;
        Ok(rendered.personalize(&crate::email::render::substitutions(
            name,
            &mail.links.join_url(SAMPLE_TOKEN),
            &format!("{}/u/sample", mail.links.base_url()),
        )))
    }

    pub async fn search_registrations(
        &self,
        slug: &str,
        search: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(webinar::Model, Vec<registration::Model>, u64), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let (rows, total) = registration::search(self.db(), webinar.id, search, offset, limit).await?;
        Ok((webinar, rows, total))
    }

    /// When each of a webinar's sessions starts, by id (for its registrations' lists).
    pub async fn session_starts(&self, webinar_id: i64) -> Result<HashMap<i64, DateTime<Utc>>, DomainError> {
        let sessions = crate::session::of_webinar(self.db(), webinar_id).await?;
        Ok(sessions.into_iter().map(|session| (session.id, session.starts_at)).collect())
    }

    pub async fn email_queue(&self, slug: &str) -> Result<(webinar::Model, QueueView), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let counts = queue::counts_for_webinar(self.db(), webinar.id).await?;
        let sent = counts.iter().filter(|count| count.status == queue::Status::Sent).map(|count| count.jobs).sum();
        let sessions = crate::session::of_webinar(self.db(), webinar.id).await?;
        let delivery = deliverability::delivery_counts(self.db(), webinar.id, sent).await?;
        let dead = queue::dead_for_webinar(self.db(), webinar.id, DEAD_LETTERS_SHOWN).await?;
        let registrants = registration::by_ids(self.db(), dead.iter().map(|job| job.registration_id)).await?;
        let dead = dead
            .into_iter()
            .map(|job| {
                let registrant = registrants.get(&job.registration_id).cloned();
                (job, registrant)
            })
            .collect();
        Ok((webinar, QueueView { sessions, counts, delivery, dead }))
    }

    /// Dead letters back into the queue: one, or every one of the webinar's.
    pub async fn retry_dead_letters(&self, slug: &str, job_id: Option<i64>) -> Result<u64, DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let retried = queue::retry_dead(self.db(), webinar.id, job_id, self.now()).await?;
        tracing::info!(webinar = %webinar.slug, retried, "dead letters retried");
        Ok(retried)
    }
}

/// What the command line does, through the same service as the pages.
impl Service {
    /// Moves a webinar's session's start (`session`: its id; `None` for a
    /// webinar's only session): reminders follow, registrants get a "time
    /// changed" email.
    pub async fn reschedule_session(
        &self,
        slug: &str,
        session: Option<i64>,
        starts_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(webinar::Model, schedule_change::Rescheduled), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let txn = crate::store::begin_write(self.db()).await?;
        let session = self.session_of(&txn, &webinar, session).await?;
        let done = schedule_change::reschedule(&txn, session.id, starts_at, self.now()).await?;
        announce::webinar_row_saved(&txn, EventType::WebinarRescheduled, &webinar, self.now()).await?;
        txn.commit().await?;
        Ok((webinar, done))
    }

    /// Cancels one session (`Some(id)`) or the whole webinar (`None`): queued
    /// emails are withdrawn, registrants get a cancellation email.
    pub async fn cancel_session(
        &self,
        slug: &str,
        session: Option<i64>,
    ) -> Result<(webinar::Model, schedule_change::Cancelled), DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        let txn = crate::store::begin_write(self.db()).await?;
        let (webinar, done) = match session {
            Some(id) => {
                let session = crate::session::find_of_webinar(&txn, webinar.id, id).await?;
                (webinar, schedule_change::cancel_session(&txn, session.id, self.now()).await?)
            }
            None => schedule_change::cancel_webinar(&txn, webinar.id, self.now()).await?,
        };
        let event = match session {
            Some(_) => EventType::WebinarUpdated,
            None => EventType::WebinarCancelled,
        };
        announce::webinar_row_saved(&txn, event, &webinar, self.now()).await?;
        txn.commit().await?;
        Ok((webinar, done))
    }

    /// Session `id` of the webinar, or its only one; a webinar with several
    /// needs the id.
    async fn session_of<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        webinar: &webinar::Model,
        id: Option<i64>,
    ) -> Result<crate::session::Model, DomainError> {
        if let Some(id) = id {
            return crate::session::find_of_webinar(db, webinar.id, id).await;
        }
        match crate::session::of_webinar(db, webinar.id).await?.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(DomainError::Invalid(vec![FieldError::new(
                "session",
                "This webinar has several sessions: name the one to change by its id.",
            )])),
        }
    }

    /// A new marketing account.
    pub async fn create_admin(&self, email: &str, password: &str) -> Result<crate::admin::account::Model, AdminError> {
        crate::admin::create(self.db(), email, password, self.now()).await
    }

    /// The demo webinar, unless one is upcoming already (`make run`).
    pub async fn seed_demo(&self) -> Result<Option<webinar::Model>, DomainError> {
        Ok(crate::webinar::demo::seed(self.db(), self.now()).await?)
    }
}

fn copy_icp(raw: &str) -> Result<String, DomainError> {
    icp_variant::copy_icp(raw).map_err(|error: FieldError| DomainError::Invalid(vec![error]))
}
