//! The flow table: lookup by [`FlowKey`], per-direction counters, TCP state for closing
//! and port reuse, and expiry by packet time through a deadline heap.

use crate::reassembly::{HalfStats, HalfStream, ReassemblyConfig, StreamEvent};
use crate::{FlowKey, FlowRow, Side};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use wirehouse_schema::Timestamp;
use wirehouse_wire::{Decoded, L4, ipproto, tcp::flags};

const SEC: i64 = 1_000_000_000;

/// Timeouts and capacity; all times are packet time.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Idle timeout of an open TCP connection, seconds.
    pub tcp_timeout_s: u64,
    /// How long a TCP connection stays after FIN from both sides or RST, seconds.
    pub tcp_closed_timeout_s: u64,
    /// Idle timeout of a UDP flow, seconds.
    pub udp_timeout_s: u64,
    /// Idle timeout of an ICMP flow, seconds.
    pub icmp_timeout_s: u64,
    /// Idle timeout of other IP protocols, seconds.
    pub other_timeout_s: u64,
    /// Most flows tracked at once; beyond it the flow closest to expiry is evicted.
    pub max_flows: usize,
    /// TCP stream reassembly.
    pub reassembly: ReassemblyConfig,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            tcp_timeout_s: 600,
            tcp_closed_timeout_s: 5,
            udp_timeout_s: 60,
            icmp_timeout_s: 30,
            other_timeout_s: 60,
            max_flows: 1_000_000,
            reassembly: ReassemblyConfig::default(),
        }
    }
}

/// Why a flow row was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// FIN seen from both sides.
    Fin,
    /// RST seen.
    Rst,
    /// Idle longer than its timeout.
    Timeout,
    /// The input ended.
    EndOfInput,
    /// Pushed out because the table was full.
    Evicted,
    /// Periodic row of a flow still open (live capture).
    Active,
    /// The program was asked to stop.
    Shutdown,
}

impl CloseReason {
    /// The value written to `flows.close_reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fin => "fin",
            Self::Rst => "rst",
            Self::Timeout => "timeout",
            Self::EndOfInput => "end_of_input",
            Self::Evicted => "evicted",
            Self::Active => "active",
            Self::Shutdown => "shutdown",
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Packets.
    pub packets: u64,
    /// IP bytes.
    pub bytes: u64,
    /// Transport payload bytes.
    pub payload_bytes: u64,
    /// OR of TCP flags.
    pub tcp_flags: u8,
    /// Retransmitted segments.
    pub retransmits: u64,
    /// Out-of-order segments.
    pub out_of_order: u64,
    /// Missing stream bytes.
    pub missing_bytes: u64,
}

impl DirStats {
    /// The counters gained since `base` (an earlier copy of the same direction); the TCP
    /// flags stay cumulative (an OR cannot be split).
    fn since(self, base: &DirStats) -> DirStats {
        DirStats {
            packets: self.packets.saturating_sub(base.packets),
            bytes: self.bytes.saturating_sub(base.bytes),
            payload_bytes: self.payload_bytes.saturating_sub(base.payload_bytes),
            tcp_flags: self.tcp_flags,
            retransmits: self.retransmits.saturating_sub(base.retransmits),
            out_of_order: self.out_of_order.saturating_sub(base.out_of_order),
            missing_bytes: self.missing_bytes.saturating_sub(base.missing_bytes),
        }
    }
}

/// What a flow's earlier `active` rows carried in total (see
/// [`FlowTable::report_active`]): subtracted when a row is built, so each row carries
/// only the counters since the previous one and a flow's rows sum to its totals.
#[derive(Debug, Clone, Default)]
struct Reported {
    /// Counters per key side (index 0 = [`Side::Lo`], 1 = [`Side::Hi`]), not per
    /// client/server: a stream handler may swap `Flow::client` and `Flow::dir` when the
    /// flow closes (the application showed who the server is), and the baseline must
    /// follow the endpoints.
    dir: [DirStats; 2],
    /// IP fragments already reported.
    ip_fragments: u64,
    /// `now_ns` of the latest active row.
    at_ns: i64,
}

/// Index of a key side in [`Reported::dir`].
fn side_ix(s: Side) -> usize {
    usize::from(s == Side::Hi)
}

/// One tracked flow.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Stable id: hash of the key and the first packet's time.
    pub id: u64,
    generation: u64,
    /// The key.
    pub key: FlowKey,
    /// Which key side is the client.
    pub client: Side,
    /// First packet time, ns.
    pub start_ns: i64,
    /// Last packet time, ns.
    pub last_ns: i64,
    /// Input or interface.
    pub source: Arc<str>,
    /// VLAN of the first packet.
    pub vlan_id: u16,
    /// IP version.
    pub ip_version: u8,
    /// Client (0) and server (1) counters: totals since the flow started (a row subtracts
    /// what earlier active rows carried). Retransmits, out of order and missing bytes are
    /// filled in from the TCP streams when a row is written.
    pub dir: [DirStats; 2],
    /// IP fragments seen.
    pub ip_fragments: u64,
    /// Application protocol, when recognised.
    pub l7_protocol: &'static str,
    syn_ns: Option<i64>,
    synack_ns: Option<i64>,
    rtt_ns: Option<i64>,
    fin: [bool; 2],
    /// The handshake is over (or was never watched): see [`Flow::handshaking`].
    established: bool,
    closed: Option<CloseReason>,
    /// Set once the flow got an active row; boxed so other flows pay one pointer.
    reported: Option<Box<Reported>>,
}

