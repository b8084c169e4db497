//! Live registration counts leave the domain through this port; the server
//! fans them out to websocket clients (in-process, or over Redis).

pub trait CountPublisher: Send + Sync + 'static {
    fn publish(&self, webinar_id: i64, registrations: u64);
}
