//! Changing a session's schedule, with its emails kept true: each operation
//! is one transaction over the session (its row locked) and its queued
//! emails. Cancelling a webinar cancels each of its sessions still ahead.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionSession, TransactionTrait};

use crate::email::schedule::REMINDERS;
use crate::error::{DomainError, FieldError};
use crate::queue::{self, Kind, Notice};
use crate::{registration, session, webinar};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rescheduled {
    pub session: session::Model,
    /// Reminders now due at the new time: moved, or added for registrants who had none.
    pub moved: u64,
    /// Pending reminders whose new time has already passed: never sent late.
    pub dropped: u64,
    /// Registrants who get a "time changed" email.
    pub notified: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancelled {
    /// The sessions cancelled (one, or every one of a webinar still ahead).
    pub sessions: Vec<session::Model>,
    /// Emails that will not go out any more.
    pub withdrawn: u64,
    /// Registrants who get a cancellation email.
    pub notified: u64,
}

/// Every kind a cancellation withdraws.
const WITHDRAWN_BY_CANCELLING: [Kind; 5] =
    [Kind::Confirmation, Kind::Reminder24h, Kind::Reminder3h, Kind::Reminder15m, Kind::TimeChanged];

/// The session, its row held until the transaction ends; a cancelled one changes no more.
async fn locked_session<C: ConnectionTrait>(txn: &C, session_id: i64) -> Result<session::Model, DomainError> {
    let session = session::lock(txn, session_id).await?.ok_or(DomainError::SessionNotFound)?;
    match session.status {
        session::Status::Cancelled => Err(DomainError::Closed(crate::ClosedReason::Cancelled)),
        session::Status::Scheduled => Ok(session),
    }
}

/// Moves the session to `starts_at`: pending reminders follow (those now in
/// the past are dropped, and a reminder still ahead is added for registrants
/// who never had it), the `.ics` SEQUENCE goes up, and every registrant
/// who has not unsubscribed gets one "time changed" email. A notice from an
/// earlier change that has not gone out yet is replaced by this one.
pub async fn reschedule<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    session_id: i64,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Rescheduled, DomainError> {
    if starts_at <= now {
        return Err(DomainError::Invalid(vec![FieldError::new("starts_at", "The new start must be in the future.")]));
    }
    let txn = crate::store::begin_write(db).await?;
    let current = locked_session(&txn, session_id).await?;
    let version = current.schedule_version + 1;
    let session = session::ActiveModel {
        starts_at: Set(starts_at),
        schedule_version: Set(version),
        updated_at: Set(now),
        ..current.into()
    }
    .update(&txn)
    .await?;
    let webinar_id = session.webinar_id;
    let (subscribed, everyone) = (|| registration::subscribed(session_id), || registration::in_session(session_id));
    let (mut moved, mut dropped) = (0, 0);
    for (kind, lead) in REMINDERS {
        let run_at = starts_at - lead;
        if run_at > now {
            moved += queue::move_pending(&txn, session_id, everyone(), kind, run_at, now).await?;
            // Registrants who were too late for this reminder at the old time get it now.
            let reminder = Notice { kind, schedule_version: 0, run_at };
            moved += queue::queue_for_registrants(&txn, webinar_id, session_id, subscribed(), reminder, now).await?;
        } else {
            let reason = "rescheduled: reminder time passed";
            dropped += queue::cancel_pending_for_session(&txn, session_id, everyone(), &[kind], reason, now).await?;
        }
    }
    let superseded = "superseded by a later time change";
    queue::cancel_pending_for_session(&txn, session_id, everyone(), &[Kind::TimeChanged], superseded, now).await?;
    let notice = Notice { kind: Kind::TimeChanged, schedule_version: version, run_at: now };
    let notified = queue::queue_for_registrants(&txn, webinar_id, session_id, subscribed(), notice, now).await?;
    txn.commit().await?;
    tracing::info!(session = session.id, webinar = webinar_id, %starts_at, moved, dropped, notified, "rescheduled");
    Ok(Rescheduled { session, moved, dropped, notified })
}

/// Cancels one session: nothing queued for it goes out any more, and each
/// of its registrants who has not unsubscribed gets one cancellation email
/// (with a link to pick another time while the webinar has one).
pub async fn cancel_session<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    session_id: i64,
    now: DateTime<Utc>,
) -> Result<Cancelled, DomainError> {
    let txn = crate::store::begin_write(db).await?;
    let current = locked_session(&txn, session_id).await?;
    let cancelled = cancel_locked(&txn, current, now).await?;
    txn.commit().await?;
    Ok(cancelled)
}

/// Cancels the webinar and every one of its sessions that has not ended
/// (an ended session's registrants are not told it is cancelled).
pub async fn cancel_webinar<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    now: DateTime<Utc>,
) -> Result<(webinar::Model, Cancelled), DomainError> {
    let txn = crate::store::begin_write(db).await?;
    let current = webinar::Entity::find_by_id(webinar_id).one(&txn).await?.ok_or(DomainError::WebinarNotFound)?;
    if current.status == webinar::Status::Cancelled {
        return Err(DomainError::Closed(crate::ClosedReason::Cancelled));
    }
    let webinar =
        webinar::ActiveModel { status: Set(webinar::Status::Cancelled), updated_at: Set(now), ..current.into() }
            .update(&txn)
            .await?;
    let mut all = Cancelled { sessions: Vec::new(), withdrawn: 0, notified: 0 };
    for session in session::of_webinar(&txn, webinar_id).await? {
        if session.status == session::Status::Cancelled || session.ends_at() <= now {
            continue;
        }
        let Some(locked) = session::lock(&txn, session.id).await? else { continue };
        let one = cancel_locked(&txn, locked, now).await?;
        all.sessions.extend(one.sessions);
        all.withdrawn += one.withdrawn;
        all.notified += one.notified;
    }
    txn.commit().await?;
    tracing::info!(webinar = %webinar.slug, withdrawn = all.withdrawn, notified = all.notified, "webinar cancelled");
    Ok((webinar, all))
}

async fn cancel_locked<C: ConnectionTrait>(
    txn: &C,
    current: session::Model,
    now: DateTime<Utc>,
) -> Result<Cancelled, DomainError> {
    let version = current.schedule_version + 1;
    let session = session::ActiveModel {
        status: Set(session::Status::Cancelled),
        schedule_version: Set(version),
        updated_at: Set(now),
        ..current.into()
    }
    .update(txn)
    .await?;
    let reason = "session cancelled";
    let everyone = registration::in_session(session.id);
    let withdrawn =
        queue::cancel_pending_for_session(txn, session.id, everyone, &WITHDRAWN_BY_CANCELLING, reason, now).await?;
    let notice = Notice { kind: Kind::Cancelled, schedule_version: version, run_at: now };
    let registrants = registration::subscribed(session.id);
    let notified = queue::queue_for_registrants(txn, session.webinar_id, session.id, registrants, notice, now).await?;
    tracing::info!(session = session.id, webinar = session.webinar_id, withdrawn, notified, "session cancelled");
    Ok(Cancelled { sessions: vec![session], withdrawn, notified })
}
