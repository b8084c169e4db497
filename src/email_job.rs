//! Email jobs. A registration's jobs are written in the same transaction as
//! the registration; a pending job also has a row in `email_queue`, which
//! claims read. A worker claims due jobs with a lease row (`email_lease`) and
//! writes each job once, with its outcome: a claimed job stays `pending` (and
//! queued) until then, out of other claims' reach while the lease lives.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, Condition, DatabaseTransaction, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::email_lease::Held;
use crate::email_queue;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[sea_orm(string_value = "confirmation")]
    Confirmation,
    #[sea_orm(string_value = "reminder_24h")]
    Reminder24h,
    #[sea_orm(string_value = "reminder_3h")]
    Reminder3h,
    #[sea_orm(string_value = "reminder_15m")]
    Reminder15m,
    #[sea_orm(string_value = "time_changed")]
    TimeChanged,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "dead")]
    Dead,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub registration_id: i64,
    pub webinar_id: i64,
    pub kind: Kind,
    /// The webinar's schedule version a notice is about (0 for the
    /// confirmation and reminders): one "time changed" email per change.
    pub schedule_version: i32,
    pub run_at: DateTimeUtc,
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// The worker that made the latest attempt.
    pub attempted_by: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "crate::registration::Entity",
        from = "Column::RegistrationId",
        to = "crate::registration::Column::Id",
        on_delete = "Cascade"
    )]
    Registration,
}

