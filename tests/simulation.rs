//! A virtual-clock simulation of the reminder engine: 1,000 registrants at
//! random times, three reschedules (earlier, later, later again), unsubscribes,
//! and a second webinar cancelled. Every delivered email is checked against
//! what a registrant should get, and when.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use test_support::{NoCounts, TestDatabase, queue_and_pending_jobs};
use tokio::sync::watch;
use webinar::delivery::{Delivery, DeliveryError, Outgoing};
use webinar::email::links::Links;
use webinar::queue;
use webinar::session::schedule_change as schedule;
use webinar::webinar::{NewWebinar, Status as WebinarStatus};
use webinar::worker::{Worker, WorkerConfig};
use webinar::{Clock, ManualClock, RegistrationRequest, Service, registration};

const TICK: Duration = Duration::minutes(1);

/// One email as a registrant received it.
#[derive(Clone, Debug)]
struct Delivered {
    to: String,
    kind: String,
    text: String,
    at: DateTime<Utc>,
}

struct Recorder {
    clock: Arc<ManualClock>,
    delivered: Mutex<Vec<Delivered>>,
    /// Virtual time each request takes (a slow provider).
    takes: Duration,
}

#[async_trait::async_trait]
impl Delivery for Recorder {
    async fn deliver(&self, message: &Outgoing) -> Result<(), DeliveryError> {
        let at = self.clock.now();
        self.clock.advance(self.takes);
        let mut delivered = self.delivered.lock().expect("lock");
        for recipient in &message.recipients {
            let text = message.content.personalize(&recipient.substitutions).text;
            delivered.push(Delivered { to: recipient.to.email.clone(), kind: message.category.clone(), text, at });
        }
        Ok(())
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").expect("valid").with_timezone(&Utc)
}

enum Event {
    /// With a session, for that one (another one than theirs: a switch).
    Register {
        webinar: &'static str,
        email: String,
        session: Option<i64>,
    },
    Unsubscribe {
        email: String,
    },
    Reschedule {
        session: i64,
        to: DateTime<Utc>,
    },
    CancelSession {
        session: i64,
    },
    CancelWebinar {
        webinar: i64,
    },
}

/// Plays `events` (in time order) on the virtual clock in 1-minute ticks,
/// skipping stretches where nothing is due, with the worker sending what
/// is due each tick, until nothing is left to do by `end`. Answers when
/// each address first registered and when each unsubscribed.
async fn play(
    db: &DatabaseConnection,
    clock: &Arc<ManualClock>,
    worker: &Worker,
    events: &[(DateTime<Utc>, Event)],
    end: DateTime<Utc>,
) -> (HashMap<String, DateTime<Utc>>, HashMap<String, DateTime<Utc>>) {
    let service = Service::new(db.clone(), clock.clone(), Arc::new(NoCounts));
    let (_stop_sender, stop) = watch::channel(false);
    let mut registered: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut unsubscribed: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut done = 0;
    while let Some(next) = next_due(db, events, done).await.filter(|next| *next <= end) {
        let now = clock.now().max(next);
        let elapsed = u64::try_from((now - t0()).num_seconds()).expect("after t0");
        let ticks = elapsed.div_ceil(TICK.num_seconds().unsigned_abs());
        clock.set(t0() + TICK * i32::try_from(ticks).expect("ticks fit"));
        while let Some((at, event)) = events.get(done).filter(|(at, _)| *at <= clock.now()) {
            let at = *at;
            match event {
                Event::Register { webinar, email, session } => {
                    let request = RegistrationRequest {
                        webinar: Some((*webinar).into()),
                        session: *session,
                        name: "Sim".into(),
                        email: email.clone(),
                        ..Default::default()
                    };
                    let outcome = service.register(request).await.expect("register");
                    registered.entry(email.clone()).or_insert(outcome.registration.created_at);
                }
                Event::Unsubscribe { email } => {
                    let found = registration::Entity::find()
                        .filter(registration::Column::Email.eq(email.as_str()))
                        .one(db)
                        .await
                        .expect("query");
                    let registrant = found.expect("registered before unsubscribing");
                    registration::unsubscribe(db, registrant.id, clock.now()).await.expect("unsubscribe");
                    unsubscribed.insert(email.clone(), clock.now());
                }
                Event::Reschedule { session, to } => {
                    schedule::reschedule(db, *session, *to, clock.now()).await.expect("reschedule");
                }
                Event::CancelSession { session } => {
                    schedule::cancel_session(db, *session, clock.now()).await.expect("cancel the session");
                }
                Event::CancelWebinar { webinar } => {
                    schedule::cancel_webinar(db, *webinar, clock.now()).await.expect("cancel");
                }
            }
            assert!(clock.now() - at < TICK, "events are applied within their tick");
            done += 1;
        }
        while worker.tick(&stop).await.expect("tick").claimed > 0 {}
        let (queued, pending) = queue_and_pending_jobs(db).await.expect("queue and jobs");
        assert_eq!(queued, pending, "the queue holds exactly the pending jobs");
        if done == events.len() && next_due(db, events, done).await.is_none() {
            break;
        }
    }
    assert_eq!(done, events.len(), "every event happened");
    (registered, unsubscribed)
}

async fn create(db: &DatabaseConnection, slug: &str, starts_at: DateTime<Utc>) -> webinar::webinar::Model {
    let new = NewWebinar {
        slug: slug.into(),
        title: format!("Webinar {slug}"),
        subtitle: String::new(),
        description: String::new(),
        speakers: vec![],
        agenda: vec![],
        starts_at,
        duration_minutes: 60,
        timezone: chrono_tz::America::New_York,
        join_url: "https://meet.example.com/x".into(),
        status: WebinarStatus::Published,
        capacity: None,
    };
    webinar::webinar::create(db, new, t0()).await.expect("webinar")
}

/// A worker claiming up to 2,000 jobs at once, to a provider that records
/// what it was sent and takes no time.
fn sending_in_big_batches(db: &DatabaseConnection, clock: &Arc<ManualClock>, name: &str) -> (Worker, Arc<Recorder>) {
    let recorder =
        Arc::new(Recorder { clock: clock.clone(), delivered: Mutex::new(Vec::new()), takes: Duration::zero() });
    let config = WorkerConfig { batch_size: 2000, ..WorkerConfig::default() };
    let links = Links::new("https://events.example.com", b"simulation");
    let worker = Worker::new(name, db.clone(), clock.clone(), recorder.clone(), links, config).expect("worker");
    (worker, recorder)
}

/// The earliest instant something is due: an event or a pending job.
async fn next_due(db: &DatabaseConnection, events: &[(DateTime<Utc>, Event)], done: usize) -> Option<DateTime<Utc>> {
    let job = queue::job::Entity::find()
        .filter(queue::job::Column::Status.eq(queue::job::Status::Pending))
        .order_by_asc(queue::job::Column::RunAt)
        .one(db)
        .await
        .expect("query")
        .map(|job| job.run_at);
    let event = events.get(done).map(|(at, _)| *at);
    [job, event].into_iter().flatten().min()
}

async fn reminders_stay_true_through_reschedules_cancels_and_unsubscribes(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(t0()));
    let (worker, recorder) = sending_in_big_batches(&db, &clock, "sim");

