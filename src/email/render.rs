//! Rendering an email. Each kind has a subject, a plain-text part and an HTML part,
//! rendered with minijinja once per batch. What differs per recipient (name,
//! join link, unsubscribe link) is left as placeholders that the delivery
//! fills in: SendGrid as substitutions, the dev outbox locally. An ICP variant
//! (`confirmation@founders.txt`) overrides a part when it exists.
//!
//! Marketing can replace a kind's copy for one webinar ([`CustomCopy`]): a
//! subject and a Markdown body with the same variables. The body becomes the
//! plain-text part as written, and the HTML part through Markdown and the
//! sanitizer, inside the same layout as the built-in copy.
use std::collections::BTreeMap;

use minijinja::{Environment, HtmlEscape, UndefinedBehavior, Value, context};

use super::Kind;
use crate::FieldError;
use crate::{session, webinar};

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
    ("custom.txt", include_str!("templates/custom.txt")),
    ("custom.html", include_str!("templates/custom.html")),
];

/// The variables a custom copy can use, documented for the editor.
pub const VARIABLES: &[(&str, &str)] = &[
    ("name", "the registrant's name"),
    ("webinar_title", "the webinar's title"),
    ("start_local", "the start in the webinar's time zone"),
    ("lead", "how soon it starts, in reminders (\"in 3 hours\")"),
    ("join_url", "the registrant's personal join link"),
    ("landing_url", "the webinar's page"),
    ("google_calendar_url", "add to Google Calendar"),
    ("outlook_calendar_url", "add to Outlook"),
    ("unsubscribe_url", "the registrant's unsubscribe link"),
    ("other_times", "in a cancellation: true while the webinar has other times to pick (at landing_url)"),
];

/// Copy written in the admin for one kind (and maybe one ICP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomCopy {
    pub subject: String,
    /// Markdown with `{{ variables }}`.
    pub body: String,
}

