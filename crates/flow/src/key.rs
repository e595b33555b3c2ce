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

/// One endpoint of a [`FlowKey`] in fixed width: the address as two big-endian words
/// (IPv4 in the low 32 bits of `lo`), so that the per-packet hash and comparisons are a
/// few word operations instead of an enum walk. Declared so that the derived order is
/// that of `(IpAddr, u16)`: IPv4 before IPv6, then address bytes, then port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Endpoint {
    v6: bool,
    hi: u64,
    lo: u64,
    port: u16,
}

impl Endpoint {
    fn new((ip, port): (IpAddr, u16)) -> Self {
        match ip {
            IpAddr::V4(a) => Self::v4(a.octets(), port),
            IpAddr::V6(a) => Self::v6(a.octets(), port),
        }
    }

    fn v4(a: [u8; 4], port: u16) -> Self {
        Endpoint {
            v6: false,
            hi: 0,
            lo: u64::from(u32::from_be_bytes(a)),
            port,
        }
    }

    fn v6(a: [u8; 16], port: u16) -> Self {
        let (h, l) = a.split_at(8);
        Endpoint {
            v6: true,
            hi: u64::from_be_bytes(h.try_into().unwrap_or_default()),
            lo: u64::from_be_bytes(l.try_into().unwrap_or_default()),
            port,
        }
    }

    /// From the 4 or 16 address bytes of a packet.
    fn of_bytes(ip: &[u8], port: u16) -> Self {
        match <[u8; 4]>::try_from(ip) {
            Ok(a) => Self::v4(a, port),
            Err(_) => Self::v6(<[u8; 16]>::try_from(ip).unwrap_or([0; 16]), port),
        }
    }

    fn addr(&self) -> IpAddr {
        if self.v6 {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&self.hi.to_be_bytes());
            b[8..].copy_from_slice(&self.lo.to_be_bytes());
            IpAddr::from(b)
        } else {
            IpAddr::from((self.lo as u32).to_be_bytes())
        }
    }

    fn pair(&self) -> (IpAddr, u16) {
        (self.addr(), self.port)
    }

    /// [`endpoint_word`] of this endpoint.
    fn word(&self) -> u64 {
        let a = if self.v6 {
            self.hi.rotate_left(23) ^ self.lo
        } else {
            self.lo
        };
        (a << 16) ^ (a >> 48) ^ u64::from(self.port)
    }
}

/// A 5-tuple with endpoints in canonical order, so both directions give the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    lo: Endpoint,
    hi: Endpoint,
    /// IP protocol.
    pub proto: u8,
}

impl std::hash::Hash for FlowKey {
    /// Five words: the four address words and one with both ports, both families and
    /// the protocol.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.lo.hi);
        h.write_u64(self.lo.lo);
        h.write_u64(self.hi.hi);
        h.write_u64(self.hi.lo);
        h.write_u64(
            u64::from(self.lo.port)
                | u64::from(self.hi.port) << 16
                | u64::from(self.proto) << 32
                | u64::from(self.lo.v6) << 40
                | u64::from(self.hi.v6) << 41,
        );
    }
}

