//! A local stand-in for SendGrid's v3 Mail Send API. Accepts `POST
//! /v3/mail/send` (202 after the configured delay; 401 without a bearer
//! key), counts every personalization by its `job_id` custom arg, and
//! reports at `GET /stats`: requests, messages, distinct jobs and duplicates.
//!
//! Faults on demand, in process ([`MockSendGrid::fail_next`],
//! [`MockSendGrid::refuse_recipient`]) or over HTTP (`POST /faults` with a
//! [`Fault`] as JSON): the next `count` sends answered with `status` (and
//! `Retry-After`, and SendGrid's error body) without accepting them; or,
//! with a `recipient`, every send naming that address refused with the
//! status from then on (a provider refusing one address). A fault with
//! status 202 accepts, so a script of answers can hold successes too.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The message of a refused address's error, as SendGrid words it.
pub const REFUSED_ADDRESS: &str = "Does not contain a valid address.";

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Fault {
    pub status: u16,
    /// How many sends answer this way (a recipient's refusal is for good).
    #[serde(default)]
    pub count: u32,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub recipient: Option<String>,
    /// How long to wait before answering: longer than the client's timeout is a hang.
    #[serde(default)]
    pub hang_ms: Option<u64>,
    /// The error body's message (default `mock fault <status>`).
    #[serde(default)]
    pub message: Option<String>,
}

impl Fault {
    /// The next `count` sends answer `status` and are not accepted.
    pub fn status(status: u16, count: u32) -> Self {
        Self { status, count, ..Self::default() }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long each accepted request takes to answer, like a slow provider.
    pub delay: Duration,
    /// Keep every request's headers and body for [`MockSendGrid::requests`].
    pub record_requests: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { delay: Duration::ZERO, record_requests: true }
    }
}

/// What the mock has accepted so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub requests: u64,
    /// Personalizations accepted, repeats included.
    pub messages: u64,
    pub distinct_jobs: u64,
    pub duplicates: u64,
}

#[derive(Default)]
struct Seen {
    requests: u64,
    messages: u64,
    jobs: HashMap<String, u32>,
    /// Job ids accepted, in order, repeats included.
    accepted: Vec<String>,
}

#[derive(Default)]
struct Mock {
    options: Options,
    seen: Mutex<Seen>,
    faults: Mutex<VecDeque<Fault>>,
    /// Addresses refused whenever a send names them, with the status.
    refused: Mutex<HashMap<String, u16>>,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
}

/// A poisoned lock only means a handler panicked; the data is still counts.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Deserialize)]
struct MailSend {
    personalizations: Vec<Personalization>,
}

#[derive(Deserialize)]
struct Personalization {
    #[serde(default)]
    custom_args: HashMap<String, String>,
    #[serde(default)]
    to: Vec<Address>,
}

#[derive(Deserialize)]
struct Address {
    email: String,
}

impl Mock {
    /// The next queued fault, counted down.
    fn next_fault(&self) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let fault = faults.front_mut()?;
        fault.count = fault.count.saturating_sub(1);
        let answer = fault.clone();
        if fault.count == 0 {
            faults.pop_front();
        }
        Some(answer)
    }

    fn add_fault(&self, fault: Fault) {
        match &fault.recipient {
            Some(recipient) => {
                lock(&self.refused).insert(recipient.clone(), fault.status);
            }
            None => lock(&self.faults).push_back(fault),
        }
    }

    /// The status for a send naming a refused address, if it names one.
    fn refusal(&self, mail: &MailSend) -> Option<StatusCode> {
        let refused = lock(&self.refused);
        let status = mail.personalizations.iter().flat_map(|p| &p.to).find_map(|to| refused.get(&to.email))?;
        Some(StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST))
    }

    /// Recorded on receipt, like a provider that accepted the mail even if
    /// its answer never reaches a client that died meanwhile.
    fn accept(&self, mail: MailSend) {
        let mut seen = lock(&self.seen);
        seen.requests += 1;
        seen.messages += mail.personalizations.len() as u64;
        for personalization in mail.personalizations {
            let job = personalization.custom_args.get("job_id").cloned().unwrap_or_default();
            *seen.jobs.entry(job.clone()).or_default() += 1;
            if self.options.record_requests {
                seen.accepted.push(job);
            }
        }
    }

    fn stats(&self) -> Stats {
        let seen = lock(&self.seen);
        let distinct_jobs = seen.jobs.len() as u64;
        Stats {
            requests: seen.requests,
            messages: seen.messages,
            distinct_jobs,
            duplicates: seen.messages - distinct_jobs,
        }
    }
}

