//! Run statistics: what was read, decoded, tracked and written (`--stats-json`).

use serde::Serialize;
use std::collections::BTreeMap;

/// What happened to one input.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputReport {
    /// Input name.
    pub file: String,
    /// "pcap" or "pcapng" (empty when it could not be opened).
    pub format: String,
    /// Packets read.
    pub packets: u64,
    /// Error or warning, naming the byte offset.
    pub error: Option<String>,
    /// True when nothing could be read from it (counts toward a non-zero exit status).
    pub unreadable: bool,
    /// True for a file inside a directory that is not a capture (skipped).
    pub skipped: bool,
}

/// One live capture handle (an interface, and for af-packet one worker's ring of it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureReport {
    /// Interface.
    pub interface: String,
    /// "af-packet" or "pcap".
    pub engine: String,
    /// The worker whose ring this is (af-packet).
    pub worker: Option<usize>,
    /// Packets read.
    pub packets: u64,
    /// Packets the kernel accepted for this handle (af-packet: read + dropped).
    pub kernel_packets: u64,
    /// Packets the kernel dropped because the ring or buffer was full.
    pub kernel_drops: u64,
    /// Packets the interface or its driver dropped (pcap).
    pub interface_drops: u64,
    /// Times the ring was full (af-packet).
    pub ring_freezes: u64,
    /// `--save-pcap` files written.
    pub saved_files: Vec<String>,
    /// `--save-pcap` write failures (the analytics go on).
    pub save_pcap_errors: u64,
    /// The first error.
    pub error: Option<String>,
}

/// Distribution of the time a worker spent on one batch, microseconds (hdrhistogram).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Batches measured.
    pub batches: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

/// Where the CPU went, in seconds of each thread's CPU clock (Linux).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuSeconds {
    /// The whole process, start-up included, at the end of the run.
    pub total: f64,
    /// The threads that read packets and dispatch them (offline: the main thread, which
    /// with one worker also runs that worker; live: one per ring or interface).
    pub readers: f64,
    /// Each shard worker that ran on a thread of its own.
    pub workers: Vec<f64>,
    /// The sink's thread (with one worker it also encodes the Parquet columns).
    pub sink: f64,
    /// The rest: the Parquet column-encoding threads, and start-up and exit outside
    /// the threads above.
    pub other: f64,
}

/// The run summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunStats {
    /// Per input.
    pub inputs: Vec<InputReport>,
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub captured_bytes: u64,
    /// Bytes on the wire of the packets read.
    pub wire_bytes: u64,
    /// Packets that could not be decoded, by layer and reason.
    pub decode_errors: BTreeMap<String, u64>,
    /// Packets that are not IP (ARP, LLDP, STP, ...), counted, not tracked.
    pub non_ip_packets: u64,
    /// Packets of a link type wirehouse does not decode.
    pub unsupported_linktype_packets: u64,
    /// IP defragmentation: fragments, datagrams reassembled, and every fragment that
    /// could not be used (overlaps, timeouts, caps).
    pub defrag: wirehouse_flow::DefragStats,
    /// Packets whose TCP/UDP header was cut by the snapshot length (kept: ports known).
    pub truncated_transport_headers: u64,
    /// Packets accounted to a flow.
    pub flow_packets: u64,
    /// Flows written, by close reason.
    pub flows: BTreeMap<String, u64>,
    /// Sessions written, by protocol.
    pub sessions: BTreeMap<String, u64>,
    /// Application-protocol counters (flows recognised, requests, responses, timeouts,
    /// parse errors...), by protocol.
    pub l7: BTreeMap<String, wirehouse_l7::ProtocolStats>,
    /// Stream gaps (TCP bytes never captured, given up on).
    pub gaps: u64,
    /// TCP reassembly counters summed over all flows.
    pub reassembly: wirehouse_flow::ReassemblyTotals,
    /// Rows written per table (counted and dropped when `rows_discarded`).
    pub rows: BTreeMap<String, u64>,
    /// True when the sink stored nothing (`-o null`): `rows` were counted, not written.
    pub rows_discarded: bool,
    /// Sink outcomes (ClickHouse: inserted, retries, spooled, replayed, dead letters...).
    pub sink: BTreeMap<String, u64>,
    /// Files written.
    pub files: Vec<String>,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
    /// Shard workers used.
    pub workers: usize,
    /// Per-batch processing time in the workers.
    pub batch_latency_us: Option<Latency>,
    /// True when the run was stopped by a signal (open flows written as `shutdown`).
    pub interrupted: bool,
    /// Live capture: per interface (and ring), packets and kernel drop counters.
    pub capture: Vec<CaptureReport>,
    /// CPU seconds by thread (`None` where the thread clocks are not read).
    pub cpu_seconds: Option<CpuSeconds>,
}

impl RunStats {
    /// Inputs that could not be read at all.
    pub fn unreadable_inputs(&self) -> usize {
        self.inputs.iter().filter(|i| i.unreadable).count()
    }

