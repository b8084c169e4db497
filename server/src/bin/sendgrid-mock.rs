//! A local stand-in for SendGrid's v3 Mail Send API, for process-level tests
//! and benchmarks. Accepts `POST /v3/mail/send` (202 after `--delay-ms`),
//! counts every personalization by its `job_id` custom arg, and reports at
//! `GET /stats`: requests, messages, distinct jobs and duplicates.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
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
}

struct Mock {
    delay: std::time::Duration,
    seen: Mutex<Seen>,
}

async fn mail_send(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: String) -> StatusCode {
    let authorized =
        headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "));
    if !authorized {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(mail) = serde_json::from_str::<MailSend>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    // Recorded on receipt, like a provider that accepted the mail even if its
    // answer never reaches a client that died meanwhile.
    {
        let mut seen = mock.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.requests += 1;
        for personalization in mail.personalizations {
            let job = personalization.custom_args.get("job_id").cloned().unwrap_or_default();
            *seen.jobs.entry(job).or_default() += 1;
        }
    }
    tokio::time::sleep(mock.delay).await;
    StatusCode::ACCEPTED
}

async fn stats(State(mock): State<Arc<Mock>>) -> Json<serde_json::Value> {
    let seen = mock.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let messages: u64 = seen.jobs.values().map(|n| u64::from(*n)).sum();
    let distinct = seen.jobs.len() as u64;
    Json(serde_json::json!({
        "requests": seen.requests,
        "messages": messages,
        "distinct_jobs": distinct,
        "duplicates": messages - distinct,
    }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mock = Arc::new(Mock { delay: std::time::Duration::from_millis(args.delay_ms), seen: Mutex::default() });
    let app = Router::new()
        .route("/v3/mail/send", post(mail_send))
        .route("/stats", get(stats))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(mock);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
