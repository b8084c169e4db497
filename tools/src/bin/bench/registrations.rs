//! `bench registrations`: the registration write path over HTTP against the
//! database's own ceiling, measured in one run in short alternating rounds.
//!
//! - HTTP: `POST /api/webinar/register` with distinct emails from 64
//!   keep-alive connections, into the release server (worker off).
//! - Ceiling: the same transaction issued directly on a pool of the server's
//!   size — `BEGIN; INSERT` the registration `RETURNING id`; `INSERT` its four
//!   email jobs; `COMMIT` — as bare SQL, from the same number of tasks
//!   (on SQLite one at a time through a semaphore in the process, so none
//!   sleeps in SQLite's busy handler; the server goes further and writes the
//!   registrations waiting at once in one transaction: `registration_writer`).
//! - Latency: requests at half the HTTP maximum, open loop (sent on a
//!   schedule, not after the previous answer), p50/p99.
//!
//! Targets: HTTP ≥ 60 % of the ceiling; p99 < 20 ms at half the maximum rate.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait, Value};
use webinar::{Clock, SystemClock};

use crate::server::BenchServer;
use crate::{Backend, Failure, POOL, median};

/// How the bench runs.
pub struct Run {
    pub connections: usize,
    pub rounds: usize,
    pub ms_per_round: u64,
    pub latency_secs: u64,
    /// An endpoint wants `registration.created` (the worker is off: nothing is sent).
    pub webhook: bool,
}

