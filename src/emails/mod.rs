//! Email copy. Each kind has a subject, a plain-text part and an HTML part,
//! rendered with minijinja once per batch. What differs per recipient (name,
//! join link, unsubscribe link) is left as placeholders that the delivery
//! fills in: SendGrid as substitutions, the dev outbox locally. An ICP variant
//! (`confirmation@founders.txt`) overrides a part when it exists.
use std::collections::BTreeMap;

use minijinja::{Environment, HtmlEscape, context};

use crate::email_job::Kind;
use crate::webinar;

/// Per-recipient placeholders. The HTML part gets an escaped name of its own,
/// because substitution happens after the template engine's escaping.
pub mod placeholder {
    pub const NAME: &str = "[[name]]";
    pub const NAME_HTML: &str = "[[name_html]]";
    pub const JOIN_URL: &str = "[[join_url]]";
    pub const UNSUBSCRIBE_URL: &str = "[[unsubscribe_url]]";
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("confirmation.subject", include_str!("templates/confirmation.subject")),
    ("confirmation.txt", include_str!("templates/confirmation.txt")),
    ("confirmation.html", include_str!("templates/confirmation.html")),
    ("confirmation@founders.subject", include_str!("templates/confirmation@founders.subject")),
    ("confirmation@founders.txt", include_str!("templates/confirmation@founders.txt")),
    ("confirmation@founders.html", include_str!("templates/confirmation@founders.html")),
    ("reminder.subject", include_str!("templates/reminder.subject")),
    ("reminder.txt", include_str!("templates/reminder.txt")),
    ("reminder.html", include_str!("templates/reminder.html")),
    ("time_changed.subject", include_str!("templates/time_changed.subject")),
    ("time_changed.txt", include_str!("templates/time_changed.txt")),
    ("time_changed.html", include_str!("templates/time_changed.html")),
    ("cancelled.subject", include_str!("templates/cancelled.subject")),
    ("cancelled.txt", include_str!("templates/cancelled.txt")),
    ("cancelled.html", include_str!("templates/cancelled.html")),
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Rendered {
    /// The message one recipient sees: every placeholder replaced.
    pub fn personalize(&self, substitutions: &BTreeMap<String, String>) -> Rendered {
        let fill = |template: &str| {
            substitutions.iter().fold(template.to_owned(), |text, (key, value)| text.replace(key.as_str(), value))
        };
        Rendered { subject: fill(&self.subject), text: fill(&self.text), html: fill(&self.html) }
    }
}

/// Where a webinar's emails link to, besides the per-recipient links.
#[derive(Clone, Debug)]
pub struct WebinarLinks {
    pub landing_url: String,
    pub google_calendar_url: String,
    pub outlook_calendar_url: String,
}

impl WebinarLinks {
    pub fn new(webinar: &webinar::Model, base_url: &str) -> Self {
        let landing_url = format!("{}/webinars/{}", base_url.trim_end_matches('/'), webinar.slug);
        Self {
            google_calendar_url: crate::calendar::google_link(webinar, &landing_url),
            outlook_calendar_url: crate::calendar::outlook_link(webinar, &landing_url),
            landing_url,
        }
    }
}

/// The values one recipient's placeholders take.
pub fn substitutions(name: &str, join_url: &str, unsubscribe_url: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (placeholder::NAME.to_owned(), name.to_owned()),
        (placeholder::NAME_HTML.to_owned(), HtmlEscape(name).to_string()),
        (placeholder::JOIN_URL.to_owned(), join_url.to_owned()),
        (placeholder::UNSUBSCRIBE_URL.to_owned(), unsubscribe_url.to_owned()),
    ])
}

pub struct Emails {
    env: Environment<'static>,
}

