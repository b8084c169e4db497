//! Public registration counts served from memory. Registrations update the
//! cache as they happen (here, and on every instance over Redis); a short TTL
//! bounds any drift; while the database is unreachable the last known count
//! is served marked stale. Entries keep their JSON and `ETag` rendered, so a
//! hit costs a lookup and a reference count.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use webinar::{DomainError, LiveCount, Service, Stats};

use crate::error::ApiError;

pub struct StatsCache {
    ttl: Duration,
    cache_control: HeaderValue,
    /// By the slug as it is looked up (`webinar::canonical_slug`; `""`: the
    /// next upcoming webinar), never as typed: only slugs that name a
    /// webinar get an entry, so there are about two per webinar.
    entries: Mutex<HashMap<String, Entry>>,
}

/// A bound on entries all the same (webinars renamed, deleted): past it,
/// expired entries are dropped, and if that is not enough, all of them.
const MAX_ENTRIES: usize = 10_000;

/// A count as served: the JSON body, its `ETag` and `Cache-Control`.
#[derive(Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub etag: HeaderValue,
    pub cache_control: HeaderValue,
}

struct Entry {
    stats: Stats,
    rendered: Rendered,
    fetched: Instant,
}

impl StatsCache {
    pub fn new(ttl: Duration) -> Self {
        let cache_control = HeaderValue::from_str(&format!("public, max-age={}", ttl.as_secs()))
            .unwrap_or(HeaderValue::from_static("no-cache"));
        Self { ttl, cache_control, entries: Mutex::default() }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn entry(&self, stats: Stats) -> Entry {
        // A weak tag: `updated_at` may differ while the count, which is what matters, does not.
        let stale = if stats.stale { "-stale" } else { "" };
        let session = stats.session.as_ref().map(|session| format!("-{}-{}", session.id, session.registrations));
        let etag = format!("W/\"{}-{}{}{stale}\"", stats.webinar, stats.registrations, session.unwrap_or_default());
        let rendered = Rendered {
            body: serde_json::to_vec(&stats).map(Bytes::from).unwrap_or_default(),
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("W/\"unknown\"")),
            cache_control: match stats.stale {
                true => HeaderValue::from_static("no-cache"),
                false => self.cache_control.clone(),
            },
        };
        Entry { stats, rendered, fetched: Instant::now() }
    }

    /// The count of a webinar (`slug`; the next upcoming one when `None`),
    /// and with `session`, that session's too.
    pub async fn get(&self, service: &Service, slug: Option<&str>, session: Option<i64>) -> Result<Rendered, ApiError> {
        let slug = webinar::webinar::canonical_slug(slug);
        let key = match session {
            Some(session) => format!("{}#{session}", slug.unwrap_or_default()),
            None => slug.unwrap_or_default().to_owned(),
        };
        let key = key.as_str();
        if let Some(entry) = self.entries().get(key).filter(|entry| entry.fetched.elapsed() < self.ttl) {
            return Ok(entry.rendered.clone());
        }
        match service.stats(slug, session).await {
            Ok(stats) => {
                let entry = self.entry(stats);
                let rendered = entry.rendered.clone();
                let mut entries = self.entries();
                if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
                    entries.retain(|_, entry| entry.fetched.elapsed() < self.ttl);
                    if entries.len() >= MAX_ENTRIES {
                        entries.clear();
                    }
                }
                entries.insert(key.to_owned(), entry);
                Ok(rendered)
            }
            Err(DomainError::Unavailable(error)) => {
                let mut entries = self.entries();
                let Some(entry) = entries.get_mut(key) else {
                    tracing::error!(%error, "stats: database unreachable and no count known yet");
                    return Err(ApiError::StatsUnavailable);
                };
                if !entry.stats.stale {
                    tracing::warn!(%error, "stats: database unreachable, serving the last known count");
                }
                // Serve the stale value for a TTL before asking the database again.
                let stale = Stats { stale: true, ..entry.stats.clone() };
                *entry = self.entry(stale);
                Ok(entry.rendered.clone())
            }
            Err(other) => Err(other.into()),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }

    /// A registration happened: every cached view of that webinar moves on,
    /// its total and the sessions the change names. The total only grows
    /// here, so a late or echoed message cannot move one back.
    pub fn record(&self, webinar_id: i64, count: &LiveCount, at: DateTime<Utc>) {
        let mut entries = self.entries();
        for entry in entries.values_mut() {
            if entry.stats.webinar_id != webinar_id || count.registrations < entry.stats.registrations {
                continue;
            }
            let mut moved = Stats { registrations: count.registrations, updated_at: at, ..entry.stats.clone() };
            if let Some(session) = moved.session.as_mut()
                && let Some(registrations) = count.sessions.get(&session.id)
            {
                session.set_registrations(*registrations);
            }
            if moved.registrations != entry.stats.registrations || moved.session != entry.stats.session {
                let fetched = entry.fetched;
                *entry = Entry { fetched, ..self.entry(moved) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn spellings_of_one_slug_share_one_entry_and_unknown_ones_get_none() {
        let database = test_support::TestDatabase::sqlite().expect("database");
        let db = database.connect().await.expect("connect");
        let clock = Arc::new(webinar::SystemClock);
        let now = webinar::Clock::now(clock.as_ref());
        webinar::webinar::demo::seed(&db, now).await.expect("seed").expect("a demo webinar");
        let slug = webinar::webinar::next_upcoming(&db, now).await.expect("query").expect("upcoming").slug;
        let service = Service::new(db, clock, Arc::new(test_support::NoCounts));
        let cache = StatsCache::new(Duration::from_secs(60));
        for spelling in 0..2_000 {
            let typed = format!("{}{slug}{}", " ".repeat(spelling % 40), "\t".repeat(spelling / 40));
            cache.get(&service, Some(&typed), None).await.expect("the demo's count");
            let unknown = format!("{slug}-{spelling}");
            assert!(cache.get(&service, Some(&unknown), None).await.is_err());
            assert!(cache.get(&service, Some(&format!("{slug}\u{0}{spelling}")), None).await.is_err());
        }
        cache.get(&service, None, None).await.expect("the next webinar's count");
        assert_eq!(cache.len(), 2, "the slug and the next upcoming webinar");
    }
}
