//! `webhook_deliveries`: one event to one endpoint, a job of the queue's
//! `webhook` channel. It moves through the queue's states with the queue's
//! machinery: claimed under a lease ([`crate::queue::lease`]), retried with
//! the queue's backoff ([`RetryPolicy`]), rescued when its worker dies, dead
//! after its last attempt, and redelivered on request.
//!
//! ```text
//! pending ──claim──▶ leased ──outcome──▶ delivered | pending (retry) | dead
//! leased   set_aside (its event is gone: the registrant was erased)  cancelled
//! leased   rescue_expired (the lease ran out)                        pending; dead on the last attempt
//! any      redeliver (an admin)                                      pending, with fresh attempts
//! ```
//! A delivery whose endpoint is disabled stays pending, out of claims'
//! reach, until the endpoint is enabled again.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use super::{attempt, endpoint};
use crate::queue::lease::{self, Channel, Held};
use crate::queue::retry::{AfterFailure, RetryPolicy};

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// Every attempt failed; redelivering starts it again.
    #[sea_orm(string_value = "dead")]
    Dead,
    /// It no longer applies (its registrant was erased before it went out).
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub status: Status,
    pub run_at: DateTimeUtc,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub last_status_code: Option<i32>,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// How much of an answer the log keeps.
pub const RESPONSE_KEPT: usize = 1024;

/// Webhook deliveries are retried for one and a half to three days (30 s,
/// 1 min, … doubling to every 8 hours, less up to half of each for jitter:
/// 18 attempts), so an endpoint down for [`endpoint::DISABLE_AFTER`] is
/// disabled before its first deliveries die.
pub const POLICY: RetryPolicy =
    RetryPolicy { base: chrono::Duration::seconds(30), cap: chrono::Duration::hours(8), max_attempts: 18 };

