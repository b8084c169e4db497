//! Webinars: the entity, its queries and the rules about when it is open;
//! the admin's editor ([`editor`]), schedule changes and their notices
//! ([`schedule_change`]), ICP variants of the page ([`icp_variant`]) and the
//! demo webinar ([`demo`]).
pub mod demo;
pub mod editor;
pub mod icp_variant;
pub mod schedule_change;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::error::{ClosedReason, DomainError};

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
    pub starts_at: DateTimeUtc,
    pub duration_minutes: i32,
    /// IANA name, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub join_url: String,
    pub status: Status,
    pub capacity: Option<i32>,
    /// Bumped on every schedule change (the `.ics` SEQUENCE).
    pub schedule_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// JSON list of [`AgendaItem`]s; read through [`Model::agenda`].
    pub agenda: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The longest webinar we look back for when finding "the next one".
const MAX_DURATION: Duration = Duration::hours(24);

impl Model {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + Duration::minutes(i64::from(self.duration_minutes))
    }

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

    /// "Tuesday, 1 December 2026, 17:00 CET (UTC+01:00)": the start in the
    /// webinar's own zone, with the zone's name and offset.
    pub fn start_local(&self) -> String {
        self.starts_at.with_timezone(&self.tz()).format("%A, %-d %B %Y, %H:%M %Z (UTC%:z)").to_string()
    }

    /// Whether a new registration is accepted at `now`. Drafts are not public.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        match self.status {
            Status::Draft => Err(DomainError::WebinarNotFound),
            Status::Cancelled => Err(DomainError::Closed(ClosedReason::Cancelled)),
            Status::Published if now >= self.ends_at() => Err(DomainError::Closed(ClosedReason::Ended)),
            Status::Published => Ok(()),
        }
    }

    /// Whether `registrations` take every seat (never, without a capacity).
    pub fn is_full(&self, registrations: u64) -> bool {
        self.capacity.is_some_and(|capacity| registrations >= u64::try_from(capacity).unwrap_or(0))
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

/// The published webinar that starts next (or is running now).
pub async fn next_upcoming<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Option<Model>, DbErr> {
    let candidates = Entity::find()
        .filter(Column::Status.eq(Status::Published))
        .filter(Column::StartsAt.gt(now - MAX_DURATION))
        .order_by_asc(Column::StartsAt)
        .limit(20)
        .all(db)
        .await?;
    Ok(candidates.into_iter().find(|webinar| webinar.ends_at() > now))
}

/// A public webinar by slug, or the next upcoming one when no slug is given.
pub async fn resolve<C: ConnectionTrait>(db: &C, slug: Option<&str>, now: DateTime<Utc>) -> Result<Model, DomainError> {
    let found = match canonical_slug(slug) {
        Some(slug) => find_public_by_slug(db, slug).await?,
        None => next_upcoming(db, now).await?,
    };
    found.ok_or(DomainError::WebinarNotFound)
}

/// What it takes to create a webinar (the seed, tests and, later, the admin).
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

pub async fn create<C: ConnectionTrait>(db: &C, new: NewWebinar, now: DateTime<Utc>) -> Result<Model, DbErr> {
    ActiveModel { schedule_version: Set(0), created_at: Set(now), ..new.into_active_model(now)? }.insert(db).await
}

impl NewWebinar {
    /// Every field the editor sets, as an update (or, with the rest, an insert).
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
            starts_at: Set(self.starts_at),
            duration_minutes: Set(self.duration_minutes),
            timezone: Set(self.timezone.name().to_owned()),
            join_url: Set(self.join_url),
            status: Set(self.status),
            capacity: Set(self.capacity),
            updated_at: Set(now),
            ..Default::default()
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A published webinar on 1 December 2026, 16:00–17:00 UTC, in Berlin time.
    pub(crate) fn sample() -> Model {
        webinar(Status::Published, at("2026-12-01T16:00:00Z"))
    }

    fn webinar(status: Status, starts_at: DateTime<Utc>) -> Model {
        Model {
            id: 1,
            slug: "demo".into(),
            title: "Demo".into(),
            subtitle: String::new(),
            description: String::new(),
            speakers: "[]".into(),
            starts_at,
            duration_minutes: 60,
            timezone: "Europe/Berlin".into(),
            join_url: "https://meet.example.com/demo".into(),
            status,
            capacity: None,
            schedule_version: 0,
            created_at: starts_at,
            updated_at: starts_at,
            agenda: "[]".into(),
        }
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).expect("valid instant").with_timezone(&Utc)
    }

    #[test]
    fn start_is_shown_in_the_webinars_zone_with_name_and_offset() {
        let winter = webinar(Status::Published, at("2026-12-01T16:00:00Z"));
        assert_eq!(winter.start_local(), "Tuesday, 1 December 2026, 17:00 CET (UTC+01:00)");
        let summer = webinar(Status::Published, at("2026-07-01T16:00:00Z"));
        assert_eq!(summer.start_local(), "Wednesday, 1 July 2026, 18:00 CEST (UTC+02:00)");
    }

    #[test]
    fn open_until_the_end_then_closed() {
        let start = at("2026-12-01T16:00:00Z");
        let published = webinar(Status::Published, start);
        assert!(published.check_open(start - Duration::days(3)).is_ok());
        assert!(published.check_open(start + Duration::minutes(30)).is_ok(), "late joiners may still register");
        assert!(matches!(
            published.check_open(start + Duration::minutes(60)),
            Err(DomainError::Closed(ClosedReason::Ended))
        ));
    }

    #[test]
    fn drafts_are_invisible_and_cancelled_is_closed() {
        let start = at("2026-12-01T16:00:00Z");
        let now = start - Duration::days(1);
        assert!(matches!(webinar(Status::Draft, start).check_open(now), Err(DomainError::WebinarNotFound)));
        assert!(matches!(
            webinar(Status::Cancelled, start).check_open(now),
            Err(DomainError::Closed(ClosedReason::Cancelled))
        ));
    }
}
