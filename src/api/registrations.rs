//! Registrations through the admin API: cursor paging with filters, one
//! registrant with their links, and their emails.
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::deliverability::event;
use crate::registration::{self, PageFilter};
use crate::resource::{EmailJobResource, Page, RegistrationResource};
use crate::{DomainError, FieldError, Service, queue, webinar};

/// At most this many registrations a page.
pub const MAX_LIMIT: u64 = 500;
const DEFAULT_LIMIT: u64 = 100;

/// A page request as the query string has it, every value as sent.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistrationQuery {
    /// 1 to 500 (100 when left out).
    pub limit: Option<String>,
    /// The `next_cursor` of the page before; left out for the first page.
    pub cursor: Option<String>,
    /// Only registrations made at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only registrations from this ICP.
    pub icp: Option<String>,
    /// Only registrations with this `utm_source`.
    pub utm_source: Option<String>,
}

#[derive(Debug)]
struct Parsed {
    limit: u64,
    filter: PageFilter,
}

impl RegistrationQuery {
    fn parse(&self) -> Result<Parsed, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_LIMIT,
            Some(raw) => raw.parse::<u64>().ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).unwrap_or_else(|| {
                errors.push(FieldError::new("limit", "Ask for 1 to 500 registrations a page."));
                DEFAULT_LIMIT
            }),
        };
        let after_id = match self.cursor.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(raw) => raw.parse::<i64>().ok().filter(|id| *id >= 0).unwrap_or_else(|| {
                errors.push(FieldError::new("cursor", "Pass the next_cursor of a page as it came, or none."));
                0
            }),
        };
        let since = match self.since.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match DateTime::parse_from_rfc3339(raw) {
                Ok(since) => Some(since.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(FieldError::new("since", "Give an RFC 3339 time, e.g. 2026-12-01T00:00:00Z."));
                    None
                }
            },
        };
        let icp = text(&self.icp).map(str::to_lowercase);
        let utm_source = text(&self.utm_source).map(str::to_owned);
        match errors.is_empty() {
            true => Ok(Parsed { limit, filter: PageFilter { after_id, since, icp, utm_source } }),
            false => Err(errors),
        }
    }
}

/// A query value with something in it, trimmed.
fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

impl Service {
    /// A page of a webinar's registrations in the order they were made: a
    /// cursor returns each registration exactly once, however many arrive
    /// while a program pages.
    pub async fn api_registrations(
        &self,
        slug: &str,
        query: &RegistrationQuery,
    ) -> Result<Page<RegistrationResource>, DomainError> {
        let parsed = query.parse().map_err(DomainError::Invalid)?;
        let webinar = self.webinar_by_slug(slug).await?;
        let links = &self.mail_parts().ok_or(DomainError::MailUnavailable)?.links;
        let rows = registration::page_filtered(self.db(), webinar.id, &parsed.filter, parsed.limit, self.now()).await?;
        let last = rows.last().map_or(parsed.filter.after_id, |row| row.id);
        let has_more = match rows.len() as u64 == parsed.limit {
            true => true,
            false => {
                registration::any_after(self.db(), webinar.id, &PageFilter { after_id: last, ..parsed.filter }).await?
            }
        };
        Ok(Page {
            data: rows.into_iter().map(|row| RegistrationResource::new(row, &webinar.slug, links)).collect(),
            next_cursor: last.to_string(),
            has_more,
        })
    }

    pub async fn api_registration(&self, id: i64) -> Result<RegistrationResource, DomainError> {
        let (registration, webinar) = self.registration_with_webinar(id).await?;
        let links = &self.mail_parts().ok_or(DomainError::MailUnavailable)?.links;
        Ok(RegistrationResource::new(registration, &webinar.slug, links))
    }

    /// A registrant's emails, the earliest due first.
    pub async fn api_registration_emails(&self, id: i64) -> Result<Vec<EmailJobResource>, DomainError> {
        self.registration_with_webinar(id).await?;
        let jobs = queue::for_registration(self.db(), id).await?;
        let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
        let mut events: HashMap<i64, Vec<event::Model>> = HashMap::new();
        for found in event::for_jobs(self.db(), &ids).await? {
            if let Some(job) = found.job_id {
                events.entry(job).or_default().push(found);
            }
        }
        Ok(jobs
            .into_iter()
            .map(|job| {
                let its = events.remove(&job.id).unwrap_or_default();
                EmailJobResource::new(job, its)
            })
            .collect())
    }

    async fn registration_with_webinar(&self, id: i64) -> Result<(registration::Model, webinar::Model), DomainError> {
        use sea_orm::EntityTrait;
        let found = registration::Entity::find_by_id(id).find_also_related(webinar::Entity).one(self.db()).await?;
        match found {
            Some((registration, Some(webinar))) => Ok((registration, webinar)),
            _ => Err(DomainError::RegistrationNotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> RegistrationQuery {
        let get = |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned());
        RegistrationQuery {
            limit: get("limit"),
            cursor: get("cursor"),
            since: get("since"),
            icp: get("icp"),
            utm_source: get("utm_source"),
        }
    }

    #[test]
    fn a_page_request_is_checked_field_by_field() {
        let parsed = query(&[("limit", "500"), ("cursor", "42"), ("icp", " Founders ")]).parse().expect("valid");
        assert_eq!((parsed.limit, parsed.filter.after_id, parsed.filter.icp.as_deref()), (500, 42, Some("founders")));
        assert_eq!(query(&[]).parse().expect("defaults").limit, 100);
        let errors = query(&[("limit", "501"), ("cursor", "abc"), ("since", "yesterday")]).parse().expect_err("bad");
        let fields: Vec<String> = errors.into_iter().map(|error| error.field).collect();
        assert_eq!(fields, ["limit", "cursor", "since"]);
        assert!(query(&[("limit", "0")]).parse().is_err());
    }
}
