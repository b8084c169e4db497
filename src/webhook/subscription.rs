//! `webhook_subscriptions`: which events each endpoint wants, one row each.
//! The endpoint module writes it; announcing an event reads it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub webhook_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
