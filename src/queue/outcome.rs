//! Outcomes: what became of a leased job's attempt (sent, due again, dead,
//! or cancelled because it no longer applies), written only while the lease
//! still holds.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseTransaction};

use super::job::{ActiveModel, Column, Entity, Status, ended, pending_among, with_ids};
use super::lease::{self, Held};
use super::pending;

/// Writes an outcome for jobs of `lease`: `update` (built for the jobs in
/// `txn`), and their queue rows due again at `retry_at` with the attempt
/// counted or, without one, removed.
/// Nothing is written when the lease is gone: after a lease expired and its
/// jobs were rescued, a late answer must not overwrite the new owner's state.
/// The lease is held in place until the outcome commits, so a rescue waits.
async fn record<F>(
    db: &DatabaseConnection,
    lease: &Held,
    ids: &[i64],
    retry_at: Option<DateTime<Utc>>,
    update: F,
) -> Result<u64, DbErr>
where
    F: FnOnce(&DatabaseTransaction) -> sea_orm::UpdateMany<Entity>,
{
    let txn = crate::store::begin_write(db).await?;
    if !lease::hold(&txn, lease).await? {
        txn.rollback().await?;
        return Ok(0);
    }
    let updated = update(&txn).exec(&txn).await?.rows_affected;
    match retry_at {
        Some(retry_at) => pending::count_attempt(&txn, ids, Some(retry_at)).await?,
        None => pending::remove(&txn, ids).await?,
    };
    txn.commit().await?;
    Ok(updated)
}

/// An attempt's outcome, written to the job: the attempt counts, and says who made it.
fn attempted(update: sea_orm::UpdateMany<Entity>, lease: &Held) -> sea_orm::UpdateMany<Entity> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    update
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::AttemptedBy, Expr::value(lease.worker.as_str()))
}

/// Records jobs the provider accepted. A job cancelled while its request was
/// out is recorded as sent too: it was.
pub async fn mark_sent(db: &DatabaseConnection, lease: &Held, ids: &[i64], now: DateTime<Utc>) -> Result<u64, DbErr> {
    let sent = ActiveModel {
        status: Set(Status::Sent),
        sent_at: Set(Some(now)),
        last_error: Set(None),
        updated_at: Set(now),
        ..Default::default()
    };
    record(db, lease, ids, None, |txn| attempted(Entity::update_many().set(sent), lease).filter(with_ids(txn, ids)))
        .await
}

/// Records a failed attempt: back to pending at `retry_at`, or dead when
/// `retry_at` is `None`.
pub async fn mark_failed(
    db: &DatabaseConnection,
    lease: &Held,
    ids: &[i64],
    retry_at: Option<DateTime<Utc>>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut failed = ended(Status::Dead, error, now);
    if let Some(retry_at) = retry_at {
        failed.status = Set(Status::Pending);
        failed.run_at = Set(retry_at);
    }
    record(db, lease, ids, retry_at, |txn| {
        attempted(Entity::update_many().set(failed), lease).filter(pending_among(txn, ids))
    })
    .await
}

/// Why the worker sets claimed jobs aside unsent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SetAside {
    /// They no longer apply: unsubscribed, cancelled, or too late to be true.
    Cancelled(&'static str),
    /// Their address is on the suppression list.
    Suppressed,
}

/// Jobs that must not go out; they end cancelled or suppressed, with the reason.
pub async fn mark_set_aside(
    db: &DatabaseConnection,
    lease: &Held,
    ids: &[i64],
    why: SetAside,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let ending = match why {
        SetAside::Cancelled(reason) => ended(Status::Cancelled, reason, now),
        SetAside::Suppressed => ended(Status::Suppressed, super::cancel::SUPPRESSED, now),
    };
    record(db, lease, ids, None, |txn| Entity::update_many().set(ending).filter(pending_among(txn, ids))).await
}
