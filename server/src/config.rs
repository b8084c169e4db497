//! Configuration: command-line flags, each with an environment variable and a default.
use std::net::SocketAddr;

use clap::Args;
use leptos::config::LeptosOptions;

use crate::client_ip::TrustedProxies;
use crate::observability::LogFormat;
use crate::rate_limit::{Quota, Quotas};

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// `sqlite://…` (embedded, the default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = webinar::store::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Pool size per process.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
    /// Create a demo webinar when none is upcoming (`make run` turns this on).
    #[arg(long, env = "SEED_DEMO", default_value_t = false, action = clap::ArgAction::Set)]
    pub seed_demo: bool,
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub site_addr: SocketAddr,
    /// Where the built site (wasm, js, css, public files) lives.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    #[arg(long, env = "LEPTOS_SITE_PKG_DIR", default_value = "pkg")]
    pub site_pkg_dir: String,
    /// Base name of the wasm/js/css bundle.
    #[arg(long, env = "LEPTOS_OUTPUT_NAME", default_value = "webinar")]
    pub output_name: String,
    /// Redis for rate limits and live counts shared across instances; without
    /// it (or while it is down) both are in-process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel, so deployments can share a Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "webinar")]
    pub redis_key_prefix: String,
    /// Registrations per client IP (JSON API and form): requests/period.
    #[arg(long, env = "RATE_LIMIT_REGISTER", default_value = "5/5m")]
    pub rate_limit_register: Quota,
    /// Other public API calls (stats, websocket connects, page data) per client IP.
    #[arg(long, env = "RATE_LIMIT_PUBLIC", default_value = "100/1m")]
    pub rate_limit_public: Quota,
    /// Admin login attempts per client IP.
    #[arg(long, env = "RATE_LIMIT_AUTH", default_value = "10/1m")]
    pub rate_limit_auth: Quota,
    /// The admin API's own budget per client address (`/api/v1`); unset, it
    /// shares RATE_LIMIT_PUBLIC's.
    #[arg(long, env = "RATE_LIMIT_API")]
    pub rate_limit_api: Option<Quota>,
    /// Admin login attempts per account (the email typed), from any address.
    #[arg(long, env = "RATE_LIMIT_ACCOUNT", default_value = "10/15m")]
    pub rate_limit_account: Quota,
    /// Proxies whose X-Forwarded-For names the client: IPs or CIDRs, comma-separated.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Seconds a cached registration count is served before the database is asked again.
    #[arg(long, env = "STATS_CACHE_TTL_SECS", default_value_t = 5)]
    pub stats_cache_ttl_secs: u64,
    /// Seconds a request may take, reading its body included, before it is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Seconds a connection has to send a request's headers, from opening or
    /// from its last answer (so it is also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub http_header_timeout_secs: u64,
    /// Open connections in all (kept below the open-file limit, which the
    /// server raises to its hard limit at start).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Open connections per client IP (an IPv6 /64 is one client); trusted
    /// proxies are held to MAX_CONNECTIONS only.
    #[arg(long, env = "MAX_CONNECTIONS_PER_CLIENT", default_value_t = 256)]
    pub max_connections_per_client: usize,
    /// Live-count websockets per client IP (behind proxies: per forwarded client).
    #[arg(long, env = "MAX_WEBSOCKETS_PER_CLIENT", default_value_t = 64)]
    pub max_websockets_per_client: usize,
    /// How many upcoming sessions a landing page lists, the next ones first (1–100).
    #[arg(long, env = "LANDING_SESSIONS", default_value_t = webinar::service::SESSIONS_OFFERED,
        value_parser = clap::value_parser!(u16).range(1..=100))]
    pub landing_sessions: u16,
    /// `human` (the default) or `json`: one JSON object a line, for log collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    #[command(flatten)]
    pub email: EmailConfig,
    #[command(flatten)]
    pub webhooks: WebhookConfig,
}

/// Webhook deliveries (their worker runs wherever the email worker does).
#[derive(Args, Clone, Debug)]
pub struct WebhookConfig {
    /// Lets webhooks go to loopback, private and link-local addresses and over
    /// plain http: for development and tests only (it opens the door to
    /// server-side request forgery).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// Webhook requests in flight at once per worker.
    #[arg(long, env = "WEBHOOK_MAX_IN_FLIGHT", default_value_t = 32)]
    pub webhook_max_in_flight: usize,
}

impl WebhookConfig {
    pub fn guard(&self) -> webinar::webhook::address::Guard {
        webinar::webhook::address::Guard { allow_private: self.webhook_allow_private }
    }

    /// The webhook worker's settings; its lease and poll follow the email worker's.
    pub fn sender(&self, email: &EmailConfig) -> webinar::webhook_sender::SenderConfig {
        webinar::webhook_sender::SenderConfig {
            max_in_flight: self.webhook_max_in_flight.max(1),
            ticks: self.webhook_max_in_flight.clamp(1, 4),
            lease: chrono::Duration::seconds(email.worker_lease_secs),
            poll_interval: std::time::Duration::from_millis(email.worker_poll_ms),
            guard: self.guard(),
            ..Default::default()
        }
    }
}

