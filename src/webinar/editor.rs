//! The admin's webinar form: parsed and validated at the edge, then saved.
//! Its schedule fields are its session's while it has one (a webinar with
//! several edits each in its sessions list). Saving a start-time change or
//! a cancellation goes through the reminder engine's operations, and asks
//! the editor to confirm first when registrants would be emailed.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};

use crate::error::{DomainError, FieldError};
use crate::field::{web_url, within};
use crate::session::form::ScheduleFields;
use crate::session::{self, schedule_change as schedule};
use crate::webhook::event_type::EventType;
use crate::webinar::{self, AgendaItem, NewWebinar, Speaker, Status};
use crate::{registration, session::NewSession};

/// The form as it is posted: every value a string, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebinarForm {
    pub slug: String,
    pub title: String,
    pub subtitle: String,
    /// Markdown.
    pub description: String,
    /// One speaker a line: `Name | Title | https://photo.url` (photo optional).
    pub speakers: String,
    /// One item a line: `17:05 | What happens` (time optional).
    pub agenda: String,
    /// `2026-12-01T17:00`, in `timezone` (the editor's way).
    pub starts_local: String,
    /// An RFC 3339 instant (the API's way), read when `starts_local` is empty.
    pub starts_at: String,
    /// IANA name, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub duration_minutes: String,
    pub join_url: String,
    /// Empty for no limit.
    pub capacity: String,
    pub status: String,
}

const TITLE_MAX_CHARS: usize = 200;
const SUBTITLE_MAX_CHARS: usize = 300;
const DESCRIPTION_MAX_CHARS: usize = 20_000;
const MAX_SPEAKERS: usize = 20;
const MAX_AGENDA_ITEMS: usize = 50;
const LINE_PART_MAX_CHARS: usize = 200;

/// Every IANA zone name, for the editor's list.
pub fn time_zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name()).collect()
}

impl WebinarForm {
    /// A new webinar's form: a draft two weeks out, 17:00 Berlin time, 45 minutes.
    pub fn blank(now: DateTime<Utc>) -> Self {
        Self {
            starts_local: (now + chrono::Duration::days(14)).format("%Y-%m-%dT17:00").to_string(),
            timezone: "Europe/Berlin".into(),
            duration_minutes: "45".into(),
            status: "draft".into(),
            ..Self::default()
        }
    }

    /// The form filled in from a stored webinar and its representative
    /// session ([`session::representative`]), for editing.
    pub fn of(webinar: &webinar::Model, session: &session::Model) -> Self {
        let speakers = webinar.speakers();
        let speakers = speakers.iter().map(|speaker| {
            let parts = [speaker.name.as_str(), speaker.title.as_str(), speaker.photo_url.as_deref().unwrap_or("")];
            parts.join(" | ").trim_end_matches([' ', '|']).to_owned()
        });
        let agenda = webinar.agenda().into_iter().map(|item| match item.at.is_empty() {
            true => item.title,
            false => format!("{} | {}", item.at, item.title),
        });
        Self {
            slug: webinar.slug.clone(),
            title: webinar.title.clone(),
            subtitle: webinar.subtitle.clone(),
            description: webinar.description.clone(),
            speakers: speakers.collect::<Vec<_>>().join("\n"),
            agenda: agenda.collect::<Vec<_>>().join("\n"),
            starts_local: session.starts_at.with_timezone(&webinar.tz()).format("%Y-%m-%dT%H:%M").to_string(),
            starts_at: session.starts_at.to_rfc3339(),
            timezone: webinar.timezone.clone(),
            duration_minutes: session.duration_minutes.to_string(),
            join_url: session.join_url.clone(),
            capacity: session.capacity.map(|capacity| capacity.to_string()).unwrap_or_default(),
            status: crate::ActiveEnum::to_value(&webinar.status),
        }
    }

