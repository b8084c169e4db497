//! A webinar's registration count right after a registration commits,
//! without a `COUNT(*)` per registration.
//!
//! Counting is linear in the registrations (Postgres and SQLite alike), so
//! under load one count per registration is the write path's largest cost.
//! Here, registrations that finish while a count runs share the next one:
//! each takes a ticket after its commit, and a count that starts after a
//! ticket was taken includes that registration. Counts per webinar run one
//! at a time, so the cost is bounded by the count's own duration, not by the
//! registration rate.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, DbErr};

#[derive(Default)]
pub struct RegistrationCounts {
    webinars: Mutex<HashMap<i64, Arc<Slot>>>,
}

#[derive(Default)]
struct Slot {
    /// Tickets handed out so far (registrations committed and waiting for a count).
    issued: AtomicU64,
    /// The last count, and the highest ticket it includes. A fair (FIFO)
    /// async lock: one count at a time, waiters served in order.
    last: tokio::sync::Mutex<(u64, u64)>,
}

impl RegistrationCounts {
    /// The count including every registration committed before this call.
    pub async fn after_commit<C: ConnectionTrait>(&self, db: &C, webinar_id: i64) -> Result<u64, DbErr> {
        let slot = {
            let mut webinars = self.webinars.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(webinars.entry(webinar_id).or_default())
        };
        let ticket = slot.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut last = slot.last.lock().await;
        let (covered, count) = *last;
        if covered >= ticket {
            return Ok(count);
        }
        // Every ticket issued before the count starts belongs to a committed registration.
        let covering = slot.issued.load(Ordering::SeqCst);
        let count = crate::registration::count_for_webinar(db, webinar_id).await?;
        *last = (covering, count);
        Ok(count)
    }
}
