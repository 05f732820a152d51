//! Which addresses a fetch may connect to (W-13): everything that is not plainly public is
//! refused unless the operator allow-listed it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// One allow-list entry: a network and, optionally, the only port it is allowed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowRule {
    /// Addresses this entry lets through.
    pub net: IpNet,
    /// `Some(p)`: only connections to port `p`; `None`: any port.
    pub port: Option<u16>,
}

impl AllowRule {
    /// Whether this entry admits `ip:port`.
    pub fn admits(&self, ip: IpAddr, port: u16) -> bool {
        self.port.is_none_or(|p| p == port) && self.net.contains(&ip)
    }
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.port, self.net) {
            (None, net) => write!(f, "{net}"),
            (Some(p), IpNet::V4(n)) => write!(f, "{n}:{p}"),
            (Some(p), IpNet::V6(n)) => write!(f, "[{n}]:{p}"),
        }
    }
}

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restricted {
    /// 0.0.0.0/8, `::`.
    Unspecified,
    /// 127.0.0.0/8, `::1`.
    Loopback,
    /// RFC 1918, fc00::/7.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 100.64.0.0/10.
    SharedCgnat,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// Documentation and benchmarking ranges.
    Documentation,
    /// Reserved or special-purpose ranges (240/4, 192.0.0/24, Teredo, ORCHID, …, and any IPv6
    /// outside 2000::/3).
    Reserved,
    /// A cloud metadata service (169.254.169.254, fd00:ec2::254).
    Metadata,
}

impl Restricted {
    /// Short words for the tool result.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::SharedCgnat => "a shared (CGNAT) address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "a broadcast address",
            Self::Documentation => "a documentation/benchmarking address",
            Self::Reserved => "a reserved address",
            Self::Metadata => "a cloud metadata address",
        }
    }
}

const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Classifies an address: `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<Restricted> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Restricted> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == METADATA_V4 => Restricted::Metadata,
        _ if ip.is_broadcast() => Restricted::Broadcast,
        (0, ..) => Restricted::Unspecified,
        (127, ..) => Restricted::Loopback,
        (10, ..) | (192, 168, _) => Restricted::Private,
        (172, b, _) if (16..32).contains(&b) => Restricted::Private,
        (169, 254, _) => Restricted::LinkLocal,
        (100, b, _) if (64..128).contains(&b) => Restricted::SharedCgnat,
        (224..=239, ..) => Restricted::Multicast,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Restricted::Documentation,
        (198, 18 | 19, _) => Restricted::Documentation,
        // IETF protocol assignments, the 6to4 relay anycast, class E.
        (192, 0, 0) | (192, 88, 99) | (240..=255, ..) => Restricted::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Restricted> {
    if ip == METADATA_V6 {
        return Some(Restricted::Metadata);
    }
    if ip.is_unspecified() {
        return Some(Restricted::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Restricted::Loopback);
    }
    // Forms that carry an IPv4 address are judged by that address.
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        0xff00..=0xffff => Restricted::Multicast,
        0xfe80..=0xfebf => Restricted::LinkLocal,
        // fec0::/10 (deprecated site-local) and everything else outside 2000::/3.
        0xfec0..=0xfeff => Restricted::Reserved,
        0xfc00..=0xfdff => Restricted::Private,
        0x2001 if s[1] == 0x0db8 => Restricted::Documentation,
        0x3fff if s[1] < 0x1000 => Restricted::Documentation,
        // 2001:2::/48 is benchmarking.
        0x2001 if s[1] == 0x0002 && s[2] == 0 => Restricted::Documentation,
        // Teredo 2001::/32 (tunnels to an arbitrary IPv4 host), ORCHID 2001:10::/28 and
        // 2001:20::/28, the rest of 2001::/23 (IETF protocol assignments).
        0x2001 if s[1] < 0x0200 => Restricted::Reserved,
        0x2000..=0x3fff => return None,
        _ => Restricted::Reserved,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`) or 6to4 (`2002::/16`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        // Local-use NAT64: where the IPv4 bits sit depends on the prefix length, so treat it as
        // a private address rather than guess.
        [0x64, 0xff9b, 1, ..] => Some(Ipv4Addr::new(10, 0, 0, 0)),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// The connection policy: refused ranges, minus what the operator allow-listed.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Allow-list entries (`fetch.allow_private`).
    pub allow: Vec<AllowRule>,
}

