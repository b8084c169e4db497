//! Registrations: the entity, input validation and the register operation.
use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::entity::prelude::*;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, DerivePartialModel, IntoActiveModel, TransactionSession, TransactionTrait,
    TryInsertResult,
};
use serde::Deserialize;

use crate::email_address::EmailAddress;
use crate::error::{ClosedReason, DomainError, FieldError};
use crate::{email_job, registration_count, reminders, webinar};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registrations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webinar_id: i64,
    pub name: String,
    /// As typed, with the domain lower-cased: where mail goes.
    pub email: String,
    /// [`EmailAddress::key`]: unique per webinar.
    pub email_key: String,
    pub company: Option<String>,
    pub icp: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    /// The registrant's secret: their join link and their "you're registered" page.
    #[sea_orm(unique)]
    pub token: String,
    pub unsubscribed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "crate::webinar::Entity",
        from = "Column::WebinarId",
        to = "crate::webinar::Column::Id",
        on_delete = "Cascade"
    )]
    Webinar,
    #[sea_orm(has_many = "crate::email_job::Entity")]
    EmailJobs,
}

impl Related<crate::webinar::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Webinar.def()
    }
}

impl Related<crate::email_job::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EmailJobs.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Who a registration's emails go to: the columns a send needs.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Addressee {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub icp: Option<String>,
    pub token: String,
    pub unsubscribed_at: Option<DateTimeUtc>,
}

/// The addressees of `ids`, by registration id (a deleted one is absent).
pub async fn addressees<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, Addressee>, DbErr> {
    let found = Entity::find()
        .filter(crate::db::is_one_of(db.get_database_backend(), Column::Id, ids))
        .into_partial_model::<Addressee>()
        .all(db)
        .await?;
    Ok(found.into_iter().map(|addressee| (addressee.id, addressee)).collect())
}

const NAME_MAX_CHARS: usize = 100;
const COMPANY_MAX_CHARS: usize = 200;
/// Attribution values (ICP, UTM) are cut to this length, never rejected:
/// they come from a link, and a visitor cannot fix a link.
const TRACKING_MAX_CHARS: usize = 64;
const TOKEN_LEN: usize = 32;

/// A registration as it arrives from the form or the JSON API, unvalidated.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// A webinar slug; the next upcoming published webinar when absent.
    #[serde(default)]
    pub webinar: Option<String>,
    /// 1–100 characters, no control characters.
    pub name: String,
    /// One address (plain ASCII before the @); registering it again (any case) writes nothing new and answers the same.
    pub email: String,
    /// Up to 200 characters.
    #[serde(default)]
    pub company: Option<String>,
    /// Audience key (e.g. `founders`), from the page's `?icp=`; picks the email copy. Lower-cased, at most 64 characters kept.
    #[serde(default)]
    pub icp: Option<String>,
    /// Campaign tracking from the page's URL; at most 64 characters kept (likewise `utm_medium`, `utm_campaign`).
    #[serde(default)]
    pub utm_source: Option<String>,
    #[serde(default)]
    pub utm_medium: Option<String>,
    #[serde(default)]
    pub utm_campaign: Option<String>,
}

/// A registration that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidRegistration {
    pub name: String,
    pub email: EmailAddress,
    pub company: Option<String>,
    pub icp: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
}

pub const NAME_MESSAGE: &str = "Enter your name (1 to 100 characters).";
pub const COMPANY_MESSAGE: &str = "Company must be at most 200 characters.";

impl RegistrationRequest {
    /// The name as the visitor typed it (whitespace folded, as it is stored):
    /// what answers show, whether or not the address was registered before.
    pub fn typed_name(&self) -> String {
        collapse_whitespace(&self.name)
    }

    /// Checks every field and reports all problems at once.
    pub fn validate(&self) -> Result<ValidRegistration, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = collapse_whitespace(&self.name);
        let name_len = name.chars().count();
        if name_len == 0 || name_len > NAME_MAX_CHARS || name.chars().any(char::is_control) {
            errors.push(FieldError::new("name", NAME_MESSAGE));
        }
        let email = EmailAddress::parse(&self.email);
        if let Err(invalid) = &email {
            errors.push(FieldError::new("email", invalid.to_string()));
        }
        let company = self.company.as_deref().map(collapse_whitespace).filter(|company| !company.is_empty());
        if company.as_ref().is_some_and(|company| company.chars().count() > COMPANY_MAX_CHARS) {
            errors.push(FieldError::new("company", COMPANY_MESSAGE));
        }
        match email {
            Ok(email) if errors.is_empty() => Ok(ValidRegistration {
                name,
                email,
                company,
                icp: tracking(&self.icp).map(|icp| icp.to_lowercase()),
                utm_source: tracking(&self.utm_source),
                utm_medium: tracking(&self.utm_medium),
                utm_campaign: tracking(&self.utm_campaign),
            }),
            _ => Err(errors),
        }
    }
}

