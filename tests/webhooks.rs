//! Webhooks on a virtual clock, against a local endpoint: an event failing
//! twice arrives three times with one `webhook-id` and valid signatures; an
//! endpoint failing for a day is disabled and resumes when enabled; a dead
//! worker's lease is rescued; erasing a registrant sends only the erasure;
//! webinar and email events carry what the API shows.
use std::sync::Arc;
use std::time::Duration as Wait;

use chrono::{Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::json;
use test_support::{NoCounts, TestDatabase};
use tools::webhook_receiver::{Received, Receiver};
use webinar::api::webhooks::WebhookInput;
use webinar::email::links::Links;
use webinar::webhook::address::Guard;
use webinar::webhook::{delivery, endpoint, event};
use webinar::webhook_sender::{SenderConfig, WebhookSender};
use webinar::webinar::{NewWebinar, Status};
use webinar::{Clock, ManualClock, RegistrationRequest, Service};

struct World {
    db: DatabaseConnection,
    clock: Arc<ManualClock>,
    service: Service,
    sender: WebhookSender,
    receiver: Receiver,
    _database: TestDatabase,
}

const LEASE: Duration = Duration::minutes(1);

async fn world(database: TestDatabase) -> World {
    let db = database.connect().await.expect("connect");
    // Near the real time: receivers check the signature's timestamp against theirs.
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let guard = Guard { allow_private: true };
    let service = Service::new(db.clone(), clock.clone(), Arc::new(NoCounts)).with_webhook_guard(guard);
    let links = Links::new("https://events.example.com", b"webhooks");
    let config = SenderConfig { lease: LEASE, guard, ..SenderConfig::default() };
    let sender = WebhookSender::new("hooks", db.clone(), clock.clone(), links, config).expect("sender");
    let receiver = Receiver::start(Wait::ZERO).await.expect("receiver");
    let new = NewWebinar {
        slug: "launch".into(),
        title: "Launch".into(),
        subtitle: String::new(),
        description: String::new(),
        speakers: vec![],
        agenda: vec![],
        starts_at: clock.now() + Duration::days(7),
        duration_minutes: 45,
        timezone: chrono_tz::Europe::Berlin,
        join_url: "https://meet.example.com/launch".into(),
        status: Status::Published,
        capacity: None,
    };
    webinar::webinar::create(&db, new, clock.now()).await.expect("webinar");
    World { db, clock, service, sender, receiver, _database: database }
}

impl World {
    async fn subscribe(&self, events: &[&str]) -> endpoint::Endpoint {
        self.subscribe_at(&self.receiver.url("/hooks"), events).await
    }

    async fn subscribe_at(&self, url: &str, events: &[&str]) -> endpoint::Endpoint {
        let input = WebhookInput {
            url: Some(url.to_owned()),
            events: Some(events.iter().map(|name| (*name).to_owned()).collect()),
            enabled: None,
        };
        self.service.create_webhook(&input).await.expect("webhook")
    }

    async fn register(&self, email: &str) -> i64 {
        let request = RegistrationRequest {
            webinar: Some("launch".into()),
            name: "Ada Lovelace".into(),
            email: email.into(),
            ..Default::default()
        };
        self.service.register(request).await.expect("registered").registration.id
    }

    async fn deliveries(&self) -> Vec<delivery::Model> {
        delivery::Entity::find().all(&self.db).await.expect("deliveries")
    }
}

fn ids(received: &[Received]) -> Vec<&str> {
    received.iter().map(Received::id).collect()
}

async fn an_event_failing_twice_arrives_three_times_with_one_id(database: TestDatabase) {
    let world = world(database).await;
    let hook = world.subscribe(&["registration.created"]).await;
    let id = world.register("ada@example.com").await;
    world.receiver.answer_next(&[500, 503]);

    let first = world.sender.tick().await.expect("tick");
    assert_eq!((first.claimed, first.retried), (1, 1), "{first:?}");
    assert_eq!(world.sender.tick().await.expect("tick").claimed, 0, "not due again before its backoff");
    world.clock.advance(delivery::POLICY.base);
    assert_eq!(world.sender.tick().await.expect("tick").retried, 1);
    world.clock.advance(delivery::POLICY.base * 2);
    let last = world.sender.tick().await.expect("tick");
    assert_eq!(last.delivered, 1, "{last:?}");

    let received = world.receiver.received();
    assert_eq!(received.len(), 3);
    assert!(ids(&received).iter().all(|id| *id == received[0].id() && id.starts_with("msg_")), "{:?}", ids(&received));
    for arrival in &received {
        assert!(arrival.signed_with(&hook.webhook.secret), "a valid signature on every attempt");
        assert!(!arrival.signed_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "and only with its own secret");
        assert_eq!(arrival.body, received[0].body, "every attempt sends the same bytes");
    }
    let body = received[0].json();
    assert_eq!(body["type"], "registration.created");
    assert_eq!(body["data"]["id"], json!(id));
    assert_eq!(body["data"]["webinar"], "launch");
    assert_eq!(body["data"]["email"], "ada@example.com");
    assert!(body["data"]["join_url"].as_str().is_some_and(|url| url.starts_with("https://events.example.com/j/")));

    let log = world.service.webhook_deliveries(hook.webhook.id).await.expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].delivery.status, delivery::Status::Delivered);
    let codes: Vec<Option<i32>> = log[0].attempts.iter().map(|attempt| attempt.status_code).collect();
    assert_eq!(codes, [Some(200), Some(503), Some(500)], "each attempt logged, newest first");
    let endpoint = world.service.webhook(hook.webhook.id).await.expect("endpoint");
    assert_eq!(endpoint.webhook.failing_since, None, "a success clears the failure record");

    // Redelivered on request: the same id once more.
    world.service.redeliver_webhook(hook.webhook.id, log[0].delivery.id).await.expect("redeliver");
    assert_eq!(world.sender.tick().await.expect("tick").delivered, 1);
    let again = world.receiver.received();
    assert_eq!((again.len(), again[3].id()), (4, received[0].id()));
}