impl Flow {
    /// The client's SYN is out, and neither the server's SYN-ACK nor the client's ACK of
    /// it has come. A client in SYN-SENT takes nothing from the server but a SYN or a
    /// reset (RFC 9293 §3.10.7.3), and Linux and Windows also refuse a reset whose
    /// timestamps do not fit their SYN: whether a reset was taken shows in what follows.
    fn handshaking(&self) -> bool {
        self.syn_ns.is_some() && !self.established
    }

    fn timeout_ns(&self, c: &FlowConfig) -> i64 {
        let s = match (self.key.proto, self.closed) {
            (ipproto::TCP, Some(_)) => c.tcp_closed_timeout_s,
            (ipproto::TCP, None) => c.tcp_timeout_s,
            (ipproto::UDP, _) => c.udp_timeout_s,
            (ipproto::ICMP | ipproto::ICMPV6, _) => c.icmp_timeout_s,
            _ => c.other_timeout_s,
        };
        (s as i64).saturating_mul(SEC)
    }

    fn deadline(&self, c: &FlowConfig) -> i64 {
        self.last_ns.saturating_add(self.timeout_ns(c))
    }

    /// True when the flow should get an active row at `now_ns`: it had packets since its
    /// previous row (or ever, without one), and that row (or its start) is at least
    /// `interval_ns` old.
    fn active_row_due(&self, now_ns: i64, interval_ns: i64) -> bool {
        let (since_ns, packets_reported) = match &self.reported {
            Some(r) => (r.at_ns, r.dir[0].packets.saturating_add(r.dir[1].packets)),
            None => (self.start_ns, 0),
        };
        let packets = self.dir[0].packets.saturating_add(self.dir[1].packets);
        packets > packets_reported && now_ns.saturating_sub(since_ns) >= interval_ns
    }

    /// Records the current counters as reported by an active row written at `now_ns`.
    fn mark_reported(&mut self, now_ns: i64) {
        let r = self.reported.get_or_insert_with(Box::default);
        r.dir[side_ix(self.client)] = self.dir[0];
        r.dir[side_ix(self.client.other())] = self.dir[1];
        r.ip_fragments = self.ip_fragments;
        r.at_ns = now_ns;
    }

    /// The row for this flow, closed for `reason` (a FIN/RST close wins). After active
    /// rows ([`FlowTable::report_active`]) the counters are those since the latest one;
    /// otherwise they are the flow's totals.
    pub fn to_row(&self, reason: CloseReason) -> FlowRow {
        // A connection that closed (FIN both ways, or RST) says so, whenever its row is
        // written (linger timeout, end of input, shutdown); periodic rows stay 'active'.
        let reason = match (reason, self.closed) {
            (CloseReason::Active, _) => CloseReason::Active,
            (_, Some(r)) => r,
            (r, None) => r,
        };
        let (c, s) = (
            self.key.endpoint(self.client),
            self.key.endpoint(self.client.other()),
        );
        let [mut cd, mut sd] = self.dir;
        let mut ip_fragments = self.ip_fragments;
        if let Some(r) = &self.reported {
            cd = cd.since(&r.dir[side_ix(self.client)]);
            sd = sd.since(&r.dir[side_ix(self.client.other())]);
            ip_fragments = ip_fragments.saturating_sub(r.ip_fragments);
        }
        FlowRow {
            flow_id: self.id,
            start_time: Timestamp::from_ns(self.start_ns),
            end_time: Timestamp::from_ns(self.last_ns),
            duration_us: ((self.last_ns - self.start_ns).max(0) / 1000) as u64,
            source: self.source.clone(),
            vlan_id: self.vlan_id,
            ip_version: self.ip_version,
            ip_proto: self.key.proto,
            client_ip: c.0,
            server_ip: s.0,
            client_port: c.1,
            server_port: s.1,
            l7_protocol: self.l7_protocol,
            client_packets: cd.packets,
            server_packets: sd.packets,
            client_bytes: cd.bytes,
            server_bytes: sd.bytes,
            client_payload_bytes: cd.payload_bytes,
            server_payload_bytes: sd.payload_bytes,
            tcp_flags_client: cd.tcp_flags,
            tcp_flags_server: sd.tcp_flags,
            handshake_rtt_us: self.rtt_ns.map(|n| (n.max(0) / 1000) as u64),
            client_retransmits: cd.retransmits,
            server_retransmits: sd.retransmits,
            client_out_of_order: cd.out_of_order,
            server_out_of_order: sd.out_of_order,
            client_missing_bytes: cd.missing_bytes,
            server_missing_bytes: sd.missing_bytes,
            ip_fragments,
            close_reason: reason.as_str(),
        }
    }
}

/// How much wire traffic one accounted packet stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketCount {
    /// Packets captured (a reassembled datagram: its fragments).
    pub packets: u32,
    /// IP bytes on the wire.
    pub ip_bytes: u64,
    /// IP fragments among them.
    pub fragments: u32,
}

/// Table-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows created.
    pub created: u64,
    /// Flows closed by FIN/RST.
    pub closed: u64,
    /// Flows expired by timeout.
    pub timed_out: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// TCP connections reopened with a new SYN on a closed 5-tuple (port reuse).
    pub port_reuse: u64,
    /// Periodic rows written for open flows ([`FlowTable::report_active`]).
    pub active_rows: u64,
}

