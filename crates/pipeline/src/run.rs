//! `convert`: the reader/dispatcher on the calling thread — inputs merged by time,
//! minimal decode, IP defragmentation, symmetric flow hash — hands packets in batches to
//! N shard workers over bounded channels (one worker runs on the calling thread itself,
//! without a channel); workers send record batches to one sink thread. Every channel is
//! bounded, so a slow sink slows the reader.

use crate::merge::{self, Planned};
use crate::worker::{self, Batch, Item, ToSink, ToWorker, Worker, WorkerReport};
use crate::{Config, Progress, RunStats};
use crossbeam_channel::{Sender, bounded};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use wirehouse_flow::{CloseReason, Defragmenter, FlowKey};
use wirehouse_sinks::{Sink, SinkError};
use wirehouse_wire::{DecodeError, ErrorKind, LinkType, decode};

/// How often (in packets read) every worker hears the clock and partial batches go out.
const TICK_PACKETS: u64 = 65_536;

/// How long an announced FTP data endpoint keeps sending its flows to the control
/// connection's worker after it was last used, ns of packet time.
const FTP_ROUTE_NS: i64 = 600_000_000_000;
/// Announced FTP data endpoints remembered at most.
const FTP_ROUTES_MAX: usize = 65_536;

/// What a dispatcher counted.
#[derive(Default)]
pub(crate) struct DispatchCounts {
    pub captured_bytes: u64,
    pub wire_bytes: u64,
    pub flow_packets: u64,
    pub non_ip_packets: u64,
    pub unsupported_linktype_packets: u64,
    pub decode_errors: BTreeMap<DecodeError, u64>,
    /// CPU seconds of the dispatching thread when it finished (see [`crate::CpuSeconds`]).
    pub cpu_seconds: Option<f64>,
}

/// Announced FTP data endpoint → (worker of its control connection, last used).
type RouteMap = HashMap<(IpAddr, u16), (usize, i64), foldhash::fast::RandomState>;

/// The ports of the announced FTP data endpoints, one bit each: a packet neither of
/// whose ports is set cannot go to an announced endpoint, so the common packet is
/// sharded by its hash without building its flow key or looking the map up.
struct PortSet(Box<[std::sync::atomic::AtomicU64]>);

impl Default for PortSet {
    fn default() -> Self {
        PortSet((0..1024).map(|_| Default::default()).collect())
    }
}

impl PortSet {
    fn contains(&self, port: u16) -> bool {
        self.0[usize::from(port >> 6)].load(Ordering::Relaxed) & (1 << (port & 63)) != 0
    }

    /// Sets exactly the ports of `m`'s endpoints. Each word is replaced whole, so a
    /// reader on another thread sees a port's bit either before or after the change.
    fn rebuild(&self, m: &RouteMap) {
        let mut words = vec![0u64; self.0.len()];
        for (_, port) in m.keys() {
            words[usize::from(port >> 6)] |= 1 << (port & 63);
        }
        for (w, v) in self.0.iter().zip(words) {
            if w.load(Ordering::Relaxed) != v {
                w.store(v, Ordering::Relaxed);
            }
        }
    }
}

/// FTP routes shared by the capture threads of a live af-packet run: the kernel often
/// hands a data connection to another ring than its control connection.
#[derive(Default)]
pub(crate) struct SharedRoutes {
    ports: PortSet,
    map: std::sync::Mutex<RouteMap>,
}

/// A dispatcher's FTP routes: its own, or shared (then locked only for a packet to or
/// from an announced port).
enum FtpRoutes {
    Own(RouteMap, PortSet),
    Shared(Arc<SharedRoutes>),
}

impl FtpRoutes {
    /// Whether a packet with these ports may go to an announced data endpoint.
    fn may_route(&self, ports: (u16, u16)) -> bool {
        let set = match self {
            FtpRoutes::Own(_, p) => p,
            FtpRoutes::Shared(s) => &s.ports,
        };
        set.contains(ports.0) || set.contains(ports.1)
    }

