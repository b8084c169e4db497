//! The `suppressions` table: addresses no email of any webinar goes to any
//! more (a hard bounce, a spam report or an unsubscribe at the provider),
//! until an admin removes them.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{QueryOrder, QuerySelect};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suppressions")]
pub struct Model {
    /// [`crate::EmailAddress::key`].
    #[sea_orm(primary_key, auto_increment = false)]
    pub email_key: String,
    /// The event that put it here: `bounce`, `spamreport`, `unsubscribe`, `group_unsubscribe`.
    pub event: String,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Adds the addresses; one already on the list keeps its first entry.
pub async fn add<C: ConnectionTrait>(db: &C, entries: Vec<ActiveModel>) -> Result<(), DbErr> {
    for chunk in entries.chunks(1000) {
        Entity::insert_many(chunk.to_vec())
            .on_conflict(OnConflict::column(Column::EmailKey).do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub fn entry(email_key: String, event: &str, reason: Option<String>, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel { email_key: Set(email_key), event: Set(event.to_owned()), reason: Set(reason), created_at: Set(now) }
}

/// Which of these addresses are suppressed.
pub async fn among<C: ConnectionTrait>(db: &C, email_keys: &[String]) -> Result<HashSet<String>, DbErr> {
    if email_keys.is_empty() {
        return Ok(HashSet::new());
    }
    let mut found = HashSet::new();
    for chunk in email_keys.chunks(1000) {
        let keys: Vec<String> = Entity::find()
            .select_only()
            .column(Column::EmailKey)
            .filter(Column::EmailKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(keys);
    }
    Ok(found)
}

/// The list, newest first.
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_desc(Column::CreatedAt).order_by_asc(Column::EmailKey).all(db).await
}

/// Takes an address off the list; false when it was not on it.
pub async fn remove<C: ConnectionTrait>(db: &C, email_key: &str) -> Result<bool, DbErr> {
    Ok(Entity::delete_by_id(email_key.to_owned()).exec(db).await?.rows_affected > 0)
}
