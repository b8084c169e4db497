//! `bench stats`: requests per second on `/api/webinar/stats` against the
//! server's own `/healthz` (no I/O) in the same run, in many short
//! alternating rounds so both see the same machine noise. Target: stats ≥ 80 % of healthz.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::server::BenchServer;
use crate::{Failure, median};

pub async fn stats_against_health(
    connections: usize,
    rounds: usize,
    seconds_per_round_ms: u64,
) -> Result<bool, Failure> {
    let server = BenchServer::start().await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build()?;
    let stats_url = server.url("/api/webinar/stats");
    let health_url = server.url("/healthz");
    // Warm up: connections open, the stats cache filled.
    load(&client, &stats_url, connections, Duration::from_secs(1)).await?;
    let (mut stats, mut health, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let round_time = Duration::from_millis(seconds_per_round_ms);
    for round in 1..=rounds {
        // Alternate which goes first, so a drift in the machine's load favours neither.
        let (round_health, round_stats) = if round % 2 == 1 {
            let health = load(&client, &health_url, connections, round_time).await?;
            (health, load(&client, &stats_url, connections, round_time).await?)
        } else {
            let stats = load(&client, &stats_url, connections, round_time).await?;
            (load(&client, &health_url, connections, round_time).await?, stats)
        };
        println!("  round {round}: healthz {round_health:.0}/s, stats {round_stats:.0}/s");
        ratios.push(round_stats / round_health);
        stats.push(round_stats);
        health.push(round_health);
    }
    let ratio = median(&mut ratios);
    println!(
        "bench stats ({connections} keep-alive connections, {rounds} rounds of {seconds_per_round_ms} ms each, SQLite)"
    );
    println!("  healthz  median {:.0} requests/s", median(&mut health));
    println!("  stats    median {:.0} requests/s", median(&mut stats));
    println!("  ratio    median {:.0} % (target ≥ 80 %)", ratio * 100.0);
    Ok(ratio >= 0.8)
}

/// Requests per second on `url` from `connections` loops for `duration`;
/// any answer but 200 is an error.
async fn load(client: &reqwest::Client, url: &str, connections: usize, duration: Duration) -> Result<f64, Failure> {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let loops: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, done) = (client.clone(), url.to_owned(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let response = client.get(&url).send().await?;
                    if response.status() != reqwest::StatusCode::OK {
                        return Err(format!("{url} answered {}", response.status()).into());
                    }
                    response.bytes().await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, Failure>(())
            })
        })
        .collect();
    for task in loops {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