    /// Runs `f` on the map; `changes_keys`: `f` may add or remove endpoints (the port
    /// set is then brought up to date).
    fn with<T>(&mut self, changes_keys: bool, f: impl FnOnce(&mut RouteMap) -> T) -> T {
        match self {
            FtpRoutes::Own(m, ports) => {
                let out = f(m);
                if changes_keys {
                    ports.rebuild(m);
                }
                out
            }
            FtpRoutes::Shared(s) => {
                // A poisoned lock only means another capture thread panicked mid-insert;
                // the map itself is still usable.
                let mut m = s.map.lock().unwrap_or_else(|p| p.into_inner());
                let out = f(&mut m);
                if changes_keys {
                    s.ports.rebuild(&m);
                }
                out
            }
        }
    }
}

/// Where a dispatcher's batches for one worker go.
pub(crate) enum Lane {
    /// A worker thread, over a bounded channel.
    Thread(Sender<ToWorker>),
    /// The only worker of a `convert` run, called on the dispatcher's own thread: no
    /// channel, no wake-ups, and packets stay in the cache of the core that read them.
    Inline(Box<Worker>),
}

/// Packets into per-worker batches, by symmetric flow hash.
struct Router {
    /// FTP data endpoints announced on a control connection (PASV/EPSV/PORT/EPRT) → the
    /// control connection's worker and the last time used: the data connection goes to
    /// the same worker, so linking the two never depends on the number of workers.
    ftp: FtpRoutes,
    lanes: Vec<Lane>,
    batches: Vec<Batch>,
    recycle: crossbeam_channel::Receiver<Batch>,
    /// Batches an inline worker handed back.
    spare: Vec<Batch>,
    max_items: usize,
    clock: i64,
    /// Live capture with several reading threads: how long datagrams reassembled here
    /// wait before they go out (see [`Dispatch::hold_reassembled`]).
    hold: Option<std::time::Duration>,
    held: std::collections::VecDeque<(Instant, usize, Item, Vec<u8>)>,
}

/// Reads packets into per-worker batches: minimal decode, IP defragmentation, symmetric
/// flow hash. `convert` has one; a live capture has one per capture thread.
pub(crate) struct Dispatch {
    r: Router,
    defrag: Defragmenter,
    pub counts: DispatchCounts,
}

impl Dispatch {
    pub(crate) fn new(
        txs: Vec<Sender<ToWorker>>,
        recycle: crossbeam_channel::Receiver<Batch>,
        cfg: &Config,
    ) -> Self {
        Self::with_lanes(txs.into_iter().map(Lane::Thread).collect(), recycle, cfg)
    }

    /// A dispatcher whose batches go to `lanes`.
    pub(crate) fn with_lanes(
        lanes: Vec<Lane>,
        recycle: crossbeam_channel::Receiver<Batch>,
        cfg: &Config,
    ) -> Self {
        let n = lanes.len();
        let max_items = cfg.pipeline.batch_packets.max(1);
        Dispatch {
            r: Router {
                ftp: FtpRoutes::Own(RouteMap::default(), PortSet::default()),
                lanes,
                batches: (0..n).map(|_| Batch::with_capacity(max_items)).collect(),
                recycle,
                spare: Vec::new(),
                max_items,
                clock: i64::MIN,
                hold: None,
                held: Default::default(),
            },
            defrag: Defragmenter::new(cfg.defrag.clone()),
            counts: DispatchCounts::default(),
        }
    }

