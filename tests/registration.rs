//! Registration against a real database, run on SQLite and on the local Postgres.
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use test_support::TestDatabase;
use webinar::queue::{self, Kind};
use webinar::webinar::{NewWebinar, Status};
use webinar::{
    ClosedReason, CountPublisher, DomainError, LiveCount, ManualClock, RegistrationRequest, Service, registration,
};

#[derive(Default)]
struct RecordedCounts(Mutex<Vec<(i64, LiveCount)>>);

impl RecordedCounts {
    fn totals(&self) -> Vec<(i64, u64)> {
        self.0.lock().expect("lock").iter().map(|(webinar, count)| (*webinar, count.registrations)).collect()
    }

    fn last(&self) -> Option<(i64, LiveCount)> {
        self.0.lock().expect("lock").last().cloned()
    }
}

impl CountPublisher for RecordedCounts {
    fn publish(&self, webinar_id: i64, count: LiveCount) {
        self.0.lock().expect("lock").push((webinar_id, count));
    }
}

struct Fixture {
    db: DatabaseConnection,
    clock: Arc<ManualClock>,
    counts: Arc<RecordedCounts>,
    service: Service,
    _database: TestDatabase,
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("valid").with_timezone(&Utc)
}

async fn fixture(database: TestDatabase) -> Fixture {
    let db = database.connect().await.expect("connect");
    let clock = Arc::new(ManualClock::new(now()));
    let counts = Arc::new(RecordedCounts::default());
    let service = Service::new(db.clone(), clock.clone(), counts.clone());
    Fixture { db, clock, counts, service, _database: database }
}

async fn webinar(db: &DatabaseConnection, slug: &str, status: Status, starts_in: Duration) -> webinar::webinar::Model {
    let new = NewWebinar {
        slug: slug.into(),
        title: format!("Webinar {slug}"),
        subtitle: "Subtitle".into(),
        description: "About it".into(),
        speakers: vec![],
        agenda: vec![],
        starts_at: now() + starts_in,
        duration_minutes: 60,
        timezone: chrono_tz::America::New_York,
        join_url: "https://meet.example.com/x".into(),
        status,
        capacity: None,
    };
    webinar::webinar::create(db, new, now()).await.expect("create webinar")
}

fn request(slug: &str, email: &str) -> RegistrationRequest {
    RegistrationRequest {
        webinar: Some(slug.into()),
        name: "Ada Lovelace".into(),
        email: email.into(),
        ..Default::default()
    }
}

async fn row_counts(db: &DatabaseConnection) -> (u64, u64) {
    let registrations = registration::Entity::find().count(db).await.expect("count");
    let jobs = queue::job::Entity::find().count(db).await.expect("count");
    (registrations, jobs)
}

async fn same_email_returns_the_existing_registration(database: TestDatabase) {
    let f = fixture(database).await;
    let w = webinar(&f.db, "launch", Status::Published, Duration::days(2)).await;
    let first = f.service.register(request("launch", "Ada@Example.com")).await.expect("first");
    assert!(first.created);
    assert_eq!(first.registrations, 1);
    f.clock.advance(Duration::hours(1));
    let again = f.service.register(request("launch", "ada@EXAMPLE.com")).await.expect("again");
    assert!(!again.created);
    assert_eq!(again.registration.id, first.registration.id);
    assert_eq!(again.registrations, 1);
    assert_eq!(row_counts(&f.db).await, (1, 4), "no new row, no new email job");
    assert_eq!(f.counts.totals(), [(w.id, 1)], "only the new registration is published");
}

