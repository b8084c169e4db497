//! The webhook worker: the queue's `webhook` channel. Each tick rescues
//! expired leases, claims due deliveries to enabled endpoints with a lease,
//! renders the bodies not yet rendered, posts each one signed (Standard
//! Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`) with a
//! bound on requests in flight, and records every attempt in one
//! transaction. A 2xx answer is success; a redirect is not followed; an
//! answer takes at most [`TIMEOUT`]. Several ticks run side by side, so one
//! slow endpoint holds up only the claim it is in.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use sea_orm::DatabaseConnection;
use standardwebhooks::Webhook;
use tokio::sync::watch;

use crate::email::links::Links;
use crate::queue::lease;
use crate::resource::RegistrationResource;
use crate::webhook::address::Guard;
use crate::webhook::delivery::{self, Attempted, RESPONSE_KEPT};
use crate::webhook::{EventType, endpoint, event};
use crate::{Clock, DomainError, registration, webinar};

/// The longest an endpoint may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct SenderConfig {
    /// Deliveries claimed per tick.
    pub batch_size: u64,
    /// Ticks running side by side.
    pub ticks: usize,
    /// Requests in flight at once, over all ticks.
    pub max_in_flight: usize,
    /// How long a claim is held before another worker may rescue it; keep it
    /// well above [`TIMEOUT`].
    pub lease: chrono::Duration,
    /// Pause between ticks when nothing was due.
    pub poll_interval: Duration,
    pub guard: Guard,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            batch_size: 128,
            ticks: 4,
            max_in_flight: 32,
            lease: chrono::Duration::minutes(5),
            poll_interval: Duration::from_secs(1),
            guard: Guard::default(),
        }
    }
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SenderReport {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
    /// Set aside: their registrant was erased before they went out.
    pub cancelled: usize,
    /// Endpoints disabled after failing for a day.
    pub disabled: Vec<i64>,
}

pub struct WebhookSender {
    id: String,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    links: Links,
    config: SenderConfig,
}

/// A claimed delivery ready to post.
struct Ready {
    delivery: delivery::Model,
    url: String,
    secret: String,
    message_id: String,
    body: Arc<str>,
}