    /// Hands one captured frame of input (or interface) `src` to the worker of its flow.
    pub(crate) fn packet(
        &mut self,
        ts_ns: i64,
        linktype: LinkType,
        data: &[u8],
        wire_len: u32,
        src: u32,
        window: Option<&Arc<wirehouse_capture::mapped::Window>>,
    ) {
        let (r, defrag, counts) = (&mut self.r, &mut self.defrag, &mut self.counts);
        counts.captured_bytes += data.len() as u64;
        counts.wire_bytes += u64::from(wire_len);
        r.clock = r.clock.max(ts_ns);
        // The common packet is sharded from its raw bytes; the worker decodes it.
        if let Some(h) = FlowKey::shard_hint(linktype, data) {
            counts.flow_packets += 1;
            let item = Item::frame(ts_ns, linktype, src);
            // The flow key itself is only built for FTP (control connections announce
            // data endpoints, which are routed by endpoint).
            let control = h.ports.0 == 21 || h.ports.1 == 21;
            let ftp = control || r.ftp.may_route(h.ports);
            let w = match ftp.then(|| FlowKey::hint(linktype, data)).flatten() {
                Some(key) => {
                    if control && let Ok(dec) = decode(linktype, data) {
                        r.note_ftp(&key, dec.payload, ts_ns);
                    }
                    r.pick(&key, ts_ns)
                }
                None => r.shard(h.hash),
            };
            match window.and_then(|win| win.offset_of(data).map(|off| (win, off))) {
                Some((win, off)) => r.push_ref(w, item, win, off, data.len()),
                None => r.push(w, item, data),
            }
            return;
        }
        match decode(linktype, data) {
            Ok(dec) => {
                let item = Item {
                    vlan: dec.vlan_id,
                    ..Item::frame(ts_ns, linktype, src)
                };
                let fed = defrag.feed(ts_ns, data, &dec, |whole, count, datagram| {
                    counts.flow_packets += u64::from(count.packets);
                    r.route(
                        whole,
                        Item { count, ..item },
                        datagram.unwrap_or(data),
                        datagram.is_some(),
                    );
                });
                if let Err((e, frags)) = fed {
                    *counts.decode_errors.entry(e).or_default() += u64::from(frags);
                }
            }
            Err(e) => match e.kind {
                ErrorKind::NotIp(_) => counts.non_ip_packets += 1,
                ErrorKind::UnsupportedLinkType(_) => counts.unsupported_linktype_packets += 1,
                _ => *counts.decode_errors.entry(e).or_default() += 1,
            },
        }
    }

    /// Datagrams still waiting for fragments: their leading parts go to their flows, as
    /// input `src` at the current clock.
    pub(crate) fn finish_defrag(&mut self, src: u32) {
        let (r, defrag, counts) = (&mut self.r, &mut self.defrag, &mut self.counts);
        let last = Item::frame(r.clock, LinkType::Raw, src);
        let finished = defrag.finish(|whole, count, datagram| {
            counts.flow_packets += u64::from(count.packets);
            r.route(
                whole,
                Item { count, ..last },
                datagram.unwrap_or_default(),
                true,
            );
        });
        if let Err((e, frags)) = finished {
            *counts.decode_errors.entry(e).or_default() += u64::from(frags);
        }
    }

    /// Live capture with several reading threads: FTP announcements seen by any of
    /// them route the data connection, whichever thread reads it.
    pub(crate) fn share_ftp_routes(&mut self, routes: Arc<SharedRoutes>) {
        self.r.ftp = FtpRoutes::Shared(routes);
    }

    /// Live capture with several reading threads, each with its own defragmenter: a
    /// flow's fragments may be read by another thread than the rest of the flow (the
    /// kernel hashes IPv6 fragments by address pair only). Datagrams reassembled here
    /// are sent `hold` later, by which time the thread that reads the rest of their flow
    /// has sent what it read before them (threads send at least every tick), so the
    /// worker sees a fragmented DNS answer after its query.
    pub(crate) fn hold_reassembled(&mut self, hold: std::time::Duration) {
        self.r.hold = Some(hold);
    }

    /// Sends every partial batch, and the clock to workers with nothing pending.
    pub(crate) fn tick(&mut self) {
        self.r.release(false);
        self.r.tick();
    }

    /// Moves the clock (live capture: the wall clock) forward.
    pub(crate) fn set_clock(&mut self, ns: i64) {
        self.r.clock = self.r.clock.max(ns);
    }

    /// Sends what is pending; the workers are finished by whoever owns their channels.
    pub(crate) fn done(self) -> (DispatchCounts, wirehouse_flow::DefragStats) {
        let (counts, defrag, _) = self.finish(CloseReason::EndOfInput);
        (counts, defrag)
    }

