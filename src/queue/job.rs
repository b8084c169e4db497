//! The `email_jobs` table: one row per email a registrant is due, with its
//! state (see the state diagram in [`crate::queue`]) and its attempts. The
//! queue's modules write it; this one reads it.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, Condition, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

pub use crate::email::Kind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "dead")]
    Dead,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// Its address is on the suppression list (a hard bounce, a spam report,
    /// an unsubscribe at the provider): it never goes out.
    #[sea_orm(string_value = "suppressed")]
    Suppressed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub registration_id: i64,
    pub webinar_id: i64,
    /// The session the email is about (a registrant who moves to another
    /// session leaves this one's emails behind).
    pub session_id: i64,
    pub kind: Kind,
    /// The session's schedule version a notice is about (0 for the
    /// confirmation and reminders): one "time changed" email per change.
    pub schedule_version: i32,
    pub run_at: DateTimeUtc,
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// The worker that made the latest attempt.
    pub attempted_by: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The columns a job's end sets: its new state and why.
pub(super) fn ended(status: Status, reason: &str, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        status: Set(status),
        last_error: Set(Some(reason.to_owned())),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// The jobs with these ids.
pub(super) fn with_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Condition {
    Condition::all().add(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids.iter().copied()))
}

/// Those of the jobs with these ids that are still pending: a job cancelled
/// while its request was out stays cancelled.
pub(super) fn pending_among<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Condition {
    with_ids(db, ids).add(Column::Status.eq(Status::Pending))
}

/// Session `session_id`'s jobs, found through `registrants` (a query of the
/// registration module's yielding the session's registrations). The job
/// table has no index on the session: one would cost every registration four
/// more index entries on its write path. The registrations' session index
/// leads to the jobs through their (registration, session, kind, version) one.
pub(super) fn of_session(session_id: i64, registrants: sea_orm::sea_query::SelectStatement) -> Condition {
    Condition::all().add(Column::RegistrationId.in_subquery(registrants)).add(Column::SessionId.eq(session_id))
}

/// The ids of a webinar's jobs, as a statement to select others by.
pub fn ids_of_webinar(webinar_id: i64) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(Column::Id)
        .from(Entity)
        .and_where(Column::WebinarId.eq(webinar_id))
        .to_owned()
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

/// Email jobs per webinar and state, for every webinar that has any.
pub async fn counts_by_webinar_and_status<C: ConnectionTrait>(db: &C) -> Result<Vec<(i64, Status, u64)>, DbErr> {
    let rows = Entity::find()
        .select_only()
        .column(Column::WebinarId)
        .column(Column::Status)
        .column_as(Column::Id.count(), "jobs")
        .group_by(Column::WebinarId)
        .group_by(Column::Status)
        .into_tuple::<(i64, Status, i64)>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(webinar_id, status, count)| (webinar_id, status, count.unsigned_abs())).collect())
}

/// One webinar's jobs per session, kind and state, for its queue page.
pub async fn counts_for_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<Vec<SessionCount>, DbErr> {
    let rows = Entity::find()
        .select_only()
        .column(Column::SessionId)
        .column(Column::Kind)
        .column(Column::Status)
        .column_as(Column::Id.count(), "jobs")
        .filter(Column::WebinarId.eq(webinar_id))
        .group_by(Column::SessionId)
        .group_by(Column::Kind)
        .group_by(Column::Status)
        .into_tuple::<(i64, Kind, Status, i64)>()
        .all(db)
        .await?;
    let counts = rows.into_iter().map(|(session_id, kind, status, jobs)| SessionCount {
        session_id,
        kind,
        status,
        jobs: jobs.unsigned_abs(),
    });
    Ok(counts.collect())
}

/// How many of a session's jobs of one kind are in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionCount {
    pub session_id: i64,
    pub kind: Kind,
    pub status: Status,
    pub jobs: u64,
}

/// A webinar's dead letters, newest first, .
pub async fn dead_for_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::WebinarId.eq(webinar_id))
        .filter(Column::Status.eq(Status::Dead))
        .order_by_desc(Column::UpdatedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The jobs with these ids, by id (an erased one is absent).
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, Model>, DbErr> {
    let found =
        Entity::find().filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids)).all(db).await?;
    Ok(found.into_iter().map(|job| (job.id, job)).collect())
}