pub async fn run(backend: Backend, run: Run) -> Result<bool, Failure> {
    let Run { connections, rounds, ms_per_round, latency_secs, webhook } = run;
    let server = BenchServer::start_on(backend).await?;
    let db = webinar::store::connect(&server.database.url, POOL).await?;
    let endpoint = match webhook {
        true => {
            let wanted = [webinar::webhook::EventType::RegistrationCreated];
            let url = "https://hooks.example.com/";
            Some(webinar::webhook::endpoint::create(&db, url, &wanted, SystemClock.now()).await?.webhook.id)
        }
        false => None,
    };
    let webinar = webinar::webinar::next_upcoming(&db, SystemClock.now()).await?.ok_or("no demo webinar")?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build()?;
    let next_email = Arc::new(AtomicU64::new(0));
    let sqlite = db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
    let write_turns = sqlite.then(|| tokio::sync::Semaphore::new(1));
    let session = test_support::the_session(&db, webinar.id).await?;
    let direct =
        Direct { db, write_turns, webinar_id: webinar.id, session_id: session.id, starts_at: session.starts_at };

    // Warm up both paths: connections open, statements prepared.
    let round = Duration::from_millis(ms_per_round);
    http_load(&server, &webinar.slug, &client, &next_email, connections, round).await?;
    direct_load(&direct, &next_email, connections, round).await?;
    let (mut http_rates, mut direct_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for n in 1..=rounds {
        // Alternate which goes first, so a drift in the machine's load favours neither.
        let (http, direct) = if n % 2 == 1 {
            let http = http_load(&server, &webinar.slug, &client, &next_email, connections, round).await?;
            (http, direct_load(&direct, &next_email, connections, round).await?)
        } else {
            let direct = direct_load(&direct, &next_email, connections, round).await?;
            (http_load(&server, &webinar.slug, &client, &next_email, connections, round).await?, direct)
        };
        println!("  round {n}: direct {direct:.0}/s, HTTP {http:.0}/s");
        ratios.push(http / direct);
        http_rates.push(http);
        direct_rates.push(direct);
    }
    let ratio = median(&mut ratios);
    let max_rate = median(&mut http_rates);
    let half = max_rate / 2.0;
    let mut latency =
        open_loop(&server.base, &webinar.slug, &client, &next_email, half, Duration::from_secs(latency_secs)).await;
    let (p50, p99) = (latency.percentile(0.50), latency.percentile(0.99));

    println!(
        "bench registrations ({backend:?}, {connections} keep-alive connections, {rounds} rounds of {ms_per_round} ms, \
         pool {POOL}{})",
        if webhook { ", a webhook wanting registration.created from here on" } else { "" }
    );
    println!("  direct   median {:.0} registrations/s (the database's ceiling)", median(&mut direct_rates));
    println!("  HTTP     median {max_rate:.0} registrations/s");
    println!("  ratio    median {:.0} % (target ≥ 60 %)", ratio * 100.0);
    println!(
        "  latency at {half:.0}/s for {latency_secs} s ({} answered, {} failed): p50 {p50:.2} ms, p99 {p99:.2} ms (target p99 < 20 ms)",
        latency.latencies.len(),
        latency.errors
    );
    if let Some(error) = &latency.first_error {
        println!("  first failure: {error}");
    }
    let webhook_cost_met = match endpoint {
        Some(id) => {
            // HTTP rounds with the endpoint enabled and disabled, alternating, in this run.
            let mut kept = Vec::new();
            for n in 1..=rounds {
                let mut rate = [0.0; 2];
                for enabled in [n % 2 == 1, n % 2 == 0] {
                    set_enabled(&direct.db, id, enabled).await?;
                    rate[usize::from(enabled)] =
                        http_load(&server, &webinar.slug, &client, &next_email, connections, round).await?;
                }
                kept.push(rate[1] / rate[0]);
            }
            let kept = median(&mut kept);
            println!(
                "  with the event written: median {:.0} % of the HTTP rate without it (target ≥ 90 %)",
                kept * 100.0
            );
            kept >= 0.9
        }
        None => true,
    };
    Ok(ratio >= 0.6 && p99 < 20.0 && latency.errors == 0 && webhook_cost_met)
}

/// Turns the bench's webhook endpoint on (each registration writes its event) or off.
async fn set_enabled(db: &DatabaseConnection, id: i64, enabled: bool) -> Result<(), Failure> {
    let change = webinar::webhook::endpoint::Change { enabled: Some(enabled), ..Default::default() };
    webinar::webhook::endpoint::update(db, id, change, SystemClock.now()).await?;
    Ok(())
}

/// The registration transaction without the server: bare SQL on a pool
/// (on SQLite taking turns at the write lock).
struct Direct {
    db: DatabaseConnection,
    write_turns: Option<tokio::sync::Semaphore>,
    webinar_id: i64,
    session_id: i64,
    starts_at: chrono::DateTime<Utc>,
}

impl Direct {
    async fn register(&self, n: u64) -> Result<(), Failure> {
        let backend = self.db.get_database_backend();
        let now = Utc::now();
        let email = format!("direct{n}@example.com");
        let token = format!("{n:032}");
        let turn = match &self.write_turns {
            Some(turns) => Some(turns.acquire().await?),
            None => None,
        };
        let txn = self.db.begin().await?;
        let insert = Statement::from_sql_and_values(
            backend,
            "INSERT INTO registrations (webinar_id, session_id, name, email, email_key, token, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            [
                self.webinar_id.into(),
                self.session_id.into(),
                "Bench".into(),
                email.clone().into(),
                email.into(),
                token.into(),
                now.into(),
            ],
        );
        let row = txn.query_one_raw(insert).await?.ok_or("no id returned")?;
        let registration_id: i64 = row.try_get_by_index(0)?;
        let jobs = webinar::email::schedule::schedule(now, self.starts_at);
        let mut values: Vec<Value> = Vec::new();
        let mut rows = Vec::new();
        for (kind, run_at) in jobs {
            let at = values.len();
            rows.push(format!(
                "(${}, ${}, ${}, ${}, 0, ${}, 'pending', 0, ${}, ${})",
                at + 1,
                at + 2,
                at + 3,
                at + 4,
                at + 5,
                at + 6,
                at + 7
            ));
            let kind = sea_orm::ActiveEnum::to_value(&kind);
            values.extend([
                registration_id.into(),
                self.webinar_id.into(),
                self.session_id.into(),
                kind.into(),
                run_at.into(),
                now.into(),
                now.into(),
            ]);
        }
        let insert_jobs = format!(
            "INSERT INTO email_jobs (registration_id, webinar_id, session_id, kind, schedule_version, run_at, status, attempts, created_at, updated_at) VALUES {}",
            rows.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, insert_jobs, values)).await?;
        let queue_jobs = "INSERT INTO email_queue \
             (job_id, run_at, webinar_id, session_id, kind, registration_id, schedule_version, attempts) \
             SELECT id, run_at, webinar_id, session_id, kind, registration_id, schedule_version, attempts \
             FROM email_jobs WHERE registration_id = $1";
        txn.execute_raw(Statement::from_sql_and_values(backend, queue_jobs, [registration_id.into()])).await?;
        txn.commit().await?;
        drop(turn);
        Ok(())
    }
}

