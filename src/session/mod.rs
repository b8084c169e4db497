//! Sessions: one occurrence of a webinar, with its own start, duration,
//! join link, seats, status and schedule version. A webinar (the page and
//! its copy) has one or more; a registration belongs to one. Changing a
//! session's time or cancelling it keeps its emails true
//! ([`schedule_change`]); a series of them is made by [`repeat`].
pub mod form;
pub mod repeat;
pub mod schedule_change;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::error::{ClosedReason, DomainError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "scheduled")]
    Scheduled,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webinar_id: i64,
    pub starts_at: DateTimeUtc,
    pub duration_minutes: i32,
    pub join_url: String,
    pub capacity: Option<i32>,
    pub status: Status,
    /// Bumped on every schedule change (the `.ics` SEQUENCE).
    pub schedule_version: i32,
    /// The `.ics` UID: stable for the session's life, so calendars update
    /// the event they have (a migrated session keeps its webinar's).
    pub calendar_uid: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The longest session we look back for when finding "the next one".
pub const MAX_DURATION: Duration = Duration::hours(24);

impl Model {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + Duration::minutes(i64::from(self.duration_minutes))
    }

    /// "Tuesday, 1 December 2026, 17:00 CET (UTC+01:00)": the start in
    /// `zone` (the webinar's), with the zone's name and offset.
    pub fn start_local(&self, zone: Tz) -> String {
        self.starts_at.with_timezone(&zone).format("%A, %-d %B %Y, %H:%M %Z (UTC%:z)").to_string()
    }

    /// Whether the session takes a new registration at `now` (its webinar's
    /// status is the webinar's to check): until its end, unless cancelled.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        match self.status {
            Status::Cancelled => Err(DomainError::Closed(ClosedReason::Cancelled)),
            Status::Scheduled if now >= self.ends_at() => Err(DomainError::Closed(ClosedReason::Ended)),
            Status::Scheduled => Ok(()),
        }
    }

    /// Whether a visitor is offered this session at `now`.
    pub fn is_offered(&self, now: DateTime<Utc>) -> bool {
        self.check_open(now).is_ok()
    }

    /// Whether `registrations` take every seat (never, without a capacity).
    pub fn is_full(&self, registrations: u64) -> bool {
        fills(self.capacity, registrations)
    }
}

/// Whether `registrations` take every seat of `capacity` (never, without one).
pub fn fills(capacity: Option<i32>, registrations: u64) -> bool {
    capacity.is_some_and(|capacity| registrations >= u64::try_from(capacity).unwrap_or(0))
}

/// The first of `sessions` (in start order) a visitor may still register for.
pub fn next_offered(sessions: &[Model], now: DateTime<Utc>) -> Option<&Model> {
    sessions.iter().filter(|session| session.is_offered(now)).min_by_key(|session| (session.starts_at, session.id))
}

/// The session a one-line summary of the webinar shows (its list, its
/// form's schedule fields): the next one offered, else the latest.
pub fn representative(sessions: &[Model], now: DateTime<Utc>) -> Option<&Model> {
    next_offered(sessions, now).or_else(|| sessions.iter().max_by_key(|session| (session.starts_at, session.id)))
}

/// A webinar's sessions, in start order.
pub async fn of_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::WebinarId.eq(webinar_id))
        .order_by_asc(Column::StartsAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// The sessions of these webinars, each webinar's in start order.
pub async fn of_webinars<C: ConnectionTrait>(
    db: &C,
    webinar_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, Vec<Model>>, DbErr> {
    let found = Entity::find()
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::WebinarId, webinar_ids))
        .order_by_asc(Column::StartsAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    let mut by_webinar: HashMap<i64, Vec<Model>> = HashMap::new();
    for session in found {
        by_webinar.entry(session.webinar_id).or_default().push(session);
    }
    Ok(by_webinar)
}

/// The sessions with these ids, by id (a deleted one is absent).
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, Model>, DbErr> {
    let found =
        Entity::find().filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids)).all(db).await?;
    Ok(found.into_iter().map(|session| (session.id, session)).collect())
}

/// Scheduled sessions that may still be running or ahead at `now`, in start
/// order, at most `limit`: where "the next webinar" is looked for.
pub async fn upcoming<C: ConnectionTrait>(db: &C, now: DateTime<Utc>, limit: u64) -> Result<Vec<Model>, DbErr> {
    let candidates = Entity::find()
        .filter(Column::Status.eq(Status::Scheduled))
        .filter(Column::StartsAt.gt(now - MAX_DURATION))
        .order_by_asc(Column::StartsAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(candidates.into_iter().filter(|session| session.ends_at() > now).collect())
}

/// One of `webinar_id`'s sessions by id; a session of another webinar is
/// none of this one's.
pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

pub async fn find_of_webinar<C: ConnectionTrait>(db: &C, webinar_id: i64, id: i64) -> Result<Model, DomainError> {
    let found = find(db, id).await?;
    found.filter(|session| session.webinar_id == webinar_id).ok_or(DomainError::SessionNotFound)
}

/// Holds a session's row until the transaction ends (Postgres): the
/// registrations that count its seats, its schedule changes and a
/// registrant moving into it take turns. SQLite lets one writer in at a
/// time anyway.
pub async fn lock<C: ConnectionTrait>(txn: &C, id: i64) -> Result<Option<Model>, DbErr> {
    let query = Entity::find_by_id(id);
    match txn.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => query.lock_exclusive().one(txn).await,
        _ => query.one(txn).await,
    }
}

