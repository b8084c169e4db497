//! Benchmarks, as programs: `bench reminders` drains 100,000 reminders due at
//! the same instant through the real worker and SendGrid client into the local
//! SendGrid mock, and compares with the mock's ceiling: the same number of
//! full requests fired through the same client without the queue. Prints its
//! figures and exits non-zero when a target is missed.
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use webinar::delivery::{Delivery, MAX_RECIPIENTS_PER_REQUEST, Mailbox, Outgoing, Recipient, SendGrid};
use webinar::email_job::Kind;
use webinar::emails::{self, Emails, WebinarLinks};
use webinar::links::Links;
use webinar::testing::{TestDatabase, seed_due_jobs};
use webinar::worker::{Worker, WorkerConfig};
use webinar::{Clock, SystemClock};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// 100,000 reminders due at once, drained into the SendGrid mock.
    Reminders {
        #[arg(long, value_enum, default_value = "postgres")]
        database: Backend,
        #[arg(long, default_value_t = 100_000)]
        jobs: usize,
        /// The mock's answer time per request, like a provider's latency.
        #[arg(long, default_value_t = 100)]
        mock_delay_ms: u64,
        #[arg(long, default_value_t = 8)]
        max_in_flight: usize,
        #[arg(long, default_value_t = 8000)]
        batch_size: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().bench {
        Bench::Reminders { database, jobs, mock_delay_ms, max_in_flight, batch_size } => {
            reminders(database, jobs, mock_delay_ms, max_in_flight, batch_size).await
        }
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("a target was missed");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("benchmark failed: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Starts the `sendgrid-mock` binary that sits beside this one.
async fn start_mock(delay_ms: u64) -> Result<(Child, String), Failure> {
    let path = std::env::current_exe()?.with_file_name("sendgrid-mock");
    let mut child = Command::new(path)
        .args(["--delay-ms", &delay_ms.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no mock output")?;
    let line = BufReader::new(stdout).lines().next_line().await?.ok_or("the mock said nothing")?;
    Ok((child, line.trim_start_matches("listening on ").trim().to_owned()))
}

async fn mock_stats(base: &str) -> Result<serde_json::Value, Failure> {
    Ok(reqwest::get(format!("{base}/stats")).await?.json().await?)
}

/// Peak resident memory of this process since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets the peak-RSS counter (VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn reminders(
    backend: Backend,
    jobs: usize,
    mock_delay_ms: u64,
    max_in_flight: usize,
    batch_size: u64,
) -> Result<bool, Failure> {
    let database = match backend {
        Backend::Sqlite => TestDatabase::sqlite()?,
        Backend::Postgres => TestDatabase::postgres().await?,
    };
    let db = database.connect().await?;
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
    while webinar::email_job::lag(&db, clock.now()).await?.due > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let sample = webinar_sample();
    let links = Links::new("https://events.example.com", b"bench");
    let webinar_links = WebinarLinks::new(&sample, links.base_url());
    let content = Emails::new()?.render(Kind::Reminder24h, None, &sample, &webinar_links)?;
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
                        to: Mailbox { email: format!("r{id}@example.com"), name: format!("Registrant {id}") },
                        substitutions: emails::substitutions(
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

fn webinar_sample() -> webinar::webinar::Model {
    let now = SystemClock.now();
    webinar::webinar::Model {
        id: 1,
        slug: "bench".into(),
        title: "Benchmark webinar".into(),
        subtitle: "Reminders at scale".into(),
        description: String::new(),
        speakers: "[]".into(),
        starts_at: now + chrono::Duration::days(1),
        duration_minutes: 60,
        timezone: "Europe/Berlin".into(),
        join_url: "https://meet.example.com/bench".into(),
        status: webinar::webinar::Status::Published,
        capacity: None,
        schedule_version: 0,
        created_at: now,
        updated_at: now,
    }
}
