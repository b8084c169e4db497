//! Test support: a fresh database per test, on SQLite or the local Postgres,
//! removed again when the test ends.
use std::path::PathBuf;

use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbErr, QueryFilter};

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
        crate::db::connect(&self.url, 5).await
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
                super::$test($crate::testing::TestDatabase::sqlite().expect("a fresh SQLite database")).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test($crate::testing::TestDatabase::postgres().await.expect("a fresh Postgres database")).await
            })*
        }
    };
}

/// A count publisher for tests that do not follow counts.
pub struct NoCounts;

impl crate::CountPublisher for NoCounts {
    fn publish(&self, _webinar_id: i64, _registrations: u64) {}
}

/// Seeds a published webinar starting two days after `due_at`, with
/// `registrations` registrants, each with the four job kinds due at `due_at`.
/// Returns the job ids. Bulk inserts, so 100,000 jobs take seconds.
pub async fn seed_due_jobs<C: ConnectionTrait>(
    db: &C,
    registrations: usize,
    due_at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>, DbErr> {
    use crate::email_job::{self, Kind};
    use crate::registration;
    use crate::webinar::{self, NewWebinar, Status};
    use sea_orm::{ActiveValue::Set, EntityTrait};

    let new = NewWebinar {
        slug: format!("seeded-{}", unique_name()),
        title: "Seeded".into(),
        subtitle: String::new(),
        description: String::new(),
        speakers: vec![],
        agenda: vec![],
        starts_at: due_at + chrono::Duration::days(2),
        duration_minutes: 60,
        timezone: chrono_tz::UTC,
        join_url: "https://meet.example.com/seeded".into(),
        status: Status::Published,
        capacity: None,
    };
    let webinar = webinar::create(db, new, due_at).await?;
    let rows: Vec<registration::ActiveModel> = (0..registrations)
        .map(|n| registration::ActiveModel {
            webinar_id: Set(webinar.id),
            name: Set(format!("Registrant {n}")),
            email: Set(format!("r{n}@example.com")),
            email_key: Set(format!("r{n}@example.com")),
            token: Set(Alphanumeric.sample_string(&mut rand::rng(), 32)),
            created_at: Set(due_at),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(1000) {
        registration::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    let ids: Vec<i64> = registration::Entity::find()
        .filter(registration::Column::WebinarId.eq(webinar.id))
        .all(db)
        .await?
        .into_iter()
        .map(|registration| registration.id)
        .collect();
    if let Some(&first) = ids.first() {
        crate::registration_count::add(db, webinar.id, first, ids.len() as i64).await?;
    }
    let kinds = [Kind::Confirmation, Kind::Reminder24h, Kind::Reminder3h, Kind::Reminder15m];
    let jobs: Vec<email_job::ActiveModel> = ids
        .iter()
        .flat_map(|&registration_id| {
            kinds.iter().map(move |&kind| email_job::ActiveModel {
                registration_id: Set(registration_id),
                webinar_id: Set(webinar.id),
                kind: Set(kind),
                schedule_version: Set(0),
                run_at: Set(due_at),
                status: Set(email_job::Status::Pending),
                attempts: Set(0),
                created_at: Set(due_at),
                updated_at: Set(due_at),
                ..Default::default()
            })
        })
        .collect();
    for chunk in jobs.chunks(1000) {
        email_job::Entity::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    let seeded = sea_orm::Condition::all().add(email_job::Column::WebinarId.eq(webinar.id));
    crate::email_queue::add_pending(db, seeded).await?;
    let jobs = email_job::Entity::find().filter(email_job::Column::WebinarId.eq(webinar.id)).all(db).await?;
    Ok(jobs.into_iter().map(|job| job.id).collect())
}

/// A job's row as the queue would hold it, were it pending.
pub fn as_queued(job: &crate::email_job::Model) -> crate::email_queue::Model {
    crate::email_queue::Model {
        job_id: job.id,
        run_at: job.run_at,
        webinar_id: job.webinar_id,
        kind: job.kind,
        registration_id: job.registration_id,
        schedule_version: job.schedule_version,
        attempts: job.attempts,
    }
}

/// The queue's rows, and the pending jobs as the queue would hold them, each
/// by id, read in one snapshot (a worker may be recording outcomes
/// meanwhile). Whatever happened to the jobs, the two must be the same.
pub async fn queue_and_pending_jobs(
    db: &DatabaseConnection,
) -> Result<(Vec<crate::email_queue::Model>, Vec<crate::email_queue::Model>), DbErr> {
    use crate::{email_job, email_queue};
    use sea_orm::{DatabaseBackend, EntityTrait, IsolationLevel, QueryOrder, TransactionTrait};
    // SQLite's transactions read one snapshot from their first read on.
    let isolation = (db.get_database_backend() == DatabaseBackend::Postgres).then_some(IsolationLevel::RepeatableRead);
    let snapshot = db.begin_with_config(isolation, None).await?;
    let queued = email_queue::Entity::find().order_by_asc(email_queue::Column::JobId).all(&snapshot).await?;
    let pending = email_job::Entity::find()
        .filter(email_job::Column::Status.eq(email_job::Status::Pending))
        .order_by_asc(email_job::Column::Id)
        .all(&snapshot)
        .await?;
    snapshot.commit().await?;
    Ok((queued, pending.iter().map(as_queued).collect()))
}
