//! The stream handler that runs the parsers: per flow it detects the protocol (port hints
//! order the probes, the payload decides), keeps each direction's unconsumed bytes
//! (bounded), feeds the parser, handles gaps and invalid bytes, and at the end of the flow
//! writes unanswered requests as timeouts and names the flow's protocol.

use crate::row::L7Row;
pub use crate::session::ProtocolStats;
use crate::session::{PairLimits, Pairing};
use crate::{Cx, Parse, Probe, ProbeInput, Protocol, REGISTRY, Session, Shared, Span};
use std::collections::BTreeMap;
use std::sync::Arc;
use wirehouse_flow::{Flow, StreamEvent, StreamHandler};
use wirehouse_wire::ipproto;

/// Protocol hand-overs one flow may make (a CONNECT inside a CONNECT, ...); past them the
/// flow is no longer parsed.
pub(crate) const MAX_HANDOVERS: u8 = 4;

/// Application-layer settings (`[l7]` in the configuration file).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L7Config {
    /// Protocols to parse, by registry name; empty = all (`--protocols` overrides).
    pub protocols: Vec<String>,
    /// A request unanswered this long is written as a timeout when a newer one arrives,
    /// seconds (unanswered requests are always written as timeouts when the flow ends).
    pub session_timeout_s: u64,
    /// Most unanswered requests kept per flow; beyond it the oldest is written as a timeout.
    pub max_pending: usize,
    /// Most unconsumed bytes kept per direction of a flow (an incomplete message larger
    /// than this is dropped and counted as a buffer overflow).
    pub max_buffer_bytes: usize,
    /// Bytes per direction looked at to recognise a protocol before giving up.
    pub detect_bytes: usize,
    /// Invalid messages tolerated per flow before its parser gives up.
    pub max_errors_per_flow: u32,
}

impl Default for L7Config {
    fn default() -> Self {
        Self {
            protocols: Vec::new(),
            session_timeout_s: 60,
            max_pending: 256,
            max_buffer_bytes: 131_072,
            detect_bytes: 4096,
            max_errors_per_flow: 16,
        }
    }
}

