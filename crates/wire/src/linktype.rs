//! Capture link types (the `LINKTYPE_*` registry used by pcap and pcapng).

/// A capture file's link-layer header type; open enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// BSD loopback: 4-byte address family in host byte order (0).
    Null,
    /// Ethernet II / 802.3 (1).
    Ethernet,
    /// PPP (9).
    Ppp,
    /// FDDI (10): frame control, addresses, then 802.2 LLC/SNAP.
    Fddi,
    /// PPP in HDLC framing (50).
    PppHdlc,
    /// Raw IP, version from the first nibble (101; also 12 and 14 seen in old files).
    Raw,
    /// OpenBSD loopback: family in network byte order (108).
    Loop,
    /// IEEE 802.11 (105).
    Ieee80211,
    /// Radiotap header + IEEE 802.11 (127).
    Radiotap,
    /// Linux cooked capture v1 (113).
    LinuxSll,
    /// Linux netfilter NFLOG (239).
    Nflog,
    /// Raw IPv4 (228).
    Ipv4,
    /// Raw IPv6 (229).
    Ipv6,
    /// Linux cooked capture v2 (276).
    LinuxSll2,
    /// Anything else.
    Unknown(u32),
}

impl LinkType {
    /// Maps a `LINKTYPE_*` number.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => Self::Null,
            1 => Self::Ethernet,
            9 => Self::Ppp,
            10 => Self::Fddi,
            50 => Self::PppHdlc,
            101 | 12 | 14 => Self::Raw,
            105 => Self::Ieee80211,
            108 => Self::Loop,
            127 => Self::Radiotap,
            113 => Self::LinuxSll,
            228 => Self::Ipv4,
            239 => Self::Nflog,
            229 => Self::Ipv6,
            276 => Self::LinuxSll2,
            n => Self::Unknown(n),
        }
    }

    /// The `LINKTYPE_*` number.
    pub fn to_u32(self) -> u32 {
        match self {
            Self::Null => 0,
            Self::Ethernet => 1,
            Self::Ppp => 9,
            Self::Fddi => 10,
            Self::PppHdlc => 50,
            Self::Raw => 101,
            Self::Ieee80211 => 105,
            Self::Loop => 108,
            Self::Radiotap => 127,
            Self::LinuxSll => 113,
            Self::Ipv4 => 228,
            Self::Nflog => 239,
            Self::Ipv6 => 229,
            Self::LinuxSll2 => 276,
            Self::Unknown(n) => n,
        }
    }
}