impl Related<crate::registration::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Registration.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Writes the pending jobs for one new registration (inside its transaction).
pub async fn create_pending<C: ConnectionTrait>(
    db: &C,
    registration_id: i64,
    webinar_id: i64,
    jobs: &[(Kind, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = jobs.iter().map(|&(kind, run_at)| ActiveModel {
        registration_id: Set(registration_id),
        webinar_id: Set(webinar_id),
        kind: Set(kind),
        schedule_version: Set(0),
        run_at: Set(run_at),
        status: Set(Status::Pending),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    });
    Entity::insert_many(rows).exec_without_returning(db).await?;
    email_queue::add_pending(db, Condition::all().add(Column::RegistrationId.eq(registration_id))).await?;
    Ok(())
}

/// A registration's jobs, oldest due first.
pub async fn for_registration<C: ConnectionTrait>(db: &C, registration_id: i64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::RegistrationId.eq(registration_id))
        .order_by_asc(Column::RunAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// Jobs a worker claimed, and the lease that holds them.
#[derive(Clone, Debug)]
pub struct Claim {
    pub lease: Held,
    /// Their queue rows (all a send needs), in claim order: due time,
    /// webinar, kind, id.
    pub jobs: Vec<email_queue::Model>,
}

/// Serialises claims on Postgres (`pg_advisory_xact_lock`): a claim reads
/// which jobs no lease holds and writes its own lease, so the next claim must
/// not read before this one commits. Claims are short; sends run outside them.
const CLAIM_LOCK: i64 = 0x656d_6169_6c5f_6a6f;

/// Claims up to `limit` due jobs for `worker`, leasing them until `now + lease`,
/// or `None` when nothing is due. Any number of workers in any number of
/// processes may claim side by side and never take the same job: on Postgres
/// claims take turns on an advisory lock; on SQLite the claim's transaction
/// holds the single write lock (`BEGIN IMMEDIATE`). No job or queue row is
/// written.
pub async fn claim_due(
    db: &DatabaseConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u64,
) -> Result<Option<Claim>, DbErr> {
    let backend = db.get_database_backend();
    let claim = crate::db::begin_write(db).await?;
    if backend == sea_orm::DatabaseBackend::Postgres {
        // Without sorts the plan is the queue's index read in claim order up
        // to the limit. Statistics a burst outran (a table seeded a moment
        // ago) had Postgres fetch and sort every due job instead: 100,000
        // rows for an 8,000-row claim, 50-120 ms each. The same estimates
        // drew a parallel plan, in which each worker process hashed every
        // leased id again: 77 ms a claim over a drain on 2 cores, 58 ms without.
        claim
            .execute_unprepared(&format!(
                "SET LOCAL enable_sort = off; SET LOCAL max_parallel_workers_per_gather = 0; \
                 SELECT pg_advisory_xact_lock({CLAIM_LOCK})"
            ))
            .await?;
    }
    let jobs = email_queue::Entity::find()
        .filter(email_queue::Column::RunAt.lte(now))
        .filter(crate::email_lease::not_leased(backend, (email_queue::Entity, email_queue::Column::JobId)))
        // Jobs of one webinar and kind go out together: claiming them together
        // fills provider requests instead of splitting each claim four ways.
        .order_by_asc(email_queue::Column::RunAt)
        .order_by_asc(email_queue::Column::WebinarId)
        .order_by_asc(email_queue::Column::Kind)
        .order_by_asc(email_queue::Column::JobId)
        .limit(limit)
        .all(&claim)
        .await?;
    if jobs.is_empty() {
        claim.rollback().await?;
        return Ok(None);
    }
    let ids: Vec<i64> = jobs.iter().map(|job| job.job_id).collect();
    let lease = crate::email_lease::create(&claim, worker, &ids, now + lease, now).await?;
    claim.commit().await?;
    Ok(Some(Claim { lease, jobs }))
}

/// The columns a job's end sets: its new state and why.
fn ended(status: Status, reason: &str, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        status: Set(status),
        last_error: Set(Some(reason.to_owned())),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// The jobs with these ids.
fn with_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Condition {
    Condition::all().add(crate::db::is_one_of(db.get_database_backend(), Column::Id, ids.iter().copied()))
}

/// Those of the jobs with these ids that are still pending: a job cancelled
/// while its request was out stays cancelled.
fn pending_among<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Condition {
    with_ids(db, ids).add(Column::Status.eq(Status::Pending))
}

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
    let txn = crate::db::begin_write(db).await?;
    if !crate::email_lease::hold(&txn, lease).await? {
        txn.rollback().await?;
        return Ok(0);
    }
    let updated = update(&txn).exec(&txn).await?.rows_affected;
    match retry_at {
        Some(retry_at) => email_queue::count_attempt(&txn, ids, Some(retry_at)).await?,
        None => email_queue::remove(&txn, ids).await?,
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

/// Jobs whose worker died: each lease that ran out counts an attempt for the
/// jobs it held that are still pending, and marks dead those that have used
/// all their attempts; the rest are claimable again. Returns how many jobs.
pub async fn rescue_expired(db: &DatabaseConnection, now: DateTime<Utc>, max_attempts: i32) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let rescue = crate::db::begin_write(db).await?;
    let ids = crate::email_lease::take_expired(&rescue, now).await?;
    if ids.is_empty() {
        rescue.rollback().await?;
        return Ok(0);
    }
    let stranded = with_ids(&rescue, &ids).add(Column::Status.eq(Status::Pending));
    let last_attempt = Expr::col(Column::Attempts).add(1).gte(max_attempts);
    // Out of the queue go those now dead; the rest stay queued, one attempt on.
    email_queue::remove_pending(&rescue, stranded.clone().add(last_attempt.clone())).await?;
    email_queue::count_attempt(&rescue, &ids, None).await?;
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

/// Email jobs per webinar and state, for every webinar that has any.
pub async fn counts_by_webinar_and_status<C: ConnectionTrait>(db: &C) -> Result<Vec<(i64, Status, u64)>, DbErr> {
    let rows = Entity::find()
        .select_only()
        .column(Column::WebinarId)
        .column(Column::Status)
        .column_as(Column::Id.count(), "jobs")
        .group_by(Column::WebinarId)
        .group_by(Column::Status)
        .into_tuple::<(i64, Status, i64)>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(webinar_id, status, count)| (webinar_id, status, count.unsigned_abs())).collect())
}

/// Jobs that must not go out any more (unsubscribed, cancelled, or too late to
/// be true); `reason` says which.
pub async fn mark_cancelled(
    db: &DatabaseConnection,
    lease: &Held,
    ids: &[i64],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let cancelled = ended(Status::Cancelled, reason, now);
    record(db, lease, ids, None, |txn| Entity::update_many().set(cancelled).filter(pending_among(txn, ids))).await
}

/// Cancels a registration's jobs that have not gone out (on unsubscribe).
pub async fn cancel_pending_for_registration<C: ConnectionTrait>(
    db: &C,
    registration_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    cancel_pending_where(db, Condition::all().add(Column::RegistrationId.eq(registration_id)), reason, now).await
}

/// Cancels a webinar's pending jobs of the given kinds, saying why.
pub async fn cancel_pending_for_webinar<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    kinds: &[Kind],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let scope = Condition::all().add(Column::WebinarId.eq(webinar_id)).add(Column::Kind.is_in(kinds.iter().copied()));
    cancel_pending_where(db, scope, reason, now).await
}

async fn cancel_pending_where<C: ConnectionTrait>(
    db: &C,
    scope: Condition,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    email_queue::remove_pending(db, scope.clone()).await?;
    let updated = Entity::update_many()
        .set(ended(Status::Cancelled, reason, now))
        .filter(scope.add(Column::Status.eq(Status::Pending)))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}

/// Moves a webinar's pending jobs of `kind` to `run_at` (a reschedule).
pub async fn move_pending<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    kind: Kind,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let moved = ActiveModel { run_at: Set(run_at), updated_at: Set(now), ..Default::default() };
    let updated = Entity::update_many()
        .set(moved)
        .filter(Column::WebinarId.eq(webinar_id))
        .filter(Column::Kind.eq(kind))
        .filter(Column::Status.eq(Status::Pending))
        .exec(db)
        .await?;
    email_queue::move_to(db, webinar_id, kind, run_at).await?;
    Ok(updated.rows_affected)
}

/// Queues a `kind` email due at `run_at` for every registrant of the webinar
/// who has not unsubscribed and has none of that kind and version yet;
/// returns how many. One statement, however many registrants.
pub async fn queue_for_registrants<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    kind: Kind,
    schedule_version: i32,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use crate::registration;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let existing = Alias::new("existing");
    let already_queued = Query::select()
        .expr(Expr::value(1))
        .from_as(Entity, existing.clone())
        .and_where(
            Expr::col((existing.clone(), Column::RegistrationId))
                .equals((registration::Entity, registration::Column::Id)),
        )
        .and_where(Expr::col((existing.clone(), Column::Kind)).eq(kind))
        .and_where(Expr::col((existing, Column::ScheduleVersion)).eq(schedule_version))
        .to_owned();
    let registrants = Query::select()
        .column((registration::Entity, registration::Column::Id))
        .column((registration::Entity, registration::Column::WebinarId))
        .expr(Expr::value(kind))
        .expr(Expr::value(schedule_version))
        .expr(Expr::value(run_at))
        .expr(Expr::value(Status::Pending))
        .expr(Expr::value(0))
        .expr(Expr::value(now))
        .expr(Expr::value(now))
        .from(registration::Entity)
        .and_where(Expr::col((registration::Entity, registration::Column::WebinarId)).eq(webinar_id))
        .and_where(Expr::col((registration::Entity, registration::Column::UnsubscribedAt)).is_null())
        .and_where(Expr::exists(already_queued).not())
        .to_owned();
    let insert = Query::insert()
        .into_table(Entity)
        .columns([
            Column::RegistrationId,
            Column::WebinarId,
            Column::Kind,
            Column::ScheduleVersion,
            Column::RunAt,
            Column::Status,
            Column::Attempts,
            Column::CreatedAt,
            Column::UpdatedAt,
        ])
        .select_from(registrants)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    let queued = db.execute(&insert).await?.rows_affected();
    let these = Condition::all()
        .add(Column::WebinarId.eq(webinar_id))
        .add(Column::Kind.eq(kind))
        .add(Column::ScheduleVersion.eq(schedule_version));
    email_queue::add_pending(db, these).await?;
    Ok(queued)
}

