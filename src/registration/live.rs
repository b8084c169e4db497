//! Live registration counts leave the domain through this port; the server
//! fans them out to websocket clients (in-process, or over Redis).
use std::collections::BTreeMap;

/// A webinar's counts after a change: over every session, and each session
/// the change moved (a new registration moves one; a switch, two). A page
/// keeps the counts of the sessions a message does not name.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveCount {
    pub registrations: u64,
    #[serde(default)]
    pub sessions: BTreeMap<i64, u64>,
}

impl LiveCount {
    /// Takes in a newer count: the total never goes back (a late or echoed
    /// message cannot undo a registration); at the same total (a switch),
    /// the sessions named take their new counts. Says whether anything changed.
    pub fn absorb(&mut self, newer: &LiveCount) -> bool {
        if newer.registrations < self.registrations {
            return false;
        }
        let before = (self.registrations, self.sessions.clone());
        self.registrations = newer.registrations;
        self.sessions.extend(&newer.sessions);
        before != (self.registrations, self.sessions.clone())
    }
}

pub trait CountPublisher: Send + Sync + 'static {
    fn publish(&self, webinar_id: i64, count: LiveCount);
}

/// For a process that serves no live counts (the command line, a worker
/// alone): counts are read from the database by whoever shows them.
pub struct NoCounts;

impl CountPublisher for NoCounts {
    fn publish(&self, _webinar_id: i64, _count: LiveCount) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(registrations: u64, sessions: &[(i64, u64)]) -> LiveCount {
        LiveCount { registrations, sessions: sessions.iter().copied().collect() }
    }

    #[test]
    fn counts_move_on_never_back_and_a_switch_moves_two_sessions() {
        let mut shown = count(5, &[(1, 3), (2, 2)]);
        assert!(shown.absorb(&count(6, &[(2, 3)])));
        assert_eq!(shown, count(6, &[(1, 3), (2, 3)]), "the other session keeps its count");
        assert!(!shown.absorb(&count(5, &[(1, 9)])), "an older message is ignored");
        assert!(shown.absorb(&count(6, &[(1, 2), (2, 4)])), "a switch: same total, two sessions");
        assert_eq!(shown, count(6, &[(1, 2), (2, 4)]));
        assert!(!shown.absorb(&count(6, &[(1, 2)])), "nothing new");
    }
}
