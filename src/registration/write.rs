//! The write paths: a new registration with its count and email jobs in
//! one transaction (one statement on Postgres), a group of them in one, a
//! registrant moving to another session of the webinar, and the erase and
//! unsubscribe that undo them.
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::entity::prelude::*;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, IntoActiveModel, TransactionSession, TransactionTrait, TryInsertResult,
};

use super::count::Counts;
use super::{ActiveModel, Column, Entity, Model, TOKEN_LEN, ValidRegistration, count, find_by_email};
use crate::email::{self, Kind};
use crate::email_address::EmailAddress;
use crate::error::{ClosedReason, DomainError};
use crate::webhook::{self, Announcement, EventType};
use crate::{queue, session, webinar};

/// The result of a registration attempt that did not fail.
#[derive(Clone, Debug)]
pub struct RegistrationOutcome {
    pub registration: Model,
    pub webinar: webinar::Model,
    /// The session the registrant is in now.
    pub session: session::Model,
    /// False when this email was already registered: no new registration.
    pub created: bool,
    /// True when this email was registered for another session of the
    /// webinar and moved to this one.
    pub moved: bool,
    /// The webinar's registrations, over all its sessions.
    pub registrations: u64,
    /// The session's registrations.
    pub session_registrations: u64,
}

/// A registration checked against its webinar and session and ready to
/// write, with the email jobs it creates.
pub struct NewRegistration {
    webinar: webinar::Model,
    session: session::Model,
    /// The row to insert; its id is the database's to give (0 until then).
    row: Model,
    email: EmailAddress,
    jobs: Vec<(Kind, DateTime<Utc>)>,
}

impl NewRegistration {
    /// Refuses a webinar or session that takes no registrations at `now`,
    /// and a session of another webinar.
    pub fn new(
        webinar: webinar::Model,
        session: session::Model,
        input: ValidRegistration,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        webinar.check_open()?;
        if session.webinar_id != webinar.id {
            return Err(DomainError::SessionNotFound);
        }
        session.check_open(now)?;
        let row = Model {
            id: 0,
            webinar_id: webinar.id,
            session_id: session.id,
            name: input.name,
            email: input.email.as_str().to_owned(),
            email_key: input.email.key(),
            company: input.company,
            icp: input.icp,
            utm_source: input.utm_source,
            utm_medium: input.utm_medium,
            utm_campaign: input.utm_campaign,
            token: Alphanumeric.sample_string(&mut rand::rng(), TOKEN_LEN),
            unsubscribed_at: None,
            created_at: now,
        };
        let jobs = email::schedule::schedule(now, session.starts_at);
        Ok(Self { webinar, session, row, email: input.email, jobs })
    }

    /// Whether the session has seats to count (such registrations are written one at a time).
    pub fn counts_seats(&self) -> bool {
        self.session.capacity.is_some()
    }
}

/// Writes one registration in its own transaction (on Postgres, without a
/// seat limit, in one statement): the registration row, its count and its
/// email jobs commit together. The same email again returns the existing
/// registration.
pub async fn write_alone<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    new: NewRegistration,
) -> Result<RegistrationOutcome, DomainError> {
    let postgres = db.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
    let written = if postgres && !new.counts_seats() {
        // One statement is atomic by itself: no transaction to open and commit.
        write_new(db, &new.row, &new.jobs).await?
    } else {
        // Immediate on SQLite: the seat count is read before the insert, and a
        // read transaction that then writes fails at once ("busy") when another
        // writer committed in between, instead of waiting its turn.
        let txn = crate::store::begin_write(db).await?;
        if new.counts_seats() {
            // Registrations for a session with seats to count take turns.
            session::lock(&txn, new.session.id).await?;
        }
        let written = write_new(&txn, &new.row, &new.jobs).await?;
        // Counted after our own insert, inside the transaction: a full session undoes it.
        if written.is_some_and(|(_, counts)| new.session.is_full(counts.session.saturating_sub(1))) {
            txn.rollback().await?;
            return Err(DomainError::Closed(ClosedReason::Full));
        }
        announce_written(&txn, std::slice::from_ref(&new), &[written]).await?;
        txn.commit().await?;
        written
    };
    outcome(db, new, written).await
}

/// Writes registrations without seat limits in one transaction (group
/// commit: one `BEGIN` and one `COMMIT` for all of them). Each keeps its own
/// outcome; if the transaction fails, nothing of it is written.
pub async fn write_together<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    group: &[NewRegistration],
) -> Result<Vec<Option<(i64, Counts)>>, DbErr> {
    let txn = db.begin().await?;
    let mut written = Vec::with_capacity(group.len());
    for new in group {
        written.push(write_new(&txn, &new.row, &new.jobs).await?);
    }
    announce_written(&txn, group, &written).await?;
    txn.commit().await?;
    Ok(written)
}

