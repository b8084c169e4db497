//! Test support: a fresh database per test, on SQLite or the local Postgres,
//! removed again when the test ends; seeding a burst of due jobs; and the
//! queue's invariant (it holds exactly the pending jobs), read from outside.
use std::path::PathBuf;

use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbErr, QueryFilter};
use webinar::queue;

/// Where tests create and drop their Postgres databases.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Postgres { admin_url: String, name: String },
}

fn unique_name() -> String {
    format!("webinar_test_{}", Alphanumeric.sample_string(&mut rand::rng(), 12).to_lowercase())
}

impl TestDatabase {
    pub fn sqlite() -> Result<Self, std::io::Error> {
        let dir = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}?mode=rwc", dir.join("webinar.db").display());
        Ok(Self { url, cleanup: Cleanup::Directory(dir) })
    }

    pub async fn postgres() -> Result<Self, DbErr> {
        let admin_url = postgres_admin_url();
        let name = unique_name();
        let admin = Database::connect(&admin_url).await?;
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        admin.close().await?;
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Ok(Self { url, cleanup: Cleanup::Postgres { admin_url, name } })
    }

    /// A migrated connection to this database.
    pub async fn connect(&self) -> Result<DatabaseConnection, DbErr> {
        webinar::store::connect(&self.url, 5).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop runs inside the test's runtime; use a runtime of our own on another thread.
                let (admin_url, owned_name) = (admin_url.clone(), name.clone());
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime.block_on(async {
                        let admin = Database::connect(&admin_url).await.map_err(std::io::Error::other)?;
                        admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {owned_name} WITH (FORCE)"))
                            .await
                            .map_err(std::io::Error::other)?;
                        admin.close().await.map_err(std::io::Error::other)
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop test database {name}");
                }
            }
        }
    }
}

/// Runs each listed `async fn(TestDatabase)` twice: once on a fresh SQLite
/// file and once on a fresh Postgres database (test modules `sqlite` and `postgres`).
#[macro_export]
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test($crate::TestDatabase::sqlite().expect("a fresh SQLite database")).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test($crate::TestDatabase::postgres().await.expect("a fresh Postgres database")).await
            })*
        }
    };
}

/// A count publisher for tests that do not follow counts.
pub use webinar::registration::live::NoCounts;

