//! The email worker. Each tick rescues expired leases, claims due jobs with a
//! lease, sends them in batches (one provider request per webinar, kind and
//! ICP, up to 1,000 recipients) with a bound on requests in flight, and
//! records every outcome; the lease ends when all of its jobs are recorded.
//! No transaction is open while a request is out.
//!
//! Postgres: any number of workers, in any number of processes (claims take
//! turns on an advisory lock, so two never lease the same job). SQLite: a
//! claim holds SQLite's one write lock, so workers never share a job either;
//! one process per file is the supported setup.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use rand::Rng;
use sea_orm::{ActiveEnum, DatabaseConnection};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::deliverability::{self, suppression};
use crate::delivery::{Attachment, Delivery, DeliveryError, MAX_RECIPIENTS_PER_REQUEST, Mailbox, Outgoing, Recipient};
use crate::email::links::Links;
use crate::email::render::{self, Emails, WebinarLinks};
use crate::email::schedule::REMINDERS;
use crate::email::{calendar, copy as email_copy};
use crate::queue::lease::{self, Held};
use crate::queue::retry::{AfterFailure, RetryPolicy};
use crate::queue::{self, Kind, SetAside};
use crate::{Clock, DomainError, registration, session, webinar};

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Jobs claimed per tick.
    pub batch_size: u64,
    /// How long a claim is held before another worker may rescue it.
    pub lease: Duration,
    /// Provider requests in flight at once.
    pub max_in_flight: usize,
    /// Pause between ticks when nothing was due.
    pub poll_interval: std::time::Duration,
    pub policy: RetryPolicy,
    pub from: Mailbox,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch_size: 5000,
            lease: Duration::minutes(5),
            max_in_flight: 8,
            poll_interval: std::time::Duration::from_secs(1),
            policy: RetryPolicy::default(),
            from: Mailbox { email: "webinars@example.com".into(), name: "Webinars".into() },
        }
    }
}

/// What one tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    pub cancelled: usize,
    /// Set aside because their address is on the suppression list.
    pub suppressed: usize,
    pub released: usize,
}

impl std::ops::AddAssign for TickReport {
    fn add_assign(&mut self, other: Self) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.dead += other.dead;
        self.cancelled += other.cancelled;
        self.suppressed += other.suppressed;
        self.released += other.released;
    }
}

pub struct Worker {
    id: String,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    delivery: Arc<dyn Delivery>,
    emails: Arc<Emails>,
    links: Links,
    config: WorkerConfig,
    /// SQLite only: the worker's writes (claims and outcomes) take turns here,
    /// first come, first served (tokio's mutex is fair). SQLite lets one writer
    /// in at a time, and connections racing for its lock sleep in its busy
    /// handler (1, 2, 5 … 100 ms a try) while the lock sits free; in line here,
    /// the next write starts as soon as the last one commits.
    write_turns: Option<tokio::sync::Mutex<()>>,
}

/// What became of a batch: its jobs in parts (the whole batch, or the parts a
/// rejected request was split into), each with its outcome; `None` for a
/// part given back unsent.
type Outcomes = Vec<(Vec<(i64, i32)>, Option<Result<(), DeliveryError>>)>;

/// The first pause before writing an unwritten outcome again, and the longest.
const RECORD_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(50);
const RECORD_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// Jobs that go out in one provider request share a webinar, a kind and an ICP.
type BatchKey = (i64, Kind, Option<String>);

/// A batch ready to send, and the jobs (with their attempts so far) behind it.
struct Batch {
    message: Outgoing,
    jobs: Vec<(i64, i32)>,
    /// When the claim behind it was made; its lease runs from here.
    claimed_at: DateTime<Utc>,
    /// Shared by the claim's batches; the last one recorded ends it.
    lease: Arc<Held>,
}

