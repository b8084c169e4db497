//! Each session's registration count, kept in counter rows that the
//! registration's own transaction (and an erase's, and a move's) updates, so
//! reading it is a sum over a few rows however many registrations there
//! are; a webinar's count is the sum over its sessions' rows. Counting the
//! registrations table instead is linear in its size: under load that count
//! was the write path's largest cost.
//!
//! A session's count is spread over [`SHARDS`] rows, picked by registration
//! id: concurrent registrations update different rows instead of queueing
//! on one row's lock until each commits.
use std::collections::HashMap;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, SimpleExpr};
use sea_orm::{ActiveValue::Set, QuerySelect};

pub const SHARDS: i64 = 16;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i32,
    pub webinar_id: i64,
    pub registrations: i64,
}

/// A registration's session's count and its webinar's, both including it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub session: u64,
    pub webinar: u64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The shard a registration counts in.
fn shard_of(registration_id: i64) -> i32 {
    // The remainder is below SHARDS.
    registration_id.rem_euclid(SHARDS) as i32
}

/// Adds `delta` registrations to a session's count; call it in the
/// transaction that inserts, moves or deletes registration `registration_id`.
pub async fn add<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    session_id: i64,
    registration_id: i64,
    delta: i64,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        session_id: Set(session_id),
        shard: Set(shard_of(registration_id)),
        webinar_id: Set(webinar_id),
        registrations: Set(delta),
    };
    let bump =
        Expr::col((Entity, Column::Registrations)).add(Expr::col((Alias::new("excluded"), Column::Registrations)));
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::SessionId, Column::Shard]).value(Column::Registrations, bump).to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// SQLite: [`add`] one registration and return its session's and webinar's
/// counts including it, in one statement: the upsert returns the bumped
/// shard's new value plus the other rows' sums (which the statement does not
/// change). Postgres does this inside the registration's own statement
/// (`registration::write_new_in_one_statement`).
pub async fn add_one_and_count<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    session_id: i64,
    registration_id: i64,
) -> Result<Counts, DbErr> {
    const SQL: &str = "INSERT INTO session_counts (session_id, shard, webinar_id, registrations) VALUES (?1, ?2, ?3, 1) \
        ON CONFLICT (session_id, shard) DO UPDATE SET registrations = session_counts.registrations + 1 \
        RETURNING CAST(registrations + COALESCE((SELECT SUM(others.registrations) FROM session_counts AS others \
            WHERE others.session_id = ?1 AND others.shard <> ?2), 0) AS BIGINT), \
        CAST(registrations + COALESCE((SELECT SUM(others.registrations) FROM session_counts AS others \
            WHERE others.webinar_id = ?3 AND NOT (others.session_id = ?1 AND others.shard = ?2)), 0) AS BIGINT)";
    let values = [session_id.into(), shard_of(registration_id).into(), webinar_id.into()];
    let statement = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), SQL, values);
    let row = db.query_one_raw(statement).await?.ok_or(DbErr::RecordNotFound("registration count".into()))?;
    Ok(Counts {
        session: row.try_get_by_index::<i64>(0)?.unsigned_abs(),
        webinar: row.try_get_by_index::<i64>(1)?.unsigned_abs(),
    })
}

/// `SUM(registrations)` as a 64-bit integer on both databases (Postgres sums
/// `bigint` into `numeric`), 0 when there are no rows.
fn total() -> SimpleExpr {
    let sum: SimpleExpr = Func::sum(Expr::col(Column::Registrations)).into();
    Func::cast_as(Func::coalesce([sum, Expr::val(0)]), Alias::new("BIGINT")).into()
}

/// A webinar's registrations.
pub async fn for_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<u64, DbErr> {
    let total = Entity::find()
        .select_only()
        .column_as(total(), "registrations")
        .filter(Column::WebinarId.eq(webinar_id))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(total.unwrap_or(0).unsigned_abs())
}

/// A session's registrations.
pub async fn for_session<C: ConnectionTrait>(db: &C, session_id: i64) -> Result<u64, DbErr> {
    let total = Entity::find()
        .select_only()
        .column_as(total(), "registrations")
        .filter(Column::SessionId.eq(session_id))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(total.unwrap_or(0).unsigned_abs())
}

/// Both counts of a registration in `session_id` of `webinar_id`.
pub async fn for_session_of<C: ConnectionTrait>(db: &C, webinar_id: i64, session_id: i64) -> Result<Counts, DbErr> {
    Ok(Counts { session: for_session(db, session_id).await?, webinar: for_webinar(db, webinar_id).await? })
}

/// Registrations per session of these webinars (a session nobody registered for is absent).
pub async fn by_session<C: ConnectionTrait>(
    db: &C,
    webinar_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, u64>, DbErr> {
    let rows = Entity::find()
        .select_only()
        .column(Column::SessionId)
        .column_as(total(), "registrations")
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::WebinarId, webinar_ids))
        .group_by(Column::SessionId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(session_id, count)| (session_id, count.unsigned_abs())).collect())
}

/// Registrations per webinar, for every webinar that has any.
pub async fn by_webinar<C: ConnectionTrait>(db: &C) -> Result<HashMap<i64, u64>, DbErr> {
    let rows = Entity::find()
        .select_only()
        .column(Column::WebinarId)
        .column_as(total(), "registrations")
        .group_by(Column::WebinarId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(webinar_id, count)| (webinar_id, count.unsigned_abs())).collect())
}