/// The application layer's view of the flows: reassembled TCP streams, UDP datagrams,
/// and the end of each flow. One `State` lives in each flow (shared nothing).
pub trait StreamHandler {
    /// Per-flow state.
    type State: Default;
    /// An in-order event of one direction of a TCP flow.
    fn stream(
        &mut self,
        flow: &Flow,
        state: &mut Self::State,
        from_client: bool,
        ev: StreamEvent<'_>,
    );
    /// The payload of a UDP datagram.
    fn datagram(
        &mut self,
        _flow: &Flow,
        _state: &mut Self::State,
        _from_client: bool,
        _ts_ns: i64,
        _payload: &[u8],
    ) {
    }
    /// The flow ends (its streams have ended); may set `flow.l7_protocol` for its row.
    fn close(&mut self, _flow: &mut Flow, _state: Self::State) {}
    /// The flow is about to get a periodic (`active`) row: fill in what is known so far
    /// (e.g. its application protocol).
    fn describe(&mut self, _flow: &mut Flow, _state: &mut Self::State) {}
}

/// A handler that ignores streams (flows only).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStreams;

impl StreamHandler for NoStreams {
    type State = ();
    fn stream(&mut self, _: &Flow, _: &mut (), _: bool, _: StreamEvent<'_>) {}
}

struct Entry<S> {
    flow: Flow,
    streams: Option<Box<[HalfStream; 2]>>,
    state: S,
}

/// Reassembly counters summed over ended flows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReassemblyTotals {
    /// Sum of both directions' counters.
    pub streams: HalfStats,
    /// Times the global memory cap forced a flow's holes to be given up.
    pub memcap_flushes: u64,
    /// TCP handshakes that completed after a reset was sent during them (a forged one,
    /// or a client's reply to a forged segment): the connection went on, so the reset
    /// closed nothing.
    pub handshakes_past_reset: u64,
}

/// Tracks flows; emits a [`FlowRow`] for each flow that ends.
pub struct FlowTable<H: StreamHandler = NoStreams> {
    cfg: FlowConfig,
    flows: HashMap<FlowKey, Entry<H::State>, foldhash::fast::RandomState>,
    deadlines: BinaryHeap<Reverse<(i64, u64, FlowKey)>>,
    next_gen: u64,
    now_ns: i64,
    stats: FlowStats,
    handler: H,
    reasm_mem: usize,
    totals: ReassemblyTotals,
}

/// Copies the reassembly counters of a flow's streams (client, server) into its
/// per-direction counters, which hold them only from then on.
fn copy_stream_counters(dir: &mut [DirStats; 2], streams: &[HalfStream; 2]) {
    for (d, half) in dir.iter_mut().zip(streams.iter()) {
        d.retransmits = half.stats.retransmits;
        d.out_of_order = half.stats.out_of_order;
        d.missing_bytes = half.stats.missing_bytes;
    }
}

fn is_service_port(p: u16, other: u16) -> bool {
    (p < 1024 && other >= 1024) || (p < 32768 && other >= 32768)
}

impl FlowTable<NoStreams> {
    /// An empty table that tracks flows only.
    pub fn new(cfg: FlowConfig) -> Self {
        Self::with_handler(cfg, NoStreams)
    }
}

impl<H: StreamHandler> FlowTable<H> {
    /// An empty table whose streams go to `handler`.
    pub fn with_handler(cfg: FlowConfig, handler: H) -> Self {
        Self {
            cfg,
            flows: HashMap::default(),
            deadlines: BinaryHeap::new(),
            next_gen: 0,
            now_ns: i64::MIN,
            stats: FlowStats::default(),
            handler,
            reasm_mem: 0,
            totals: ReassemblyTotals::default(),
        }
    }

    /// Consumes the table, returning the stream handler (end every flow first).
    pub fn into_handler(self) -> H {
        self.handler
    }

    /// The stream handler.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Reassembly counters of the flows ended so far.
    pub fn reassembly_totals(&self) -> ReassemblyTotals {
        self.totals
    }

    /// Bytes buffered out of order over all flows.
    pub fn reassembly_memory(&self) -> usize {
        self.reasm_mem
    }

