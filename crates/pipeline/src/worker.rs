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

impl Batch {
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
}

/// Live capture: rows go out on time, not only when a batch is full.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live {
    /// Partial record batches go to the sink at least this often.
    pub flush: std::time::Duration,
    /// Flows with traffic get a `close_reason = active` row at least this often (ns; 0 = never).
    pub active_ns: i64,
}

pub(crate) fn run(
    cfg: Config,
    sources: Arc<Vec<Arc<str>>>,
    rx: Receiver<ToWorker>,
    sink: Sender<ToSink>,
    recycle: Sender<Batch>,
    shared: Arc<Shared>,
    live: Option<Live>,
) -> WorkerReport {
    // `shared` is the run's one cross-worker L7 registry (FTP data connections land on
    // any worker): the only thing workers share.
    let mut table = FlowTable::with_handler(
        cfg.flow.clone(),
        L7Engine::with_shared(cfg.l7.clone(), shared),
    );
    let batch_rows = cfg.output.batch_rows.max(1);
    let mut builder = FlowBuilder::with_capacity(batch_rows.min(1 << 16));
    let mut sessions = L7Builder::with_capacity(batch_rows.min(1 << 12));
    let mut report = WorkerReport::default();
    let mut hist = Histogram::<u64>::new(3).ok();
    let mut rows: Vec<FlowRow> = Vec::new();
    let flush = |table: &mut FlowTable<L7Engine>,
                 builder: &mut FlowBuilder,
                 sessions: &mut L7Builder,
                 rows: &mut Vec<FlowRow>,
                 report: &mut WorkerReport,
                 force: bool| {
        for r in rows.drain(..) {
            *report.flows_by_reason.entry(r.close_reason).or_default() += 1;
            builder.append(&r);
        }
        for r in table.handler_mut().take_rows() {
            sessions.append(&r);
        }
        // A closed sink channel means the sink failed; the run reports that error.
        if builder.len() >= batch_rows || (force && !builder.is_empty()) {
            let _ = sink.send(ToSink::Rows(&FlowRow::TABLE, builder.finish()));
        }
        if sessions.len() >= batch_rows || (force && !sessions.is_empty()) {
            let _ = sink.send(ToSink::Rows(&L7Row::TABLE, sessions.finish()));
        }
    };
    let mut last_flush = Instant::now();
    let mut last_active = i64::MIN;
    // Live: partial batches leave on time, and long flows report themselves.
    let mut on_time = |table: &mut FlowTable<L7Engine>, rows: &mut Vec<FlowRow>| -> bool {
        let Some(l) = live else {
            return false;
        };
        let now = table.now_ns();
        if l.active_ns > 0 {
            if last_active == i64::MIN {
                last_active = now;
            } else if now.saturating_sub(last_active) >= l.active_ns {
                last_active = now;
                table.report_active(now, l.active_ns, &mut |r| rows.push(r));
            }
        }
        if last_flush.elapsed() >= l.flush {
            last_flush = Instant::now();
            return true;
        }
        false
    };
    for msg in rx {
        match msg {
            ToWorker::Packets(mut b) => {
                let t0 = Instant::now();
                for it in &b.items {
                    let bytes = b.bytes(it);
                    match decode(it.linktype, bytes) {
                        Ok(mut d) => {
                            // A whole frame stands for itself; a reassembled datagram
                            // (raw IP) for its fragments, with the first one's VLAN.
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
                                &sources[it.source as usize],
                                count,
                                &mut |r| rows.push(r),
                            );
                        }
                        Err(e) => *report.decode_errors.entry(e).or_default() += 1,
                    }
                }
                table.advance(b.clock, &mut |r| rows.push(r));
                let force = on_time(&mut table, &mut rows);
                flush(
                    &mut table,
                    &mut builder,
                    &mut sessions,
                    &mut rows,
                    &mut report,
                    force,
                );
                if let Some(h) = hist.as_mut() {
                    let _ = h.record(t0.elapsed().as_micros() as u64);
                }
                b.data.clear();
                b.windows.clear();
                b.items.clear();
                let _ = recycle.try_send(b);
            }
            ToWorker::Tick(clock) => {
                table.advance(clock, &mut |r| rows.push(r));
                let force = on_time(&mut table, &mut rows);
                flush(
                    &mut table,
                    &mut builder,
                    &mut sessions,
                    &mut rows,
                    &mut report,
                    force,
                );
            }
            ToWorker::Finish(reason) => {
                table.drain(reason, &mut |r| rows.push(r));
                flush(
                    &mut table,
                    &mut builder,
                    &mut sessions,
                    &mut rows,
                    &mut report,
                    true,
                );
                break;
            }
        }
    }
    report.reassembly = table.reassembly_totals();
    report.l7 = table.handler_mut().stats();
    report.batch_latency_us = hist;
    report
}
