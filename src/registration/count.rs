//! Each webinar's registration count, kept in counter rows that the
//! registration's own transaction (and an erase's) updates, so reading it is
//! a sum over a few rows however many registrations there are. Counting the
//! registrations table instead is linear in its size: under load that count
//! was the write path's largest cost.
//!
//! A webinar's count is spread over [`SHARDS`] rows, picked by registration
//! id: concurrent registrations update different rows instead of queueing
//! on one row's lock until each commits.
use std::collections::HashMap;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, SimpleExpr};
use sea_orm::{ActiveValue::Set, QuerySelect};

pub const SHARDS: i64 = 16;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registration_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub webinar_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i32,
    pub registrations: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The shard a registration counts in.
fn shard_of(registration_id: i64) -> i32 {
    // The remainder is below SHARDS.
    registration_id.rem_euclid(SHARDS) as i32
}

/// Adds `delta` registrations to a webinar's count; call it in the
/// transaction that inserts or deletes registration `registration_id`.
pub async fn add<C: ConnectionTrait>(db: &C, webinar_id: i64, registration_id: i64, delta: i64) -> Result<(), DbErr> {
    let row =
        ActiveModel { webinar_id: Set(webinar_id), shard: Set(shard_of(registration_id)), registrations: Set(delta) };
    let bump =
        Expr::col((Entity, Column::Registrations)).add(Expr::col((Alias::new("excluded"), Column::Registrations)));
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::WebinarId, Column::Shard]).value(Column::Registrations, bump).to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// SQLite: [`add`] one registration and return the webinar's count including
/// it, in one statement: the upsert returns the bumped shard's new value plus
/// the other shards' sum (which the statement does not change). Postgres does
/// this inside the registration's own statement
/// (`registration::write_new_in_one_statement`).
pub async fn add_one_and_count<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    registration_id: i64,
) -> Result<u64, DbErr> {
    const SQL: &str = "INSERT INTO registration_counts (webinar_id, shard, registrations) VALUES (?1, ?2, 1) \
        ON CONFLICT (webinar_id, shard) DO UPDATE SET registrations = registration_counts.registrations + 1 \
        RETURNING CAST(registrations + COALESCE((SELECT SUM(others.registrations) FROM registration_counts AS others \
        WHERE others.webinar_id = ?1 AND others.shard <> ?2), 0) AS BIGINT)";
    let values = [webinar_id.into(), shard_of(registration_id).into()];
    let statement = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), SQL, values);
    let row = db.query_one_raw(statement).await?.ok_or(DbErr::RecordNotFound("registration count".into()))?;
    Ok(row.try_get_by_index::<i64>(0)?.unsigned_abs())
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