    /// Ends a flow: its streams are finished, the handler told, its row written.
    fn finish_entry(
        &mut self,
        mut e: Entry<H::State>,
        reason: CloseReason,
        out: &mut impl FnMut(FlowRow),
    ) {
        if let Some(st) = e.streams.as_mut() {
            let ts = e.flow.last_ns;
            let handler = &mut self.handler;
            let (flow, state) = (&e.flow, &mut e.state);
            for (i, half) in st.iter_mut().enumerate() {
                let delta = half.finish(ts, &mut |ev| handler.stream(flow, state, i == 0, ev));
                self.reasm_mem = self.reasm_mem.saturating_add_signed(delta);
            }
            copy_stream_counters(&mut e.flow.dir, st);
            for half in st.iter() {
                let h = half.stats;
                let t = &mut self.totals.streams;
                t.retransmits += h.retransmits;
                t.out_of_order += h.out_of_order;
                t.missing_bytes += h.missing_bytes;
                t.gaps += h.gaps;
                t.overlap_conflicts += h.overlap_conflicts;
                t.keepalives += h.keepalives;
                t.delivered_bytes += h.delivered_bytes;
            }
        }
        self.handler.close(&mut e.flow, e.state);
        out(e.flow.to_row(reason));
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Counters so far.
    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// The packet clock (latest packet time seen), ns.
    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// Accounts one decoded packet captured at `ts_ns`; rows of flows that ended
    /// (expired, evicted, or replaced on port reuse) go to `out`.
    pub fn process(
        &mut self,
        ts_ns: i64,
        d: &Decoded<'_>,
        source: &Arc<str>,
        out: &mut impl FnMut(FlowRow),
    ) {
        let count = PacketCount {
            packets: 1,
            ip_bytes: u64::from(d.ip.wire_len),
            fragments: u32::from(d.frag.is_some()),
        };
        self.process_counted(ts_ns, d, source, count, out);
    }

    /// Like [`process`](Self::process) for a datagram reassembled from IP fragments:
    /// `count` says how many packets and IP bytes it was on the wire.
    pub fn process_counted(
        &mut self,
        ts_ns: i64,
        d: &Decoded<'_>,
        source: &Arc<str>,
        count: PacketCount,
        out: &mut impl FnMut(FlowRow),
    ) {
        self.advance(ts_ns, out);
        let (key, side) = FlowKey::of(d);
        let tcp = match d.l4 {
            L4::Tcp(t) => Some(t),
            _ => None,
        };
        let syn_only = tcp.is_some_and(|t| t.flags & (flags::SYN | flags::ACK) == flags::SYN);
        // A new SYN on a closed connection: the old one is over (port reuse). Not the
        // SYN sent again after a reset its handshake may outlive.
        if syn_only
            && let Some(e) = self.flows.get(&key)
            && (e.flow.closed.is_some() || e.flow.fin.iter().any(|&x| x))
            && !(e.flow.handshaking()
                && tcp.is_some_and(|t| {
                    e.streams
                        .as_ref()
                        .is_some_and(|st| st[0].syn_seq() == Some(t.seq))
                }))
        {
            let e = self.flows.remove(&key).expect("present");
            self.stats.port_reuse += 1;
            self.stats.closed += 1;
            let reason = e.flow.closed.unwrap_or(CloseReason::Fin);
            self.finish_entry(e, reason, out);
        }
        if self.flows.len() >= self.cfg.max_flows && !self.flows.contains_key(&key) {
            self.evict_one(out);
        }
        // One lookup for the packet of a known flow (the common case).
        let e = match self.flows.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let (src_port, dst_port) = (key.endpoint(side).1, key.endpoint(side.other()).1);
                let sender_is_server = match tcp {
                    Some(t) if t.flags & flags::SYN != 0 => t.flags & flags::ACK != 0,
                    _ => {
                        matches!(key.proto, ipproto::TCP | ipproto::UDP)
                            && is_service_port(src_port, dst_port)
                    }
                };
                let client = if sender_is_server { side.other() } else { side };
                let generation = self.next_gen;
                self.next_gen += 1;
                let mut h =
                    key.symmetric_hash() ^ (ts_ns as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                h ^= h >> 29;
                let f = Flow {
                    id: h & 0x7fff_ffff_ffff_ffff,
                    generation,
                    key,
                    client,
                    start_ns: ts_ns,
                    last_ns: ts_ns,
                    source: source.clone(),
                    vlan_id: d.vlan_id,
                    ip_version: d.ip.version,
                    dir: [DirStats::default(); 2],
                    ip_fragments: 0,
                    l7_protocol: "",
                    syn_ns: None,
                    synack_ns: None,
                    rtt_ns: None,
                    fin: [false; 2],
                    established: false,
                    closed: None,
                    reported: None,
                };
                self.deadlines
                    .push(Reverse((f.deadline(&self.cfg), generation, key)));
                self.stats.created += 1;
                v.insert(Entry {
                    flow: f,
                    streams: None,
                    state: H::State::default(),
                })
            }
        };
        let f = &mut e.flow;
        f.last_ns = f.last_ns.max(ts_ns);
        let di = usize::from(side != f.client);
        let handshaking = f.handshaking();
        let mut tentative = false;
        let ds = &mut f.dir[di];
        ds.packets += u64::from(count.packets);
        ds.bytes += count.ip_bytes;
        ds.payload_bytes += u64::from(d.payload_wire_len);
        f.ip_fragments += u64::from(count.fragments);
        if let Some(t) = tcp {
            ds.tcp_flags |= t.flags;
            let syn = t.flags & flags::SYN != 0;
            let ack = t.flags & flags::ACK != 0;
            let rst = t.flags & flags::RST != 0;
            if handshaking {
                let completes = !rst && if di == 0 { ack } else { syn && ack };
                if completes {
                    f.established = true;
                    if f.closed == Some(CloseReason::Rst) {
                        f.closed = None;
                        self.totals.handshakes_past_reset += 1;
                    }
                }
                // A reset from either side, or anything but a SYN from the server, waits
                // to see whether the handshake goes on: the client has not taken it.
                tentative = !completes && (rst || (di == 1 && !syn));
            }
            match (di, syn, ack) {
                _ if tentative => {}
                (0, true, false) if f.syn_ns.is_none() => {
                    f.syn_ns = Some(ts_ns);
                    // A SYN that comes after the connection's own traffic (reordered, or
                    // a capture that started late) opens no handshake to watch.
                    f.established = f.dir[0].tcp_flags & flags::ACK != 0 || f.dir[1].packets > 0;
                }
                (1, true, true) if f.synack_ns.is_none() => f.synack_ns = Some(ts_ns),
                (0, false, true) if f.rtt_ns.is_none() && f.synack_ns.is_some() => {
                    f.rtt_ns = f.syn_ns.map(|s| ts_ns - s);
                }
                _ => {}
            }
            if t.flags & flags::FIN != 0 && !tentative {
                f.fin[di] = true;
            }
            if f.closed.is_none() {
                if rst {
                    f.closed = Some(CloseReason::Rst);
                } else if f.fin == [true, true] {
                    f.closed = Some(CloseReason::Fin);
                }
                if f.closed.is_some() {
                    // Closed connections linger briefly for late ACKs/retransmissions.
                    self.deadlines
                        .push(Reverse((f.deadline(&self.cfg), f.generation, key)));
                }
            }
        }
        // Reassembly and the application layer.
        let from_client = di == 0;
        let Entry {
            flow,
            streams,
            state,
        } = e;
        let handler = &mut self.handler;
        let cfg = &self.cfg.reassembly;
        match (tcp, d.l4_truncated) {
            // Not taken by the client (yet): the streams do not see it.
            (Some(_), false) if tentative => {}
            (Some(t), false) => {
                let st = streams.get_or_insert_with(|| {
                    Box::new([HalfStream::default(), HalfStream::default()])
                });
                if let Some(rtt) = flow.rtt_ns {
                    st[0].reorder_ns = rtt;
                    st[1].reorder_ns = rtt;
                }
                let [c, s] = &mut **st;
                let (mine, other) = if from_client { (c, s) } else { (s, c) };
                let mut delta = mine.expire_holes(cfg, ts_ns, &mut |ev| {
                    handler.stream(flow, state, from_client, ev)
                });
                let uncaptured = d.payload_wire_len.saturating_sub(d.payload.len() as u32);
                delta += mine.segment(
                    cfg,
                    ts_ns,
                    t.seq,
                    t.flags,
                    d.payload,
                    uncaptured,
                    &mut |ev| handler.stream(flow, state, from_client, ev),
                );
                if t.flags & flags::ACK != 0 {
                    delta += other.peer_ack(t.ack, ts_ns, &mut |ev| {
                        handler.stream(flow, state, !from_client, ev)
                    });
                }
                if t.flags & flags::RST != 0 {
                    delta += mine.finish(ts_ns, &mut |ev| {
                        handler.stream(flow, state, from_client, ev)
                    });
                    delta += other.finish(ts_ns, &mut |ev| {
                        handler.stream(flow, state, !from_client, ev)
                    });
                }
                self.reasm_mem = self.reasm_mem.saturating_add_signed(delta);
                if self.reasm_mem > cfg.memcap_bytes {
                    // Deliver what this flow holds, with gaps, to stay under the cap.
                    self.totals.memcap_flushes += 1;
                    let d0 =
                        st[0].flush_holes(ts_ns, &mut |ev| handler.stream(flow, state, true, ev));
                    let d1 =
                        st[1].flush_holes(ts_ns, &mut |ev| handler.stream(flow, state, false, ev));
                    self.reasm_mem = self.reasm_mem.saturating_add_signed(d0 + d1);
                }
            }
            (None, _) if matches!(d.l4, L4::Udp { .. }) => {
                handler.datagram(flow, state, from_client, ts_ns, d.payload);
            }
            _ => {}
        }
    }

