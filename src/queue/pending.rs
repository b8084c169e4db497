//! The `email_queue` table, the set of pending email jobs: one row per job whose status is
//! `pending`, holding what a claim reads (due time, webinar and kind, in the
//! claim's index, and the session, registrant, schedule version and attempts so far),
//! so a claim reads this table alone. Whatever makes a job pending, moves it,
//! counts an attempt or ends it changes its row here in the same
//! transaction. Keeping this set out of the job table leaves that table with
//! no index that reads `status`, so an outcome (pending -> sent) is a HOT
//! update there; with the pending index on the job table each outcome wrote
//! new entries into all of its indexes.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{Condition, QuerySelect};

use super::job;
use crate::email::Kind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_queue")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: i64,
    pub run_at: DateTimeUtc,
    pub webinar_id: i64,
    pub session_id: i64,
    pub kind: Kind,
    pub registration_id: i64,
    pub schedule_version: i32,
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::job::Entity",
        from = "Column::JobId",
        to = "super::job::Column::Id",
        on_delete = "Cascade"
    )]
    Job,
}

impl ActiveModelBehavior for ActiveModel {}

/// The queued row's columns, each beside the job column it copies: the one
/// list both [`add_pending`] and the Postgres registration statement
/// ([`super::enqueue::postgres_statement`]) are built from.
pub(super) const COLUMNS: [(Column, job::Column); 8] = [
    (Column::JobId, job::Column::Id),
    (Column::RunAt, job::Column::RunAt),
    (Column::WebinarId, job::Column::WebinarId),
    (Column::SessionId, job::Column::SessionId),
    (Column::Kind, job::Column::Kind),
    (Column::RegistrationId, job::Column::RegistrationId),
    (Column::ScheduleVersion, job::Column::ScheduleVersion),
    (Column::Attempts, job::Column::Attempts),
];

impl From<&job::Model> for Model {
    /// A job's row as the queue holds it while the job is pending.
    fn from(job: &job::Model) -> Self {
        Self {
            job_id: job.id,
            run_at: job.run_at,
            webinar_id: job.webinar_id,
            session_id: job.session_id,
            kind: job.kind,
            registration_id: job.registration_id,
            schedule_version: job.schedule_version,
            attempts: job.attempts,
        }
    }
}

/// Queues the pending jobs among those `jobs` selects (a condition on the job
/// table); jobs queued already stay as they are.
pub(super) async fn add_pending<C: ConnectionTrait>(db: &C, jobs: Condition) -> Result<u64, DbErr> {
    let pending = Query::select()
        .columns(COLUMNS.map(|(_, job)| job))
        .from(job::Entity)
        .cond_where(jobs.add(job::Column::Status.eq(job::Status::Pending)))
        .to_owned();
    let insert = Query::insert()
        .into_table(Entity)
        .columns(COLUMNS.map(|(queued, _)| queued))
        // SQLite reads `INSERT … SELECT … WHERE … ON CONFLICT` as an upsert only
        // because the SELECT has a WHERE clause, which this one always has.
        .select_from(pending)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(OnConflict::column(Column::JobId).do_nothing().to_owned())
        .to_owned();
    Ok(db.execute(&insert).await?.rows_affected())
}

/// Takes the pending jobs among those `jobs` selects out of the queue, before
/// they are given another status.
pub(super) async fn remove_pending<C: ConnectionTrait>(db: &C, jobs: Condition) -> Result<u64, DbErr> {
    let removed = Entity::delete_many().filter(Column::JobId.in_subquery(pending_ids(jobs))).exec(db).await?;
    Ok(removed.rows_affected)
}

/// The ids of the pending jobs among those `jobs` selects.
fn pending_ids(jobs: Condition) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(job::Column::Id)
        .from(job::Entity)
        .cond_where(jobs.add(job::Column::Status.eq(job::Status::Pending)))
        .to_owned()
}

/// Takes jobs out of the queue by id (their outcome was just recorded).
pub(super) async fn remove<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<u64, DbErr> {
    Ok(Entity::delete_many().filter(with_ids(db, ids)).exec(db).await?.rows_affected)
}

/// Moves the pending jobs among those `jobs` selects (a condition on the job
/// table) to a new due time (a reschedule).
pub(super) async fn move_to<C: ConnectionTrait>(db: &C, jobs: Condition, run_at: DateTime<Utc>) -> Result<u64, DbErr> {
    let moved = Entity::update_many()
        .col_expr(Column::RunAt, Expr::value(run_at))
        .filter(Column::JobId.in_subquery(pending_ids(jobs)))
        .exec(db)
        .await?;
    Ok(moved.rows_affected)
}

/// Counts an attempt for queued jobs by id: due again at `run_at` (a retry),
/// or where they were (a rescued lease).
pub(super) async fn count_attempt<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    run_at: Option<DateTime<Utc>>,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    let mut update = Entity::update_many().col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1));
    if let Some(run_at) = run_at {
        update = update.col_expr(Column::RunAt, Expr::value(run_at));
    }
    Ok(update.filter(with_ids(db, ids)).exec(db).await?.rows_affected)
}

/// The queued jobs with these ids.
fn with_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Condition {
    Condition::all().add(crate::store::is_one_of(db.get_database_backend(), Column::JobId, ids.iter().copied()))
}

/// How far behind the queue is: due-but-unsent jobs and the oldest one's due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLag {
    pub due: u64,
    pub oldest_due_at: Option<DateTime<Utc>>,
}

pub async fn lag<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<QueueLag, DbErr> {
    // Claimed jobs stay queued until their outcome, so this counts them too.
    let (due, oldest_due_at) = Entity::find()
        .select_only()
        .column_as(Column::JobId.count(), "due")
        .column_as(Column::RunAt.min(), "oldest")
        .filter(Column::RunAt.lte(now))
        .into_tuple::<(i64, Option<DateTime<Utc>>)>()
        .one(db)
        .await?
        .unwrap_or((0, None));
    Ok(QueueLag { due: due.unsigned_abs(), oldest_due_at })
}
