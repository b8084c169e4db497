//! `webhooks`: the endpoints events are sent to, with their signing secret,
//! the events they want (`webhook_subscriptions`), and whether they are
//! enabled. An endpoint whose deliveries all fail for [`DISABLE_AFTER`] is
//! disabled, with the reason on its page, until an admin enables it again.
use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, QueryOrder};

use super::event_type::EventType;
use super::subscription;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub url: String,
    /// `whsec_` and the base64 key (Standard Webhooks): deliveries are signed
    /// with it, so it is kept as it is; the API shows it once, at creation.
    pub secret: String,
    pub enabled: bool,
    /// The first failure since the last success; `None` while it delivers.
    pub failing_since: Option<DateTimeUtc>,
    pub disabled_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// An endpoint failing this long without one success is disabled.
pub const DISABLE_AFTER: Duration = Duration::hours(24);

/// The ids of the enabled endpoints, as a statement to select by: only
/// they get new events and have their deliveries claimed.
pub(super) fn enabled_ids() -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select().column(Column::Id).from(Entity).and_where(Column::Enabled.eq(true)).to_owned()
}

/// An endpoint with the events it wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub webhook: Model,
    pub events: Vec<EventType>,
}

/// A fresh signing secret: 24 random bytes, as Standard Webhooks writes them.
fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// Writes an endpoint for `url` (checked by the caller) wanting `events`.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    url: &str,
    events: &[EventType],
    now: DateTime<Utc>,
) -> Result<Endpoint, DbErr> {
    let webhook = ActiveModel {
        url: Set(url.to_owned()),
        secret: Set(new_secret()),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    subscribe(db, webhook.id, events).await?;
    Ok(Endpoint { webhook, events: events.to_vec() })
}

async fn subscribe<C: ConnectionTrait>(db: &C, webhook_id: i64, events: &[EventType]) -> Result<(), DbErr> {
    subscription::Entity::delete_many().filter(subscription::Column::WebhookId.eq(webhook_id)).exec(db).await?;
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.iter().map(|event| subscription::ActiveModel {
        event_type: Set(event.name().to_owned()),
        webhook_id: Set(webhook_id),
    });
    subscription::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Every endpoint, oldest first.
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<Endpoint>, DbErr> {
    let webhooks = Entity::find().order_by_asc(Column::Id).all(db).await?;
    with_events(db, webhooks).await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<Endpoint>, DbErr> {
    let webhooks = Entity::find_by_id(id).all(db).await?;
    Ok(with_events(db, webhooks).await?.pop())
}

/// Each of `webhooks` with the events it wants, in their order.
async fn with_events<C: ConnectionTrait>(db: &C, webhooks: Vec<Model>) -> Result<Vec<Endpoint>, DbErr> {
    let ids: Vec<i64> = webhooks.iter().map(|webhook| webhook.id).collect();
    let rows = subscription::Entity::find()
        .filter(crate::store::is_one_of(db.get_database_backend(), subscription::Column::WebhookId, ids))
        .all(db)
        .await?;
    let mut events: BTreeMap<i64, Vec<EventType>> = BTreeMap::new();
    for row in rows {
        if let Some(event) = EventType::parse(&row.event_type) {
            events.entry(row.webhook_id).or_default().push(event);
        }
    }
    Ok(webhooks
        .into_iter()
        .map(|webhook| {
            let mut events = events.remove(&webhook.id).unwrap_or_default();
            events.sort();
            Endpoint { webhook, events }
        })
        .collect())
}

/// What a change to an endpoint sets; `None` keeps a field as it is.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    /// Enabling clears the failure record: the endpoint starts afresh.
    pub enabled: Option<bool>,
}

/// Applies `change` to endpoint `id`; `None` if there is no such endpoint.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    id: i64,
    change: Change,
    now: DateTime<Utc>,
) -> Result<Option<Endpoint>, DbErr> {
    let Some(current) = Entity::find_by_id(id).one(db).await? else { return Ok(None) };
    let mut row: ActiveModel = current.into();
    row.updated_at = Set(now);
    if let Some(url) = change.url {
        row.url = Set(url);
    }
    match change.enabled {
        Some(true) => {
            row.enabled = Set(true);
            row.failing_since = Set(None);
            row.disabled_at = Set(None);
            row.disabled_reason = Set(None);
        }
        Some(false) => {
            row.enabled = Set(false);
            row.disabled_at = Set(Some(now));
            row.disabled_reason = Set(Some("Disabled by an admin.".into()));
        }
        None => {}
    }
    row.update(db).await?;
    if let Some(events) = change.events {
        subscribe(db, id, &events).await?;
    }
    find(db, id).await
}

/// Deletes an endpoint with its subscriptions and its delivery log; false if there was none.
pub async fn delete<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    Ok(Entity::delete_by_id(id).exec(db).await?.rows_affected > 0)
}

/// Records what an endpoint's latest attempts did: a success clears its
/// failure record; failures start one, and an endpoint failing for
/// [`DISABLE_AFTER`] is disabled. Returns the endpoints disabled now.
pub(super) async fn record_results<C: ConnectionTrait>(
    db: &C,
    succeeded: &[i64],
    failed: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let backend = db.get_database_backend();
    if !succeeded.is_empty() {
        Entity::update_many()
            .col_expr(Column::FailingSince, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(crate::store::is_one_of(backend, Column::Id, succeeded.iter().copied()))
            .filter(Column::FailingSince.is_not_null())
            .exec(db)
            .await?;
    }
    let failed: Vec<i64> = failed.iter().copied().filter(|id| !succeeded.contains(id)).collect();
    if failed.is_empty() {
        return Ok(Vec::new());
    }
    Entity::update_many()
        .col_expr(Column::FailingSince, Expr::value(now))
        .filter(crate::store::is_one_of(backend, Column::Id, failed.iter().copied()))
        .filter(Column::FailingSince.is_null())
        .exec(db)
        .await?;
    let worn_out = Entity::update_many()
        .col_expr(Column::Enabled, Expr::value(false))
        .col_expr(Column::DisabledAt, Expr::value(now))
        .col_expr(
            Column::DisabledReason,
            Expr::value(format!(
                "Disabled automatically: every delivery failed for {} hours. Fix the endpoint, then enable it again; \
                 its pending deliveries resume.",
                DISABLE_AFTER.num_hours()
            )),
        )
        .filter(crate::store::is_one_of(backend, Column::Id, failed.iter().copied()))
        .filter(Column::Enabled.eq(true))
        .filter(Column::FailingSince.lte(now - DISABLE_AFTER))
        .exec_with_returning(db)
        .await?;
    Ok(worn_out.into_iter().map(|webhook| webhook.id).collect())
}

/// The endpoints with these ids, by id.
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<BTreeMap<i64, Model>, DbErr> {
    let found =
        Entity::find().filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids)).all(db).await?;
    Ok(found.into_iter().map(|webhook| (webhook.id, webhook)).collect())
}
