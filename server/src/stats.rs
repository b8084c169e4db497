//! Public registration counts served from memory. Registrations update the
//! cache as they happen (here, and on every instance over Redis); a short TTL
//! bounds any drift; while the database is unreachable the last known count
//! is served marked stale.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use webinar::{DomainError, Service, Stats};

use crate::error::ApiError;

pub struct StatsCache {
    ttl: Duration,
    /// By the slug asked for (`""`: the next upcoming webinar).
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    stats: Stats,
    fetched: Instant,
}

impl StatsCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::default() }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub async fn get(&self, service: &Service, slug: Option<&str>) -> Result<Stats, ApiError> {
        let key = slug.unwrap_or_default();
        if let Some(entry) = self.entries().get(key).filter(|entry| entry.fetched.elapsed() < self.ttl) {
            return Ok(entry.stats.clone());
        }
        match service.stats(slug).await {
            Ok(stats) => {
                let entry = Entry { stats: stats.clone(), fetched: Instant::now() };
                self.entries().insert(key.to_owned(), entry);
                Ok(stats)
            }
            Err(DomainError::Database(error)) => {
                let mut entries = self.entries();
                let Some(entry) = entries.get_mut(key) else {
                    tracing::error!(%error, "stats: database unreachable and no count known yet");
                    return Err(ApiError::StatsUnavailable);
                };
                if !entry.stats.stale {
                    tracing::warn!(%error, "stats: database unreachable, serving the last known count");
                }
                // Serve the stale value for a TTL before asking the database again.
                entry.stats.stale = true;
                entry.fetched = Instant::now();
                Ok(entry.stats.clone())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// A registration happened: every cached view of that webinar moves on.
    /// Counts only grow here, so a late or echoed message cannot move one back.
    pub fn record(&self, webinar_id: i64, registrations: u64, at: DateTime<Utc>) {
        for entry in self.entries().values_mut().filter(|entry| entry.stats.webinar_id == webinar_id) {
            if registrations > entry.stats.registrations {
                entry.stats.registrations = registrations;
                entry.stats.updated_at = at;
            }
        }
    }
}
