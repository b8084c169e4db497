//! Where webhooks may be sent: no server-side request forgery. A URL must be
//! `https` and every address its host resolves to must be public: not
//! loopback, private, link-local (the cloud metadata service at
//! 169.254.169.254), shared, documentation, multicast or unspecified. It is
//! checked when an endpoint is saved and again at each delivery, where the
//! client connects only to the addresses the check passed ([`Guard`] is its
//! resolver), so a name that changes to a private address later (DNS
//! rebinding) is refused too. `WEBHOOK_ALLOW_PRIVATE=true` lifts both rules
//! (development and tests).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Whether private destinations and plain `http` are allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guard {
    pub allow_private: bool,
}

/// A longer URL is refused: nobody needs one, and it would fill the log.
pub const MAX_URL_CHARS: usize = 2000;

impl Guard {
    /// Parses an endpoint URL and checks its scheme and, where it is an
    /// address, the address. A host name is resolved by [`Guard::check`].
    pub fn parse(&self, raw: &str) -> Result<Url, String> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(format!("Use a URL of at most {MAX_URL_CHARS} characters."));
        }
        let url =
            Url::parse(raw).map_err(|_| "Enter a full URL, e.g. https://hooks.example.com/webinar.".to_owned())?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            "http" => return Err("Use an https URL: events carry registrants' data.".into()),
            _ => return Err("Use an https URL.".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("Put no user name or password in the URL; the signature authenticates us.".into());
        }
        match url.host() {
            None => return Err("The URL needs a host.".into()),
            Some(Host::Ipv4(ip)) => self.allowed(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.allowed(IpAddr::V6(ip))?,
            Some(Host::Domain(_)) => {}
        }
        Ok(url)
    }

    /// Parses the URL and resolves its host: every address must be allowed.
    pub async fn check(&self, raw: &str) -> Result<Url, String> {
        let url = self.parse(raw)?;
        if let Some(Host::Domain(name)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            self.addresses_of(name, port).await?;
        }
        Ok(url)
    }

    /// The addresses `name` resolves to, all allowed, or why not.
    pub async fn addresses_of(&self, name: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|error| format!("The host {name} could not be resolved ({error})."))?
            .collect();
        if found.is_empty() {
            return Err(format!("The host {name} has no address."));
        }
        for address in &found {
            self.allowed(address.ip()).map_err(|why| format!("{name} resolves to {}: {why}", address.ip()))?;
        }
        Ok(found)
    }

    fn allowed(&self, ip: IpAddr) -> Result<(), String> {
        match self.allow_private || is_public(ip) {
            true => Ok(()),
            false => Err("a loopback, private, link-local or otherwise internal address is refused.".into()),
        }
    }
}

/// The client's resolver: only addresses [`Guard::addresses_of`] passed are connected to.
impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = *self;
        Box::pin(async move {
            // The port is the client's to set; 0 is replaced by the URL's.
            let found =
                guard.addresses_of(name.as_str(), 0).await.map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
            let addresses: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// An address anyone on the internet could reach.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24, and benchmarking, 198.18.0.0/15.
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local (fc00::/7, where fd00:ec2::254 is a metadata service) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // Documentation, 2001:db8::/32.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // IPv4-compatible (deprecated) and NAT64 addresses name IPv4 ones: judged as those.
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4) && (first == 0 || first == 0x64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Guard = Guard { allow_private: false };
    const LOOSE: Guard = Guard { allow_private: true };

    #[test]
    fn internal_addresses_are_refused() {
        for url in [
            "https://127.0.0.1/hook",
            "https://127.1.2.3:8443/hook",
            "https://[::1]/hook",
            "https://10.0.0.5/hook",
            "https://172.16.3.4/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://2130706433/",
            "https://0x7f.0.0.1/",
        ] {
            assert!(STRICT.parse(url).is_err(), "{url} must be refused");
            assert!(LOOSE.parse(url).is_ok(), "{url} is allowed with the flag");
        }
    }

    #[test]
    fn public_https_urls_pass_and_other_schemes_do_not() {
        assert!(STRICT.parse("https://hooks.example.com/webinar?x=1").is_ok());
        assert!(STRICT.parse("https://93.184.215.14:8443/").is_ok());
        assert!(STRICT.parse("https://[2606:4700::1111]/").is_ok());
        for refused in
            ["http://hooks.example.com/", "ftp://example.com/", "file:///etc/passwd", "gopher://x/", "nonsense"]
        {
            assert!(STRICT.parse(refused).is_err(), "{refused}");
        }
        assert!(LOOSE.parse("http://127.0.0.1:9000/").is_ok());
        assert!(LOOSE.parse("ftp://127.0.0.1/").is_err(), "the flag allows http, not any scheme");
        assert!(STRICT.parse("https://user:pass@hooks.example.com/").is_err());
        assert!(STRICT.parse(&format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS))).is_err());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let refused = STRICT.check("https://localhost:9/hook").await;
        assert!(refused.is_err_and(|why| why.contains("localhost resolves to")), "localhost must be refused");
        assert!(LOOSE.check("http://localhost:9/hook").await.is_ok());
        assert!(STRICT.check("https://no-such-host.invalid/").await.is_err(), "an unresolvable name");
    }

    #[tokio::test]
    async fn the_clients_resolver_gives_out_only_allowed_addresses() {
        use reqwest::dns::Resolve;
        let name = |host: &str| host.parse::<reqwest::dns::Name>().expect("a name");
        assert!(Resolve::resolve(&STRICT, name("localhost")).await.is_err(), "a name now at loopback is refused");
        let found: Vec<SocketAddr> = Resolve::resolve(&LOOSE, name("localhost")).await.expect("allowed").collect();
        assert!(found.iter().all(|address| address.ip().is_loopback()), "{found:?}");
    }
}
