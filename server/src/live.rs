//! Registration counts, out to everyone following them.
//!
//! `LiveHub`: one `watch` channel per followed webinar (its total and its
//! sessions' counts), so a websocket client that reads slowly only ever sees
//! the latest counts and never holds up the publisher or the others. `LiveCounts`: what the domain publishes to — this
//! instance's hub and stats cache at once, and every other instance over a
//! Redis channel per webinar when Redis is up.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use webinar::{Clock, CountPublisher, LiveCount};

use crate::redis::Redis;
use crate::stats::StatsCache;

#[derive(Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<i64, watch::Sender<LiveCount>>>,
}

impl LiveHub {
    /// Follows a webinar's counts; `current` seeds a channel nobody follows yet.
    pub fn subscribe(&self, webinar_id: i64, current: LiveCount) -> watch::Receiver<LiveCount> {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels.retain(|_, sender| sender.receiver_count() > 0);
        channels.entry(webinar_id).or_insert_with(|| watch::Sender::new(current)).subscribe()
    }

    pub fn followers(&self, webinar_id: i64) -> usize {
        let channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels.get(&webinar_id).map_or(0, watch::Sender::receiver_count)
    }

    /// A late or echoed message cannot move the total back ([`LiveCount::absorb`]).
    pub fn publish(&self, webinar_id: i64, count: &LiveCount) {
        let channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = channels.get(&webinar_id) {
            sender.send_if_modified(|current| current.absorb(count));
        }
    }
}

/// Channel `count:{webinar_id}`, payload the counts as JSON (`{"registrations": N,
/// "sessions": {"id": n}}`); a bare decimal (an instance of the version before
/// sessions, during a rolling deploy) is a total alone.
const COUNT_CHANNELS: &str = "count:*";

pub struct LiveCounts {
    hub: Arc<LiveHub>,
    stats: Arc<StatsCache>,
    redis: Option<Arc<Redis>>,
    clock: Arc<dyn Clock>,
}

impl LiveCounts {
    /// With Redis, also follows the counts other instances publish.
    pub fn new(
        hub: Arc<LiveHub>,
        stats: Arc<StatsCache>,
        redis: Option<Arc<Redis>>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let counts = Arc::new(Self { hub, stats, redis, clock });
        if let Some(redis) = &counts.redis {
            let local = Arc::clone(&counts);
            redis.follow(COUNT_CHANNELS, move |channel, payload| {
                let webinar_id = channel.strip_prefix("count:").and_then(|id| id.parse().ok());
                if let (Some(webinar_id), Some(count)) = (webinar_id, parse_payload(payload)) {
                    local.publish_here(webinar_id, &count);
                }
            });
        }
        counts
    }

    fn publish_here(&self, webinar_id: i64, count: &LiveCount) {
        self.hub.publish(webinar_id, count);
        self.stats.record(webinar_id, count, self.clock.now());
    }
}

fn parse_payload(payload: &str) -> Option<LiveCount> {
    match payload.parse() {
        Ok(registrations) => Some(LiveCount { registrations, sessions: Default::default() }),
        Err(_) => serde_json::from_str(payload).ok(),
    }
}

impl CountPublisher for LiveCounts {
    fn publish(&self, webinar_id: i64, count: LiveCount) {
        self.publish_here(webinar_id, &count);
        if let Some(redis) = &self.redis {
            // A map of numbers always serializes.
            redis.publish(&format!("count:{webinar_id}"), serde_json::to_string(&count).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(registrations: u64) -> LiveCount {
        LiveCount { registrations, sessions: Default::default() }
    }

    #[test]
    fn followers_see_the_latest_count_and_closed_pages_are_forgotten() {
        let hub = LiveHub::default();
        let mut first = hub.subscribe(7, total(3));
        let second = hub.subscribe(7, total(0));
        assert_eq!(second.borrow().registrations, 3, "a second follower joins the existing channel");
        hub.publish(7, &total(4));
        hub.publish(7, &LiveCount { registrations: 5, sessions: [(70, 5)].into() });
        hub.publish(7, &total(4));
        assert!(first.has_changed().expect("open"));
        let latest = first.borrow_and_update().clone();
        assert_eq!(latest, LiveCount { registrations: 5, sessions: [(70, 5)].into() }, "an older count is ignored");
        assert_eq!(hub.followers(7), 2);
        drop(first);
        drop(second);
        hub.subscribe(8, total(0));
        assert_eq!(hub.followers(7), 0);
        assert_eq!(hub.channels.lock().expect("lock").len(), 1, "webinar 7's channel was dropped");
    }

    #[test]
    fn other_instances_payloads_are_read_old_and_new() {
        assert_eq!(parse_payload("12"), Some(total(12)), "an instance from before sessions");
        let count = LiveCount { registrations: 12, sessions: [(3, 4), (5, 8)].into() };
        let payload = serde_json::to_string(&count).expect("json");
        assert_eq!(payload, r#"{"registrations":12,"sessions":{"3":4,"5":8}}"#);
        assert_eq!(parse_payload(&payload), Some(count));
        assert_eq!(parse_payload("nonsense"), None);
    }
}
