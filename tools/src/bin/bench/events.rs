//! `bench events`: SendGrid's signed event batches (10,000 events each)
//! posted one after another, as SendGrid would, until 100,000 events are in:
//! events ingested per second, signature check and suppressions included (one
//! event in 50 is a hard bounce of its own address). Target: ≥ 10,000 a second,
//! far above what an account's sending produces.
use std::time::Instant;

use serde_json::json;
use tools::event_signer::EventSigner;

use crate::server::BenchServer;
use crate::{Backend, Failure};

const BATCH: usize = 10_000;
const KINDS: [&str; 4] = ["processed", "delivered", "open", "click"];

pub async fn run(backend: Backend, events: usize) -> Result<bool, Failure> {
    let signer = EventSigner::default();
    let key = signer.public_key();
    let server = BenchServer::start_with(backend, &[("SENDGRID_WEBHOOK_PUBLIC_KEY", &key)]).await?;
    let client = reqwest::Client::new();
    let batches: Vec<Vec<u8>> = (0..events.div_ceil(BATCH))
        .map(|batch| {
            let entries: Vec<serde_json::Value> = (batch * BATCH..((batch + 1) * BATCH).min(events))
                .map(|n| match n % 50 {
                    0 => json!({"email": format!("bounced{n}@example.com"), "timestamp": 1_900_000_000 + n,
                        "event": "bounce", "type": "bounce", "reason": "550 5.1.1 no such user",
                        "sg_event_id": format!("bench-{n}"), "job_id": n.to_string()}),
                    k => json!({"email": format!("r{}@example.com", n / 4), "timestamp": 1_900_000_000 + n,
                        "event": KINDS[k % 4], "sg_event_id": format!("bench-{n}"), "job_id": (n / 4).to_string()}),
                })
                .collect();
            serde_json::to_vec(&entries)
        })
        .collect::<Result<_, _>>()?;
    let mut stored = 0;
    let started = Instant::now();
    for body in &batches {
        stored += post(&server, &client, &signer, body).await?["new"].as_u64().ok_or("no count in the answer")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let replayed = post(&server, &client, &signer, &batches[0]).await?;
    let rate = events as f64 / seconds;
    println!("bench events ({events} SendGrid events in signed batches of {BATCH}, {backend:?})");
    println!(
        "  {stored} stored in {seconds:.2} s: {rate:.0} events/s (target ≥ 10,000); a batch sent again stored {}",
        replayed["new"]
    );
    Ok(stored == events as u64 && replayed["new"] == 0 && rate >= 10_000.0)
}

async fn post(
    server: &BenchServer,
    client: &reqwest::Client,
    signer: &EventSigner,
    body: &[u8],
) -> Result<serde_json::Value, Failure> {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let response = client
        .post(server.url("/api/sendgrid/events"))
        .header("content-type", "application/json")
        .header("x-twilio-email-event-webhook-timestamp", &timestamp)
        .header("x-twilio-email-event-webhook-signature", signer.sign(&timestamp, body))
        .body(body.to_vec())
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("a batch answered {}: {}", response.status(), response.text().await?).into());
    }
    Ok(response.json().await?)
}
