//! Webhooks through the API and the admin page: endpoints made, changed and
//! deleted, their delivery log, and a delivery sent again. A URL passes the
//! address guard ([`crate::webhook::address`]) when it is saved.
use serde::Deserialize;
use utoipa::ToSchema;

use crate::webhook::EventType;
use crate::webhook::delivery::{self, DeliveryLog};
use crate::webhook::endpoint::{self, Change, Endpoint};
use crate::{DomainError, FieldError, Service};

/// An endpoint as a request writes it. On creation `url` and `events` are
/// required; a change sets only what it names.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `https` (plain `http` only with `WEBHOOK_ALLOW_PRIVATE=true`); its host
    /// must resolve to public addresses only.
    pub url: Option<String>,
    /// The event names it wants, e.g. `["registration.created"]`.
    pub events: Option<Vec<String>>,
    /// `true` enables a disabled endpoint again (its failure record is cleared).
    pub enabled: Option<bool>,
}

/// The delivery log's length on a page and in the API.
pub const DELIVERIES_SHOWN: u64 = 100;

impl Service {
    /// A new endpoint; its signing secret is in the answer (and shown once).
    pub async fn create_webhook(&self, input: &WebhookInput) -> Result<Endpoint, DomainError> {
        let mut errors = Vec::new();
        let url = match &input.url {
            Some(url) => self.checked_url(url, &mut errors).await,
            None => {
                errors.push(FieldError::new("url", "Enter the URL events are sent to."));
                None
            }
        };
        let events = match &input.events {
            Some(names) => parsed_events(names, &mut errors),
            None => {
                errors.push(FieldError::new("events", "Choose at least one event."));
                None
            }
        };
        let (Some(url), Some(events), true) = (url, events, errors.is_empty()) else {
            return Err(DomainError::Invalid(errors));
        };
        let mut created = endpoint::create(self.db(), &url, &events, self.now()).await?;
        if input.enabled == Some(false) {
            let off = Change { enabled: Some(false), ..Change::default() };
            created = endpoint::update(self.db(), created.webhook.id, off, self.now()).await?.unwrap_or(created);
        }
        tracing::info!(webhook = created.webhook.id, events = created.events.len(), "webhook created");
        Ok(created)
    }

    pub async fn webhooks(&self) -> Result<Vec<Endpoint>, DomainError> {
        Ok(endpoint::all(self.db()).await?)
    }

    pub async fn webhook(&self, id: i64) -> Result<Endpoint, DomainError> {
        endpoint::find(self.db(), id).await?.ok_or(DomainError::WebhookNotFound)
    }

    /// Changes what the input names; enabling a disabled endpoint resumes its deliveries.
    pub async fn update_webhook(&self, id: i64, input: &WebhookInput) -> Result<Endpoint, DomainError> {
        let mut errors = Vec::new();
        let url = match &input.url {
            Some(url) => self.checked_url(url, &mut errors).await,
            None => None,
        };
        let events = input.events.as_ref().and_then(|names| parsed_events(names, &mut errors));
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let change = Change { url, events, enabled: input.enabled };
        let updated = endpoint::update(self.db(), id, change, self.now()).await?.ok_or(DomainError::WebhookNotFound)?;
        tracing::info!(webhook = id, enabled = updated.webhook.enabled, "webhook changed");
        Ok(updated)
    }

    pub async fn delete_webhook(&self, id: i64) -> Result<(), DomainError> {
        match endpoint::delete(self.db(), id).await? {
            true => {
                tracing::info!(webhook = id, "webhook deleted");
                Ok(())
            }
            false => Err(DomainError::WebhookNotFound),
        }
    }

    /// An endpoint's latest deliveries, newest first, each with its event and attempts.
    pub async fn webhook_deliveries(&self, id: i64) -> Result<Vec<DeliveryLog>, DomainError> {
        self.webhook(id).await?;
        let log = delivery::log(self.db(), id, DELIVERIES_SHOWN).await?;
        self.with_events(log).await
    }

    /// Sends a delivery again, as it was, with fresh attempts and the same `webhook-id`.
    pub async fn redeliver_webhook(&self, id: i64, delivery_id: i64) -> Result<DeliveryLog, DomainError> {
        if !self.webhook(id).await?.webhook.enabled {
            return Err(DomainError::WebhookDisabled);
        }
        let queued = delivery::redeliver(self.db(), id, delivery_id, self.now()).await?;
        let queued = queued.ok_or(DomainError::DeliveryNotFound)?;
        tracing::info!(webhook = id, delivery = delivery_id, "webhook delivery queued again");
        let log = delivery::with_attempts(self.db(), vec![queued]).await?;
        self.with_events(log).await?.pop().ok_or(DomainError::DeliveryNotFound)
    }

    /// Deliveries with their attempts, each beside the event it sends.
    async fn with_events(
        &self,
        log: Vec<(delivery::Model, Vec<crate::webhook::attempt::Model>)>,
    ) -> Result<Vec<DeliveryLog>, DomainError> {
        let event_ids: Vec<i64> = log.iter().map(|(delivery, _)| delivery.event_id).collect();
        let events = crate::webhook::event::by_ids(self.db(), event_ids).await?;
        Ok(log
            .into_iter()
            .filter_map(|(delivery, attempts)| {
                let event = events.get(&delivery.event_id)?;
                Some(DeliveryLog {
                    event_type: event.event_type.clone(),
                    message_id: event.message_id.clone(),
                    payload: event.payload.clone(),
                    delivery,
                    attempts,
                })
            })
            .collect())
    }

    /// The URL, if the guard lets it through (its host resolved and checked).
    async fn checked_url(&self, url: &str, errors: &mut Vec<FieldError>) -> Option<String> {
        match self.webhook_guard().check(url).await {
            Ok(url) => Some(url.to_string()),
            Err(message) => {
                errors.push(FieldError::new("url", message));
                None
            }
        }
    }
}

/// The events named, each known, at least one; duplicates count once.
fn parsed_events(names: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<EventType>> {
    let mut events = Vec::new();
    for name in names {
        match EventType::parse(name.trim()) {
            Some(event) if !events.contains(&event) => events.push(event),
            Some(_) => {}
            None => {
                let known: Vec<&str> = EventType::ALL.iter().map(|event| event.name()).collect();
                let name: String = name.chars().take(64).collect();
                errors.push(FieldError::new(
                    "events",
                    format!("“{name}” is no event; choose among {}.", known.join(", ")),
                ));
                return None;
            }
        }
    }
    if events.is_empty() {
        errors.push(FieldError::new("events", "Choose at least one event."));
        return None;
    }
    events.sort();
    Some(events)
}
