//! Application-protocol parsing: the protocol registry (one folder per protocol under
//! `protocols/`), session pairing and the `l7_sessions` table. The registry is empty
//! until the first parsers land; `wirehouse protocols` lists what it holds.

/// A registered application protocol.
#[derive(Debug, Clone, Copy)]
pub struct ProtocolInfo {
    /// Lower-case name, used as `l7_protocol` and in `--protocols`.
    pub name: &'static str,
    /// Numeric id (DeepFlow's numbering where one exists).
    pub id: u16,
    /// "tcp", "udp" or "tcp+udp".
    pub transport: &'static str,
    /// Ports tried first when detecting the protocol.
    pub default_ports: &'static [u16],
}

/// Every registered protocol.
pub fn registry() -> &'static [ProtocolInfo] {
    &[]
}
