//! Reviving dead letters: an admin sends them again.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, Condition, QuerySelect};

use super::job::{ActiveModel, Column, Entity, Status, with_ids};
use super::pending;

/// Sends dead letters again: one (`job_id`) or all of a webinar's. They go
/// back to pending (and into the queue, in the same transaction), due now,
/// with a fresh set of attempts; the worker still skips any that no longer
/// apply (unsubscribed, cancelled, too late).
pub async fn retry_dead(
    db: &DatabaseConnection,
    webinar_id: i64,
    job_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut dead = Condition::all().add(Column::WebinarId.eq(webinar_id)).add(Column::Status.eq(Status::Dead));
    if let Some(job_id) = job_id {
        dead = dead.add(Column::Id.eq(job_id));
    }
    let revived = ActiveModel {
        status: Set(Status::Pending),
        attempts: Set(0),
        run_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let txn = crate::store::begin_write(db).await?;
    // The ids first: once revived, they are pending like any other of the webinar's.
    let ids: Vec<i64> = Entity::find().select_only().column(Column::Id).filter(dead).into_tuple().all(&txn).await?;
    let retried = Entity::update_many().set(revived).filter(with_ids(&txn, &ids)).exec(&txn).await?.rows_affected;
    pending::add_pending(&txn, with_ids(&txn, &ids)).await?;
    txn.commit().await?;
    Ok(retried)
}