    // Webinar A moves three times; webinar B is cancelled.
    let starts = [
        t0() + Duration::days(10),
        t0() + Duration::days(8),
        t0() + Duration::days(9),
        t0() + Duration::days(9) + Duration::hours(6),
    ];
    let changes = [t0() + Duration::days(2), t0() + Duration::days(4), t0() + Duration::days(7)];
    let a = create(&db, "a", starts[0]).await;
    let b = create(&db, "b", t0() + Duration::days(5)).await;
    let cancel_at = t0() + Duration::days(3);

    let mut rng = StdRng::seed_from_u64(20261125);
    let mut events: Vec<(DateTime<Utc>, Event)> = Vec::new();
    let span = |from: DateTime<Utc>, to: DateTime<Utc>, rng: &mut StdRng| {
        from + Duration::seconds(rng.random_range(0..(to - from).num_seconds()))
    };
    for n in 0..1000 {
        let at = span(t0(), starts[3] - Duration::minutes(1), &mut rng);
        events.push((at, Event::Register { webinar: "a", email: format!("a{n}@example.com"), session: None }));
        if n % 33 == 0 {
            let until = span(at + Duration::minutes(1), starts[3], &mut rng);
            events.push((until, Event::Unsubscribe { email: format!("a{n}@example.com") }));
        }
    }
    for n in 0..100 {
        events.push((
            span(t0(), cancel_at, &mut rng),
            Event::Register { webinar: "b", email: format!("b{n}@example.com"), session: None },
        ));
    }
    let a_session = test_support::the_session(&db, a.id).await.expect("its session").id;
    for (at, to) in changes.iter().zip(&starts[1..]) {
        events.push((*at, Event::Reschedule { session: a_session, to: *to }));
    }
    events.push((cancel_at, Event::CancelWebinar { webinar: b.id }));
    events.sort_by_key(|(at, _)| *at);

