//! A webinar's sessions through the admin API: list, add (one, or a
//! repeating series), change, cancel and delete. A change that would email
//! registrants (a new start, a cancellation) needs `"notify": true`, as on
//! the webinar itself; the schedule fields are checked where the editor
//! checks them ([`session::form`]).
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::webinars::present;
use crate::announce;
use crate::resource::SessionResource;
use crate::session::form::ScheduleFields;
use crate::session::repeat::RepeatFields;
use crate::session::schedule_change;
use crate::webhook::EventType;
use crate::{ClosedReason, DomainError, FieldError, Service, registration, session, webinar};

/// A session as a program sends it. On create, `starts_at` is needed and
/// the rest default to the webinar's next session; on update, a field left
/// out keeps its value.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionInput {
    /// RFC 3339, e.g. `2027-01-12T17:00:00+01:00`.
    pub starts_at: Option<String>,
    /// Or the wall-clock start in the webinar's zone, `2027-01-12T17:00`.
    pub starts_local: Option<String>,
    pub duration_minutes: Option<i64>,
    pub join_url: Option<String>,
    /// Seats; `null` for no limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub capacity: Option<Option<i64>>,
    /// On update, `cancelled` cancels the session (`scheduled` changes nothing).
    pub status: Option<String>,
    /// On create, more sessions after the first, on its wall-clock time.
    pub repeat: Option<RepeatInput>,
    /// A new start or a cancellation emails the session's registrants;
    /// without `"notify": true` such a change is refused (409) and nothing is saved.
    #[serde(default)]
    pub notify: bool,
}

/// Every `interval` weeks (on `weekdays`) or days, from the first session's
/// start at its wall-clock time in the webinar's zone (17:00 in Berlin
/// stays 17:00 across daylight saving), for `count` sessions or `until` a
/// day. The sessions it makes are ordinary sessions afterwards.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatInput {
    /// `week` or `day`.
    pub every: String,
    /// 1 when left out.
    pub interval: Option<u32>,
    /// `mon` … `sun`; on a weekly repeat, the first start's weekday when left out.
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// How many sessions in all, the first included.
    pub count: Option<usize>,
    /// The last day a session may fall on, `2027-03-31`.
    pub until: Option<String>,
}

/// A session's fields as text, each `None` when left out (it keeps its
/// value, or on a create takes the webinar's next session's): what the
/// admin's form posts, and what the API's JSON becomes.
#[derive(Clone, Debug, Default)]
pub struct SessionText {
    pub starts_at: Option<String>,
    pub starts_local: Option<String>,
    pub duration_minutes: Option<String>,
    pub join_url: Option<String>,
    /// Empty for no limit.
    pub capacity: Option<String>,
}

/// A repeat rule as text (see [`RepeatFields`]); empty fields are left out.
#[derive(Clone, Debug, Default)]
pub struct RepeatText {
    pub every: String,
    pub interval: String,
    pub weekdays: Vec<String>,
    pub count: String,
    pub until: String,
}

impl SessionText {
    /// The schedule these fields set onto `base`'s values.
    fn onto(
        &self,
        base: &session::Model,
        zone: chrono_tz::Tz,
        errors: &mut Vec<FieldError>,
    ) -> Option<session::NewSession> {
        let starts_at = base.starts_at.to_rfc3339();
        let duration = base.duration_minutes.to_string();
        let capacity = base.capacity.map(|seats| seats.to_string()).unwrap_or_default();
        let fields = ScheduleFields {
            starts_at: self.starts_at.as_deref().unwrap_or(&starts_at),
            starts_local: self.starts_local.as_deref().unwrap_or(""),
            duration_minutes: self.duration_minutes.as_deref().unwrap_or(&duration),
            join_url: self.join_url.as_deref().unwrap_or(&base.join_url),
            capacity: self.capacity.as_deref().unwrap_or(&capacity),
        };
        fields.parse(Some(zone), errors)
    }

    fn starts(&self) -> bool {
        self.starts_at.is_some() || self.starts_local.as_deref().is_some_and(|local| !local.trim().is_empty())
    }
}

impl SessionInput {
    fn text(&self) -> SessionText {
        SessionText {
            starts_at: self.starts_at.clone(),
            starts_local: self.starts_local.clone(),
            duration_minutes: self.duration_minutes.map(|minutes| minutes.to_string()),
            join_url: self.join_url.clone(),
            capacity: self.capacity.map(|seats| seats.map(|seats| seats.to_string()).unwrap_or_default()),
        }
    }
}

