//! SSRF guard: a feed list or a feed's item links could point the fetcher at
//! internal services. By default every address a host resolves to must be
//! public; the check sits in the DNS resolver itself, so a name cannot
//! resolve to a public address for the check and a private one for the
//! connection (DNS rebinding), and it covers every redirect hop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Addresses a fetcher must not reach unless explicitly allowed: every
/// range of the IANA special-purpose registries that is not plainly global
/// unicast, and every IPv6 form that carries an IPv4 address a gateway could
/// turn back into a refused one (mapped, compatible, NAT64, 6to4, Teredo),
/// which are refused whole rather than decoded.
pub fn is_forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

/// (network, prefix length) of every refused IPv4 range.
const FORBIDDEN_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, cloud metadata (169.254.169.254)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation
    ([203, 0, 113, 0], 24),  // documentation
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and 255.255.255.255 broadcast
];

/// (network, prefix length) of every refused IPv6 range, besides the
/// IPv4-mapped and -compatible forms checked through their IPv4 address.
const FORBIDDEN_V6: &[([u16; 8], u8)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 128),         // unspecified
    ([0, 0, 0, 0, 0, 0, 0, 1], 128),         // loopback
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),  // NAT64
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),  // local-use NAT64
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),     // IETF protocol assignments, Teredo 2001::/32
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),     // 6to4
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),     // documentation
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),     // segment routing
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),      // unique local (AWS metadata fd00:ec2::254)
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),     // link-local
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),     // site-local (deprecated, still routed by some)
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),      // multicast
];

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    FORBIDDEN_V4.iter().any(|(network, prefix)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
        bits & mask == u32::from(Ipv4Addr::from(*network)) & mask
    })
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated but
    // still turned into IPv4 by some stacks): judged by the IPv4 address
    // (:: and ::1 land in 0.0.0.0/8, refused).
    if segments[..5] == [0; 5] && (segments[5] == 0xffff || segments[5] == 0) {
        let v4 = Ipv4Addr::new(
            (segments[6] >> 8) as u8,
            segments[6] as u8,
            (segments[7] >> 8) as u8,
            segments[7] as u8,
        );
        return is_forbidden_v4(v4);
    }
    let bits = u128::from(ip);
    FORBIDDEN_V6.iter().any(|(network, prefix)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
        bits & mask == u128::from(Ipv6Addr::from(*network)) & mask
    })
}

/// reqwest resolver that drops forbidden addresses and fails when none remain.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_forbidden_address(a.ip()))
                .collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = Box::new(SsrfRefused {
                    host,
                    addresses: all,
                });
                return Err(err);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("refused: {host} resolves only to non-public addresses {addresses:?} (set allow_private_addresses to permit)")]
pub struct SsrfRefused {
    pub host: String,
    pub addresses: Vec<SocketAddr>,
}

/// For URLs whose host is an IP literal (no DNS lookup happens for them).
pub fn literal_host_is_forbidden(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(v4)) => is_forbidden_address(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => is_forbidden_address(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_ranges_are_refused_at_their_edges() {
        // (address, forbidden?) around the edges of each range.
        let table: &[(&str, bool)] = &[
            ("0.0.0.0", true),
            ("0.255.255.255", true),
            ("1.0.0.0", false),
            ("9.255.255.255", false),
            ("10.0.0.0", true),
            ("10.255.255.255", true),
            ("11.0.0.0", false),
            ("100.63.255.255", false),
            ("100.64.0.0", true),
            ("100.127.255.255", true),
            ("100.128.0.0", false),
            ("127.0.0.1", true),
            ("127.255.255.254", true),
            ("169.254.169.254", true),
            ("172.15.255.255", false),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("172.32.0.0", false),
            ("192.0.0.8", true),
            ("192.0.2.1", true),
            ("192.0.3.1", false),
            ("192.88.99.1", true),
            ("192.168.1.1", true),
            ("198.17.255.255", false),
            ("198.18.0.0", true),
            ("198.19.255.255", true),
            ("198.20.0.0", false),
            ("198.51.100.7", true),
            ("203.0.113.7", true),
            ("223.255.255.255", false),
            ("224.0.0.1", true),
            ("239.255.255.255", true),
            ("240.0.0.0", true),
            ("255.255.255.255", true),
            ("93.184.216.34", false),
            ("151.101.1.69", false),
            ("8.8.8.8", false),
            // IPv6
            ("::", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:10.1.2.3", true),
            ("::ffff:100.64.0.1", true),
            ("::ffff:240.0.0.1", true),
            ("::ffff:0.0.0.0", true),
            ("::ffff:8.8.8.8", false),
            ("::127.0.0.1", true),
            ("::10.0.0.1", true),
            ("::198.18.0.1", true),
            ("::8.8.8.8", false),
            ("64:ff9b::", true),
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::808:808", true),
            ("64:ff9b::ffff:ffff", true),
            ("64:ff9b:0:0:0:1::", false),
            ("64:ff9b:1::1", true),
            ("100::1", true),
            ("2001::", true),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", true),
            ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("2001:db8::1", true),
            ("2001:4860:4860::8888", false),
            ("2002::", true),
            ("2002:7f00:1::1", true),
            ("2002:ffff:ffff::1", true),
            ("2003::1", false),
            ("2606:4700::6810:84e5", false),
            ("3fff::1", true),
            ("5f00::1", true),
            ("fc00::1", true),
            ("fd00::1", true),
            ("fd00:ec2::254", true),
            ("fe80::1", true),
            ("febf:ffff::1", true),
            ("fec0::1", true),
            ("feff:ffff::1", true),
            ("ff02::1", true),
            ("fbff:ffff::1", false),
        ];
        for (address, forbidden) in table {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(is_forbidden_address(ip), *forbidden, "{address}");
        }
    }

    #[test]
    fn literal_hosts_in_any_spelling_are_checked() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://0/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert!(literal_host_is_forbidden(&parsed), "{url}");
        }
        let public = url::Url::parse("http://93.184.216.34/").unwrap();
        assert!(!literal_host_is_forbidden(&public));
    }
}