/// Queues a delivery of each `(webhook, event)` (in the event's transaction).
pub(super) async fn create_pending<C: ConnectionTrait>(
    db: &C,
    pairs: impl IntoIterator<Item = (i64, i64)>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let rows: Vec<ActiveModel> = pairs
        .into_iter()
        .map(|(webhook_id, event_id)| ActiveModel {
            webhook_id: Set(webhook_id),
            event_id: Set(event_id),
            status: Set(Status::Pending),
            run_at: Set(now),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    // 1,000 rows of 7 values stay within SQLite's 32,766 bound parameters.
    for chunk in rows.chunks(1000) {
        Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(rows.len() as u64)
}

/// Whether a claim or a rescue would find anything: a read, so an idle
/// worker's polls take no write lock (SQLite has one for everybody).
pub async fn has_work(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let due = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Status.eq(Status::Pending))
        .filter(Column::RunAt.lte(now))
        .filter(Column::WebhookId.in_subquery(endpoint::enabled_ids()))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(due.is_some() || lease::any_expired(db, Channel::Webhook, now).await?)
}

/// Deliveries a worker claimed, and the lease that holds them.
#[derive(Clone, Debug)]
pub struct Claim {
    pub lease: Held,
    /// Oldest due first.
    pub deliveries: Vec<Model>,
}

/// Claims up to `limit` due deliveries to enabled endpoints for `worker`,
/// leased until `now + lease_for`; `None` when nothing is due. Claims take
/// turns ([`lease::begin_claim`]), so two workers never hold one delivery.
pub async fn claim_due(
    db: &DatabaseConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease_for: chrono::Duration,
    limit: u64,
) -> Result<Option<Claim>, DbErr> {
    let backend = db.get_database_backend();
    let claim = lease::begin_claim(db, Channel::Webhook, "").await?;
    let deliveries = Entity::find()
        .filter(Column::Status.eq(Status::Pending))
        .filter(Column::RunAt.lte(now))
        .filter(Column::WebhookId.in_subquery(endpoint::enabled_ids()))
        .filter(lease::not_leased(backend, Channel::Webhook, (Entity, Column::Id)))
        .order_by_asc(Column::RunAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(&claim)
        .await?;
    let ids: Vec<i64> = deliveries.iter().map(|delivery| delivery.id).collect();
    let lease = lease::finish_claim(claim, Channel::Webhook, worker, &ids, now + lease_for, now).await?;
    Ok(lease.map(|lease| Claim { lease, deliveries }))
}

/// What one attempt got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempted {
    pub delivery_id: i64,
    pub webhook_id: i64,
    /// Attempts before this one.
    pub attempts: i32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub duration_ms: i32,
    pub response: String,
    /// `None` on success (a 2xx answer).
    pub error: Option<String>,
}

/// What recording a claim's attempts did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
    /// Endpoints disabled by these failures.
    pub disabled: Vec<i64>,
}

/// Records attempts of deliveries `lease` holds, in one transaction: each in
/// the log, and each delivery delivered, due again after the policy's
/// backoff (`jitter` in `[0, 1)`), or dead; and each endpoint's failure
/// record. Nothing is written when the lease is gone (it expired and its
/// deliveries were rescued): the new holder's record stands.
pub async fn record(
    db: &DatabaseConnection,
    lease: &Held,
    attempts: &[Attempted],
    jitter: f64,
) -> Result<Recorded, DbErr> {
    let mut recorded = Recorded::default();
    if attempts.is_empty() {
        return Ok(recorded);
    }
    let txn = crate::store::begin_write(db).await?;
    if !lease::hold(&txn, lease).await? {
        txn.rollback().await?;
        return Ok(recorded);
    }
    let log = attempts.iter().map(|attempt| attempt::ActiveModel {
        delivery_id: Set(attempt.delivery_id),
        attempted_at: Set(attempt.at),
        status_code: Set(attempt.status_code.map(i32::from)),
        duration_ms: Set(attempt.duration_ms),
        response: Set(attempt.response.clone()),
        error: Set(attempt.error.clone()),
        ..Default::default()
    });
    attempt::Entity::insert_many(log).exec_without_returning(&txn).await?;
    let (mut succeeded, mut failed) = (BTreeSet::new(), BTreeSet::new());
    for attempt in attempts {
        let mut row = ActiveModel {
            attempts: Set(attempt.attempts + 1),
            last_error: Set(attempt.error.clone()),
            last_status_code: Set(attempt.status_code.map(i32::from)),
            last_attempt_at: Set(Some(attempt.at)),
            updated_at: Set(attempt.at),
            ..Default::default()
        };
        match &attempt.error {
            None => {
                row.status = Set(Status::Delivered);
                row.delivered_at = Set(Some(attempt.at));
                succeeded.insert(attempt.webhook_id);
                recorded.delivered += 1;
            }
            Some(_) => {
                failed.insert(attempt.webhook_id);
                match POLICY.after_failure(attempt.attempts + 1, jitter, None) {
                    AfterFailure::RetryIn(delay) => {
                        row.run_at = Set(attempt.at + delay);
                        recorded.retried += 1;
                    }
                    AfterFailure::Dead => {
                        row.status = Set(Status::Dead);
                        recorded.dead += 1;
                    }
                }
            }
        }
        Entity::update_many()
            .set(row)
            .filter(Column::Id.eq(attempt.delivery_id))
            .filter(Column::Status.eq(Status::Pending))
            .exec(&txn)
            .await?;
    }
    let (succeeded, failed): (Vec<i64>, Vec<i64>) = (succeeded.into_iter().collect(), failed.into_iter().collect());
    let now = attempts.iter().map(|attempt| attempt.at).max().unwrap_or_default();
    recorded.disabled = endpoint::record_results(&txn, &succeeded, &failed, now).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// Deliveries of `lease` that no longer apply end cancelled, with the reason.
pub async fn set_aside(
    db: &DatabaseConnection,
    lease: &Held,
    ids: &[i64],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let txn = crate::store::begin_write(db).await?;
    if !lease::hold(&txn, lease).await? {
        txn.rollback().await?;
        return Ok(0);
    }
    let cancelled = Entity::update_many()
        .col_expr(Column::Status, Expr::value(Status::Cancelled))
        .col_expr(Column::LastError, Expr::value(reason))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids.iter().copied()))
        .filter(Column::Status.eq(Status::Pending))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(cancelled)
}

