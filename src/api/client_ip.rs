//! Who the client of a request is, for the per-IP limit on `new_account`: the TCP peer, unless the
//! peer is a configured trusted proxy; then the right-most `X-Forwarded-For` address that is not
//! itself a trusted proxy (addresses further left were written by the client and prove nothing).
//! Clients are bucketed by address, IPv6 ones by their /64 (one host usually holds a whole /64).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

pub use crate::config::TrustedProxy;

pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The configured trusted proxies, ready to answer "who is the client?".
#[derive(Debug, Clone, Default)]
pub struct ClientResolver {
    proxies: Vec<IpNet>,
}

impl ClientResolver {
    pub fn new(proxies: &[TrustedProxy]) -> Self {
        Self {
            proxies: proxies.iter().map(|p| p.net()).collect(),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer`, or when `peer` is trusted, the right-most forwarded address
    /// that is not trusted. An unreadable entry stops the walk at the last trusted hop.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        let values: Vec<_> = headers.get_all(X_FORWARDED_FOR).iter().collect();
        for value in values.into_iter().rev() {
            let Ok(list) = value.to_str() else {
                return client;
            };
            for entry in list.rsplit(',') {
                let Some(hop) = parse_hop(entry) else {
                    return client;
                };
                client = hop;
                if !self.is_trusted(hop) {
                    return client;
                }
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The rate-limit bucket of a client address: IPv4 as is, IPv6 by its /64 prefix.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> ClientResolver {
        let parsed: Vec<TrustedProxy> = list
            .iter()
            .map(|s| TrustedProxy::try_from(s.to_string()).unwrap())
            .collect();
        ClientResolver::new(&parsed)
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let resolver = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["1.1.1.1"]);
        assert_eq!(resolver.client(ip("192.0.2.9"), &headers), ip("192.0.2.9"));
        assert_eq!(
            ClientResolver::default().client(ip("127.0.0.1"), &headers),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let resolver = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(
            resolver.client(peer, &forwarded(&["1.1.1.1"])),
            ip("1.1.1.1")
        );
        // Spoofed entries to the left of the real client are ignored; trusted hops are skipped.
        let headers = forwarded(&["6.6.6.6, 1.1.1.1, 10.1.2.3"]);
        assert_eq!(resolver.client(peer, &headers), ip("1.1.1.1"));
        // Several headers read as one list, in order.
        let headers = forwarded(&["6.6.6.6, 2.2.2.2", "10.0.0.1"]);
        assert_eq!(resolver.client(peer, &headers), ip("2.2.2.2"));
        // Ports and IPv4-mapped IPv6 addresses.
        let headers = forwarded(&["[2001:db8::1]:443, ::ffff:10.0.0.2"]);
        assert_eq!(resolver.client(peer, &headers), ip("2001:db8::1"));
    }

    #[test]
    fn missing_or_unreadable_entries_stop_at_the_last_trusted_hop() {
        let resolver = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(resolver.client(peer, &HeaderMap::new()), peer);
        assert_eq!(
            resolver.client(peer, &forwarded(&["10.0.0.5"])),
            ip("10.0.0.5")
        );
        let headers = forwarded(&["1.1.1.1, not-an-ip, 10.0.0.5"]);
        assert_eq!(resolver.client(peer, &headers), ip("10.0.0.5"));
        assert_eq!(resolver.client(peer, &forwarded(&["1.1.1.1,"])), peer);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        assert_eq!(
            bucket(ip("2001:db8:1:2::1")),
            bucket(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_ne!(bucket(ip("192.0.2.1")), bucket(ip("192.0.2.2")));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_blocks_and_name_bad_ones() {
        for (text, shown) in [
            ("10.0.0.7", "10.0.0.7/32"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("::1", "::1/128"),
            ("fd00::/8", "fd00::/8"),
        ] {
            let proxy = TrustedProxy::try_from(text.to_string()).unwrap();
            assert_eq!(proxy.to_string(), shown);
        }
        let err = TrustedProxy::try_from("localhost".to_string()).unwrap_err();
        assert!(err.contains("`localhost`"), "{err}");
    }
}