/// The key as it was first declared; [`FlowKey::symmetric_hash`] hashes this form so that
/// flow ids stay what they were.
#[derive(Hash)]
struct Declared {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    proto: u8,
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
        let r = RawHint::parse(linktype, b)?;
        Some(
            Self::of_endpoints(
                Endpoint::of_bytes(r.src, r.sp),
                Endpoint::of_bytes(r.dst, r.dp),
                r.proto,
            )
            .0,
        )
    }

    /// [`hint`](Self::hint) reduced to what sharding needs — the
    /// [`shard_hash`](Self::shard_hash) of the key `hint` would give, and the ports —
    /// computed without building the key.
    pub fn shard_hint(linktype: wirehouse_wire::LinkType, b: &[u8]) -> Option<ShardHint> {
        let r = RawHint::parse(linktype, b)?;
        Some(ShardHint {
            hash: shard_mix(
                endpoint_word(r.src, r.sp),
                endpoint_word(r.dst, r.dp),
                r.proto,
            ),
            ports: (r.sp, r.dp),
        })
    }

    /// A cheap hash, equal for both directions, for sharding flows over workers (not
    /// stable across versions; flow ids use [`symmetric_hash`](Self::symmetric_hash)).
    pub fn shard_hash(&self) -> u64 {
        shard_mix(self.lo.word(), self.hi.word(), self.proto)
    }

    /// Builds a key from a source and destination endpoint.
    pub fn new(src: (IpAddr, u16), dst: (IpAddr, u16), proto: u8) -> (Self, Side) {
        Self::of_endpoints(Endpoint::new(src), Endpoint::new(dst), proto)
    }

    fn of_endpoints(src: Endpoint, dst: Endpoint, proto: u8) -> (Self, Side) {
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

    /// The lower endpoint.
    pub fn lo(&self) -> (IpAddr, u16) {
        self.lo.pair()
    }

    /// The higher endpoint.
    pub fn hi(&self) -> (IpAddr, u16) {
        self.hi.pair()
    }

    /// A hash equal for both directions and stable across runs and machines
    /// (used to shard flows to workers and to derive flow ids).
    pub fn symmetric_hash(&self) -> u64 {
        let declared = Declared {
            lo: self.lo(),
            hi: self.hi(),
            proto: self.proto,
        };
        foldhash::fast::FixedState::with_seed(HASH_SEED).hash_one(declared)
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> (IpAddr, u16) {
        match side {
            Side::Lo => self.lo(),
            Side::Hi => self.hi(),
        }
    }
}

/// What sharding needs of a packet: see [`FlowKey::shard_hint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHint {
    /// [`FlowKey::shard_hash`] of the packet's flow.
    pub hash: u64,
    /// Source and destination ports.
    pub ports: (u16, u16),
}

/// The fields [`FlowKey::hint`] reads, borrowed from the packet.
struct RawHint<'a> {
    src: &'a [u8],
    dst: &'a [u8],
    sp: u16,
    dp: u16,
    proto: u8,
}

impl<'a> RawHint<'a> {
    fn parse(linktype: wirehouse_wire::LinkType, b: &'a [u8]) -> Option<Self> {
        use wirehouse_wire::LinkType;
        let off = match linktype {
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
                if ihl < 20 || wirehouse_wire::ipv4::is_fragment(u16::from_be_bytes([h[6], h[7]])) {
                    return None; // options are fine, fragments are not
                }
                (&h[12..16], &h[16..20], h[9], ihl)
            }
            6 => {
                let h = ip.get(..40)?;
                (&h[8..24], &h[24..40], h[6], 40)
            }
            _ => return None,
        };
        let ports = ip.get(l4..l4 + 4)?;
        let (sp, dp) = (
            u16::from_be_bytes([ports[0], ports[1]]),
            u16::from_be_bytes([ports[2], ports[3]]),
        );
        match proto {
            6 => {}
            // UDP tunnels are decapsulated by the full decode.
            17 if !wirehouse_wire::is_tunnel_port(sp) && !wirehouse_wire::is_tunnel_port(dp) => {}
            _ => return None,
        }
        // The full decode needs the whole transport header or at least the ports; a
        // header it would reject outright (e.g. a TCP data offset below 20) goes there too.
        if proto == 6 && ip.get(l4 + 12).is_some_and(|&x| x >> 4 < 5) {
            return None;
        }
        Some(Self {
            src,
            dst,
            sp,
            dp,
            proto,
        })
    }
}

/// One endpoint as a word: an IPv4 address with the port, or an IPv6 address folded.
fn endpoint_word(ip: &[u8], port: u16) -> u64 {
    let a = match ip.len() {
        4 => u64::from(u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]])),
        _ => {
            let mut x = 0u64;
            for c in ip.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                x = x.rotate_left(23) ^ u64::from_be_bytes(w);
            }
            x
        }
    };
    (a << 16) ^ (a >> 48) ^ u64::from(port)
}