/// Deliveries whose worker died: each lease of the channel that ran out
/// counts an attempt for what it held that is still pending, and marks dead
/// those that have used all their attempts. Returns how many.
pub async fn rescue_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let rescue = crate::store::begin_write(db).await?;
    let ids = lease::take_expired(&rescue, Channel::Webhook, now).await?;
    if ids.is_empty() {
        rescue.rollback().await?;
        return Ok(0);
    }
    let stranded = crate::store::is_one_of(db.get_database_backend(), Column::Id, ids.iter().copied());
    let last_attempt = Expr::col(Column::Attempts).add(1).gte(POLICY.max_attempts);
    let mut rescued = 0;
    for (status, condition) in [
        (Status::Dead, stranded.clone().and(last_attempt.clone())),
        (Status::Pending, stranded.and(last_attempt.not())),
    ] {
        rescued += Entity::update_many()
            .col_expr(Column::Status, Expr::value(status))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::LastError, Expr::value("lease expired (worker stopped mid-send)"))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(condition)
            .filter(Column::Status.eq(Status::Pending))
            .exec(&rescue)
            .await?
            .rows_affected;
    }
    rescue.commit().await?;
    Ok(rescued)
}

/// Sends delivery `id` of endpoint `webhook_id` again, whatever became of it,
/// with fresh attempts and the same `webhook-id`; `None` if there is no such delivery.
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    webhook_id: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Model>, DbErr> {
    let Some(found) = Entity::find_by_id(id).filter(Column::WebhookId.eq(webhook_id)).one(db).await? else {
        return Ok(None);
    };
    let again = ActiveModel {
        status: Set(Status::Pending),
        run_at: Set(now),
        attempts: Set(0),
        updated_at: Set(now),
        ..found.into()
    };
    Ok(Some(again.update(db).await?))
}

/// One delivery with what it sent and each attempt's answer.
#[derive(Clone, Debug)]
pub struct DeliveryLog {
    pub delivery: Model,
    pub event_type: String,
    pub message_id: String,
    pub payload: Option<String>,
    pub attempts: Vec<attempt::Model>,
}

/// An endpoint's latest deliveries (newest first) with their attempts (newest first).
pub async fn log<C: ConnectionTrait>(
    db: &C,
    webhook_id: i64,
    limit: u64,
) -> Result<Vec<(Model, Vec<attempt::Model>)>, DbErr> {
    let deliveries =
        Entity::find().filter(Column::WebhookId.eq(webhook_id)).order_by_desc(Column::Id).limit(limit).all(db).await?;
    with_attempts(db, deliveries).await
}

/// Each of `deliveries` with its attempts (newest first).
pub async fn with_attempts<C: ConnectionTrait>(
    db: &C,
    deliveries: Vec<Model>,
) -> Result<Vec<(Model, Vec<attempt::Model>)>, DbErr> {
    let ids: Vec<i64> = deliveries.iter().map(|delivery| delivery.id).collect();
    let attempts = attempt::Entity::find()
        .filter(crate::store::is_one_of(db.get_database_backend(), attempt::Column::DeliveryId, ids))
        .order_by_desc(attempt::Column::Id)
        .all(db)
        .await?;
    Ok(deliveries
        .into_iter()
        .map(|delivery| {
            let mine = attempts.iter().filter(|attempt| attempt.delivery_id == delivery.id).cloned().collect();
            (delivery, mine)
        })
        .collect())
}

/// How many deliveries of each endpoint are in each state.
pub async fn counts<C: ConnectionTrait>(db: &C) -> Result<Vec<(i64, Status, u64)>, DbErr> {
    let rows: Vec<(i64, Status, i64)> = Entity::find()
        .select_only()
        .column(Column::WebhookId)
        .column(Column::Status)
        .column_as(Column::Id.count(), "deliveries")
        .group_by(Column::WebhookId)
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(webhook, status, count)| (webhook, status, count.unsigned_abs())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retries_outlast_the_day_that_disables_an_endpoint() {
        // The shortest schedule: every delay at its lower bound (jitter 0).
        let mut waited = chrono::Duration::zero();
        for attempts in 1..POLICY.max_attempts {
            match POLICY.after_failure(attempts, 0.0, None) {
                AfterFailure::RetryIn(delay) => waited += delay,
                AfterFailure::Dead => panic!("dead after {attempts} attempts"),
            }
        }
        assert_eq!(POLICY.after_failure(POLICY.max_attempts, 0.0, None), AfterFailure::Dead);
        assert!(waited > endpoint::DISABLE_AFTER + POLICY.cap / 2, "the last attempt comes after {waited}");
    }
}
