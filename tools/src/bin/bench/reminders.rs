//! `bench reminders`: 100,000 reminders due at the same instant, drained
//! through the real worker and SendGrid client into the local SendGrid mock,
//! against the mock's ceiling: the same number of full requests fired through
//! the same client without the queue.
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use test_support::seed_due_jobs;
use tokio::sync::watch;
use webinar::delivery::{Delivery, MAX_RECIPIENTS_PER_REQUEST, Mailbox, Outgoing, Recipient, SendGrid};
use webinar::email::Kind;
use webinar::email::links::Links;
use webinar::email::render::{self, Emails, WebinarLinks};
use webinar::worker::{Worker, WorkerConfig};
use webinar::{Clock, SystemClock};

use crate::{Backend, Failure, POOL, mock_stats, peak_rss_mib, reset_peak_rss, start_mock};

pub async fn run(
    backend: Backend,
    jobs: usize,
    mock_delay_ms: u64,
    max_in_flight: usize,
    batch_size: u64,
) -> Result<bool, Failure> {
    let database = backend.fresh_database().await?;
    // The worker gets the pool it has in the server.
    let db = webinar::store::connect(&database.url, POOL).await?;
    let clock = Arc::new(SystemClock);
    let seeded = Instant::now();
    seed_due_jobs(&db, jobs / 4, clock.now()).await?;
    println!("seeded {jobs} due jobs in {:.1} s", seeded.elapsed().as_secs_f64());

    let requests = jobs.div_ceil(MAX_RECIPIENTS_PER_REQUEST);
    let ceiling = ceiling(requests, mock_delay_ms, max_in_flight).await?;

    let (_mock, base) = start_mock(mock_delay_ms).await?;
    let sendgrid = SendGrid::new("SG.bench", &base, Duration::from_secs(30))?;
    let config = WorkerConfig { batch_size, max_in_flight, ..WorkerConfig::default() };
    let links = Links::new("https://events.example.com", b"bench");
    let worker = Arc::new(Worker::new("bench", db.clone(), clock.clone(), Arc::new(sendgrid), links, config)?);
    let (stop, stopping) = watch::channel(false);
    reset_peak_rss();
    let started = Instant::now();
    let running = tokio::spawn(worker.run(stopping));
    // Drained: the provider has every job and the queue has recorded them all.
    // Polling the mock is cheap, so the end is seen within milliseconds without
    // loading the database with counts while it works.
    // The milestones say where a drain's time beyond the ceiling goes: before
    // the first request, or after the last one, recording outcomes.
    let mut first_received = None;
    let mut all_received = None;
    let drain = async {
        loop {
            let received = mock_stats(&base).await?["distinct_jobs"].as_u64().unwrap_or(0);
            if received > 0 {
                first_received.get_or_insert(started.elapsed());
            }
            if received >= jobs as u64 {
                all_received = Some(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        while webinar::queue::lag(&db, clock.now()).await?.due > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok::<_, Failure>(())
    };
    // A lost job would keep it waiting: at twice the target, report what arrived.
    if let Ok(drained) = tokio::time::timeout(Duration::from_secs(120), drain).await {
        drained?;
    }
    let drained = started.elapsed();
    stop.send(true)?;
    running.await?;
    let peak = peak_rss_mib();

    let stats = mock_stats(&base).await?;
    let distinct = stats["distinct_jobs"].as_u64().unwrap_or(0);
    let duplicates = stats["duplicates"].as_u64().unwrap_or(u64::MAX);
    let made = stats["requests"].as_u64().unwrap_or(0);
    let lost = (jobs as u64).saturating_sub(distinct);
    let ratio = ceiling.as_secs_f64() / drained.as_secs_f64();
    let backend = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "Postgres",
    };
    println!(
        "bench reminders ({backend}, {jobs} jobs, mock {mock_delay_ms} ms/request, {max_in_flight} in flight, claim {batch_size})"
    );
    println!("  drained in        {:.2} s (target ≤ 60 s)", drained.as_secs_f64());
    println!("  requests          {made} (ceiling run: {requests})");
    let millis = |at: Option<Duration>| at.map_or("-".to_owned(), |at| at.as_millis().to_string());
    println!(
        "  milestones        first jobs at the mock {} ms, last {} ms, all recorded {} ms",
        millis(first_received),
        millis(all_received),
        drained.as_millis()
    );
    println!("  mock ceiling      {:.2} s", ceiling.as_secs_f64());
    println!("  ratio to ceiling  {:.0} % (target ≥ 90 %)", ratio * 100.0);
    println!("  peak RSS          {peak:.0} MiB (worker process, from the drain's start)");
    println!("  lost              {lost} (target 0)");
    println!("  duplicates        {duplicates} (target 0)");
    Ok(drained <= Duration::from_secs(60) && ratio >= 0.9 && lost == 0 && duplicates == 0)
}

/// The mock's ceiling: `requests` full requests (1,000 recipients each, real
/// content) through the same SendGrid client and concurrency, no queue.
async fn ceiling(requests: usize, mock_delay_ms: u64, max_in_flight: usize) -> Result<Duration, Failure> {
    let (_mock, base) = start_mock(mock_delay_ms).await?;
    let sendgrid = SendGrid::new("SG.bench", &base, Duration::from_secs(30))?;
    let (sample, session) = webinar_sample();
    let links = Links::new("https://events.example.com", b"bench");
    let webinar_links = WebinarLinks::new(&sample, &session, links.base_url());
    let content = Emails::new()?.render(Kind::Reminder24h, None, &sample, &session, &webinar_links, None)?;
    let batches: Vec<Outgoing> = (0..requests)
        .map(|batch| Outgoing {
            from: Mailbox { email: "webinars@example.com".into(), name: "Webinars".into() },
            category: "reminder_24h".into(),
            content: content.clone(),
            attachments: Vec::new(),
            recipients: (0..MAX_RECIPIENTS_PER_REQUEST)
                .map(|n| {
                    let id = (batch * MAX_RECIPIENTS_PER_REQUEST + n) as i64;
                    let unsubscribe_url = links.unsubscribe_url(id);
                    Recipient {
                        job_id: id,
                        registration_id: id,
                        to: Mailbox { email: format!("r{id}@example.com"), name: format!("Registrant {id}") },
                        substitutions: render::substitutions(
                            &format!("Registrant {id}"),
                            &links.join_url("x".repeat(32).as_str()),
                            &unsubscribe_url,
                        ),
                        unsubscribe_url,
                    }
                })
                .collect(),
        })
        .collect();
    let started = Instant::now();
    let mut sends =
        futures::stream::iter(&batches).map(|batch| sendgrid.deliver(batch)).buffer_unordered(max_in_flight);
    while let Some(result) = sends.next().await {
        result?;
    }
    Ok(started.elapsed())
}

fn webinar_sample() -> (webinar::webinar::Model, webinar::session::Model) {
    let now = SystemClock.now();
    let webinar = webinar::webinar::Model {
        id: 1,
        slug: "bench".into(),
        title: "Benchmark webinar".into(),
        subtitle: "Reminders at scale".into(),
        description: String::new(),
        speakers: "[]".into(),
        timezone: "Europe/Berlin".into(),
        status: webinar::webinar::Status::Published,
        created_at: now,
        updated_at: now,
        agenda: "[]".into(),
    };
    let session = webinar::session::Model {
        id: 1,
        webinar_id: 1,
        starts_at: now + chrono::Duration::days(1),
        duration_minutes: 60,
        join_url: "https://meet.example.com/bench".into(),
        capacity: None,
        status: webinar::session::Status::Scheduled,
        schedule_version: 0,
        calendar_uid: "session-bench".into(),
        created_at: now,
        updated_at: now,
    };
    (webinar, session)
}
