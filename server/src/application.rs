//! One wiring of the server for `main` and the tests alike: the database
//! (migrated), the listener, the links and delivery, Redis when configured,
//! the shared state and the router; then serving, with the email worker
//! beside it unless `RUN_WORKER=false`.
use std::net::SocketAddr;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use webinar::email::links::Links;
use webinar::webhook_sender::WebhookSender;
use webinar::worker::Worker;
use webinar::{Clock, Service, SystemClock};

use crate::config::Config;
use crate::connections::{self, Tracker};
use crate::live::{LiveCounts, LiveHub};
use crate::observability;
use crate::rate_limit::RateLimits;
use crate::redis::Redis;
use crate::routes;
use crate::state::{self, AppState};
use crate::stats::StatsCache;

pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A server ready to serve: bound, migrated, wired.
pub struct Application {
    config: Config,
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    delivery: Arc<dyn webinar::delivery::Delivery>,
    links: Links,
    state: AppState,
    connections: Arc<Tracker>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, Failure> {
        let file_limit = connections::raise_file_limit();
        let connection_limits = config.connection_limits(file_limit);
        tracing::info!(
            file_limit,
            connections = connection_limits.total,
            per_client = connection_limits.per_client,
            "connection limits"
        );
        let db = webinar::store::connect(&config.database_url, config.database_max_connections).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Bind first: links in emails name the address actually served (port 0 picks one).
        let listener = tokio::net::TcpListener::bind(config.site_addr).await?;
        let address = listener.local_addr()?;
        let links = config.email.links(&db, address, clock.now()).await?;
        // One delivery for the worker and the admin's test emails.
        let delivery = config.email.delivery()?;
        let redis = match config.redis_url() {
            Some(url) => Some(Redis::start(url, &config.redis_key_prefix).await.map_err(|error| {
                format!("REDIS_URL is not a usable Redis URL (e.g. redis://127.0.0.1:6379): {error}")
            })?),
            None => None,
        };
        let live = Arc::new(LiveHub::default());
        let stats = Arc::new(StatsCache::new(std::time::Duration::from_secs(config.stats_cache_ttl_secs)));
        let counts = LiveCounts::new(live.clone(), stats.clone(), redis.clone(), clock.clone());
        let service = Service::new(db.clone(), clock.clone(), counts)
            .with_mail(config.email.mail(delivery.clone(), links.clone())?)
            .with_login_budget(config.login_budget()?)
            .with_webhook_guard(config.webhooks.guard())
            .with_sessions_offered(config.landing_sessions);
        if config.seed_demo
            && let Some(demo) = service.seed_demo().await?
        {
            tracing::info!(slug = %demo.slug, "seeded the demo webinar");
        }
        let limits = Arc::new(RateLimits::new(config.quotas(), config.trusted_proxies.clone(), redis.clone()));
        let connections = Arc::new(Tracker::new(connection_limits, config.trusted_proxies.clone()));
        let cookie_policy = app::admin::CookiePolicy { secure: links.base_url().starts_with("https://") };
        let state = AppState::new(state::Shared {
            leptos: config.leptos_options(),
            service,
            live,
            stats,
            limits,
            connections: connections.clone(),
            redis,
            links: links.clone(),
            cookie_policy,
            metrics: observability::install_metrics()?,
            metrics_token: config.metrics_token(),
            request_timeout: std::time::Duration::from_secs(config.request_timeout_secs),
            event_key: config.email.event_key()?,
        });
        Ok(Self { config, listener, address, db, clock, delivery, links, state, connections })
    }

    /// Where it listens (the port chosen when the configured one was 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Serves until `stopping` turns true; the worker, if it runs here,
    /// finishes what is in flight and gives back what it did not send.
    pub async fn run_until(self, stopping: watch::Receiver<bool>) -> Result<(), Failure> {
        let worker = match self.config.email.run_worker {
            true => Some(spawn_worker(&self.config, self.db, self.clock, self.delivery, self.links, stopping.clone())?),
            false => None,
        };
        tracing::info!("listening on http://{}", self.address);
        connections::serve(self.listener, routes::router(self.state), self.connections, stopping).await;
        if let Some(worker) = worker {
            worker.await?;
        }
        Ok(())
    }
}

/// The email worker alone (`server worker`: scale-out, any number on Postgres).
pub async fn run_worker(config: Config, stopping: watch::Receiver<bool>) -> Result<(), Failure> {
    let db = webinar::store::connect(&config.database_url, config.database_max_connections).await?;
    let links = config.email.links(&db, config.site_addr, SystemClock.now()).await?;
    let worker = spawn_worker(&config, db, Arc::new(SystemClock), config.email.delivery()?, links, stopping)?;
    worker.await?;
    Ok(())
}

/// Starts the workers of both channels, emails and webhooks; they stop
/// claiming when `stopping` turns true.
fn spawn_worker(
    config: &Config,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    delivery: Arc<dyn webinar::delivery::Delivery>,
    links: Links,
    stopping: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, Failure> {
    let id = format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()), std::process::id());
    let sender = WebhookSender::new(
        id.clone(),
        db.clone(),
        clock.clone(),
        links.clone(),
        config.webhooks.sender(&config.email),
    )?;
    let worker = Arc::new(Worker::new(id, db, clock, delivery, links, config.email.worker())?);
    let webhooks = tokio::spawn(Arc::new(sender).run(stopping.clone()));
    let emails = tokio::spawn(worker.run(stopping));
    Ok(tokio::spawn(async move {
        for (channel, done) in [("email", emails.await), ("webhook", webhooks.await)] {
            if let Err(error) = done {
                tracing::error!(channel, %error, "a worker panicked");
            }
        }
    }))
}
