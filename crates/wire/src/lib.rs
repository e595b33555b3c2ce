//! Zero-copy views of the L2–L4 headers wirehouse understands, and the layer walker
//! ([`decode`]) that turns a captured frame into the summary the flow layer needs.
//!
//! Every view follows the smoltcp pattern: a `Packet<T: AsRef<[u8]>>` over the bytes,
//! field ranges in a private `mod field`, and a validating `new_checked` that returns a
//! [`DecodeError`] instead of panicking on truncated or hostile input. Accessors on a
//! checked packet never index out of bounds.
//!
//! Tunnels (GRE incl. ERSPAN, VXLAN, Geneve, IP-in-IP) are decapsulated by [`decode`]
//! so that the *inner* flow is what gets tracked.

pub mod decode;
pub mod error;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod linktype;
pub mod sll;
pub mod tcp;
pub mod tunnel;
pub mod udp;

pub use decode::{Decoded, Fragment, IpInfo, L4, TcpInfo, decode, decode_ip, is_tunnel_port};
pub use error::{DecodeError, ErrorKind, Layer};
pub use linktype::LinkType;

/// Big-endian u16 at `off`; the caller has checked the bounds.
#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// Big-endian u32 at `off`; the caller has checked the bounds.
#[inline]
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Well-known EtherType values.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ).
    pub const QINQ: u16 = 0x88a8;
    /// Legacy QinQ tag.
    pub const QINQ_OLD: u16 = 0x9100;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MC: u16 = 0x8848;
    /// PPPoE session stage.
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// Transparent Ethernet bridging (Ethernet inside GRE / Geneve).
    pub const TEB: u16 = 0x6558;
    /// ERSPAN type I/II (GRE protocol).
    pub const ERSPAN2: u16 = 0x88be;
    /// ERSPAN type III (GRE protocol).
    pub const ERSPAN3: u16 = 0x22eb;
}

/// IP protocol numbers used by the walker.
pub mod ipproto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: u8 = 0;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// IPv4 in IP.
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 in IP.
    pub const IPV6: u8 = 41;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ESP.
    pub const ESP: u8 = 50;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 no next header.
    pub const NONE: u8 = 59;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// Mobility header.
    pub const MOBILITY: u8 = 135;
    /// Host identity protocol.
    pub const HIP: u8 = 139;
    /// Shim6.
    pub const SHIM6: u8 = 140;
}
