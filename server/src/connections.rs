//! Serving connections with limits, so slow or idle clients cannot hold the
//! server: every connection must send a request's headers within
//! `header_timeout` of opening, or of its last answer (which also closes
//! idle keep-alive connections); each client (an IPv4 address or an IPv6
//! /64) holds at most `per_client` connections and `websockets_per_client`
//! websockets, and the process at most `total` of each. Connections from
//! trusted proxies are only held to the total: the client behind a proxy is
//! known per request, which is where websockets are counted. HTTP/1.1 only:
//! browsers speak HTTP/2 over TLS, which a proxy in front terminates.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;

use crate::client_ip::{TrustedProxies, budget_key};

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub total: usize,
    pub per_client: usize,
    pub websockets_per_client: usize,
}

/// Open connections (or websockets) by client, and in all.
#[derive(Default)]
struct Counts {
    by_client: HashMap<IpAddr, usize>,
    total: usize,
}

/// Admits connections and websockets within the limits; each admission is
/// a guard that gives its place back when dropped.
pub struct Tracker {
    limits: Limits,
    proxies: TrustedProxies,
    connections: Arc<Mutex<Counts>>,
    websockets: Arc<Mutex<Counts>>,
}

/// A place taken; dropped, it is free again.
pub struct Admitted {
    counts: Arc<Mutex<Counts>>,
    client: Option<IpAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(client) = self.client
            && let Some(open) = counts.by_client.get_mut(&client)
        {
            *open -= 1;
            if *open == 0 {
                counts.by_client.remove(&client);
            }
        }
    }
}

fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn admit(counts: &Arc<Mutex<Counts>>, client: Option<IpAddr>, per_client: usize, total: usize) -> Option<Admitted> {
    let mut open = lock(counts);
    if open.total >= total {
        return None;
    }
    if let Some(client) = client {
        let mine = open.by_client.entry(client).or_default();
        if *mine >= per_client {
            return None;
        }
        *mine += 1;
    }
    open.total += 1;
    Some(Admitted { counts: counts.clone(), client })
}

impl Tracker {
    pub fn new(limits: Limits, proxies: TrustedProxies) -> Self {
        Self { limits, proxies, connections: Arc::default(), websockets: Arc::default() }
    }

    /// A new connection from `peer`, if its client and the process have room.
    fn admit_connection(&self, peer: IpAddr) -> Option<Admitted> {
        let client = (!self.proxies.trusts(peer.to_canonical())).then(|| budget_key(peer));
        admit(&self.connections, client, self.limits.per_client, self.limits.total)
    }

    /// A websocket for `client` (the request's client, behind proxies too).
    pub fn admit_websocket(&self, client: IpAddr) -> Option<Admitted> {
        admit(&self.websockets, Some(budget_key(client)), self.limits.websockets_per_client, self.limits.total)
    }
}

/// Raises this process's open-file limit to the hard limit (each connection
/// is a file) and returns it; the total of connections stays below it.
pub fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Serves `router` on `listener` until `stopping` turns true, then waits for
/// open requests to finish.
pub async fn serve(listener: TcpListener, router: Router, tracker: Arc<Tracker>, mut stopping: watch::Receiver<bool>) {
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let (closing, closed) = watch::channel(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of files or memory for a moment: wait instead of spinning.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(admitted) = tracker.admit_connection(peer.ip()) else {
            metrics::counter!("webinar_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = make_service.call(peer).await;
        let hyper_service = TowerToHyperService::new(service);
        let header_timeout = tracker.limits.header_timeout;
        let mut stopping = stopping.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            let _closed = closed;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(Some(header_timeout)).keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), hyper_service).with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    drop(closed);
    // Every connection task holds a receiver: this returns when the last one ends.
    closing.closed().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(proxies: &str) -> Tracker {
        let limits =
            Limits { header_timeout: Duration::from_secs(1), total: 5, per_client: 2, websockets_per_client: 1 };
        Tracker::new(limits, proxies.parse().expect("proxies"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP")
    }

    #[test]
    fn each_client_gets_its_share_and_gives_it_back() {
        let tracker = tracker("");
        let first = tracker.admit_connection(ip("203.0.113.1")).expect("room");
        let _second = tracker.admit_connection(ip("203.0.113.1")).expect("room");
        assert!(tracker.admit_connection(ip("203.0.113.1")).is_none(), "the third from one client");
        assert!(tracker.admit_connection(ip("2001:db8::1")).is_some(), "another client");
        drop(first);
        assert!(tracker.admit_connection(ip("203.0.113.1")).is_some(), "a place given back");
        let _ws = tracker.admit_websocket(ip("203.0.113.1")).expect("a websocket");
        assert!(tracker.admit_websocket(ip("203.0.113.1")).is_none(), "one websocket each");
    }

    #[test]
    fn proxies_are_held_to_the_total_only() {
        let tracker = tracker("10.0.0.0/8");
        let held: Vec<Admitted> = (0..5).filter_map(|_| tracker.admit_connection(ip("10.0.0.7"))).collect();
        assert_eq!(held.len(), 5);
        assert!(tracker.admit_connection(ip("203.0.113.1")).is_none(), "the process is full");
    }
}
