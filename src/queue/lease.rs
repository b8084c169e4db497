//! Leases: a worker's claim on a set of email jobs, as one row. Claiming
//! writes this row, not the jobs, so a job is written once per attempt (when
//! its outcome is known). Jobs named by a lease are out of other claims' reach
//! until the lease ends or expires; an expired lease is a worker that died.
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::DatabaseBackend;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, IntoColumnRef, LockType};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_leases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub worker: String,
    pub locked_until: DateTimeUtc,
    /// The claimed jobs' ids, a JSON array.
    pub job_ids: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The ids of the jobs this lease holds.
    fn ids(&self) -> Result<Vec<i64>, DbErr> {
        serde_json::from_str(&self.job_ids).map_err(|error| DbErr::Custom(format!("lease {}: {error}", self.id)))
    }
}

/// A lease as its worker knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub id: i64,
    pub worker: String,
}

/// Writes a lease on `job_ids` for `worker` until `locked_until`.
pub(super) async fn create<C: ConnectionTrait>(
    db: &C,
    worker: &str,
    job_ids: &[i64],
    locked_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Held, DbErr> {
    let lease = ActiveModel {
        worker: Set(worker.to_owned()),
        locked_until: Set(locked_until),
        job_ids: Set(crate::store::json_list(job_ids)),
        created_at: Set(now),
        ..Default::default()
    };
    let id = Entity::insert(lease).exec(db).await?.last_insert_id;
    Ok(Held { id, worker: worker.to_owned() })
}

/// Moves a live lease's end to `locked_until` (a worker still writing its
/// outcomes); a lease already taken by a rescuer stays gone.
pub async fn extend<C: ConnectionTrait>(db: &C, held: &Held, locked_until: DateTime<Utc>) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::LockedUntil, Expr::value(locked_until))
        .filter(Column::Id.eq(held.id))
        .filter(Column::Worker.eq(&held.worker))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends a lease whose jobs all have their outcome (or were given back).
pub async fn end<C: ConnectionTrait>(db: &C, held: &Held) -> Result<(), DbErr> {
    Entity::delete_many().filter(Column::Id.eq(held.id)).filter(Column::Worker.eq(&held.worker)).exec(db).await?;
    Ok(())
}

/// Removes the leases that ran out before `now` and returns the job ids they
/// named. One statement deletes and returns them, so a lease two rescuers
/// race for goes to exactly one of them.
pub(super) async fn take_expired<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Vec<i64>, DbErr> {
    let expired = Entity::delete_many().filter(Column::LockedUntil.lt(now)).exec_with_returning(db).await?;
    let mut job_ids = Vec::new();
    for lease in expired {
        job_ids.extend(lease.ids()?);
    }
    Ok(job_ids)
}

/// How many jobs live leases hold (claimed, not yet recorded).
pub async fn leased_jobs<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let mut leased = 0;
    for lease in Entity::find().all(db).await? {
        leased += lease.ids()?.len() as u64;
    }
    Ok(leased)
}

/// `column` (a job id) is named by no lease. Postgres answers it with one
/// hashed set of every leased id; SQLite with a temporary index of them.
pub(super) fn not_leased(backend: DatabaseBackend, column: impl IntoColumnRef) -> Expr {
    // sea-query's placeholder for the column: `$1` on Postgres, `?` on SQLite.
    // On Postgres the JSON array `[1,2]` is read as the array literal `{1,2}`:
    // a third of the time of parsing it as jsonb, for 16,000 ids per claim.
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "$1 NOT IN (SELECT unnest(('{' || btrim(job_ids, '[]') || '}')::bigint[]) FROM email_leases)"
        }
        _ => "? NOT IN (SELECT value FROM email_leases, json_each(email_leases.job_ids))",
    };
    Expr::cust_with_exprs(sql, [Expr::col(column)])
}

/// Holds `held` in place until `txn` ends and says whether it still exists:
/// the condition for recording an outcome, so a worker whose lease expired
/// (and whose jobs were rescued and claimed again) cannot overwrite the new
/// holder's record. On Postgres a shared row lock (`FOR KEY SHARE`: the
/// worker's concurrent outcomes do not wait on each other) makes a rescuer's
/// delete of the lease wait for the outcome; on SQLite `txn` is the one writer.
pub(super) async fn hold<C: ConnectionTrait>(txn: &C, held: &Held) -> Result<bool, DbErr> {
    let lease = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.eq(held.id))
        .filter(Column::Worker.eq(&held.worker))
        .lock(LockType::KeyShare)
        .into_tuple::<i64>()
        .one(txn)
        .await?;
    Ok(lease.is_some())
}