    /// Moves the packet clock to `ts_ns` (never backwards) and expires idle flows.
    pub fn advance(&mut self, ts_ns: i64, out: &mut impl FnMut(FlowRow)) {
        if ts_ns <= self.now_ns {
            return;
        }
        self.now_ns = ts_ns;
        while let Some(&Reverse((deadline, generation, key))) = self.deadlines.peek() {
            if deadline > self.now_ns {
                break;
            }
            self.deadlines.pop();
            let Some(e) = self.flows.get(&key) else {
                continue;
            };
            if e.flow.generation != generation {
                continue;
            }
            let real = e.flow.deadline(&self.cfg);
            if real > self.now_ns {
                if real != deadline {
                    self.deadlines.push(Reverse((real, generation, key)));
                }
                continue;
            }
            let e = self.flows.remove(&key).expect("present");
            if e.flow.closed.is_some() {
                self.stats.closed += 1;
            } else {
                self.stats.timed_out += 1;
            }
            self.finish_entry(e, CloseReason::Timeout, out);
        }
    }

    fn evict_one(&mut self, out: &mut impl FnMut(FlowRow)) {
        while let Some(Reverse((deadline, generation, key))) = self.deadlines.pop() {
            let Some(e) = self.flows.get(&key) else {
                continue;
            };
            if e.flow.generation != generation {
                continue;
            }
            let real = e.flow.deadline(&self.cfg);
            if real > deadline {
                self.deadlines.push(Reverse((real, generation, key)));
                continue;
            }
            let e = self.flows.remove(&key).expect("present");
            self.stats.evicted += 1;
            self.finish_entry(e, CloseReason::Evicted, out);
            return;
        }
    }

