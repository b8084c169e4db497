//! Logs, request ids and Prometheus metrics.
//!
//! Logs: human-readable by default, one JSON object a line with
//! `LOG_FORMAT=json`. Every request runs in a span carrying its request id
//! (`x-request-id`, taken from a trusted proxy or made here, and echoed in the
//! response) and its route pattern — never the raw path, which can hold a
//! registrant's join or unsubscribe token.
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tracing_subscriber::EnvFilter;

use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Human => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).init(),
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(false).init(),
    }
}

/// Latency buckets (seconds) for HTTP requests and provider sends: fine
/// below 50 ms, where a registration should land, coarse up to a timeout.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The process's metrics recorder: installed by the first application built
/// in the process (a test binary may build several; they share it).
static RECORDER: std::sync::Mutex<Option<PrometheusHandle>> = std::sync::Mutex::new(None);

/// Installs the process-wide metrics recorder once (call it inside the
/// runtime: it starts the recorder's upkeep); `/metrics` renders from the handle.
pub fn install_metrics() -> Result<PrometheusHandle, Box<dyn std::error::Error + Send + Sync>> {
    let mut recorder = RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = recorder.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    // The scrape renders only what was recorded: name the series a dashboard
    // expects to exist before the first event.
    metrics::describe_counter!("webinar_registrations_total", "Registration attempts by outcome.");
    metrics::describe_counter!("webinar_rejections_total", "Requests refused with a 4xx, by error code.");
    metrics::describe_counter!("webinar_rate_limited_total", "Requests refused by a rate limit, by limit.");
    metrics::describe_histogram!("http_request_duration_seconds", "Time to the response head, by route.");
    metrics::describe_gauge!("webinar_websocket_clients", "Open live-count websockets on this instance.");
    metrics::describe_gauge!("webinar_email_jobs", "Email jobs by state (every webinar).");
    metrics::describe_histogram!("webinar_email_send_seconds", "Provider request latency.");
    metrics::describe_counter!("webinar_email_sends_total", "Provider requests by outcome.");
    metrics::gauge!("webinar_websocket_clients").set(0.0);
    // Histogram samples wait in the recorder until they are folded into their
    // buckets, which `install_recorder` leaves to its caller: unscraped, memory
    // grew with every request (a soak's server RSS doubled in 10 minutes).
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(recorder.insert(handle).clone())
}

/// How often recorded histogram samples are folded into their buckets.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// The request-id layers: outermost set, innermost propagate (axum applies
/// the last `.layer` first).
pub fn request_ids() -> (SetRequestIdLayer<MakeRequestUuid>, PropagateRequestIdLayer) {
    (SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid), PropagateRequestIdLayer::new(REQUEST_ID))
}

/// Records each request's latency and status by route pattern, inside a span
/// that names the request id, so every log line of the request carries it.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| fallback_route(request.uri().path()), |path| path.as_str().to_owned());
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let started = Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    span.in_scope(|| log_response(status, elapsed));
    metrics::histogram!("http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    metrics::counter!("http_requests_total", "method" => method, "route" => route, "status" => status.as_str().to_owned())
        .increment(1);
    response
}

/// Requests no route matched are files (`/pkg/…`) or unknown paths: two
/// labels, so a scanner cannot grow the metric without bound.
fn fallback_route(path: &str) -> String {
    match path.starts_with("/pkg/") {
        true => "/pkg/{file}".to_owned(),
        false => "unmatched".to_owned(),
    }
}

fn log_response(status: StatusCode, elapsed: Duration) {
    let millis = elapsed.as_secs_f64() * 1000.0;
    match status.is_server_error() {
        true => tracing::warn!(status = status.as_u16(), millis, "answered"),
        false => tracing::debug!(status = status.as_u16(), millis, "answered"),
    }
}

/// `GET /metrics`: Prometheus text. Gauges that live in the database are read
/// at scrape time. With `METRICS_TOKEN` set, only `Authorization: Bearer <token>`.
/// Compares a presented secret with ours in constant time (over their
/// SHA-256 digests, so their lengths do not show either).
fn same_secret(presented: &str, ours: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(presented.as_bytes()).ct_eq(&Sha256::digest(ours.as_bytes())).into()
}

/// A request straight from this machine: a loopback peer that forwards for
/// nobody (a proxy on this host would name its client).
fn from_this_machine(peer: std::net::IpAddr, headers: &HeaderMap) -> bool {
    peer.to_canonical().is_loopback()
        && !["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|name| headers.contains_key(*name))
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain"),
        (status = 401, description = "METRICS_TOKEN is set and the bearer token is missing or wrong"),
        (status = 403, description = "METRICS_TOKEN is not set and the request did not come straight from this machine"),
    ))]
pub async fn metrics_endpoint(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match &state.metrics_token {
        Some(token) => {
            let presented = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
            if !presented.and_then(|value| value.strip_prefix("Bearer ")).is_some_and(|given| same_secret(given, token))
            {
                return (StatusCode::UNAUTHORIZED, "metrics need the METRICS_TOKEN bearer token\n").into_response();
            }
        }
        None if !from_this_machine(peer.ip(), &headers) => {
            return (
                StatusCode::FORBIDDEN,
                "metrics are served to this machine only; set METRICS_TOKEN to scrape them from elsewhere\n",
            )
                .into_response();
        }
        None => {}
    }
    match state.service.email_jobs_by_status().await {
        Ok(counts) => {
            for (status, jobs) in counts {
                let state = sea_orm::ActiveEnum::to_value(&status);
                metrics::gauge!("webinar_email_jobs", "state" => state).set(jobs as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "metrics: email job counts unavailable"),
    }
    metrics::gauge!("webinar_redis_up").set(match &state.redis {
        Some(redis) if redis.is_up() => 1.0,
        _ => 0.0,
    });
    let text = state.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