    /// [`done`](Self::done), and inline workers end their flows with `reason` and
    /// report.
    pub(crate) fn finish(
        mut self,
        reason: CloseReason,
    ) -> (
        DispatchCounts,
        wirehouse_flow::DefragStats,
        Vec<WorkerReport>,
    ) {
        self.r.release(true);
        self.r.tick();
        let mut reports = Vec::new();
        for lane in self.r.lanes.drain(..) {
            if let Lane::Inline(mut w) = lane {
                w.handle(ToWorker::Finish(reason));
                reports.push(w.into_report());
            }
        }
        self.counts.cpu_seconds = crate::cpu::thread_seconds();
        (self.counts, self.defrag.stats(), reports)
    }
}

impl Router {
    /// Appends a packet for worker `w`; `item.start`/`item.len` are filled in here.
    fn push(&mut self, w: usize, mut item: Item, bytes: &[u8]) {
        let b = &mut self.batches[w];
        item.start = b.data.len() as u32;
        item.len = bytes.len() as u32;
        b.data.extend_from_slice(bytes);
        b.items.push(item);
        if b.items.len() >= self.max_items || b.data.len() >= 4 << 20 {
            self.send(w);
        }
    }

    /// Appends a packet whose bytes stay in a memory-mapped window (no copy).
    fn push_ref(
        &mut self,
        w: usize,
        mut item: Item,
        window: &Arc<wirehouse_capture::mapped::Window>,
        offset: usize,
        len: usize,
    ) {
        let b = &mut self.batches[w];
        let known = b.windows.last().is_some_and(|l| Arc::ptr_eq(l, window));
        if !known {
            if b.windows.len() >= usize::from(crate::worker::OWN) {
                self.send(w);
                return self.push_ref(w, item, window, offset, len);
            }
            b.windows.push(window.clone());
        }
        item.window = (b.windows.len() - 1) as u16;
        item.start = offset as u32;
        item.len = len as u32;
        b.items.push(item);
        if b.items.len() >= self.max_items {
            self.send(w);
        }
    }

    fn send(&mut self, w: usize) {
        let fresh = match self.spare.pop() {
            Some(b) => b,
            None => self
                .recycle
                .try_recv()
                .unwrap_or_else(|_| Batch::with_capacity(self.max_items)),
        };
        let mut b = std::mem::replace(&mut self.batches[w], fresh);
        b.clock = self.clock;
        self.deliver(w, ToWorker::Packets(b));
    }

    /// Hands `msg` to worker `w`.
    fn deliver(&mut self, w: usize, msg: ToWorker) {
        match &mut self.lanes[w] {
            // A worker only stops receiving when the run is over.
            Lane::Thread(tx) => {
                let _ = tx.send(msg);
            }
            Lane::Inline(worker) => {
                if let Some(b) = worker.handle(msg) {
                    self.spare.push(b);
                }
            }
        }
    }

    /// Sends a whole packet to the worker that owns its flow. `bytes` is the frame, or
    /// for a reassembled datagram (`raw_ip`) the datagram itself, which travels as raw IP.
    fn route(
        &mut self,
        whole: &wirehouse_wire::Decoded<'_>,
        item: Item,
        bytes: &[u8],
        raw_ip: bool,
    ) {
        let key = FlowKey::of(whole).0;
        self.note_ftp(&key, whole.payload, item.ts);
        let w = self.pick(&key, item.ts);
        let linktype = if raw_ip { LinkType::Raw } else { item.linktype };
        let item = Item { linktype, ..item };
        match self.hold {
            Some(h) if raw_ip => self
                .held
                .push_back((Instant::now() + h, w, item, bytes.to_vec())),
            _ => self.push(w, item, bytes),
        }
    }

    /// Sends the held datagrams whose time has come (all of them when `all`).
    fn release(&mut self, all: bool) {
        let now = Instant::now();
        while let Some((at, ..)) = self.held.front() {
            if !all && *at > now {
                break;
            }
            let (_, w, item, bytes) = self.held.pop_front().expect("front exists");
            self.push(w, item, &bytes);
        }
    }