impl Config {
    /// A configuration from these settings alone, each named by its
    /// environment variable (`DATABASE_URL`, …), every other one at its
    /// default: the process's environment is not read. For applications
    /// built in a process whose environment is not theirs (the tests).
    pub fn from_settings<'a>(settings: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, clap::Error> {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let command = Settings::command();
        let flags: std::collections::HashMap<String, String> = command
            .get_arguments()
            .filter_map(|arg| Some((arg.get_env()?.to_str()?.to_owned(), arg.get_long()?.to_owned())))
            .collect();
        // As with the environment, a later setting replaces an earlier one, and an empty one is unset.
        let mut chosen: Vec<(&str, &str)> = Vec::new();
        for (name, value) in settings {
            chosen.retain(|(earlier, _)| *earlier != name);
            chosen.push((name, value));
        }
        let mut argv = vec!["server".to_owned()];
        for (name, value) in chosen.into_iter().filter(|(_, value)| !value.is_empty()) {
            let flag = flags.get(name).ok_or_else(|| {
                clap::Error::raw(clap::error::ErrorKind::UnknownArgument, format!("{name} is not a setting"))
            })?;
            argv.push(format!("--{flag}={value}"));
        }
        let matches = command.mut_args(|arg| arg.env(None::<&'static str>)).try_get_matches_from(argv)?;
        Ok(Settings::from_arg_matches(&matches)?.config)
    }
}

/// [`Config`] as a command of its own, for [`Config::from_settings`].
#[derive(clap::Parser)]
struct Settings {
    #[command(flatten)]
    config: Config,
}

#[derive(Args, Clone, Debug)]
pub struct EmailConfig {
    /// SendGrid API key; without one, emails go to the dev outbox.
    #[arg(long, env = "SENDGRID_API_KEY", hide_env_values = true)]
    pub sendgrid_api_key: Option<String>,
    /// SendGrid API base; the client posts to `{base}/v3/mail/send`.
    #[arg(long, env = "SENDGRID_API_URL", default_value = "https://api.sendgrid.com")]
    pub sendgrid_api_url: String,
    /// Seconds before a SendGrid request counts as timed out (and is retried).
    #[arg(long, env = "SENDGRID_TIMEOUT_SECS", default_value_t = 10)]
    pub sendgrid_timeout_secs: u64,
    /// The Event Webhook's verification key, base64 DER as SendGrid shows
    /// it; without one, `POST /api/sendgrid/events` takes nothing.
    #[arg(long, env = "SENDGRID_WEBHOOK_PUBLIC_KEY")]
    pub sendgrid_webhook_public_key: Option<String>,
    /// Where the dev outbox writes `.eml` files.
    #[arg(long, env = "OUTBOX_DIR", default_value = "data/outbox")]
    pub outbox_dir: String,
    #[arg(long, env = "EMAIL_FROM", default_value = "webinars@example.com")]
    pub email_from: String,
    #[arg(long, env = "EMAIL_FROM_NAME", default_value = "Webinars")]
    pub email_from_name: String,
    /// The site's public address, for links in emails (default: http://LEPTOS_SITE_ADDR).
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// Signs unsubscribe links (16 characters or more). Unset: a random key is
    /// generated on first start and kept in the database for every instance.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Run the email worker inside `serve` (turn off when `server worker` runs apart).
    #[arg(long, env = "RUN_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub run_worker: bool,
    /// Jobs claimed per worker tick.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 5000)]
    pub worker_batch_size: u64,
    /// SendGrid requests in flight at once per worker.
    #[arg(long, env = "WORKER_MAX_IN_FLIGHT", default_value_t = 8)]
    pub worker_max_in_flight: usize,
    /// Milliseconds between polls when nothing is due.
    #[arg(long, env = "WORKER_POLL_MS", default_value_t = 1000)]
    pub worker_poll_ms: u64,
    /// Seconds a claimed job is leased before another worker may rescue it.
    #[arg(long, env = "WORKER_LEASE_SECS", default_value_t = 300)]
    pub worker_lease_secs: i64,
    /// Attempts before a job is dead.
    #[arg(long, env = "EMAIL_MAX_ATTEMPTS", default_value_t = 8)]
    pub email_max_attempts: i32,
    /// Milliseconds before the first retry; each later one waits twice as long (with jitter).
    #[arg(long, env = "EMAIL_RETRY_BASE_MS", default_value_t = 30_000)]
    pub email_retry_base_ms: i64,
    /// The longest wait between two attempts, in seconds.
    #[arg(long, env = "EMAIL_RETRY_CAP_SECS", default_value_t = 3600)]
    pub email_retry_cap_secs: i64,
}

impl EmailConfig {
    /// The links in emails, signed with `SECRET_KEY` or, without it, with the
    /// key this installation generated and keeps in its database.
    pub async fn links(
        &self,
        db: &sea_orm::DatabaseConnection,
        site_addr: std::net::SocketAddr,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<webinar::email::links::Links, webinar::store::secrets::SecretError> {
        let base = set(&self.public_base_url).map_or_else(|| format!("http://{site_addr}"), str::to_owned);
        let (key, source) = webinar::store::secrets::link_signing_key(db, set(&self.secret_key), now).await?;
        if source == webinar::store::secrets::KeySource::Generated {
            tracing::info!("SECRET_KEY is not set: generated a random link signing key and stored it in the database");
        }
        Ok(webinar::email::links::Links::new(&base, &key))
    }

    pub fn worker(&self) -> webinar::worker::WorkerConfig {
        webinar::worker::WorkerConfig {
            batch_size: self.worker_batch_size,
            lease: chrono::Duration::seconds(self.worker_lease_secs),
            max_in_flight: self.worker_max_in_flight,
            poll_interval: std::time::Duration::from_millis(self.worker_poll_ms),
            policy: webinar::queue::retry::RetryPolicy {
                base: chrono::Duration::milliseconds(self.email_retry_base_ms),
                cap: chrono::Duration::seconds(self.email_retry_cap_secs),
                max_attempts: self.email_max_attempts,
            },
            from: self.from(),
        }
    }

    /// The sender of every email.
    pub fn from(&self) -> webinar::delivery::Mailbox {
        webinar::delivery::Mailbox { email: self.email_from.clone(), name: self.email_from_name.clone() }
    }

    /// What the admin's email previews and test sends use.
    pub fn mail(
        &self,
        delivery: std::sync::Arc<dyn webinar::delivery::Delivery>,
        links: webinar::email::links::Links,
    ) -> Result<webinar::admin::Mail, Box<dyn std::error::Error + Send + Sync>> {
        Ok(webinar::admin::Mail { emails: webinar::email::render::Emails::new()?, delivery, from: self.from(), links })
    }

    /// The key SendGrid's events are checked with, when one is set.
    pub fn event_key(
        &self,
    ) -> Result<Option<webinar::deliverability::signature::EventKey>, Box<dyn std::error::Error + Send + Sync>> {
        match set(&self.sendgrid_webhook_public_key) {
            Some(key) => Ok(Some(webinar::deliverability::signature::EventKey::from_base64_der(key)?)),
            None => Ok(None),
        }
    }

    /// SendGrid with a key, the dev outbox without.
    pub fn delivery(
        &self,
    ) -> Result<std::sync::Arc<dyn webinar::delivery::Delivery>, Box<dyn std::error::Error + Send + Sync>> {
        use webinar::delivery::{Outbox, SendGrid};
        Ok(match set(&self.sendgrid_api_key) {
            Some(key) => {
                let timeout = std::time::Duration::from_secs(self.sendgrid_timeout_secs);
                tracing::info!(api = %self.sendgrid_api_url, "emails go to SendGrid");
                std::sync::Arc::new(SendGrid::new(key, &self.sendgrid_api_url, timeout)?)
            }
            None => {
                tracing::info!(dir = %self.outbox_dir, "no SENDGRID_API_KEY: emails go to the dev outbox");
                std::sync::Arc::new(Outbox::new(&self.outbox_dir)?)
            }
        })
    }
}

/// An optional setting; exported empty (as `.env.example` lists it) means unset.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.trim().is_empty())
}

impl Config {
    pub fn redis_url(&self) -> Option<&str> {
        set(&self.redis_url)
    }