    /// Checks every field and reports all problems at once.
    pub fn validate(&self) -> Result<NewWebinar, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &str, message: &str| {
            if !ok {
                errors.push(FieldError::new(field, message));
            }
        };
        let slug = self.slug.trim().to_owned();
        check(
            webinar::is_slug(&slug),
            "slug",
            "Use 1–80 lowercase letters, digits and single dashes, e.g. growth-webinar-2026.",
        );
        let title = self.title.trim().to_owned();
        check(
            within(&title, 1, TITLE_MAX_CHARS) && single_line(&title),
            "title",
            "Enter a title (1 to 200 characters, one line).",
        );
        let subtitle = self.subtitle.trim().to_owned();
        check(
            within(&subtitle, 0, SUBTITLE_MAX_CHARS) && single_line(&subtitle),
            "subtitle",
            "The subtitle must be one line of at most 300 characters.",
        );
        let description = self.description.trim().to_owned();
        check(
            within(&description, 0, DESCRIPTION_MAX_CHARS),
            "description",
            "The description must be at most 20,000 characters.",
        );
        let speakers = parse_speakers(&self.speakers);
        check(
            speakers.is_some(),
            "speakers",
            "One speaker a line, at most 20: Name | Title | https://photo (the photo is optional).",
        );
        let agenda = parse_agenda(&self.agenda);
        check(agenda.is_some(), "agenda", "One item a line, at most 50: 17:05 | What happens (the time is optional).");
        let timezone = self.timezone.trim().parse::<Tz>().ok();
        check(timezone.is_some(), "timezone", "Choose a time zone from the list, e.g. Europe/Berlin.");
        let schedule = ScheduleFields {
            starts_at: &self.starts_at,
            starts_local: &self.starts_local,
            duration_minutes: &self.duration_minutes,
            join_url: &self.join_url,
            capacity: &self.capacity,
        }
        .parse(timezone, &mut errors);
        let status = match self.status.trim() {
            "draft" => Some(Status::Draft),
            "published" => Some(Status::Published),
            "cancelled" => Some(Status::Cancelled),
            _ => None,
        };
        if status.is_none() {
            errors.push(FieldError::new("status", "Choose draft, published or cancelled."));
        }
        match (schedule, speakers, agenda, timezone, status) {
            (Some(schedule), Some(speakers), Some(agenda), Some(timezone), Some(status)) if errors.is_empty() => {
                Ok(NewWebinar {
                    slug,
                    title,
                    subtitle,
                    description,
                    speakers,
                    agenda,
                    starts_at: schedule.starts_at,
                    duration_minutes: schedule.duration_minutes,
                    timezone,
                    join_url: schedule.join_url,
                    status,
                    capacity: schedule.capacity,
                })
            }
            _ => Err(errors),
        }
    }
}

/// One line of text: no line break or other control character.
fn single_line(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// Non-empty lines split at `|` into trimmed parts, each part short.
fn lines_of_parts(raw: &str, max_lines: usize) -> Option<Vec<Vec<String>>> {
    let lines: Vec<Vec<String>> = raw
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.split('|').map(|part| part.trim().to_owned()).collect())
        .collect();
    let short = lines.iter().flatten().all(|part| within(part, 0, LINE_PART_MAX_CHARS));
    (lines.len() <= max_lines && short).then_some(lines)
}

fn parse_speakers(raw: &str) -> Option<Vec<Speaker>> {
    lines_of_parts(raw, MAX_SPEAKERS)?
        .into_iter()
        .map(|parts| match parts.as_slice() {
            [name, rest @ ..] if !name.is_empty() && rest.len() <= 2 => {
                let photo_url = match rest.get(1).filter(|url| !url.is_empty()) {
                    Some(url) => Some(web_url(url)?),
                    None => None,
                };
                Some(Speaker { name: name.clone(), title: rest.first().cloned().unwrap_or_default(), photo_url })
            }
            _ => None,
        })
        .collect()
}

