use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use webinar::Service;

use crate::live::LiveHub;
use crate::rate_limit::RateLimits;
use crate::redis::Redis;
use crate::stats::StatsCache;

/// Shared by every request; cloning it is one reference count, because each
/// middleware layer with state takes its own copy of it per request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub leptos: LeptosOptions,
    pub service: Service,
    pub live: Arc<LiveHub>,
    pub stats: Arc<StatsCache>,
    pub limits: Arc<RateLimits>,
    /// Open connections and websockets per client.
    pub connections: Arc<crate::connections::Tracker>,
    pub redis: Option<Arc<Redis>>,
    pub links: webinar::email::links::Links,
    pub cookie_policy: app::admin::CookiePolicy,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    pub metrics_token: Option<String>,
    pub request_timeout: std::time::Duration,
    /// SendGrid's event webhook key; `None`: events are refused.
    pub event_key: Option<webinar::deliverability::signature::EventKey>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