    /// Periodic rows of open flows (live capture, DESIGN.md §4): every flow that had
    /// packets since its previous row (or since its start, without one) and whose previous
    /// row (or start) is at least `interval_ns` before `now_ns` gets a row with
    /// close_reason `active`. Each row carries only the counters since the flow's previous
    /// row (packets, bytes, payload bytes, retransmits, out of order, missing bytes, IP
    /// fragments), and so does the flow's final row, so a flow's rows sum to its totals;
    /// TCP flags stay cumulative, the handshake RTT, flow id and start time are the same
    /// on every row. Rows come in (start time, key) order.
    ///
    /// Neither moves the packet clock nor expires flows: `now_ns` is usually
    /// [`now_ns`](Self::now_ns), after [`advance`](Self::advance).
    pub fn report_active(&mut self, now_ns: i64, interval_ns: i64, out: &mut impl FnMut(FlowRow)) {
        let mut due: Vec<(i64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, e)| e.flow.active_row_due(now_ns, interval_ns))
            .map(|(k, e)| (e.flow.start_ns, *k))
            .collect();
        due.sort_unstable();
        for (_, key) in due {
            let Some(e) = self.flows.get_mut(&key) else {
                continue;
            };
            // Retransmits, out of order and missing bytes live in the streams until the
            // flow ends: bring them up to date for this row and the baseline.
            if let Some(st) = &e.streams {
                copy_stream_counters(&mut e.flow.dir, st);
            }
            self.handler.describe(&mut e.flow, &mut e.state);
            out(e.flow.to_row(CloseReason::Active));
            e.flow.mark_reported(now_ns);
            self.stats.active_rows += 1;
        }
    }

    /// Ends every open flow with `reason` (end of input, shutdown).
    pub fn drain(&mut self, reason: CloseReason, out: &mut impl FnMut(FlowRow)) {
        let mut flows: Vec<Entry<H::State>> = self.flows.drain().map(|(_, e)| e).collect();
        flows.sort_by_key(|e| (e.flow.start_ns, e.flow.key));
        self.deadlines.clear();
        for e in flows {
            self.finish_entry(e, reason, out);
        }
    }

    /// Mutable access to a tracked flow (e.g. to set its application protocol).
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        self.flows.get_mut(key).map(|e| &mut e.flow)
    }

    /// The client address of a tracked flow.
    pub fn client_of(&self, key: &FlowKey) -> Option<IpAddr> {
        self.flows
            .get(key)
            .map(|e| e.flow.key.endpoint(e.flow.client).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wirehouse_wire::{IpInfo, TcpInfo};

    fn pkt(src: (&str, u16), dst: (&str, u16), fl: u8, len: u32) -> Decoded<'static> {
        Decoded {
            vlan_id: 0,
            tunnel_depth: 0,
            ip_offset: 0,
            ip: IpInfo {
                version: 4,
                src: src.0.parse().unwrap(),
                dst: dst.0.parse().unwrap(),
                protocol: 6,
                wire_len: 40 + len,
                ttl: 64,
            },
            frag: None,
            l4: L4::Tcp(TcpInfo {
                src_port: src.1,
                dst_port: dst.1,
                seq: 0,
                ack: 0,
                flags: fl,
                window: 0,
            }),
            payload: &[],
            payload_wire_len: len,
            l4_truncated: false,
        }
    }

    /// Resets during a handshake (the corpus cases are in the cli's `resets.rs`): a SYN
    /// sent again after one is the same connection, a client's RST+ACK does not end the
    /// watch, and a reset the handshake stops at still closes the flow.
    #[test]
    fn resets_during_the_handshake() {
        let c = ("10.0.0.2", 40000);
        let s = ("10.0.0.1", 80);
        let (syn, ack, rst) = (flags::SYN, flags::ACK, flags::RST);
        for (case, packets, reason, past) in [
            (
                "SYN again after a forged RST",
                &[
                    (c, s, syn),
                    (s, c, rst | ack),
                    (c, s, syn),
                    (s, c, syn | ack),
                    (c, s, ack),
                ][..],
                "end_of_input",
                1,
            ),
            (
                "the client's RST+ACK to a forged segment",
                &[
                    (c, s, syn),
                    (s, c, ack),
                    (c, s, rst | ack),
                    (s, c, syn | ack),
                    (c, s, ack),
                ],
                "end_of_input",
                1,
            ),
            ("a closed port", &[(c, s, syn), (s, c, rst | ack)], "rst", 0),
        ] {
            let mut t = FlowTable::new(FlowConfig::default());
            let src: Arc<str> = "test".into();
            let mut rows = Vec::new();
            for (i, &(a, b, f)) in packets.iter().enumerate() {
                t.process(i as i64 * 1_000_000, &pkt(a, b, f, 0), &src, &mut |r| {
                    rows.push(r)
                });
            }
            t.drain(CloseReason::EndOfInput, &mut |r| rows.push(r));
            assert_eq!(rows.len(), 1, "{case}");
            assert_eq!(rows[0].close_reason, reason, "{case}");
            assert_eq!(t.stats().port_reuse, 0, "{case}");
            assert_eq!(t.reassembly_totals().handshakes_past_reset, past, "{case}");
        }
    }

    #[test]
    fn handshake_orientation_rtt_close_and_reuse() {
        let mut t = FlowTable::new(FlowConfig::default());
        let src: Arc<str> = "test".into();
        let mut rows = Vec::new();
        let c = ("10.0.0.2", 40000);
        let s = ("10.0.0.1", 80);
        let ms = 1_000_000;
        // The SYN+ACK is seen first (capture started mid-handshake): still oriented right.
        for (i, (a, b, f, l)) in [
            (s, c, flags::SYN | flags::ACK, 0),
            (c, s, flags::ACK, 0),
            (c, s, flags::ACK | flags::PSH, 100),
            (s, c, flags::ACK | flags::FIN, 0),
            (c, s, flags::ACK | flags::FIN, 0),
            (s, c, flags::ACK, 0),
            (c, s, flags::SYN, 0), // port reuse
            (s, c, flags::SYN | flags::ACK, 0),
            (c, s, flags::ACK, 0),
        ]
        .into_iter()
        .enumerate()
        {
            t.process(i as i64 * ms, &pkt(a, b, f, l), &src, &mut |r| rows.push(r));
        }
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.client_port, r.server_port, r.close_reason),
            (40000, 80, "fin")
        );
        assert_eq!((r.client_packets, r.server_packets), (3, 3));
        assert_eq!(r.client_payload_bytes, 100);
        assert_eq!(r.client_bytes, 40 * 3 + 100);
        assert_eq!(r.handshake_rtt_us, None); // the SYN was not captured
        t.drain(CloseReason::EndOfInput, &mut |r| rows.push(r));
        let r = &rows[1];
        assert_eq!(r.handshake_rtt_us, Some(2000));
        assert_eq!(r.close_reason, "end_of_input");
        assert_ne!(rows[0].flow_id, rows[1].flow_id);
        assert_eq!(t.stats().port_reuse, 1);
    }

    #[test]
    fn idle_flows_expire_on_packet_time_and_table_is_bounded() {
        let cfg = FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        };
        let mut t = FlowTable::new(cfg);
        let src: Arc<str> = "test".into();
        let mut rows = Vec::new();
        for p in 0..3u16 {
            t.process(
                i64::from(p),
                &pkt(("10.0.0.2", 1000 + p), ("10.0.0.1", 80), flags::SYN, 0),
                &src,
                &mut |r| rows.push(r),
            );
        }
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].close_reason, rows[0].client_port),
            ("evicted", 1000)
        );
        // 601 s later both remaining flows have timed out.
        t.advance(601 * SEC, &mut |r| rows.push(r));
        assert_eq!(rows.len(), 3);
        assert!(rows[1..].iter().all(|r| r.close_reason == "timeout"));
        assert!(t.is_empty());
    }

    /// A TCP segment with sequence numbers and a payload, built on [`pkt`].
    fn seg(
        src: (&str, u16),
        dst: (&str, u16),
        fl: u8,
        seq: u32,
        ack: u32,
        payload: &'static [u8],
    ) -> Decoded<'static> {
        let mut d = pkt(src, dst, fl, payload.len() as u32);
        if let L4::Tcp(t) = &mut d.l4 {
            t.seq = seq;
            t.ack = ack;
        }
        d.payload = payload;
        d
    }

    /// The counters that rows of one flow split between them (summed over the rows).
    fn counters(r: &FlowRow) -> [u64; 13] {
        [
            r.client_packets,
            r.server_packets,
            r.client_bytes,
            r.server_bytes,
            r.client_payload_bytes,
            r.server_payload_bytes,
            r.client_retransmits,
            r.server_retransmits,
            r.client_out_of_order,
            r.server_out_of_order,
            r.client_missing_bytes,
            r.server_missing_bytes,
            r.ip_fragments,
        ]
    }

    #[test]
    fn active_rows_carry_counters_since_the_previous_row_and_sum_to_totals() {
        let c = ("10.0.0.2", 40000);
        let s = ("10.0.0.1", 80);
        let ms = 1_000_000;
        let ack = flags::ACK;
        let psh = flags::PSH | flags::ACK;
        // (time ms, packet, IP fragments it was made of: 0 = not fragmented)
        let phase1 = [
            (0, seg(c, s, flags::SYN, 999, 0, b""), 0),
            (1, seg(s, c, flags::SYN | ack, 4999, 1000, b""), 0),
            (2, seg(c, s, ack, 1000, 5000, b""), 0),
            (3, seg(c, s, psh, 1000, 5000, b"hello"), 0),
            // Ahead of a hole (out of order), which the server then acknowledges past
            // (missing bytes).
            (4, seg(c, s, psh, 1010, 5000, b"later"), 0),
            (5, seg(s, c, psh, 5000, 1015, b"abcdef"), 0),
        ];
        let phase2 = [
            // "hello" again: a retransmission.
            (11, seg(c, s, psh, 1000, 5006, b"hello"), 0),
            (12, seg(s, c, psh, 5006, 1015, b"xyz"), 2),
        ];
        let phase3 = [
            (21, seg(c, s, flags::FIN | ack, 1015, 5009, b""), 0),
            (22, seg(s, c, flags::FIN | ack, 5009, 1016, b""), 0),
            (23, seg(c, s, ack, 1016, 5010, b""), 0),
        ];
        let run = |reports: &[i64]| {
            let mut t = FlowTable::new(FlowConfig::default());
            let src: Arc<str> = "test".into();
            let mut rows = Vec::new();
            for (i, phase) in [&phase1[..], &phase2[..], &phase3[..]].iter().enumerate() {
                for (at, d, frags) in phase.iter() {
                    let count = PacketCount {
                        packets: (*frags).max(1),
                        ip_bytes: u64::from(d.ip.wire_len),
                        fragments: *frags,
                    };
                    t.process_counted(at * ms, d, &src, count, &mut |r| rows.push(r));
                }
                if let Some(&now) = reports.get(i) {
                    t.report_active(now * ms, 5 * ms, &mut |r| rows.push(r));
                }
            }
            t.drain(CloseReason::EndOfInput, &mut |r| rows.push(r));
            (rows, t.stats())
        };
        let (single, stats) = run(&[]);
        assert_eq!(single.len(), 1);
        assert_eq!(stats.active_rows, 0);
        let total = counters(&single[0]);
        // The conversation exercises every counter that the rows split.
        assert_eq!(single[0].client_retransmits, 1);
        assert_eq!(single[0].client_out_of_order, 1);
        assert_eq!(single[0].client_missing_bytes, 5);
        assert_eq!(single[0].ip_fragments, 2);

        let (rows, stats) = run(&[10, 20]);
        let reasons: Vec<_> = rows.iter().map(|r| r.close_reason).collect();
        assert_eq!(reasons, ["active", "active", "fin"]);
        assert_eq!(stats.active_rows, 2);
        let mut sum = [0u64; 13];
        for r in &rows {
            for (s, v) in sum.iter_mut().zip(counters(r)) {
                *s += v;
            }
        }
        assert_eq!(sum, total);
        // Each row holds its own phase (phase 2's fragmented datagram counts 2 packets).
        let packets: Vec<u64> = rows
            .iter()
            .map(|r| r.client_packets + r.server_packets)
            .collect();
        assert_eq!(packets, [6, 3, 3]);
        assert_eq!(rows[0].client_out_of_order, 1);
        assert_eq!(
            (rows[0].client_retransmits, rows[1].client_retransmits),
            (0, 1)
        );
        for r in &rows {
            assert_eq!(r.flow_id, single[0].flow_id);
            assert_eq!(r.start_time, single[0].start_time);
            assert_eq!(r.handshake_rtt_us, Some(2000));
        }
        // Flags stay cumulative: the final row has them all, as the single row does.
        let last = &rows[2];
        assert_eq!(
            (last.tcp_flags_client, last.tcp_flags_server, last.end_time),
            (
                single[0].tcp_flags_client,
                single[0].tcp_flags_server,
                single[0].end_time
            )
        );
    }

    #[test]
    fn active_rows_skip_idle_and_young_flows() {
        let mut t = FlowTable::new(FlowConfig::default());
        let src: Arc<str> = "test".into();
        let ms = 1_000_000;
        let s = ("10.0.0.1", 80);
        let (a, b) = (("10.0.0.2", 40000), ("10.0.0.3", 40000));
        let mut rows = Vec::new();
        let send = |t: &mut FlowTable, at: i64, from: (&str, u16)| {
            t.process(at * ms, &pkt(from, s, flags::ACK, 10), &src, &mut |_| {});
        };
        send(&mut t, 0, a);
        send(&mut t, 1, a);
        send(&mut t, 8, b);
        // b started 2 ms ago: younger than the interval.
        t.report_active(10 * ms, 5 * ms, &mut |r| rows.push(r));
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].client_ip, rows[0].client_packets),
            (a.0.parse().unwrap(), 2)
        );
        // a: new packet but its row is 2 ms old; b: still young (4 ms).
        send(&mut t, 11, a);
        t.report_active(12 * ms, 5 * ms, &mut |r| rows.push(r));
        assert_eq!(rows.len(), 1);
        // a is due again (one packet since its row), b is due for the first time.
        t.report_active(15 * ms, 5 * ms, &mut |r| rows.push(r));
        let got: Vec<_> = rows[1..]
            .iter()
            .map(|r| (r.client_ip, r.client_packets, r.close_reason))
            .collect();
        assert_eq!(
            got,
            [
                (a.0.parse().unwrap(), 1, "active"),
                (b.0.parse().unwrap(), 1, "active")
            ]
        );
        // Nothing sent since: no more rows, however long the wait.
        t.report_active(100 * ms, 5 * ms, &mut |r| rows.push(r));
        assert_eq!(rows.len(), 3);
        assert_eq!(t.stats().active_rows, 3);
        // The final rows carry nothing new, and say why the flows ended.
        t.drain(CloseReason::Shutdown, &mut |r| rows.push(r));
        assert_eq!(rows.len(), 5);
        assert!(
            rows[3..]
                .iter()
                .all(|r| r.close_reason == "shutdown" && r.client_packets + r.server_packets == 0)
        );
    }

    /// Turns the flow around at close, as the L7 engine does when the application shows
    /// who the server is.
    struct SwapAtClose;

    impl StreamHandler for SwapAtClose {
        type State = ();
        fn stream(&mut self, _: &Flow, _: &mut (), _: bool, _: StreamEvent<'_>) {}
        fn close(&mut self, flow: &mut Flow, _: ()) {
            flow.client = flow.client.other();
            flow.dir.swap(0, 1);
        }
    }

    #[test]
    fn final_row_after_active_rows_follows_an_orientation_swap() {
        let mut t = FlowTable::with_handler(FlowConfig::default(), SwapAtClose);
        let src: Arc<str> = "test".into();
        let (x, y) = (("10.0.0.2", 40000), ("10.0.0.1", 80));
        let mut rows = Vec::new();
        let mut at = 0;
        let mut send = |t: &mut FlowTable<SwapAtClose>, from, to, n| {
            for _ in 0..n {
                at += 1;
                t.process(at, &pkt(from, to, flags::ACK, 0), &src, &mut |_| {});
            }
        };
        send(&mut t, x, y, 3);
        send(&mut t, y, x, 1);
        t.report_active(100, 0, &mut |r| rows.push(r));
        send(&mut t, x, y, 1);
        send(&mut t, y, x, 2);
        t.drain(CloseReason::EndOfInput, &mut |r| rows.push(r));
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.client_port, r.client_packets, r.server_packets))
            .collect();
        // Active row: x is the client (3, 1); final row: y is, with y's 2 and x's 1 since.
        assert_eq!(got, [(40000, 3, 1), (80, 2, 1)]);
    }
}