/// `registration.created` for the registrations just written. On Postgres
/// each registration's own statement wrote it; elsewhere (SQLite) the group
/// writes them together, in its transaction: one lookup and two statements
/// however many it holds.
async fn announce_written<C: ConnectionTrait>(
    txn: &C,
    group: &[NewRegistration],
    written: &[Option<(i64, Counts)>],
) -> Result<(), DbErr> {
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    let created = group.iter().zip(written).filter_map(|(new, written)| {
        written.map(|(id, _)| Announcement::of_registration(EventType::RegistrationCreated, id, new.row.created_at))
    });
    webhook::event::announce(txn, created.collect()).await.map(drop)
}

/// The outcome of a write: the new registration with its counts, or, when
/// the email was registered already (`written` is `None`), the existing one,
/// moved to the new session when it was in another.
pub async fn outcome<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    new: NewRegistration,
    written: Option<(i64, Counts)>,
) -> Result<RegistrationOutcome, DomainError> {
    let (registration, created, moved, counts) = match written {
        Some((id, counts)) => (Model { id, ..new.row.clone() }, true, false, counts),
        None => {
            let existing = find_by_email(db, new.webinar.id, &new.email).await?;
            let existing = existing.ok_or(DbErr::RecordNotFound("registration after conflict".into()))?;
            match existing.session_id == new.session.id {
                true => {
                    let counts = count::for_session_of(db, new.webinar.id, new.session.id).await?;
                    (existing, false, false, counts)
                }
                false => {
                    let (moved, counts) = move_to_session(db, &new, existing.id).await?;
                    (moved, false, true, counts)
                }
            }
        }
    };
    let NewRegistration { webinar, session, .. } = new;
    Ok(RegistrationOutcome {
        registration,
        webinar,
        session,
        created,
        moved,
        registrations: counts.webinar,
        session_registrations: counts.session,
    })
}

/// Moves registration `id` into `new`'s session ("switch me to Thursday"):
/// its count moves, its emails still to come are withdrawn, the new
/// session's confirmation and reminders are queued and `registration.moved`
/// is announced, in one transaction.
/// A registrant who unsubscribed stays unsubscribed: moved, but not emailed.
async fn move_to_session<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    new: &NewRegistration,
    id: i64,
) -> Result<(Model, Counts), DomainError> {
    let txn = crate::store::begin_write(db).await?;
    // The session's lock first, as a registration into it takes it: moves into a
    // session with seats take turns with its registrations.
    if new.counts_seats() {
        session::lock(&txn, new.session.id).await?;
    }
    let current = lock_registration(&txn, id).await?.ok_or(DomainError::RegistrationNotFound)?;
    if current.session_id == new.session.id {
        // A concurrent request moved it here first.
        txn.commit().await?;
        return Ok((current, count::for_session_of(db, new.webinar.id, new.session.id).await?));
    }
    if new.counts_seats() && new.session.is_full(count::for_session(&txn, new.session.id).await?) {
        txn.rollback().await?;
        return Err(DomainError::Closed(ClosedReason::Full));
    }
    let now = new.row.created_at;
    count::add(&txn, current.webinar_id, current.session_id, current.id, -1).await?;
    count::add(&txn, current.webinar_id, new.session.id, current.id, 1).await?;
    queue::cancel_pending_for_registration(&txn, current.id, "moved to another session", now).await?;
    if current.unsubscribed_at.is_none() {
        queue::create_pending(&txn, current.id, current.webinar_id, new.session.id, &new.jobs, now).await?;
    }
    let from = current.session_id;
    let moved = ActiveModel { session_id: Set(new.session.id), ..current.into() }.update(&txn).await?;
    let announced = Announcement::of_registration(EventType::RegistrationMoved, moved.id, now);
    webhook::event::announce(&txn, vec![announced]).await?;
    let counts = count::for_session_of(&txn, new.webinar.id, new.session.id).await?;
    txn.commit().await?;
    tracing::info!(registration = moved.id, from, to = new.session.id, "moved to another session");
    Ok((moved, counts))
}

/// A registration, its row held until the transaction ends (Postgres; SQLite
/// has one writer at a time).
async fn lock_registration<C: ConnectionTrait>(txn: &C, id: i64) -> Result<Option<Model>, DbErr> {
    use sea_orm::QuerySelect;
    match txn.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => Entity::find_by_id(id).lock_exclusive().one(txn).await,
        _ => Entity::find_by_id(id).one(txn).await,
    }
}

/// Writes a new registration, bumps its session's count and queues its
/// `jobs`; returns its id and the counts including it, or `None` when the
/// email is registered already (nothing written).
async fn write_new<C: ConnectionTrait>(
    db: &C,
    new: &Model,
    jobs: &[(Kind, DateTime<Utc>)],
) -> Result<Option<(i64, Counts)>, DbErr> {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        return write_new_in_one_statement(db, new, jobs).await;
    }
    let row = ActiveModel { id: NotSet, ..new.clone().into_active_model() };
    let inserted =
        Entity::insert(row).on_conflict_do_nothing_on([Column::WebinarId, Column::EmailKey]).exec(db).await?;
    let TryInsertResult::Inserted(result) = inserted else { return Ok(None) };
    let id = result.last_insert_id;
    let counts = count::add_one_and_count(db, new.webinar_id, new.session_id, id).await?;
    queue::create_pending(db, id, new.webinar_id, new.session_id, jobs, new.created_at).await?;
    Ok(Some((id, counts)))
}

