//! The optional Redis link (`REDIS_URL`), shared by every instance for rate
//! limits and live counts. Redis is never required: while it is unreachable
//! callers fall back to in-process state, one warning is logged, `/healthz`
//! says so, and a probe switches back once Redis answers again.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::*;

/// A Redis that does not answer within this is treated as down: a
/// registration never waits longer than this on Redis.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a Redis marked down is probed (and the client reconnects).
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

pub struct Redis {
    client: Client,
    subscriber: SubscriberClient,
    prefix: String,
    up: AtomicBool,
}

impl Redis {
    /// Starts connecting without waiting for Redis to be there: the server
    /// serves in-process until the first probe succeeds.
    pub async fn start(url: &str, prefix: &str) -> Result<Arc<Self>, Error> {
        let mut builder = Builder::from_config(Config::from_url(url)?);
        builder
            .with_config(|config| config.fail_fast = false)
            .with_performance_config(|config| config.default_command_timeout = COMMAND_TIMEOUT)
            .with_connection_config(|config| {
                config.connection_timeout = CONNECT_TIMEOUT;
                config.internal_command_timeout = CONNECT_TIMEOUT;
                config.max_command_attempts = 1;
            })
            .set_policy(ReconnectPolicy::new_constant(0, PROBE_INTERVAL.as_millis() as u32));
        let redis = Arc::new(Self {
            client: builder.build()?,
            subscriber: builder.build_subscriber_client()?,
            prefix: prefix.to_owned(),
            up: AtomicBool::new(false),
        });
        redis.client.connect();
        redis.subscriber.connect();
        redis.subscriber.manage_subscriptions();
        let _ = tokio::time::timeout(CONNECT_TIMEOUT, redis.client.wait_for_connect()).await;
        if !redis.probe().await {
            tracing::warn!("Redis is unreachable: rate limits and live counts are in-process until it answers");
        }
        tokio::spawn(Arc::clone(&redis).keep_probing());
        Ok(redis)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// A key (or channel) in this deployment's namespace.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// Called when a command failed: warn once, then fall back until a probe succeeds.
    pub fn mark_down(&self, error: &Error) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(%error, "Redis is unreachable: falling back to in-process rate limits and live counts");
        }
    }

    async fn probe(&self) -> bool {
        let answered = matches!(self.client.ping::<String>(None).await, Ok(reply) if reply == "PONG");
        if answered && !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis answers: rate limits and live counts are shared");
        }
        answered
    }

    async fn keep_probing(self: Arc<Self>) {
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            if !self.is_up() {
                self.probe().await;
            }
        }
    }

    /// Follows the channels matching `pattern` (in our namespace), calling
    /// `on_message(channel_suffix, payload)`; resubscribes after reconnects.
    pub fn follow<F>(self: &Arc<Self>, pattern: &str, on_message: F)
    where
        F: Fn(&str, &str) + Send + Sync + 'static,
    {
        let redis = Arc::clone(self);
        let pattern = self.key(pattern);
        let namespace = self.key("");
        let mut messages = self.subscriber.message_rx();
        tokio::spawn(async move {
            // Until the first subscription succeeds; after that `manage_subscriptions` renews it.
            while redis.subscriber.psubscribe(pattern.as_str()).await.is_err() {
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
            loop {
                match messages.recv().await {
                    Ok(message) => {
                        let channel = message.channel.strip_prefix(namespace.as_str()).unwrap_or(&message.channel);
                        if let Some(payload) = message.value.as_str() {
                            on_message(channel, &payload);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Publishes without waiting for Redis; a failure marks Redis down.
    pub fn publish(self: &Arc<Self>, channel: &str, payload: String) {
        if !self.is_up() {
            return;
        }
        let redis = Arc::clone(self);
        let channel = self.key(channel);
        tokio::spawn(async move {
            if let Err(error) = redis.client.publish::<(), _, _>(channel, payload).await {
                redis.mark_down(&error);
            }
        });
    }
}
