//! Everything at once, on Postgres: Redis lost and back, the database cut
//! off and back, the provider answering 503, 429 with Retry-After and 400,
//! and the server killed with SIGKILL and restarted — while people keep
//! registering. It ends with a reconciliation of the database against what
//! each person was told and what the provider accepted.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Duration as Span;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use support::{Outage, PrivateRedis, TestServer, mock_sendgrid};
use test_support::TestDatabase;
use tools::sendgrid_mock::Fault;
use webinar::queue::{self, Kind, Status};
use webinar::webinar::Status as WebinarStatus;

/// What registrants were told, by email address.
#[derive(Default)]
struct Told {
    registered: BTreeSet<String>,
    refused: BTreeSet<String>,
}

impl Told {
    /// Registers `count` new people; while the database is away a 503 is an
    /// acceptable answer (and must have written nothing), any other is not.
    async fn register(&mut self, server: &TestServer, phase: &str, count: usize, may_refuse: bool) {
        let client = reqwest::Client::new();
        for n in 0..count {
            let email = format!("{phase}-{n}@example.com");
            let body = json!({"webinar": "launch", "name": format!("{phase} {n}"), "email": email});
            let response = client.post(server.url("/api/webinar/register")).json(&body).send().await.expect("answer");
            match response.status() {
                StatusCode::CREATED => self.registered.insert(email),
                StatusCode::SERVICE_UNAVAILABLE if may_refuse => {
                    let error: Value = response.json().await.expect("a JSON error");
                    assert_eq!(error["error"]["code"], "database_unavailable");
                    self.refused.insert(email)
                }
                other => panic!("{phase}: {email} answered {other}"),
            };
        }
    }
}

async fn json(server: &TestServer, path: &str) -> (StatusCode, Value) {
    let response = reqwest::get(server.url(path)).await.expect("answer");
    (response.status(), response.json().await.expect("JSON"))
}

