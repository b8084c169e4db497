//! The webinar server: pages, API, websocket, and (soon) the email worker.
mod admin_guard;
mod admin_registrations;
mod api;
mod client_ip;
mod config;
mod connections;
mod error;
mod hardening;
mod health;
mod input;
mod live;
mod observability;
mod rate_limit;
mod redis;
mod registrant;
mod routes;
mod state;
mod stats;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio::sync::watch;
use webinar::worker::Worker;
use webinar::{Clock, Service, SystemClock};

use crate::config::Config;
use crate::live::{LiveCounts, LiveHub};
use crate::rate_limit::RateLimits;
use crate::redis::Redis;
use crate::state::AppState;
use crate::stats::StatsCache;

#[derive(Parser)]
#[command(version, about = "Webinar registration and reminders")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site and API, with the email worker unless RUN_WORKER=false (the default).
    Serve,
    /// Run only the email worker (scale-out: any number, on Postgres).
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Create a marketing admin; asks for the password (or reads one line from stdin).
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Change a webinar's schedule; registrants are emailed by the worker.
    Webinar {
        #[command(subcommand)]
        action: WebinarAction,
    },
}

#[derive(Subcommand)]
enum WebinarAction {
    /// Move the start: reminders follow, every registrant gets a "time changed" email.
    Reschedule {
        #[arg(long)]
        slug: String,
        /// The new start, RFC 3339 (e.g. 2026-12-01T16:00:00Z).
        #[arg(long)]
        starts_at: chrono::DateTime<chrono::Utc>,
    },
    /// Cancel: queued emails are withdrawn, every registrant gets a cancellation email.
    Cancel {
        #[arg(long)]
        slug: String,
    },
}

/// glibc's allocator spent a quarter of the server's CPU under registration
/// load (page faults as per-thread heaps grew and were trimmed again).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    observability::init_logging(cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Worker => work(cli.config).await,
        Command::Migrate => webinar::db::connect(&cli.config.database_url, 1).await.map(drop).map_err(Into::into),
        Command::Webinar { action } => change_schedule(cli.config, action).await,
        Command::CreateAdmin { email } => create_admin(cli.config, &email).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Failure = Box<dyn std::error::Error>;

async fn serve(config: Config) -> Result<(), Failure> {
    let file_limit = connections::raise_file_limit();
    let connection_limits = config.connection_limits(file_limit);
    tracing::info!(
        file_limit,
        connections = connection_limits.total,
        per_client = connection_limits.per_client,
        "connection limits"
    );
    let db = webinar::db::connect(&config.database_url, config.database_max_connections).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if config.seed_demo
        && let Some(demo) = webinar::demo::seed(&db, clock.now()).await?
    {
        tracing::info!(slug = %demo.slug, starts_at = %demo.starts_at, "seeded the demo webinar");
    }
    // Bind first: links in emails name the address actually served (port 0 picks one).
    let listener = tokio::net::TcpListener::bind(config.site_addr).await?;
    let links = config.email.links(&db, listener.local_addr()?, clock.now()).await?;
    let (stop, stopping) = watch::channel(false);
    // One delivery for the worker and the admin's test emails.
    let delivery = config.email.delivery()?;
    let worker = match config.email.run_worker {
        true => {
            Some(spawn_worker(&config, db.clone(), clock.clone(), delivery.clone(), links.clone(), stopping.clone())?)
        }
        false => None,
    };
    let redis =
        match config.redis_url() {
            Some(url) => Some(Redis::start(url, &config.redis_key_prefix).await.map_err(|error| {
                format!("REDIS_URL is not a usable Redis URL (e.g. redis://127.0.0.1:6379): {error}")
            })?),
            None => None,
        };
    let live = Arc::new(LiveHub::default());
    let stats = Arc::new(StatsCache::new(std::time::Duration::from_secs(config.stats_cache_ttl_secs)));
    let counts = LiveCounts::new(live.clone(), stats.clone(), redis.clone(), clock.clone());
    let service = Service::new(db, clock, counts)
        .with_mail(config.email.mail(delivery, links.clone())?)
        .with_login_budget(config.login_budget()?);
    let limits = Arc::new(RateLimits::new(config.quotas(), config.trusted_proxies.clone(), redis.clone()));
    let connections = Arc::new(connections::Tracker::new(connection_limits, config.trusted_proxies.clone()));
    let cookie_policy = app::admin::CookiePolicy { secure: links.base_url().starts_with("https://") };
    let state = AppState::new(state::Shared {
        leptos: config.leptos_options(),
        service,
        live,
        stats,
        limits,
        connections: connections.clone(),
        redis,
        links,
        cookie_policy,
        metrics: observability::install_metrics()?,
        metrics_token: config.metrics_token(),
        request_timeout: std::time::Duration::from_secs(config.request_timeout_secs),
    });
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let server = connections::serve(listener, routes::router(state), connections, stopping.clone());
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    server.await;
    if let Some(worker) = worker {
        worker.await?;
    }
    Ok(())
}

async fn work(config: Config) -> Result<(), Failure> {
    let db = webinar::db::connect(&config.database_url, config.database_max_connections).await?;
    let links = config.email.links(&db, config.site_addr, SystemClock.now()).await?;
    let (stop, stopping) = watch::channel(false);
    let worker = spawn_worker(&config, db, Arc::new(SystemClock), config.email.delivery()?, links, stopping)?;
    shutdown_signal().await;
    let _ = stop.send(true);
    worker.await?;
    Ok(())
}

async fn change_schedule(config: Config, action: WebinarAction) -> Result<(), Failure> {
    let db = webinar::db::connect(&config.database_url, 1).await?;
    let now = SystemClock.now();
    let slug = match &action {
        WebinarAction::Reschedule { slug, .. } | WebinarAction::Cancel { slug } => slug,
    };
    let found =
        webinar::webinar::find_by_slug(&db, slug).await?.ok_or_else(|| format!("no webinar has the slug {slug:?}"))?;
    let summary = match action {
        WebinarAction::Reschedule { starts_at, .. } => {
            let done = webinar::schedule::reschedule(&db, found.id, starts_at, now).await?;
            format!(
                "rescheduled {} to {}: {} reminders due at the new time, {} dropped as past, {} registrants will be emailed",
                done.webinar.slug,
                done.webinar.start_local(),
                done.moved,
                done.dropped,
                done.notified
            )
        }
        WebinarAction::Cancel { .. } => {
            let done = webinar::schedule::cancel(&db, found.id, now).await?;
            format!(
                "cancelled {}: {} queued emails withdrawn, {} registrants will be emailed",
                done.webinar.slug, done.withdrawn, done.notified
            )
        }
    };
    println!("{summary}");
    Ok(())
}

async fn create_admin(config: Config, email: &str) -> Result<(), Failure> {
    let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password("Password (12 characters or more): ")?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let db = webinar::db::connect(&config.database_url, 1).await?;
    let admin = webinar::admin::create(&db, email, &password, SystemClock.now()).await?;
    println!("created admin {} (id {})", admin.email, admin.id);
    Ok(())
}

/// Starts the email worker; it stops claiming when `stopping` turns true,
/// finishes what is in flight and gives back what it did not send.
fn spawn_worker(
    config: &Config,
    db: sea_orm::DatabaseConnection,
    clock: Arc<dyn Clock>,
    delivery: Arc<dyn webinar::delivery::Delivery>,
    links: webinar::links::Links,
    stopping: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, Failure> {
    let id = format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()), std::process::id());
    let worker = Arc::new(Worker::new(id, db, clock, delivery, links, config.email.worker())?);
    Ok(tokio::spawn(worker.run(stopping)))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
