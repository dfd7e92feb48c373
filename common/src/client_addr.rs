//! The client's address, for throttling: which address a call came from, and which
//! bucket of addresses it is counted in.
//!
//! - Behind a proxy the TCP peer is the proxy. Only when the peer is one of the
//!   configured trusted proxies is the address taken from `forwarded` (RFC 7239 `for=`)
//!   or, without it, `x-forwarded-for`: walking the hops from the right (the one our
//!   proxy added) and skipping trusted proxies, the first untrusted hop is the client.
//!   From any other peer those headers are ignored: a client can write anything there.
//! - IPv6 is counted per /64 (one subscriber's usual allocation: one host can pick any
//!   of 2^64 addresses in it), IPv4 per address, and IPv4-mapped IPv6 as the IPv4
//!   address it is.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    str::FromStr,
};

pub use ipnet::IpNet;

/// Prefix length IPv6 addresses are bucketed by.
pub const IPV6_BUCKET_PREFIX: u8 = 64;

/// Parses one `TRUSTED_PROXIES` entry: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single
/// address (`127.0.0.1`).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    IpNet::from_str(s)
        .map(|net| net.trunc())
        .or_else(|_| IpAddr::from_str(s).map(|a| IpNet::from(a.to_canonical())))
        .map_err(|_| format!("{s:?} is not an address or CIDR (examples: 10.0.0.0/8, 127.0.0.1, fd00::/8)"))
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// The proxies in `nets` (`TRUSTED_PROXIES`, each entry read by [`parse_net`]).
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    /// Whether `addr` (IPv4-mapped IPv6 taken as IPv4) is one of the trusted proxies.
    pub(crate) fn contains(&self, addr: &IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client's address: the peer's, or when the peer is trusted, the first
    /// untrusted hop of the forwarding headers from the right. `forwarded` and
    /// `x_forwarded_for` are the header lines in the order received.
    pub fn client_addr<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded: impl IntoIterator<Item = &'a str>,
        x_forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.contains(&peer) {
            return Some(peer);
        }
        // The standard header when the proxy sent one; the proxy must set (or strip)
        // the one it uses, or a client could pass its own through.
        let mut hops: Vec<Option<IpAddr>> = forwarded.into_iter().flat_map(forwarded_for).collect();
        if hops.is_empty() {
            hops = x_forwarded_for
                .into_iter()
                .flat_map(|line| line.split(','))
                .filter(|hop| !hop.trim().is_empty())
                .map(parse_hop)
                .collect();
        }
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(addr) => {
                    client = addr.to_canonical();
                    if !self.contains(&client) {
                        break;
                    }
                }
                // A trusted proxy did not know (`unknown`, an obfuscated name, garbage):
                // count the call as that proxy's, the nearest address we can trust.
                None => break,
            }
        }
        Some(client)
    }
}

/// The bucket an address is counted in: the address itself for IPv4 (IPv4-mapped IPv6
/// included), its /64 for IPv6.
pub fn bucket(addr: IpAddr) -> IpNet {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpNet::from(IpAddr::V4(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << (128 - u32::from(IPV6_BUCKET_PREFIX)));
            IpNet::new(IpAddr::V6(Ipv6Addr::from(bits)), IPV6_BUCKET_PREFIX)
                .unwrap_or_else(|_| IpNet::from(IpAddr::V6(v6)))
        }
    }
}

/// One hop of `x-forwarded-for`, or a `for=` value with its quotes removed: an address,
/// with or without a port, IPv6 perhaps in brackets. `None` for anything else.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(addr) = IpAddr::from_str(hop) {
        return Some(addr);
    }
    if let Ok(addr) = SocketAddr::from_str(hop) {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| Ipv6Addr::from_str(h).ok())
        .map(IpAddr::V6)
}

