//! Shard workers: each owns a flow table (with its reassembly) and its Arrow builders,
//! shares nothing, and receives packets in batches from the dispatcher.

use crate::Config;
use crossbeam_channel::{Receiver, Sender};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use wirehouse_flow::{CloseReason, FlowBuilder, FlowRow, FlowTable, PacketCount, ReassemblyTotals};
use wirehouse_l7::{L7Builder, L7Engine, L7Row, L7Stats, Shared};
use wirehouse_schema::TableDef;
use wirehouse_wire::{DecodeError, LinkType, decode};

/// One packet in a batch: where its bytes are and what it stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub ts: i64,
    pub linktype: LinkType,
    pub start: u32,
    pub len: u32,
    pub source: u32,
    /// Index of the memory-mapped window in [`Batch::windows`] holding the bytes, or
    /// [`OWN`] when they are in [`Batch::data`].
    pub window: u16,
    /// Reassembled datagrams (linktype Raw) carry their fragments' count and VLAN.
    pub count: PacketCount,
    pub vlan: u16,
}

impl Item {
    /// A whole frame read at `ts` from input `source`; its bytes and counts are filled
    /// in when it is pushed (a whole frame counts as itself).
    pub(crate) fn frame(ts: i64, linktype: LinkType, source: u32) -> Self {
        let count = PacketCount {
            packets: 1,
            ip_bytes: 0,
            fragments: 0,
        };
        Item {
            ts,
            linktype,
            start: 0,
            len: 0,
            source,
            window: OWN,
            count,
            vlan: 0,
        }
    }
}

/// [`Item::window`] of bytes copied into the batch.
pub(crate) const OWN: u16 = u16::MAX;

/// Packets for one worker, with the dispatcher's clock when the batch was sent: every
/// packet of this worker's flows up to that time is in this batch or an earlier one.
/// Bytes are copied into `data`, or, read from a memory-mapped file, referenced in their
/// window (held here until the batch is processed).
#[derive(Default)]
pub(crate) struct Batch {
    pub data: Vec<u8>,
    pub windows: Vec<Arc<wirehouse_capture::mapped::Window>>,
    pub items: Vec<Item>,
    pub clock: i64,
}

/// How many packets ahead of the one being handled a worker prefetches.
const PREFETCH_AHEAD: usize = 4;

impl Batch {
    /// An empty batch with room for `items` packets.
    pub(crate) fn with_capacity(items: usize) -> Self {
        Batch {
            items: Vec::with_capacity(items),
            ..Batch::default()
        }
    }

    /// The bytes of `it`.
    fn bytes(&self, it: &Item) -> &[u8] {
        let all = match it.window {
            OWN => &self.data[..],
            w => self.windows[w as usize].bytes(),
        };
        &all[it.start as usize..(it.start + it.len) as usize]
    }
}

/// Messages to a worker.
pub(crate) enum ToWorker {
    Packets(Batch),
    /// Only the clock moved.
    Tick(i64),
    /// End every flow with this reason, flush, and report.
    Finish(CloseReason),
}

/// Messages to the sink thread.
pub(crate) enum ToSink {
    Rows(&'static TableDef, arrow_array::RecordBatch),
}

/// What a worker did.
#[derive(Default)]
pub(crate) struct WorkerReport {
    pub truncated_transport_headers: u64,
    pub flows_by_reason: BTreeMap<&'static str, u64>,
    pub reassembly: ReassemblyTotals,
    pub decode_errors: BTreeMap<DecodeError, u64>,
    pub batch_latency_us: Option<Histogram<u64>>,
    pub l7: L7Stats,
    /// CPU seconds of the worker's own thread when it finished; `None` for a worker
    /// that ran inline ([`crate::run::Lane::Inline`]: its CPU is the dispatcher's).
    pub cpu_seconds: Option<f64>,
}

/// Live capture: rows go out on time, not only when a batch is full.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live {
    /// Partial record batches go to the sink at least this often.
    pub flush: std::time::Duration,
    /// Flows with traffic get a `close_reason = active` row at least this often (ns; 0 = never).
    pub active_ns: i64,
}

/// One shard worker's state: its flow table (with reassembly and the L7 engine), its
/// Arrow builders, and what it reports. Driven by [`run`] on a thread of its own, or
/// called directly by the dispatcher when the run has one worker (see
/// [`crate::run::Lane::Inline`]).
pub(crate) struct Worker {
    table: FlowTable<L7Engine>,
    builder: FlowBuilder,
    sessions: L7Builder,
    report: WorkerReport,
    hist: Option<Histogram<u64>>,
    rows: Vec<FlowRow>,
    sources: Arc<Vec<Arc<str>>>,
    sink: Sender<ToSink>,
    batch_rows: usize,
    live: Option<Live>,
    last_flush: Instant,
    last_active: i64,
}

impl Worker {
    /// `shared` is the run's one cross-worker L7 registry (FTP data connections land on
    /// any worker): the only thing workers share.
    pub(crate) fn new(
        cfg: &Config,
        sources: Arc<Vec<Arc<str>>>,
        sink: Sender<ToSink>,
        shared: Arc<Shared>,
        live: Option<Live>,
    ) -> Self {
        let batch_rows = cfg.output.batch_rows.max(1);
        Worker {
            table: FlowTable::with_handler(
                cfg.flow.clone(),
                L7Engine::with_shared(cfg.l7.clone(), shared),
            ),
            builder: FlowBuilder::with_capacity(batch_rows.min(1 << 16)),
            sessions: L7Builder::with_capacity(batch_rows.min(1 << 12)),
            report: WorkerReport::default(),
            hist: Histogram::<u64>::new(3).ok(),
            rows: Vec::new(),
            sources,
            sink,
            batch_rows,
            live,
            last_flush: Instant::now(),
            last_active: i64::MIN,
        }
    }

