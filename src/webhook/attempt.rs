//! `webhook_attempts`: the delivery log, one row per attempt with the
//! endpoint's answer. The delivery module writes it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_id: i64,
    pub attempted_at: DateTimeUtc,
    /// The answer's status; `None` when there was no answer (refused, timed out).
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    /// The answer's first [`super::delivery::RESPONSE_KEPT`] bytes.
    pub response: String,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