impl L7Config {
    /// Fails on a protocol name the registry does not know, listing the known ones.
    pub fn check(&self) -> Result<(), String> {
        for name in &self.protocols {
            if crate::by_name(name.trim()).is_none() {
                let known: Vec<_> = REGISTRY.iter().map(|p| p.info().name).collect();
                return Err(format!(
                    "unknown protocol {name:?} (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Counters per protocol.
pub type L7Stats = BTreeMap<&'static str, ProtocolStats>;

/// One direction's unconsumed bytes.
#[derive(Default)]
struct DirBuf {
    data: Vec<u8>,
    start_ns: i64,
}

enum Phase {
    /// Looking at the first bytes; `held` lists what arrived, in order, for replay.
    Detect {
        held: Vec<(bool, usize, i64, i64)>,
        /// Protocols each direction's bytes ruled out (client, server).
        excluded: [u64; 2],
        /// Directions whose bytes no protocol can claim (their bytes are not held).
        dead: [bool; 2],
        datagrams: u32,
    },
    Active(Box<dyn Session>),
    Off,
}

/// Per-flow application-layer state (allocated at the flow's first payload byte).
#[derive(Default)]
pub struct FlowL7(Option<Box<Inner>>);

struct Inner {
    phase: Phase,
    /// The flow table took the server for the client (no handshake, service on a high
    /// port): the parser sees directions swapped and the rows say so.
    reversed: bool,
    proto: Option<usize>,
    /// The protocol that handed the stream over to the one detected next (see
    /// [`Parse::Handover`]): the flow keeps its name.
    label: Option<usize>,
    /// Hand-overs so far (bounded: each one starts detection afresh).
    handovers: u8,
    /// The protocol before this one lent it the stream ([`Parse::Lend`]).
    lent: bool,
    /// Bit `i`: protocol `i` was active on the flow (it counts the flow once, even
    /// when the stream comes back to it after a hand-over).
    parsed: u64,
    bufs: [DirBuf; 2],
    pairing: Pairing,
    errors: u32,
}

impl Inner {
    /// A flow at its first payload byte: nothing known yet.
    fn new() -> Self {
        Inner {
            phase: Phase::Detect {
                held: Vec::new(),
                excluded: [0; 2],
                dead: [false; 2],
                datagrams: 0,
            },
            proto: None,
            label: None,
            handovers: 0,
            parsed: 0,
            lent: false,
            reversed: false,
            bufs: Default::default(),
            pairing: Pairing::default(),
            errors: 0,
        }
    }
}

/// Runs the enabled parsers over every flow; collects `l7_sessions` rows.
pub struct L7Engine {
    enabled: Vec<usize>,
    cfg: L7Config,
    out: Out,
}

/// What parsers report into, kept apart from the rest of the engine so a [`Cx`] can
/// borrow it while a flow's session is borrowed too.
struct Out {
    limits: PairLimits,
    rows: Vec<L7Row>,
    stats: Vec<ProtocolStats>,
    /// State shared with the run's other engines (FTP data connections).
    shared: Arc<Shared>,
}

impl Out {
    /// The context a parser of protocol `i` reports through for `flow`.
    fn cx<'a>(
        &'a mut self,
        flow: &'a Flow,
        i: usize,
        pairing: &'a mut Pairing,
        reversed: bool,
        lent: bool,
    ) -> Cx<'a> {
        Cx {
            flow,
            proto: REGISTRY[i].info(),
            pairing,
            rows: &mut self.rows,
            stats: &mut self.stats[i],
            limits: self.limits,
            reversed,
            shared: &self.shared,
            lent,
        }
    }
}

impl L7Engine {
    /// An engine for the protocols `cfg` enables (unknown names are ignored here; see
    /// [`L7Config::check`]).
    pub fn new(cfg: L7Config) -> Self {
        Self::with_shared(cfg, Arc::new(Shared::new()))
    }

    /// An engine that shares `shared` with the run's other engines (one per worker), so
    /// a flow can be linked to one another worker sees (FTP data connections).
    pub fn with_shared(cfg: L7Config, shared: Arc<Shared>) -> Self {
        let enabled: Vec<usize> = (0..REGISTRY.len())
            .filter(|&i| {
                cfg.protocols.is_empty()
                    || cfg
                        .protocols
                        .iter()
                        .any(|n| n.trim() == REGISTRY[i].info().name)
            })
            .collect();
        let limits = PairLimits {
            timeout_ns: (cfg.session_timeout_s as i64).saturating_mul(1_000_000_000),
            max_pending: cfg.max_pending.max(1),
        };
        Self {
            enabled,
            cfg,
            out: Out {
                limits,
                rows: Vec::new(),
                stats: vec![ProtocolStats::default(); REGISTRY.len()],
                shared,
            },
        }
    }

    /// True when no protocol is enabled (the flow table can skip the handler).
    pub fn is_idle(&self) -> bool {
        self.enabled.is_empty()
    }

    /// Rows written since the last call.
    pub fn take_rows(&mut self) -> std::vec::Drain<'_, L7Row> {
        self.out.rows.drain(..)
    }

    /// Rows waiting to be taken.
    pub fn pending_rows(&self) -> usize {
        self.out.rows.len()
    }

    /// Counters of the protocols that saw anything.
    pub fn stats(&self) -> L7Stats {
        REGISTRY
            .iter()
            .zip(&self.out.stats)
            .filter(|(_, s)| **s != ProtocolStats::default())
            .map(|(p, s)| (p.info().name, *s))
            .collect()
    }

    fn proto(i: usize) -> &'static dyn Protocol {
        REGISTRY[i]
    }

    /// Probes the enabled protocols, those whose ports match the flow's first.
    fn detect(
        &self,
        input: &ProbeInput<'_>,
        excluded: &mut u64,
        at_limit: bool,
    ) -> Option<Option<usize>> {
        let mut hinted_unsure = None;
        let mut any_unsure = false;
        let hinted = |i: usize| {
            Self::proto(i)
                .info()
                .default_ports
                .contains(&input.server_port)
        };
        let order = self
            .enabled
            .iter()
            .copied()
            .filter(|&i| hinted(i))
            .chain(self.enabled.iter().copied().filter(|&i| !hinted(i)));
        for i in order {
            let p = Self::proto(i);
            if *excluded & (1 << i) != 0 || !p.info().transport.allows(input.tcp) {
                continue;
            }
            match p.probe(input) {
                Probe::Certain => return Some(Some(i)),
                Probe::Unsure => {
                    any_unsure = true;
                    if hinted_unsure.is_none() && hinted(i) {
                        hinted_unsure = Some(i);
                    }
                }
                Probe::NotMine => *excluded |= 1 << i,
            }
        }
        if !any_unsure {
            Some(None)
        } else if at_limit {
            Some(hinted_unsure)
        } else {
            None
        }
    }

    /// Probes direction `fc`'s held bytes. A direction no protocol can claim is dropped
    /// (the other may still be recognised, e.g. a capture that starts mid-request); when
    /// both are, the flow is given up. Returns the protocol to switch to.
    fn probe_tcp(&self, flow: &Flow, inner: &mut Inner, fc: bool, at_end: bool) -> Option<usize> {
        let d = usize::from(!fc);
        let Phase::Detect {
            held,
            excluded,
            dead,
            ..
        } = &mut inner.phase
        else {
            return None;
        };
        let data = &inner.bufs[d].data;
        let input = ProbeInput {
            bytes: data,
            from_client: fc,
            tcp: true,
            server_port: flow.key.endpoint(flow.client.other()).1,
            client: flow.key.endpoint(flow.client),
            server: flow.key.endpoint(flow.client.other()),
            shared: Some(&self.out.shared),
        };
        let at_limit = at_end || data.len() >= self.cfg.detect_bytes;
        let verdict = self.detect(&input, &mut excluded[d], at_limit);
        if let Some(Some(i)) = verdict {
            return Some(i);
        }
        // Bytes a protocol is certain came from the other side: the flow table guessed
        // the orientation wrong (no handshake seen, the service on a high port).
        match self.reversed_verdict(&input) {
            Ok(Some(i)) => {
                inner.reversed = true;
                return Some(i);
            }
            Err(()) if !at_limit => return None,
            _ => {}
        }
        // Some protocol is still unsure: wait for more bytes.
        verdict?;
        dead[d] = true;
        held.retain(|h| h.0 != fc);
        inner.bufs[d].data = Vec::new();
        if dead[1 - d] {
            inner.phase = Phase::Off;
            inner.bufs = Default::default();
        }
        None
    }

    /// The first enabled protocol certain of `input` seen from the other side (`Err(())`
    /// when none is certain but one might be with more bytes).
    fn reversed_verdict(&self, input: &ProbeInput<'_>) -> Result<Option<usize>, ()> {
        // Seen from the other side, the endpoints swap roles too.
        let flipped = ProbeInput {
            from_client: !input.from_client,
            client: input.server,
            server: input.client,
            ..*input
        };
        let mut unsure = false;
        for &i in &self.enabled {
            if !Self::proto(i).info().transport.allows(input.tcp) {
                continue;
            }
            match Self::proto(i).probe(&flipped) {
                Probe::Certain => return Ok(Some(i)),
                Probe::Unsure => unsure = true,
                Probe::NotMine => {}
            }
        }
        if unsure { Err(()) } else { Ok(None) }
    }

    /// The first enabled protocol certain of `input` seen from the other side.
    fn certain_reversed(&self, input: &ProbeInput<'_>) -> Option<usize> {
        self.reversed_verdict(input).ok().flatten()
    }

    /// Switches the flow to protocol `i` and replays what detection held, in order.
    fn activate(&mut self, flow: &Flow, inner: &mut Inner, i: usize) {
        let bit = 1u64.checked_shl(i as u32).unwrap_or(0);
        if inner.parsed & bit == 0 || bit == 0 {
            self.out.stats[i].flows += 1;
        }
        inner.parsed |= bit;
        let held = match &mut inner.phase {
            Phase::Detect { held, .. } => std::mem::take(held),
            _ => Vec::new(),
        };
        let saved = std::mem::take(&mut inner.bufs).map(|b| b.data);
        inner.proto = Some(i);
        inner.phase = Phase::Active(Self::proto(i).session());
        let mut offs = [0usize; 2];
        for (hfc, len, f, l) in held {
            let hd = usize::from(!hfc);
            let chunk = &saved[hd][offs[hd]..offs[hd] + len];
            offs[hd] += len;
            // Through `data`: a hand-over may have put the flow back to detection.
            self.data(flow, inner, hfc, chunk, f, l);
        }
    }

    /// Detection starts afresh on what follows a [`Parse::Handover`] (or a
    /// [`Parse::Lend`], then `lent`): the other direction's unparsed bytes (they came
    /// first), then `rest` of direction `fc`.
    fn hand_over(
        &mut self,
        flow: &Flow,
        inner: &mut Inner,
        fc: bool,
        (rest, lent): (Vec<u8>, bool),
        first: i64,
        last: i64,
    ) {
        let other = std::mem::take(&mut inner.bufs[usize::from(fc)]);
        *inner = Inner {
            label: inner.label.or(inner.proto),
            handovers: inner.handovers + 1,
            parsed: inner.parsed,
            lent,
            reversed: inner.reversed,
            ..Inner::new()
        };
        if !other.data.is_empty() {
            self.data(
                flow,
                inner,
                !fc,
                &other.data,
                other.start_ns,
                other.start_ns,
            );
        }
        if !rest.is_empty() {
            self.data(flow, inner, fc, &rest, first, last);
        }
    }

    /// One direction's in-order bytes: held and probed while the protocol is unknown,
    /// else fed to its parser.
    fn data(
        &mut self,
        flow: &Flow,
        inner: &mut Inner,
        fc: bool,
        bytes: &[u8],
        first: i64,
        last: i64,
    ) {
        let d = usize::from(!fc);
        if let Phase::Detect { held, dead, .. } = &mut inner.phase {
            if dead[d] {
                return;
            }
            let buf = &mut inner.bufs[d];
            let take = bytes
                .len()
                .min(self.cfg.detect_bytes.saturating_sub(buf.data.len()));
            buf.data.extend_from_slice(&bytes[..take]);
            held.push((fc, take, first, last));
            if let Some(i) = self.probe_tcp(flow, inner, fc, false) {
                self.activate(flow, inner, i);
                // Bytes past the detection window of this chunk.
                if take < bytes.len() {
                    self.data(flow, inner, fc, &bytes[take..], first, last);
                }
            }
            return;
        }
        self.feed(flow, inner, fc, bytes, first, last);
    }

    /// Feeds one direction's in-order bytes to the active parser.
    fn feed(
        &mut self,
        flow: &Flow,
        inner: &mut Inner,
        fc: bool,
        bytes: &[u8],
        first: i64,
        last: i64,
    ) {
        let (Some(i), Phase::Active(session)) = (inner.proto, &mut inner.phase) else {
            return;
        };
        let d = usize::from(!fc);
        let rev = inner.reversed;
        let buf = &mut inner.bufs[d];
        let old_len = buf.data.len();
        let start = if old_len == 0 { first } else { buf.start_ns };
        let mut cx = self
            .out
            .cx(flow, i, &mut inner.pairing, inner.reversed, inner.lent);
        let times = (start, first, last);
        let max = self.cfg.max_errors_per_flow;
        let errors = &mut inner.errors;
        let (used, outcome) = if old_len == 0 {
            run(
                session.as_mut(),
                &mut cx,
                fc != rev,
                bytes,
                0,
                times,
                errors,
                max,
            )
        } else {
            buf.data.extend_from_slice(bytes);
            run(
                session.as_mut(),
                &mut cx,
                fc != rev,
                &buf.data,
                old_len,
                times,
                errors,
                max,
            )
        };
        let mut give_up = false;
        match outcome {
            Outcome::Stop => {
                inner.phase = Phase::Off;
                inner.bufs = Default::default();
                return;
            }
            Outcome::Handover { lent } if inner.handovers < MAX_HANDOVERS => {
                let src: &[u8] = if old_len == 0 { bytes } else { &buf.data };
                let rest = src[used..].to_vec();
                let rest_first = if used < old_len { start } else { first };
                // The requests this protocol left unanswered are written now.
                cx.flush();
                self.hand_over(flow, inner, fc, (rest, lent), rest_first, last);
                return;
            }
            Outcome::Handover { .. } => {
                cx.flush();
                cx.stats.given_up += 1;
                inner.phase = Phase::Off;
                inner.bufs = Default::default();
                return;
            }
            Outcome::GiveUp => {
                give_up = true;
            }
            Outcome::Wait => {
                let src: &[u8] = if old_len == 0 { bytes } else { &buf.data };
                let rest = src.len() - used;
                if rest > self.cfg.max_buffer_bytes {
                    cx.stats.buffer_overflows += 1;
                    buf.data.clear();
                    if !session.gap(&mut cx, fc != rev, rest as u64, last) {
                        give_up = true;
                    }
                } else if old_len == 0 {
                    buf.data.extend_from_slice(&bytes[used..]);
                    buf.start_ns = first;
                } else {
                    buf.data.drain(..used);
                    if used >= old_len {
                        buf.start_ns = first;
                    }
                }
            }
        }
        if give_up {
            cx.stats.given_up += 1;
            inner.phase = Phase::Off;
            inner.bufs = Default::default();
        }
    }
}

enum Outcome {
    /// Everything parseable was consumed; the rest waits for more bytes.
    Wait,
    /// The parser gave up (or made too many errors).
    GiveUp,
    Stop,
    /// Another protocol follows the bytes used (`lent`: see [`Parse::Lend`]).
    Handover {
        lent: bool,
    },
}

/// Calls the parser until it needs more bytes; returns how many it consumed. Bytes before
/// `old_len` arrived at `start`, the rest between `first` and `last`. Invalid bytes are
/// counted and the parser told (a gap of 0) so it resynchronises on the same bytes; if
/// it calls the same place invalid again, everything is dropped.
#[allow(clippy::too_many_arguments)]
fn run(
    s: &mut dyn Session,
    cx: &mut Cx<'_>,
    fc: bool,
    data: &[u8],
    old_len: usize,
    (start, first, last): (i64, i64, i64),
    errors: &mut u32,
    max_errors: u32,
) -> (usize, Outcome) {
    let mut off = 0;
    let mut invalid_at = None;
    while off < data.len() {
        let span = Span {
            start_ns: if off >= old_len && off > 0 {
                first
            } else {
                start
            },
            end_ns: last,
        };
        match s.parse(cx, fc, &data[off..], span) {
            Parse::Consumed(0) | Parse::Needed(_) => break,
            Parse::Consumed(n) => off += n.min(data.len() - off),
            Parse::Invalid => {
                cx.stats.parse_errors += 1;
                *errors += 1;
                if *errors > max_errors || !s.gap(cx, fc, 0, last) {
                    return (data.len(), Outcome::GiveUp);
                }
                if invalid_at == Some(off) {
                    return (data.len(), Outcome::Wait);
                }
                invalid_at = Some(off);
            }
            Parse::Stop => return (data.len(), Outcome::Stop),
            p @ (Parse::Handover(n) | Parse::Lend(n)) => {
                let lent = matches!(p, Parse::Lend(_));
                return (off + n.min(data.len() - off), Outcome::Handover { lent });
            }
        }
    }
    (off, Outcome::Wait)
}

impl StreamHandler for L7Engine {
    type State = FlowL7;

    fn stream(&mut self, flow: &Flow, state: &mut FlowL7, fc: bool, ev: StreamEvent<'_>) {
        if self.enabled.is_empty() {
            return;
        }
        let d = usize::from(!fc);
        match ev {
            StreamEvent::Data {
                bytes,
                first_ts_ns,
                last_ts_ns,
            } => {
                if bytes.is_empty() {
                    return;
                }
                let inner = state.0.get_or_insert_with(|| Box::new(Inner::new()));
                self.data(flow, inner, fc, bytes, first_ts_ns, last_ts_ns);
            }
            StreamEvent::Gap { len, ts_ns } => {
                let Some(inner) = state.0.as_mut() else {
                    return;
                };
                match &mut inner.phase {
                    Phase::Detect { held, .. } => {
                        // What was held of this direction precedes the gap: forget it.
                        held.retain(|h| h.0 != fc);
                        inner.bufs[d].data.clear();
                    }
                    Phase::Active(session) => {
                        let i = inner.proto.expect("active has a protocol");
                        let lost = inner.bufs[d].data.len() as u64;
                        let mut cx =
                            self.out
                                .cx(flow, i, &mut inner.pairing, inner.reversed, inner.lent);
                        if lost > 0 {
                            let b = &inner.bufs[d];
                            session.cut(&mut cx, fc != inner.reversed, &b.data, b.start_ns);
                        }
                        inner.bufs[d].data.clear();
                        cx.stats.gaps += 1;
                        if !session.gap(&mut cx, fc != inner.reversed, len + lost, ts_ns) {
                            cx.stats.given_up += 1;
                            inner.phase = Phase::Off;
                            inner.bufs = Default::default();
                        }
                    }
                    Phase::Off => {}
                }
            }
            StreamEvent::End { ts_ns } => {
                let Some(inner) = state.0.as_mut() else {
                    return;
                };
                if matches!(&inner.phase, Phase::Detect { held, dead, .. } if !dead[d] && held.iter().any(|h| h.0 == fc))
                {
                    // The stream ended before the probes were sure: let the port decide.
                    if let Some(i) = self.probe_tcp(flow, inner, fc, true) {
                        self.activate(flow, inner, i);
                    }
                }
                if let (Some(i), Phase::Active(session)) = (inner.proto, &mut inner.phase) {
                    let buf = std::mem::take(&mut inner.bufs[d].data);
                    let span = Span {
                        start_ns: if buf.is_empty() {
                            ts_ns
                        } else {
                            inner.bufs[d].start_ns
                        },
                        end_ns: ts_ns,
                    };
                    let mut cx =
                        self.out
                            .cx(flow, i, &mut inner.pairing, inner.reversed, inner.lent);
                    session.end(&mut cx, fc != inner.reversed, &buf, span);
                }
            }
        }
    }

    fn datagram(&mut self, flow: &Flow, state: &mut FlowL7, fc: bool, ts_ns: i64, payload: &[u8]) {
        if self.enabled.is_empty() || payload.is_empty() {
            return;
        }
        let inner = state.0.get_or_insert_with(|| Box::new(Inner::new()));
        if let Phase::Detect {
            excluded,
            datagrams,
            ..
        } = &mut inner.phase
        {
            *datagrams += 1;
            let input = ProbeInput {
                bytes: payload,
                from_client: fc,
                tcp: false,
                server_port: flow.key.endpoint(flow.client.other()).1,
                client: flow.key.endpoint(flow.client),
                server: flow.key.endpoint(flow.client.other()),
                shared: Some(&self.out.shared),
            };
            // Each datagram stands alone: an unsure one is decided by the port at once, and
            // one that no protocol claims rules nothing out for the next (junk first).
            let mut ex = *excluded.first().unwrap_or(&0);
            let mut v = self.detect(&input, &mut ex, true);
            let n = *datagrams;
            if !matches!(v, Some(Some(_)))
                && let Some(i) = self.certain_reversed(&input)
            {
                inner.reversed = true;
                v = Some(Some(i));
            }
            match v {
                Some(Some(i)) => self.activate(flow, inner, i),
                _ if n >= 8 => {
                    inner.phase = Phase::Off;
                    return;
                }
                _ => return,
            }
        }
        let (Some(i), Phase::Active(session)) = (inner.proto, &mut inner.phase) else {
            return;
        };
        let mut cx = self
            .out
            .cx(flow, i, &mut inner.pairing, inner.reversed, inner.lent);
        let span = Span {
            start_ns: ts_ns,
            end_ns: ts_ns,
        };
        match session.parse(&mut cx, fc != inner.reversed, payload, span) {
            Parse::Consumed(_) => {}
            Parse::Needed(_) | Parse::Invalid => {
                cx.stats.parse_errors += 1;
                inner.errors += 1;
                if inner.errors > self.cfg.max_errors_per_flow {
                    cx.stats.given_up += 1;
                    inner.phase = Phase::Off;
                }
            }
            Parse::Stop | Parse::Handover(_) | Parse::Lend(_) => inner.phase = Phase::Off,
        }
    }

    fn describe(&mut self, flow: &mut Flow, state: &mut FlowL7) {
        // Periodic rows of a live capture name the protocol as soon as it is known. (A
        // flow the payload showed to be reversed is only turned round at its end.)
        if let Some(i) = state
            .0
            .as_ref()
            .and_then(|inner| inner.label.or(inner.proto))
        {
            flow.l7_protocol = REGISTRY[i].info().name;
        }
    }

    fn close(&mut self, flow: &mut Flow, state: FlowL7) {
        if state
            .0
            .as_ref()
            .is_none_or(|inner| inner.proto.or(inner.label).is_none())
        {
            // An FTP data connection whose control session another worker announced
            // only after this flow's bytes were probed (or that carried no bytes).
            if let Some(i) = self.enabled.iter().copied().find(|&i| {
                std::ptr::eq(
                    REGISTRY[i].info(),
                    crate::protocols::ftp_data::PROTOCOL.info(),
                )
            }) && crate::protocols::ftp_data::adopt_at_close(&self.out.shared, flow)
            {
                self.out.stats[i].flows += 1;
                flow.l7_protocol = REGISTRY[i].info().name;
            }
            return;
        }
        let Some(mut inner) = state.0 else {
            return;
        };
        if let Some(i) = inner.label.or(inner.proto) {
            flow.l7_protocol = REGISTRY[i].info().name;
        }
        if let Some(i) = inner.proto {
            let mut cx = self
                .out
                .cx(flow, i, &mut inner.pairing, inner.reversed, inner.lent);
            // A UDP flow has no end of stream but its close.
            if let Phase::Active(session) = &mut inner.phase
                && flow.key.proto == ipproto::UDP
            {
                let span = Span {
                    start_ns: flow.last_ns,
                    end_ns: flow.last_ns,
                };
                session.end(&mut cx, !inner.reversed, &[], span);
                session.end(&mut cx, inner.reversed, &[], span);
            }
            cx.flush();
        }
        if inner.reversed {
            // The application showed who the server is: the flow row says so too.
            flow.client = flow.client.other();
            flow.dir.swap(0, 1);
        }
    }
}