/// Order-independent mix of two endpoint words and the protocol.
fn shard_mix(a: u64, b: u64, proto: u8) -> u64 {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    let mut h = x.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ y.rotate_left(29).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        ^ u64::from(proto);
    h ^= h >> 32;
    h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    h ^ (h >> 32)
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
    /// On every packet of every corpus capture: when the hint answers, it is the
    /// key of the full decode, and the shard hint is that key's shard hash.
    #[test]
    fn hints_agree_with_the_full_decode_on_real_packets() {
        let Some(corpus) = wirehouse_testkit::corpus() else {
            return;
        };
        let (mut hinted, mut total) = (0u64, 0u64);
        for row in wirehouse_testkit::manifest(&corpus) {
            let Ok(mut src) = wirehouse_capture::open(&corpus.join(&row.file)) else {
                continue;
            };
            while let Ok(Some(p)) = src.next_packet() {
                total += 1;
                let hint = FlowKey::hint(p.linktype, p.data);
                let shard = FlowKey::shard_hint(p.linktype, p.data);
                assert_eq!(hint.is_some(), shard.is_some(), "{}", row.file);
                let (Some(h), Some(s)) = (hint, shard) else {
                    continue;
                };
                hinted += 1;
                // A packet the full decode rejects (say, an IPv4 total length beyond the
                // frame) is still sharded by its hint; the worker counts the error.
                let Ok(d) = wirehouse_wire::decode(p.linktype, p.data) else {
                    continue;
                };
                let (k, _) = FlowKey::of(&d);
                assert_eq!(h, k, "{}", row.file);
                assert_eq!(s.hash, k.shard_hash(), "{}", row.file);
                let ports = match d.l4 {
                    L4::Tcp(t) => (t.src_port, t.dst_port),
                    L4::Udp { src_port, dst_port } => (src_port, dst_port),
                    _ => panic!("{}: a hinted packet is TCP or UDP", row.file),
                };
                assert_eq!(s.ports, ports, "{}", row.file);
            }
        }
        assert!(
            hinted > 10_000 && hinted < total,
            "{hinted} of {total} packets hinted"
        );
    }

    use super::*;

    /// Endpoints of both families, with equal and neighbouring addresses and ports.
    fn endpoints() -> Vec<(IpAddr, u16)> {
        let mut x = 0x0123_4567_89ab_cdefu64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut v = Vec::new();
        for i in 0..60 {
            let r = next();
            let ip = match i % 3 {
                0 => IpAddr::from([10, 0, (r >> 8) as u8 & 1, r as u8 & 3]),
                1 => IpAddr::from((u128::from(r) << 64 | u128::from(next())).to_be_bytes()),
                // IPv4-mapped and low IPv6 addresses, which share bytes with IPv4 ones.
                _ => IpAddr::from([0, 0, 0, 0, 0, 0xffff, 0x0a00, r as u16 & 3]),
            };
            v.push((ip, [80, 443, (r >> 32) as u16][i % 3]));
        }
        v
    }

    #[test]
    fn key_order_and_endpoints_are_those_of_ip_addr_tuples() {
        let eps = endpoints();
        for &a in &eps {
            for &b in &eps {
                let (k, side) = FlowKey::new(a, b, 17);
                assert_eq!(side == Side::Lo, a <= b, "{a:?} {b:?}");
                assert_eq!((k.lo(), k.hi()), if a <= b { (a, b) } else { (b, a) });
                assert_eq!(k.endpoint(side), a);
                assert_eq!(k.endpoint(side.other()), b);
                let (k2, _) = FlowKey::new(b, a, 17);
                assert_eq!(k, k2);
                assert_eq!(k.cmp(&k2), std::cmp::Ordering::Equal);
            }
        }
    }

    #[test]
    fn flow_ids_hash_the_declared_five_tuple() {
        // The flow id has always been foldhash (fixed seed) over the derived `Hash` of
        // ((IpAddr, u16), (IpAddr, u16), u8) in canonical order; a faster key must not
        // change the ids of the same traffic.
        let eps = endpoints();
        for w in eps.windows(2) {
            let (k, _) = FlowKey::new(w[0], w[1], 6);
            let (lo, hi) = if w[0] <= w[1] {
                (w[0], w[1])
            } else {
                (w[1], w[0])
            };
            let want = foldhash::fast::FixedState::with_seed(HASH_SEED).hash_one((lo, hi, 6u8));
            assert_eq!(k.symmetric_hash(), want);
        }
    }

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
