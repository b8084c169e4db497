//! `bench soak` (`make soak`): registrations at half the maximum rate for
//! ten minutes with the email worker on, and a reminder burst in the middle.
//! Passes with zero failed registrations, the burst delivered with no
//! duplicates, and flat memory: the server's RSS at the end within 25 % of
//! its RSS after the first minute (the warm-up: pools, caches, allocator).
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use webinar::{Clock, SystemClock};

use crate::registrations::{http_load, open_loop};
use crate::server::BenchServer;
use crate::{Backend, Failure, memory_mib, mock_stats, start_mock};

pub async fn run(backend: Backend, minutes: u64, rate: f64, burst: usize) -> Result<bool, Failure> {
    let (_mock, mock_base) = start_mock(100).await?;
    let env = [
        ("RUN_WORKER", "true"),
        ("WORKER_POLL_MS", "200"),
        ("SENDGRID_API_KEY", "SG.soak"),
        ("SENDGRID_API_URL", mock_base.as_str()),
    ];
    let server = BenchServer::start_with(backend, &env).await?;
    let db = webinar::store::connect(&server.database.url, 2).await?;
    // Registrations name the demo webinar: the burst's webinar starts sooner and would become "next".
    let demo = webinar::webinar::next_upcoming(&db, SystemClock.now()).await?.ok_or("no demo webinar")?.slug;
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let next_email = Arc::new(AtomicU64::new(0));
    let rate = match rate > 0.0 {
        true => rate,
        false => {
            let max = http_load(&server, &demo, &client, &next_email, 64, Duration::from_secs(5)).await?;
            println!("maximum {max:.0} registrations/s (5 s, 64 connections); soaking at half");
            max / 2.0
        }
    };
    let pid = server.pid();
    let (mut errors, mut answered, mut first_rss) = (0, 0, 0.0);
    let mut seeding = None;
    for minute in 1..=minutes {
        if minute == minutes / 2 + 1 {
            let (db, now) = (db.clone(), SystemClock.now());
            seeding = Some(tokio::spawn(async move { test_support::seed_due_jobs(&db, burst / 4, now).await }));
            println!("  minute {minute}: {burst} reminders due at once (the burst)");
        }
        let mut run = open_loop(&server.base, &demo, &client, &next_email, rate, Duration::from_secs(60)).await;
        let rss = memory_mib(&pid, "VmRSS:");
        if minute == 1 {
            first_rss = rss;
        }
        let due = webinar::queue::lag(&db, SystemClock.now()).await?.due;
        let (p50, p99) = (run.percentile(0.5), run.percentile(0.99));
        println!(
            "  minute {minute}: {} registered, {} failed, p50 {p50:.2} ms, p99 {p99:.2} ms, server RSS {rss:.0} MiB, {due} emails due",
            run.latencies.len(),
            run.errors,
        );
        if let Some(error) = run.first_error {
            println!("    first failure: {error}");
        }
        errors += run.errors;
        answered += run.latencies.len();
    }
    let last_rss = memory_mib(&pid, "VmRSS:");
    let seeded = match seeding {
        Some(seeding) => seeding.await??.len(),
        None => 0,
    };
    let drained = async {
        while webinar::queue::lag(&db, SystemClock.now()).await?.due > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok::<_, Failure>(())
    };
    let drained = tokio::time::timeout(Duration::from_secs(300), drained).await.is_ok();
    let stats = mock_stats(&mock_base).await?;
    let duplicates = stats["duplicates"].as_u64().unwrap_or(u64::MAX);
    // Every registration's confirmation and every seeded reminder reached the provider.
    let delivered = stats["distinct_jobs"].as_u64().unwrap_or(0) >= (answered + seeded) as u64;
    println!("bench soak ({backend:?}, {minutes} min at {rate:.0} registrations/s, worker on, {burst}-reminder burst)");
    println!("  registrations: {answered} answered 201, {errors} failed (target 0)");
    println!("  server RSS after minute 1 {first_rss:.0} MiB, at the end {last_rss:.0} MiB (target ≤ +25 %)");
    println!(
        "  emails: queue drained: {drained}; provider saw {} distinct (≥ {answered} confirmations + {seeded} burst: {delivered}), {duplicates} duplicates (target 0)",
        stats["distinct_jobs"]
    );
    Ok(errors == 0 && drained && delivered && duplicates == 0 && last_rss <= first_rss * 1.25)
}
