//! Which IP addresses a webhook delivery may reach: public unicast only.
//!
//! An IPv6 address that carries an IPv4 address reaches that IPv4 address
//! (through a translator, a tunnel relay or the host's own stack), so it is
//! judged by it: IPv4-mapped (`::ffff:0:0/96`), IPv4-translated
//! (`::ffff:0:0:0/96`), IPv4-compatible (`::/96`), NAT64 (`64:ff9b::/96`), 6to4
//! (`2002::/16`), Teredo (`2001::/32`: the server address, and the client's
//! in the last 32 bits XOR `0xffffffff`) and ISATAP interface identifiers
//! (`…:0:5efe:a.b.c.d`, `…:200:5efe:a.b.c.d`, under any prefix). Outside
//! the global unicast block (`2000::/3`) everything is refused, and so is the
//! local-use NAT64 prefix `64:ff9b:1::/48` (a site's own translator, whose
//! prefix length the address does not tell, so neither where the IPv4
//! address sits).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an IP address may not receive deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::UniqueLocal => "unique-local",
            Self::Multicast => "multicast",
            Self::Reserved => "reserved",
        })
    }
}

/// The class of `ip` if it may not receive deliveries, `None` if it is a
/// public unicast address. Also used at delivery on every resolved address.
pub fn forbidden_address(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) | (100, 64..=127, _) => AddressClass::Private,
        (169, 254, _) => AddressClass::LinkLocal,
        (224..=239, _, _) => AddressClass::Multicast,
        // IETF assignments, documentation, the 6to4 relay anycast block,
        // benchmarking, 240/4 and broadcast.
        (192, 0, 0)
        | (192, 0, 2)
        | (192, 88, 99)
        | (198, 51, 100)
        | (203, 0, 113)
        | (198, 18..=19, _)
        | (240..=255, _, _) => AddressClass::Reserved,
        _ => return None,
    })
}

