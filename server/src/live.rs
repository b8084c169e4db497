//! Registration counts, out to everyone following them.
//!
//! `LiveHub`: one `watch` channel per followed webinar, so a websocket client
//! that reads slowly only ever sees the latest count and never holds up the
//! publisher or the others. `LiveCounts`: what the domain publishes to — this
//! instance's hub and stats cache at once, and every other instance over a
//! Redis channel per webinar when Redis is up.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use webinar::{Clock, CountPublisher};

use crate::redis::Redis;
use crate::stats::StatsCache;

#[derive(Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<i64, watch::Sender<u64>>>,
}

impl LiveHub {
    /// Follows a webinar's count; `current` seeds a channel nobody follows yet.
    pub fn subscribe(&self, webinar_id: i64, current: u64) -> watch::Receiver<u64> {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels.retain(|_, sender| sender.receiver_count() > 0);
        channels.entry(webinar_id).or_insert_with(|| watch::Sender::new(current)).subscribe()
    }

    pub fn followers(&self, webinar_id: i64) -> usize {
        let channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels.get(&webinar_id).map_or(0, watch::Sender::receiver_count)
    }

    /// Counts only grow here: a late or echoed message cannot move one back.
    pub fn publish(&self, webinar_id: i64, registrations: u64) {
        let channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = channels.get(&webinar_id) {
            sender.send_if_modified(|current| {
                let newer = registrations > *current;
                if newer {
                    *current = registrations;
                }
                newer
            });
        }
    }
}

/// Channel `count:{webinar_id}`, payload the count in decimal.
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
                if let (Some(webinar_id), Ok(registrations)) = (webinar_id, payload.parse()) {
                    local.publish_here(webinar_id, registrations);
                }
            });
        }
        counts
    }

    fn publish_here(&self, webinar_id: i64, registrations: u64) {
        self.hub.publish(webinar_id, registrations);
        self.stats.record(webinar_id, registrations, self.clock.now());
    }
}

impl CountPublisher for LiveCounts {
    fn publish(&self, webinar_id: i64, registrations: u64) {
        self.publish_here(webinar_id, registrations);
        if let Some(redis) = &self.redis {
            redis.publish(&format!("count:{webinar_id}"), registrations.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_see_the_latest_count_and_closed_pages_are_forgotten() {
        let hub = LiveHub::default();
        let mut first = hub.subscribe(7, 3);
        let second = hub.subscribe(7, 0);
        assert_eq!(*second.borrow(), 3, "a second follower joins the existing channel");
        hub.publish(7, 4);
        hub.publish(7, 5);
        hub.publish(7, 4);
        assert!(first.has_changed().expect("open"));
        assert_eq!(*first.borrow_and_update(), 5, "a slow reader skips to the latest; an older count is ignored");
        assert_eq!(hub.followers(7), 2);
        drop(first);
        drop(second);
        hub.subscribe(8, 0);
        assert_eq!(hub.followers(7), 0);
        assert_eq!(hub.channels.lock().expect("lock").len(), 1, "webinar 7's channel was dropped");
    }
}
