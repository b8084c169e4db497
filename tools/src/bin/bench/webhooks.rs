//! `bench webhooks`: 10,000 webhook deliveries, due at once, into a local
//! endpoint that takes a fixed time per answer (as a real one does), against
//! that endpoint's own ceiling: the same bodies posted by a bare client with
//! as many requests in flight as the worker allows, measured before and after
//! in the same run. The worker runs in this process as `server` runs it:
//! claims with a lease, signs each body, records every attempt.
//! Target: the worker ≥ 80 % of the ceiling, every event delivered once.
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use test_support::NoCounts;
use tools::webhook_receiver::Receiver;
use webinar::email::links::Links;
use webinar::webhook::address::Guard;
use webinar::webhook::{Announcement, EventType, endpoint, event};
use webinar::webhook_sender::{SenderConfig, WebhookSender};
use webinar::{Clock, Service, SystemClock};

use crate::{Backend, Failure, POOL};

pub async fn run(backend: Backend, deliveries: usize, answer_ms: u64, max_in_flight: usize) -> Result<bool, Failure> {
    let database = backend.fresh_database().await?;
    let db = webinar::store::connect(&database.url, POOL).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = Service::new(db.clone(), clock.clone(), Arc::new(NoCounts));
    let demo = service.seed_demo().await?.ok_or("no demo webinar")?;
    let resource = webinar::resource::WebinarResource::load(&db, demo, SystemClock.now()).await?;
    let receiver = Receiver::start(Duration::from_millis(answer_ms)).await?;
    let url = receiver.url("/hooks");
    endpoint::create(&db, &url, &[EventType::WebinarUpdated], clock.now()).await?;
    let seeded = Instant::now();
    let announcements =
        (0..deliveries).map(|_| Announcement::new(EventType::WebinarUpdated, clock.now(), &resource)).collect();
    let txn = webinar::store::begin_write(&db).await?;
    let queued = event::announce(&txn, announcements).await?;
    txn.commit().await?;
    let body = event::body(EventType::WebinarUpdated, clock.now(), &resource);
    println!(
        "bench webhooks ({deliveries} deliveries of {} bytes, an endpoint answering in {answer_ms} ms, \
         {max_in_flight} in flight, {backend:?})",
        body.len()
    );
    println!("  {queued} deliveries written in {:.2} s", seeded.elapsed().as_secs_f64());

    let before = ceiling(&url, &body, deliveries, max_in_flight).await?;
    let received_before = receiver.received().len();
    let config = SenderConfig { max_in_flight, guard: Guard { allow_private: true }, ..SenderConfig::default() };
    let links = Links::new("http://127.0.0.1:3000", b"bench");
    let sender = Arc::new(WebhookSender::new("bench", db.clone(), clock, links, config)?);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let running = tokio::spawn(sender.run(stopping));
    let arrived = receiver.wait_for(received_before + deliveries, Duration::from_secs(600)).await.len();
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    running.await?;
    let after = ceiling(&url, &body, deliveries, max_in_flight).await?;

    let rate = deliveries as f64 / seconds;
    let ceiling = (before + after) / 2.0;
    let ratio = rate / ceiling;
    let received = receiver.received();
    let mut ids: Vec<&str> = received[received_before..arrived].iter().map(|arrival| arrival.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    let delivered = webinar::webhook::delivery::counts(&db).await?;
    let delivered: u64 = delivered
        .iter()
        .filter(|(_, status, _)| *status == webinar::webhook::delivery::Status::Delivered)
        .map(|(_, _, count)| count)
        .sum();
    println!("  endpoint ceiling: {before:.0}/s before, {after:.0}/s after");
    println!(
        "  worker: {} arrived in {seconds:.2} s, {rate:.0}/s = {:.0} % of the ceiling (target ≥ 80 %); \
         {} distinct webhook-ids, {delivered} recorded delivered",
        arrived - received_before,
        ratio * 100.0,
        ids.len()
    );
    Ok(ratio >= 0.8 && ids.len() == deliveries && delivered == deliveries as u64)
}

/// Bodies posted by a bare client, `in_flight` at a time: what the endpoint can take.
async fn ceiling(url: &str, body: &str, requests: usize, in_flight: usize) -> Result<f64, Failure> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(in_flight).build()?;
    let started = Instant::now();
    let answers: Vec<Result<reqwest::Response, reqwest::Error>> = futures::stream::iter(0..requests)
        .map(|n| {
            client
                .post(url)
                .header("content-type", "application/json")
                .header("webhook-id", format!("ceiling-{n}"))
                .body(body.to_owned())
                .send()
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    for answer in answers {
        answer?.error_for_status()?;
    }
    Ok(requests as f64 / seconds)
}