async fn an_endpoint_failing_for_a_day_is_disabled_and_resumes_when_enabled(database: TestDatabase) {
    let world = world(database).await;
    let hook = world.subscribe(&["registration.created"]).await;
    world.receiver.otherwise_answer(500);
    world.register("ada@example.com").await;
    let started = world.clock.now();
    let mut disabled_after = None;
    for _ in 0..100 {
        let report = world.sender.tick().await.expect("tick");
        assert_eq!(report.dead, 0, "its delivery outlives the endpoint: {report:?}");
        if !report.disabled.is_empty() {
            assert_eq!(report.disabled, [hook.webhook.id]);
            disabled_after = Some(world.clock.now() - started);
            break;
        }
        // On to its next attempt.
        let due = world.deliveries().await.remove(0).run_at;
        world.clock.advance(due - world.clock.now());
    }
    let after = disabled_after.expect("disabled in the end");
    assert!(after >= endpoint::DISABLE_AFTER && after <= endpoint::DISABLE_AFTER + delivery::POLICY.cap, "{after}");
    let endpoint = world.service.webhook(hook.webhook.id).await.expect("endpoint");
    assert!(!endpoint.webhook.enabled);
    assert!(endpoint.webhook.disabled_reason.is_some_and(|why| why.contains("24 hours")));

    // Disabled: nothing is claimed or written for it, and redelivery is refused.
    let tries = world.receiver.received().len();
    world.clock.advance(delivery::POLICY.cap);
    assert_eq!(world.sender.tick().await.expect("tick").claimed, 0);
    world.register("grace@example.com").await;
    assert_eq!(world.deliveries().await.len(), 1, "no new delivery to a disabled endpoint");
    let pending = world.deliveries().await.remove(0);
    assert_eq!(pending.status, delivery::Status::Pending);
    let refused = world.service.redeliver_webhook(hook.webhook.id, pending.id).await;
    assert!(matches!(refused, Err(webinar::DomainError::WebhookDisabled)), "{refused:?}");

    // Fixed and enabled again: the pending delivery goes out.
    world.receiver.otherwise_answer(200);
    let enable = WebhookInput { enabled: Some(true), ..WebhookInput::default() };
    world.service.update_webhook(hook.webhook.id, &enable).await.expect("enabled");
    assert_eq!(world.sender.tick().await.expect("tick").delivered, 1);
    assert_eq!(world.receiver.received().len(), tries + 1);
}

