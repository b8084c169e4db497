//! Rescue: the jobs of a worker that stopped mid-send (its lease ran out).
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;

use super::job::{Column, Entity, Status, ended, with_ids};
use super::{lease, pending};

/// Jobs whose worker died: each lease that ran out counts an attempt for the
/// jobs it held that are still pending, and marks dead those that have used
/// all their attempts; the rest are claimable again. Returns how many jobs.
pub async fn rescue_expired(db: &DatabaseConnection, now: DateTime<Utc>, max_attempts: i32) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let rescue = crate::store::begin_write(db).await?;
    let ids = lease::take_expired(&rescue, lease::Channel::Email, now).await?;
    if ids.is_empty() {
        rescue.rollback().await?;
        return Ok(0);
    }
    let stranded = with_ids(&rescue, &ids).add(Column::Status.eq(Status::Pending));
    let last_attempt = Expr::col(Column::Attempts).add(1).gte(max_attempts);
    // Out of the queue go those now dead; the rest stay queued, one attempt on.
    pending::remove_pending(&rescue, stranded.clone().add(last_attempt.clone())).await?;
    pending::count_attempt(&rescue, &ids, None).await?;
    let mut rescued = 0;
    for (status, reason, condition) in [
        (
            Status::Dead,
            "lease expired on the last attempt (worker stopped mid-send)",
            stranded.clone().add(last_attempt),
        ),
        (Status::Pending, "lease expired (worker stopped mid-send)", stranded),
    ] {
        rescued += Entity::update_many()
            .set(ended(status, reason, now))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(condition)
            .exec(&rescue)
            .await?
            .rows_affected;
    }
    rescue.commit().await?;
    Ok(rescued)
}