async fn jobs_are_written_with_the_registration(database: TestDatabase) {
    let f = fixture(database).await;
    webinar(&f.db, "soon", Status::Published, Duration::hours(5)).await;
    let outcome = f.service.register(request("soon", "grace@example.com")).await.expect("register");
    let jobs = queue::for_registration(&f.db, outcome.registration.id).await.expect("jobs");
    let kinds: Vec<(Kind, DateTime<Utc>)> = jobs.iter().map(|job| (job.kind, job.run_at)).collect();
    let starts_at = now() + Duration::hours(5);
    assert_eq!(
        kinds,
        [
            (Kind::Confirmation, now()),
            (Kind::Reminder3h, starts_at - Duration::hours(3)),
            (Kind::Reminder15m, starts_at - Duration::minutes(15)),
        ]
    );
    assert!(jobs.iter().all(|job| job.status == queue::job::Status::Pending && job.attempts == 0));
}

async fn concurrent_duplicates_make_one_registration(database: TestDatabase) {
    let f = fixture(database).await;
    webinar(&f.db, "race", Status::Published, Duration::days(2)).await;
    let attempts = (0..8).map(|_| {
        let service = f.service.clone();
        tokio::spawn(async move { service.register(request("race", "same@example.com")).await })
    });
    let mut created = 0;
    let mut ids = Vec::new();
    for attempt in attempts {
        let outcome = attempt.await.expect("task").expect("register");
        created += usize::from(outcome.created);
        ids.push(outcome.registration.id);
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "every attempt got the same registration");
    assert_eq!(row_counts(&f.db).await, (1, 4));
}

async fn closed_and_hidden_webinars_take_no_registrations(database: TestDatabase) {
    let f = fixture(database).await;
    webinar(&f.db, "draft", Status::Draft, Duration::days(2)).await;
    webinar(&f.db, "cancelled", Status::Cancelled, Duration::days(2)).await;
    webinar(&f.db, "over", Status::Published, -Duration::hours(2)).await;
    let cases = [
        ("draft", "WebinarNotFound"),
        ("cancelled", "Closed(Cancelled)"),
        ("over", "Closed(Ended)"),
        ("missing", "WebinarNotFound"),
    ];
    for (slug, expected) in cases {
        let error = f.service.register(request(slug, "ada@example.com")).await.expect_err(slug);
        let got = match error {
            DomainError::WebinarNotFound => "WebinarNotFound",
            DomainError::Closed(ClosedReason::Cancelled) => "Closed(Cancelled)",
            DomainError::Closed(ClosedReason::Ended) => "Closed(Ended)",
            other => panic!("{slug}: unexpected {other:?}"),
        };
        assert_eq!(got, expected, "{slug}");
    }
    assert_eq!(row_counts(&f.db).await, (0, 0), "nothing written");
}

async fn no_slug_means_the_next_upcoming_webinar(database: TestDatabase) {
    let f = fixture(database).await;
    webinar(&f.db, "later", Status::Published, Duration::days(9)).await;
    webinar(&f.db, "past", Status::Published, -Duration::days(1)).await;
    webinar(&f.db, "hidden", Status::Draft, Duration::days(1)).await;
    webinar(&f.db, "next", Status::Published, Duration::days(3)).await;
    let mut input = request("", "ada@example.com");
    input.webinar = None;
    let outcome = f.service.register(input).await.expect("register");
    assert_eq!(outcome.webinar.slug, "next");
}