impl RepeatInput {
    fn text(&self) -> RepeatText {
        let number = |value: Option<String>| value.unwrap_or_default();
        RepeatText {
            every: self.every.clone(),
            interval: number(self.interval.map(|interval| interval.to_string())),
            weekdays: self.weekdays.clone(),
            count: number(self.count.map(|count| count.to_string())),
            until: number(self.until.clone()),
        }
    }
}

/// What a change of one session does besides its fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionChange {
    pub cancel: bool,
    /// The editor confirmed that registrants may be emailed.
    pub notify: bool,
}

fn in_the_future(starts_at: DateTime<Utc>, now: DateTime<Utc>, errors: &mut Vec<FieldError>) {
    if starts_at <= now {
        errors.push(FieldError::new("starts_at", "A session's new start must be in the future."));
    }
}

impl Service {
    /// The webinar's sessions (drafts' too), in start order, with their counts.
    pub async fn api_sessions(&self, slug: &str) -> Result<Vec<SessionResource>, DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        self.sessions_of(&webinar).await
    }

    /// A webinar already loaded's sessions, in start order, with their counts.
    pub async fn sessions_of(&self, webinar: &webinar::Model) -> Result<Vec<SessionResource>, DomainError> {
        Ok(SessionResource::of_webinar(self.db(), webinar.id).await?)
    }

    pub async fn api_session(&self, id: i64) -> Result<SessionResource, DomainError> {
        let session = session::find(self.db(), id).await?.ok_or(DomainError::SessionNotFound)?;
        let registrations = registration::count::for_session(self.db(), id).await?;
        Ok(SessionResource::new(session, registrations))
    }

    /// Adds a session, or with `repeat` a series of them, to a webinar that
    /// is not cancelled; answers the sessions made.
    pub async fn api_create_sessions(
        &self,
        slug: &str,
        input: &SessionInput,
    ) -> Result<Vec<SessionResource>, DomainError> {
        let mut errors = Vec::new();
        if input.status.as_deref().is_some_and(|status| status != "scheduled") {
            errors.push(FieldError::new("status", "A new session is scheduled; cancel it afterwards if need be."));
        }
        let repeat = input.repeat.as_ref().map(RepeatInput::text);
        self.create_sessions(slug, &input.text(), repeat.as_ref(), errors).await
    }

    /// [`Self::api_create_sessions`] from text, with `errors` found before.
    pub async fn create_sessions(
        &self,
        slug: &str,
        text: &SessionText,
        repeat: Option<&RepeatText>,
        mut errors: Vec<FieldError>,
    ) -> Result<Vec<SessionResource>, DomainError> {
        let now = self.now();
        let txn = crate::store::begin_write(self.db()).await?;
        let webinar = webinar::find_by_slug(&txn, slug).await?.ok_or(DomainError::WebinarNotFound)?;
        if webinar.status == webinar::Status::Cancelled {
            return Err(DomainError::Closed(ClosedReason::Cancelled));
        }
        let sessions = session::of_webinar(&txn, webinar.id).await?;
        let base = session::representative(&sessions, now).ok_or(DomainError::SessionNotFound)?;
        if !text.starts() {
            errors.push(FieldError::new("starts_at", "Give the new session's start, e.g. 2027-01-12T17:00:00+01:00."));
        }
        let zone = webinar.tz();
        let schedule = text.onto(base, zone, &mut errors);
        let starts = match (&schedule, repeat) {
            (Some(first), Some(repeat)) => {
                let fields = RepeatFields {
                    every: &repeat.every,
                    interval: &repeat.interval,
                    weekdays: &repeat.weekdays,
                    count: &repeat.count,
                    until: &repeat.until,
                };
                match fields.parse(first.starts_at, zone) {
                    Ok(rule) => rule.starts(),
                    Err(found) => {
                        errors.extend(found);
                        Vec::new()
                    }
                }
            }
            (Some(first), None) => vec![first.starts_at],
            (None, _) => Vec::new(),
        };
        if let Some(first) = starts.first() {
            in_the_future(*first, now, &mut errors);
        } else if errors.is_empty() {
            let message = "This repeat makes no session: none of its weekdays falls before its last day.";
            errors.push(FieldError::new("repeat.weekdays", message));
        }
        let Some(schedule) = schedule.filter(|_| errors.is_empty()) else { return Err(DomainError::Invalid(errors)) };
        let mut created = Vec::with_capacity(starts.len());
        for starts_at in starts {
            let new = session::NewSession { starts_at, ..schedule.clone() };
            created.push(SessionResource::new(session::create(&txn, webinar.id, new, now).await?, 0));
        }
        announce::webinar_row_saved(&txn, EventType::WebinarUpdated, &webinar, now).await?;
        txn.commit().await?;
        tracing::info!(webinar = %webinar.slug, sessions = created.len(), "sessions added");
        Ok(created)
    }

    /// Changes a session: its length, link and seats at once; a new start
    /// moves its reminders and emails its registrants the new time, and
    /// `status: cancelled` cancels it (both only with `notify` when someone
    /// would be emailed).
    pub async fn api_update_session(&self, id: i64, input: &SessionInput) -> Result<SessionResource, DomainError> {
        let mut errors = Vec::new();
        let cancel = match input.status.as_deref() {
            None | Some("scheduled") => false,
            Some("cancelled") => true,
            Some(_) => {
                errors.push(FieldError::new("status", "A session's status is `scheduled` or `cancelled`."));
                false
            }
        };
        if input.repeat.is_some() {
            errors.push(FieldError::new("repeat", "Only a new session repeats: add the series with POST."));
        }
        let change = SessionChange { cancel, notify: input.notify };
        self.update_session(id, &input.text(), change, errors).await
    }

    /// [`Self::api_update_session`] from text, with `errors` found before.
    pub async fn update_session(
        &self,
        id: i64,
        text: &SessionText,
        SessionChange { cancel, notify }: SessionChange,
        mut errors: Vec<FieldError>,
    ) -> Result<SessionResource, DomainError> {
        let now = self.now();
        let txn = crate::store::begin_write(self.db()).await?;
        let current = session::lock(&txn, id).await?.ok_or(DomainError::SessionNotFound)?;
        let webinar = webinar::find(&txn, current.webinar_id).await?.ok_or(DomainError::SessionNotFound)?;
        let schedule = text.onto(&current, webinar.tz(), &mut errors);
        let moved = schedule.as_ref().is_some_and(|schedule| schedule.starts_at != current.starts_at);
        if let Some(schedule) = schedule.as_ref().filter(|_| moved) {
            in_the_future(schedule.starts_at, now, &mut errors);
        }
        let Some(schedule) = schedule.filter(|_| errors.is_empty()) else { return Err(DomainError::Invalid(errors)) };
        if current.status == session::Status::Cancelled {
            let unchanged = session::NewSession::from(&current) == schedule;
            return match unchanged {
                true => Ok(SessionResource::new(current, registration::count::for_session(&txn, id).await?)),
                false => Err(DomainError::Closed(ClosedReason::Cancelled)),
            };
        }
        if (moved || cancel) && !notify {
            let registrants = registration::count_subscribed(&txn, [id]).await?;
            if registrants > 0 {
                let message = match cancel {
                    true => format!(
                        "Cancelling this session emails {registrants} registrant(s) a link to pick another time."
                    ),
                    false => format!(
                        "Moving this session to {} emails {registrants} registrant(s) the new time, and their reminders move with it.",
                        schedule.starts_at.with_timezone(&webinar.tz()).format("%A, %-d %B %Y, %H:%M %Z")
                    ),
                };
                return Err(DomainError::NeedsConfirmation(message));
            }
        }
        let starts_at = schedule.starts_at;
        session::update_details(&txn, current, &schedule, now).await?;
        let event = if cancel {
            schedule_change::cancel_session(&txn, id, now).await?;
            EventType::WebinarUpdated
        } else if moved {
            schedule_change::reschedule(&txn, id, starts_at, now).await?;
            EventType::WebinarRescheduled
        } else {
            EventType::WebinarUpdated
        };
        announce::webinar_row_saved(&txn, event, &webinar, now).await?;
        let saved = session::lock(&txn, id).await?.ok_or(DomainError::SessionNotFound)?;
        let registrations = registration::count::for_session(&txn, id).await?;
        txn.commit().await?;
        Ok(SessionResource::new(saved, registrations))
    }

    /// Deletes a session nobody registered for; a webinar keeps at least one.
    pub async fn api_delete_session(&self, id: i64) -> Result<(), DomainError> {
        let now = self.now();
        let txn = crate::store::begin_write(self.db()).await?;
        let current = session::lock(&txn, id).await?.ok_or(DomainError::SessionNotFound)?;
        let webinar = webinar::find(&txn, current.webinar_id).await?.ok_or(DomainError::SessionNotFound)?;
        if session::of_webinar(&txn, webinar.id).await?.len() <= 1 {
            return Err(DomainError::LastSession);
        }
        session::delete(&txn, id).await?;
        announce::webinar_row_saved(&txn, EventType::WebinarUpdated, &webinar, now).await?;
        txn.commit().await?;
        tracing::info!(webinar = %webinar.slug, session = id, "session deleted");
        Ok(())
    }
}
