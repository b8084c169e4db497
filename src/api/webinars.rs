//! Webinars through the admin API: the JSON body is turned into the admin
//! editor's form and saved by the editor's own rules, so the API and the
//! editor cannot disagree on what a valid webinar is or on when a change
//! must be confirmed (`notify`). ICP variants and email copy, when given,
//! replace the webinar's set, in the same transaction as the rest.
use std::collections::HashMap;

use sea_orm::{DatabaseTransaction, EntityTrait};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::idempotency::{self, Answer, Keyed, Reservation};
use crate::announce;
use crate::email::Kind;
use crate::email::copy as email_copy;
use crate::email::render::CustomCopy;
use crate::resource::{Timetable, WebinarResource};
use crate::webinar::editor::{self, WebinarForm};
use crate::webinar::icp_variant::{self, Variant};
use crate::webinar::{self, AgendaItem, Speaker};
use crate::{DomainError, FieldError, Service, session};

/// A webinar as a program sends it. On create, `slug`, `title`, `starts_at`
/// and `join_url` are needed; on update, a field left out keeps its value.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebinarInput {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub subtitle: Option<String>,
    /// Markdown.
    pub description: Option<String>,
    pub speakers: Option<Vec<Speaker>>,
    pub agenda: Option<Vec<AgendaItem>>,
    /// RFC 3339, e.g. `2026-12-01T17:00:00+01:00`.
    pub starts_at: Option<String>,
    pub duration_minutes: Option<i64>,
    /// IANA name, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    pub join_url: Option<String>,
    /// Seats; `null` for no limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub capacity: Option<Option<i64>>,
    /// `draft`, `published` or `cancelled`.
    pub status: Option<String>,
    /// Replaces the webinar's variants.
    pub icp_variants: Option<Vec<VariantInput>>,
    /// Replaces the webinar's email copy (kinds left out get the built-in copy).
    pub email_copy: Option<Vec<EmailCopyInput>>,
    /// A new start or a cancellation emails the registrants; without
    /// `"notify": true` such a change is refused (409) and nothing is saved.
    #[serde(default)]
    pub notify: bool,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    pub icp: String,
    pub headline: String,
    #[serde(default)]
    pub intro: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailCopyInput {
    pub kind: Kind,
    /// Empty or left out: every registrant's copy.
    #[serde(default)]
    pub icp: String,
    pub subject: String,
    pub body: String,
}

/// `Some(None)` for an explicit `null`, `None` for a field left out.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An answer, and whether it is a stored one given again for a repeated key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub answer: Answer,
    pub replayed: bool,
}

/// What an input would save, checked all at once.
struct Checked {
    webinar: webinar::NewWebinar,
    variants: Option<Vec<Variant>>,
    copies: Option<Vec<(Kind, String, CustomCopy)>>,
}

impl WebinarInput {
    /// `base` with the fields this input sets, and the lists it could not
    /// set (those keep the base's value, so the rest is still checked). The
    /// start always travels as an instant: a wall-clock time in an hour that
    /// daylight saving repeats would be ambiguous.
    fn onto(&self, mut form: WebinarForm) -> (WebinarForm, Vec<FieldError>) {
        let mut errors = Vec::new();
        let set = |field: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                field.clone_from(value);
            }
        };
        set(&mut form.slug, &self.slug);
        set(&mut form.title, &self.title);
        set(&mut form.subtitle, &self.subtitle);
        set(&mut form.description, &self.description);
        set(&mut form.starts_at, &self.starts_at);
        set(&mut form.timezone, &self.timezone);
        set(&mut form.join_url, &self.join_url);
        set(&mut form.status, &self.status);
        form.starts_local.clear();
        if let Some(minutes) = self.duration_minutes {
            form.duration_minutes = minutes.to_string();
        }
        if let Some(capacity) = self.capacity {
            form.capacity = capacity.map(|seats| seats.to_string()).unwrap_or_default();
        }
        if let Some(speakers) = &self.speakers {
            let parts = speakers.iter().map(|speaker| {
                vec![speaker.name.as_str(), speaker.title.as_str(), speaker.photo_url.as_deref().unwrap_or("")]
            });
            match as_lines(parts) {
                Some(lines) => form.speakers = lines,
                None => errors.push(FieldError::new("speakers", LINE_PARTS)),
            }
        }
        if let Some(agenda) = &self.agenda {
            let parts = agenda.iter().map(|item| match item.at.trim() {
                "" => vec![item.title.as_str()],
                at => vec![at, item.title.as_str()],
            });
            match as_lines(parts) {
                Some(lines) => form.agenda = lines,
                None => errors.push(FieldError::new("agenda", LINE_PARTS)),
            }
        }
        (form, errors)
    }
}