    let (registered, unsubscribed) = play(&db, &clock, &worker, &events, starts[3] + Duration::hours(1)).await;

    // What each registrant received, by kind.
    let delivered = recorder.delivered.lock().expect("lock").clone();
    let mut inbox: BTreeMap<(String, String), Vec<Delivered>> = BTreeMap::new();
    for email in &delivered {
        inbox.entry((email.to.clone(), email.kind.clone())).or_default().push(email.clone());
    }
    let start_at = |at: DateTime<Utc>| {
        let index = changes.iter().filter(|change| **change <= at).count();
        starts[index]
    };
    let shows = |webinar: &webinar::webinar::Model, start: DateTime<Utc>| {
        start.with_timezone(&webinar.tz()).format("%A, %-d %B %Y, %H:%M %Z (UTC%:z)").to_string()
    };
    let on_time = |got: DateTime<Utc>, due: DateTime<Utc>| got >= due && got - due <= TICK;
    let leads = [
        ("reminder_24h", Duration::hours(24)),
        ("reminder_3h", Duration::hours(3)),
        ("reminder_15m", Duration::minutes(15)),
    ];

    for (email, registered_at) in &registered {
        let stopped = unsubscribed.get(email).copied();
        let received = |kind: &str| inbox.get(&(email.clone(), kind.to_owned())).cloned().unwrap_or_default();
        for email_received in delivered.iter().filter(|d| &d.to == email) {
            assert!(
                stopped.is_none_or(|stopped| email_received.at < stopped),
                "{email}: {} after unsubscribing",
                email_received.kind
            );
        }
        let confirmation = received("confirmation");
        assert_eq!(confirmation.len(), 1, "{email}: one confirmation");
        assert!(on_time(confirmation[0].at, *registered_at), "{email}: confirmation at once");

        if email.starts_with('a') {
            assert!(
                confirmation[0].text.contains(&shows(&a, start_at(*registered_at))),
                "{email}: the then-current start"
            );
            for (kind, lead) in leads {
                let due = starts[3] - lead;
                let expected = usize::from(due > *registered_at && stopped.is_none_or(|stopped| stopped > due));
                let got = received(kind);
                assert_eq!(
                    got.len(),
                    expected,
                    "{email}: {kind} (registered {registered_at}, unsubscribed {stopped:?})"
                );
                for reminder in got {
                    assert!(on_time(reminder.at, due), "{email}: {kind} at {} for {due}", reminder.at);
                    assert!(reminder.text.contains(&shows(&a, starts[3])), "{email}: {kind} shows the current start");
                }
            }
            let changed = received("time_changed");
            let expected: Vec<(DateTime<Utc>, DateTime<Utc>)> = changes
                .iter()
                .zip(&starts[1..])
                // Registered in the change's own tick counts as before it: events apply in order.
                .filter(|(change, _)| **change >= *registered_at && stopped.is_none_or(|stopped| stopped > **change))
                .map(|(change, start)| (*change, *start))
                .collect();
            assert_eq!(changed.len(), expected.len(), "{email}: one time-changed email per change");
            for (notice, (change, start)) in changed.iter().zip(expected) {
                assert!(on_time(notice.at, change), "{email}: notice at {} for {change}", notice.at);
                assert!(notice.text.contains(&shows(&a, start)), "{email}: the notice shows its new start");
            }
        } else {
            let cancelled = received("cancelled");
            assert_eq!(cancelled.len(), 1, "{email}: one cancellation");
            assert!(on_time(cancelled[0].at, cancel_at), "{email}: cancellation at once");
            for kind in ["reminder_24h", "reminder_3h", "reminder_15m", "time_changed"] {
                assert!(received(kind).is_empty(), "{email}: no {kind} for a cancelled webinar");
            }
        }
    }
    let total = delivered.len();
    assert!(total > 4000, "a full run delivers thousands of emails ({total})");
}

/// An email a registrant should get: its kind, when it is due, and the start it shows.
type Expected = (String, DateTime<Utc>, Option<DateTime<Utc>>);