/// Capacity 5 and 30 people registering at once, five times over: exactly 5
/// get a seat each time, the rest hear it is full, nothing of theirs is
/// written, and a seat holder who registers again still gets their registration.
async fn a_full_webinar_takes_no_more_registrations(database: TestDatabase) {
    let f = fixture(database).await;
    for round in 0..5 {
        let slug = format!("small{round}");
        let small = webinar(&f.db, &slug, Status::Published, Duration::days(2)).await;
        test_support::set_capacity(&f.db, small.id, Some(5)).await.expect("set a capacity");
        let landing = f.service.landing(Some(&slug), None).await.expect("landing");
        assert_eq!(landing.closed, None, "seats left");

        let attempts = (0..30).map(|n| {
            let (service, slug) = (f.service.clone(), slug.clone());
            tokio::spawn(async move { service.register(request(&slug, &format!("p{n}@example.com"))).await })
        });
        let (mut seated, mut full) = (Vec::new(), 0);
        for attempt in futures::future::join_all(attempts).await {
            match attempt.expect("task") {
                Ok(outcome) => seated.push(outcome.registration.email),
                Err(DomainError::Closed(ClosedReason::Full)) => full += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((seated.len(), full), (5, 25), "round {round}");
        let again = f.service.register(request(&slug, &seated[0])).await.expect("a seat holder again");
        assert!(!again.created);
        let landing = f.service.landing(Some(&slug), None).await.expect("landing");
        assert_eq!(landing.closed, Some(ClosedReason::Full));
    }
    assert_eq!(row_counts(&f.db).await, (25, 100), "five seats a webinar, four emails a seat");
    assert_eq!(ClosedReason::Full.message(), "This webinar is full, so registration is closed.");
}

/// The count kept beside the registrations (counter rows) agrees with the
/// registrations themselves after concurrent registrations on two webinars,
/// repeats, and GDPR erasures.
async fn the_kept_count_matches_the_registrations(database: TestDatabase) {
    use sea_orm::{ColumnTrait, QueryFilter};
    let f = fixture(database).await;
    let one = webinar(&f.db, "one", Status::Published, Duration::days(2)).await;
    let two = webinar(&f.db, "two", Status::Published, Duration::days(3)).await;
    let attempts = (0..60).map(|n| {
        let service = f.service.clone();
        // 45 people, 15 of them twice; a third of them for "two".
        let person = n % 45;
        let slug = if person % 3 == 0 { "two" } else { "one" };
        tokio::spawn(async move { service.register(request(slug, &format!("p{person}@example.com"))).await })
    });
    let outcomes: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(|a| a.expect("task")).collect();
    let mut ids: Vec<i64> = outcomes.into_iter().map(|outcome| outcome.expect("register").registration.id).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids.iter().take(3) {
        f.service.erase_registration(*id).await.expect("erase");
    }
    for w in [&one, &two] {
        let stored = registration::Entity::find().filter(registration::Column::WebinarId.eq(w.id)).count(&f.db).await;
        let landing = f.service.landing(Some(&w.slug), None).await.expect("landing");
        assert_eq!(landing.registrations, stored.expect("count"), "{}", w.slug);
    }
    let overview = f.service.admin_overview().await.expect("overview");
    let total: u64 = overview.iter().map(|summary| summary.registrations).sum();
    assert_eq!((ids.len(), total), (45, 42));
}

/// The registration writer (SQLite's) writes the registrations waiting at
/// once in one transaction; one that cannot be written (its webinar was
/// deleted after it was checked) fails alone, the others are written and each
/// gets its own outcome.
async fn a_group_commit_fails_only_the_registration_at_fault(database: TestDatabase) {
    use webinar::registration::NewRegistration;
    use webinar::registration::writer::RegistrationWriter;
    let f = fixture(database).await;
    let kept = webinar(&f.db, "kept", Status::Published, Duration::days(2)).await;
    let gone = webinar(&f.db, "gone", Status::Published, Duration::days(2)).await;
    let kept_session = test_support::the_session(&f.db, kept.id).await.expect("session");
    let gone_session = test_support::the_session(&f.db, gone.id).await.expect("session");
    let new = |w: &webinar::webinar::Model, email: String| {
        let valid = request(&w.slug, &email).validate().expect("valid");
        let session = if w.id == kept.id { kept_session.clone() } else { gone_session.clone() };
        NewRegistration::new(w.clone(), session, valid, now()).expect("open")
    };
    let mut group: Vec<NewRegistration> = (0..10).map(|n| new(&kept, format!("k{n}@example.com"))).collect();
    group.insert(4, new(&gone, "late@example.com".into()));
    group.push(new(&kept, "K3@example.com".into()));
    webinar::webinar::Entity::delete_by_id(gone.id).exec(&f.db).await.expect("delete");

    let writer = RegistrationWriter::start(f.db.clone());
    let outcomes = futures::future::join_all(group.into_iter().map(|new| writer.register(new))).await;
    let (failed, written): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_err);
    assert_eq!(failed.len(), 1, "only the registration for the deleted webinar fails");
    let written: Vec<_> = written.into_iter().map(|outcome| outcome.expect("written")).collect();
    assert_eq!(written.iter().filter(|outcome| outcome.created).count(), 10);
    let repeat = written.iter().find(|outcome| !outcome.created).expect("the repeated address");
    assert_eq!(repeat.registration.email, "k3@example.com", "the first registration with that address");
    assert_eq!(row_counts(&f.db).await, (10, 40), "ten registrations, four emails each");
    assert_eq!(webinar::registration::count::for_webinar(&f.db, kept.id).await.expect("count"), 10);
}

/// A second session of `webinar`, `starts_in` from now, with `capacity` seats.
async fn another_session(
    db: &DatabaseConnection,
    webinar: &webinar::webinar::Model,
    starts_in: Duration,
    capacity: Option<i32>,
) -> webinar::session::Model {
    let new = webinar::session::NewSession {
        starts_at: now() + starts_in,
        duration_minutes: 60,
        join_url: "https://meet.example.com/thursday".into(),
        capacity,
    };
    webinar::session::create(db, webinar.id, new, now()).await.expect("session")
}

fn for_session(slug: &str, email: &str, session: i64) -> RegistrationRequest {
    RegistrationRequest { session: Some(session), ..request(slug, email) }
}

/// "Switch me to Thursday": the same address registering for another
/// session moves its one registration there, with the new session's
/// emails; the old session's emails are withdrawn; asking again changes
/// nothing; another webinar's, a cancelled and a past session are refused.
async fn registering_for_another_session_moves_the_registration(database: TestDatabase) {
    let f = fixture(database).await;
    let w = webinar(&f.db, "series", Status::Published, Duration::days(2)).await;
    let tuesday = test_support::the_session(&f.db, w.id).await.expect("first session");
    let thursday = another_session(&f.db, &w, Duration::days(4), None).await;
    let first = f.service.register(request("series", "ada@example.com")).await.expect("register");
    assert_eq!(
        (first.created, first.moved, first.session.id),
        (true, false, tuesday.id),
        "the next session by default"
    );

    let moved = f.service.register(for_session("series", "Ada@example.com", thursday.id)).await.expect("move");
    assert_eq!((moved.created, moved.moved, moved.session.id), (false, true, thursday.id));
    assert_eq!(moved.registration.id, first.registration.id, "one registration");
    assert_eq!((moved.registrations, moved.session_registrations), (1, 1));
    let published = LiveCount { registrations: 1, sessions: [(tuesday.id, 0), (thursday.id, 1)].into() };
    assert_eq!(f.counts.last(), Some((w.id, published)), "the pages see both sessions' counts move");
    let count = |session: i64| webinar::registration::count::for_session(&f.db, session);
    assert_eq!((count(tuesday.id).await.expect("count"), count(thursday.id).await.expect("count")), (0, 1));
    let jobs = queue::for_registration(&f.db, first.registration.id).await.expect("jobs");
    let on = |session: i64, status: queue::Status| {
        let mut kinds: Vec<Kind> =
            jobs.iter().filter(|job| job.session_id == session && job.status == status).map(|job| job.kind).collect();
        kinds.sort_by_key(|kind| format!("{kind:?}"));
        kinds
    };
    let every = [Kind::Confirmation, Kind::Reminder15m, Kind::Reminder24h, Kind::Reminder3h];
    assert_eq!(on(tuesday.id, queue::Status::Cancelled), every, "the left session's emails are withdrawn");
    assert!(
        jobs.iter()
            .filter(|job| job.session_id == tuesday.id)
            .all(|job| job.last_error.as_deref() == Some("moved to another session"))
    );
    assert_eq!(on(thursday.id, queue::Status::Pending), every, "a new confirmation and the new reminders");
    let (queued, pending) = test_support::queue_and_pending_jobs(&f.db).await.expect("queue");
    assert_eq!(queued, pending);

    let again = f.service.register(for_session("series", "ada@example.com", thursday.id)).await.expect("again");
    assert_eq!((again.created, again.moved), (false, false), "the same session again is the idempotent answer");
    assert_eq!(row_counts(&f.db).await, (1, 8), "nothing new written");

    let other = webinar(&f.db, "other", Status::Published, Duration::days(2)).await;
    let elsewhere = test_support::the_session(&f.db, other.id).await.expect("session");
    let refused = f.service.register(for_session("series", "grace@example.com", elsewhere.id)).await;
    assert!(matches!(refused, Err(DomainError::SessionNotFound)), "{refused:?}");
    let missing = f.service.register(for_session("series", "grace@example.com", 999_999)).await;
    assert!(matches!(missing, Err(DomainError::SessionNotFound)), "{missing:?}");
    let past = another_session(&f.db, &w, -Duration::hours(3), None).await;
    let late = f.service.register(for_session("series", "grace@example.com", past.id)).await;
    assert!(matches!(late, Err(DomainError::Closed(ClosedReason::Ended))), "{late:?}");
    webinar::session::schedule_change::cancel_session(&f.db, thursday.id, now()).await.expect("cancel");
    let cancelled = f.service.register(for_session("series", "grace@example.com", thursday.id)).await;
    assert!(matches!(cancelled, Err(DomainError::Closed(ClosedReason::Cancelled))), "{cancelled:?}");
    assert_eq!(row_counts(&f.db).await.0, 1, "no refused registration was written");
}

/// Two capped sessions of one webinar, 30 people at once for each: exactly
/// five seats taken in each, never more, and the webinar counts ten.
async fn each_session_keeps_its_own_seats(database: TestDatabase) {
    let f = fixture(database).await;
    let w = webinar(&f.db, "capped", Status::Published, Duration::days(2)).await;
    let first = test_support::set_capacity(&f.db, w.id, Some(5)).await.expect("capacity");
    let second = another_session(&f.db, &w, Duration::days(7), Some(5)).await;
    let attempts = [first.id, second.id].into_iter().flat_map(|session| {
        let service = f.service.clone();
        (0..30).map(move |n| {
            let service = service.clone();
            let request = for_session("capped", &format!("p{session}-{n}@example.com"), session);
            tokio::spawn(async move { service.register(request).await })
        })
    });
    let mut seated: std::collections::BTreeMap<i64, usize> = Default::default();
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.expect("task") {
            Ok(outcome) => *seated.entry(outcome.session.id).or_default() += 1,
            Err(DomainError::Closed(ClosedReason::Full)) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(seated, [(first.id, 5), (second.id, 5)].into_iter().collect());
    let count = |session: i64| webinar::registration::count::for_session(&f.db, session);
    assert_eq!((count(first.id).await.expect("count"), count(second.id).await.expect("count")), (5, 5));
    assert_eq!(webinar::registration::count::for_webinar(&f.db, w.id).await.expect("count"), 10);
    assert_eq!(row_counts(&f.db).await.0, 10);
    let landing = f.service.landing(Some("capped"), None).await.expect("landing");
    assert_eq!(landing.closed, Some(ClosedReason::Full), "both sessions full");
    assert_eq!(landing.sessions.len(), 2, "full sessions are still listed");
}

test_support::on_both_databases!(
    registering_for_another_session_moves_the_registration,
    each_session_keeps_its_own_seats,
    a_group_commit_fails_only_the_registration_at_fault,
    the_kept_count_matches_the_registrations,
    a_full_webinar_takes_no_more_registrations,
    same_email_returns_the_existing_registration,
    jobs_are_written_with_the_registration,
    concurrent_duplicates_make_one_registration,
    closed_and_hidden_webinars_take_no_registrations,
    no_slug_means_the_next_upcoming_webinar,
);
