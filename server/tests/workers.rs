//! Worker processes against one database and a SendGrid stand-in: scale-out
//! without double sends, and `kill -9` mid-burst without losing an email.
mod support;

use std::collections::HashSet;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use support::{Outage, TestServer, drained, mock_sendgrid, spawn_worker};
use test_support::{TestDatabase, seed_due_jobs};
use webinar::queue::{self, Status};

const JOBS: usize = 5000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_on_postgres_send_each_of_5000_jobs_once() {
    let database = TestDatabase::postgres().await.expect("postgres");
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, JOBS / 4, support::now()).await.expect("seed");
    let mock = mock_sendgrid(20).await;
    let mut env = mock.env().to_vec();
    env.push(("WORKER_BATCH_SIZE", "250"));
    let workers = [spawn_worker(&database.url, &env), spawn_worker(&database.url, &env)];
    drained(&db, Duration::from_secs(90)).await;

    let stats = mock.stats();
    assert_eq!(stats.messages, JOBS as u64, "{stats:?}");
    assert_eq!(stats.distinct_jobs, JOBS as u64, "{stats:?}");
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    let sent =
        queue::job::Entity::find().filter(queue::job::Column::Status.eq(Status::Sent)).all(&db).await.expect("jobs");
    assert_eq!(sent.len(), JOBS);
    let senders: HashSet<Option<String>> = sent.into_iter().map(|job| job.attempted_by).collect();
    assert_eq!(senders.len(), 2, "both processes sent: {senders:?}");
    drop(workers);
}

/// Postgres goes away for 3 s (every connection dropped, new ones refused)
/// while a burst's requests are out: their outcomes cannot be written when
/// the provider answers. They are kept and written once the database is
/// back, so nothing is sent twice and nothing waits for its lease (2 min).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_blip_mid_burst_sends_nothing_twice_and_delays_nothing() {
    const SEEDED: usize = 1200;
    let database = TestDatabase::postgres().await.expect("postgres");
    let db = database.connect().await.expect("connect");
    let outage = Outage::proxy_to("127.0.0.1:5432".parse().expect("address")).await;
    let through_proxy = database.url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", outage.port));
    let mock = mock_sendgrid(1500).await;
    let mut env = mock.env().to_vec();
    env.extend([("WORKER_LEASE_SECS", "120"), ("RUST_LOG", "warn")]);
    let _worker = spawn_worker(&through_proxy, &env);
    seed_due_jobs(&db, SEEDED / 4, support::now()).await.expect("seed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while mock.stats().requests == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the worker never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every job claimed and its request at the mock, so no claim is in flight
    // (one cut off between its commit and its batches leaves a lease that
    // must run out); the mock holds each request 1.5 s, so they are answered
    // while the database is away.
    while mock.stats().messages < SEEDED as u64 {
        assert!(tokio::time::Instant::now() < deadline, "the worker never sent every job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(queue::lease::leased_jobs(&db).await.expect("leases"), SEEDED as u64, "all leased, none recorded yet");
    outage.set_up(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    outage.set_up(true);
    let back = std::time::Instant::now();
    drained(&db, Duration::from_secs(60)).await;
    let delay = back.elapsed();
    let stats = mock.stats();
    assert_eq!(stats.distinct_jobs, SEEDED as u64, "{stats:?}");
    assert_eq!(stats.duplicates, 0, "nothing sent twice: {stats:?}");
    let sent =
        queue::job::Entity::find().filter(queue::job::Column::Status.eq(Status::Sent)).all(&db).await.expect("jobs");
    assert_eq!(sent.len(), SEEDED);
    assert!(
        delay < Duration::from_secs(20),
        "all recorded {delay:?} after the database came back, not at the lease's end"
    );
    println!("database blip: {SEEDED} jobs, 0 duplicates, all recorded {delay:?} after the database was back");
}

async fn kill_9_mid_burst_loses_nothing(database: TestDatabase) {
    let database_url = database.url.clone();
    let mock = mock_sendgrid(400).await;
    let mut env = mock.env().to_vec();
    env.extend([("WORKER_LEASE_SECS", "2"), ("WORKER_MAX_IN_FLIGHT", "2"), ("WORKER_POLL_MS", "50")]);
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, JOBS / 4, support::now()).await.expect("seed");
    // A process of its own: the test kills it.
    let mut server = TestServer::spawn_with(database, &env).await;

    // Let the burst begin, then kill the server without warning.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while mock.stats().requests == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the burst never began");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await;
    let running = queue::lease::leased_jobs(&server.db).await.expect("leases");
    assert!(running > 0, "the kill left claimed jobs behind");

    // A new server on the same database picks up after the leases expire.
    server.restart(&env).await;
    drained(&server.db, Duration::from_secs(90)).await;
    let stats = mock.stats();
    assert_eq!(stats.distinct_jobs, JOBS as u64, "nothing lost: {stats:?}");
    let duplicates = stats.duplicates;
    let in_flight_batch = 2 * webinar::delivery::MAX_RECIPIENTS_PER_REQUEST as u64;
    assert!(duplicates <= in_flight_batch, "duplicates {duplicates} exceed the in-flight batch {in_flight_batch}");
    println!("kill -9 mid-burst ({database_url}): {running} jobs were claimed at the kill, {duplicates} sent twice");
    let sent = queue::job::Entity::find()
        .filter(queue::job::Column::Status.eq(Status::Sent))
        .all(&server.db)
        .await
        .expect("jobs");
    assert_eq!(sent.len(), JOBS);
}

test_support::on_both_databases!(kill_9_mid_burst_loses_nothing);