/// A webinar with three sessions a week apart and 1,000 registrants spread
/// over them; 100 switch from the first to the second, the second is
/// rescheduled and the third cancelled. Each registrant gets every email of
/// each session they were in while they were in it, exactly once, on time,
/// showing that session's start as it then was, and nothing of a session
/// they left after they left it.
async fn every_registrant_gets_the_emails_of_their_session_and_no_other(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(t0()));
    let (worker, recorder) = sending_in_big_batches(&db, &clock, "sessions");

    let series = create(&db, "series", t0() + Duration::days(7)).await;
    let first = test_support::the_session(&db, series.id).await.expect("its session");
    let mut sessions = vec![first.clone()];
    for weeks in [2, 3] {
        let new =
            webinar::session::NewSession { starts_at: first.starts_at + Duration::weeks(weeks), ..(&first).into() };
        sessions.push(webinar::session::create(&db, series.id, new, t0()).await.expect("a session"));
    }
    let ids: Vec<i64> = sessions.iter().map(|session| session.id).collect();
    let (rescheduled_at, moved_to) = (t0() + Duration::days(3), sessions[1].starts_at + Duration::hours(26));
    let cancelled_at = t0() + Duration::days(10);
    // A session's start as shown at `at`, and its last.
    let start_of = |index: usize, at: DateTime<Utc>| match index {
        1 if at >= rescheduled_at => moved_to,
        _ => sessions[index].starts_at,
    };
    let last_start = |index: usize| start_of(index, DateTime::<Utc>::MAX_UTC);

    let mut rng = StdRng::seed_from_u64(20261202);
    let span = |from: DateTime<Utc>, to: DateTime<Utc>, rng: &mut StdRng| {
        from + Duration::seconds(rng.random_range(0..(to - from).num_seconds()))
    };
    let mut events: Vec<(DateTime<Utc>, Event)> = Vec::new();
    // Each registrant's sessions: (since, session index).
    let mut timeline: HashMap<String, Vec<(DateTime<Utc>, usize)>> = HashMap::new();
    for n in 0..1000 {
        let index = n % 3;
        let email = format!("r{n}@example.com");
        let open_until = match index {
            2 => cancelled_at,
            _ => last_start(index).min(sessions[index].starts_at),
        } - Duration::minutes(5);
        let at = span(t0(), open_until, &mut rng);
        events.push((at, Event::Register { webinar: "series", email: email.clone(), session: Some(ids[index]) }));
        let mut sessions_of = vec![(at, index)];
        // The first 100 of the first session's switch to the second before the first starts.
        if index == 0 && n < 300 {
            let switched = span(at + Duration::minutes(1), sessions[0].starts_at - Duration::minutes(1), &mut rng);
            events.push((switched, Event::Register { webinar: "series", email: email.clone(), session: Some(ids[1]) }));
            sessions_of.push((switched, 1));
        }
        timeline.insert(email, sessions_of);
    }
    events.push((rescheduled_at, Event::Reschedule { session: ids[1], to: moved_to }));
    events.push((cancelled_at, Event::CancelSession { session: ids[2] }));
    events.sort_by_key(|(at, _)| *at);
    assert_eq!(timeline.values().filter(|sessions| sessions.len() == 2).count(), 100, "100 switch");

    let (registered, _) = play(&db, &clock, &worker, &events, moved_to + Duration::hours(1)).await;
    assert_eq!(registered.len(), 1000);

    let shows =
        |start: DateTime<Utc>| start.with_timezone(&series.tz()).format("%A, %-d %B %Y, %H:%M %Z (UTC%:z)").to_string();
    let leads = [
        ("reminder_24h", Duration::hours(24)),
        ("reminder_3h", Duration::hours(3)),
        ("reminder_15m", Duration::minutes(15)),
    ];
    let delivered = recorder.delivered.lock().expect("lock").clone();
    let mut inbox: HashMap<String, Vec<Delivered>> = HashMap::new();
    for email in &delivered {
        inbox.entry(email.to.clone()).or_default().push(email.clone());
    }
    for (email, sessions_of) in &timeline {
        let mut expected: Vec<Expected> = Vec::new();
        for (position, (since, index)) in sessions_of.iter().enumerate() {
            let until = sessions_of.get(position + 1).map_or(DateTime::<Utc>::MAX_UTC, |(at, _)| *at);
            let during = |at: DateTime<Utc>| *since <= at && at < until;
            expected.push(("confirmation".into(), *since, Some(start_of(*index, *since))));
            if *index == 2 {
                expected.extend(during(cancelled_at).then(|| ("cancelled".into(), cancelled_at, None)));
                continue;
            }
            for (kind, lead) in leads {
                let due = last_start(*index) - lead;
                expected.extend(during(due).then(|| (kind.into(), due, Some(last_start(*index)))));
            }
            if *index == 1 && during(rescheduled_at) {
                expected.push(("time_changed".into(), rescheduled_at, Some(moved_to)));
            }
        }
        expected.sort_by_key(|(kind, due, _)| (*due, kind.clone()));
        let mut got = inbox.remove(email).unwrap_or_default();
        got.sort_by_key(|email| (email.at, email.kind.clone()));
        let got_kinds: Vec<&str> = got.iter().map(|email| email.kind.as_str()).collect();
        let expected_kinds: Vec<&str> = expected.iter().map(|(kind, _, _)| kind.as_str()).collect();
        assert_eq!(got_kinds, expected_kinds, "{email} in {sessions_of:?}");
        for (received, (kind, due, start)) in got.iter().zip(&expected) {
            assert!(received.at >= *due && received.at - *due <= TICK, "{email}: {kind} at {} for {due}", received.at);
            if let Some(start) = start {
                assert!(received.text.contains(&shows(*start)), "{email}: {kind} shows {start}: {}", received.text);
            }
        }
    }
    assert!(inbox.is_empty(), "nobody else was emailed: {:?}", inbox.keys().collect::<Vec<_>>());
}