const LINE_PARTS: &str = "Names, titles, times and URLs here cannot contain | or line breaks.";

/// Parts as the editor's lines (`a | b | c`, empty trailing parts dropped);
/// `None` when a part holds a separator.
fn as_lines<'a>(rows: impl Iterator<Item = Vec<&'a str>>) -> Option<String> {
    let mut lines = Vec::new();
    for parts in rows {
        if parts.iter().any(|part| part.contains(['|', '\n', '\r'])) {
            return None;
        }
        lines.push(parts.join(" | ").trim_end_matches([' ', '|']).to_owned());
    }
    Some(lines.join("\n"))
}

impl Service {
    /// Every webinar, newest start first.
    pub async fn api_webinars(&self) -> Result<Vec<WebinarResource>, DomainError> {
        let now = self.now();
        let webinars = crate::admin::overview(self.db()).await?;
        let ids: Vec<i64> = webinars.iter().map(|summary| summary.webinar.id).collect();
        let mut variants = group(icp_variant::Entity::find().all(self.db()).await?, |variant| variant.webinar_id);
        let mut copies = group(email_copy::for_webinars(self.db(), ids).await?, |copy| copy.webinar_id);
        Ok(webinars
            .into_iter()
            .map(|summary| {
                let id = summary.webinar.id;
                let variants = variants.remove(&id).unwrap_or_default();
                let copies = copies.remove(&id).unwrap_or_default();
                let timetable = Timetable { sessions: summary.sessions, counts: summary.session_registrations, now };
                WebinarResource::new(summary.webinar, timetable, variants, copies)
            })
            .collect())
    }

    pub async fn api_webinar(&self, slug: &str) -> Result<WebinarResource, DomainError> {
        let webinar = self.webinar_by_slug(slug).await?;
        Ok(WebinarResource::load(self.db(), webinar, self.now()).await?)
    }

    /// Creates a webinar; with a key, a repeated request gets the first answer.
    /// `answer` renders what the caller answers with, so that it is what is kept.
    pub async fn api_create_webinar(
        &self,
        input: &WebinarInput,
        keyed: Option<&Keyed>,
        answer: impl FnOnce(&WebinarResource) -> Answer,
    ) -> Result<Answered, DomainError> {
        let now = self.now();
        let blank = WebinarForm { starts_local: String::new(), status: "draft".into(), ..WebinarForm::blank(now) };
        let checked = self.check(input, blank)?;
        let txn = crate::store::begin_write(self.db()).await?;
        if let Some(keyed) = keyed {
            match idempotency::reserve(&txn, keyed, now).await? {
                Reservation::New => {}
                Reservation::Replay(answer) => return Ok(Answered { answer, replayed: true }),
                Reservation::Mismatch => return Err(DomainError::IdempotencyKeyReused),
            }
        }
        let saved = editor::create(&txn, checked.webinar, now).await?;
        let created = save_sets(&txn, saved.webinar, checked.variants, checked.copies, now).await?;
        let answer = answer(&created);
        if let Some(keyed) = keyed {
            idempotency::record(&txn, keyed, &answer).await?;
        }
        txn.commit().await?;
        Ok(Answered { answer, replayed: false })
    }

