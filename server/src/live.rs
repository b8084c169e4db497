//! In-process fan-out of registration counts to websocket clients.
//!
//! One `watch` channel per followed webinar: a client that reads slowly only
//! ever sees the latest count, and never holds up the publisher or others.
use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;
use webinar::CountPublisher;

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
}

impl CountPublisher for LiveHub {
    fn publish(&self, webinar_id: i64, registrations: u64) {
        let channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = channels.get(&webinar_id) {
            sender.send_replace(registrations);
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
        assert!(first.has_changed().expect("open"));
        assert_eq!(*first.borrow_and_update(), 5, "a slow reader skips to the latest");
        assert_eq!(hub.followers(7), 2);
        drop(first);
        drop(second);
        hub.subscribe(8, 0);
        assert_eq!(hub.followers(7), 0);
        assert_eq!(hub.channels.lock().expect("lock").len(), 1, "webinar 7's channel was dropped");
    }
}
