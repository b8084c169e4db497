//! Who is asking: the socket peer, or — only when that peer is one of our own
//! proxies (`TRUSTED_PROXIES`) — the address the proxies forwarded.
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Proxies whose `X-Forwarded-For` we believe: single addresses or CIDR ranges.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, thiserror::Error)]
#[error("TRUSTED_PROXIES: {0:?} is neither an IP address nor a CIDR range (e.g. 10.0.0.0/8)")]
pub struct InvalidProxy(String);

impl FromStr for TrustedProxies {
    type Err = InvalidProxy;

    /// A comma-separated list, e.g. `10.0.0.0/8, 127.0.0.1`.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let parse = |entry: &str| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| InvalidProxy(entry.to_owned()))
        };
        let entries = list.split(',').map(str::trim).filter(|entry| !entry.is_empty());
        Ok(Self(entries.map(parse).collect::<Result<_, _>>()?))
    }
}

/// Whose budget a client draws on: its IPv4 address, or its IPv6 /64 (one
/// subscriber's network holds 2^64 addresses; keyed by each, one visitor
/// would have unlimited budgets and grow every limiter's table).
pub fn budget_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(std::net::Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Walks `X-Forwarded-For` from the right (the hop nearest us) past our own
    /// proxies; the first address we do not run is the client. Anything left
    /// of it was written by the client and proves nothing.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("header value"));
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP")
    }

    #[test]
    fn an_ipv6_network_is_one_client() {
        assert_eq!(budget_key(ip("2001:db8:1:2:aaaa::1")), budget_key(ip("2001:db8:1:2:ffff::9")));
        assert_eq!(budget_key(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_ne!(budget_key(ip("2001:db8:1:3::1")), budget_key(ip("2001:db8:1:2::1")));
        assert_eq!(budget_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(budget_key(ip("203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().expect("valid");
        assert_eq!(proxies.client_ip(ip("203.0.113.9"), &forwarded("1.2.3.4")), ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("10.0.0.1"), &forwarded("1.2.3.4")), ip("10.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_hops_are_ignored() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.7".parse().expect("valid");
        // The client claims to be 1.1.1.1; our proxies saw 198.51.100.4.
        let headers = forwarded("1.1.1.1, 198.51.100.4, 192.0.2.7");
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &headers), ip("198.51.100.4"));
        // A trusted peer without the header is itself the client.
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &HeaderMap::new()), ip("10.1.2.3"));
        // Garbage stops the walk at the last address we could read.
        assert_eq!(proxies.client_ip(ip("10.1.2.3"), &forwarded("nonsense")), ip("10.1.2.3"));
        // IPv4 seen over an IPv6 socket is the same client.
        assert_eq!(TrustedProxies::default().client_ip(ip("::ffff:203.0.113.9"), &HeaderMap::new()), ip("203.0.113.9"));
    }

    #[test]
    fn bad_entries_are_named() {
        let error = "10.0.0.0/8, proxy.internal".parse::<TrustedProxies>().expect_err("invalid");
        assert!(error.to_string().contains("proxy.internal"), "{error}");
        assert!("".parse::<TrustedProxies>().expect("empty is none").0.is_empty());
    }
}