    /// The worker for a shard hash ([`FlowKey::shard_hash`]): the hash scaled to the
    /// number of workers by a multiply (its high bits), not a division.
    fn shard(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.lanes.len() as u128) >> 64) as usize
    }

    /// The worker that owns a flow.
    fn worker_of(&self, key: &FlowKey) -> usize {
        self.shard(key.shard_hash())
    }

    /// The worker for a packet of `key` at `ts`: its own, or its FTP control
    /// connection's when it goes to an announced data endpoint.
    fn pick(&mut self, key: &FlowKey, ts: i64) -> usize {
        if self.ftp.may_route((key.lo().1, key.hi().1)) {
            let routed = self.ftp.with(false, |m| {
                for ep in [key.lo(), key.hi()] {
                    if let Some(e) = m.get_mut(&ep)
                        && ts.saturating_sub(e.1) < FTP_ROUTE_NS
                    {
                        e.1 = e.1.max(ts);
                        return Some(e.0);
                    }
                }
                None
            });
            if let Some(w) = routed {
                return w;
            }
        }
        self.worker_of(key)
    }

    /// Remembers the data endpoints an FTP control packet announces.
    fn note_ftp(&mut self, key: &FlowKey, payload: &[u8], ts: i64) {
        if self.lanes.len() == 1 || key.proto != 6 || payload.is_empty() {
            return;
        }
        let (server, client) = match (key.lo().1, key.hi().1) {
            (21, _) => (key.lo(), key.hi()),
            (_, 21) => (key.hi(), key.lo()),
            _ => return,
        };
        let mut eps = Vec::new();
        wirehouse_l7::protocols::ftp::parser::announcements(payload, server.0, client.0, &mut eps);
        if eps.is_empty() {
            return;
        }
        let w = self.pick(key, ts);
        self.ftp.with(true, |m| {
            if m.len() + eps.len() > FTP_ROUTES_MAX {
                m.retain(|_, e| ts.saturating_sub(e.1) < FTP_ROUTE_NS);
            }
            for ep in eps {
                if m.len() < FTP_ROUTES_MAX {
                    m.insert(ep, (w, ts));
                }
            }
        });
    }

    /// Sends every partial batch, and the clock to workers with nothing pending.
    fn tick(&mut self) {
        for w in 0..self.lanes.len() {
            if self.batches[w].items.is_empty() {
                self.deliver(w, ToWorker::Tick(self.clock));
            } else {
                self.send(w);
            }
        }
    }
}

/// What the reading side of a run hands back.
pub(crate) struct Fed<T> {
    pub result: T,
    pub counts: Vec<DispatchCounts>,
    pub defrag: Vec<wirehouse_flow::DefragStats>,
    /// How the workers end their open flows.
    pub reason: CloseReason,
    /// Reports of the workers that ran inline (already finished).
    pub inline: Vec<WorkerReport>,
}

