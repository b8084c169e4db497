//! Leases: a worker's claim on a set of jobs of one channel (emails, webhook
//! deliveries), as one row. Claiming writes this row, not the jobs, so a job
//! is written once per attempt (when its outcome is known). Jobs named by a
//! lease are out of other claims' reach until the lease ends or expires; an
//! expired lease is a worker that died.
use chrono::{DateTime, Utc};
use sea_orm::ActiveEnum;
use sea_orm::ActiveValue::Set;
use sea_orm::DatabaseBackend;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, IntoColumnRef, LockType};

/// The kind of job a lease holds: each channel's ids are its own table's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Channel {
    /// `email_jobs`.
    #[sea_orm(string_value = "email")]
    Email,
    /// `webhook_deliveries`.
    #[sea_orm(string_value = "webhook")]
    Webhook,
}

impl Channel {
    /// Serialises a channel's claims on Postgres (`pg_advisory_xact_lock`):
    /// a claim reads which jobs no lease holds and writes its own lease, so
    /// the next claim must not read before this one commits.
    fn claim_lock(self) -> i64 {
        match self {
            Channel::Email => 0x656d_6169_6c5f_6a6f,
            Channel::Webhook => 0x7765_6268_6f6f_6b73,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub channel: Channel,
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

/// Opens a claim's transaction and takes the channel's turn to claim: on
/// Postgres an advisory lock until it ends, after `postgres_settings` (`SET
/// LOCAL …;` statements for the claim's plan, in the same round trip); on
/// SQLite the transaction holds the single write lock (`BEGIN IMMEDIATE`).
/// Claims are short; sends run outside them.
pub async fn begin_claim(
    db: &DatabaseConnection,
    channel: Channel,
    postgres_settings: &str,
) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    let claim = crate::store::begin_write(db).await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let lock = format!("{postgres_settings}SELECT pg_advisory_xact_lock({})", channel.claim_lock());
        claim.execute_unprepared(&lock).await?;
    }
    Ok(claim)
}

/// Ends a claim [`begin_claim`] opened: with a lease on `job_ids` for
/// `worker` until `locked_until`, committed; or, when the claim found
/// nothing, with `None` and nothing written.
pub async fn finish_claim(
    claim: sea_orm::DatabaseTransaction,
    channel: Channel,
    worker: &str,
    job_ids: &[i64],
    locked_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<Held>, DbErr> {
    if job_ids.is_empty() {
        claim.rollback().await?;
        return Ok(None);
    }
    let lease = create(&claim, channel, worker, job_ids, locked_until, now).await?;
    claim.commit().await?;
    Ok(Some(lease))
}

/// Writes a lease on `job_ids` (of `channel`) for `worker` until `locked_until`.
async fn create<C: ConnectionTrait>(
    db: &C,
    channel: Channel,
    worker: &str,
    job_ids: &[i64],
    locked_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Held, DbErr> {
    let lease = ActiveModel {
        channel: Set(channel),
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

/// Removes the leases of `channel` that ran out before `now` and returns the
/// job ids they named. One statement deletes and returns them, so a lease two
/// rescuers race for goes to exactly one of them.
pub async fn take_expired<C: ConnectionTrait>(db: &C, channel: Channel, now: DateTime<Utc>) -> Result<Vec<i64>, DbErr> {
    let expired = Entity::delete_many()
        .filter(Column::Channel.eq(channel))
        .filter(Column::LockedUntil.lt(now))
        .exec_with_returning(db)
        .await?;
    let mut job_ids = Vec::new();
    for lease in expired {
        job_ids.extend(lease.ids()?);
    }
    Ok(job_ids)
}

/// Whether a lease of `channel` ran out before `now` (a rescue has work).
pub async fn any_expired<C: ConnectionTrait>(db: &C, channel: Channel, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let expired = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Channel.eq(channel))
        .filter(Column::LockedUntil.lt(now))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(expired.is_some())
}

/// How many email jobs live leases hold (claimed, not yet recorded).
pub async fn leased_jobs<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let mut leased = 0;
    for lease in Entity::find().filter(Column::Channel.eq(Channel::Email)).all(db).await? {
        leased += lease.ids()?.len() as u64;
    }
    Ok(leased)
}

/// `column` (a job id of `channel`) is named by no lease. Postgres answers it
/// with one hashed set of every leased id; SQLite with a temporary index of them.
pub fn not_leased(backend: DatabaseBackend, channel: Channel, column: impl IntoColumnRef) -> Expr {
    // sea-query's placeholders: `$1`, `$2` on Postgres, `?` on SQLite.
    // On Postgres the JSON array `[1,2]` is read as the array literal `{1,2}`:
    // a third of the time of parsing it as jsonb, for 16,000 ids per claim.
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "$1 NOT IN (SELECT unnest(('{' || btrim(job_ids, '[]') || '}')::bigint[]) FROM leases WHERE channel = $2)"
        }
        _ => "? NOT IN (SELECT value FROM leases, json_each(leases.job_ids) WHERE leases.channel = ?)",
    };
    Expr::cust_with_exprs(sql, [Expr::col(column), Expr::value(channel.to_value())])
}

/// Holds `held` in place until `txn` ends and says whether it still exists:
/// the condition for recording an outcome, so a worker whose lease expired
/// (and whose jobs were rescued and claimed again) cannot overwrite the new
/// holder's record. On Postgres a shared row lock (`FOR KEY SHARE`: the
/// worker's concurrent outcomes do not wait on each other) makes a rescuer's
/// delete of the lease wait for the outcome; on SQLite `txn` is the one writer.
pub async fn hold<C: ConnectionTrait>(txn: &C, held: &Held) -> Result<bool, DbErr> {
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