impl Emails {
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    pub fn render(
        &self,
        kind: Kind,
        icp: Option<&str>,
        webinar: &webinar::Model,
        links: &WebinarLinks,
    ) -> Result<Rendered, minijinja::Error> {
        let (template, lead) = match kind {
            Kind::Confirmation => ("confirmation", ""),
            Kind::Reminder24h => ("reminder", "in 24 hours"),
            Kind::Reminder3h => ("reminder", "in 3 hours"),
            Kind::Reminder15m => ("reminder", "in 15 minutes"),
            Kind::TimeChanged => ("time_changed", ""),
            Kind::Cancelled => ("cancelled", ""),
        };
        let part = |extension: &str, name: &str| {
            let variant = icp.map(|icp| format!("{template}@{icp}.{extension}"));
            let chosen = variant
                .filter(|variant| self.env.get_template(variant).is_ok())
                .unwrap_or_else(|| format!("{template}.{extension}"));
            self.env.get_template(&chosen)?.render(context! {
                name => name,
                webinar_title => &webinar.title,
                start_local => webinar.start_local(),
                lead => lead,
                join_url => placeholder::JOIN_URL,
                unsubscribe_url => placeholder::UNSUBSCRIBE_URL,
                landing_url => &links.landing_url,
                google_calendar_url => &links.google_calendar_url,
                outlook_calendar_url => &links.outlook_calendar_url,
                has_invite => matches!(kind, Kind::Confirmation | Kind::TimeChanged),
            })
        };
        Ok(Rendered {
            subject: part("subject", placeholder::NAME)?.trim().to_owned(),
            text: part("txt", placeholder::NAME)?,
            html: part("html", placeholder::NAME_HTML)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::webinar::tests::sample;

    fn render(kind: Kind, icp: Option<&str>, webinar: &webinar::Model) -> Rendered {
        let emails = Emails::new().expect("templates parse");
        let links = WebinarLinks::new(webinar, "https://events.example.com/");
        let rendered = emails.render(kind, icp, webinar, &links).expect("renders");
        rendered.personalize(&substitutions(
            "Ada",
            "https://events.example.com/j/TOKEN",
            "https://events.example.com/u/SIG",
        ))
    }

    fn starting(at: &str, timezone: &str) -> webinar::Model {
        let mut webinar = sample();
        webinar.starts_at = DateTime::parse_from_rfc3339(at).expect("valid").with_timezone(&Utc);
        webinar.timezone = timezone.into();
        webinar
    }

    #[test]
    fn confirmation_has_every_link_and_the_local_start() {
        let email = render(Kind::Confirmation, None, &sample());
        assert_eq!(email.subject, "You're registered: Demo");
        for part in [&email.text, &email.html] {
            assert!(part.contains("Tuesday, 1 December 2026, 17:00 CET (UTC+01:00)"), "{part}");
            assert!(part.contains("https://events.example.com/j/TOKEN"), "{part}");
            assert!(part.contains("https://events.example.com/u/SIG"), "{part}");
            assert!(part.contains("calendar.google.com"), "{part}");
            assert!(part.contains("outlook.live.com"), "{part}");
            assert!(!part.contains("[["), "no placeholder left: {part}");
        }
        assert!(email.text.starts_with("Hi Ada,"));
        assert!(email.html.contains("You're registered, Ada!"));
    }

    #[test]
    fn reminders_say_how_soon() {
        assert_eq!(render(Kind::Reminder24h, None, &sample()).subject, "Starting in 24 hours: Demo");
        assert_eq!(render(Kind::Reminder3h, None, &sample()).subject, "Starting in 3 hours: Demo");
        let soon = render(Kind::Reminder15m, None, &sample());
        assert_eq!(soon.subject, "Starting in 15 minutes: Demo");
        assert!(soon.text.contains("\"Demo\" starts in 15 minutes."));
        assert!(!soon.html.contains("attached invite"), "only the confirmation carries the invite");
    }

    #[test]
    fn start_time_in_three_zones_across_a_dst_change() {
        // US clocks go back on 1 November 2026; Europe's went back on 25 October.
        let cases = [
            ("2026-10-30T15:00:00Z", "America/New_York", "Friday, 30 October 2026, 11:00 EDT (UTC-04:00)"),
            ("2026-11-02T15:00:00Z", "America/New_York", "Monday, 2 November 2026, 10:00 EST (UTC-05:00)"),
            ("2026-10-24T15:00:00Z", "Europe/Berlin", "Saturday, 24 October 2026, 17:00 CEST (UTC+02:00)"),
            ("2026-10-26T15:00:00Z", "Europe/Berlin", "Monday, 26 October 2026, 16:00 CET (UTC+01:00)"),
            ("2026-11-02T15:00:00Z", "Asia/Tokyo", "Tuesday, 3 November 2026, 00:00 JST (UTC+09:00)"),
        ];
        for (at, zone, shown) in cases {
            let email = render(Kind::Reminder3h, None, &starting(at, zone));
            assert!(email.text.contains(shown), "{zone} {at}: {}", email.text);
            assert!(email.html.contains(shown), "{zone} {at}");
        }
    }

    #[test]
    fn schedule_notices_show_the_current_time() {
        let mut moved = sample();
        moved.starts_at += chrono::Duration::days(1);
        let changed = render(Kind::TimeChanged, None, &moved);
        assert_eq!(changed.subject, "New time: Demo");
        assert!(changed.text.contains("Wednesday, 2 December 2026, 17:00 CET (UTC+01:00)"), "{}", changed.text);
        assert!(changed.html.contains("attached invite"));
        let cancelled = render(Kind::Cancelled, None, &sample());
        assert_eq!(cancelled.subject, "Cancelled: Demo");
        assert!(cancelled.text.contains("is cancelled"));
        assert!(!cancelled.html.contains("Join the webinar"), "no join button for a cancelled webinar");
        assert!(cancelled.html.contains("https://events.example.com/u/SIG"));
    }

    #[test]
    fn an_icp_variant_replaces_the_copy_and_falls_back_when_missing() {
        let founders = render(Kind::Confirmation, Some("founders"), &sample());
        assert_eq!(founders.subject, "Your seat is saved: Demo (for founders)");
        assert!(founders.html.contains("Your seat is saved, Ada"));
        let unknown = render(Kind::Confirmation, Some("security-leads"), &sample());
        assert_eq!(unknown.subject, "You're registered: Demo");
        let reminder = render(Kind::Reminder3h, Some("founders"), &sample());
        assert_eq!(reminder.subject, "Starting in 3 hours: Demo");
    }

    #[test]
    fn names_and_titles_are_escaped_in_html_only() {
        let mut webinar = sample();
        webinar.title = "Q&A <live>".into();
        let emails = Emails::new().expect("templates parse");
        let links = WebinarLinks::new(&webinar, "https://events.example.com");
        let email = emails
            .render(Kind::Confirmation, None, &webinar, &links)
            .expect("renders")
            .personalize(&substitutions("<script>alert(1)</script>", "https://j", "https://u"));
        assert!(email.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{}", email.html);
        assert!(email.html.contains("Q&amp;A &lt;live&gt;"));
        assert!(!email.html.contains("<script>"));
        assert!(email.text.contains("Hi <script>alert(1)</script>,"), "plain text stays as typed");
    }
}
