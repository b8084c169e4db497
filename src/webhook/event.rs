//! `webhook_events`: what happened, written in the transaction of the change
//! that caused it, with one pending delivery per endpoint that wants it (the
//! queue's `webhook` channel). An event no enabled endpoint wants is not
//! written at all. The body sent is the envelope [`body`] makes:
//! `{"type", "timestamp", "data"}`, `data` being the resource as the API
//! returns it.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveEnum, ActiveValue::Set, QuerySelect, Value};

use super::delivery;
use super::endpoint;
use super::event_type::EventType;
use super::subscription;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `webhook-id`: the same on every attempt and endpoint, so a receiver
    /// can tell a retry from a new event.
    pub message_id: String,
    pub event_type: String,
    pub occurred_at: DateTimeUtc,
    /// The registrant it is about, so erasing them erases it too.
    pub registration_id: Option<i64>,
    /// The JSON body. `None` for an event whose `data` is the registration
    /// (`registration.created`, written in the registration's one statement,
    /// and `registration.moved`): the worker renders it before the first
    /// attempt and keeps it, so every attempt sends the same bytes.
    pub payload: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A new message id: `msg_` and 24 random characters.
fn new_message_id() -> String {
    format!("msg_{}", Alphanumeric.sample_string(&mut rand::rng(), 24))
}

/// The body every attempt of an event sends.
pub fn body(event_type: EventType, occurred_at: DateTime<Utc>, data: &impl serde::Serialize) -> String {
    let envelope = serde_json::json!({
        "type": event_type.name(),
        "timestamp": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    });
    envelope.to_string()
}

/// Something that happened, for the endpoints that want it.
#[derive(Clone, Debug)]
pub struct Announcement {
    pub event_type: EventType,
    pub occurred_at: DateTime<Utc>,
    pub registration_id: Option<i64>,
    /// The body ([`body`]); `None` for the worker to render ([`Model::payload`]).
    pub payload: Option<String>,
}

impl Announcement {
    pub fn new(event_type: EventType, occurred_at: DateTime<Utc>, data: &impl serde::Serialize) -> Self {
        let payload = Some(body(event_type, occurred_at, data));
        Self { event_type, occurred_at, registration_id: None, payload }
    }

    /// An event whose `data` is the registration (`registration.created`,
    /// `registration.moved`), its body left for the worker to render with the
    /// registrant's links (as the registration's one statement on Postgres
    /// leaves it).
    pub fn of_registration(event_type: EventType, registration_id: i64, occurred_at: DateTime<Utc>) -> Self {
        Self { event_type, occurred_at, registration_id: Some(registration_id), payload: None }
    }

    pub fn about(self, registration_id: i64) -> Self {
        Self { registration_id: Some(registration_id), ..self }
    }
}

/// The enabled endpoints that want each of `types`.
async fn subscribers<C: ConnectionTrait>(
    db: &C,
    types: impl IntoIterator<Item = EventType>,
) -> Result<BTreeMap<String, Vec<i64>>, DbErr> {
    let names: Vec<&str> = types.into_iter().map(EventType::name).collect();
    let rows: Vec<(String, i64)> = subscription::Entity::find()
        .select_only()
        .column(subscription::Column::EventType)
        .column(subscription::Column::WebhookId)
        .filter(subscription::Column::EventType.is_in(names))
        .filter(subscription::Column::WebhookId.in_subquery(endpoint::enabled_ids()))
        .into_tuple()
        .all(db)
        .await?;
    let mut wanted: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (event_type, webhook_id) in rows {
        wanted.entry(event_type).or_default().push(webhook_id);
    }
    Ok(wanted)
}

/// Which of `types` an enabled endpoint wants: a caller with much to render
/// asks first.
pub async fn wanted<C: ConnectionTrait>(
    db: &C,
    types: impl IntoIterator<Item = EventType>,
) -> Result<Vec<EventType>, DbErr> {
    let wanted = subscribers(db, types).await?;
    Ok(wanted.keys().filter_map(|name| EventType::parse(name)).collect())
}