    /// Handles one message; hands back the emptied batch of a `Packets` message for
    /// reuse.
    pub(crate) fn handle(&mut self, msg: ToWorker) -> Option<Batch> {
        match msg {
            ToWorker::Packets(mut b) => {
                let t0 = Instant::now();
                self.packets(&b);
                self.table.advance(b.clock, &mut |r| self.rows.push(r));
                let force = self.on_time();
                self.flush(force);
                if let Some(h) = self.hist.as_mut() {
                    let _ = h.record(t0.elapsed().as_micros() as u64);
                }
                b.data.clear();
                b.windows.clear();
                b.items.clear();
                Some(b)
            }
            ToWorker::Tick(clock) => {
                self.table.advance(clock, &mut |r| self.rows.push(r));
                let force = self.on_time();
                self.flush(force);
                None
            }
            ToWorker::Finish(reason) => {
                self.table.drain(reason, &mut |r| self.rows.push(r));
                self.flush(true);
                None
            }
        }
    }

    fn packets(&mut self, b: &Batch) {
        let (table, rows, report) = (&mut self.table, &mut self.rows, &mut self.report);
        for (i, it) in b.items.iter().enumerate() {
            // The packet a few ahead was read by another thread (or long enough ago to
            // have left this core's cache): start loading its headers now.
            if let Some(ahead) = b.items.get(i + PREFETCH_AHEAD) {
                wirehouse_capture::mapped::prefetch(b.bytes(ahead), 0);
            }
            let bytes = b.bytes(it);
            match decode(it.linktype, bytes) {
                Ok(mut d) => {
                    // A whole frame stands for itself; a reassembled datagram (raw IP)
                    // for its fragments, with the first one's VLAN.
                    let count = if it.count.fragments > 0 {
                        d.vlan_id = it.vlan;
                        it.count
                    } else {
                        PacketCount {
                            packets: 1,
                            ip_bytes: u64::from(d.ip.wire_len),
                            fragments: 0,
                        }
                    };
                    report.truncated_transport_headers += u64::from(d.l4_truncated);
                    table.process_counted(
                        it.ts,
                        &d,
                        &self.sources[it.source as usize],
                        count,
                        &mut |r| rows.push(r),
                    );
                }
                Err(e) => *report.decode_errors.entry(e).or_default() += 1,
            }
        }
    }

    /// Live: partial batches leave on time (returns whether they should now), and long
    /// flows report themselves.
    fn on_time(&mut self) -> bool {
        let Some(l) = self.live else {
            return false;
        };
        let now = self.table.now_ns();
        if l.active_ns > 0 {
            if self.last_active == i64::MIN {
                self.last_active = now;
            } else if now.saturating_sub(self.last_active) >= l.active_ns {
                self.last_active = now;
                let rows = &mut self.rows;
                self.table
                    .report_active(now, l.active_ns, &mut |r| rows.push(r));
            }
        }
        if self.last_flush.elapsed() >= l.flush {
            self.last_flush = Instant::now();
            return true;
        }
        false
    }

    /// Appends the finished rows to the builders and sends full batches (every
    /// non-empty one when `force`) to the sink.
    fn flush(&mut self, force: bool) {
        for r in self.rows.drain(..) {
            *self
                .report
                .flows_by_reason
                .entry(r.close_reason)
                .or_default() += 1;
            self.builder.append(&r);
        }
        for r in self.table.handler_mut().take_rows() {
            self.sessions.append(&r);
        }
        // A closed sink channel means the sink failed; the run reports that error.
        if self.builder.len() >= self.batch_rows || (force && !self.builder.is_empty()) {
            let _ = self
                .sink
                .send(ToSink::Rows(&FlowRow::TABLE, self.builder.finish()));
        }
        if self.sessions.len() >= self.batch_rows || (force && !self.sessions.is_empty()) {
            let _ = self
                .sink
                .send(ToSink::Rows(&L7Row::TABLE, self.sessions.finish()));
        }
    }

    /// What the worker did, once its flows are ended.
    pub(crate) fn into_report(mut self) -> WorkerReport {
        self.report.reassembly = self.table.reassembly_totals();
        self.report.l7 = self.table.handler_mut().stats();
        self.report.batch_latency_us = self.hist;
        self.report
    }
}

/// A worker on a thread of its own, fed by `rx` until it is told to finish.
pub(crate) fn run(
    cfg: Config,
    sources: Arc<Vec<Arc<str>>>,
    rx: Receiver<ToWorker>,
    sink: Sender<ToSink>,
    recycle: Sender<Batch>,
    shared: Arc<Shared>,
    live: Option<Live>,
) -> WorkerReport {
    let mut w = Worker::new(&cfg, sources, sink, shared, live);
    for msg in rx {
        let finish = matches!(msg, ToWorker::Finish(_));
        if let Some(b) = w.handle(msg) {
            let _ = recycle.try_send(b);
        }
        if finish {
            break;
        }
    }
    WorkerReport {
        cpu_seconds: crate::cpu::thread_seconds(),
        ..w.into_report()
    }
}