/// One webinar's jobs per kind and state, for its queue page.
pub async fn counts_for_webinar<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
) -> Result<Vec<(Kind, Status, u64)>, DbErr> {
    let rows = Entity::find()
        .select_only()
        .column(Column::Kind)
        .column(Column::Status)
        .column_as(Column::Id.count(), "jobs")
        .filter(Column::WebinarId.eq(webinar_id))
        .group_by(Column::Kind)
        .group_by(Column::Status)
        .into_tuple::<(Kind, Status, i64)>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(kind, status, count)| (kind, status, count.unsigned_abs())).collect())
}

/// A webinar's dead letters, newest first, with their registrant.
pub async fn dead_for_webinar<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    limit: u64,
) -> Result<Vec<(Model, Option<crate::registration::Model>)>, DbErr> {
    Entity::find()
        .filter(Column::WebinarId.eq(webinar_id))
        .filter(Column::Status.eq(Status::Dead))
        .order_by_desc(Column::UpdatedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .find_also_related(crate::registration::Entity)
        .all(db)
        .await
}

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
    let txn = crate::db::begin_write(db).await?;
    // The ids first: once revived, they are pending like any other of the webinar's.
    let ids: Vec<i64> = Entity::find().select_only().column(Column::Id).filter(dead).into_tuple().all(&txn).await?;
    let retried = Entity::update_many().set(revived).filter(with_ids(&txn, &ids)).exec(&txn).await?.rows_affected;
    email_queue::add_pending(&txn, with_ids(&txn, &ids)).await?;
    txn.commit().await?;
    Ok(retried)
}
