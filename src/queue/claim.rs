//! Claiming: due jobs leased to one worker, in the order they go out.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use super::lease::{self, Channel, Held};
use super::pending;

/// Jobs a worker claimed, and the lease that holds them.
#[derive(Clone, Debug)]
pub struct Claim {
    pub lease: Held,
    /// Their queue rows (all a send needs), in claim order: due time,
    /// webinar, kind, id.
    pub jobs: Vec<pending::Model>,
}

/// Claims up to `limit` due jobs for `worker`, leasing them until `now + lease`,
/// or `None` when nothing is due. Any number of workers in any number of
/// processes may claim side by side and never take the same job: claims take
/// turns ([`lease::begin_claim`]). No job or queue row is written.
pub async fn claim_due(
    db: &DatabaseConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease_for: chrono::Duration,
    limit: u64,
) -> Result<Option<Claim>, DbErr> {
    let backend = db.get_database_backend();
    // Without sorts the plan is the queue's index read in claim order up to
    // the limit. Statistics a burst outran (a table seeded a moment ago) had
    // Postgres fetch and sort every due job instead: 100,000 rows for an
    // 8,000-row claim, 50-120 ms each. The same estimates drew a parallel
    // plan, in which each worker process hashed every leased id again: 77 ms
    // a claim over a drain on 2 cores, 58 ms without.
    let settings = "SET LOCAL enable_sort = off; SET LOCAL max_parallel_workers_per_gather = 0; ";
    let claim = lease::begin_claim(db, Channel::Email, settings).await?;
    let jobs = pending::Entity::find()
        .filter(pending::Column::RunAt.lte(now))
        .filter(lease::not_leased(backend, Channel::Email, (pending::Entity, pending::Column::JobId)))
        // Jobs of one webinar and kind go out together: claiming them together
        // fills provider requests instead of splitting each claim four ways.
        .order_by_asc(pending::Column::RunAt)
        .order_by_asc(pending::Column::WebinarId)
        .order_by_asc(pending::Column::Kind)
        .order_by_asc(pending::Column::JobId)
        .limit(limit)
        .all(&claim)
        .await?;
    let ids: Vec<i64> = jobs.iter().map(|job| job.job_id).collect();
    let lease = lease::finish_claim(claim, Channel::Email, worker, &ids, now + lease_for, now).await?;
    Ok(lease.map(|lease| Claim { lease, jobs }))
}
