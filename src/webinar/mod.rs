//! Webinars: the page and its copy (each occurrence is a
//! [`crate::session`]), their queries and the rule about when one is public;
//! the admin's editor ([`editor`]), ICP variants of the page
//! ([`icp_variant`]) and the demo webinar ([`demo`]).
pub mod demo;
pub mod editor;
pub mod icp_variant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, JoinType, QueryOrder, QuerySelect, TransactionSession, TransactionTrait};
use serde::{Deserialize, Serialize};

use crate::error::{ClosedReason, DomainError};
use crate::session::{self, NewSession};

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "published")]
    Published,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Speaker {
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub photo_url: Option<String>,
}

/// One line of the agenda: an optional time ("17:05") and what happens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgendaItem {
    #[serde(default)]
    pub at: String,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webinars")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    /// JSON list of [`Speaker`]s; read through [`Model::speakers`].
    pub speakers: String,
    /// IANA name, e.g. `Europe/Berlin`: where its sessions' times are shown.
    pub timezone: String,
    pub status: Status,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// JSON list of [`AgendaItem`]s; read through [`Model::agenda`].
    pub agenda: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn speakers(&self) -> Vec<Speaker> {
        serde_json::from_str(&self.speakers).unwrap_or_default()
    }

    pub fn agenda(&self) -> Vec<AgendaItem> {
        serde_json::from_str(&self.agenda).unwrap_or_default()
    }

    /// The webinar's zone; an unknown name (never written by this code) falls back to UTC.
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::UTC)
    }

    /// Whether the webinar takes registrations at all (each session then
    /// says whether it does): drafts are not public, a cancelled webinar is closed.
    pub fn check_open(&self) -> Result<(), DomainError> {
        match self.status {
            Status::Draft => Err(DomainError::WebinarNotFound),
            Status::Cancelled => Err(DomainError::Closed(ClosedReason::Cancelled)),
            Status::Published => Ok(()),
        }
    }
}

/// The webinars of `ids`, by id (a deleted one is absent).
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, Model>, DbErr> {
    let found =
        Entity::find().filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids)).all(db).await?;
    Ok(found.into_iter().map(|webinar| (webinar.id, webinar)).collect())
}

/// The longest slug.
pub const SLUG_MAX_CHARS: usize = 80;

