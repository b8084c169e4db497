//! The write paths: a new registration with its count and email jobs in
//! one transaction (one statement on Postgres), a group of them in one, and
//! the erase and unsubscribe that undo them.
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::entity::prelude::*;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, IntoActiveModel, TransactionSession, TransactionTrait, TryInsertResult,
};

use super::{ActiveModel, Column, Entity, Model, TOKEN_LEN, ValidRegistration, count, find_by_email};
use crate::email::{self, Kind};
use crate::email_address::EmailAddress;
use crate::error::{ClosedReason, DomainError};
use crate::{queue, webhook, webinar};

/// The result of a registration attempt that did not fail.
#[derive(Clone, Debug)]
pub struct RegistrationOutcome {
    pub registration: Model,
    pub webinar: webinar::Model,
    /// False when this email was already registered: nothing new was written.
    pub created: bool,
    pub registrations: u64,
}

/// A registration checked against its webinar and ready to write, with the
/// email jobs it creates.
pub struct NewRegistration {
    webinar: webinar::Model,
    /// The row to insert; its id is the database's to give (0 until then).
    row: Model,
    email: EmailAddress,
    jobs: Vec<(Kind, DateTime<Utc>)>,
}

impl NewRegistration {
    /// Refuses a webinar that takes no registrations at `now`.
    pub fn new(webinar: webinar::Model, input: ValidRegistration, now: DateTime<Utc>) -> Result<Self, DomainError> {
        webinar.check_open(now)?;
        let row = Model {
            id: 0,
            webinar_id: webinar.id,
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
        let jobs = email::schedule::schedule(now, webinar.starts_at);
        Ok(Self { webinar, row, email: input.email, jobs })
    }

    /// Whether the webinar has seats to count (such registrations are written one at a time).
    pub fn counts_seats(&self) -> bool {
        self.webinar.capacity.is_some()
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
        let txn = db.begin().await?;
        if new.counts_seats() {
            // Registrations for a webinar with seats to count take turns: on Postgres
            // by locking its row; SQLite lets one writer in at a time anyway.
            lock_seats(&txn, new.webinar.id).await?;
        }
        let written = write_new(&txn, &new.row, &new.jobs).await?;
        // Counted after our own insert, inside the transaction: a full webinar undoes it.
        if written.is_some_and(|(_, registrations)| new.webinar.is_full(registrations.saturating_sub(1))) {
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
) -> Result<Vec<Option<(i64, u64)>>, DbErr> {
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
    written: &[Option<(i64, u64)>],
) -> Result<(), DbErr> {
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    let created = group.iter().zip(written).filter_map(|(new, written)| {
        written.map(|(id, _)| webhook::Announcement::registration_created(id, new.row.created_at))
    });
    webhook::event::announce(txn, created.collect()).await.map(drop)
}

/// The outcome of a write: the new registration with its count, or, when the
/// email was registered already (`written` is `None`), the existing one.
pub async fn outcome<C: ConnectionTrait>(
    db: &C,
    new: NewRegistration,
    written: Option<(i64, u64)>,
) -> Result<RegistrationOutcome, DomainError> {
    let NewRegistration { webinar, row, email, .. } = new;
    let (registration, created, registrations) = match written {
        Some((id, registrations)) => (Model { id, ..row }, true, registrations),
        None => {
            let existing = find_by_email(db, webinar.id, &email).await?;
            let existing = existing.ok_or(DbErr::RecordNotFound("registration after conflict".into()))?;
            (existing, false, count::for_webinar(db, webinar.id).await?)
        }
    };
    Ok(RegistrationOutcome { registration, webinar, created, registrations })
}

/// Writes a new registration, bumps its webinar's count and queues its
/// `jobs`; returns its id and the count including it, or `None` when the
/// email is registered already (nothing written).
async fn write_new<C: ConnectionTrait>(
    db: &C,
    new: &Model,
    jobs: &[(Kind, DateTime<Utc>)],
) -> Result<Option<(i64, u64)>, DbErr> {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        return write_new_in_one_statement(db, new, jobs).await;
    }
    let row = ActiveModel { id: NotSet, ..new.clone().into_active_model() };
    let inserted =
        Entity::insert(row).on_conflict_do_nothing_on([Column::WebinarId, Column::EmailKey]).exec(db).await?;
    let TryInsertResult::Inserted(result) = inserted else { return Ok(None) };
    let id = result.last_insert_id;
    let registrations = count::add_one_and_count(db, new.webinar_id, id).await?;
    queue::create_pending(db, id, new.webinar_id, jobs, new.created_at).await?;
    Ok(Some((id, registrations)))
}

/// [`write_new`] on Postgres as one statement: data-modifying CTEs insert
/// the registration, upsert its count shard, insert its jobs and queue them,
/// write its `registration.created` event when an endpoint wants it, and
/// the statement returns the id and the count. One round trip instead of five
/// (BEGIN, three writes, COMMIT): the registration path's largest cost was
/// waiting on the database. The CTEs share one snapshot, so the count is
/// the bumped shard's new value plus the other shards' sum.
async fn write_new_in_one_statement<C: ConnectionTrait>(
    db: &C,
    new: &Model,
    jobs: &[(Kind, DateTime<Utc>)],
) -> Result<Option<(i64, u64)>, DbErr> {
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
    ];
    let jobs = queue::postgres_ctes(&mut values, "registered", "$1", "$11", jobs);
    let announced = webhook::event::postgres_ctes(&mut values, "registered", "$11");
    let sql = format!(
        "WITH registered AS (\
            INSERT INTO registrations (webinar_id, name, email, email_key, company, icp, utm_source, utm_medium, \
                utm_campaign, token, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
            ON CONFLICT (webinar_id, email_key) DO NOTHING RETURNING id), \
        bumped AS (\
            INSERT INTO registration_counts (webinar_id, shard, registrations) \
            SELECT $1, CAST(id % {shards} AS INTEGER), 1 FROM registered \
            ON CONFLICT (webinar_id, shard) DO UPDATE SET registrations = registration_counts.registrations + 1 \
            RETURNING shard, registrations), \
        {jobs}, \
        {announced} \
        SELECT registered.id, CAST(bumped.registrations + COALESCE((SELECT SUM(registrations) \
            FROM registration_counts WHERE webinar_id = $1 AND shard <> bumped.shard), 0) AS BIGINT) \
        FROM registered, bumped",
        shards = count::SHARDS,
    );
    let statement = sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, sql, values);
    let Some(written) = db.query_one_raw(statement).await? else { return Ok(None) };
    let (id, registrations): (i64, i64) = (written.try_get_by_index(0)?, written.try_get_by_index(1)?);
    Ok(Some((id, registrations.unsigned_abs())))
}

/// Holds the webinar's row until the transaction ends (Postgres); SQLite
/// serialises writers by itself and has no row locks.
async fn lock_seats<C: ConnectionTrait>(txn: &C, webinar_id: i64) -> Result<(), DbErr> {
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        use sea_orm::QuerySelect;
        webinar::Entity::find_by_id(webinar_id).lock_exclusive().one(txn).await?;
    }
    Ok(())
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
    count::add(&txn, found.webinar_id, found.id, -1).await?;
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