/// A refused connection target, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The address refused.
    pub ip: IpAddr,
    /// Its port.
    pub port: u16,
    /// Why.
    pub why: Restricted,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {}, which web tools may not reach (not in fetch.allow_private)",
            self.ip,
            self.why.describe()
        )
    }
}

impl Policy {
    /// Whether `ip:port` may be connected to.
    pub fn check(&self, ip: IpAddr, port: u16) -> Result<(), Refusal> {
        let Some(why) = classify(ip) else {
            return Ok(());
        };
        let candidates = [Some(ip), embedded_or_mapped(ip)];
        let admitted = self.allow.iter().any(|rule| {
            // A metadata address passes only a rule naming exactly that host, never a range
            // that happens to contain it.
            if why == Restricted::Metadata && rule.net.prefix_len() != rule.net.max_prefix_len() {
                return false;
            }
            candidates
                .iter()
                .flatten()
                .any(|candidate| rule.admits(*candidate, port))
        });
        if admitted {
            Ok(())
        } else {
            Err(Refusal { ip, port, why })
        }
    }
}

fn embedded_or_mapped(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V6(v6) if !v6.is_loopback() && !v6.is_unspecified() => {
            embedded_v4(v6).map(IpAddr::V4)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "2002:0808:0808::1",
            "64:ff9b::808:808",
        ] {
            assert_eq!(classify(ip(s)), None, "{s}");
        }
    }

    #[test]
    fn restricted_addresses_are_refused() {
        use Restricted::*;
        for (s, why) in [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("169.254.1.1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("100.64.0.1", SharedCgnat),
            ("100.127.255.254", SharedCgnat),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Broadcast),
            ("192.0.2.1", Documentation),
            ("198.51.100.1", Documentation),
            ("203.0.113.1", Documentation),
            ("198.18.0.1", Documentation),
            ("192.0.0.8", Reserved),
            ("240.0.0.1", Reserved),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:169.254.169.254", Metadata),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b:1::1", Private),
            ("2002:7f00:0001::1", Loopback),
            ("2002:a9fe:a9fe::1", Metadata),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fd00:ec2::254", Metadata),
            ("fe80::1", LinkLocal),
            ("fec0::1", Reserved),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("2001:10::1", Reserved),
            ("100::1", Reserved),
            ("4000::1", Reserved),
        ] {
            assert_eq!(classify(ip(s)), Some(why), "{s}");
            assert!(Policy::default().check(ip(s), 80).is_err(), "{s}");
        }
    }

    #[test]
    fn allow_rules_admit_exactly_their_network_and_port() {
        let policy = Policy {
            allow: vec![
                AllowRule {
                    net: "127.0.0.1/32".parse().unwrap(),
                    port: Some(8080),
                },
                AllowRule {
                    net: "10.0.0.0/8".parse().unwrap(),
                    port: None,
                },
                AllowRule {
                    net: "169.254.0.0/16".parse().unwrap(),
                    port: None,
                },
            ],
        };
        assert!(policy.check(ip("127.0.0.1"), 8080).is_ok());
        assert!(policy.check(ip("::ffff:127.0.0.1"), 8080).is_ok());
        assert!(policy.check(ip("127.0.0.1"), 8081).is_err());
        assert!(policy.check(ip("127.0.0.2"), 8080).is_err());
        assert!(policy.check(ip("10.9.9.9"), 1).is_ok());
        assert!(policy.check(ip("192.168.0.1"), 80).is_err());
        assert!(policy.check(ip("169.254.1.1"), 80).is_ok());
        // A range never admits the metadata address; only a host rule does.
        assert!(policy.check(ip("169.254.169.254"), 80).is_err());
        let exact = Policy {
            allow: vec![AllowRule {
                net: "169.254.169.254/32".parse().unwrap(),
                port: None,
            }],
        };
        assert!(exact.check(ip("169.254.169.254"), 80).is_ok());
    }
}