/// Trims, and folds runs of whitespace into one space.
fn collapse_whitespace(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An attribution value: trimmed, control characters dropped, length capped.
fn tracking(raw: &Option<String>) -> Option<String> {
    let cleaned: String = raw.as_deref()?.trim().chars().filter(|c| !c.is_control()).take(TRACKING_MAX_CHARS).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

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
    jobs: Vec<(email_job::Kind, DateTime<Utc>)>,
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
        let jobs = reminders::schedule(now, webinar.starts_at);
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
    txn.commit().await?;
    Ok(written)
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
            (existing, false, registration_count::for_webinar(db, webinar.id).await?)
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
    jobs: &[(email_job::Kind, DateTime<Utc>)],
) -> Result<Option<(i64, u64)>, DbErr> {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        return write_new_in_one_statement(db, new, jobs).await;
    }
    let row = ActiveModel { id: NotSet, ..new.clone().into_active_model() };
    let inserted =
        Entity::insert(row).on_conflict_do_nothing_on([Column::WebinarId, Column::EmailKey]).exec(db).await?;
    let TryInsertResult::Inserted(result) = inserted else { return Ok(None) };
    let id = result.last_insert_id;
    let registrations = registration_count::add_one_and_count(db, new.webinar_id, id).await?;
    email_job::create_pending(db, id, new.webinar_id, jobs, new.created_at).await?;
    Ok(Some((id, registrations)))
}

/// [`write_new`] on Postgres as one statement: data-modifying CTEs insert
/// the registration, upsert its count shard, insert its jobs and queue them,
/// and the statement returns the id and the count. One round trip instead of five
/// (BEGIN, three writes, COMMIT): the registration path's largest cost was
/// waiting on the database. The CTEs share one snapshot, so the count is
/// the bumped shard's new value plus the other shards' sum.
async fn write_new_in_one_statement<C: ConnectionTrait>(
    db: &C,
    new: &Model,
    jobs: &[(email_job::Kind, DateTime<Utc>)],
) -> Result<Option<(i64, u64)>, DbErr> {
    use sea_orm::{ActiveEnum, Value};
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
        email_job::Status::Pending.to_value().into(),
    ];
    // `jobs` always holds the confirmation, so the VALUES list is never empty.
    let mut job_rows = Vec::with_capacity(jobs.len());
    for &(kind, run_at) in jobs {
        job_rows.push(format!("(${}, ${})", values.len() + 1, values.len() + 2));
        values.extend([kind.to_value().into(), run_at.into()]);
    }
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
        queued AS (\
            INSERT INTO email_jobs (registration_id, webinar_id, kind, schedule_version, run_at, status, attempts, \
                created_at, updated_at) \
            SELECT registered.id, $1, job.kind, 0, job.run_at, $12, 0, $11, $11 \
            FROM registered, (VALUES {job_rows}) AS job (kind, run_at) \
            RETURNING id, run_at, webinar_id, kind, registration_id, schedule_version, attempts), \
        enqueued AS (\
            INSERT INTO email_queue (job_id, run_at, webinar_id, kind, registration_id, schedule_version, attempts) \
            SELECT * FROM queued) \
        SELECT registered.id, CAST(bumped.registrations + COALESCE((SELECT SUM(registrations) \
            FROM registration_counts WHERE webinar_id = $1 AND shard <> bumped.shard), 0) AS BIGINT) \
        FROM registered, bumped",
        shards = registration_count::SHARDS,
        job_rows = job_rows.join(", "),
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

pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    email: &EmailAddress,
) -> Result<Option<Model>, DbErr> {
    Entity::find().filter(Column::WebinarId.eq(webinar_id)).filter(Column::EmailKey.eq(email.key())).one(db).await
}

/// A webinar's registrations in id order, `limit` after `after_id` (keyset
/// paging: each page is an index range, however far in).
pub async fn page_for_webinar<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    after_id: i64,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    Entity::find()
        .filter(Column::WebinarId.eq(webinar_id))
        .filter(Column::Id.gt(after_id))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// One page of a webinar's registrations, newest first, whose name, email