impl WebhookSender {
    pub fn new(
        id: impl Into<String>,
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        links: Links,
        config: SenderConfig,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            // A proxy would resolve the host itself, past the guard.
            .no_proxy()
            .dns_resolver(Arc::new(config.guard))
            .user_agent(concat!("webinar-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { id: id.into(), db, clock, client, links, config })
    }

    /// Delivers until `shutdown` turns true; what is in flight finishes and is recorded.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "webhook worker started");
        let mut ticking = tokio::task::JoinSet::new();
        for _ in 0..self.config.ticks.max(1) {
            let (sender, mut shutdown) = (self.clone(), shutdown.clone());
            ticking.spawn(async move {
                while !*shutdown.borrow() {
                    let claimed = match sender.tick().await {
                        Ok(report) => report.claimed,
                        Err(error) => {
                            tracing::warn!(worker = %sender.id, %error, "delivering webhooks failed");
                            0
                        }
                    };
                    if claimed == 0 {
                        tokio::select! {
                            _ = shutdown.changed() => {}
                            () = tokio::time::sleep(sender.config.poll_interval) => {}
                        }
                    }
                }
            });
        }
        while let Some(done) = ticking.join_next().await {
            if let Err(error) = done {
                tracing::error!(worker = %self.id, %error, "a webhook task panicked");
            }
        }
        tracing::info!(worker = %self.id, "webhook worker stopped");
    }

    /// One claim: rescues, claims, posts every delivery, records the attempts.
    /// (Tests drive it tick by tick on a virtual clock.)
    pub async fn tick(&self) -> Result<SenderReport, DomainError> {
        let now = self.clock.now();
        if !delivery::has_work(&self.db, now).await? {
            return Ok(SenderReport::default());
        }
        delivery::rescue_expired(&self.db, now).await?;
        let Some(claim) =
            delivery::claim_due(&self.db, &self.id, now, self.config.lease, self.config.batch_size).await?
        else {
            return Ok(SenderReport::default());
        };
        let mut report = SenderReport { claimed: claim.deliveries.len(), ..SenderReport::default() };
        let (ready, gone) = match self.prepare(claim.deliveries).await {
            Ok(prepared) => prepared,
            Err(error) => {
                // Nothing went out: the claim is given back at once.
                if let Err(release) = lease::end(&self.db, &claim.lease).await {
                    tracing::warn!(worker = %self.id, error = %release, "could not give back a webhook claim");
                }
                return Err(error);
            }
        };
        report.cancelled =
            delivery::set_aside(&self.db, &claim.lease, &gone, "the registrant was erased before it went out", now)
                .await? as usize;
        let in_flight = (self.config.max_in_flight / self.config.ticks.max(1)).max(1);
        let attempts: Vec<Attempted> =
            futures::stream::iter(ready).map(|ready| self.attempt(ready)).buffer_unordered(in_flight).collect().await;
        let jitter = rand::rng().random::<f64>();
        let recorded = delivery::record(&self.db, &claim.lease, &attempts, jitter).await?;
        lease::end(&self.db, &claim.lease).await?;
        for webhook in &recorded.disabled {
            tracing::warn!(worker = %self.id, webhook, "webhook endpoint disabled: it failed for a day");
        }
        report.delivered = recorded.delivered;
        report.retried = recorded.retried;
        report.dead = recorded.dead;
        report.disabled = recorded.disabled;
        Ok(report)
    }

    /// Pairs each delivery with its endpoint and body, rendering (and
    /// keeping) the bodies not rendered yet; returns those ready and the ids
    /// of those whose event no longer applies.
    async fn prepare(&self, deliveries: Vec<delivery::Model>) -> Result<(Vec<Ready>, Vec<i64>), DomainError> {
        let webhook_ids: BTreeSet<i64> = deliveries.iter().map(|delivery| delivery.webhook_id).collect();
        let event_ids: BTreeSet<i64> = deliveries.iter().map(|delivery| delivery.event_id).collect();
        let endpoints = endpoint::by_ids(&self.db, webhook_ids).await?;
        let mut events = event::by_ids(&self.db, event_ids).await?;
        self.render_missing(&mut events).await?;
        let mut ready = Vec::with_capacity(deliveries.len());
        let mut gone = Vec::new();
        let mut bodies: BTreeMap<i64, Arc<str>> = BTreeMap::new();
        for delivery in deliveries {
            let found = (endpoints.get(&delivery.webhook_id), events.get(&delivery.event_id));
            let (Some(endpoint), Some(event)) = found else {
                gone.push(delivery.id);
                continue;
            };
            let Some(payload) = &event.payload else {
                gone.push(delivery.id);
                continue;
            };
            let body = bodies.entry(event.id).or_insert_with(|| Arc::from(payload.as_str())).clone();
            ready.push(Ready {
                url: endpoint.url.clone(),
                secret: endpoint.secret.clone(),
                message_id: event.message_id.clone(),
                body,
                delivery,
            });
        }
        Ok((ready, gone))
    }

    /// Renders the bodies of events about a registration, written without
    /// one ([`event::Model::payload`]), from the registration as it is now;
    /// one whose registrant is gone stays without (and is set aside).
    async fn render_missing(&self, events: &mut BTreeMap<i64, event::Model>) -> Result<(), DomainError> {
        let missing: BTreeSet<i64> =
            events.values().filter(|event| event.payload.is_none()).filter_map(|event| event.registration_id).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let registrations = registration::by_ids(&self.db, missing).await?;
        let webinar_ids: BTreeSet<i64> = registrations.values().map(|registration| registration.webinar_id).collect();
        let webinars = webinar::by_ids(&self.db, webinar_ids).await?;
        for event in events.values_mut().filter(|event| event.payload.is_none()) {
            let Some(registration) = event.registration_id.and_then(|id| registrations.get(&id)) else { continue };
            let Some(webinar) = webinars.get(&registration.webinar_id) else { continue };
            let Some(event_type) = EventType::parse(&event.event_type) else { continue };
            let resource = RegistrationResource::new(registration.clone(), &webinar.slug, &self.links);
            let body = event::body(event_type, event.occurred_at, &resource);
            // Another worker may have rendered it first: the kept body is the one sent.
            event::keep_payload(&self.db, event.id, &body).await?;
            event.payload = Some(body);
        }
        Ok(())
    }

    /// Posts one delivery and says what came back.
    async fn attempt(&self, ready: Ready) -> Attempted {
        let at = self.clock.now();
        let started = Instant::now();
        let answer = self.post(&ready, at).await;
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (status_code, response, error) = match answer {
            Ok((status, response)) => {
                let error = match status {
                    200..=299 => None,
                    300..=399 => Some(format!("answered {status}: redirects are not followed")),
                    _ => Some(format!("answered {status}")),
                };
                (Some(status), response, error)
            }
            Err(error) => (None, String::new(), Some(error)),
        };
        let outcome = if error.is_none() { "delivered" } else { "failed" };
        metrics::counter!("webinar_webhook_attempts_total", "outcome" => outcome).increment(1);
        Attempted {
            delivery_id: ready.delivery.id,
            webhook_id: ready.delivery.webhook_id,
            attempts: ready.delivery.attempts,
            at,
            status_code,
            duration_ms,
            response,
            error,
        }
    }

    /// The answer's status and its first bytes, or why there was none.
    async fn post(&self, ready: &Ready, at: DateTime<Utc>) -> Result<(u16, String), String> {
        // Names are checked by the client's resolver; an address in the URL is checked here.
        let url = self.config.guard.parse(&ready.url)?;
        let signer = Webhook::new(&ready.secret).map_err(|error| format!("the signing secret is unusable: {error}"))?;
        let timestamp = at.timestamp();
        let signature = signer
            .sign(&ready.message_id, timestamp, ready.body.as_bytes())
            .map_err(|error| format!("could not sign: {error}"))?;
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &ready.message_id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(ready.body.to_string())
            .send()
            .await
            .map_err(|error| describe(&error))?;
        let status = response.status().as_u16();
        Ok((status, first_bytes(response).await))
    }
}

/// Why a request got no answer, for the delivery log.
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error;
    if error.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    // reqwest's own message is generic; the cause says what happened.
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

/// The answer's first [`RESPONSE_KEPT`] bytes (the rest is not read).
async fn first_bytes(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(RESPONSE_KEPT);
    String::from_utf8_lossy(&kept).into_owned()
}