    /// Changes the fields the input sets, by the editor's rules.
    pub async fn api_update_webinar(&self, slug: &str, input: &WebinarInput) -> Result<WebinarResource, DomainError> {
        let now = self.now();
        let txn = crate::store::begin_write(self.db()).await?;
        let current = webinar::find_by_slug(&txn, slug).await?.ok_or(DomainError::WebinarNotFound)?;
        let sessions = session::of_webinar(&txn, current.id).await?;
        let shown = session::representative(&sessions, now).ok_or(DomainError::SessionNotFound)?;
        let checked = self.check(input, WebinarForm::of(&current, shown))?;
        let saved = editor::update(&txn, current.id, checked.webinar, input.notify, now).await?;
        let updated = save_sets(&txn, saved.webinar, checked.variants, checked.copies, now).await?;
        announce::webinar_saved(&txn, saved.event, &updated).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Every problem with the input at once: the webinar's fields, then each
    /// variant's and each copy's (named by their place, `icp_variants[1].headline`).
    fn check(&self, input: &WebinarInput, base: WebinarForm) -> Result<Checked, DomainError> {
        let (form, mut errors) = input.onto(base);
        let webinar = match form.validate() {
            Ok(webinar) => Some(webinar),
            Err(found) => {
                errors.extend(found);
                None
            }
        };
        let at = |list: &str, index: usize, error: FieldError| FieldError {
            field: format!("{list}[{index}].{}", error.field),
            message: error.message,
        };
        let variants = input.icp_variants.as_ref().map(|variants| {
            let mut valid = Vec::new();
            for (index, variant) in variants.iter().enumerate() {
                match Variant::parse(&variant.icp, &variant.headline, &variant.intro) {
                    Ok(variant) => valid.push(variant),
                    Err(found) => errors.extend(found.into_iter().map(|error| at("icp_variants", index, error))),
                }
            }
            valid
        });
        let copies = match &input.email_copy {
            Some(copies) => {
                let emails = &self.mail_parts().ok_or(DomainError::MailUnavailable)?.emails;
                let mut valid = Vec::new();
                for (index, copy) in copies.iter().enumerate() {
                    let custom = CustomCopy { subject: copy.subject.clone(), body: copy.body.clone() };
                    let icp = icp_variant::copy_icp(&copy.icp).map_err(|error| vec![error]);
                    match (icp, emails.check(&custom)) {
                        (Ok(icp), Ok(())) => valid.push((copy.kind, icp, custom)),
                        (icp, checked) => {
                            let found = icp.err().into_iter().flatten().chain(checked.err().into_iter().flatten());
                            errors.extend(found.map(|error| at("email_copy", index, error)));
                        }
                    }
                }
                Some(valid)
            }
            None => None,
        };
        match webinar {
            Some(webinar) if errors.is_empty() => Ok(Checked { webinar, variants, copies }),
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

/// Replaces the variants and copies given, and reads the webinar back whole.
async fn save_sets(
    txn: &DatabaseTransaction,
    webinar: webinar::Model,
    variants: Option<Vec<Variant>>,
    copies: Option<Vec<(Kind, String, CustomCopy)>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<WebinarResource, DomainError> {
    if let Some(variants) = variants {
        icp_variant::replace(txn, webinar.id, variants, now).await?;
    }
    if let Some(copies) = copies {
        email_copy::replace(txn, webinar.id, copies, now).await?;
    }
    Ok(WebinarResource::load(txn, webinar, now).await?)
}

fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<T>> {
    let mut groups: HashMap<i64, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_lists_become_the_editor_s_lines() {
        let speakers = [vec!["Ada", "Host", ""], vec!["Grace", "", ""], vec!["Linus", "", "https://x.example/l.png"]];
        assert_eq!(
            as_lines(speakers.into_iter()).as_deref(),
            Some("Ada | Host\nGrace\nLinus |  | https://x.example/l.png")
        );
        assert_eq!(
            as_lines([vec!["Welcome"], vec!["17:05", "Q&A"]].into_iter()).as_deref(),
            Some("Welcome\n17:05 | Q&A")
        );
        assert_eq!(as_lines([vec!["Ada | Bcc", "Host"]].into_iter()), None);
        assert_eq!(as_lines([vec!["Ada\nBcc", "Host"]].into_iter()), None);
    }

    #[test]
    fn capacity_tells_null_from_left_out() {
        let null: WebinarInput = serde_json::from_str(r#"{"capacity": null}"#).expect("json");
        assert_eq!(null.capacity, Some(None));
        let absent: WebinarInput = serde_json::from_str("{}").expect("json");
        assert_eq!(absent.capacity, None);
        assert!(serde_json::from_str::<WebinarInput>(r#"{"titel": "typo"}"#).is_err(), "unknown fields are refused");
    }
}