/// What it takes to schedule a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub join_url: String,
    pub capacity: Option<i32>,
}

impl From<&Model> for NewSession {
    /// A session's schedule as a form writes it.
    fn from(session: &Model) -> Self {
        Self {
            starts_at: session.starts_at,
            duration_minutes: session.duration_minutes,
            join_url: session.join_url.clone(),
            capacity: session.capacity,
        }
    }
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    new: NewSession,
    now: DateTime<Utc>,
) -> Result<Model, DbErr> {
    ActiveModel {
        webinar_id: Set(webinar_id),
        starts_at: Set(new.starts_at),
        duration_minutes: Set(new.duration_minutes),
        join_url: Set(new.join_url),
        capacity: Set(new.capacity),
        status: Set(Status::Scheduled),
        schedule_version: Set(0),
        calendar_uid: Set(format!("session-{}", Alphanumeric.sample_string(&mut rand::rng(), 24))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Sets the fields a schedule change does not touch (duration, join link,
/// seats); the start and the status change through [`schedule_change`].
pub async fn update_details<C: ConnectionTrait>(
    db: &C,
    current: Model,
    new: &NewSession,
    now: DateTime<Utc>,
) -> Result<Model, DbErr> {
    if current.duration_minutes == new.duration_minutes
        && current.join_url == new.join_url
        && current.capacity == new.capacity
    {
        return Ok(current);
    }
    ActiveModel {
        duration_minutes: Set(new.duration_minutes),
        join_url: Set(new.join_url.clone()),
        capacity: Set(new.capacity),
        updated_at: Set(now),
        ..current.into()
    }
    .update(db)
    .await
}

/// Deletes a session nobody registered for.
pub async fn delete<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DomainError> {
    let registrants = crate::registration::count::for_session(db, id).await?;
    if registrants > 0 {
        return Err(DomainError::SessionHasRegistrants);
    }
    Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A session on 1 December 2026, 16:00–17:00 UTC.
    pub(crate) fn sample() -> Model {
        let starts_at = at("2026-12-01T16:00:00Z");
        Model {
            id: 1,
            webinar_id: 1,
            starts_at,
            duration_minutes: 60,
            join_url: "https://meet.example.com/demo".into(),
            capacity: None,
            status: Status::Scheduled,
            schedule_version: 0,
            calendar_uid: "webinar-1".into(),
            created_at: starts_at,
            updated_at: starts_at,
        }
    }

    pub(crate) fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).expect("valid instant").with_timezone(&Utc)
    }

    #[test]
    fn start_is_shown_in_the_webinars_zone_with_name_and_offset() {
        let winter = sample();
        assert_eq!(winter.start_local(chrono_tz::Europe::Berlin), "Tuesday, 1 December 2026, 17:00 CET (UTC+01:00)");
        let summer = Model { starts_at: at("2026-07-01T16:00:00Z"), ..sample() };
        assert_eq!(summer.start_local(chrono_tz::Europe::Berlin), "Wednesday, 1 July 2026, 18:00 CEST (UTC+02:00)");
    }

    #[test]
    fn open_until_the_end_then_closed() {
        let session = sample();
        assert!(session.check_open(session.starts_at - Duration::days(3)).is_ok());
        assert!(session.check_open(session.starts_at + Duration::minutes(30)).is_ok(), "late joiners may register");
        assert!(matches!(session.check_open(session.ends_at()), Err(DomainError::Closed(ClosedReason::Ended))));
        let cancelled = Model { status: Status::Cancelled, ..sample() };
        assert!(matches!(
            cancelled.check_open(session.starts_at - Duration::days(1)),
            Err(DomainError::Closed(ClosedReason::Cancelled))
        ));
    }

    #[test]
    fn the_next_offered_session_skips_past_and_cancelled_ones() {
        let now = at("2026-12-01T18:00:00Z");
        let past = sample();
        let cancelled = Model { id: 2, starts_at: at("2026-12-02T16:00:00Z"), status: Status::Cancelled, ..sample() };
        let later = Model { id: 3, starts_at: at("2026-12-09T16:00:00Z"), ..sample() };
        let next = Model { id: 4, starts_at: at("2026-12-03T16:00:00Z"), ..sample() };
        let sessions = [past, cancelled, later, next];
        assert_eq!(next_offered(&sessions, now).map(|session| session.id), Some(4));
        assert_eq!(next_offered(&sessions, at("2026-12-10T00:00:00Z")), None);
    }

    #[test]
    fn seats_fill_at_the_capacity() {
        let capped = Model { capacity: Some(2), ..sample() };
        assert!(!capped.is_full(1));
        assert!(capped.is_full(2));
        assert!(!sample().is_full(1_000_000));
    }
}