async fn a_dead_workers_lease_is_rescued_and_delivered(database: TestDatabase) {
    let world = world(database).await;
    // By name: the client's resolver (the address guard) finds the endpoint.
    let by_name = world.receiver.url("/hooks").replace("127.0.0.1", "localhost");
    world.subscribe_at(&by_name, &["registration.created"]).await;
    world.register("ada@example.com").await;
    let claimed = delivery::claim_due(&world.db, "died", world.clock.now(), LEASE, 10).await.expect("claim");
    assert_eq!(claimed.expect("a claim").deliveries.len(), 1);
    assert_eq!(world.sender.tick().await.expect("tick").claimed, 0, "held by the dead worker's lease");
    world.clock.advance(LEASE + Duration::seconds(1));
    assert_eq!(world.sender.tick().await.expect("tick").delivered, 1);
    let delivered = world.deliveries().await.remove(0);
    assert_eq!((delivered.status, delivered.attempts), (delivery::Status::Delivered, 2), "the lost attempt counts");
}

async fn erasing_a_registrant_first_sends_only_the_erasure(database: TestDatabase) {
    let world = world(database).await;
    world.subscribe(&["registration.created", "registration.erased"]).await;
    let id = world.register("ada@example.com").await;
    world.service.erase_registration(id).await.expect("erased");
    assert_eq!(world.sender.tick().await.expect("tick").delivered, 1);
    let received = world.receiver.received();
    assert_eq!(received.len(), 1, "the unsent registration.created went with the registrant");
    let body = received[0].json();
    assert_eq!(body["type"], "registration.erased");
    assert_eq!((body["data"]["id"].clone(), body["data"]["email"].clone()), (json!(id), json!("ada@example.com")));
}

async fn webinar_and_email_events_carry_their_resources(database: TestDatabase) {
    let world = world(database).await;
    world.subscribe(&["webinar.rescheduled", "webinar.cancelled", "email.delivered", "email.bounced"]).await;
    let id = world.register("ada@example.com").await;
    let moved_to = world.clock.now() + Duration::days(9);
    world.service.reschedule_session("launch", None, moved_to).await.expect("rescheduled");
    let jobs = webinar::queue::for_registration(&world.db, id).await.expect("jobs");
    let now = world.clock.now();
    webinar::deliverability::record_outbox_delivered(&world.db, &[jobs[0].id], now).await.expect("delivered");
    let bounce = webinar::deliverability::event::SendGridEvent {
        email: "ada@example.com".into(),
        timestamp: now.timestamp(),
        event: "bounce".into(),
        sg_event_id: "bounce-1".into(),
        job_id: Some(json!(jobs[1].id.to_string())),
        bounce_type: Some("bounce".into()),
        reason: Some("550 no such user".into()),
    };
    world.service.ingest_provider_events(vec![bounce.clone(), bounce]).await.expect("ingested");
    world.service.cancel_session("launch", None).await.expect("cancelled");
    assert_eq!(world.sender.tick().await.expect("tick").delivered, 4, "a repeated provider event counts once");

    let mut bodies: Vec<serde_json::Value> = world.receiver.received().iter().map(Received::json).collect();
    bodies.sort_by_key(|body| body["type"].as_str().unwrap_or_default().to_owned());
    let types: Vec<&str> = bodies.iter().filter_map(|body| body["type"].as_str()).collect();
    assert_eq!(types, ["email.bounced", "email.delivered", "webinar.cancelled", "webinar.rescheduled"]);
    assert_eq!(bodies[0]["data"]["reason"], "550 no such user");
    assert_eq!(bodies[0]["data"]["registration_id"], json!(id));
    assert_eq!(bodies[1]["data"]["job_id"], json!(jobs[0].id));
    assert_eq!(bodies[1]["data"]["webinar"], "launch");
    assert_eq!(bodies[2]["data"]["status"], "cancelled");
    assert_eq!(bodies[3]["data"]["slug"], "launch");
    assert_eq!(bodies[3]["data"]["registrations"], json!(1));
    let shown = moved_to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(bodies[3]["data"]["starts_at"].as_str().is_some_and(|at| at.starts_with(&shown[..16])), "{bodies:?}");
}

