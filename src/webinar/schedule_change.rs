//! Changing a published webinar's schedule, with its emails kept true: each
//! operation is one transaction over the webinar and its queued emails.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionSession, TransactionTrait};

use crate::email::schedule::REMINDERS;
use crate::error::{DomainError, FieldError};
use crate::queue::{self, Kind};
use crate::webinar;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rescheduled {
    pub webinar: webinar::Model,
    /// Reminders now due at the new time: moved, or added for registrants who had none.
    pub moved: u64,
    /// Pending reminders whose new time has already passed: never sent late.
    pub dropped: u64,
    /// Registrants who get a "time changed" email.
    pub notified: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancelled {
    pub webinar: webinar::Model,
    /// Emails that will not go out any more.
    pub withdrawn: u64,
    /// Registrants who get a cancellation email.
    pub notified: u64,
}

async fn locked_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<webinar::Model, DomainError> {
    let webinar = webinar::Entity::find_by_id(webinar_id).one(db).await?.ok_or(DomainError::WebinarNotFound)?;
    match webinar.status {
        webinar::Status::Cancelled => Err(DomainError::Closed(crate::ClosedReason::Cancelled)),
        _ => Ok(webinar),
    }
}

/// Moves the webinar to `starts_at`: pending reminders follow (those now in
/// the past are dropped, and a reminder still ahead is added for registrants
/// who never had it), the `.ics` SEQUENCE goes up, and every registrant
/// who has not unsubscribed gets one "time changed" email. A notice from an
/// earlier change that has not gone out yet is replaced by this one.
pub async fn reschedule<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Rescheduled, DomainError> {
    if starts_at <= now {
        return Err(DomainError::Invalid(vec![FieldError::new("starts_at", "The new start must be in the future.")]));
    }
    let txn = crate::store::begin_write(db).await?;
    let current = locked_webinar(&txn, webinar_id).await?;
    let version = current.schedule_version + 1;
    let webinar = webinar::ActiveModel {
        starts_at: Set(starts_at),
        schedule_version: Set(version),
        updated_at: Set(now),
        ..current.into()
    }
    .update(&txn)
    .await?;
    let (mut moved, mut dropped) = (0, 0);
    for (kind, lead) in REMINDERS {
        let run_at = starts_at - lead;
        if run_at > now {
            moved += queue::move_pending(&txn, webinar_id, kind, run_at, now).await?;
            // Registrants who were too late for this reminder at the old time get it now.
            moved += queue::queue_for_registrants(
                &txn,
                webinar_id,
                crate::registration::subscribed(webinar_id),
                kind,
                0,
                run_at,
                now,
            )
            .await?;
        } else {
            dropped +=
                queue::cancel_pending_for_webinar(&txn, webinar_id, &[kind], "rescheduled: reminder time passed", now)
                    .await?;
        }
    }
    queue::cancel_pending_for_webinar(&txn, webinar_id, &[Kind::TimeChanged], "superseded by a later time change", now)
        .await?;
    let notified = queue::queue_for_registrants(
        &txn,
        webinar_id,
        crate::registration::subscribed(webinar_id),
        Kind::TimeChanged,
        version,
        now,
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(webinar = %webinar.slug, %starts_at, moved, dropped, notified, "rescheduled");
    Ok(Rescheduled { webinar, moved, dropped, notified })
}

/// Cancels the webinar: nothing queued goes out any more, and every
/// registrant who has not unsubscribed gets one cancellation email.
pub async fn cancel<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    now: DateTime<Utc>,
) -> Result<Cancelled, DomainError> {
    let txn = crate::store::begin_write(db).await?;
    let current = locked_webinar(&txn, webinar_id).await?;
    let version = current.schedule_version + 1;
    let webinar = webinar::ActiveModel {
        status: Set(webinar::Status::Cancelled),
        schedule_version: Set(version),
        updated_at: Set(now),
        ..current.into()
    }
    .update(&txn)
    .await?;
    let every_kind = [Kind::Confirmation, Kind::Reminder24h, Kind::Reminder3h, Kind::Reminder15m, Kind::TimeChanged];
    let withdrawn = queue::cancel_pending_for_webinar(&txn, webinar_id, &every_kind, "webinar cancelled", now).await?;
    let notified = queue::queue_for_registrants(
        &txn,
        webinar_id,
        crate::registration::subscribed(webinar_id),
        Kind::Cancelled,
        version,
        now,
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(webinar = %webinar.slug, withdrawn, notified, "cancelled");
    Ok(Cancelled { webinar, withdrawn, notified })
}
