//! The email-job queue's state transitions, on SQLite and the local Postgres.
use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, EntityTrait};
use test_support::{TestDatabase, queue_and_pending_jobs, seed_due_jobs};
use webinar::queue::lease::Held;
use webinar::queue::{self, QueueLag, Status};

const LEASE: Duration = Duration::minutes(5);

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").expect("valid").with_timezone(&Utc)
}

async fn job(db: &DatabaseConnection, id: i64) -> queue::job::Model {
    queue::job::Entity::find_by_id(id).one(db).await.expect("query").expect("exists")
}

async fn lease(db: &DatabaseConnection, held: &Held) -> Option<queue::lease::Model> {
    queue::lease::Entity::find_by_id(held.id).one(db).await.expect("query")
}

/// The queue holds exactly the pending jobs, as they stand.
async fn assert_queue_is_the_pending_jobs(db: &DatabaseConnection) {
    let (queued, pending) = queue_and_pending_jobs(db).await.expect("queue and jobs");
    assert_eq!(queued, pending);
}

async fn claims_only_due_jobs_up_to_the_limit_with_a_lease(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, 2, now() + Duration::minutes(1)).await.expect("seed");
    assert!(queue::claim_due(&db, "w1", now(), LEASE, 10).await.expect("claim").is_none(), "nothing due yet");

    let later = now() + Duration::minutes(2);
    let before = queue::job::Entity::find().all(&db).await.expect("jobs");
    let claim = queue::claim_due(&db, "w1", later, LEASE, 5).await.expect("claim").expect("due jobs");
    assert_eq!(claim.jobs.len(), 5);
    assert_eq!(queue::job::Entity::find().all(&db).await.expect("jobs"), before, "a claim writes no job row");
    assert!(
        claim.jobs.iter().all(|job| before.iter().map(queue::pending::Model::from).any(|row| row == *job)),
        "claimed as stored"
    );
    let held = lease(&db, &claim.lease).await.expect("the lease row");
    assert_eq!((held.worker.as_str(), held.locked_until), ("w1", later + LEASE));
    let named: Vec<i64> = serde_json::from_str(&held.job_ids).expect("a JSON array");
    assert_eq!(named, claim.jobs.iter().map(|job| job.job_id).collect::<Vec<_>>());

    let rest = queue::claim_due(&db, "w2", later, LEASE, 10).await.expect("claim").expect("the rest");
    assert_eq!(rest.jobs.len(), 3, "the other worker gets only what is left");
    assert!(queue::claim_due(&db, "w3", later, LEASE, 10).await.expect("claim").is_none());
    assert_eq!(queue::lease::leased_jobs(&db).await.expect("count"), 8);
    assert_eq!(
        queue::lag(&db, later).await.expect("lag"),
        QueueLag { due: 8, oldest_due_at: Some(now() + Duration::minutes(1)) },
        "claimed jobs are due and unsent until recorded"
    );
    assert_queue_is_the_pending_jobs(&db).await;
}

async fn outcomes_apply_only_to_the_holder(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, 1, now()).await.expect("seed");
    let claim = queue::claim_due(&db, "w1", now(), LEASE, 4).await.expect("claim").expect("due jobs");
    let (held, ids): (Held, Vec<i64>) = (claim.lease, claim.jobs.iter().map(|job| job.job_id).collect());

    let intruder = Held { id: held.id, worker: "intruder".into() };
    assert_eq!(queue::mark_sent(&db, &intruder, &ids, now()).await.expect("update"), 0);
    assert_eq!(queue::mark_sent(&db, &held, &ids[..1], now()).await.expect("update"), 1);
    let sent = job(&db, ids[0]).await;
    assert_eq!((sent.status, sent.sent_at, sent.attempts), (Status::Sent, Some(now()), 1));
    assert_eq!(sent.attempted_by.as_deref(), Some("w1"));

    let retry_at = now() + Duration::seconds(30);
    queue::mark_failed(&db, &held, &ids[1..2], Some(retry_at), "429 Too Many Requests", now()).await.expect("update");
    let retried = job(&db, ids[1]).await;
    assert_eq!((retried.status, retried.run_at, retried.attempts), (Status::Pending, retry_at, 1));
    assert_eq!(retried.last_error.as_deref(), Some("429 Too Many Requests"));

    queue::mark_failed(&db, &held, &ids[2..3], None, "400 invalid email", now()).await.expect("update");
    let dead = job(&db, ids[2]).await;
    assert_eq!((dead.status, dead.last_error.as_deref()), (Status::Dead, Some("400 invalid email")));

    // The fourth is given back unsent: nothing is written, and it is
    // claimable again once the lease ends.
    assert!(queue::claim_due(&db, "w2", now(), LEASE, 4).await.expect("claim").is_none(), "still leased");
    queue::lease::end(&db, &held).await.expect("end");
    assert_eq!(lease(&db, &held).await, None);
    let released = job(&db, ids[3]).await;
    assert_eq!((released.status, released.attempts, released.attempted_by), (Status::Pending, 0, None));
    assert_eq!(queue::lag(&db, now()).await.expect("lag").due, 1, "only the released job: the retry is not due yet");
    let again = queue::claim_due(&db, "w2", now(), LEASE, 4).await.expect("claim").expect("released");
    assert_eq!(again.jobs.iter().map(|job| job.job_id).collect::<Vec<_>>(), [ids[3]]);
    assert_queue_is_the_pending_jobs(&db).await;
}

