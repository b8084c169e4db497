//! Email jobs: the database table is the queue. A registration's jobs are
//! written in the same transaction as the registration.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "running")]
    Running,
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
    pub run_at: DateTimeUtc,
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub locked_until: Option<DateTimeUtc>,
    pub locked_by: Option<String>,
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
        run_at: Set(run_at),
        status: Set(Status::Pending),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    });
    Entity::insert_many(rows).exec_without_returning(db).await?;
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
