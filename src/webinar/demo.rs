//! The demo webinar `make run` shows on a fresh database.
use chrono::{DateTime, Duration, NaiveTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};

use crate::webinar::{self, AgendaItem, NewWebinar, Speaker, Status};

/// Creates a demo webinar three days out, unless a published one is upcoming.
/// Returns the one it created.
pub async fn seed<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Option<webinar::Model>, DbErr> {
    if webinar::next_upcoming(db, now).await?.is_some() {
        return Ok(None);
    }
    // Three days out at 16:00 UTC: afternoon in Europe, morning in the Americas.
    let starts_at = (now + Duration::days(3)).date_naive().and_time(NaiveTime::MIN).and_utc() + Duration::hours(16);
    let demo = NewWebinar {
        slug: format!("demo-{}", starts_at.format("%Y-%m-%d")),
        title: "Shipping reminders that land".into(),
        subtitle: "How marketing teams fill live sessions without a developer".into(),
        description: "Most registrants never show up. In 45 minutes we walk through what moves \
attendance: the confirmation email, reminders at the right lead times, and a join link \
that always works.\n\nBring your questions: the last 15 minutes are live Q&A."
            .into(),
        speakers: vec![
            Speaker { name: "Ada Lovelace".into(), title: "Head of Growth".into(), photo_url: None },
            Speaker { name: "Grace Hopper".into(), title: "Lifecycle Marketing Lead".into(), photo_url: None },
        ],
        agenda: vec![
            AgendaItem { at: "0:00".into(), title: "Why registrants don't show up".into() },
            AgendaItem { at: "0:10".into(), title: "The confirmation email and the three reminders".into() },
            AgendaItem { at: "0:30".into(), title: "Live Q&A".into() },
        ],
        starts_at,
        duration_minutes: 45,
        timezone: chrono_tz::Europe::Berlin,
        join_url: "https://meet.example.com/demo".into(),
        status: Status::Published,
        capacity: None,
    };
    webinar::create(db, demo, now).await.map(Some)
}
