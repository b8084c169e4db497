//! Live registration counts leave the domain through this port; the server
//! fans them out to websocket clients (in-process, or over Redis).

pub trait CountPublisher: Send + Sync + 'static {
    fn publish(&self, webinar_id: i64, registrations: u64);
}

/// For a process that serves no live counts (the command line, a worker
/// alone): counts are read from the database by whoever shows them.
pub struct NoCounts;

impl CountPublisher for NoCounts {
    fn publish(&self, _webinar_id: i64, _registrations: u64) {}
}
