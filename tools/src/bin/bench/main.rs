//! Benchmarks, as programs. Each prints its figures and exits non-zero when a
//! target is missed:
//! - `bench registrations`: registrations per second over HTTP against the database's own ceiling,
//!   and latency at half that rate;
//! - `bench landing`: server time per SSR render of the landing page, and the wasm bundle's size;
//! - `bench reminders`: 100,000 reminders due at once, against the SendGrid mock's ceiling;
//! - `bench soak`: ten minutes at half the maximum registration rate with a reminder burst in the middle;
//! - `bench stats`: `/api/webinar/stats` requests per second against `/healthz`;
//! - `bench websockets`: 10,000 live-count clients, time until all see a registration;
//! - `bench api`: the admin API's cursor through 100,000 registrations;
//! - `bench events`: SendGrid's signed event batches ingested per second;
//! - `bench webhooks`: 10,000 webhook deliveries against the endpoint's own ceiling.
mod api;
mod events;
mod http;
mod landing;
mod registrations;
mod reminders;
mod server;
mod soak;
mod webhooks;
mod websockets;

use std::process::Stdio;

use clap::{Parser, Subcommand, ValueEnum};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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
    /// Registrations per second over HTTP against the same transaction issued directly.
    Registrations {
        #[arg(long, value_enum, default_value = "postgres")]
        database: Backend,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 11)]
        rounds: usize,
        #[arg(long, default_value_t = 1000)]
        ms_per_round: u64,
        /// How long the half-rate latency run lasts.
        #[arg(long, default_value_t = 10)]
        latency_secs: u64,
        /// With a webhook endpoint that wants `registration.created`: each
        /// registration writes its event and delivery too (none is sent).
        #[arg(long)]
        webhook: bool,
    },
    /// Time per SSR render of the landing page, and the gzipped wasm bundle.
    Landing {
        #[arg(long, default_value_t = 2000)]
        renders: usize,
        /// The built site (`cargo leptos build --release` output).
        #[arg(long, default_value = "target/site")]
        site_root: String,
    },
    /// Registrations at half the maximum rate for a long while, the worker on, a burst in the middle.
    Soak {
        #[arg(long, value_enum, default_value = "postgres")]
        database: Backend,
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Registrations per second; 0 measures the maximum first and takes half.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Reminders due at once in the middle.
        #[arg(long, default_value_t = 20_000)]
        burst: usize,
    },
    /// Stats requests per second against `/healthz`, alternating rounds on one server.
    Stats {
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 21)]
        rounds: usize,
        #[arg(long, default_value_t = 1000)]
        ms_per_round: u64,
    },
    /// The admin API paging through a webinar's registrations by cursor.
    Api {
        #[arg(long, value_enum, default_value = "postgres")]
        database: Backend,
        #[arg(long, default_value_t = 100_000)]
        registrations: usize,
    },
    /// SendGrid's signed event batches, 10,000 events each.
    Events {
        #[arg(long, value_enum, default_value = "postgres")]
        database: Backend,
        #[arg(long, default_value_t = 100_000)]
        events: usize,
    },
    /// Webhook deliveries due at once, into a local endpoint, against its ceiling.
    Webhooks {
        #[arg(long, value_enum, default_value = "postgres")]
        database: Backend,
        #[arg(long, default_value_t = 10_000)]
        deliveries: usize,
        /// The endpoint's answer time per request.
        #[arg(long, default_value_t = 20)]
        answer_ms: u64,
        #[arg(long, default_value_t = 32)]
        max_in_flight: usize,
    },
    /// Websocket clients following one webinar; registrations pushed to all of them.
    Websockets {
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        #[arg(long, default_value_t = 7)]
        registrations: usize,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A new, empty database (dropped with the value).
    pub async fn fresh_database(self) -> Result<test_support::TestDatabase, Failure> {
        Ok(match self {
            Backend::Sqlite => test_support::TestDatabase::sqlite()?,
            Backend::Postgres => test_support::TestDatabase::postgres().await?,
        })
    }
}

pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The server's allocator: the reminder bench runs the server's worker in
/// this process, and its ceiling the same client, both as `server` would.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().bench {
        Bench::Reminders { database, jobs, mock_delay_ms, max_in_flight, batch_size } => {
            reminders::run(database, jobs, mock_delay_ms, max_in_flight, batch_size).await
        }
        Bench::Registrations { database, connections, rounds, ms_per_round, latency_secs, webhook } => {
            let run = registrations::Run { connections, rounds, ms_per_round, latency_secs, webhook };
            registrations::run(database, run).await
        }
        Bench::Landing { renders, site_root } => landing::run(renders, &site_root).await,
        Bench::Soak { database, minutes, rate, burst } => soak::run(database, minutes, rate, burst).await,
        Bench::Stats { connections, rounds, ms_per_round } => {
            http::stats_against_health(connections, rounds, ms_per_round).await
        }
        Bench::Websockets { clients, registrations } => websockets::run(clients, registrations).await,
        Bench::Api { database, registrations } => api::run(database, registrations).await,
        Bench::Events { database, events } => events::run(database, events).await,
        Bench::Webhooks { database, deliveries, answer_ms, max_in_flight } => {
            webhooks::run(database, deliveries, answer_ms, max_in_flight).await
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

/// The median of some figures (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Starts the `sendgrid-mock` binary that sits beside this one.
pub async fn start_mock(delay_ms: u64) -> Result<(Child, String), Failure> {
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

/// The server's own default pool size (`DATABASE_MAX_CONNECTIONS`).
pub const POOL: u32 = 10;

pub async fn mock_stats(base: &str) -> Result<serde_json::Value, Failure> {
    // One client for every poll: `reqwest::get` builds a client per call, and
    // loading the system's certificates each time took 7 % of the machine's
    // CPU while the reminder bench polled every 10 ms.
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(reqwest::Client::new);
    Ok(CLIENT.get(format!("{base}/stats")).send().await?.json().await?)
}

/// Peak resident memory of this process since the last reset, in MiB.
pub fn peak_rss_mib() -> f64 {
    memory_mib("self", "VmHWM:")
}

/// A `/proc/{pid}/status` memory figure (`VmRSS:`, `VmHWM:`) in MiB.
pub fn memory_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time (user + system) a process has used so far, in ms (`/proc/{pid}/stat`, 100 ticks/s).
pub fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after_name.split_whitespace().map(|field| field.parse().unwrap_or(0.0)).collect();
    fields.get(11).zip(fields.get(12)).map_or(0.0, |(user, system)| (user + system) * 10.0)
}

pub fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets the peak-RSS counter (VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