/// The `for=` hops of one `forwarded` line (RFC 7239 §4), in order: `None` for a hop
/// that is not an address (`unknown`, `_hidden`). Elements without `for=` are skipped.
fn forwarded_for(line: &str) -> Vec<Option<IpAddr>> {
    split_unquoted(line, ',')
        .into_iter()
        .filter_map(|element| {
            split_unquoted(element, ';').into_iter().find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(unquote(value.trim())))
            })
        })
        .collect()
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// `s` split at `sep` where it is not inside a quoted string.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| parse_net(s).unwrap()).collect())
    }

    #[test]
    fn nets_parse_as_cidr_or_address() {
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_net(" 127.0.0.1 ").unwrap().to_string(), "127.0.0.1/32");
        assert_eq!(parse_net("fd00::1/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(parse_net("::ffff:10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0.0/", "*"] {
            assert!(parse_net(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket(ip("192.0.2.7")).to_string(), "192.0.2.7/32");
        assert_eq!(bucket(ip("::ffff:192.0.2.7")).to_string(), "192.0.2.7/32");
        assert_eq!(
            bucket(ip("2001:db8:1:2:3:4:5:6")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::1")).to_string(), "::/64");
    }

    #[test]
    fn headers_are_ignored_from_an_untrusted_peer() {
        let none = TrustedProxies::default();
        let peer = Some(ip("198.51.100.1"));
        assert_eq!(
            none.client_addr(peer, ["for=192.0.2.1"], ["192.0.2.2"]),
            Some(ip("198.51.100.1"))
        );
        let other = trusted(&["10.0.0.0/8"]);
        assert_eq!(other.client_addr(peer, [], ["192.0.2.2"]), peer);
        // A v4-mapped peer is its IPv4 address.
        assert_eq!(
            none.client_addr(Some(ip("::ffff:198.51.100.1")), [], []),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(none.client_addr(None, [], ["192.0.2.2"]), None);
    }

    #[test]
    fn x_forwarded_for_is_walked_from_the_right() {
        let t = trusted(&["10.0.0.0/8", "127.0.0.1"]);
        let peer = Some(ip("10.0.0.5"));
        // The client's own claim at the left is not believed past an untrusted hop.
        assert_eq!(
            t.client_addr(peer, [], ["6.6.6.6, 203.0.113.9, 10.0.0.4"]),
            Some(ip("203.0.113.9"))
        );
        // Several header lines are one list; ports and brackets are allowed.
        assert_eq!(
            t.client_addr(peer, [], ["203.0.113.9:4711", "[2001:db8::1]:80, 10.1.1.1"]),
            Some(ip("2001:db8::1"))
        );
        // Only trusted hops: the leftmost.
        assert_eq!(
            t.client_addr(peer, [], ["10.9.9.9, 10.0.0.4"]),
            Some(ip("10.9.9.9"))
        );
        // A hop that is not an address stops at the trusted proxy that wrote it.
        assert_eq!(
            t.client_addr(peer, [], ["203.0.113.9, unknown, 10.0.0.4"]),
            Some(ip("10.0.0.4"))
        );
        // No header: the peer.
        assert_eq!(t.client_addr(peer, [], []), peer);
    }

    #[test]
    fn forwarded_is_parsed_per_rfc_7239_and_preferred() {
        let t = trusted(&["10.0.0.0/8"]);
        let peer = Some(ip("10.0.0.5"));
        assert_eq!(
            t.client_addr(
                peer,
                [r#"for=192.0.2.43;proto=https, For="[2001:db8:cafe::17]:4711";by="a,b""#],
                ["6.6.6.6"],
            ),
            Some(ip("2001:db8:cafe::17"))
        );
        assert_eq!(
            t.client_addr(peer, ["for=192.0.2.43, for=10.0.0.2"], []),
            Some(ip("192.0.2.43"))
        );
        assert_eq!(
            t.client_addr(peer, ["for=192.0.2.43, for=_hidden, for=10.0.0.2"], []),
            Some(ip("10.0.0.2"))
        );
        // A `forwarded` line without `for=` leaves x-forwarded-for to be used.
        assert_eq!(
            t.client_addr(peer, ["proto=https"], ["192.0.2.8"]),
            Some(ip("192.0.2.8"))
        );
    }
}