async fn expired_leases_are_rescued_or_dead(database: TestDatabase) {
    let db = database.connect().await.expect("connect");
    seed_due_jobs(&db, 1, now()).await.expect("seed");
    let crashed = queue::claim_due(&db, "crashed", now(), LEASE, 4).await.expect("claim").expect("due jobs");
    assert_eq!(queue::rescue_expired(&db, now() + LEASE - Duration::seconds(1), 3).await.expect("rescue"), 0);

    // Each expiry counts an attempt; the third of three makes the job dead.
    let mut at = now() + LEASE + Duration::seconds(1);
    assert_eq!(queue::rescue_expired(&db, at, 3).await.expect("rescue"), 4);
    assert_eq!(lease(&db, &crashed.lease).await, None, "the expired lease is gone");
    let last = crashed.jobs[0].job_id;
    for attempts in [2, 3] {
        let again = queue::claim_due(&db, "crashed", at, LEASE, 1).await.expect("claim").expect("rescued");
        assert_eq!(again.jobs.iter().map(|job| job.job_id).collect::<Vec<_>>(), [last]);
        at += LEASE + Duration::seconds(1);
        assert_eq!(queue::rescue_expired(&db, at, 3).await.expect("rescue"), 1);
        assert_eq!(job(&db, last).await.attempts, attempts);
    }
    let dead = job(&db, last).await;
    assert_eq!((dead.status, dead.attempts), (Status::Dead, 3));
    let others = job(&db, crashed.jobs[1].job_id).await;
    assert_eq!((others.status, others.attempts, others.attempted_by), (Status::Pending, 1, None));
    assert!(others.last_error.expect("a reason").contains("lease expired"));

    // The dead worker's late answer writes nothing over the rescue.
    let ids: Vec<i64> = crashed.jobs.iter().map(|job| job.job_id).collect();
    assert_eq!(queue::mark_sent(&db, &crashed.lease, &ids, at).await.expect("update"), 0);
    assert_queue_is_the_pending_jobs(&db).await;
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
                let Some(claim) = queue::claim_due(&db, worker, now(), LEASE, 100).await.expect("claim") else {
                    return mine;
                };
                let ids: Vec<i64> = claim.jobs.iter().map(|job| job.job_id).collect();
                queue::mark_sent(&db, &claim.lease, &ids, now()).await.expect("sent");
                queue::lease::end(&db, &claim.lease).await.expect("end");
                mine.extend(ids);
                // A worker sends between claims. Without a pause, SQLite's busy
                // handler (which sleeps between tries) let one claimer take every turn.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
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
    assert_eq!(queue_and_pending_jobs(&db).await.expect("queue"), (vec![], vec![]), "every job sent and dequeued");
}

/// The indexes after every migration: the queue's, in claim order, and on
/// the job table none that reads `status` (so recording an outcome is a HOT
/// update on Postgres, where the job table leaves room on its pages for it)
/// and none by session alone (a session's jobs are found through its registrations).
async fn the_job_table_has_no_index_that_reads_status(database: TestDatabase) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = database.connect().await.expect("connect");
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT tablename, indexname, indexdef FROM pg_indexes \
             WHERE tablename IN ('email_jobs', 'email_queue') AND indexname NOT LIKE '%_pkey'"
        }
        _ => {
            "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' \
             AND tbl_name IN ('email_jobs', 'email_queue') AND name NOT LIKE 'sqlite_autoindex_%'"
        }
    };
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.expect("indexes");
    let mut indexes: Vec<(String, String, String)> = rows
        .iter()
        .map(|row| {
            let column = |index| row.try_get_by_index::<String>(index).expect("a name or definition");
            (column(0), column(1), column(2).to_lowercase().replace('"', ""))
        })
        .collect();
    indexes.sort();
    let names: Vec<(&str, &str)> = indexes.iter().map(|(table, name, _)| (table.as_str(), name.as_str())).collect();
    assert_eq!(
        names,
        [("email_jobs", "idx_email_jobs_registration_session_kind"), ("email_queue", "idx_email_queue_due")],
        "and none by session alone: each would cost every registration four more index entries"
    );
    assert!(indexes.iter().all(|(_, _, definition)| !definition.contains("status")), "{indexes:?}");
    assert!(indexes[1].2.contains("(run_at, webinar_id, kind, job_id)"), "claim order: {}", indexes[1].2);
    if backend == DbBackend::Postgres {
        let options = "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'email_jobs'";
        let row = db.query_one_raw(Statement::from_string(backend, options)).await.expect("options").expect("a row");
        assert_eq!(row.try_get_by_index::<String>(0).expect("options"), "fillfactor=50");
    }
}

test_support::on_both_databases!(
    the_job_table_has_no_index_that_reads_status,
    claims_only_due_jobs_up_to_the_limit_with_a_lease,
    outcomes_apply_only_to_the_holder,
    expired_leases_are_rescued_or_dead,
    two_claimers_take_each_of_5000_jobs_exactly_once,
);
