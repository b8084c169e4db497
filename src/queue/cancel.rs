//! Cancelling and moving pending jobs: an unsubscribe, a reschedule, a
//! cancelled session. Jobs out on a lease are ended here too; their outcome
//! later leaves a cancelled job as it is.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, Condition};

use super::job::{ActiveModel, Column, Entity, Kind, Status, ended};
use super::pending;

/// Why a suppressed job ended, wherever it was suppressed.
pub(super) const SUPPRESSED: &str = "address suppressed";

/// Cancels a registration's jobs that have not gone out (on unsubscribe).
pub async fn cancel_pending_for_registration<C: ConnectionTrait>(
    db: &C,
    registration_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let scope = Condition::all().add(Column::RegistrationId.eq(registration_id));
    end_pending_where(db, scope, Status::Cancelled, reason, now).await
}

/// Ends as suppressed the pending jobs of the registrations `registrants`
/// selects (their address went on the suppression list).
pub async fn suppress_pending<C: ConnectionTrait>(
    db: &C,
    registrants: sea_orm::sea_query::SelectStatement,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let scope = Condition::all().add(Column::RegistrationId.in_subquery(registrants));
    end_pending_where(db, scope, Status::Suppressed, SUPPRESSED, now).await
}

/// Cancels a session's pending jobs of the given kinds, saying why.
pub async fn cancel_pending_for_session<C: ConnectionTrait>(
    db: &C,
    session_id: i64,
    kinds: &[Kind],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let scope = Condition::all().add(Column::SessionId.eq(session_id)).add(Column::Kind.is_in(kinds.iter().copied()));
    end_pending_where(db, scope, Status::Cancelled, reason, now).await
}

async fn end_pending_where<C: ConnectionTrait>(
    db: &C,
    scope: Condition,
    status: Status,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    pending::remove_pending(db, scope.clone()).await?;
    let updated = Entity::update_many()
        .set(ended(status, reason, now))
        .filter(scope.add(Column::Status.eq(Status::Pending)))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}

/// Moves a session's pending jobs of `kind` to `run_at` (a reschedule).
pub async fn move_pending<C: ConnectionTrait>(
    db: &C,
    session_id: i64,
    kind: Kind,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let moved = ActiveModel { run_at: Set(run_at), updated_at: Set(now), ..Default::default() };
    let updated = Entity::update_many()
        .set(moved)
        .filter(Column::SessionId.eq(session_id))
        .filter(Column::Kind.eq(kind))
        .filter(Column::Status.eq(Status::Pending))
        .exec(db)
        .await?;
    pending::move_to(db, session_id, kind, run_at).await?;
    Ok(updated.rows_affected)
}