fn error_body(message: &str, field: Option<&str>) -> Json<Value> {
    Json(serde_json::json!({"errors": [{"message": message, "field": field}]}))
}

async fn mail_send(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: String) -> Response {
    let authorized =
        headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "));
    if !authorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if mock.options.record_requests {
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        lock(&mock.requests).push((headers, json));
    }
    let Ok(mail) = serde_json::from_str::<MailSend>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if let Some(status) = mock.refusal(&mail) {
        return (status, error_body(REFUSED_ADDRESS, Some("personalizations.to"))).into_response();
    }
    let Some(fault) = mock.next_fault() else {
        mock.accept(mail);
        tokio::time::sleep(mock.options.delay).await;
        return StatusCode::ACCEPTED.into_response();
    };
    if let Some(hang_ms) = fault.hang_ms {
        tokio::time::sleep(Duration::from_millis(hang_ms)).await;
    }
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::ACCEPTED {
        mock.accept(mail);
        return status.into_response();
    }
    let message = fault.message.unwrap_or_else(|| format!("mock fault {}", status.as_u16()));
    let mut response = (status, error_body(&message, None)).into_response();
    if let Some(seconds) = fault.retry_after {
        response.headers_mut().insert("retry-after", seconds.into());
    }
    response
}

async fn add_fault(State(mock): State<Arc<Mock>>, Json(fault): Json<Fault>) -> StatusCode {
    mock.add_fault(fault);
    StatusCode::NO_CONTENT
}

async fn stats(State(mock): State<Arc<Mock>>) -> Json<Stats> {
    Json(mock.stats())
}

fn router(mock: Arc<Mock>) -> Router {
    Router::new()
        .route("/v3/mail/send", post(mail_send))
        .route("/stats", get(stats))
        .route("/faults", post(add_fault))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(mock)
}

/// Serves the mock on `listener` until the process ends (the binary).
pub async fn serve(listener: tokio::net::TcpListener, options: Options) -> std::io::Result<()> {
    let mock = Arc::new(Mock { options, ..Mock::default() });
    axum::serve(listener, router(mock)).await
}

/// The mock in this process, on a port and a thread of its own, serving
/// until the process ends.
pub struct MockSendGrid {
    pub base: String,
    mock: Arc<Mock>,
}

impl MockSendGrid {
    /// Answering every request at once, keeping each.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> std::io::Result<Self> {
        let mock = Arc::new(Mock { options, ..Mock::default() });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = router(mock.clone());
        // A runtime of its own on a thread of its own, like a provider that
        // does not share the test's scheduler: a test that holds its runtime
        // busy (or ends it) cannot stall the answers its worker waits for.
        std::thread::Builder::new().name("sendgrid-mock".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move { axum::serve(tokio::net::TcpListener::from_std(listener)?, app).await })
        })?;
        Ok(Self { base, mock })
    }

    /// Queues a fault (see [`Fault`]): sends answer it in the order queued.
    pub fn fail_next(&self, fault: Fault) {
        self.mock.add_fault(fault);
    }

    /// From now on, every send naming `recipient` is answered `status` (and not accepted).
    pub fn refuse_recipient(&self, recipient: &str, status: u16) {
        self.mock.add_fault(Fault { status, recipient: Some(recipient.to_owned()), ..Fault::default() });
    }

    pub fn stats(&self) -> Stats {
        self.mock.stats()
    }

    /// Every request's headers and body (as JSON), in arrival order.
    pub fn requests(&self) -> Vec<(HeaderMap, Value)> {
        lock(&self.mock.requests).clone()
    }

    /// The job ids of every personalization accepted, repeats included.
    pub fn accepted_jobs(&self) -> Vec<String> {
        lock(&self.mock.seen).accepted.clone()
    }

    /// The environment that points a server or worker at this mock.
    pub fn env(&self) -> [(&str, &str); 2] {
        [("SENDGRID_API_KEY", "SG.test"), ("SENDGRID_API_URL", self.base.as_str())]
    }
}
