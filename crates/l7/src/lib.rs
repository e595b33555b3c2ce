//! Application-protocol parsing (DESIGN.md §3): the [`Protocol`]/[`Session`] traits every
//! parser implements, the registry (one folder per protocol under `protocols/` plus one
//! line in [`protocols::REGISTRY`]), detection by payload with port hints, request/response
//! pairing ([`Cx`]), and the `l7_sessions` table ([`L7Row`]).
//!
//! The [`L7Engine`] plugs into the flow table as its stream handler: it receives each
//! flow's reassembled TCP bytes (with gaps) and UDP datagrams, picks the protocol, feeds
//! the parser, and collects session rows.

use std::net::IpAddr;

mod engine;
mod pieces;
pub mod protocols;
mod row;
mod session;
pub mod shared;
#[cfg(test)]
pub(crate) mod testutil;

pub use engine::{L7Config, L7Engine, L7Stats, ProtocolStats};
pub use protocols::{REGISTRY, by_name};
pub use row::{L7Builder, L7Row};
pub use session::{Cx, Request, Response, Status};
pub use shared::Shared;

/// Which transport a protocol runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// Both.
    Both,
}

impl Transport {
    /// "tcp", "udp" or "tcp+udp".
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Both => "tcp+udp",
        }
    }

    fn allows(self, tcp: bool) -> bool {
        match self {
            Transport::Both => true,
            Transport::Tcp => tcp,
            Transport::Udp => !tcp,
        }
    }
}

/// A registered application protocol.
#[derive(Debug, Clone, Copy)]
pub struct ProtocolInfo {
    /// Lower-case name, used as `l7_protocol`, in `--protocols` and as its folder name.
    pub name: &'static str,
    /// Numeric id (DeepFlow's numbering where one exists).
    pub id: u16,
    /// Transport(s) it runs on.
    pub transport: Transport,
    /// Ports tried first when detecting the protocol (a hint, never a verdict).
    pub default_ports: &'static [u16],
}

/// A probe's verdict on the first bytes of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// These bytes are this protocol.
    Certain,
    /// Could be; more bytes would tell (or the port hint decides).
    Unsure,
    /// Not this protocol.
    NotMine,
}

/// What a parser did with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse {
    /// The first `n` bytes were used (a message, or part of a body); call again with the
    /// rest. `Consumed(0)` means "nothing more to do with these bytes yet".
    Consumed(usize),
    /// Incomplete: at least `n` more bytes are needed before anything can be consumed.
    Needed(usize),
    /// The bytes are not a valid message: the engine counts it and tells the parser
    /// (a gap of 0 through [`Session::gap`]), then offers the same bytes again so the
    /// parser can resynchronise in them; called invalid twice, they are dropped.
    Invalid,
    /// Stop parsing this flow (encrypted data, or a protocol not parsed, from here on).
    Stop,
    /// The first `n` bytes were used and, in both directions, what follows them is
    /// another protocol (a CONNECT tunnel, STARTTLS): the engine detects it afresh. The
    /// flow keeps this protocol's name.
    Handover(usize),
    /// Like [`Handover`](Self::Handover), for a while: the next protocol's parser is
    /// told ([`Cx::lent`]) that the stream may go on in the clear once it shuts down
    /// (FTP's AUTH TLS, which CCC ends), and then hands it over in turn, for detection
    /// afresh (the flow keeps this protocol's name).
    Lend(usize),
}

/// What probes see.
#[derive(Debug, Clone, Copy)]
pub struct ProbeInput<'a> {
    /// The bytes so far in this direction (a UDP datagram's payload).
    pub bytes: &'a [u8],
    /// Sent by the flow's client.
    pub from_client: bool,
    /// TCP (else UDP).
    pub tcp: bool,
    /// The flow's server port.
    pub server_port: u16,
    /// The flow's client endpoint (as the flow table oriented it; swapped with `server`
    /// when the engine probes the bytes as coming from the other side).
    pub client: (IpAddr, u16),
    /// The flow's server endpoint.
    pub server: (IpAddr, u16),
    /// The run's cross-worker state (FTP data connections are recognised by the
    /// endpoint their control connection announced); `None` in unit tests.
    pub shared: Option<&'a Shared>,
}

impl Default for ProbeInput<'_> {
    /// No bytes, client to server, TCP, unspecified endpoints, no shared state.
    fn default() -> Self {
        let any = (IpAddr::from([0u8, 0, 0, 0]), 0);
        Self {
            bytes: &[],
            from_client: true,
            tcp: true,
            server_port: 0,
            client: any,
            server: any,
            shared: None,
        }
    }
}

/// The times of the bytes a parser is given: the first byte arrived at `start_ns`, the
/// last at `end_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Arrival of the first byte, ns.
    pub start_ns: i64,
    /// Arrival of the last byte, ns.
    pub end_ns: i64,
}

/// A protocol in the registry: detection and a factory for per-flow sessions.
pub trait Protocol: Sync {
    /// Name, id, transport and port hints.
    fn info(&self) -> &'static ProtocolInfo;
    /// Does this flow speak the protocol? Must not panic on any input; return
    /// [`Probe::Unsure`] when the bytes are too few to tell.
    fn probe(&self, input: &ProbeInput<'_>) -> Probe;
    /// Fresh per-flow parser state.
    fn session(&self) -> Box<dyn Session>;
}

/// Per-flow parser state. The engine feeds each direction's bytes in order; TCP bytes
/// the parser did not consume are kept (bounded) and given again with more behind them.
pub trait Session: Send {
    /// Parses what it can of `buf` (one direction's unconsumed bytes); UDP: one datagram.
    fn parse(&mut self, cx: &mut Cx<'_>, from_client: bool, buf: &[u8], span: Span) -> Parse;
    /// `len` bytes of this direction are lost (`len` = 0: the engine dropped bytes the
    /// parser called invalid). Return false to give up on the flow.
    fn gap(&mut self, cx: &mut Cx<'_>, from_client: bool, len: u64, ts_ns: i64) -> bool;
    /// A gap follows `buf`, this direction's unconsumed bytes (its first byte came at
    /// `start_ns`): they will never be completed, and [`gap`](Self::gap), called next,
    /// counts them as lost. A parser may still make a row of them.
    fn cut(&mut self, _cx: &mut Cx<'_>, _from_client: bool, _buf: &[u8], _start_ns: i64) {}
    /// No more bytes in this direction: `buf` holds what was left unconsumed,
    /// `span.start_ns` is when its first byte arrived (the end's time when `buf` is
    /// empty) and `span.end_ns` the end's time.
    fn end(&mut self, _cx: &mut Cx<'_>, _from_client: bool, _buf: &[u8], _span: Span) {}
}

/// Every registered protocol's description.
pub fn registry() -> impl Iterator<Item = &'static ProtocolInfo> {
    REGISTRY.iter().map(|p| p.info())
}