/// A batch that waited in the worker past half its lease goes back to the
/// queue unsent: by the lease's end another claim could take (and send) it too.
async fn a_batch_that_waited_past_half_its_lease_is_given_back(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(t0()));
    let lease = Duration::minutes(10);
    let takes = Duration::minutes(6);
    let recorder = Arc::new(Recorder { clock: clock.clone(), delivered: Mutex::new(Vec::new()), takes });
    let config = WorkerConfig { lease, max_in_flight: 1, ..WorkerConfig::default() };
    let links = Links::new("https://events.example.com", b"simulation");
    let worker = Worker::new("slow", db.clone(), clock.clone(), recorder.clone(), links, config).expect("worker");
    let service = Service::new(db.clone(), clock.clone(), Arc::new(NoCounts));
    // Two webinars: two confirmation batches, sent one after the other.
    for slug in ["a", "b"] {
        create(&db, slug, t0() + Duration::days(3)).await;
        let request = RegistrationRequest {
            webinar: Some(slug.into()),
            name: "Ada".into(),
            email: format!("ada.{slug}@example.com"),
            ..RegistrationRequest::default()
        };
        service.register(request).await.expect("register");
    }
    let (_stop_sender, stop) = watch::channel(false);
    let first = worker.tick(&stop).await.expect("tick");
    assert_eq!((first.claimed, first.sent, first.released), (2, 1, 1), "{first:?}");
    let second = worker.tick(&stop).await.expect("tick");
    assert_eq!((second.claimed, second.sent), (1, 1), "the given-back job is claimed afresh: {second:?}");
    let delivered = recorder.delivered.lock().expect("lock").clone();
    let mut recipients: Vec<String> = delivered.into_iter().map(|email| email.to).collect();
    recipients.sort();
    assert_eq!(recipients, ["ada.a@example.com", "ada.b@example.com"], "each sent exactly once");
}

