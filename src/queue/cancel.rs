//! Cancelling and moving pending jobs: an unsubscribe, a reschedule, a
//! cancelled session. Jobs out on a lease are ended here too; their outcome
//! later leaves a cancelled job as it is.
use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::SelectStatement;
use sea_orm::{ActiveValue::Set, Condition};

use super::job::{ActiveModel, Column, Entity, Kind, Status, ended, of_session};
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
    registrants: SelectStatement,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let scope = Condition::all().add(Column::RegistrationId.in_subquery(registrants));
    end_pending_where(db, scope, Status::Suppressed, SUPPRESSED, now).await
}

/// Cancels a session's pending jobs of the given kinds, saying why;
/// `registrants` selects the session's registrations ([`of_session`]).
pub async fn cancel_pending_for_session<C: ConnectionTrait>(
    db: &C,
    session_id: i64,
    registrants: SelectStatement,
    kinds: &[Kind],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let scope = of_session(session_id, registrants).add(Column::Kind.is_in(kinds.iter().copied()));
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

/// Moves a session's pending jobs of `kind` to `run_at` (a reschedule);
/// `registrants` selects the session's registrations ([`of_session`]).
pub async fn move_pending<C: ConnectionTrait>(
    db: &C,
    session_id: i64,
    registrants: SelectStatement,
    kind: Kind,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let scope = of_session(session_id, registrants).add(Column::Kind.eq(kind));
    let moved = ActiveModel { run_at: Set(run_at), updated_at: Set(now), ..Default::default() };
    let updated =
        Entity::update_many().set(moved).filter(scope.clone().add(Column::Status.eq(Status::Pending))).exec(db).await?;
    pending::move_to(db, scope, run_at).await?;
    Ok(updated.rows_affected)
}
