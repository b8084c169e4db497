//! The `email_events` table: what the provider reported about each email
//! (processed, delivered, deferred, bounce, dropped, spamreport,
//! unsubscribe, group_unsubscribe, open, click), tied to its job through the
//! `job_id` every message carries. An event SendGrid sends twice (the same
//! `sg_event_id`) is stored once.
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{QueryOrder, QuerySelect};
use serde::Deserialize;

/// At most this many events are taken in one request.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;
const REASON_MAX_CHARS: usize = 500;
/// The longest provider event id kept (the column's width).
const PROVIDER_ID_MAX_CHARS: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The provider's id of the event: the same event twice is stored once.
    #[sea_orm(unique)]
    pub provider_event_id: String,
    /// The email job it is about (`None`: a test email, or one we cannot tell).
    pub job_id: Option<i64>,
    /// `delivered`, `bounce`, `open`, …: the provider's name, as it sent it.
    pub event: String,
    /// [`crate::EmailAddress::key`] of the recipient.
    pub email_key: String,
    /// The provider's reason or bounce type, when it gave one.
    pub reason: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// One event of SendGrid's Event Webhook, as it comes: our `custom_args`
/// (`job_id`) arrive as strings beside SendGrid's own fields.
#[derive(Clone, Debug, Deserialize)]
pub struct SendGridEvent {
    pub email: String,
    pub timestamp: i64,
    pub event: String,
    pub sg_event_id: String,
    #[serde(default)]
    pub job_id: Option<serde_json::Value>,
    /// A bounce's kind: `bounce` (hard) or `blocked` (soft).
    #[serde(default, rename = "type")]
    pub bounce_type: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// What puts an address on the suppression list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Deliverable,
    /// A hard bounce, a spam report or an unsubscribe at the provider.
    Suppress,
}

impl SendGridEvent {
    /// The job id our message carried: a whole number, sent as a string or not at all.
    pub fn job_id(&self) -> Option<i64> {
        match self.job_id.as_ref()? {
            serde_json::Value::String(text) => text.parse().ok(),
            serde_json::Value::Number(number) => number.as_i64(),
            _ => None,
        }
        .filter(|id| *id > 0)
    }

    pub fn verdict(&self) -> Verdict {
        match (self.event.as_str(), self.bounce_type.as_deref()) {
            ("bounce", Some("blocked")) => Verdict::Deliverable,
            ("bounce" | "spamreport" | "unsubscribe" | "group_unsubscribe", _) => Verdict::Suppress,
            _ => Verdict::Deliverable,
        }
    }

    /// The event's id as it is stored (and so as it comes back from [`record`]).
    pub fn provider_event_id(&self) -> String {
        self.sg_event_id.chars().take(PROVIDER_ID_MAX_CHARS).collect()
    }

    /// The reason to keep: the provider's words, or the bounce's kind.
    pub fn reason(&self) -> Option<String> {
        let reason = self.reason.clone().or_else(|| self.bounce_type.clone())?;
        Some(reason.chars().take(REASON_MAX_CHARS).collect())
    }
}

/// A row for an event, its recipient already keyed.
pub fn row(event: &SendGridEvent, email_key: String, received_at: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        provider_event_id: Set(event.provider_event_id()),
        job_id: Set(event.job_id()),
        event: Set(event.event.chars().take(32).collect()),
        email_key: Set(email_key),
        reason: Set(event.reason()),
        occurred_at: Set(DateTime::from_timestamp(event.timestamp, 0).unwrap_or(received_at)),
        received_at: Set(received_at),
        ..Default::default()
    }
}

/// Stores the rows (an event already stored is skipped); returns the
/// provider ids of those that were new.
pub async fn record<C: ConnectionTrait>(db: &C, rows: Vec<ActiveModel>) -> Result<Vec<String>, DbErr> {
    let mut new = Vec::new();
    // 1,000 rows of 7 values stay within SQLite's 32,766 bound parameters.
    for chunk in rows.chunks(1000) {
        let inserted = Entity::insert_many(chunk.to_vec())
            .on_conflict(OnConflict::column(Column::ProviderEventId).do_nothing().to_owned())
            .exec_with_returning(db)
            .await?;
        new.extend(inserted.into_iter().map(|event| event.provider_event_id));
    }
    Ok(new)
}