/// or company contains `search` (any case); and how many match in all.
pub async fn search<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    search: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Model>, u64), DbErr> {
    use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr};
    use sea_orm::{PaginatorTrait, QueryOrder, QuerySelect};
    let mut query = Entity::find().filter(Column::WebinarId.eq(webinar_id));
    let search = search.trim().to_lowercase();
    if !search.is_empty() {
        let escaped: String = search
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = || LikeExpr::new(format!("%{escaped}%")).escape('\\');
        let lower = |column: Column| Expr::expr(Func::lower(Expr::col(column)));
        query = query.filter(
            Condition::any()
                .add(lower(Column::Name).like(pattern()))
                .add(Expr::col(Column::EmailKey).like(pattern()))
                .add(lower(Column::Company).like(pattern())),
        );
    }
    let total = query.clone().count(db).await?;
    let rows = query.order_by_desc(Column::Id).offset(offset).limit(limit).all(db).await?;
    Ok((rows, total))
}

/// The registration a token from a link names. Only a token of the form
/// this module makes is looked up: anything else names nobody.
pub async fn find_by_token<C: ConnectionTrait>(db: &C, token: &str) -> Result<Option<Model>, DbErr> {
    if token.len() != TOKEN_LEN || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    Entity::find().filter(Column::Token.eq(token)).one(db).await
}

/// Erases a registrant (a GDPR request): the row goes, and with it (cascade)
/// every email job, sent or not; the webinar's count goes down with it.
/// Returns the webinar's id, or `None` if there was no such registration.
pub async fn erase<C: TransactionTrait>(db: &C, registration_id: i64) -> Result<Option<i64>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(found) = Entity::find_by_id(registration_id).one(&txn).await? else { return Ok(None) };
    Entity::delete_by_id(found.id).exec(&txn).await?;
    registration_count::add(&txn, found.webinar_id, found.id, -1).await?;
    txn.commit().await?;
    Ok(Some(found.webinar_id))
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
    let txn = crate::db::begin_write(db).await?;
    let found = Entity::find_by_id(registration_id).find_also_related(webinar::Entity).one(&txn).await?;
    let Some((registration, Some(webinar))) = found else {
        return Err(DomainError::RegistrationNotFound);
    };
    let registration = match registration.unsubscribed_at {
        Some(_) => registration,
        None => {
            email_job::cancel_pending_for_registration(&txn, registration_id, "unsubscribed", now).await?;
            ActiveModel { unsubscribed_at: Set(Some(now)), ..registration.into() }.update(&txn).await?
        }
    };
    txn.commit().await?;
    Ok((registration, webinar))
}

/// Registrants who still get emails (the ones a schedule change notifies).
pub async fn count_subscribed<C: ConnectionTrait>(db: &C, webinar_id: i64) -> Result<u64, DbErr> {
    Entity::find().filter(Column::WebinarId.eq(webinar_id)).filter(Column::UnsubscribedAt.is_null()).count(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, email: &str) -> RegistrationRequest {
        RegistrationRequest { name: name.into(), email: email.into(), ..Default::default() }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn trims_the_name_and_normalises_the_email() {
        let valid = request("  Ada   Lovelace ", "Ada@Example.COM").validate().expect("valid");
        assert_eq!(valid.name, "Ada Lovelace");
        assert_eq!(valid.email.as_str(), "Ada@example.com");
    }

    #[test]
    fn name_must_have_1_to_100_characters() {
        assert_eq!(fields(request("   ", "ada@example.com").validate().unwrap_err()), ["name"]);
        assert!(request(&"é".repeat(100), "ada@example.com").validate().is_ok());
        assert_eq!(fields(request(&"é".repeat(101), "ada@example.com").validate().unwrap_err()), ["name"]);
        assert_eq!(fields(request("Ada\u{0}", "ada@example.com").validate().unwrap_err()), ["name"]);
    }

    #[test]
    fn reports_every_invalid_field_at_once() {
        let mut bad = request("", "not-an-email");
        bad.company = Some("x".repeat(201));
        let errors = bad.validate().unwrap_err();
        assert_eq!(fields(errors.clone()), ["name", "email", "company"]);
        assert_eq!(errors[1].message, "Enter a valid email address, like name@example.com.");
    }

    #[test]
    fn empty_optional_fields_become_none() {
        let mut input = request("Ada", "ada@example.com");
        input.company = Some("  ".into());
        input.utm_source = Some("".into());
        let valid = input.validate().expect("valid");
        assert_eq!(valid.company, None);
        assert_eq!(valid.utm_source, None);
    }

    #[test]
    fn attribution_is_cleaned_not_rejected() {
        let mut input = request("Ada", "ada@example.com");
        input.icp = Some(" Security-Leads ".into());
        input.utm_campaign = Some(format!("launch\u{7}{}", "x".repeat(100)));
        let valid = input.validate().expect("valid");
        assert_eq!(valid.icp.as_deref(), Some("security-leads"));
        let campaign = valid.utm_campaign.expect("kept");
        assert!(campaign.starts_with("launchx"));
        assert_eq!(campaign.chars().count(), TRACKING_MAX_CHARS);
    }
}