/// A slug as the editor writes them: 1–80 lowercase letters, digits and
/// single inner dashes. Anything else names no webinar, so it is answered
/// without asking the database (and is never a cache key).
pub fn is_slug(slug: &str) -> bool {
    (1..=SLUG_MAX_CHARS).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

/// A webinar by slug, whatever its status (operators and the admin).
pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

pub async fn find_by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> Result<Option<Model>, DbErr> {
    if !is_slug(slug) {
        return Ok(None);
    }
    Entity::find().filter(Column::Slug.eq(slug)).one(db).await
}

/// A public (non-draft) webinar by slug.
pub async fn find_public_by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> Result<Option<Model>, DbErr> {
    if !is_slug(slug) {
        return Ok(None);
    }
    Entity::find().filter(Column::Slug.eq(slug)).filter(Column::Status.ne(Status::Draft)).one(db).await
}

/// How a visitor's `slug` is looked up: trimmed, and `None` (the next
/// upcoming webinar) when empty. Caches key on this, not on what was typed.
pub fn canonical_slug(slug: Option<&str>) -> Option<&str> {
    slug.map(str::trim).filter(|slug| !slug.is_empty())
}

/// The published webinar whose session starts next (or is running now).
pub async fn next_upcoming<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Option<Model>, DbErr> {
    let sessions = session::upcoming(db, now, 50).await?;
    let webinars = by_ids(db, sessions.iter().map(|session| session.webinar_id)).await?;
    let mut published = sessions.iter().filter_map(|session| webinars.get(&session.webinar_id));
    Ok(published.find(|webinar| webinar.status == Status::Published).cloned())
}

/// A public webinar by slug, or the next upcoming one when no slug is given.
pub async fn resolve<C: ConnectionTrait>(db: &C, slug: Option<&str>, now: DateTime<Utc>) -> Result<Model, DomainError> {
    let found = match canonical_slug(slug) {
        Some(slug) => find_public_by_slug(db, slug).await?,
        None => next_upcoming(db, now).await?,
    };
    found.ok_or(DomainError::WebinarNotFound)
}

/// [`resolve`] with the webinar's sessions, in start order: what a
/// registration needs, in one query when a slug is given (the registration
/// path's round trips are its largest cost).
pub async fn resolve_with_sessions<C: ConnectionTrait>(
    db: &C,
    slug: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Model, Vec<session::Model>), DomainError> {
    let Some(slug) = canonical_slug(slug) else {
        let webinar = resolve(db, None, now).await?;
        let sessions = session::of_webinar(db, webinar.id).await?;
        return Ok((webinar, sessions));
    };
    if !is_slug(slug) {
        return Err(DomainError::WebinarNotFound);
    }
    let to_webinar = session::Entity::belongs_to(Entity).from(session::Column::WebinarId).to(Column::Id).into();
    let rows = session::Entity::find()
        .join(JoinType::InnerJoin, to_webinar)
        .filter(Column::Slug.eq(slug))
        .filter(Column::Status.ne(Status::Draft))
        .order_by_asc(session::Column::StartsAt)
        .order_by_asc(session::Column::Id)
        .select_also(Entity)
        .all(db)
        .await?;
    let webinar = rows.first().and_then(|(_, webinar)| webinar.clone()).ok_or(DomainError::WebinarNotFound)?;
    Ok((webinar, rows.into_iter().map(|(session, _)| session).collect()))
}

/// What it takes to create a webinar (the seed, tests, the editor and the
/// API): the page, and its first session's schedule.
#[derive(Clone, Debug)]
pub struct NewWebinar {
    pub slug: String,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    pub speakers: Vec<Speaker>,
    pub agenda: Vec<AgendaItem>,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub timezone: Tz,
    pub join_url: String,
    pub status: Status,
    pub capacity: Option<i32>,
}

/// Creates the webinar and its first session, in one transaction.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: NewWebinar,
    now: DateTime<Utc>,
) -> Result<Model, DbErr> {
    let txn = db.begin().await?;
    let first = new.session();
    let webinar = ActiveModel { created_at: Set(now), ..new.into_active_model(now)? }.insert(&txn).await?;
    session::create(&txn, webinar.id, first, now).await?;
    txn.commit().await?;
    Ok(webinar)
}

impl NewWebinar {
    /// The schedule of the webinar's session (its first, or its only one).
    pub fn session(&self) -> NewSession {
        NewSession {
            starts_at: self.starts_at,
            duration_minutes: self.duration_minutes,
            join_url: self.join_url.clone(),
            capacity: self.capacity,
        }
    }

    /// Every field of the page the editor sets, as an update (or, with the
    /// rest, an insert); the schedule is the session's ([`Self::session`]).
    pub fn into_active_model(self, now: DateTime<Utc>) -> Result<ActiveModel, DbErr> {
        let speakers = serde_json::to_string(&self.speakers).map_err(|err| DbErr::Custom(err.to_string()))?;
        let agenda = serde_json::to_string(&self.agenda).map_err(|err| DbErr::Custom(err.to_string()))?;
        Ok(ActiveModel {
            slug: Set(self.slug),
            title: Set(self.title),
            subtitle: Set(self.subtitle),
            description: Set(self.description),
            speakers: Set(speakers),
            agenda: Set(agenda),
            timezone: Set(self.timezone.name().to_owned()),
            status: Set(self.status),
            updated_at: Set(now),
            ..Default::default()
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A published webinar in Berlin time (its session: [`crate::session::tests::sample`]).
    pub(crate) fn sample() -> Model {
        webinar(Status::Published)
    }

    fn webinar(status: Status) -> Model {
        let at = crate::session::tests::at("2026-11-01T16:00:00Z");
        Model {
            id: 1,
            slug: "demo".into(),
            title: "Demo".into(),
            subtitle: String::new(),
            description: String::new(),
            speakers: "[]".into(),
            timezone: "Europe/Berlin".into(),
            status,
            created_at: at,
            updated_at: at,
            agenda: "[]".into(),
        }
    }

    #[test]
    fn drafts_are_invisible_and_cancelled_is_closed() {
        assert!(webinar(Status::Published).check_open().is_ok());
        assert!(matches!(webinar(Status::Draft).check_open(), Err(DomainError::WebinarNotFound)));
        assert!(matches!(webinar(Status::Cancelled).check_open(), Err(DomainError::Closed(ClosedReason::Cancelled))));
    }
}
