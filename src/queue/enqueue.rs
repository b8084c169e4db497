//! Enqueueing: jobs become pending, each with its row in the queue, in the
//! transaction of whatever caused them (a registration, a schedule change).
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ActiveEnum, ActiveValue::Set, Condition, IdenStatic, Value};

use super::job::{ActiveModel, Column, Entity, Kind, Status};
use super::pending;

/// The columns a new job is written with, in the order both inserts of
/// multiple jobs ([`queue_for_registrants`], [`postgres_ctes`]) select them:
/// registrant, webinar, session, kind, schedule version, due time, status,
/// attempts, created, updated.
const NEW_JOB_COLUMNS: [Column; 10] = [
    Column::RegistrationId,
    Column::WebinarId,
    Column::SessionId,
    Column::Kind,
    Column::ScheduleVersion,
    Column::RunAt,
    Column::Status,
    Column::Attempts,
    Column::CreatedAt,
    Column::UpdatedAt,
];

/// Writes the pending jobs for a registration in a session (inside the
/// transaction that registered it or moved it there).
pub async fn create_pending<C: ConnectionTrait>(
    db: &C,
    registration_id: i64,
    webinar_id: i64,
    session_id: i64,
    jobs: &[(Kind, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = jobs.iter().map(|&(kind, run_at)| ActiveModel {
        registration_id: Set(registration_id),
        webinar_id: Set(webinar_id),
        session_id: Set(session_id),
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
    let these = Condition::all().add(Column::RegistrationId.eq(registration_id)).add(Column::SessionId.eq(session_id));
    pending::add_pending(db, these).await?;
    Ok(())
}

/// The part of a registration's one-statement write on Postgres that is the
/// queue's: two data-modifying CTEs, `queued` (its jobs) and `enqueued`
/// (their queue rows), for the registration the CTE `registered` returns.
/// `webinar_id`, `session_id` and `created_at` are placeholders of the caller's statement;
/// the jobs' own values are appended to `values`. Both column lists come
/// from [`pending::COLUMNS`], the list [`pending::add_pending`] uses.
pub fn postgres_ctes(
    values: &mut Vec<Value>,
    registered: &str,
    webinar_id: &str,
    session_id: &str,
    created_at: &str,
    jobs: &[(Kind, DateTime<Utc>)],
) -> String {
    values.push(Status::Pending.to_value().into());
    let status = format!("${}", values.len());
    // `jobs` always holds the confirmation, so the VALUES list is never empty.
    let mut job_rows = Vec::with_capacity(jobs.len());
    for &(kind, run_at) in jobs {
        job_rows.push(format!("(${}, ${})", values.len() + 1, values.len() + 2));
        values.extend([kind.to_value().into(), run_at.into()]);
    }
    let new_job: Vec<&str> = NEW_JOB_COLUMNS.iter().map(|column| column.as_str()).collect();
    let returned: Vec<&str> = pending::COLUMNS.iter().map(|(_, job)| job.as_str()).collect();
    let queued: Vec<&str> = pending::COLUMNS.iter().map(|(queued, _)| queued.as_str()).collect();
    format!(
        "queued AS (\
            INSERT INTO email_jobs ({new_job}) \
            SELECT {registered}.id, {webinar_id}, {session_id}, job.kind, 0, job.run_at, {status}, 0, {created_at}, \
                {created_at} \
            FROM {registered}, (VALUES {job_rows}) AS job (kind, run_at) \
            RETURNING {returned}), \
        enqueued AS (INSERT INTO email_queue ({queued}) SELECT {returned} FROM queued)",
        new_job = new_job.join(", "),
        job_rows = job_rows.join(", "),
        returned = returned.join(", "),
        queued = queued.join(", "),
    )
}

/// An email to many registrants: its kind, the schedule version it is
/// about, and when it is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    pub kind: Kind,
    pub schedule_version: i32,
    pub run_at: DateTime<Utc>,
}

/// Queues a `kind` email due at `run_at` for each of `registrants` (a query
/// of the registration module's yielding `registration_id`, all in session
/// `session_id` of `webinar_id`) that has none of that kind and version for
/// this session yet; returns how many. One statement, however many registrants.
pub async fn queue_for_registrants<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    session_id: i64,
    registrants: SelectStatement,
    notice: Notice,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let Notice { kind, schedule_version, run_at } = notice;
    let (registrant, existing) = (Alias::new("registrant"), Alias::new("existing"));
    let registration_id = Alias::new("registration_id");
    let already_queued = Query::select()
        .expr(Expr::value(1))
        .from_as(Entity, existing.clone())
        .and_where(
            Expr::col((existing.clone(), Column::RegistrationId)).equals((registrant.clone(), registration_id.clone())),
        )
        .and_where(Expr::col((existing.clone(), Column::SessionId)).eq(session_id))
        .and_where(Expr::col((existing.clone(), Column::Kind)).eq(kind))
        .and_where(Expr::col((existing, Column::ScheduleVersion)).eq(schedule_version))
        .to_owned();
    let new_jobs = Query::select()
        .column((registrant.clone(), registration_id))
        .expr(Expr::value(webinar_id))
        .expr(Expr::value(session_id))
        .expr(Expr::value(kind))
        .expr(Expr::value(schedule_version))
        .expr(Expr::value(run_at))
        .expr(Expr::value(Status::Pending))
        .expr(Expr::value(0))
        .expr(Expr::value(now))
        .expr(Expr::value(now))
        .from_subquery(registrants.clone(), registrant)
        .and_where(Expr::exists(already_queued).not())
        .to_owned();
    let insert = Query::insert()
        .into_table(Entity)
        .columns(NEW_JOB_COLUMNS)
        .select_from(new_jobs)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    let queued = db.execute(&insert).await?.rows_affected();
    let these = super::job::of_session(session_id, registrants)
        .add(Column::Kind.eq(kind))
        .add(Column::ScheduleVersion.eq(schedule_version));
    pending::add_pending(db, these).await?;
    Ok(queued)
}