fn v4(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

/// The first forbidden class among `candidates`, or `None` if all are public.
fn worst(candidates: impl IntoIterator<Item = Ipv4Addr>) -> Option<AddressClass> {
    candidates.into_iter().find_map(forbidden_v4)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    let s = ip.segments();
    match s {
        // IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64 well-known prefix.
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0, 0, 0, 0, 0, 0, hi, lo]
        | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return forbidden_v4(v4(hi, lo)),
        // Local-use NAT64 (RFC 8215): a site's own translator, whose prefix
        // length (and so where the IPv4 address sits) the address does not
        // tell. Refused whatever it carries.
        [0x64, 0xff9b, 1, ..] => return Some(AddressClass::Reserved),
        // 6to4: the tunnel's IPv4 end point follows the prefix.
        [0x2002, hi, lo, ..] => return forbidden_v4(v4(hi, lo)),
        // Teredo: the server, and the client's address (obfuscated by XOR).
        [0x2001, 0, server_hi, server_lo, _, _, client_hi, client_lo] => {
            return worst([v4(server_hi, server_lo), v4(!client_hi, !client_lo)]);
        }
        // ISATAP interface identifier (universal/local bit either way), any prefix.
        [_, _, _, _, iid, 0x5efe, hi, lo] if iid & 0xfdff == 0 => {
            if let Some(class) = forbidden_v4(v4(hi, lo)) {
                return Some(class);
            }
        }
        _ => {}
    }
    let first = s[0];
    Some(match first {
        _ if first & 0xfe00 == 0xfc00 => AddressClass::UniqueLocal,
        _ if first & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        // Deprecated site-local.
        _ if first & 0xffc0 == 0xfec0 => AddressClass::Private,
        _ if first & 0xff00 == 0xff00 => AddressClass::Multicast,
        // Not global unicast (2000::/3): unassigned, or special like 100::/64 (discard).
        _ if first & 0xe000 != 0x2000 => AddressClass::Reserved,
        // Documentation (2001:db8::/32, 3fff::/20) and, Teredo aside (above),
        // the IETF protocol assignments block 2001::/23 (benchmarking, ORCHID, …).
        0x2001 if s[1] == 0x0db8 || s[1] < 0x0200 => AddressClass::Reserved,
        0x3fff if s[1] < 0x1000 => AddressClass::Reserved,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn class(text: &str) -> Option<AddressClass> {
        forbidden_address(text.parse().expect("an IP address"))
    }

    /// The IPv6 forms that carry `ip`, each built independently of the code
    /// under test.
    fn embeddings(ip: Ipv4Addr) -> Vec<Ipv6Addr> {
        let bits = u32::from(ip);
        let (hi, lo) = ((bits >> 16) as u16, bits as u16);
        vec![
            ip.to_ipv6_mapped(),
            Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo),
            Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
            Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
            // Teredo with a public server (Microsoft's 65.54.227.120) and `ip` as the client.
            Ipv6Addr::new(0x2001, 0, 0x4136, 0xe378, 0x8000, 0x63bf, !hi, !lo),
            Ipv6Addr::new(0x2001, 0x4860, 0, 0, 0, 0x5efe, hi, lo),
            Ipv6Addr::new(0x2a00, 0x1450, 1, 2, 0x200, 0x5efe, hi, lo),
        ]
    }

    #[test]
    fn addresses_that_carry_a_forbidden_ipv4_are_refused_like_it() {
        use AddressClass as C;
        for (text, expected) in [
            ("2002:a9fe:a9fe::1", C::LinkLocal),
            ("2002:7f00:1::", C::Loopback),
            ("2002:c0a8:101::1", C::Private),
            ("2001:0:4136:e378:8000:63bf:f5ff:fffe", C::Private), // client 10.0.0.1
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", C::Loopback), // client 127.0.0.1
            ("2001:0:a00:1:8000:63bf:3fff:fdd2", C::Private),     // server 10.0.0.1, public client
            ("64:ff9b::a9fe:a9fe", C::LinkLocal),
            ("64:ff9b:1:a9fe:a9:fe00::", C::Reserved), // local-use NAT64: refused whatever it carries
            ("64:ff9b:1::5db8:d822", C::Reserved),
            ("::ffff:0:a9fe:a9fe", C::LinkLocal),
            ("::a9fe:a9fe", C::LinkLocal),
            ("::ffff:7f00:1", C::Loopback),
            ("fe80::5efe:a9fe:a9fe", C::LinkLocal),
            ("2001:4860::5efe:a00:1", C::Private),
            ("2a00:1450::200:5efe:c0a8:1", C::Private),
        ] {
            assert_eq!(class(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn public_addresses_in_every_form_are_allowed() {
        for text in [
            "93.184.216.34",
            "2606:4700::1111",
            "2a00:1450:4001:82a::200e",
            "2002:5db8:d822::1",                    // 6to4 of 93.184.216.34
            "2001:0:4136:e378:8000:63bf:a247:27dd", // Teredo, client 93.184.216.34
            "64:ff9b::5db8:d822",                   // NAT64 of 93.184.216.34
            "::ffff:5db8:d822",
            "2001:4860::5efe:5db8:d822", // ISATAP of 93.184.216.34
            "3fff:1000::1",
        ] {
            assert_eq!(class(text), None, "{text}");
        }
    }

    #[test]
    fn special_ipv6_blocks_are_refused() {
        use AddressClass as C;
        for (text, expected) in [
            ("100::1", C::Reserved),
            ("::2:1:1", C::Reserved),
            ("4000::1", C::Reserved),
            ("2001:db8::1", C::Reserved),
            ("3fff::1", C::Reserved),
            ("3fff:fff::1", C::Reserved),
            ("2001:2::1", C::Reserved),
            ("2001:20::1", C::Reserved),
            ("192.88.99.1", C::Reserved),
            ("fec0::1", C::Private),
        ] {
            assert_eq!(class(text), Some(expected), "{text}");
        }
    }

    fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
        any::<u32>().prop_map(Ipv4Addr::from)
    }

    proptest! {
        /// Every IPv6 form that carries an IPv4 address is refused exactly
        /// when that address is, and for the same reason.
        #[test]
        fn embedded_ipv4_addresses_are_judged_as_themselves(ip in any_v4()) {
            let expected = forbidden_v4(ip);
            for v6 in embeddings(ip) {
                let judged = forbidden_v6(v6);
                if v6.is_loopback() || v6.is_unspecified() {
                    // `::1` and `::` are themselves, not 0.0.0.1 and 0.0.0.0.
                    prop_assert!(judged.is_some());
                    continue;
                }
                match expected {
                    Some(class) => prop_assert_eq!(judged, Some(class), "{} in {}", ip, v6),
                    None => prop_assert_eq!(judged, None, "{} in {}", ip, v6),
                }
            }
        }

        /// Refused IPv4 blocks, embedded anywhere, are never let through.
        #[test]
        fn private_ipv4_ranges_stay_refused_when_embedded(
            block in prop::sample::select(vec![(10u32 << 24, 8u32), (127 << 24, 8), (0xa9fe_0000, 16), (0xac10_0000, 12), (0xc0a8_0000, 16), (0x6440_0000, 10)]),
            low in any::<u32>(),
        ) {
            let (base, prefix) = block;
            let ip = Ipv4Addr::from(base | (low >> prefix));
            prop_assert!(forbidden_v4(ip).is_some());
            for v6 in embeddings(ip) {
                prop_assert!(forbidden_v6(v6).is_some(), "{} in {}", ip, v6);
            }
        }
    }
}