    /// A few human-readable lines for stderr.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let secs = self.elapsed_seconds.max(1e-9);
        let opened = self.inputs.iter().filter(|i| !i.skipped).count();
        s.push_str(&format!(
            "read {} packets ({:.1} MB captured) from {} input(s) in {:.2} s ({:.0} packets/s)\n",
            self.packets,
            self.captured_bytes as f64 / 1e6,
            opened,
            self.elapsed_seconds,
            self.packets as f64 / secs
        ));
        let flows: u64 = self.flows.values().sum();
        s.push_str(&format!("flows: {flows}{}\n", in_parens(&self.flows)));
        let errs: u64 = self.decode_errors.values().sum();
        s.push_str(&format!(
            "not tracked: {} non-IP, {} decode errors{}, {} unsupported link type, {} fragments not reassembled\n",
            self.non_ip_packets,
            errs,
            in_parens(&self.decode_errors),
            self.unsupported_linktype_packets,
            self.defrag.lost_fragments + self.defrag.invalid_fragments
        ));
        let r = &self.reassembly.streams;
        s.push_str(&format!(
            "tcp reassembly: {} bytes delivered, {} retransmissions, {} out of order, {} gaps ({} bytes missing), {} overlap conflicts\n",
            r.delivered_bytes, r.retransmits, r.out_of_order, r.gaps, r.missing_bytes, r.overlap_conflicts
        ));
        if !self.l7.is_empty() {
            let parts: Vec<String> = self
                .l7
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k} {} sessions ({} flows, {} timeouts, {} parse errors)",
                        v.sessions, v.flows, v.timeouts, v.parse_errors
                    )
                })
                .collect();
            s.push_str(&format!("l7: {}\n", parts.join("; ")));
        }
        if self.defrag.fragments > 0 {
            s.push_str(&format!("defrag: {}\n", defrag_line(&self.defrag)));
        }
        let skipped: Vec<&InputReport> = self.inputs.iter().filter(|i| i.skipped).collect();
        if !skipped.is_empty() {
            let names: Vec<&str> = skipped.iter().take(5).map(|i| i.file.as_str()).collect();
            let more = skipped.len().saturating_sub(names.len());
            s.push_str(&format!(
                "skipped {} file(s) in directories that are not captures: {}{}\n",
                skipped.len(),
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        for i in self.inputs.iter().filter(|i| !i.skipped) {
            if let Some(e) = &i.error {
                s.push_str(&format!(
                    "{}: {e}\n",
                    if i.unreadable { "error" } else { "warning" }
                ));
            }
        }
        if let Some(l) = self.batch_latency_us {
            s.push_str(&format!(
                "{} worker(s); batch latency us: p50 {} p90 {} p99 {} max {} over {} batches\n",
                self.workers, l.p50, l.p90, l.p99, l.max, l.batches
            ));
        }
        for c in &self.capture {
            let ring = c.worker.map(|w| format!(" ring {w}")).unwrap_or_default();
            s.push_str(&format!(
                "capture {} ({}{ring}): {} packets read; kernel: {} received, {} dropped{}{}\n",
                c.interface,
                c.engine,
                c.packets,
                c.kernel_packets,
                c.kernel_drops,
                if c.interface_drops > 0 {
                    format!(", {} dropped by the interface", c.interface_drops)
                } else {
                    String::new()
                },
                if c.saved_files.is_empty() && c.save_pcap_errors == 0 {
                    String::new()
                } else {
                    format!(
                        "; saved to {} pcap file(s), {} write error(s)",
                        c.saved_files.len(),
                        c.save_pcap_errors
                    )
                },
            ));
            if let Some(e) = &c.error {
                s.push_str(&format!("capture {}: error: {e}\n", c.interface));
            }
        }
        if let Some(c) = &self.cpu_seconds {
            let workers: Vec<String> = c.workers.iter().map(|w| format!("{w:.2}")).collect();
            s.push_str(&format!(
                "cpu seconds: {:.2} in all; reading and dispatch {:.2}{}, sink {:.2}, other {:.2}\n",
                c.total,
                c.readers,
                if workers.is_empty() {
                    " (with the worker)".to_string()
                } else {
                    format!(", workers {}", workers.join(" "))
                },
                c.sink,
                c.other
            ));
        }
        if self.interrupted {
            s.push_str(
                "interrupted: reading stopped, open flows written with close_reason = shutdown\n",
            );
        }
        let rows = if self.rows_discarded {
            "rows counted, not stored"
        } else {
            "rows written"
        };
        s.push_str(&format!("{rows}: {}\n", counts(&self.rows)));
        if !self.sink.is_empty() {
            s.push_str(&format!("sink: {}\n", counts(&self.sink)));
        }
        s
    }
}

/// `a 1, b 2` for the summary lines (`none` when empty).
fn counts(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".to_string();
    }
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
    parts.join(", ")
}

/// ` (a 1, b 2)` after a total, or nothing when there is nothing to break down.
fn in_parens(m: &BTreeMap<String, u64>) -> String {
    if m.values().all(|&v| v == 0) {
        String::new()
    } else {
        format!(" ({})", counts(m))
    }
}

/// Fragments and datagrams reassembled, then every other defrag counter that is not zero.
fn defrag_line(d: &wirehouse_flow::DefragStats) -> String {
    let mut s = String::new();
    for (i, (n, what)) in d
        .counters()
        .into_iter()
        .zip(wirehouse_flow::DefragStats::WHAT)
        .enumerate()
    {
        if i < 2 || n > 0 {
            s.push_str(&format!("{}{n} {what}", if i == 0 { "" } else { ", " }));
        }
    }
    s
}