/// Seeds a published webinar starting two days after `at` with
/// `registrations` registrants made at `at`, in bulk inserts of 1,000 (rows
/// only a test writes this way), and their count.
pub async fn seed_registrations<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    registrations: usize,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<webinar::webinar::Model, DbErr> {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    use webinar::registration;
    use webinar::webinar::{self as event, NewWebinar, Status};

    let new = NewWebinar {
        // A slug the webinar's rules take (the database's unique name has underscores).
        slug: format!("seeded-{}", unique_name().replace('_', "-")),
        title: "Seeded".into(),
        subtitle: String::new(),
        description: String::new(),
        speakers: vec![],
        agenda: vec![],
        starts_at: at + chrono::Duration::days(2),
        duration_minutes: 60,
        timezone: chrono_tz::UTC,
        join_url: "https://meet.example.com/seeded".into(),
        status: Status::Published,
        capacity: None,
    };
    let webinar = event::create(db, new, at).await?;
    let session = the_session(db, webinar.id).await?;
    let rows: Vec<registration::ActiveModel> = (0..registrations)
        .map(|n| registration::ActiveModel {
            webinar_id: Set(webinar.id),
            session_id: Set(session.id),
            name: Set(format!("Registrant {n}")),
            email: Set(format!("r{n}@example.com")),
            email_key: Set(format!("r{n}@example.com")),
            token: Set(Alphanumeric.sample_string(&mut rand::rng(), 32)),
            created_at: Set(at),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(1000) {
        registration::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    let first = registration::Entity::find().filter(registration::Column::WebinarId.eq(webinar.id)).one(db).await?;
    if let Some(first) = first {
        registration::count::add(db, webinar.id, session.id, first.id, registrations as i64).await?;
    }
    Ok(webinar)
}

/// The first session of a webinar (a seeded webinar's only one).
pub async fn the_session<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<webinar::session::Model, DbErr> {
    let sessions = webinar::session::of_webinar(db, webinar_id).await?;
    sessions.into_iter().next().ok_or(DbErr::RecordNotFound(format!("a session of webinar {webinar_id}")))
}

/// Gives a webinar's first session `capacity` seats; returns the session.
pub async fn set_capacity<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    capacity: Option<i32>,
) -> Result<webinar::session::Model, DbErr> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let mut session = the_session(db, webinar_id).await?.into_active_model();
    session.capacity = Set(capacity);
    session.update(db).await
}

/// Seeds [`seed_registrations`] with each registrant's four job kinds due at
/// `due_at`, the jobs through the queue, one statement per kind, all in one
/// transaction; 100,000 jobs take seconds. Returns the job ids.
pub async fn seed_due_jobs<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    registrations: usize,
    due_at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>, DbErr> {
    use sea_orm::{EntityTrait, TransactionSession};
    use webinar::email::Kind;
    use webinar::{queue, registration};

    let webinar = seed_registrations(db, registrations, due_at).await?;
    // One transaction: a worker polling meanwhile sees the whole burst at once.
    let txn = db.begin().await?;
    let session = the_session(db, webinar.id).await?;
    for kind in [Kind::Confirmation, Kind::Reminder24h, Kind::Reminder3h, Kind::Reminder15m] {
        let registrants = registration::subscribed(session.id);
        let notice = queue::Notice { kind, schedule_version: 0, run_at: due_at };
        queue::queue_for_registrants(&txn, webinar.id, session.id, registrants, notice, due_at).await?;
    }
    txn.commit().await?;
    let jobs = queue::job::Entity::find().filter(queue::job::Column::WebinarId.eq(webinar.id)).all(db).await?;
    Ok(jobs.into_iter().map(|job| job.id).collect())
}

/// The queue's rows, and the pending jobs as the queue would hold them, each
/// by id, read in one snapshot (a worker may be recording outcomes
/// meanwhile). Whatever happened to the jobs, the two must be the same.
pub async fn queue_and_pending_jobs(
    db: &DatabaseConnection,
) -> Result<(Vec<queue::pending::Model>, Vec<queue::pending::Model>), DbErr> {
    use sea_orm::{DatabaseBackend, EntityTrait, IsolationLevel, QueryOrder, TransactionTrait};
    use webinar::queue::{job, pending};
    // SQLite's transactions read one snapshot from their first read on.
    let isolation = (db.get_database_backend() == DatabaseBackend::Postgres).then_some(IsolationLevel::RepeatableRead);
    let snapshot = db.begin_with_config(isolation, None).await?;
    let queued = pending::Entity::find().order_by_asc(pending::Column::JobId).all(&snapshot).await?;
    let jobs = job::Entity::find()
        .filter(job::Column::Status.eq(job::Status::Pending))
        .order_by_asc(job::Column::Id)
        .all(&snapshot)
        .await?;
    snapshot.commit().await?;
    Ok((queued, jobs.iter().map(pending::Model::from).collect()))
}

/// Makes a webinar's pending jobs of `kind` dead letters with `reason`, as
/// if the provider had refused them on their last attempt: a fixture for the
/// admin's dead-letter pages, written as the queue's outcome would write it
/// (out of the queue, then dead, in one transaction).
pub async fn make_dead_letters(
    db: &DatabaseConnection,
    webinar_id: i64,
    kind: webinar::email::Kind,
    reason: &str,
) -> Result<u64, DbErr> {
    use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
    use webinar::queue::{job, pending};
    let txn = db.begin().await?;
    let these = sea_orm::Condition::all().add(job::Column::WebinarId.eq(webinar_id)).add(job::Column::Kind.eq(kind));
    pending::Entity::delete_many()
        .filter(pending::Column::WebinarId.eq(webinar_id))
        .filter(pending::Column::Kind.eq(kind))
        .exec(&txn)
        .await?;
    let dead = job::ActiveModel {
        status: Set(job::Status::Dead),
        attempts: Set(8),
        last_error: Set(Some(reason.to_owned())),
        ..Default::default()
    };
    let killed = job::Entity::update_many()
        .set(dead)
        .filter(these.add(job::Column::Status.eq(job::Status::Pending)))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(killed)
}
