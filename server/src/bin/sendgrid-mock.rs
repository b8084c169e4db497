//! A local stand-in for SendGrid's v3 Mail Send API, for process-level tests
//! and benchmarks. Accepts `POST /v3/mail/send` (202 after `--delay-ms`),
//! counts every personalization by its `job_id` custom arg, and reports at
//! `GET /stats`: requests, messages, distinct jobs and duplicates.
//!
//! Faults on demand: `POST /faults` with `{"status": 503, "count": 3,
//! "retry_after": 1}` answers the next `count` sends with that status (and
//! `Retry-After`, and SendGrid's error body) without accepting them; with
//! `"recipient": "x@example.com"` instead, every send naming that address
//! is refused with the status from then on (a provider refusing one address).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: std::net::SocketAddr,
    /// How long each request takes to answer, like a slow provider.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

#[derive(Default)]
struct Seen {
    requests: u64,
    /// Personalizations received, repeats included (kept as they arrive, so
    /// `/stats` answers at once however many jobs it has seen).
    messages: u64,
    jobs: HashMap<String, u32>,
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

/// Answers to give instead of accepting, oldest first.
#[derive(Deserialize)]
struct Fault {
    status: u16,
    #[serde(default)]
    count: u32,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    recipient: Option<String>,
}

struct Mock {
    delay: std::time::Duration,
    seen: Mutex<Seen>,
    faults: Mutex<std::collections::VecDeque<Fault>>,
    /// Addresses refused whenever a send names them, with the status.
    refused: Mutex<HashMap<String, u16>>,
}

impl Mock {
    /// The next fault to answer with, if one is queued.
    fn next_fault(&self) -> Option<(StatusCode, Option<u64>)> {
        let mut faults = self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let fault = faults.front_mut()?;
        fault.count = fault.count.saturating_sub(1);
        let answer =
            (StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), fault.retry_after);
        if fault.count == 0 {
            faults.pop_front();
        }
        Some(answer)
    }
}

async fn add_fault(State(mock): State<Arc<Mock>>, Json(fault): Json<Fault>) -> StatusCode {
    match fault.recipient {
        Some(recipient) => {
            mock.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(recipient, fault.status);
        }
        None => mock.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push_back(fault),
    }
    StatusCode::NO_CONTENT
}

/// The status for a send naming a refused address, if it names one.
fn refusal(mock: &Mock, mail: &MailSend) -> Option<StatusCode> {
    let refused = mock.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let status = mail.personalizations.iter().flat_map(|p| &p.to).find_map(|to| refused.get(&to.email))?;
    Some(StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST))
}

async fn mail_send(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: String) -> Response {
    let authorized =
        headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "));
    if !authorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(mail) = serde_json::from_str::<MailSend>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if let Some(status) = refusal(&mock, &mail) {
        let error =
            serde_json::json!({"errors": [{"message": "mock refuses this address", "field": "personalizations.to"}]});
        return (status, Json(error)).into_response();
    }
    if let Some((status, retry_after)) = mock.next_fault() {
        let error =
            serde_json::json!({"errors": [{"message": format!("mock fault {}", status.as_u16()), "field": null}]});
        let mut response = (status, Json(error)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert("retry-after", seconds.into());
        }
        return response;
    }
    // Recorded on receipt, like a provider that accepted the mail even if its
    // answer never reaches a client that died meanwhile.
    {
        let mut seen = mock.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.requests += 1;
        seen.messages += mail.personalizations.len() as u64;
        for personalization in mail.personalizations {
            let job = personalization.custom_args.get("job_id").cloned().unwrap_or_default();
            *seen.jobs.entry(job).or_default() += 1;
        }
    }
    tokio::time::sleep(mock.delay).await;
    StatusCode::ACCEPTED.into_response()
}

async fn stats(State(mock): State<Arc<Mock>>) -> Json<serde_json::Value> {
    let seen = mock.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let distinct = seen.jobs.len() as u64;
    Json(serde_json::json!({
        "requests": seen.requests,
        "messages": seen.messages,
        "distinct_jobs": distinct,
        "duplicates": seen.messages - distinct,
    }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let delay = std::time::Duration::from_millis(args.delay_ms);
    let mock = Arc::new(Mock { delay, seen: Mutex::default(), faults: Mutex::default(), refused: Mutex::default() });
    let app = Router::new()
        .route("/v3/mail/send", post(mail_send))
        .route("/stats", get(stats))
        .route("/faults", post(add_fault))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