/// Runs `n` shard workers and the sink thread around `feed`, which gets one sender per
/// worker and the shared pool of empty batches, reads packets through its dispatcher(s),
/// and returns. Then every worker ends its flows with the reason `feed` gives, and the
/// statistics are gathered. With `inline` and one worker, no worker thread is started:
/// `feed` gets the worker itself, to run on its own thread ([`Lane::Inline`]), and
/// returns its report in [`Fed::inline`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_pipeline<T>(
    cfg: &Config,
    n: usize,
    inline: bool,
    sources: Arc<Vec<Arc<str>>>,
    live: Option<worker::Live>,
    sink: &mut dyn Sink,
    stats: &mut RunStats,
    feed: impl FnOnce(
        &[Sender<ToWorker>],
        &crossbeam_channel::Receiver<Batch>,
        Option<Worker>,
    ) -> Fed<T>,
) -> Result<T, SinkError> {
    stats.workers = n;
    let depth = cfg.pipeline.queue_depth(live.is_some());
    let (fed, worker_reports, sink_result) = std::thread::scope(|s| {
        let (sink_tx, sink_rx) = bounded::<ToSink>(2 * n + 2);
        let sink_thread = s.spawn(move || {
            let mut drain = || {
                loop {
                    match sink_rx.recv_timeout(std::time::Duration::from_millis(200)) {
                        Ok(ToSink::Rows(table, batch)) => sink.write(table, batch)?,
                        // Quiet input (a stream, a live capture): age-based flushes still happen.
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => sink.tick()?,
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                    }
                }
                sink.close()
            };
            let closed = drain();
            (closed, crate::cpu::thread_seconds())
        });
        // Room for every batch that can exist at once (each worker's queue, the one it
        // is on, and the one being filled), so that none is dropped on the way back and
        // the reader never allocates and grows a fresh one.
        let (recycle_tx, recycle_rx) = bounded::<Batch>(n * (depth + 2));
        let mut txs = Vec::new();
        let mut handles = Vec::new();
        // One cross-worker L7 registry per run (FTP control/data linking).
        let shared = Arc::new(wirehouse_l7::Shared::new());
        let inline = (inline && n == 1)
            .then(|| Worker::new(cfg, sources.clone(), sink_tx.clone(), shared.clone(), live));
        let threads = if inline.is_some() { 0 } else { n };
        for _ in 0..threads {
            let (tx, rx) = bounded::<ToWorker>(depth);
            txs.push(tx);
            let (cfg, sources, sink_tx, recycle_tx, shared) = (
                cfg.clone(),
                sources.clone(),
                sink_tx.clone(),
                recycle_tx.clone(),
                shared.clone(),
            );
            handles.push(
                s.spawn(move || worker::run(cfg, sources, rx, sink_tx, recycle_tx, shared, live)),
            );
        }
        drop(sink_tx);
        drop(recycle_tx);
        let mut fed = feed(&txs, &recycle_rx, inline);
        for tx in &txs {
            let _ = tx.send(ToWorker::Finish(fed.reason));
        }
        drop(txs);
        let worker_reports: Vec<WorkerReport> = handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .chain(std::mem::take(&mut fed.inline))
            .collect();
        let sink_result = sink_thread.join().expect("sink thread panicked");
        (fed, worker_reports, sink_result)
    });
    let (sink_result, sink_cpu) = sink_result;
    let readers: Option<f64> = fed.counts.iter().map(|c| c.cpu_seconds).sum();
    stats.cpu_seconds = match (crate::cpu::process_seconds(), readers, sink_cpu) {
        (Some(total), Some(readers), Some(sink)) => {
            let workers: Vec<f64> = worker_reports
                .iter()
                .filter_map(|r| r.cpu_seconds)
                .collect();
            let other = total - readers - workers.iter().sum::<f64>() - sink;
            Some(crate::CpuSeconds {
                total,
                readers,
                workers,
                sink,
                other: other.max(0.0),
            })
        }
        _ => None,
    };
    let mut decode_errors: BTreeMap<DecodeError, u64> = BTreeMap::new();
    for c in fed.counts {
        stats.captured_bytes += c.captured_bytes;
        stats.wire_bytes += c.wire_bytes;
        stats.flow_packets += c.flow_packets;
        stats.non_ip_packets += c.non_ip_packets;
        stats.unsupported_linktype_packets += c.unsupported_linktype_packets;
        for (k, v) in c.decode_errors {
            *decode_errors.entry(k).or_default() += v;
        }
    }
    for d in fed.defrag {
        stats.defrag.add(&d);
    }
    let mut latency: Option<hdrhistogram::Histogram<u64>> = None;
    for r in worker_reports {
        stats.truncated_transport_headers += r.truncated_transport_headers;
        for (k, v) in r.flows_by_reason {
            *stats.flows.entry(k.to_string()).or_default() += v;
        }
        for (k, v) in r.decode_errors {
            *decode_errors.entry(k).or_default() += v;
        }
        let t = &mut stats.reassembly;
        let s = r.reassembly.streams;
        t.streams.retransmits += s.retransmits;
        t.streams.out_of_order += s.out_of_order;
        t.streams.missing_bytes += s.missing_bytes;
        t.streams.gaps += s.gaps;
        t.streams.overlap_conflicts += s.overlap_conflicts;
        t.streams.keepalives += s.keepalives;
        t.streams.delivered_bytes += s.delivered_bytes;
        t.memcap_flushes += r.reassembly.memcap_flushes;
        t.handshakes_past_reset += r.reassembly.handshakes_past_reset;
        for (k, v) in &r.l7 {
            stats.l7.entry(k.to_string()).or_default().add(v);
        }
        if let Some(h) = r.batch_latency_us {
            match latency.as_mut() {
                Some(l) => {
                    let _ = l.add(&h);
                }
                None => latency = Some(h),
            }
        }
    }
    if let Some(h) = latency.filter(|h| !h.is_empty()) {
        stats.batch_latency_us = Some(crate::stats::Latency {
            batches: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        });
    }
    stats.gaps = stats.reassembly.streams.gaps;
    stats.sessions = stats
        .l7
        .iter()
        .map(|(k, v)| (k.clone(), v.sessions))
        .collect();
    for (e, n) in decode_errors {
        *stats.decode_errors.entry(e.counter_name()).or_default() += n;
    }
    let summary = sink_result?;
    stats.rows = summary
        .rows
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    stats.rows_discarded = summary.discarded;
    stats.sink = summary.counters.clone();
    stats.files = summary
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Ok(fed.result)
}

