//! Migrations over data written by the schema before them, on SQLite and
//! Postgres: rows are written with the SQL of their time (today's entities
//! no longer match those tables), then the rest of the migrations run.
use chrono::{DateTime, Duration, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement, Value};
use test_support::{NoCounts, TestDatabase};
use webinar::queue::{self, Kind};
use webinar::{ManualClock, RegistrationRequest, Service, registration, session};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("valid").with_timezone(&Utc)
}

async fn run(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    db.execute_raw(statement).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// A webinar as the first migration's table holds it; returns its id.
async fn old_webinar(db: &DatabaseConnection, slug: &str, status: &str, capacity: Option<i32>, version: i32) -> i64 {
    run(
        db,
        "INSERT INTO webinars (slug, title, subtitle, description, speakers, starts_at, duration_minutes, timezone, \
            join_url, status, capacity, schedule_version, created_at, updated_at, agenda) \
         VALUES ($1, 'Old', '', '', '[]', $2, 45, 'Europe/Berlin', $3, $4, $5, $6, $7, $7, '[]')",
        vec![
            slug.into(),
            (now() + Duration::days(2)).into(),
            format!("https://meet.example.com/{slug}").into(),
            status.into(),
            capacity.into(),
            version.into(),
            now().into(),
        ],
    )
    .await;
    last_id(db, "webinars").await
}

/// The newest row's id in a table, read with plain SQL (the entity of today
/// would select columns the old table does not have).
async fn last_id(db: &DatabaseConnection, table: &str) -> i64 {
    let statement = Statement::from_string(db.get_database_backend(), format!("SELECT MAX(id) AS id FROM {table}"));
    let row = db.query_one_raw(statement).await.expect("query").expect("a row");
    row.try_get("", "id").expect("an id")
}

async fn old_registration(db: &DatabaseConnection, webinar_id: i64, n: usize) -> i64 {
    let email = format!("early{n}@example.com");
    run(
        db,
        "INSERT INTO registrations (webinar_id, name, email, email_key, token, created_at) VALUES ($1, $2, $3, $3, $4, $5)",
        vec![webinar_id.into(), format!("Early {n}").into(), email.into(), format!("{n:032}").into(), now().into()],
    )
    .await;
    last_id(db, "registrations").await
}

async fn old_job(db: &DatabaseConnection, registration_id: i64, webinar_id: i64, kind: &str, status: &str) {
    run(
        db,
        "INSERT INTO email_jobs (registration_id, webinar_id, kind, schedule_version, run_at, status, attempts, \
            created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $5, 0, $4, $4)",
        vec![registration_id.into(), webinar_id.into(), kind.into(), now().into(), status.into()],
    )
    .await;
}

/// A database that had registrations before the counter rows existed gets
/// them counted by the migration that adds them (and, later, on its session).
async fn registrations_before_the_counter_migration_are_counted(database: TestDatabase) {
    let db = sea_orm::Database::connect(&database.url).await.expect("connect");
    Migrator::up(&db, Some(3)).await.expect("the migrations before the counters");
    let id = old_webinar(&db, "old", "published", None, 0).await;
    for n in 0..7 {
        old_registration(&db, id, n).await;
    }
    Migrator::up(&db, None).await.expect("the rest");
    assert_eq!(registration::count::for_webinar(&db, id).await.expect("count"), 7);
    let service = Service::new(db.clone(), std::sync::Arc::new(ManualClock::new(now())), std::sync::Arc::new(NoCounts));
    let request = RegistrationRequest {
        webinar: Some("old".into()),
        name: "New".into(),
        email: "new@example.com".into(),
        ..Default::default()
    };
    assert_eq!(service.register(request).await.expect("register").registrations, 8);
}

/// Every webinar becomes one session with its schedule; every registration,
/// job, queued job and count lands on it; the calendar UID stays the one the
/// registrants' calendars know; and the queue still holds exactly the
/// pending jobs.
async fn each_webinar_becomes_one_session_with_everything_on_it(database: TestDatabase) {
    let db = sea_orm::Database::connect(&database.url).await.expect("connect");
    Migrator::up(&db, Some(11)).await.expect("the migrations before sessions");
    let launch = old_webinar(&db, "launch", "published", Some(100), 2).await;
    let gone = old_webinar(&db, "gone", "cancelled", None, 1).await;
    let mut launch_registrations = Vec::new();
    for n in 0..3 {
        let id = old_registration(&db, launch, n).await;
        old_job(&db, id, launch, "confirmation", "sent").await;
        old_job(&db, id, launch, "reminder_24h", "pending").await;
        launch_registrations.push(id);
    }
    let gone_registration = old_registration(&db, gone, 3).await;
    old_job(&db, gone_registration, gone, "cancelled", "sent").await;
    run(
        &db,
        "INSERT INTO email_queue (job_id, run_at, webinar_id, kind, registration_id, schedule_version, attempts) \
         SELECT id, run_at, webinar_id, kind, registration_id, schedule_version, attempts FROM email_jobs \
         WHERE status = 'pending'",
        vec![],
    )
    .await;
    run(
        &db,
        "INSERT INTO registration_counts (webinar_id, shard, registrations) VALUES ($1, 0, 3), ($2, 5, 1)",
        vec![launch.into(), gone.into()],
    )
    .await;

    Migrator::up(&db, None).await.expect("the sessions migration");

    let sessions = session::of_webinars(&db, [launch, gone]).await.expect("sessions");
    let [only] = sessions.get(&launch).expect("launch's").as_slice() else { panic!("one session: {sessions:?}") };
    assert_eq!(only.starts_at, now() + Duration::days(2));
    assert_eq!(
        (only.duration_minutes, only.join_url.as_str(), only.capacity, only.schedule_version, only.status),
        (45, "https://meet.example.com/launch", Some(100), 2, session::Status::Scheduled)
    );
    assert_eq!(only.calendar_uid, format!("webinar-{launch}"), "the .ics UID the calendars know");
    let [cancelled] = sessions.get(&gone).expect("gone's").as_slice() else { panic!("one session") };
    assert_eq!(cancelled.status, session::Status::Cancelled);

    let registrations = registration::Entity::find().all(&db).await.expect("registrations");
    assert_eq!(registrations.len(), 4, "nothing lost");
    for registration in &registrations {
        let expected = if registration.webinar_id == launch { only.id } else { cancelled.id };
        assert_eq!(registration.session_id, expected, "{registration:?}");
    }
    let jobs = queue::job::Entity::find().all(&db).await.expect("jobs");
    assert_eq!(jobs.len(), 7, "nothing lost");
    assert!(jobs.iter().all(|job| job.session_id == if job.webinar_id == launch { only.id } else { cancelled.id }));
    let (queued, pending) = test_support::queue_and_pending_jobs(&db).await.expect("queue");
    assert_eq!(queued.len(), 3);
    assert_eq!(queued, pending, "the queue holds exactly the pending jobs, with their session");
    assert_eq!(registration::count::for_session(&db, only.id).await.expect("count"), 3);
    assert_eq!(registration::count::for_webinar(&db, launch).await.expect("count"), 3);
    assert_eq!(registration::count::for_session(&db, cancelled.id).await.expect("count"), 1);

    // The migrated webinar takes registrations and its reminders still go by its session.
    let service = Service::new(db.clone(), std::sync::Arc::new(ManualClock::new(now())), std::sync::Arc::new(NoCounts));
    let request = RegistrationRequest {
        webinar: Some("launch".into()),
        name: "New".into(),
        email: "new@example.com".into(),
        ..Default::default()
    };
    let outcome = service.register(request).await.expect("register");
    assert_eq!((outcome.session.id, outcome.registrations, outcome.session_registrations), (only.id, 4, 4));
    let kinds: Vec<Kind> =
        queue::for_registration(&db, outcome.registration.id).await.expect("jobs").iter().map(|job| job.kind).collect();
    assert_eq!(kinds, [Kind::Confirmation, Kind::Reminder24h, Kind::Reminder3h, Kind::Reminder15m]);
    // Down past the sessions migration (the index one after it goes back first).
    assert!(Migrator::down(&db, Some(2)).await.is_err(), "sessions are not folded back into webinars");
}

test_support::on_both_databases!(
    registrations_before_the_counter_migration_are_counted,
    each_webinar_becomes_one_session_with_everything_on_it,
);