async fn switching_session_raises_registration_moved_with_the_new_session(database: TestDatabase) {
    let world = world(database).await;
    world.subscribe(&["registration.moved"]).await;
    let launch = webinar::webinar::find_by_slug(&world.db, "launch").await.expect("read").expect("launch");
    let first = test_support::the_session(&world.db, launch.id).await.expect("its session");
    let later = webinar::session::NewSession { starts_at: first.starts_at + Duration::days(2), ..(&first).into() };
    let second = webinar::session::create(&world.db, launch.id, later, world.clock.now()).await.expect("session");
    let id = world.register("ada@example.com").await;
    world.register("ada@example.com").await;
    assert_eq!(event::Entity::find().count(&world.db).await.expect("count"), 0, "registering again moves nothing");

    let request = RegistrationRequest {
        webinar: Some("launch".into()),
        session: Some(second.id),
        name: "Ada Lovelace".into(),
        email: "ADA@example.com".into(),
        ..Default::default()
    };
    let outcome = world.service.register(request).await.expect("moved");
    assert!(outcome.moved && !outcome.created, "{outcome:?}");
    assert_eq!(world.sender.tick().await.expect("tick").delivered, 1);
    let received = world.receiver.received();
    assert_eq!(received.len(), 1, "one event for the move, none for the first registration");
    let body = received[0].json();
    assert_eq!(body["type"], "registration.moved");
    assert_eq!((body["data"]["id"].clone(), body["data"]["session"].clone()), (json!(id), json!(second.id)));
    assert_eq!(body["data"]["email"], "ada@example.com");
}

async fn nothing_is_written_for_events_no_endpoint_wants(database: TestDatabase) {
    let world = world(database).await;
    world.subscribe(&["webinar.cancelled"]).await;
    world.register("ada@example.com").await;
    let id = world.register("grace@example.com").await;
    world.service.erase_registration(id).await.expect("erased");
    assert_eq!(event::Entity::find().count(&world.db).await.expect("count"), 0);
    assert_eq!(world.sender.tick().await.expect("tick").claimed, 0);
}

async fn registrations_written_together_each_raise_their_event(database: TestDatabase) {
    let world = world(database).await;
    world.subscribe(&["registration.created"]).await;
    let emails: Vec<String> = (0..40).map(|n| format!("guest{n}@example.com")).collect();
    // At once: on SQLite the writer commits them in groups.
    let mut ids = futures::future::join_all(emails.iter().map(|email| world.register(email))).await;
    ids.sort_unstable();
    let mut announced: Vec<i64> =
        event::Entity::find().all(&world.db).await.expect("events").iter().filter_map(|e| e.registration_id).collect();
    announced.sort_unstable();
    assert_eq!(announced, ids, "one event per registration");
    assert_eq!(world.deliveries().await.len(), 40);
    let mut delivered = 0;
    while delivered < 40 {
        let report = world.sender.tick().await.expect("tick");
        assert!(report.claimed > 0, "all delivered: {delivered}");
        delivered += report.delivered;
    }
    let mut emailed: Vec<String> = world
        .receiver
        .received()
        .iter()
        .filter_map(|arrival| arrival.json()["data"]["email"].as_str().map(str::to_owned))
        .collect();
    emailed.sort();
    let mut expected = emails.clone();
    expected.sort();
    assert_eq!(emailed, expected, "each with its own registration");
}

test_support::on_both_databases!(
    registrations_written_together_each_raise_their_event,
    an_event_failing_twice_arrives_three_times_with_one_id,
    an_endpoint_failing_for_a_day_is_disabled_and_resumes_when_enabled,
    a_dead_workers_lease_is_rescued_and_delivered,
    erasing_a_registrant_first_sends_only_the_erasure,
    webinar_and_email_events_carry_their_resources,
    nothing_is_written_for_events_no_endpoint_wants,
    switching_session_raises_registration_moved_with_the_new_session,
);