fn parse_agenda(raw: &str) -> Option<Vec<AgendaItem>> {
    lines_of_parts(raw, MAX_AGENDA_ITEMS)?
        .into_iter()
        .map(|parts| match parts.as_slice() {
            [title] if !title.is_empty() => Some(AgendaItem { at: String::new(), title: title.clone() }),
            [at, title] if !title.is_empty() => Some(AgendaItem { at: at.clone(), title: title.clone() }),
            _ => None,
        })
        .collect()
}

/// What a save did, in words for the editor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub webinar: webinar::Model,
    pub message: String,
    /// What the save tells webhooks: the webinar updated, rescheduled or cancelled.
    pub event: EventType,
}

/// What saving the form would do to the registrants, before it is done.
enum Effect {
    None,
    Reschedule,
    Cancel,
}

/// Creates a webinar from the form.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: NewWebinar,
    now: DateTime<Utc>,
) -> Result<Saved, DomainError> {
    if new.starts_at <= now {
        return Err(DomainError::Invalid(vec![FieldError::new("starts_at", "The start must be in the future.")]));
    }
    if webinar::find_by_slug(db, &new.slug).await?.is_some() {
        return Err(slug_taken());
    }
    // Another create of the same slug may commit between the check and the insert.
    let webinar = match webinar::create(db, new, now).await {
        Err(error) if matches!(error.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            return Err(slug_taken());
        }
        created => created?,
    };
    tracing::info!(webinar = %webinar.slug, "webinar created");
    Ok(Saved { message: format!("Created “{}”.", webinar.title), webinar, event: EventType::WebinarUpdated })
}

fn slug_taken() -> DomainError {
    DomainError::Invalid(vec![FieldError::new("slug", "Another webinar already uses this address; choose another.")])
}

/// Saves the form over webinar `id`. A new start time or a cancellation
/// runs the reminder engine's operation in the same transaction; when that
/// emails registrants and `confirmed` is false, nothing is written and the
/// editor is told how many would be emailed. The schedule fields change the
/// webinar's session while it has one; with several, they must stay as the
/// form showed them (each session is changed on its own).
/// Call it in a write transaction ([`crate::store::begin_write`]).
pub async fn update<C: TransactionTrait + ConnectionTrait>(
    txn: &C,
    id: i64,
    new: NewWebinar,
    confirmed: bool,
    now: DateTime<Utc>,
) -> Result<Saved, DomainError> {
    let current = webinar::Entity::find_by_id(id).one(txn).await?.ok_or(DomainError::WebinarNotFound)?;
    if new.slug != current.slug && webinar::find_by_slug(txn, &new.slug).await?.is_some() {
        return Err(slug_taken());
    }
    let sessions = session::of_webinar(txn, id).await?;
    let shown = session::representative(&sessions, now).cloned().ok_or(DomainError::SessionNotFound)?;
    let schedule = new.session();
    if sessions.len() > 1 && schedule != NewSession::from(&shown) {
        return Err(DomainError::Invalid(vec![FieldError::new(
            "starts_at",
            format!(
                "This webinar has {} sessions: change each one's time, length, link and seats in its sessions list.",
                sessions.len()
            ),
        )]));
    }
    let effect = match (current.status, new.status) {
        (Status::Cancelled, Status::Cancelled) if schedule.starts_at == shown.starts_at => Effect::None,
        (Status::Cancelled, _) => {
            return Err(DomainError::Invalid(vec![FieldError::new(
                "status",
                "A cancelled webinar stays cancelled, at its time; create a new webinar instead.",
            )]));
        }
        (_, Status::Cancelled) => Effect::Cancel,
        _ if schedule.starts_at != shown.starts_at => Effect::Reschedule,
        _ => Effect::None,
    };
    let registrants = match effect {
        Effect::None => 0,
        Effect::Reschedule => registration::count_subscribed(txn, [shown.id]).await?,
        Effect::Cancel => registration::count_subscribed(txn, sessions.iter().map(|session| session.id)).await?,
    };
    if registrants > 0 && !confirmed {
        let message = match effect {
            Effect::Cancel => format!("Cancelling emails {registrants} registrant(s) that the webinar is cancelled."),
            _ => format!(
                "Moving the start to {} emails {registrants} registrant(s) the new time, and their reminders move with it.",
                moved_start(&new)
            ),
        };
        return Err(DomainError::NeedsConfirmation(message));
    }
    // The plain fields first; the schedule operation then moves the time or cancels.
    let mut row = new.into_active_model(now)?;
    row.id = Set(id);
    if matches!(effect, Effect::Cancel) {
        row.status = Set(current.status);
    }
    let webinar = row.update(txn).await?;
    session::update_details(txn, shown.clone(), &schedule, now).await?;
    // The operations say how many registrants they actually emailed.
    let (webinar, message) = match effect {
        Effect::None => (webinar, "Saved.".to_owned()),
        Effect::Reschedule => {
            let done = schedule::reschedule(txn, shown.id, schedule.starts_at, now).await?;
            let message = match done.notified {
                0 => "Saved.".to_owned(),
                notified => format!("Saved. {notified} registrant(s) will be emailed the new time."),
            };
            (webinar, message)
        }
        Effect::Cancel => {
            let (webinar, done) = schedule::cancel_webinar(txn, id, now).await?;
            let message = match done.notified {
                0 => "Saved.".to_owned(),
                notified => format!("Cancelled. {notified} registrant(s) will be emailed."),
            };
            (webinar, message)
        }
    };
    tracing::info!(webinar = %webinar.slug, "webinar saved");
    let event = match effect {
        Effect::None => EventType::WebinarUpdated,
        Effect::Reschedule => EventType::WebinarRescheduled,
        Effect::Cancel => EventType::WebinarCancelled,
    };
    Ok(Saved { webinar, message, event })
}