/// Deletes the events of these jobs (their registrant is erased).
pub async fn forget_jobs<C: ConnectionTrait>(db: &C, job_ids: &[i64]) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::JobId, job_ids.iter().copied()))
        .exec(db)
        .await
        .map(drop)
}

/// The events of these jobs, oldest first.
pub async fn for_jobs<C: ConnectionTrait>(db: &C, job_ids: &[i64]) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(crate::store::is_one_of(db.get_database_backend(), Column::JobId, job_ids.iter().copied()))
        .order_by_asc(Column::OccurredAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// For each event name, how many of these jobs had at least one.
pub async fn jobs_with_event<C: ConnectionTrait>(
    db: &C,
    jobs: sea_orm::sea_query::SelectStatement,
) -> Result<Vec<(String, u64)>, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let rows: Vec<(String, i64)> = Entity::find()
        .select_only()
        .column(Column::Event)
        .column_as(Expr::col(Column::JobId).count_distinct(), "jobs")
        .filter(Column::JobId.in_subquery(jobs))
        .group_by(Column::Event)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(event, jobs)| (event, jobs.unsigned_abs())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> SendGridEvent {
        serde_json::from_str(json).expect("an event")
    }

    #[test]
    fn hard_bounces_spam_reports_and_unsubscribes_suppress() {
        let base = r#""email":"a@example.com","timestamp":1700000000,"sg_event_id":"e1""#;
        let of = |rest: &str| event(&format!("{{{base},{rest}}}")).verdict();
        assert_eq!(of(r#""event":"bounce","type":"bounce""#), Verdict::Suppress);
        assert_eq!(of(r#""event":"bounce","type":"blocked""#), Verdict::Deliverable);
        assert_eq!(of(r#""event":"spamreport""#), Verdict::Suppress);
        assert_eq!(of(r#""event":"group_unsubscribe""#), Verdict::Suppress);
        assert_eq!(of(r#""event":"delivered""#), Verdict::Deliverable);
        assert_eq!(of(r#""event":"dropped","reason":"Bounced Address""#), Verdict::Deliverable);
    }

    #[test]
    fn a_long_id_and_reason_are_stored_as_the_batch_reads_them() {
        let long_id = "e".repeat(150);
        let long_reason = "r".repeat(3000);
        let json = format!(
            r#"{{"email":"a@example.com","timestamp":1,"event":"bounce","type":"bounce","sg_event_id":"{long_id}","reason":"{long_reason}"}}"#
        );
        let event = event(&json);
        let stored = row(&event, "a@example.com".into(), Utc::now());
        assert_eq!(stored.provider_event_id.clone().unwrap(), event.provider_event_id(), "what record returns");
        assert_eq!(event.provider_event_id().len(), PROVIDER_ID_MAX_CHARS);
        assert_eq!(event.reason().map(|reason| reason.len()), Some(REASON_MAX_CHARS), "fits the suppression's column");
        let bare = self::event(
            r#"{"email":"a@example.com","timestamp":1,"event":"bounce","type":"bounce","sg_event_id":"x"}"#,
        );
        assert_eq!(bare.reason().as_deref(), Some("bounce"), "the bounce's kind when no words came");
    }

    #[test]
    fn the_job_id_is_read_from_our_custom_args() {
        let base = r#""email":"a@example.com","timestamp":1,"event":"open","sg_event_id":"e1""#;
        let job = |rest: &str| event(&format!("{{{base}{rest}}}")).job_id();
        assert_eq!(job(r#","job_id":"42""#), Some(42));
        assert_eq!(job(r#","job_id":42"#), Some(42));
        assert_eq!(job(r#","job_id":"0""#), None, "a test email");
        assert_eq!(job(r#","job_id":"x""#), None);
        assert_eq!(job(""), None);
    }
}
