//! The worker and the SendGrid client against a local server that speaks the
//! v3 Mail Send API: request shape, and 202 / 429 + Retry-After / 500 / 400 /
//! timeout handling, on a virtual clock.
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait};
use test_support::TestDatabase;
use tokio::sync::watch;
use tools::sendgrid_mock::{Fault, MockSendGrid};
use webinar::delivery::{Mailbox, SendGrid};
use webinar::email::links::Links;
use webinar::queue::retry::RetryPolicy;
use webinar::queue::{self, Kind, Status};
use webinar::webinar::{NewWebinar, Status as WebinarStatus};
use webinar::worker::{Worker, WorkerConfig};
use webinar::{ManualClock, RegistrationRequest, Service};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("valid").with_timezone(&Utc)
}

struct Setup {
    db: DatabaseConnection,
    clock: Arc<ManualClock>,
    worker: Worker,
    mock: MockSendGrid,
    stop: watch::Receiver<bool>,
    _stop_sender: watch::Sender<bool>,
    _database: TestDatabase,
}

async fn setup(database: TestDatabase) -> Setup {
    setup_timing_out_after(database, std::time::Duration::from_millis(500)).await
}

async fn setup_timing_out_after(database: TestDatabase, timeout: std::time::Duration) -> Setup {
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(start()));
    let mock = MockSendGrid::start().await.expect("the SendGrid mock");
    let sendgrid = SendGrid::new("SG.test-key", &mock.base, timeout).expect("client");
    let config = WorkerConfig {
        policy: RetryPolicy { base: Duration::seconds(10), cap: Duration::minutes(10), max_attempts: 8 },
        from: Mailbox { email: "events@example.com".into(), name: "Example Events".into() },
        ..WorkerConfig::default()
    };
    let links = Links::new("https://events.example.com", b"test secret");
    let worker =
        Worker::new("test-worker", db.clone(), clock.clone(), Arc::new(sendgrid), links, config).expect("worker");
    let (stop_sender, stop) = watch::channel(false);
    Setup { db, clock, worker, mock, stop, _stop_sender: stop_sender, _database: database }
}

async fn register(setup: &Setup, email: &str, name: &str) {
    let counts = Arc::new(test_support::NoCounts);
    let service = Service::new(setup.db.clone(), setup.clock.clone(), counts);
    let request = RegistrationRequest {
        webinar: Some("launch".into()),
        name: name.into(),
        email: email.into(),
        ..Default::default()
    };
    service.register(request).await.expect("register");
}

async fn jobs_of(db: &DatabaseConnection, kind: Kind) -> Vec<queue::job::Model> {
    let mut jobs: Vec<queue::job::Model> =
        queue::job::Entity::find().all(db).await.expect("jobs").into_iter().filter(|job| job.kind == kind).collect();
    jobs.sort_by_key(|job| job.id);
    jobs
}

