//! What the email provider tells us happened to each email: its signed
//! event webhook ([`signature`]), the events per email job ([`event`]), and
//! the suppression list that hard bounces, spam reports and unsubscribes
//! put an address on ([`suppression`]).
pub mod event;
pub mod notice;
pub mod signature;
pub mod suppression;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::email_address::EmailAddress;
use crate::{DomainError, FieldError, Service, queue, registration};
use event::{MAX_EVENTS_PER_REQUEST, SendGridEvent, Verdict};

/// What one request of events did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    pub received: usize,
    /// Not seen before (the rest were repeats of stored events).
    pub new: usize,
    /// Addresses put on the suppression list.
    pub suppressed_addresses: usize,
    /// Pending emails to them ended as suppressed.
    pub suppressed_jobs: u64,
}

/// An address as registrations key it; one we cannot parse, as written, lower-cased.
fn key_of(email: &str) -> String {
    EmailAddress::parse(email).map(|address| address.key()).unwrap_or_else(|_| email.trim().to_lowercase())
}

impl Service {
    /// Stores a batch of provider events in one transaction: each event once,
    /// new suppressions for hard bounces, spam reports and unsubscribes, and
    /// the pending emails of those addresses (every webinar's) ended.
    pub async fn ingest_provider_events(&self, events: Vec<SendGridEvent>) -> Result<Ingested, DomainError> {
        if events.len() > MAX_EVENTS_PER_REQUEST {
            let message = format!("Send at most {MAX_EVENTS_PER_REQUEST} events a request.");
            return Err(DomainError::Invalid(vec![FieldError::new("events", message)]));
        }
        let now = self.now();
        let keys: Vec<String> = events.iter().map(|event| key_of(&event.email)).collect();
        let rows = events.iter().zip(&keys).map(|(event, key)| event::row(event, key.clone(), now)).collect();
        let txn = crate::store::begin_write(self.db()).await?;
        let new: HashSet<String> = event::record(&txn, rows).await?.into_iter().collect();
        notice::announce_new(&txn, &events, &new, now).await?;
        let mut suppress: BTreeMap<&str, suppression::ActiveModel> = BTreeMap::new();
        for (event, key) in events.iter().zip(&keys) {
            if new.contains(&event.provider_event_id()) && event.verdict() == Verdict::Suppress {
                let entry = suppression::entry(key.clone(), &event.event, event.reason(), now);
                suppress.entry(key.as_str()).or_insert(entry);
            }
        }
        let suppressed: Vec<String> = suppress.keys().map(|key| (*key).to_owned()).collect();
        suppression::add(&txn, suppress.into_values().collect()).await?;
        let suppressed_jobs = match suppressed.is_empty() {
            true => 0,
            false => {
                let registrants = registration::with_email_keys(&suppressed);
                queue::suppress_pending(&txn, registrants, now).await?
            }
        };
        txn.commit().await?;
        let ingested = Ingested {
            received: events.len(),
            new: new.len(),
            suppressed_addresses: suppressed.len(),
            suppressed_jobs,
        };
        tracing::info!(
            received = ingested.received,
            new = ingested.new,
            suppressed_addresses = ingested.suppressed_addresses,
            suppressed_jobs,
            "provider events ingested"
        );
        Ok(ingested)
    }

    pub async fn suppressions(&self) -> Result<Vec<suppression::Model>, DomainError> {
        Ok(suppression::all(self.db()).await?)
    }

    /// Lets email go to an address again (its suppressed emails stay as they ended).
    pub async fn remove_suppression(&self, email: &str) -> Result<(), DomainError> {
        match suppression::remove(self.db(), &key_of(email)).await? {
            true => {
                tracing::info!("suppression removed");
                Ok(())
            }
            false => Err(DomainError::NotSuppressed),
        }
    }
}

/// How a webinar's sent emails fared: how many went out, and of those how
/// many the provider reported delivered, bounced, opened and clicked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub sent: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub opened: u64,
    pub clicked: u64,
}

/// A webinar's [`DeliveryCounts`], given how many of its emails were sent.
pub async fn delivery_counts<C: ConnectionTrait>(db: &C, webinar_id: i64, sent: u64) -> Result<DeliveryCounts, DbErr> {
    let mut counts = DeliveryCounts { sent, ..DeliveryCounts::default() };
    for (name, jobs) in event::jobs_with_event(db, queue::job::ids_of_webinar(webinar_id)).await? {
        match name.as_str() {
            "delivered" => counts.delivered = jobs,
            "bounce" => counts.bounced = jobs,
            "open" => counts.opened = jobs,
            "click" => counts.clicked = jobs,
            _ => {}
        }
    }
    Ok(counts)
}

/// The dev outbox is the mailbox itself: what it wrote was delivered. Records
/// a `delivered` event for each of these sent jobs (and its `email.delivered`
/// webhook), so the admin's timelines and webhooks work without a provider.
pub async fn record_outbox_delivered(
    db: &sea_orm::DatabaseConnection,
    job_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let txn = crate::store::begin_write(db).await?;
    let jobs: Vec<(i64, i64)> = queue::job::Entity::find()
        .select_only()
        .column(queue::job::Column::Id)
        .column(queue::job::Column::RegistrationId)
        .filter(crate::store::is_one_of(txn.get_database_backend(), queue::job::Column::Id, job_ids.iter().copied()))
        .into_tuple()
        .all(&txn)
        .await?;
    let registration_ids: BTreeSet<i64> = jobs.iter().map(|(_, registration)| *registration).collect();
    let keys = registration::email_keys(&txn, registration_ids).await?;
    let events: Vec<SendGridEvent> = jobs
        .into_iter()
        .filter_map(|(job, registration)| {
            Some(SendGridEvent {
                email: keys.get(&registration)?.clone(),
                timestamp: now.timestamp(),
                event: "delivered".into(),
                sg_event_id: format!("outbox-{job}"),
                job_id: Some(job.into()),
                bounce_type: None,
                reason: None,
            })
        })
        .collect();
    let rows = events.iter().map(|event| event::row(event, event.email.clone(), now)).collect();
    let new: HashSet<String> = event::record(&txn, rows).await?.into_iter().collect();
    notice::announce_new(&txn, &events, &new, now).await?;
    txn.commit().await
}