impl Worker {
    pub fn new(
        id: impl Into<String>,
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        delivery: Arc<dyn Delivery>,
        links: Links,
        config: WorkerConfig,
    ) -> Result<Self, minijinja::Error> {
        let sqlite = db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
        let write_turns = sqlite.then(|| tokio::sync::Mutex::new(()));
        Ok(Self { id: id.into(), db, clock, delivery, emails: Arc::new(Emails::new()?), links, config, write_turns })
    }

    /// Waits for this worker's turn to write (SQLite; on Postgres, none is needed).
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.write_turns.as_ref()?.lock().await)
    }

    /// Sends until `shutdown` turns true, then finishes what is in flight and
    /// gives back what it claimed but did not send. Claiming runs ahead of
    /// sending: a prefetch task claims and renders up to `max_in_flight`
    /// batches into a bounded channel while the sends are out, so a free send
    /// slot never waits for the database.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "email worker started");
        let in_flight_limit = self.config.max_in_flight.max(1);
        let (ready, mut prepared) = mpsc::channel::<Batch>(in_flight_limit);
        // Two claimers: while one waits on the database, the other's batches go out.
        let prefetchers = [
            tokio::spawn(self.clone().prefetch(ready.clone(), shutdown.clone())),
            tokio::spawn(self.clone().prefetch(ready, shutdown.clone())),
        ];
        let slots = Arc::new(Semaphore::new(in_flight_limit));
        let mut in_flight = JoinSet::new();
        while let Some(batch) = prepared.recv().await {
            while let Some(done) = in_flight.try_join_next() {
                self.log_failure(done);
            }
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let (worker, stop) = (self.clone(), shutdown.clone());
            in_flight.spawn(async move {
                // After shutdown, `attempt` gives the batch back instead of sending it.
                let outcomes = worker.attempt(&batch, &stop).await;
                // A slot bounds requests in flight; recording the outcome
                // runs beside the next request instead of holding the slot.
                drop(slot);
                worker.finish(batch, outcomes).await
            });
        }
        for prefetch in prefetchers {
            if let Err(error) = prefetch.await {
                tracing::error!(worker = %self.id, %error, "a claiming task panicked");
            }
        }
        while let Some(done) = in_flight.join_next().await {
            self.log_failure(done);
        }
        tracing::info!(worker = %self.id, "email worker stopped");
    }

    /// Claims due jobs into `ready` until shutdown; closing `ready` ends `run`.
    /// After an idle spell claims start at one request's worth and double up
    /// to the batch size: the first request of a burst waits for a 1,000-job
    /// claim and its lookups, not for an 8,000-job one.
    async fn prefetch(self: Arc<Self>, ready: mpsc::Sender<Batch>, mut shutdown: watch::Receiver<bool>) {
        let ahead = (self.config.max_in_flight.max(1) * MAX_RECIPIENTS_PER_REQUEST) as u64;
        let full = self.config.batch_size.min(ahead).max(1);
        let first = full.min(MAX_RECIPIENTS_PER_REQUEST as u64);
        let mut limit = first;
        while !*shutdown.borrow() {
            let (batches, claimed) = match self.claim(limit).await {
                Ok((batches, report)) => (batches, report.claimed),
                Err(error) => {
                    tracing::warn!(worker = %self.id, %error, "claiming email jobs failed");
                    (Vec::new(), 0)
                }
            };
            // A claim whose jobs were all set aside (unsubscribed, cancelled)
            // is no reason to wait: more may be due behind them.
            if claimed > 0 {
                limit = (limit * 2).min(full);
            } else {
                limit = first;
                tokio::select! {
                    _ = shutdown.changed() => {}
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
            for batch in batches {
                // Waits while `max_in_flight` batches are already prepared.
                if ready.send(batch).await.is_err() {
                    return;
                }
            }
        }
    }

    fn log_failure(&self, done: Result<Result<TickReport, DomainError>, tokio::task::JoinError>) {
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(worker = %self.id, %error, "recording a send failed"),
            Err(error) => tracing::error!(worker = %self.id, %error, "a send task panicked"),
        }
    }

    /// One pass over the queue: claims up to the batch size, sends it all and
    /// returns when every outcome is recorded. `stop` is checked before each
    /// batch goes out. (Tests drive the worker tick by tick on a virtual clock.)
    pub async fn tick(&self, stop: &watch::Receiver<bool>) -> Result<TickReport, DomainError> {
        let (batches, mut report) = self.claim(self.config.batch_size).await?;
        let mut sends = futures::stream::iter(batches)
            .map(|batch| self.send(batch, stop))
            .buffer_unordered(self.config.max_in_flight.max(1));
        while let Some(sent) = sends.next().await {
            report += sent?;
        }
        Ok(report)
    }

    /// Rescues expired leases, claims up to `limit` due jobs, and turns them
    /// into batches; jobs that must not go out are cancelled here.
    async fn claim(&self, limit: u64) -> Result<(Vec<Batch>, TickReport), DomainError> {
        let now = self.clock.now();
        let turn = self.write_turn().await;
        queue::rescue_expired(&self.db, now, self.config.policy.max_attempts).await?;
        let Some(claim) = queue::claim_due(&self.db, &self.id, now, self.config.lease, limit).await? else {
            return Ok((Vec::new(), TickReport::default()));
        };
        drop(turn);
        let mut report = TickReport { claimed: claim.jobs.len(), ..TickReport::default() };
        let lease = Arc::new(claim.lease);
        let (batches, skipped) = match self.prepare(claim.jobs, &lease, now).await {
            Ok(prepared) => prepared,
            Err(error) => {
                // Nothing went out: the jobs are given back now, with no attempt
                // counted, instead of waiting out the lease for a rescue.
                if let Err(release) = lease::end(&self.db, &lease).await {
                    tracing::warn!(worker = %self.id, error = %release, "could not give back a claim; its lease will run out");
                }
                return Err(error);
            }
        };
        let _turn = self.write_turn().await;
        for (why, ids) in skipped {
            let set_aside = queue::mark_set_aside(&self.db, &lease, &ids, why, now).await? as usize;
            match why {
                SetAside::Cancelled(_) => report.cancelled += set_aside,
                SetAside::Suppressed => report.suppressed += set_aside,
            }
        }
        self.end_if_last(lease).await?;
        Ok((batches, report))
    }

    /// Ends the lease once no batch of its claim is left to record.
    async fn end_if_last(&self, lease: Arc<Held>) -> Result<(), DomainError> {
        if let Some(lease) = Arc::into_inner(lease) {
            lease::end(&self.db, &lease).await?;
        }
        Ok(())
    }

    /// Sends one batch and records the outcome.
    async fn send(&self, batch: Batch, stop: &watch::Receiver<bool>) -> Result<TickReport, DomainError> {
        let outcomes = self.attempt(&batch, stop).await;
        self.finish(batch, outcomes).await
    }

    /// Delivers a batch, or gives it back unsent when stopping or when it
    /// waited past half its lease: by the lease's end another claim may take
    /// the same jobs, and both would send them.
    async fn attempt(&self, batch: &Batch, stop: &watch::Receiver<bool>) -> Outcomes {
        let stopping = *stop.borrow();
        let lease_half_gone = self.lease_half_gone(batch);
        if lease_half_gone && !stopping {
            tracing::info!(worker = %self.id, jobs = batch.jobs.len(), "a batch waited past half its lease: given back");
        }
        match stopping || lease_half_gone {
            true => vec![(batch.jobs.clone(), None)],
            false => self.deliver_isolating(batch).await,
        }
    }

    fn lease_half_gone(&self, batch: &Batch) -> bool {
        self.clock.now() >= batch.claimed_at + self.config.lease / 2
    }

    /// Delivers a batch; a request the provider rejects as a whole is split
    /// in halves and each sent again, until the recipient it was rejected
    /// for is alone. So one bad address costs its own job only (dead, with
    /// the provider's reason) and about 2·log₂(n) requests more, and never
    /// the other recipients of its batch. Parts not sent by half the lease
    /// are given back.
    async fn deliver_isolating(&self, batch: &Batch) -> Outcomes {
        let mut outcomes = Vec::new();
        // Parts still to send, each a range of the batch's recipients; the whole batch first.
        let mut parts = Vec::new();
        parts.push(0..batch.jobs.len());
        while let Some(range) = parts.pop() {
            let whole = range.len() == batch.jobs.len();
            if !whole && self.lease_half_gone(batch) {
                outcomes.push((batch.jobs[range].to_vec(), None));
                continue;
            }
            let result = match whole {
                true => self.deliver_metered(&batch.message).await,
                false => self.deliver_metered(&batch.message.part(range.clone())).await,
            };
            match result {
                Err(DeliveryError::Reject { reason }) if range.len() > 1 => {
                    tracing::info!(worker = %self.id, recipients = range.len(), %reason, "provider rejected a request: splitting it");
                    let middle = range.start + range.len() / 2;
                    parts.push(middle..range.end);
                    parts.push(range.start..middle);
                }
                result => outcomes.push((batch.jobs[range].to_vec(), Some(result))),
            }
        }
        outcomes
    }

    /// Records a batch's outcomes and ends the lease after its claim's last
    /// batch. An outcome the database does not take (a restart, a
    /// failover) is kept and written again, with backoff, until it is
    /// written or the lease would run out; meanwhile the lease is extended,
    /// so a blip costs neither a resend after a rescue nor a wait for one.
    async fn finish(&self, batch: Batch, outcomes: Outcomes) -> Result<TickReport, DomainError> {
        let Batch { lease, claimed_at, message, jobs } = batch;
        // Only the outcomes' job ids wait on the database, not the rendered message.
        drop((message, jobs));
        let mut report = TickReport::default();
        let mut unwritten = outcomes;
        let started = tokio::time::Instant::now();
        let give_up_after = (claimed_at + self.config.lease - self.clock.now()).to_std().unwrap_or_default();
        let mut pause = RECORD_RETRY_FIRST;
        loop {
            let written = {
                let _turn = self.write_turn().await;
                self.record_each(&lease, &mut unwritten, &mut report).await
            };
            let Err(error) = written else { break };
            if started.elapsed() + pause >= give_up_after {
                tracing::error!(worker = %self.id, %error, "recording an outcome failed until the lease's end: it will be rescued");
                return Err(error);
            }
            tracing::warn!(worker = %self.id, %error, retry_in_ms = pause.as_millis() as u64, "recording an outcome failed: kept, writing it again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RECORD_RETRY_MAX);
            let until = self.clock.now() + self.config.lease;
            if let Err(error) = lease::extend(&self.db, &lease, until).await {
                tracing::debug!(worker = %self.id, %error, "extending a lease failed");
            }
        }
        self.end_if_last(lease).await?;
        Ok(report)
    }

    /// Writes the outcomes in `unwritten` one by one, removing each once it
    /// is written (so a retry never counts an attempt twice).
    async fn record_each(
        &self,
        lease: &Held,
        unwritten: &mut Outcomes,
        report: &mut TickReport,
    ) -> Result<(), DomainError> {
        while let Some((jobs, outcome)) = unwritten.last() {
            *report += self.record(lease, jobs, outcome.clone()).await?;
            unwritten.pop();
        }
        Ok(())
    }

    /// Delivers, recording the request's latency and outcome
    /// (`webinar_email_send_seconds`, `webinar_email_sends_total`).
    async fn deliver_metered(&self, message: &Outgoing) -> Result<(), DeliveryError> {
        let started = std::time::Instant::now();
        let result = self.delivery.deliver(message).await;
        let outcome = match &result {
            Ok(()) => "accepted",
            Err(DeliveryError::Retry { .. }) => "provider_retry",
            Err(DeliveryError::Reject { .. }) => "provider_reject",
        };
        metrics::histogram!("webinar_email_send_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("webinar_email_sends_total", "outcome" => outcome).increment(1);
        metrics::counter!("webinar_email_recipients_total", "outcome" => outcome)
            .increment(message.recipients.len() as u64);
        result
    }

    /// Writes each job's outcome. Jobs given back unsent are not written:
    /// they are still pending, and claimable again once the lease ends.
    async fn record(
        &self,
        lease: &Held,
        jobs: &[(i64, i32)],
        outcome: Option<Result<(), DeliveryError>>,
    ) -> Result<TickReport, DomainError> {
        let mut report = TickReport::default();
        let now = self.clock.now();
        let ids: Vec<i64> = jobs.iter().map(|(id, _)| *id).collect();
        match outcome {
            None => report.released += ids.len(),
            Some(Ok(())) => {
                // Delivered first, then sent: a reader never sees a sent job
                // of the outbox without its delivery (the outbox wrote it either way).
                if self.delivery.is_the_mailbox() {
                    deliverability::record_outbox_delivered(&self.db, &ids, now).await?;
                }
                report.sent += queue::mark_sent(&self.db, lease, &ids, now).await? as usize;
            }
            Some(Err(DeliveryError::Reject { reason })) => {
                tracing::warn!(worker = %self.id, jobs = ids.len(), %reason, "provider rejected a recipient");
                report.dead += queue::mark_failed(&self.db, lease, &ids, None, &reason, now).await? as usize;
            }
            Some(Err(DeliveryError::Retry { reason, retry_after })) => {
                tracing::warn!(worker = %self.id, jobs = ids.len(), %reason, "batch will be retried");
                let jitter = rand::rng().random::<f64>();
                let mut by_attempts: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
                for &(id, attempts) in jobs {
                    by_attempts.entry(attempts).or_default().push(id);
                }
                for (attempts, ids) in by_attempts {
                    // This attempt counts: the policy is asked after `attempts + 1` tries.
                    let retry_at = match self.config.policy.after_failure(attempts + 1, jitter, retry_after) {
                        AfterFailure::RetryIn(delay) => Some(now + delay),
                        AfterFailure::Dead => None,
                    };
                    let updated = queue::mark_failed(&self.db, lease, &ids, retry_at, &reason, now).await?;
                    match retry_at {
                        Some(_) => report.retried += updated as usize,
                        None => report.dead += updated as usize,
                    }
                }
            }
        }
        Ok(report)
    }

    /// Groups claimed jobs into provider requests, setting aside those that
    /// must not go out.
    async fn prepare(
        &self,
        jobs: Vec<queue::pending::Model>,
        lease: &Arc<Held>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Batch>, BTreeMap<SetAside, Vec<i64>>), DomainError> {
        // Jobs share registrations (four kinds each) and webinars: look each up once.
        let registration_ids: BTreeSet<i64> = jobs.iter().map(|job| job.registration_id).collect();
        let webinar_ids: BTreeSet<i64> = jobs.iter().map(|job| job.webinar_id).collect();
        let session_ids: BTreeSet<i64> = jobs.iter().map(|job| job.session_id).collect();
        let registrations = registration::addressees(&self.db, registration_ids).await?;
        let copies = email_copy::for_webinars(&self.db, webinar_ids.iter().copied()).await?;
        let webinars = webinar::by_ids(&self.db, webinar_ids).await?;
        let sessions = session::by_ids(&self.db, session_ids).await?;
        let keys: Vec<String> = registrations.values().map(|registration| registration.email_key.clone()).collect();
        let suppressed = suppression::among(&self.db, &keys).await?;

        let mut skipped: BTreeMap<SetAside, Vec<i64>> = BTreeMap::new();
        let mut groups: BTreeMap<BatchKey, Vec<(queue::pending::Model, &registration::Addressee)>> = BTreeMap::new();
        for job in jobs {
            let (Some(registration), Some(webinar), Some(session)) =
                (registrations.get(&job.registration_id), webinars.get(&job.webinar_id), sessions.get(&job.session_id))
            else {
                let reason = SetAside::Cancelled("registration, webinar or session deleted");
                skipped.entry(reason).or_default().push(job.job_id);
                continue;
            };
            if let Some(reason) = skip_reason(&job, registration, webinar, session, now) {
                skipped.entry(SetAside::Cancelled(reason)).or_default().push(job.job_id);
                continue;
            }
            if suppressed.contains(&registration.email_key) {
                skipped.entry(SetAside::Suppressed).or_default().push(job.job_id);
                continue;
            }
            groups.entry((job.session_id, job.kind, registration.icp.clone())).or_default().push((job, registration));
        }

        let mut batches = Vec::new();
        for ((session_id, kind, icp), members) in groups {
            let Some(session) = sessions.get(&session_id) else { continue };
            let Some(webinar) = webinars.get(&session.webinar_id) else { continue };
            let links = WebinarLinks::new(webinar, session, self.links.base_url());
            let custom = email_copy::effective(&copies, webinar.id, kind, icp.as_deref());
            let content = self.emails.render(kind, icp.as_deref(), webinar, session, &links, custom.as_ref())?;
            let attachments = match kind {
                Kind::Confirmation | Kind::TimeChanged | Kind::Cancelled => vec![Attachment {
                    filename: "invite.ics".into(),
                    mime_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
                    content: calendar::ics(webinar, session, &links.landing_url, &host_of(self.links.base_url()))
                        .into_bytes(),
                }],
                _ => Vec::new(),
            };
            for chunk in members.chunks(MAX_RECIPIENTS_PER_REQUEST) {
                let recipients = chunk
                    .iter()
                    .map(|(job, registration)| {
                        let join_url = self.links.join_url(&registration.token);
                        let unsubscribe_url = self.links.unsubscribe_url(registration.id);
                        Recipient {
                            job_id: job.job_id,
                            registration_id: registration.id,
                            to: Mailbox { email: registration.email.clone(), name: registration.name.clone() },
                            substitutions: render::substitutions(&registration.name, &join_url, &unsubscribe_url),
                            unsubscribe_url,
                        }
                    })
                    .collect();
                batches.push(Batch {
                    message: Outgoing {
                        from: self.config.from.clone(),
                        category: kind.to_value(),
                        content: content.clone(),
                        attachments: attachments.clone(),
                        recipients,
                    },
                    jobs: chunk.iter().map(|(job, _)| (job.job_id, job.attempts)).collect(),
                    claimed_at: now,
                    lease: lease.clone(),
                });
            }
        }
        Ok((batches, skipped))
    }
}

/// Why a claimed job must not go out, if it must not.
fn skip_reason(
    job: &queue::pending::Model,
    registration: &registration::Addressee,
    webinar: &webinar::Model,
    session: &session::Model,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    if registration.unsubscribed_at.is_some() {
        return Some("unsubscribed");
    }
    // The move withdrew this job; one claimed meanwhile must not go out either.
    if registration.session_id != job.session_id {
        return Some("moved to another session");
    }
    let cancelled = webinar.status == webinar::Status::Cancelled || session.status == session::Status::Cancelled;
    if cancelled && job.kind != Kind::Cancelled {
        return Some("session cancelled");
    }
    if job.kind == Kind::TimeChanged && job.schedule_version < session.schedule_version {
        return Some("superseded by a later time change");
    }
    // A reminder late by more than a quarter of its lead would tell a lie
    // ("starts in 24 hours" when it starts in 2): better none than that.
    let lead = REMINDERS.iter().find(|(kind, _)| *kind == job.kind).map(|(_, lead)| *lead);
    match lead {
        Some(lead) if now > job.run_at + lead / 4 || now >= session.starts_at => Some("too late to be true"),
        _ => None,
    }
}

fn host_of(base_url: &str) -> String {
    url::Url::parse(base_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into())
}
