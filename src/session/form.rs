//! A session's schedule as a form or a program sends it (every value a
//! string, as typed), checked in one place for the webinar editor, the
//! sessions list and the admin API.
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::NewSession;
use crate::error::FieldError;
use crate::field::web_url;

#[derive(Clone, Copy, Debug, Default)]
pub struct ScheduleFields<'a> {
    /// An RFC 3339 instant (the API's way), read when `starts_local` is empty.
    pub starts_at: &'a str,
    /// `2026-12-01T17:00`, in the webinar's zone (the editor's way).
    pub starts_local: &'a str,
    pub duration_minutes: &'a str,
    pub join_url: &'a str,
    /// Empty for no limit.
    pub capacity: &'a str,
}

impl ScheduleFields<'_> {
    /// The session these fields describe, or `None` with each problem added
    /// to `errors`. Without a `zone` (the webinar's own is invalid and
    /// reported there) a wall-clock start is not judged.
    pub fn parse(&self, zone: Option<Tz>, errors: &mut Vec<FieldError>) -> Option<NewSession> {
        let mut check = |ok: bool, field: &str, message: &str| {
            if !ok {
                errors.push(FieldError::new(field, message));
            }
        };
        let starts_at = match self.starts_local.trim() {
            "" => {
                let instant = DateTime::parse_from_rfc3339(self.starts_at.trim()).ok();
                let starts_at = instant.map(|instant| instant.with_timezone(&Utc));
                check(
                    starts_at.is_some(),
                    "starts_at",
                    "Give the start as an RFC 3339 time with its offset, e.g. 2026-12-01T17:00:00+01:00.",
                );
                starts_at
            }
            local => {
                let starts_at = zone.and_then(|zone| local_to_utc(local, zone));
                check(
                    starts_at.is_some() || zone.is_none(),
                    "starts_at",
                    "Enter the start as a date and time that exists in the chosen time zone.",
                );
                starts_at
            }
        };
        let duration = self.duration_minutes.trim().parse::<i32>().ok().filter(|minutes| (5..=1440).contains(minutes));
        check(duration.is_some(), "duration_minutes", "The duration is 5 to 1440 minutes.");
        let join_url = web_url(self.join_url.trim());
        check(join_url.is_some(), "join_url", "Enter the meeting's https:// link (no spaces or line breaks).");
        let capacity = match self.capacity.trim() {
            "" => Some(None),
            seats => seats.parse::<i32>().ok().filter(|seats| (1..=1_000_000).contains(seats)).map(Some),
        };
        check(capacity.is_some(), "capacity", "Leave the capacity empty for no limit, or enter 1 to 1,000,000 seats.");
        Some(NewSession {
            starts_at: starts_at?,
            duration_minutes: duration?,
            join_url: join_url?,
            capacity: capacity?,
        })
    }
}

/// A wall-clock time in `zone`; a time skipped by a DST change is refused,
/// and a repeated one takes its first occurrence.
fn local_to_utc(raw: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    zone.from_local_datetime(&local).earliest().map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named_at_once() {
        let mut errors = Vec::new();
        let fields = ScheduleFields {
            starts_at: "tomorrow",
            duration_minutes: "2",
            join_url: "javascript:alert(1)",
            capacity: "0",
            ..Default::default()
        };
        assert_eq!(fields.parse(None, &mut errors), None);
        let named: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(named, ["starts_at", "duration_minutes", "join_url", "capacity"]);
    }

    #[test]
    fn a_wall_clock_start_is_read_in_the_zone_and_a_skipped_hour_refused() {
        let berlin = chrono_tz::Europe::Berlin;
        let fields = ScheduleFields {
            starts_local: "2027-03-28T17:00",
            duration_minutes: "45",
            join_url: "https://meet.example.com/x",
            ..Default::default()
        };
        let mut errors = Vec::new();
        let parsed = fields.parse(Some(berlin), &mut errors).expect("valid");
        assert_eq!(parsed.starts_at, super::super::tests::at("2027-03-28T15:00:00Z"), "CEST, UTC+2");
        assert_eq!((parsed.duration_minutes, parsed.capacity), (45, None));
        let skipped = ScheduleFields { starts_local: "2027-03-28T02:30", ..fields };
        assert_eq!(skipped.parse(Some(berlin), &mut errors), None);
        assert_eq!(errors[0].field, "starts_at");
    }
}