/// Writes `announcements` with a delivery to each enabled endpoint that wants
/// them (inside the caller's transaction); returns how many deliveries.
pub async fn announce<C: ConnectionTrait>(db: &C, announcements: Vec<Announcement>) -> Result<u64, DbErr> {
    if announcements.is_empty() {
        return Ok(0);
    }
    // Arguments of awaited calls are collected first: a future holding a
    // closure over borrowed data is not `Send` for every lifetime, which the
    // worker's tasks need.
    let types: Vec<EventType> = announcements.iter().map(|event| event.event_type).collect();
    let wanted = subscribers(db, types).await?;
    let mut deliveries = 0;
    // Chunks keep each statement's parameters well under both databases' limits.
    for chunk in announcements.chunks(1000) {
        let mut rows = Vec::new();
        let mut to: Vec<(String, &Vec<i64>)> = Vec::new();
        for event in chunk {
            let Some(endpoints) = wanted.get(event.event_type.name()) else { continue };
            let message_id = new_message_id();
            to.push((message_id.clone(), endpoints));
            rows.push(ActiveModel {
                message_id: Set(message_id),
                event_type: Set(event.event_type.name().to_owned()),
                occurred_at: Set(event.occurred_at),
                registration_id: Set(event.registration_id),
                payload: Set(event.payload.clone()),
                ..Default::default()
            });
        }
        if rows.is_empty() {
            continue;
        }
        let ids: BTreeMap<String, i64> = Entity::insert_many(rows)
            .exec_with_returning(db)
            .await?
            .into_iter()
            .map(|event| (event.message_id, event.id))
            .collect();
        let now = chunk[0].occurred_at;
        let pairs: Vec<(i64, i64)> = to
            .iter()
            .flat_map(|(message_id, endpoints)| {
                let event_id = ids.get(message_id).copied();
                endpoints.iter().filter_map(move |webhook_id| Some((*webhook_id, event_id?)))
            })
            .collect();
        deliveries += delivery::create_pending(db, pairs, now).await?;
    }
    Ok(deliveries)
}

/// The part of a registration's one-statement write on Postgres that is
/// the webhooks': `registration.created` for the registration the CTE
/// `registered` returns, with its deliveries, when an enabled endpoint wants
/// it (otherwise nothing). `created_at` is a placeholder of the caller's
/// statement; the message id is appended to `values`.
pub fn postgres_ctes(values: &mut Vec<Value>, registered: &str, created_at: &str) -> String {
    values.push(new_message_id().into());
    let message_id = format!("${}", values.len());
    values.push(EventType::RegistrationCreated.name().into());
    let event_type = format!("${}", values.len());
    values.push(delivery::Status::Pending.to_value().into());
    let pending = format!("${}", values.len());
    format!(
        "wanting AS (\
            SELECT s.webhook_id FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id \
            WHERE s.event_type = {event_type} AND w.enabled), \
        announced AS (\
            INSERT INTO webhook_events (message_id, event_type, occurred_at, registration_id) \
            SELECT {message_id}, {event_type}, {created_at}, {registered}.id FROM {registered} \
            WHERE EXISTS (SELECT 1 FROM wanting) RETURNING id), \
        handed AS (\
            INSERT INTO webhook_deliveries (webhook_id, event_id, status, run_at, attempts, created_at, updated_at) \
            SELECT wanting.webhook_id, announced.id, {pending}, {created_at}, 0, {created_at}, {created_at} \
            FROM wanting, announced)"
    )
}

/// Events by id.
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<BTreeMap<i64, Model>, DbErr> {
    let found =
        Entity::find().filter(crate::store::is_one_of(db.get_database_backend(), Column::Id, ids)).all(db).await?;
    Ok(found.into_iter().map(|event| (event.id, event)).collect())
}

/// Keeps the body the worker rendered, unless one is there already.
pub async fn keep_payload<C: ConnectionTrait>(db: &C, id: i64, payload: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Payload, Expr::value(payload))
        .filter(Column::Id.eq(id))
        .filter(Column::Payload.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Erases the events about a registrant, and with them (cascade) their
/// deliveries and log (GDPR): a `registration.created` not yet sent is never sent.
pub async fn forget_registration<C: ConnectionTrait>(db: &C, registration_id: i64) -> Result<u64, DbErr> {
    Ok(Entity::delete_many().filter(Column::RegistrationId.eq(registration_id)).exec(db).await?.rows_affected)
}
