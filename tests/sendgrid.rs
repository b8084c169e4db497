//! The worker and the SendGrid client against a local server that speaks the
//! v3 Mail Send API: request shape, and 202 / 429 + Retry-After / 500 / 400 /
//! timeout handling, on a virtual clock.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::Value;
use tokio::sync::watch;
use webinar::delivery::{Mailbox, SendGrid};
use webinar::email_job::{self, Kind, Status};
use webinar::links::Links;
use webinar::retry::RetryPolicy;
use webinar::testing::TestDatabase;
use webinar::webinar::{NewWebinar, Status as WebinarStatus};
use webinar::worker::{Worker, WorkerConfig};
use webinar::{ManualClock, RegistrationRequest, Service};

/// How the mock answers the next request.
#[derive(Clone, Copy)]
enum Answer {
    Accepted,
    TooManyRequests { retry_after_seconds: u32 },
    ServerError,
    BadRequest,
    Hang,
}

#[derive(Default)]
struct Mock {
    script: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
}

async fn mail_send(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: String) -> Response {
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    mock.requests.lock().expect("lock").push((headers, json));
    let answer = mock.script.lock().expect("lock").pop_front().unwrap_or(Answer::Accepted);
    match answer {
        Answer::Accepted => StatusCode::ACCEPTED.into_response(),
        Answer::TooManyRequests { retry_after_seconds } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_seconds.to_string())],
            r#"{"errors":[{"message":"too many requests"}]}"#,
        )
            .into_response(),
        Answer::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "upstream trouble").into_response(),
        Answer::BadRequest => (
            StatusCode::BAD_REQUEST,
            r#"{"errors":[{"message":"The to email does not contain a valid address.","field":"personalizations.0.to"}]}"#,
        )
            .into_response(),
        Answer::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            StatusCode::ACCEPTED.into_response()
        }
    }
}

async fn start_mock() -> (Arc<Mock>, String) {
    let mock = Arc::new(Mock::default());
    let app = Router::new().route("/v3/mail/send", post(mail_send)).with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (mock, base)
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("valid").with_timezone(&Utc)
}

struct Setup {
    db: DatabaseConnection,
    clock: Arc<ManualClock>,
    worker: Worker,
    mock: Arc<Mock>,
    stop: watch::Receiver<bool>,
    _stop_sender: watch::Sender<bool>,
    _database: TestDatabase,
}

async fn setup(database: TestDatabase) -> Setup {
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(start()));
    let (mock, base) = start_mock().await;
    let sendgrid = SendGrid::new("SG.test-key", &base, std::time::Duration::from_millis(500)).expect("client");
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
    let counts = Arc::new(webinar::testing::NoCounts);
    let service = Service::new(setup.db.clone(), setup.clock.clone(), counts);
    let request = RegistrationRequest {
        webinar: Some("launch".into()),
        name: name.into(),
        email: email.into(),
        ..Default::default()
    };
    service.register(request).await.expect("register");
}

async fn jobs_of(db: &DatabaseConnection, kind: Kind) -> Vec<email_job::Model> {
    let mut jobs: Vec<email_job::Model> =
        email_job::Entity::find().all(db).await.expect("jobs").into_iter().filter(|job| job.kind == kind).collect();
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
    let (headers, body) = setup.mock.requests.lock().expect("lock")[0].clone();
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
    assert_eq!(body["attachments"][0]["filename"], "invite.ics");
    assert!(body["attachments"][0]["type"].as_str().expect("type").starts_with("text/calendar"));
    assert!(confirmations.iter().all(|job| job.status == Status::Sent));

    // 429 with Retry-After: pending again, not before the provider asked.
    setup.mock.script.lock().expect("lock").extend([Answer::TooManyRequests { retry_after_seconds: 120 }]);
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
    setup.mock.script.lock().expect("lock").extend([Answer::ServerError]);
    setup.clock.advance(Duration::seconds(1));
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!(report.retried, 2);
    for job in jobs_of(&setup.db, Kind::Reminder24h).await {
        let delay = job.run_at - setup.clock_now();
        assert!(delay >= Duration::seconds(10) && delay <= Duration::seconds(20), "{delay}");
        assert_eq!(job.attempts, 2);
    }

    // 400: dead at once, with the provider's reason.
    setup.mock.script.lock().expect("lock").extend([Answer::BadRequest]);
    setup.clock.advance(Duration::seconds(20));
    let report = setup.worker.tick(&setup.stop).await.expect("tick");
    assert_eq!(report.dead, 2);
    for job in jobs_of(&setup.db, Kind::Reminder24h).await {
        assert_eq!(job.status, Status::Dead);
        assert!(job.last_error.expect("reason").contains("does not contain a valid address"));
    }

    // A timeout: retried.
    setup.mock.script.lock().expect("lock").extend([Answer::Hang]);
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

webinar::on_both_databases!(sendgrid_request_shape_and_every_answer);