fn moved_start(new: &NewWebinar) -> String {
    new.starts_at.with_timezone(&new.timezone).format("%A, %-d %B %Y, %H:%M %Z").to_string()
}

/// Makes a draft live at once.
pub async fn publish<C: ConnectionTrait>(db: &C, id: i64, now: DateTime<Utc>) -> Result<webinar::Model, DomainError> {
    let current = webinar::Entity::find_by_id(id).one(db).await?.ok_or(DomainError::WebinarNotFound)?;
    if current.status == Status::Cancelled {
        return Err(DomainError::Closed(crate::ClosedReason::Cancelled));
    }
    let webinar = webinar::ActiveModel { status: Set(Status::Published), updated_at: Set(now), ..current.into() }
        .update(db)
        .await?;
    tracing::info!(webinar = %webinar.slug, "webinar published");
    Ok(webinar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> WebinarForm {
        WebinarForm {
            slug: "growth-2026".into(),
            title: " Growth ".into(),
            subtitle: "".into(),
            description: "**Hi**".into(),
            speakers: "Ada Lovelace | Head of Growth | https://example.com/ada.png\n\nGrace Hopper".into(),
            agenda: "17:00 | Welcome\nQ&A".into(),
            starts_local: "2026-12-01T17:00".into(),
            starts_at: String::new(),
            timezone: "Europe/Berlin".into(),
            duration_minutes: "45".into(),
            join_url: "https://meet.example.com/x".into(),
            capacity: "".into(),
            status: "draft".into(),
        }
    }

    #[test]
    fn a_good_form_becomes_a_webinar_in_utc() {
        let new = form().validate().expect("valid");
        assert_eq!(new.title, "Growth");
        assert_eq!(new.starts_at.to_rfc3339(), "2026-12-01T16:00:00+00:00");
        assert_eq!(new.speakers.len(), 2);
        assert_eq!(new.speakers[0].photo_url.as_deref(), Some("https://example.com/ada.png"));
        assert_eq!(new.speakers[1].title, "");
        assert_eq!(new.agenda[0], AgendaItem { at: "17:00".into(), title: "Welcome".into() });
        assert_eq!(new.agenda[1].at, "");
        assert_eq!(new.capacity, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = WebinarForm {
            slug: "Not A Slug".into(),
            title: "".into(),
            speakers: "Ada | Growth | javascript:alert(1)".into(),
            timezone: "Mars/Olympus".into(),
            duration_minutes: "0".into(),
            join_url: "javascript:alert(1)".into(),
            capacity: "-3".into(),
            status: "live".into(),
            ..form()
        };
        let fields: Vec<String> = bad.validate().expect_err("invalid").into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["slug", "title", "speakers", "timezone", "duration_minutes", "join_url", "capacity", "status"]
        );
    }

    #[test]
    fn links_are_stored_as_parsed_and_line_breaks_are_refused() {
        for bad in [
            "https://meet.example.com/x\nLocation: https://evil.example",
            "https://meet.example.com/a\tb",
            "https://a b.example",
        ] {
            let form = WebinarForm { join_url: bad.into(), ..form() };
            let fields: Vec<String> = form.validate().expect_err(bad).into_iter().map(|e| e.field).collect();
            assert_eq!(fields, ["join_url"], "{bad:?}");
        }
        let speaker = WebinarForm { speakers: "Ada | Host | https://example.com/a\u{7}.png".into(), ..form() };
        assert!(speaker.validate().is_err(), "a photo URL with a control character");
        let odd = WebinarForm { join_url: "HTTPS://Meet.Example.com/x?y=1".into(), ..form() };
        assert_eq!(
            odd.validate().expect("valid").join_url,
            "https://meet.example.com/x?y=1",
            "what is stored is what was checked"
        );
        let title = WebinarForm { title: "Launch\nBcc: x".into(), ..form() };
        let fields: Vec<String> = title.validate().expect_err("two lines").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["title"]);
    }

    #[test]
    fn without_a_wall_clock_time_the_start_is_an_instant() {
        // 02:30 happens twice in Berlin on 31 October 2027; the instant says which.
        let second = WebinarForm { starts_local: "".into(), starts_at: "2027-10-31T02:30:00+01:00".into(), ..form() };
        assert_eq!(second.validate().expect("valid").starts_at.to_rfc3339(), "2027-10-31T01:30:00+00:00");
        for bad in ["", "2027-10-31 02:30", "2027-10-31T02:30:00"] {
            let form = WebinarForm { starts_local: "".into(), starts_at: bad.into(), ..form() };
            let fields: Vec<String> = form.validate().expect_err(bad).into_iter().map(|e| e.field).collect();
            assert_eq!(fields, ["starts_at"], "{bad:?}");
        }
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_is_refused() {
        // Berlin's clocks jump from 02:00 to 03:00 on 28 March 2027.
        let gap = WebinarForm { starts_local: "2027-03-28T02:30".into(), ..form() };
        let fields: Vec<String> = gap.validate().expect_err("no such time").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["starts_at"]);
    }

    #[test]
    fn a_stored_webinar_fills_the_form_it_came_from() {
        let new = form().validate().expect("valid");
        let mut model = crate::webinar::tests::sample();
        model.speakers = serde_json::to_string(&new.speakers).expect("json");
        model.agenda = serde_json::to_string(&new.agenda).expect("json");
        let again = WebinarForm::of(&model, &crate::session::tests::sample());
        assert_eq!(again.speakers, "Ada Lovelace | Head of Growth | https://example.com/ada.png\nGrace Hopper");
        assert_eq!(again.agenda, "17:00 | Welcome\nQ&A");
        assert_eq!(again.starts_local, "2026-12-01T17:00");
        assert_eq!(again.validate().expect("still valid").speakers, new.speakers);
    }
}