async fn sendgrid_request_shape_and_every_answer(database: TestDatabase) {
    let setup = setup(database).await;
    let new = NewWebinar {
        slug: "launch".into(),
        title: "Launch week".into(),
        subtitle: "What's new".into(),
        description: String::new(),
        speakers: vec![],
        agenda: vec![],
        starts_at: start() + Duration::days(2),
        duration_minutes: 60,
        timezone: chrono_tz::Europe::Berlin,
        join_url: "https://meet.example.com/launch".into(),
        status: WebinarStatus::Published,
        capacity: None,
    };
    webinar::webinar::create(&setup.db, new, start()).await.expect("webinar");
    register(&setup, "ada@example.com", "Ada").await;
    register(&setup, "grace@example.com", "Grace <Admiral>").await;

    // 202: both confirmations go out in one request.
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!((report.claimed, report.sent), (2, 2));
    let (headers, body) = setup.mock.requests()[0].clone();
    assert_eq!(headers["authorization"], "Bearer SG.test-key");
    assert_eq!(body["from"]["email"], "events@example.com");
    assert_eq!(body["subject"], "You're registered: Launch week");
    assert_eq!(body["categories"][0], "confirmation");
    assert_eq!(body["content"][0]["type"], "text/plain");
    assert_eq!(body["content"][1]["type"], "text/html");
    assert!(body["content"][0]["value"].as_str().expect("text").contains("Hi [[name]],"));
    let personalizations = body["personalizations"].as_array().expect("personalizations");
    assert_eq!(personalizations.len(), 2);
    let grace = &personalizations[1];
    assert_eq!(grace["to"][0]["email"], "grace@example.com");
    assert_eq!(grace["substitutions"]["[[name]]"], "Grace <Admiral>");
    assert_eq!(grace["substitutions"]["[[name_html]]"], "Grace &lt;Admiral&gt;");
    assert!(
        grace["substitutions"]["[[join_url]]"].as_str().expect("join").starts_with("https://events.example.com/j/")
    );
    let unsubscribe = grace["substitutions"]["[[unsubscribe_url]]"].as_str().expect("unsubscribe");
    assert_eq!(grace["headers"]["List-Unsubscribe"], format!("<{unsubscribe}>"));
    assert_eq!(grace["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    let confirmations = jobs_of(&setup.db, Kind::Confirmation).await;
    assert_eq!(grace["custom_args"]["job_id"], confirmations[1].id.to_string());
    let registration_id = confirmations[1].registration_id.to_string();
    assert_eq!(grace["custom_args"]["registration_id"], registration_id, "events come back to the registrant too");
    assert_eq!(body["attachments"][0]["filename"], "invite.ics");
    assert!(body["attachments"][0]["type"].as_str().expect("type").starts_with("text/calendar"));
    assert!(confirmations.iter().all(|job| job.status == Status::Sent));

    // 429 with Retry-After: pending again, not before the provider asked.
    setup.mock.fail_next(Fault { retry_after: Some(120), ..Fault::status(429, 1) });
    setup.clock.set(start() + Duration::days(1));
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!((report.claimed, report.retried), (2, 2));
    for job in jobs_of(&setup.db, Kind::Reminder24h).await {
        assert_eq!((job.status, job.attempts), (Status::Pending, 1));
        assert_eq!(job.run_at, setup.clock_now() + Duration::seconds(120));
        assert!(job.last_error.expect("reason").contains("429"));
    }
    setup.clock.advance(Duration::seconds(119));
    assert_eq!(setup.worker.tick(&setup.stop).await.expect("tick").claimed, 0, "not before Retry-After");

    // 500: retried with backoff (10 s × 2 for the second attempt, jitter within its upper half).
    setup.mock.fail_next(Fault::status(500, 1));
    setup.clock.advance(Duration::seconds(1));
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!(report.retried, 2);
    for job in jobs_of(&setup.db, Kind::Reminder24h).await {
        let delay = job.run_at - setup.clock_now();
        assert!(delay >= Duration::seconds(10) && delay <= Duration::seconds(20), "{delay}");
        assert_eq!(job.attempts, 2);
    }

    // 400: the request is split until the refused recipient is alone; that
    // one is dead at once, with the provider's reason, the other is sent.
    let refused = "The to email does not contain a valid address.";
    setup.mock.fail_next(Fault { message: Some(refused.into()), ..Fault::status(400, 2) });
    setup.clock.advance(Duration::seconds(20));
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!((report.dead, report.sent), (1, 1));
    let reminders = jobs_of(&setup.db, Kind::Reminder24h).await;
    assert_eq!(reminders[0].status, Status::Dead);
    assert!(reminders[0].last_error.clone().expect("reason").contains("does not contain a valid address"));
    assert_eq!(reminders[1].status, Status::Sent);

    // A timeout: retried.
    setup.mock.fail_next(Fault { hang_ms: Some(5000), ..Fault::status(202, 1) });
    setup.clock.set(start() + Duration::days(2) - Duration::hours(3));
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!(report.retried, 2);
    for job in jobs_of(&setup.db, Kind::Reminder3h).await {
        assert_eq!((job.status, job.attempts), (Status::Pending, 1));
        assert!(job.last_error.expect("reason").contains("timed out"));
    }
    // … and it goes out on the next try.
    setup.clock.advance(Duration::seconds(20));
    assert_eq!(setup.worker.tick(&setup.stop).await.expect("tick").sent, 2);
}

impl Setup {
    fn clock_now(&self) -> DateTime<Utc> {
        webinar::Clock::now(self.clock.as_ref())
    }
}

/// One address the provider refuses, in a webinar of 1,000: each of the
/// four batches it is in is split until it is alone. The other 999 of each
/// are delivered exactly once; its own four jobs are dead with the reason.
async fn one_refused_recipient_costs_only_its_own_jobs(database: TestDatabase) {
    // 1,000-recipient requests, encoded and parsed by a debug build: give them time.
    let setup = setup_timing_out_after(database, std::time::Duration::from_secs(30)).await;
    test_support::seed_due_jobs(&setup.db, 1000, start()).await.expect("seed");
    setup.mock.refuse_recipient("r500@example.com", 400);
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!((report.claimed, report.sent, report.dead, report.retried), (4000, 3996, 4, 0));
    let accepted = setup.mock.accepted_jobs();
    let distinct: std::collections::BTreeSet<&String> = accepted.iter().collect();
    assert_eq!((accepted.len(), distinct.len()), (3996, 3996), "each delivered once");
    let requests = setup.mock.requests().len();
    assert!(requests <= 4 * (1 + 2 * 10), "a few requests per split batch, not one per recipient: {requests}");
    let jobs = queue::job::Entity::find().all(&setup.db).await.expect("jobs");
    let dead: Vec<&queue::job::Model> = jobs.iter().filter(|job| job.status == Status::Dead).collect();
    assert_eq!(dead.len(), 4);
    let refused = webinar::registration::Entity::find_by_id(dead[0].registration_id)
        .one(&setup.db)
        .await
        .expect("query")
        .expect("the registrant");
    assert_eq!(refused.email, "r500@example.com");
    for job in dead {
        assert_eq!(job.registration_id, refused.id);
        assert!(job.last_error.as_deref().is_some_and(|reason| reason.contains("Does not contain a valid address")));
    }
    assert_eq!(jobs.iter().filter(|job| job.status == Status::Sent).count(), 3996);
}

/// A provider's numbers are outside input: a `Retry-After` of 2^64 − 1
/// seconds neither panics the worker nor parks the job past the policy's cap.
async fn an_absurd_retry_after_is_clamped(database: TestDatabase) {
    let setup = setup(database).await;
    test_support::seed_due_jobs(&setup.db, 1, start()).await.expect("seed");
    setup.mock.fail_next(Fault { retry_after: Some(u64::from(u32::MAX)), ..Fault::status(429, 1) });
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!((report.retried, report.sent), (1, 3), "the one request answered 429");
    let jobs = queue::job::Entity::find().all(&setup.db).await.expect("jobs");
    let retried: Vec<&queue::job::Model> = jobs.iter().filter(|job| job.status == Status::Pending).collect();
    assert_eq!(retried.len(), 1);
    assert!(retried[0].run_at <= start() + Duration::minutes(10), "within the 10-minute cap: {}", retried[0].run_at);
    assert!(retried[0].run_at >= start() + Duration::seconds(5), "not at once either: {}", retried[0].run_at);
}

test_support::on_both_databases!(
    sendgrid_request_shape_and_every_answer,
    one_refused_recipient_costs_only_its_own_jobs,
    an_absurd_retry_after_is_clamped
);
