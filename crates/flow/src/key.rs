//! The flow key: a canonical (direction-independent) 5-tuple and its symmetric hash.

use std::hash::BuildHasher;
use std::net::IpAddr;
use wirehouse_wire::{Decoded, L4};

/// Which endpoint of a [`FlowKey`] a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The lower (address, port) endpoint.
    Lo,
    /// The higher (address, port) endpoint.
    Hi,
}

/// A 5-tuple with endpoints in canonical order, so both directions give the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// The lower endpoint.
    pub lo: (IpAddr, u16),
    /// The higher endpoint.
    pub hi: (IpAddr, u16),
    /// IP protocol.
    pub proto: u8,
}

const HASH_SEED: u64 = 0x7769_7265_686f_7573; // "wirehous": fixed so sharding is reproducible

impl FlowKey {
    /// Builds the key of a decoded packet and says which side sent it.
    ///
    /// ICMP echo request and reply share a key (both "ports" are the echo identifier);
    /// other ICMP messages use type and code as ports.
    pub fn of(d: &Decoded<'_>) -> (Self, Side) {
        let (sp, dp) = match d.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp { src_port, dst_port } => (src_port, dst_port),
            L4::Icmp {
                echo_id: Some(id), ..
            } => (id, id),
            L4::Icmp { ty, code, .. } => (u16::from(ty), u16::from(code)),
            L4::None => (0, 0),
        };
        Self::new((d.ip.src, sp), (d.ip.dst, dp), d.ip.protocol)
    }

    /// The key of the common, simple packet — Ethernet (up to two VLAN tags) or raw IP,
    /// IPv4 or IPv6 without extension headers, unfragmented TCP or UDP that is not a
    /// tunnel — read straight from the frame; `None` for anything else, which needs the
    /// full [`decode`](wirehouse_wire::decode). When it answers, it equals the key of
    /// the full decode (the dispatcher relies on that to shard without decoding twice).
    pub fn hint(linktype: wirehouse_wire::LinkType, b: &[u8]) -> Option<Self> {
        use wirehouse_wire::LinkType;
        let mut off = match linktype {
            LinkType::Ethernet => {
                let mut off = 12;
                let mut et = u16::from_be_bytes([*b.get(12)?, *b.get(13)?]);
                for _ in 0..2 {
                    if matches!(et, 0x8100 | 0x88a8 | 0x9100) {
                        off += 4;
                        et = u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]);
                    }
                }
                if !matches!(et, 0x0800 | 0x86dd) {
                    return None;
                }
                off + 2
            }
            LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => 0,
            _ => return None,
        };
        let ip = b.get(off..)?;
        let (src, dst, proto, l4) = match ip.first()? >> 4 {
            4 => {
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let h = ip.get(..20)?;
                if ihl < 20 || u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
                    return None; // options are fine, fragments are not
                }
                let s: [u8; 4] = h[12..16].try_into().ok()?;
                let d: [u8; 4] = h[16..20].try_into().ok()?;
                (IpAddr::from(s), IpAddr::from(d), h[9], ihl)
            }
            6 => {
                let h = ip.get(..40)?;
                let s: [u8; 16] = h[8..24].try_into().ok()?;
                let d: [u8; 16] = h[24..40].try_into().ok()?;
                (IpAddr::from(s), IpAddr::from(d), h[6], 40)
            }
            _ => return None,
        };
        off = l4;
        let ports = ip.get(off..off + 4)?;
        let (sp, dp) = (
            u16::from_be_bytes([ports[0], ports[1]]),
            u16::from_be_bytes([ports[2], ports[3]]),
        );
        match proto {
            6 => {}
            // UDP tunnels are decapsulated by the full decode.
            17 if ![sp, dp]
                .iter()
                .any(|p| matches!(p, 4789 | 6081 | 4754 | 4790 | 6635)) => {}
            _ => return None,
        }
        // The full decode needs the whole transport header or at least the ports; a
        // header it would reject outright (e.g. a TCP data offset below 20) goes there too.
        if proto == 6 && ip.get(off + 12).is_some_and(|&x| x >> 4 < 5) {
            return None;
        }
        Some(Self::new((src, sp), (dst, dp), proto).0)
    }

    /// Builds a key from a source and destination endpoint.
    pub fn new(src: (IpAddr, u16), dst: (IpAddr, u16), proto: u8) -> (Self, Side) {
        if src <= dst {
            (
                Self {
                    lo: src,
                    hi: dst,
                    proto,
                },
                Side::Lo,
            )
        } else {
            (
                Self {
                    lo: dst,
                    hi: src,
                    proto,
                },
                Side::Hi,
            )
        }
    }

    /// A hash equal for both directions and stable across runs and machines
    /// (used to shard flows to workers and to derive flow ids).
    pub fn symmetric_hash(&self) -> u64 {
        foldhash::fast::FixedState::with_seed(HASH_SEED).hash_one(self)
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> (IpAddr, u16) {
        match side {
            Side::Lo => self.lo,
            Side::Hi => self.hi,
        }
    }
}

impl Side {
    /// The other side.
    pub fn other(self) -> Self {
        match self {
            Side::Lo => Side::Hi,
            Side::Hi => Side::Lo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_same_key_and_hash() {
        let a: IpAddr = "10.0.0.2".parse().unwrap();
        let b: IpAddr = "10.0.0.1".parse().unwrap();
        let (k1, s1) = FlowKey::new((a, 40000), (b, 80), 6);
        let (k2, s2) = FlowKey::new((b, 80), (a, 40000), 6);
        assert_eq!(k1, k2);
        assert_eq!(k1.symmetric_hash(), k2.symmetric_hash());
        assert_eq!(s1, s2.other());
        let (k3, _) = FlowKey::new((a, 40001), (b, 80), 6);
        assert_ne!(k1.symmetric_hash(), k3.symmetric_hash());
    }
}
