//! What the provider's events tell the webhooks: `email.delivered` and
//! `email.bounced`, each carrying an [`EmailNotice`], written in the
//! transaction that stores the events.
use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

use super::event::SendGridEvent;
use crate::email::Kind;
use crate::webhook::{self, Announcement, EventType};
use crate::{queue, webinar};

/// `email.delivered` and `email.bounced`'s `data`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EmailNotice {
    /// The email job (`/api/v1/registrations/{id}/emails` lists it).
    pub job_id: i64,
    pub registration_id: i64,
    /// The webinar's slug.
    pub webinar: String,
    pub kind: Kind,
    /// The address, as the provider reported it.
    pub email: String,
    /// The provider's event: `delivered` or `bounce`.
    pub event: String,
    /// The provider's reason (bounces).
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

fn event_type(event: &SendGridEvent) -> Option<EventType> {
    match event.event.as_str() {
        "delivered" => Some(EventType::EmailDelivered),
        "bounce" => Some(EventType::EmailBounced),
        _ => None,
    }
}

/// Announces the delivered and bounced emails among `events` that were `new`
/// (their provider ids, just stored) to the endpoints that want them, each
/// once however often a batch carries it; an event of no job of ours is not
/// announced.
pub async fn announce_new<C: ConnectionTrait>(
    db: &C,
    events: &[SendGridEvent],
    new: &HashSet<String>,
    received_at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut unseen = new.clone();
    let telling: Vec<(&SendGridEvent, EventType, i64)> = events
        .iter()
        .filter(|event| unseen.remove(&event.provider_event_id()))
        .filter_map(|event| Some((event, event_type(event)?, event.job_id()?)))
        .collect();
    if telling.is_empty() {
        return Ok(0);
    }
    // Arguments are collected first: a future holding a closure over borrowed
    // events is not `Send` for every lifetime, which the worker's tasks need.
    let types: BTreeSet<EventType> = telling.iter().map(|(_, event_type, _)| *event_type).collect();
    let wanted = webhook::event::wanted(db, types).await?;
    let telling: Vec<_> = telling.into_iter().filter(|(_, event_type, _)| wanted.contains(event_type)).collect();
    if telling.is_empty() {
        return Ok(0);
    }
    let job_ids: Vec<i64> = telling.iter().map(|(_, _, job)| *job).collect();
    let jobs = queue::job::by_ids(db, job_ids).await?;
    let webinar_ids: BTreeSet<i64> = jobs.values().map(|job| job.webinar_id).collect();
    let webinars = webinar::by_ids(db, webinar_ids).await?;
    let announcements = telling
        .into_iter()
        .filter_map(|(event, event_type, job_id)| {
            let job = jobs.get(&job_id)?;
            let occurred_at = DateTime::from_timestamp(event.timestamp, 0).unwrap_or(received_at);
            let notice = EmailNotice {
                job_id,
                registration_id: job.registration_id,
                webinar: webinars.get(&job.webinar_id)?.slug.clone(),
                kind: job.kind,
                email: event.email.clone(),
                event: event.event.clone(),
                reason: event.reason(),
                occurred_at,
            };
            Some(Announcement::new(event_type, occurred_at, &notice).about(job.registration_id))
        })
        .collect();
    webhook::event::announce(db, announcements).await
}