/// [`write_new`] on Postgres as one statement: data-modifying CTEs insert
/// the registration, upsert its count shard, insert its jobs and queue them,
/// write its `registration.created` event when an endpoint wants it, and
/// the statement returns the id and the counts. One round trip instead of five
/// (BEGIN, three writes, COMMIT): the registration path's largest cost was
/// waiting on the database. The CTEs share one snapshot, so each count is
/// the bumped shard's new value plus the other rows' sum.
async fn write_new_in_one_statement<C: ConnectionTrait>(
    db: &C,
    new: &Model,
    jobs: &[(Kind, DateTime<Utc>)],
) -> Result<Option<(i64, Counts)>, DbErr> {
    use sea_orm::Value;
    let mut values: Vec<Value> = vec![
        new.webinar_id.into(),
        new.name.clone().into(),
        new.email.clone().into(),
        new.email_key.clone().into(),
        new.company.clone().into(),
        new.icp.clone().into(),
        new.utm_source.clone().into(),
        new.utm_medium.clone().into(),
        new.utm_campaign.clone().into(),
        new.token.clone().into(),
        new.created_at.into(),
        new.session_id.into(),
    ];
    let jobs = queue::postgres_ctes(&mut values, "registered", "$1", "$12", "$11", jobs);
    let announced = webhook::event::postgres_ctes(&mut values, "registered", "$11");
    let sql = format!(
        "WITH registered AS (\
            INSERT INTO registrations (webinar_id, name, email, email_key, company, icp, utm_source, utm_medium, \
                utm_campaign, token, created_at, session_id) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
            ON CONFLICT (webinar_id, email_key) DO NOTHING RETURNING id), \
        bumped AS (\
            INSERT INTO session_counts (session_id, shard, webinar_id, registrations) \
            SELECT $12, CAST(id % {shards} AS INTEGER), $1, 1 FROM registered \
            ON CONFLICT (session_id, shard) DO UPDATE SET registrations = session_counts.registrations + 1 \
            RETURNING shard, registrations), \
        {jobs}, \
        {announced} \
        SELECT registered.id, \
            CAST(bumped.registrations + COALESCE((SELECT SUM(registrations) FROM session_counts \
                WHERE session_id = $12 AND shard <> bumped.shard), 0) AS BIGINT), \
            CAST(bumped.registrations + COALESCE((SELECT SUM(registrations) FROM session_counts \
                WHERE webinar_id = $1 AND NOT (session_id = $12 AND shard = bumped.shard)), 0) AS BIGINT) \
        FROM registered, bumped",
        shards = count::SHARDS,
    );
    let statement = sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, sql, values);
    let Some(written) = db.query_one_raw(statement).await? else { return Ok(None) };
    let (id, session, webinar): (i64, i64, i64) =
        (written.try_get_by_index(0)?, written.try_get_by_index(1)?, written.try_get_by_index(2)?);
    Ok(Some((id, Counts { session: session.unsigned_abs(), webinar: webinar.unsigned_abs() })))
}

/// Who was erased: `registration.erased`'s `data`, so a CRM can erase them too.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ErasedRegistration {
    pub id: i64,
    /// The webinar's slug.
    pub webinar: String,
    pub email: String,
    pub erased_at: DateTime<Utc>,
}

/// Erases a registrant (a GDPR request): the row goes, and with it (cascade)
/// every email job, sent or not; the webinar's count goes down with it.
/// Returns the registration as it was, or `None` if there was no such registration.
pub async fn erase<C: TransactionTrait>(db: &C, registration_id: i64) -> Result<Option<Model>, DbErr> {
    let txn = crate::store::begin_write(db).await?;
    let Some(found) = Entity::find_by_id(registration_id).one(&txn).await? else { return Ok(None) };
    Entity::delete_by_id(found.id).exec(&txn).await?;
    count::add(&txn, found.webinar_id, found.session_id, found.id, -1).await?;
    txn.commit().await?;
    Ok(Some(found))
}

/// Stops every further email to a registrant; doing it twice changes nothing.
/// Returns the registration and its webinar, for the confirmation page.
pub async fn unsubscribe<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    registration_id: i64,
    now: DateTime<Utc>,
) -> Result<(Model, webinar::Model), DomainError> {
    // Reads, then writes: on SQLite a deferred transaction failed its first
    // write ("database is locked", a 503) when the worker recorded the
    // confirmation between the two.
    let txn = crate::store::begin_write(db).await?;
    let found = Entity::find_by_id(registration_id).find_also_related(webinar::Entity).one(&txn).await?;
    let Some((registration, Some(webinar))) = found else {
        return Err(DomainError::RegistrationNotFound);
    };
    let registration = match registration.unsubscribed_at {
        Some(_) => registration,
        None => {
            queue::cancel_pending_for_registration(&txn, registration_id, "unsubscribed", now).await?;
            ActiveModel { unsubscribed_at: Set(Some(now)), ..registration.into() }.update(&txn).await?
        }
    };
    txn.commit().await?;
    Ok((registration, webinar))
}
