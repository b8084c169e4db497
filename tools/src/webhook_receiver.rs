//! A local webhook endpoint: keeps every request it gets (its Standard
//! Webhooks headers and body) and answers from a script: the next answers'
//! statuses ([`Receiver::answer_next`]), or a hang that never answers
//! ([`Receiver::hang_next`]); then [`Receiver::otherwise_answer`] (200
//! unless set), after the configured delay.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    /// `webhook-id`: the same on every attempt of one event.
    pub fn id(&self) -> &str {
        self.header("webhook-id")
    }

    /// Whether the signature is the one `secret` makes (Standard Webhooks,
    /// timestamp within five minutes of now).
    pub fn signed_with(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret)
            .is_ok_and(|hook| hook.verify(self.body.as_bytes(), &self.headers).is_ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

enum Answer {
    Status(u16),
    Hang,
}

struct Shared {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    /// The answer once the script has run out.
    otherwise: u16,
}

#[derive(Clone)]
struct Endpoint {
    shared: Arc<Mutex<Shared>>,
    delay: Duration,
}

impl Endpoint {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Receiver {
    address: std::net::SocketAddr,
    endpoint: Endpoint,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    /// Listens on a free loopback port; each answer takes `delay`.
    pub async fn start(delay: Duration) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Shared { received: Vec::new(), script: VecDeque::new(), otherwise: 200 };
        let endpoint = Endpoint { shared: Arc::new(Mutex::new(shared)), delay };
        let router = Router::new().route("/{*path}", post(receive)).with_state(endpoint.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("webhook receiver stopped: {error}");
            }
        });
        Ok(Self { address, endpoint, server })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The next answers, in order, have these statuses.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.endpoint.lock().script.extend(statuses.iter().map(|status| Answer::Status(*status)));
    }

    /// What every answer after the script is (200 unless set).
    pub fn otherwise_answer(&self, status: u16) {
        self.endpoint.lock().otherwise = status;
    }

    /// The next `count` requests are kept and never answered.
    pub fn hang_next(&self, count: usize) {
        self.endpoint.lock().script.extend((0..count).map(|_| Answer::Hang));
    }

    pub fn received(&self) -> Vec<Received> {
        self.endpoint.lock().received.clone()
    }

    /// Waits until `count` requests arrived (at most `within`), and returns them all.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        while self.endpoint.lock().received.len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.received()
    }
}

async fn receive(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let answer = {
        let mut shared = endpoint.lock();
        shared.received.push(Received { headers, body: String::from_utf8_lossy(&body).into_owned() });
        shared.script.pop_front().unwrap_or(Answer::Status(shared.otherwise))
    };
    match answer {
        Answer::Hang => std::future::pending().await,
        Answer::Status(status) => {
            tokio::time::sleep(endpoint.delay).await;
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
        }
    }
}
