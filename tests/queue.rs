//! The email-job queue's state transitions, on SQLite and the local Postgres.
use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait};
use webinar::email_job::{self, QueueLag, Status};
use webinar::testing::{TestDatabase, seed_due_jobs};

const LEASE: Duration = Duration::minutes(5);

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("valid").with_timezone(&Utc)
}

async fn job(db: &DatabaseConnection, id: i64) -> email_job::Model {
    email_job::Entity::find_by_id(id).one(db).await.expect("query").expect("exists")
}

async fn claims_only_due_jobs_up_to_the_limit_with_a_lease(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, 2, now() + Duration::minutes(1)).await.expect("seed");
    assert!(email_job::claim_due(&db, "w1", now(), LEASE, 10).await.expect("claim").is_empty(), "nothing due yet");

    let later = now() + Duration::minutes(2);
    let claimed = email_job::claim_due(&db, "w1", later, LEASE, 5).await.expect("claim");
    assert_eq!(claimed.len(), 5);
    for job in &claimed {
        assert_eq!((job.status, job.attempts), (Status::Running, 1));
        assert_eq!(job.locked_by.as_deref(), Some("w1"));
        assert_eq!(job.locked_until, Some(later + LEASE));
    }
    let rest = email_job::claim_due(&db, "w2", later, LEASE, 10).await.expect("claim");
    assert_eq!(rest.len(), 3, "the other worker gets only what is left");
    assert_eq!(
        email_job::lag(&db, later).await.expect("lag"),
        QueueLag { due: 8, oldest_due_at: Some(now() + Duration::minutes(1)) }
    );
}

async fn outcomes_apply_only_to_the_holder(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, 1, now()).await.expect("seed");
    let claimed = email_job::claim_due(&db, "w1", now(), LEASE, 4).await.expect("claim");
    let ids: Vec<i64> = claimed.iter().map(|job| job.id).collect();

    assert_eq!(email_job::mark_sent(&db, "intruder", &ids, now()).await.expect("update"), 0);
    assert_eq!(email_job::mark_sent(&db, "w1", &ids[..1], now()).await.expect("update"), 1);
    let sent = job(&db, ids[0]).await;
    assert_eq!((sent.status, sent.sent_at), (Status::Sent, Some(now())));

    let retry_at = now() + Duration::seconds(30);
    email_job::mark_failed(&db, "w1", &ids[1..2], Some(retry_at), "429 Too Many Requests", now())
        .await
        .expect("update");
    let retried = job(&db, ids[1]).await;
    assert_eq!((retried.status, retried.run_at, retried.attempts), (Status::Pending, retry_at, 1));
    assert_eq!(retried.last_error.as_deref(), Some("429 Too Many Requests"));

    email_job::mark_failed(&db, "w1", &ids[2..3], None, "400 invalid email", now()).await.expect("update");
    let dead = job(&db, ids[2]).await;
    assert_eq!((dead.status, dead.last_error.as_deref()), (Status::Dead, Some("400 invalid email")));

    email_job::release(&db, "w1", &ids[3..], now()).await.expect("update");
    let released = job(&db, ids[3]).await;
    assert_eq!((released.status, released.attempts, released.locked_by), (Status::Pending, 0, None));
    assert_eq!(
        email_job::lag(&db, now()).await.expect("lag").due,
        1,
        "only the released job: the retry is not due yet"
    );
}

async fn expired_leases_are_rescued_or_dead(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, 1, now()).await.expect("seed");
    let claimed = email_job::claim_due(&db, "crashed", now(), LEASE, 4).await.expect("claim");
    assert_eq!(email_job::rescue_expired(&db, now() + LEASE - Duration::seconds(1), 3).await.expect("rescue"), 0);

    let after = now() + LEASE + Duration::seconds(1);
    // Use up the attempts of one job: claimed twice more after rescues.
    let last = claimed[0].id;
    for round in 0..2 {
        email_job::rescue_expired(&db, after + LEASE * (2 * round), 3).await.expect("rescue");
        let again = email_job::claim_due(&db, "crashed", after + LEASE * (2 * round), LEASE, 1).await.expect("claim");
        assert_eq!(again.iter().map(|job| job.id).collect::<Vec<_>>(), [last]);
    }
    let rescued = email_job::rescue_expired(&db, after + LEASE * 5, 3).await.expect("rescue");
    assert_eq!(rescued, 1);
    let dead = job(&db, last).await;
    assert_eq!((dead.status, dead.attempts), (Status::Dead, 3));
    let others = job(&db, claimed[1].id).await;
    assert_eq!((others.status, others.locked_by), (Status::Pending, None));
    assert!(others.last_error.expect("a reason").contains("lease expired"));
}

async fn two_claimers_take_each_of_5000_jobs_exactly_once(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    let all = seed_due_jobs(&db, 1250, now()).await.expect("seed");
    assert_eq!(all.len(), 5000);
    let claimer = |worker: &'static str| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = email_job::claim_due(&db, worker, now(), LEASE, 100).await.expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                let ids: Vec<i64> = batch.iter().map(|job| job.id).collect();
                email_job::mark_sent(&db, worker, &ids, now()).await.expect("sent");
                mine.extend(ids);
            }
        })
    };
    let (first, second) = (claimer("w1"), claimer("w2"));
    let (first, second) = (first.await.expect("w1"), second.await.expect("w2"));
    let mut seen = HashSet::new();
    for id in first.iter().chain(&second) {
        assert!(seen.insert(*id), "job {id} was claimed twice");
    }
    assert_eq!(seen.len(), 5000, "every job claimed");
    assert!(!first.is_empty() && !second.is_empty(), "both claimers worked ({} / {})", first.len(), second.len());
}

/// The queue's indexes after every migration: the partial ones, and not the
/// old claim index (its `status` prefix drew "these ids, if running" onto it).
async fn the_queue_indexes_are_the_partial_ones(database: TestDatabase) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = database.connect().await.expect("connect");
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT indexname FROM pg_indexes WHERE tablename = 'email_jobs' AND indexname LIKE 'idx_%'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'email_jobs' AND name LIKE 'idx_%'",
    };
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("indexes");
    let mut names: Vec<String> = rows.iter().map(|row| row.try_get_by_index(0).expect("name")).collect();
    names.sort();
    assert_eq!(names, ["idx_email_jobs_pending", "idx_email_jobs_running"]);
}

webinar::on_both_databases!(
    the_queue_indexes_are_the_partial_ones,
    claims_only_due_jobs_up_to_the_limit_with_a_lease,
    outcomes_apply_only_to_the_holder,
    expired_leases_are_rescued_or_dead,
    two_claimers_take_each_of_5000_jobs_exactly_once,
);
