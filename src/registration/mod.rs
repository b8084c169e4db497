//! Registrations: the entity and its lookups; parsing a request
//! ([`request`]), the write paths ([`write`]) and the group writer that
//! batches them ([`writer`]); the per-session count ([`count`]), its live
//! publisher ([`live`]) and the CSV export ([`export`]).
pub mod count;
pub mod export;
pub mod live;
pub mod request;
pub mod write;
pub mod writer;

use chrono::{DateTime, Utc};
use sea_orm::DerivePartialModel;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};

use crate::email_address::EmailAddress;

pub use request::{COMPANY_MESSAGE, NAME_MESSAGE, RegistrationRequest, ValidRegistration};
pub use write::{NewRegistration, RegistrationOutcome, erase, outcome, unsubscribe, write_alone, write_together};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registrations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webinar_id: i64,
    /// The one session of the webinar the registrant is in (registering for
    /// another moves them there).
    pub session_id: i64,
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
}

impl Related<crate::webinar::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Webinar.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Who a registration's emails go to: the columns a send needs.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Addressee {
    pub id: i64,
    pub session_id: i64,
    pub name: String,
    pub email: String,
    pub email_key: String,
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
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids))
        .into_partial_model::<Addressee>()
        .all(db)
        .await?;
    Ok(found.into_iter().map(|addressee| (addressee.id, addressee)).collect())
}

/// A registrant's link token: this many ASCII letters and digits.
pub(crate) const TOKEN_LEN: usize = 32;

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
    let filter = PageFilter { after_id, ..PageFilter::default() };
    filtered(webinar_id, &filter).order_by_asc(Column::Id).limit(limit).all(db).await
}

/// Which registrations a page of the admin API holds: those after
/// `after_id` (the cursor), made at or after `since`, from an ICP, from a
/// `utm_source`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageFilter {
    pub after_id: i64,
    pub since: Option<DateTime<Utc>>,
    pub icp: Option<String>,
    pub utm_source: Option<String>,
}

/// How old a Postgres registration must be before a page shows it. Ids come
/// from a sequence before the row commits, so a transaction holding id 101
/// can commit after the one holding 102: a page read between them would end
/// at 102, and a cursor moving past it would never see 101. The registration
/// path commits within milliseconds, so rows this old have no such gap
/// behind them. (SQLite writes one transaction at a time: ids commit in order.)
const SETTLING: chrono::Duration = chrono::Duration::seconds(2);

fn filtered(webinar_id: i64, filter: &PageFilter) -> sea_orm::Select<Entity> {
    let mut query = Entity::find().filter(Column::WebinarId.eq(webinar_id)).filter(Column::Id.gt(filter.after_id));
    if let Some(since) = filter.since {
        query = query.filter(Column::CreatedAt.gte(since));
    }
    if let Some(icp) = &filter.icp {
        query = query.filter(Column::Icp.eq(icp));
    }
    if let Some(source) = &filter.utm_source {
        query = query.filter(Column::UtmSource.eq(source));
    }
    query
}

/// Up to `limit` registrations of a page, in id order, each settled
/// ([`SETTLING`]) by `now`.
pub async fn page_filtered<C: ConnectionTrait>(
    db: &C,
    webinar_id: i64,
    filter: &PageFilter,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut query = filtered(webinar_id, filter);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.filter(Column::CreatedAt.lt(now - SETTLING));
    }
    query.order_by_asc(Column::Id).limit(limit).all(db).await
}

/// Whether any registration matches the filter, settled or not.
pub async fn any_after<C: ConnectionTrait>(db: &C, webinar_id: i64, filter: &PageFilter) -> Result<bool, DbErr> {
    use sea_orm::QuerySelect;
    Ok(filtered(webinar_id, filter).select_only().column(Column::Id).into_tuple::<i64>().one(db).await?.is_some())
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

/// The registrants of these sessions who still get emails (the ones a
/// schedule change notifies).
pub async fn count_subscribed<C: ConnectionTrait>(
    db: &C,
    session_ids: impl IntoIterator<Item = i64>,
) -> Result<u64, DbErr> {
    let in_sessions = crate::store::is_one_of(db.get_database_backend(), Column::SessionId, session_ids);
    Entity::find().filter(in_sessions).filter(Column::UnsubscribedAt.is_null()).count(db).await
}

/// The session's registrants who still get emails, as a query yielding
/// `registration_id`: the recipients of a notice the queue writes in one
/// statement ([`crate::queue::queue_for_registrants`]).
pub fn subscribed(session_id: i64) -> SelectStatement {
    Query::select()
        .expr_as(Expr::col(Column::Id), Alias::new("registration_id"))
        .from(Entity)
        .and_where(Expr::col(Column::SessionId).eq(session_id))
        .and_where(Expr::col(Column::UnsubscribedAt).is_null())
        .to_owned()
}

/// The session's registrations, unsubscribed ones too, as a query yielding
/// their ids: what the queue finds a session's jobs by ([`crate::queue::move_pending`]).
pub fn in_session(session_id: i64) -> SelectStatement {
    Query::select().column(Column::Id).from(Entity).and_where(Expr::col(Column::SessionId).eq(session_id)).to_owned()
}

/// The ids of every registration of these addresses, in any webinar: a
/// statement the queue selects jobs by (an address put on the suppression list).
pub fn with_email_keys(email_keys: &[String]) -> SelectStatement {
    Query::select()
        .column(Column::Id)
        .from(Entity)
        .and_where(Expr::col(Column::EmailKey).is_in(email_keys.iter().cloned()))
        .to_owned()
}

/// The addresses (keyed) of these registrations, by id.
pub async fn email_keys<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, String>, DbErr> {
    use sea_orm::QuerySelect;
    let found: Vec<(i64, String)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::EmailKey)
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(found.into_iter().collect())
}

/// The registrations with these ids, by id (a deleted one is absent).
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, Model>, DbErr> {
    let found =
        Entity::find().filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids)).all(db).await?;
    Ok(found.into_iter().map(|registration| (registration.id, registration)).collect())
}
