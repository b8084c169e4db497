//! Registration against a real database, run on SQLite and on the local Postgres.
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use test_support::TestDatabase;
use webinar::queue::{self, Kind};
use webinar::webinar::{NewWebinar, Status};
use webinar::{ClosedReason, CountPublisher, DomainError, ManualClock, RegistrationRequest, Service, registration};

#[derive(Default)]
struct RecordedCounts(Mutex<Vec<(i64, u64)>>);

impl CountPublisher for RecordedCounts {
    fn publish(&self, webinar_id: i64, registrations: u64) {
        self.0.lock().expect("lock").push((webinar_id, registrations));
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
    assert_eq!(*f.counts.0.lock().expect("lock"), [(w.id, 1)], "only the new registration is published");
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
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let f = fixture(database).await;
    for round in 0..5 {
        let slug = format!("small{round}");
        let mut small = webinar(&f.db, &slug, Status::Published, Duration::days(2)).await.into_active_model();
        small.capacity = Set(Some(5));
        small.update(&f.db).await.expect("set a capacity");
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

/// A database that had registrations before the counter rows existed gets
/// them counted by the migration that adds them.
async fn registrations_before_the_counter_migration_are_counted(database: TestDatabase) {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::ActiveValue::Set;
    let db = sea_orm::Database::connect(&database.url).await.expect("connect");
    Migrator::up(&db, Some(3)).await.expect("the migrations before the counters");
    let w = webinar(&db, "old", Status::Published, Duration::days(2)).await;
    let rows = (0..7).map(|n| registration::ActiveModel {
        webinar_id: Set(w.id),
        name: Set(format!("Early {n}")),
        email: Set(format!("e{n}@example.com")),
        email_key: Set(format!("e{n}@example.com")),
        token: Set(format!("early-token-{n}")),
        created_at: Set(now()),
        ..Default::default()
    });
    registration::Entity::insert_many(rows).exec_without_returning(&db).await.expect("old registrations");
    Migrator::up(&db, None).await.expect("the rest");
    assert_eq!(webinar::registration::count::for_webinar(&db, w.id).await.expect("count"), 7);
    let f = fixture(database).await;
    let outcome = f.service.register(request("old", "new@example.com")).await.expect("register");
    assert_eq!(outcome.registrations, 8);
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
    let new = |w: &webinar::webinar::Model, email: String| {
        let valid = request(&w.slug, &email).validate().expect("valid");
        NewRegistration::new(w.clone(), valid, now()).expect("open")
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

test_support::on_both_databases!(
    a_group_commit_fails_only_the_registration_at_fault,
    the_kept_count_matches_the_registrations,
    registrations_before_the_counter_migration_are_counted,
    a_full_webinar_takes_no_more_registrations,
    same_email_returns_the_existing_registration,
    jobs_are_written_with_the_registration,
    concurrent_duplicates_make_one_registration,
    closed_and_hidden_webinars_take_no_registrations,
    no_slug_means_the_next_upcoming_webinar,
);