    pub fn metrics_token(&self) -> Option<String> {
        set(&self.metrics_token).map(str::to_owned)
    }

    pub fn quotas(&self) -> Quotas {
        Quotas {
            register: self.rate_limit_register,
            public: self.rate_limit_public,
            auth: self.rate_limit_auth,
            api: self.rate_limit_api,
        }
    }

    /// The connection limits, the total kept below the open-file limit
    /// `file_limit` (with room for the database pool, logs and the site's files).
    pub fn connection_limits(&self, file_limit: u64) -> crate::connections::Limits {
        let room = usize::try_from(file_limit.saturating_sub(256)).unwrap_or(usize::MAX).max(64);
        crate::connections::Limits {
            header_timeout: std::time::Duration::from_secs(self.http_header_timeout_secs.max(1)),
            total: self.max_connections.min(room),
            per_client: self.max_connections_per_client.max(1),
            websockets_per_client: self.max_websockets_per_client.max(1),
        }
    }

    pub fn login_budget(&self) -> Result<webinar::admin::LoginBudget, String> {
        let quota = self.rate_limit_account;
        webinar::admin::LoginBudget::new(quota.limit(), quota.period())
            .ok_or_else(|| format!("RATE_LIMIT_ACCOUNT {quota:?} is not a usable budget"))
    }

    pub fn leptos_options(&self) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name(self.output_name.as_str())
            .site_root(self.site_root.as_str())
            .site_pkg_dir(self.site_pkg_dir.as_str())
            .site_addr(self.site_addr)
            .build()
    }
}