/// Converts `inputs` into tables written to `sink`, with `cfg.pipeline.workers` shard
/// workers. Input damage is reported in the statistics; only a sink failure makes it an
/// error. When `stop` is set, reading stops and every open flow is written with
/// `close_reason = shutdown`.
pub fn convert(
    inputs: &[crate::InputSpec],
    sink: &mut dyn Sink,
    cfg: &Config,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<RunStats, SinkError> {
    let started = Instant::now();
    let mut stats = RunStats::default();
    let planned: Vec<Planned<'_>> = merge::plan(inputs, &mut stats.inputs);
    progress.total(planned.iter().map(|p| p.size).sum());
    let sources: Arc<Vec<Arc<str>>> =
        Arc::new(planned.iter().map(|p| Arc::from(p.spec.name())).collect());
    let n = crate::workers(cfg);
    // One worker runs on the reading thread: the run then uses one core for the
    // packets (and one for the Parquet/ClickHouse encoding), like `--runmode single`.
    let run = |txs: &[Sender<ToWorker>], recycle: &crossbeam_channel::Receiver<Batch>, inline| {
        let lanes = match inline {
            Some(w) => vec![Lane::Inline(Box::new(w))],
            None => txs.iter().cloned().map(Lane::Thread).collect(),
        };
        let mut d = Dispatch::with_lanes(lanes, recycle.clone(), cfg);
        let mut seen = 0u64;
        let reports = merge::for_each_packet(&planned, stop, |src, p, pos| {
            seen += 1;
            d.packet(
                p.ts_ns, p.linktype, p.data, p.wire_len, src as u32, p.window,
            );
            if seen.is_multiple_of(TICK_PACKETS) {
                d.tick();
                progress.update(pos, seen, started.elapsed().as_secs_f64());
            }
        });
        d.finish_defrag(planned.len().saturating_sub(1) as u32);
        let reason = if stop.load(Ordering::Relaxed) {
            CloseReason::Shutdown
        } else {
            CloseReason::EndOfInput
        };
        let (counts, defrag, inline) = d.finish(reason);
        Fed {
            result: reports,
            counts: vec![counts],
            defrag: vec![defrag],
            reason,
            inline,
        }
    };
    let reports = run_pipeline(cfg, n, true, sources, None, sink, &mut stats, run);
    progress.finish();
    stats.inputs.extend(reports?);
    stats.packets = stats.inputs.iter().map(|i| i.packets).sum();
    stats.interrupted = stop.load(Ordering::Relaxed);
    stats.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_set_follows_the_route_map() {
        let set = PortSet::default();
        let mut m = RouteMap::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for port in [0, 63, 64, 40_001, 65_535] {
            m.insert((ip, port), (1, 0));
        }
        set.rebuild(&m);
        for port in [0, 63, 64, 40_001, 65_535] {
            assert!(set.contains(port), "{port}");
        }
        for port in [1, 62, 65, 21, 40_000, 40_002, 65_534] {
            assert!(!set.contains(port), "{port}");
        }
        m.remove(&(ip, 63));
        m.remove(&(ip, 65_535));
        set.rebuild(&m);
        assert!(!set.contains(63) && !set.contains(65_535));
        assert!(set.contains(0) && set.contains(64) && set.contains(40_001));
        let routes = FtpRoutes::Own(m, set);
        assert!(routes.may_route((40_001, 80)) && routes.may_route((80, 64)));
        assert!(!routes.may_route((80, 443)));
    }
}
