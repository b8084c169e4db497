//! Add-to-calendar: the `.ics` file and Google/Outlook links for a session.
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use url::Url;

use crate::{session, webinar};

/// An `.ics` for one session of the webinar. The UID is stable for the
/// session's life and SEQUENCE is its schedule version, so calendars update
/// the event they already have when the time changes.
pub fn ics(webinar: &webinar::Model, session: &session::Model, landing_url: &str, host: &str) -> String {
    let cancelled = session.status == session::Status::Cancelled || webinar.status == webinar::Status::Cancelled;
    let event = Event::new()
        .uid(&format!("{}@{host}", session.calendar_uid))
        .sequence(u32::try_from(session.schedule_version).unwrap_or(0))
        .timestamp(session.updated_at.max(webinar.updated_at))
        .summary(&webinar.title)
        .description(&format!("{}\n\n{landing_url}", webinar.subtitle))
        .starts(session.starts_at)
        .ends(session.ends_at())
        .url(landing_url)
        .status(if cancelled { EventStatus::Cancelled } else { EventStatus::Confirmed })
        .done();
    Calendar::new().name(&webinar.title).push(event).done().to_string()
}

pub fn google_link(webinar: &webinar::Model, session: &session::Model, landing_url: &str) -> String {
    const FORMAT: &str = "%Y%m%dT%H%M%SZ";
    let dates = format!("{}/{}", session.starts_at.format(FORMAT), session.ends_at().format(FORMAT));
    let details = format!("{}\n{landing_url}", webinar.subtitle);
    let params = [("action", "TEMPLATE"), ("text", webinar.title.as_str()), ("dates", &dates), ("details", &details)];
    link("https://calendar.google.com/calendar/render", &params)
}

pub fn outlook_link(webinar: &webinar::Model, session: &session::Model, landing_url: &str) -> String {
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
    let (start, end) = (session.starts_at.format(FORMAT).to_string(), session.ends_at().format(FORMAT).to_string());
    let body = format!("{}\n{landing_url}", webinar.subtitle);
    let params = [
        ("path", "/calendar/action/compose"),
        ("rru", "addevent"),
        ("subject", webinar.title.as_str()),
        ("startdt", &start),
        ("enddt", &end),
        ("body", &body),
    ];
    link("https://outlook.live.com/calendar/0/deeplink/compose", &params)
}

fn link(base: &str, params: &[(&str, &str)]) -> String {
    Url::parse_with_params(base, params).map(String::from).unwrap_or_else(|_| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::tests::sample as session;
    use crate::webinar::tests::sample;

    #[test]
    fn ics_has_the_sessions_stable_uid_and_schedule_version() {
        let webinar = sample();
        let mut session = session();
        session.schedule_version = 2;
        let ics = ics(&webinar, &session, "https://events.example.com/webinars/demo", "events.example.com");
        assert!(ics.contains("UID:webinar-1@events.example.com"), "{ics}");
        assert!(ics.contains("SEQUENCE:2"), "{ics}");
        assert!(ics.contains("DTSTART:20261201T160000Z"), "{ics}");
        assert!(ics.contains("DTEND:20261201T170000Z"), "{ics}");
        assert!(ics.contains("SUMMARY:Demo"), "{ics}");
        assert!(ics.contains("STATUS:CONFIRMED"), "{ics}");
        let other = session::Model { calendar_uid: "session-abc".into(), ..session.clone() };
        assert!(super::ics(&webinar, &other, "https://x", "x").contains("UID:session-abc@x"), "one UID per session");
        session.status = crate::session::Status::Cancelled;
        assert!(super::ics(&webinar, &session, "https://x", "x").contains("STATUS:CANCELLED"));
    }

    #[test]
    fn calendar_links_carry_the_times_in_utc() {
        let (webinar, session) = (sample(), session());
        let google = google_link(&webinar, &session, "https://x.test/w");
        assert!(google.starts_with("https://calendar.google.com/calendar/render?action=TEMPLATE&text=Demo"));
        assert!(google.contains("dates=20261201T160000Z%2F20261201T170000Z"), "{google}");
        let outlook = outlook_link(&webinar, &session, "https://x.test/w");
        assert!(outlook.contains("startdt=2026-12-01T16%3A00%3A00Z"), "{outlook}");
        assert!(outlook.contains("enddt=2026-12-01T17%3A00%3A00Z"), "{outlook}");
    }
}