/// Markdown-inert stand-ins for the per-recipient placeholders while a custom
/// body goes through Markdown (which would percent-encode `[[…]]` in a link).
const INERT: [(&str, &str); 3] = [
    ("webinarplaceholdername", placeholder::NAME_HTML),
    ("webinarplaceholderjoinurl", placeholder::JOIN_URL),
    ("webinarplaceholderunsubscribeurl", placeholder::UNSUBSCRIBE_URL),
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
    pub fn new(webinar: &webinar::Model, session: &session::Model, base_url: &str) -> Self {
        let landing_url = format!("{}/webinars/{}", base_url.trim_end_matches('/'), webinar.slug);
        Self {
            google_calendar_url: super::calendar::google_link(webinar, session, &landing_url),
            outlook_calendar_url: super::calendar::outlook_link(webinar, session, &landing_url),
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
    /// For marketing's copy: an unknown variable is an error, not an empty string.
    strict: Environment<'static>,
}

impl Emails {
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let mut strict = Environment::new();
        strict.set_undefined_behavior(UndefinedBehavior::Strict);
        Ok(Self { env, strict })
    }

    /// The built-in copy of `kind` about one session, or `custom` when marketing wrote one.
    pub fn render(
        &self,
        kind: Kind,
        icp: Option<&str>,
        webinar: &webinar::Model,
        session: &session::Model,
        links: &WebinarLinks,
        custom: Option<&CustomCopy>,
    ) -> Result<Rendered, minijinja::Error> {
        let template = template_of(kind);
        let lead = match kind {
            Kind::Reminder24h => "in 24 hours",
            Kind::Reminder3h => "in 3 hours",
            Kind::Reminder15m => "in 15 minutes",
            _ => "",
        };
        let values = |name: &str, join_url: &str, unsubscribe_url: &str| {
            context! {
                name => name,
                webinar_title => &webinar.title,
                start_local => session.start_local(webinar.tz()),
                lead => lead,
                join_url => join_url,
                unsubscribe_url => unsubscribe_url,
                landing_url => &links.landing_url,
                google_calendar_url => &links.google_calendar_url,
                outlook_calendar_url => &links.outlook_calendar_url,
                has_invite => matches!(kind, Kind::Confirmation | Kind::TimeChanged),
                show_join => kind != Kind::Cancelled,
                // A cancelled session of a webinar that goes on: its registrants may pick another time.
                other_times => kind == Kind::Cancelled && webinar.status != webinar::Status::Cancelled,
            }
        };
        let plain = values(placeholder::NAME, placeholder::JOIN_URL, placeholder::UNSUBSCRIBE_URL);
        let html = values(placeholder::NAME_HTML, placeholder::JOIN_URL, placeholder::UNSUBSCRIBE_URL);
        let Some(custom) = custom else {
            let part = |extension: &str, values: &Value| {
                let variant = icp.map(|icp| format!("{template}@{icp}.{extension}"));
                let chosen = variant
                    .filter(|variant| self.env.get_template(variant).is_ok())
                    .unwrap_or_else(|| format!("{template}.{extension}"));
                self.env.get_template(&chosen)?.render(values)
            };
            return Ok(Rendered {
                subject: one_line(&part("subject", &plain)?),
                text: part("txt", &plain)?,
                html: part("html", &html)?,
            });
        };
        let subject = one_line(&self.strict.render_str(&custom.subject, &plain)?);
        let body_text = self.strict.render_str(&custom.body, &plain)?;
        // Escaped values (`.html` turns auto-escaping on), then Markdown and the sanitizer.
        let inert = values(INERT[0].0, INERT[1].0, INERT[2].0);
        let escaped = self.strict.template_from_named_str("body.html", &custom.body)?.render(&inert)?;
        let body_html = INERT.iter().fold(super::markdown::to_safe_html(&escaped), |html, (inert, placeholder)| {
            html.replace(inert, placeholder)
        });
        let with_body = |values: Value, body: Value| context! { body => body, ..values };
        Ok(Rendered {
            subject,
            text: self.env.get_template("custom.txt")?.render(with_body(plain, Value::from(body_text)))?,
            html: self.env.get_template("custom.html")?.render(with_body(html, Value::from_safe_string(body_html)))?,
        })
    }

    /// A kind's built-in copy as a starting point for the editor: the
    /// subject, and the plain-text part without its footer.
    pub fn builtin_copy(&self, kind: Kind) -> Result<CustomCopy, minijinja::Error> {
        let template = template_of(kind);
        let source = |extension: &str| -> Result<String, minijinja::Error> {
            Ok(self.env.get_template(&format!("{template}.{extension}"))?.source().to_owned())
        };
        let text = source("txt")?;
        let body = text.split("\n--\n").next().unwrap_or(&text).trim().to_owned();
        Ok(CustomCopy { subject: source("subject")?.trim().to_owned(), body })
    }

    /// Checks marketing's copy before it is saved: it must parse, and use
    /// only the documented variables.
    pub fn check(&self, copy: &CustomCopy) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let subject_chars = copy.subject.trim().chars().count();
        if subject_chars == 0 || subject_chars > SUBJECT_MAX_CHARS {
            errors.push(FieldError::new("subject", "Enter a subject (1 to 300 characters)."));
        }
        if copy.body.trim().is_empty() || copy.body.chars().count() > BODY_MAX_CHARS {
            errors.push(FieldError::new("body", "Enter a body (1 to 20,000 characters)."));
        }
        // Exactly the documented variables are defined: anything else is an error.
        let documented: BTreeMap<&str, &str> = VARIABLES.iter().map(|(name, _)| (*name, "")).collect();
        for (field, source) in [("subject", &copy.subject), ("body", &copy.body)] {
            if let Err(error) = self.strict.render_str(source, &documented) {
                errors.push(FieldError::new(field, template_problem(&error)));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

const SUBJECT_MAX_CHARS: usize = 300;
const BODY_MAX_CHARS: usize = 20_000;

/// A template error in words an editor can act on.
fn template_problem(error: &minijinja::Error) -> String {
    let known: Vec<String> = VARIABLES.iter().map(|(name, _)| format!("{{{{{name}}}}}")).collect();
    match error.kind() {
        minijinja::ErrorKind::UndefinedError => {
            format!("Unknown variable. Use only {}.", known.join(", "))
        }
        _ => format!(
            "This is not a valid template: {}. Variables look like {{{{name}}}}.",
            error.detail().unwrap_or("syntax error")
        ),
    }
}

/// The built-in template a kind uses (the three reminders share one).
fn template_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Confirmation => "confirmation",
        Kind::Reminder24h | Kind::Reminder3h | Kind::Reminder15m => "reminder",
        Kind::TimeChanged => "time_changed",
        Kind::Cancelled => "cancelled",
    }
}

/// Subjects are one line, whatever the template produced.
fn one_line(subject: &str) -> String {
    subject.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::session::tests::sample as session;
    use crate::webinar::tests::sample;

    fn render(kind: Kind, icp: Option<&str>, webinar: &webinar::Model) -> Rendered {
        render_session(kind, icp, webinar, &session())
    }

    fn render_session(kind: Kind, icp: Option<&str>, webinar: &webinar::Model, session: &session::Model) -> Rendered {
        let emails = Emails::new().expect("templates parse");
        let links = WebinarLinks::new(webinar, session, "https://events.example.com/");
        let rendered = emails.render(kind, icp, webinar, session, &links, None).expect("renders");
        rendered.personalize(&substitutions(
            "Ada",
            "https://events.example.com/j/TOKEN",
            "https://events.example.com/u/SIG",
        ))
    }

    fn starting(at: &str, timezone: &str) -> (webinar::Model, session::Model) {
        let mut webinar = sample();
        webinar.timezone = timezone.into();
        let starts_at = DateTime::parse_from_rfc3339(at).expect("valid").with_timezone(&Utc);
        (webinar, session::Model { starts_at, ..session() })
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
            let (webinar, session) = starting(at, zone);
            let email = render_session(Kind::Reminder3h, None, &webinar, &session);
            assert!(email.text.contains(shown), "{zone} {at}: {}", email.text);
            assert!(email.html.contains(shown), "{zone} {at}");
        }
    }

    #[test]
    fn schedule_notices_show_the_current_time() {
        let mut moved = session();
        moved.starts_at += chrono::Duration::days(1);
        let changed = render_session(Kind::TimeChanged, None, &sample(), &moved);
        assert_eq!(changed.subject, "New time: Demo");
        assert!(changed.text.contains("Wednesday, 2 December 2026, 17:00 CET (UTC+01:00)"), "{}", changed.text);
        assert!(changed.html.contains("attached invite"));
        let cancelled = render(Kind::Cancelled, None, &sample());
        assert_eq!(cancelled.subject, "Cancelled: Demo");
        assert!(cancelled.text.contains("is cancelled"));
        assert!(!cancelled.html.contains("Join the webinar"), "no join button for a cancelled webinar");
        assert!(cancelled.html.contains("https://events.example.com/u/SIG"));
        assert!(cancelled.html.contains("Pick another time"), "one session of a webinar that goes on");
        assert!(cancelled.text.contains("Pick one that suits you: https://events.example.com/webinars/demo"));
        let whole = webinar::Model { status: webinar::Status::Cancelled, ..sample() };
        let everything = render(Kind::Cancelled, None, &whole);
        assert!(!everything.html.contains("Pick another time") && !everything.text.contains("Pick one"));
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
        let links = WebinarLinks::new(&webinar, &session(), "https://events.example.com");
        let email = emails
            .render(Kind::Confirmation, None, &webinar, &session(), &links, None)
            .expect("renders")
            .personalize(&substitutions("<script>alert(1)</script>", "https://j", "https://u"));
        assert!(email.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{}", email.html);
        assert!(email.html.contains("Q&amp;A &lt;live&gt;"));
        assert!(!email.html.contains("<script>"));
        assert!(email.text.contains("Hi <script>alert(1)</script>,"), "plain text stays as typed");
    }

    fn custom(subject: &str, body: &str) -> CustomCopy {
        CustomCopy { subject: subject.into(), body: body.into() }
    }

    #[test]
    fn custom_copy_fills_variables_in_both_parts_and_keeps_links_working() {
        let emails = Emails::new().expect("templates parse");
        let webinar = sample();
        let links = WebinarLinks::new(&webinar, &session(), "https://events.example.com");
        let copy = custom(
            "See you soon, {{ name }}",
            "Hi **{{ name }}**,\n\n[Join here]({{ join_url }}) at {{ start_local }}.\n\n[Unsubscribe]({{unsubscribe_url}})",
        );
        let email = emails
            .render(Kind::Reminder3h, None, &webinar, &session(), &links, Some(&copy))
            .expect("renders")
            .personalize(&substitutions(
                "Ada",
                "https://events.example.com/j/TOKEN",
                "https://events.example.com/u/SIG",
            ));
        assert_eq!(email.subject, "See you soon, Ada");
        assert!(email.text.starts_with("Hi **Ada**,"), "{}", email.text);
        assert!(email.text.contains("Unsubscribe: https://events.example.com/u/SIG"), "the footer stays");
        assert!(email.html.contains("Hi <strong>Ada</strong>"), "{}", email.html);
        assert!(
            email.html.contains(
                r#"<a href="https://events.example.com/j/TOKEN" rel="noopener noreferrer nofollow">Join here</a>"#
            ),
            "{}",
            email.html
        );
        assert!(email.html.contains("Tuesday, 1 December 2026, 17:00 CET"), "{}", email.html);
        assert!(!email.html.contains("webinarplaceholder") && !email.html.contains("[["), "{}", email.html);
    }

    #[test]
    fn custom_copy_cannot_inject_html_and_its_values_are_escaped() {
        let emails = Emails::new().expect("templates parse");
        let mut webinar = sample();
        webinar.title = "<script>alert(1)</script>".into();
        let links = WebinarLinks::new(&webinar, &session(), "https://events.example.com");
        let copy = custom(
            "{{ webinar_title }}",
            "<script>alert(2)</script>\n\n\"><img src=x onerror=alert(3)>\n\n[x](javascript:alert(4)) {{ name }} {{ webinar_title }}",
        );
        let email = emails
            .render(Kind::Confirmation, None, &webinar, &session(), &links, Some(&copy))
            .expect("renders")
            .personalize(&substitutions("<img src=x onerror=alert(5)>", "https://j", "https://u"));
        // Tags the sanitizer keeps lose their handlers; typed markup in values stays text.
        for forbidden in ["<script", "<img src=x onerror", "onerror=\"", "javascript:"] {
            assert!(!email.html.contains(forbidden), "{forbidden} in {}", email.html);
        }
        assert!(email.html.contains("&lt;img src=x onerror=alert(5)&gt;"), "the name shows as text: {}", email.html);
    }

    #[test]
    fn unknown_variables_and_broken_templates_are_reported_per_field() {
        let emails = Emails::new().expect("templates parse");
        let errors = emails.check(&custom("Hi {{ nmae }}", "{% if %}")).expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].field, "subject");
        assert!(errors[0].message.contains("Unknown variable"), "{}", errors[0].message);
        assert_eq!(errors[1].field, "body");
        assert!(emails.check(&custom("Hi {{ name }}", "Body")).is_ok());
    }

    #[test]
    fn the_built_in_copy_is_a_valid_starting_point() {
        let emails = Emails::new().expect("templates parse");
        let webinar = sample();
        let links = WebinarLinks::new(&webinar, &session(), "https://events.example.com");
        for kind in [Kind::Confirmation, Kind::Reminder24h, Kind::TimeChanged, Kind::Cancelled] {
            let copy = emails.builtin_copy(kind).expect("source");
            assert!(!copy.body.contains("Unsubscribe:"), "the footer is added, not edited: {}", copy.body);
            assert!(emails.check(&copy).is_ok(), "{kind:?}");
            // What passes the check renders for real, with every documented variable.
            assert!(emails.render(kind, None, &webinar, &session(), &links, Some(&copy)).is_ok(), "{kind:?}");
        }
    }
}