/// Registrations per second from `connections` loops for `duration`.
pub async fn http_load(
    server: &BenchServer,
    webinar: &str,
    client: &reqwest::Client,
    next_email: &Arc<AtomicU64>,
    connections: usize,
    duration: Duration,
) -> Result<f64, Failure> {
    let deadline = Instant::now() + duration;
    rate(connections, deadline, || async {
        let n = next_email.fetch_add(1, Ordering::Relaxed);
        register(client, &server.base, webinar, n).await.map(drop)
    })
    .await
}

async fn direct_load(
    direct: &Direct,
    next_email: &Arc<AtomicU64>,
    connections: usize,
    duration: Duration,
) -> Result<f64, Failure> {
    let deadline = Instant::now() + duration;
    rate(connections, deadline, || direct.register(next_email.fetch_add(1, Ordering::Relaxed))).await
}

/// Runs `connections` loops of `once` until `deadline`; completions per second.
async fn rate<F, Fut>(connections: usize, deadline: Instant, once: F) -> Result<f64, Failure>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let started = Instant::now();
    let done = AtomicU64::new(0);
    let loops = (0..connections).map(|_| {
        let (done, once) = (&done, &once);
        async move {
            while Instant::now() < deadline {
                once().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, Failure>(())
        }
    });
    futures::future::try_join_all(loops).await?;
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// One registration over HTTP; its latency in ms.
async fn register(client: &reqwest::Client, base: &str, webinar: &str, n: u64) -> Result<f64, Failure> {
    let body = serde_json::json!({"webinar": webinar, "name": "Bench", "email": format!("http{n}@example.com")});
    let sent = Instant::now();
    let response = client.post(format!("{base}/api/webinar/register")).json(&body).send().await?;
    let status = response.status();
    response.bytes().await?;
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("registration answered {status}").into());
    }
    Ok(sent.elapsed().as_secs_f64() * 1000.0)
}

/// What an open-loop run saw: each answered registration's latency (ms), and the failures.
pub struct OpenLoop {
    pub latencies: Vec<f64>,
    pub errors: usize,
    pub first_error: Option<String>,
}

impl OpenLoop {
    /// The `p`-th quantile (0..1) of the latencies, in ms.
    pub fn percentile(&mut self, p: f64) -> f64 {
        self.latencies.sort_by(f64::total_cmp);
        let last = self.latencies.len().saturating_sub(1);
        self.latencies.get(((self.latencies.len() as f64 * p) as usize).min(last)).copied().unwrap_or(f64::NAN)
    }
}

/// Sends registrations at `per_second` on a fixed schedule for `duration`
/// (open loop: a slow answer does not slow the schedule down).
pub async fn open_loop(
    base: &str,
    webinar: &str,
    client: &reqwest::Client,
    next_email: &Arc<AtomicU64>,
    per_second: f64,
    duration: Duration,
) -> OpenLoop {
    let mut schedule = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(1.0)));
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let deadline = Instant::now() + duration;
    let mut requests = tokio::task::JoinSet::new();
    while Instant::now() < deadline {
        schedule.tick().await;
        let (base, webinar, client) = (base.to_owned(), webinar.to_owned(), client.clone());
        let n = next_email.fetch_add(1, Ordering::Relaxed);
        requests.spawn(async move { register(&client, &base, &webinar, n).await });
    }
    let mut run = OpenLoop { latencies: Vec::new(), errors: 0, first_error: None };
    while let Some(answer) = requests.join_next().await {
        match answer.map_err(Failure::from).and_then(|latency| latency) {
            Ok(latency) => run.latencies.push(latency),
            Err(error) => {
                run.errors += 1;
                run.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    run
}