/// A claim whose every job is set aside (here a reminder too late to be
/// true) is no idle queue: the running worker claims what is due behind it
/// at once instead of pausing for its poll interval. Two such claims in a
/// row: one per claiming task, so neither can cover for the other.
async fn a_claim_of_only_skipped_jobs_does_not_pause_the_worker(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(t0()));
    let recorder =
        Arc::new(Recorder { clock: clock.clone(), delivered: Mutex::new(Vec::new()), takes: Duration::zero() });
    // One job per claim, and a poll interval no test would wait out.
    let poll_interval = std::time::Duration::from_secs(600);
    let config = WorkerConfig { batch_size: 1, poll_interval, ..WorkerConfig::default() };
    let links = Links::new("https://events.example.com", b"simulation");
    let worker = Worker::new("skips", db.clone(), clock.clone(), recorder.clone(), links, config).expect("worker");
    let service = Service::new(db.clone(), clock.clone(), Arc::new(NoCounts));
    create(&db, "a", t0() + Duration::days(3)).await;
    let register = |email: &str| RegistrationRequest {
        webinar: Some("a".into()),
        name: "Reader".into(),
        email: email.into(),
        ..RegistrationRequest::default()
    };
    for early in ["ada@example.com", "carol@example.com"] {
        service.register(register(early)).await.expect("register");
    }
    // Their 24-hour reminders are now 20 hours late; Bob's confirmation is due behind them.
    clock.advance(Duration::days(2) + Duration::hours(20));
    service.register(register("bob@example.com")).await.expect("register");

    let (stop_sender, stop) = watch::channel(false);
    let running = tokio::spawn(Arc::new(worker).run(stop));
    let sent_to = || {
        let delivered = recorder.delivered.lock().expect("lock");
        let mut sent: Vec<_> = delivered.iter().map(|email| (email.to.clone(), email.kind.clone())).collect();
        sent.sort();
        sent
    };
    let waited = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while sent_to().len() < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    stop_sender.send(true).expect("stop");
    running.await.expect("worker");
    assert!(waited.is_ok(), "Bob's confirmation waited out the poll interval: {:?}", sent_to());
    let confirmation = |email: &str| (email.to_owned(), "confirmation".to_owned());
    assert_eq!(
        sent_to(),
        [confirmation("ada@example.com"), confirmation("bob@example.com"), confirmation("carol@example.com")]
    );
    let late = queue::job::Entity::find()
        .filter(queue::job::Column::Kind.eq(queue::Kind::Reminder24h))
        .all(&db)
        .await
        .expect("query");
    assert_eq!(late.len(), 2, "{late:?}");
    for reminder in late {
        assert_eq!(reminder.status, queue::job::Status::Cancelled, "{reminder:?}");
        assert_eq!(reminder.last_error.as_deref(), Some("too late to be true"));
    }
}

/// A claim whose emails cannot be built (here a broken template in the
/// copy) sends nothing and gives its jobs back at once, with no attempt
/// counted: once the copy is fixed the next tick sends them, without
/// waiting out the lease.
async fn a_claim_that_cannot_be_prepared_gives_its_jobs_back(database: TestDatabase) {
    use webinar::email::copy as email_copy;
    use webinar::email::render::CustomCopy;
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(t0()));
    let recorder =
        Arc::new(Recorder { clock: clock.clone(), delivered: Mutex::new(Vec::new()), takes: Duration::zero() });
    let links = Links::new("https://events.example.com", b"simulation");
    let worker = Worker::new("broken", db.clone(), clock.clone(), recorder.clone(), links, WorkerConfig::default())
        .expect("worker");
    let service = Service::new(db.clone(), clock.clone(), Arc::new(NoCounts));
    let webinar = create(&db, "a", t0() + Duration::days(3)).await;
    let request = RegistrationRequest {
        webinar: Some("a".into()),
        name: "Ada".into(),
        email: "ada@example.com".into(),
        ..RegistrationRequest::default()
    };
    service.register(request).await.expect("register");
    // Written past the editor's check, as a bad release of a template would be.
    let broken = CustomCopy { subject: "Hi {{ name".into(), body: "See you".into() };
    email_copy::save(&db, webinar.id, queue::Kind::Confirmation, email_copy::DEFAULT_ICP, broken, t0())
        .await
        .expect("copy");

    let (_stop_sender, stop) = watch::channel(false);
    assert!(worker.tick(&stop).await.is_err(), "the claim could not be built");
    assert_eq!(queue::lease::leased_jobs(&db).await.expect("leases"), 0, "the claim was given back");
    let ada = registration::Entity::find().one(&db).await.expect("query").expect("registered");
    let jobs = queue::for_registration(&db, ada.id).await.expect("jobs");
    assert!(jobs.iter().all(|job| job.status == queue::Status::Pending && job.attempts == 0), "{jobs:?}");

    email_copy::delete(&db, webinar.id, queue::Kind::Confirmation, email_copy::DEFAULT_ICP).await.expect("reset");
    let report = worker.tick(&stop).await.expect("tick");
    assert_eq!(report.sent, 1, "sent at once, no lease to wait out: {report:?}");
    assert_eq!(recorder.delivered.lock().expect("lock").len(), 1, "delivered once");
}

test_support::on_both_databases!(
    every_registrant_gets_the_emails_of_their_session_and_no_other,
    a_claim_that_cannot_be_prepared_gives_its_jobs_back,
    reminders_stay_true_through_reschedules_cancels_and_unsubscribes,
    a_batch_that_waited_past_half_its_lease_is_given_back,
    a_claim_of_only_skipped_jobs_does_not_pause_the_worker,
);