/// Polls `check` every 50 ms until it holds, for at most `within`.
async fn eventually<F, Fut>(what: &str, within: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_everything_failing_in_turn_every_registration_and_email_is_accounted_for() {
    let database = TestDatabase::postgres().await.expect("database");
    let outage = Outage::proxy_to("127.0.0.1:5432".parse().expect("address")).await;
    let through_proxy = database.url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", outage.port));
    let mut redis = PrivateRedis::start().await;
    let redis_url = redis.url();
    let mock = mock_sendgrid(50).await;
    let mut env = mock.env().to_vec();
    env.extend([
        ("DATABASE_URL", through_proxy.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("WORKER_LEASE_SECS", "2"),
        ("WORKER_POLL_MS", "50"),
        ("EMAIL_RETRY_BASE_MS", "200"),
        ("EMAIL_RETRY_CAP_SECS", "1"),
    ]);
    // A process of its own: the test kills it.
    let mut server = TestServer::spawn_with(database, &env).await;
    let webinar = server.webinar("launch", WebinarStatus::Published, Span::days(2)).await;
    let session = test_support::the_session(&server.db, webinar.id).await.expect("its session");
    let mut told = Told::default();
    told.register(&server, "steady", 20, false).await;

    // Redis dies: registration goes on, in-process, and health says so.
    redis.kill();
    told.register(&server, "no-redis", 20, false).await;
    eventually("health reports Redis down", Duration::from_secs(5), || async {
        json(&server, "/healthz").await.1["redis"] == "unreachable"
    })
    .await;

    // The provider falters: 503 twice, 429 with Retry-After twice, then a
    // 400 for one address: its request is split until that address is
    // alone, and only its job dies.
    mock.fail_next(Fault::status(503, 2));
    mock.fail_next(Fault { retry_after: Some(1), ..Fault::status(429, 2) });
    mock.refuse_recipient("provider-faults-7@example.com", 400);
    told.register(&server, "provider-faults", 20, false).await;

    // The database goes away: registrations are refused with 503, and come back.
    outage.set_up(false);
    told.register(&server, "no-database", 3, true).await;
    assert_eq!(json(&server, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    outage.set_up(true);
    eventually("ready again", Duration::from_secs(10), || async { json(&server, "/readyz").await.0 == StatusCode::OK })
        .await;
    redis.restart().await;
    told.register(&server, "recovered", 20, false).await;

    // SIGKILL while emails are in flight; a new process takes over.
    server.kill().await;
    server.restart(&env).await;
    eventually("Redis is used again", Duration::from_secs(5), || async {
        json(&server, "/healthz").await.1["redis"] == "ok"
    })
    .await;
    told.register(&server, "after-kill", 20, false).await;

    // Every due email (the confirmations) is sent or dead.
    eventually("confirmations settled", Duration::from_secs(60), || async {
        let open = queue::job::Entity::find()
            .filter(queue::job::Column::Kind.eq(Kind::Confirmation))
            .filter(queue::job::Column::Status.eq(Status::Pending))
            .all(&server.db)
            .await
            .expect("jobs");
        open.is_empty()
    })
    .await;

    // Reconciliation.
    assert!(!told.refused.is_empty(), "the outage refused someone (else it tested nothing)");
    let registrations = webinar::registration::Entity::find().all(&server.db).await.expect("registrations");
    let stored: BTreeSet<String> = registrations.iter().map(|r| r.email.clone()).collect();
    assert_eq!(stored, told.registered, "exactly those told 201 are registered; no 503 wrote anything");
    let jobs = queue::job::Entity::find().all(&server.db).await.expect("jobs");
    let mut by_registration: BTreeMap<i64, Vec<&queue::job::Model>> = BTreeMap::new();
    for job in &jobs {
        by_registration.entry(job.registration_id).or_default().push(job);
    }
    for registration in &registrations {
        let mut kinds: Vec<Kind> =
            by_registration.get(&registration.id).into_iter().flatten().map(|j| j.kind).collect();
        kinds.sort_by_key(|kind| format!("{kind:?}"));
        let mut expected: Vec<Kind> = webinar::email::schedule::schedule(registration.created_at, session.starts_at)
            .into_iter()
            .map(|(kind, _)| kind)
            .collect();
        expected.sort_by_key(|kind| format!("{kind:?}"));
        assert_eq!(kinds, expected, "{} has exactly its applicable emails", registration.email);
    }
    let now = support::now();
    let mut dead = 0;
    for job in &jobs {
        match job.status {
            _ if job.run_at > now => assert_eq!(job.status, Status::Pending, "a reminder waits for its time"),
            Status::Sent => {}
            Status::Dead => {
                dead += 1;
                let reason = job.last_error.as_deref().unwrap_or_default();
                assert!(
                    reason.contains(tools::sendgrid_mock::REFUSED_ADDRESS),
                    "dead with the provider's reason: {reason:?}"
                );
                let registrant = registrations.iter().find(|r| r.id == job.registration_id).map(|r| r.email.as_str());
                assert_eq!(registrant, Some("provider-faults-7@example.com"), "only the refused address's job dies");
            }
            other => panic!("a due job ended {other:?}"),
        }
    }
    assert_eq!(dead, 1, "the refused address's confirmation, and nothing else");
    let sent = jobs.iter().filter(|job| job.status == Status::Sent).count() as u64;
    let stats = mock.stats();
    assert_eq!(stats.distinct_jobs, sent, "every job marked sent reached the provider, and only those: {stats:?}");
    let duplicates = stats.duplicates;
    let in_flight = 8 * webinar::delivery::MAX_RECIPIENTS_PER_REQUEST as u64;
    assert!(duplicates <= in_flight, "duplicates only from the batch in flight at the kill: {duplicates}");
    println!(
        "faults: {} registered, {} refused while the database was away; {sent} confirmations sent, {dead} dead (400), {duplicates} sent twice",
        told.registered.len(),
        told.refused.len()
    );
}
