//! The error value every decoder returns: which layer failed and why.

use std::fmt;

/// The protocol layer at which decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// Link layer (Ethernet, SLL, NULL, …).
    Link,
    /// VLAN / MPLS / PPPoE shims.
    Shim,
    /// IPv4.
    Ipv4,
    /// IPv6 and its extension headers.
    Ipv6,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP / ICMPv6.
    Icmp,
    /// A tunnel header (GRE, VXLAN, Geneve, ERSPAN).
    Tunnel,
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Fewer bytes were captured than the header needs.
    Truncated,
    /// A length or version field is inconsistent.
    Malformed,
    /// The frame carries something other than IP (ARP, LLDP, …): not an error, counted apart.
    NotIp(u16),
    /// The capture's link type is not one wirehouse decodes.
    UnsupportedLinkType(u32),
    /// More nested headers (tunnels, labels, extension headers) than the walker follows.
    TooDeep,
}

/// A decoding failure: never a panic, always this value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub struct DecodeError {
    /// Layer at which decoding stopped.
    pub layer: Layer,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl DecodeError {
    pub(crate) const fn new(layer: Layer, kind: ErrorKind) -> Self {
        Self { layer, kind }
    }
    pub(crate) const fn truncated(layer: Layer) -> Self {
        Self::new(layer, ErrorKind::Truncated)
    }
    pub(crate) const fn malformed(layer: Layer) -> Self {
        Self::new(layer, ErrorKind::Malformed)
    }

    /// A short stable name for counters, e.g. `ipv4_truncated`.
    pub fn counter_name(&self) -> String {
        match self.kind {
            ErrorKind::NotIp(_) => "not_ip".into(),
            ErrorKind::UnsupportedLinkType(_) => "unsupported_linktype".into(),
            k => format!(
                "{}_{}",
                format!("{:?}", self.layer).to_lowercase(),
                match k {
                    ErrorKind::Truncated => "truncated",
                    ErrorKind::Malformed => "malformed",
                    _ => "too_deep",
                }
            ),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::NotIp(t) => write!(f, "not an IP packet (ethertype {t:#06x})"),
            ErrorKind::UnsupportedLinkType(l) => write!(f, "unsupported link type {l}"),
            ErrorKind::Truncated => write!(f, "{:?} header truncated", self.layer),
            ErrorKind::Malformed => write!(f, "{:?} header malformed", self.layer),
            ErrorKind::TooDeep => write!(f, "too many nested headers at {:?}", self.layer),
        }
    }
}
