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

    /// The summary's error lines only (inputs that could not be read, capture handles
    /// that failed): what `--quiet` prints.
    pub fn errors(&self) -> String {
        let inputs = self.inputs.iter().filter(|i| i.unreadable && !i.skipped);
        let captures = self.capture.iter().map(capture_error);
        inputs.map(input_problem).chain(captures).collect()
    }

    /// A few human-readable lines for stderr.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let secs = self.elapsed_seconds.max(1e-9);
        let opened = self.inputs.iter().filter(|i| !i.skipped).count();
        s.push_str(&format!(
            "read {} ({:.1} MB captured) from {} in {:.2} s ({:.0} packets/s)\n",
            counted(self.packets, "packet", "packets"),
            self.captured_bytes as f64 / 1e6,
            counted(opened as u64, "input", "inputs"),
            self.elapsed_seconds,
            self.packets as f64 / secs
        ));
        let flows: u64 = self.flows.values().sum();
        s.push_str(&format!("flows: {flows}{}\n", in_parens(&self.flows)));
        let errs: u64 = self.decode_errors.values().sum();
        s.push_str(&format!(
            "not tracked: {} non-IP, {}{}, {} unsupported link type, {}\n",
            self.non_ip_packets,
            counted(errs, "decode error", "decode errors"),
            in_parens(&self.decode_errors),
            self.unsupported_linktype_packets,
            counted(
                self.defrag.lost_fragments + self.defrag.invalid_fragments,
                "fragment not reassembled",
                "fragments not reassembled"
            )
        ));
        let r = &self.reassembly.streams;
        s.push_str(&format!(
            "tcp reassembly: {}, {}, {} out of order, {} ({}), {}\n",
            counted(r.delivered_bytes, "byte delivered", "bytes delivered"),
            counted(r.retransmits, "retransmission", "retransmissions"),
            r.out_of_order,
            counted(r.gaps, "gap", "gaps"),
            counted(r.missing_bytes, "byte missing", "bytes missing"),
            counted(r.overlap_conflicts, "overlap conflict", "overlap conflicts")
        ));
        let past = self.reassembly.handshakes_past_reset;
        if past > 0 {
            s.pop();
            s.push_str(&format!(
                ", {} past a reset\n",
                counted(past, "handshake", "handshakes")
            ));
        }
        if !self.l7.is_empty() {
            let parts: Vec<String> = self
                .l7
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k} {} ({}, {}, {})",
                        counted(v.sessions, "session", "sessions"),
                        counted(v.flows, "flow", "flows"),
                        counted(v.timeouts, "timeout", "timeouts"),
                        counted(v.parse_errors, "parse error", "parse errors")
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
                "skipped {} in directories that are not captures: {}{}\n",
                counted(skipped.len() as u64, "file", "files"),
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        for i in self.inputs.iter().filter(|i| !i.skipped) {
            s.push_str(&input_problem(i));
        }
        if let Some(l) = self.batch_latency_us {
            s.push_str(&format!(
                "{}; batch latency us: p50 {} p90 {} p99 {} max {} over {}\n",
                counted(self.workers as u64, "worker", "workers"),
                l.p50,
                l.p90,
                l.p99,
                l.max,
                counted(l.batches, "batch", "batches")
            ));
        }
        for c in &self.capture {
            let ring = c.worker.map(|w| format!(" ring {w}")).unwrap_or_default();
            s.push_str(&format!(
                "capture {} ({}{ring}): {} read; kernel: {} received, {} dropped{}{}\n",
                c.interface,
                c.engine,
                counted(c.packets, "packet", "packets"),
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
                        "; saved to {}, {}",
                        counted(c.saved_files.len() as u64, "pcap file", "pcap files"),
                        counted(c.save_pcap_errors, "write error", "write errors")
                    )
                },
            ));
            s.push_str(&capture_error(c));
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

/// `error: ...` for an input that could not be read, `warning: ...` for one damaged after
/// its start (its packets before the damage kept), nothing for an input read whole.
fn input_problem(i: &InputReport) -> String {
    match &i.error {
        Some(e) if i.unreadable => format!("error: {e}\n"),
        Some(e) => format!("warning: {e}\n"),
        None => String::new(),
    }
}

/// `capture IFACE: error: ...` for a capture handle that failed, or nothing.
fn capture_error(c: &CaptureReport) -> String {
    c.error
        .as_ref()
        .map(|e| format!("capture {}: error: {e}\n", c.interface))
        .unwrap_or_default()
}

/// `1 packet` or `2 packets`: a count and what it counts, singular for exactly one.
pub fn counted(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
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
    for (i, (count, (one, many))) in d
        .counters()
        .into_iter()
        .zip(wirehouse_flow::DefragStats::WHAT)
        .enumerate()
    {
        if i < 2 || count > 0 {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&counted(count, one, many));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run where every count is `k`: packets, inputs, decode errors, fragments,
    /// reassembly counters, sessions, workers, batches, captured packets and saved files.
    fn every_count(k: u64) -> RunStats {
        let mut s = RunStats {
            packets: k,
            inputs: (0..k)
                .map(|i| InputReport {
                    file: format!("in{i}.pcap"),
                    ..Default::default()
                })
                .collect(),
            workers: k as usize,
            elapsed_seconds: 1.0,
            batch_latency_us: Some(Latency {
                batches: k,
                ..Default::default()
            }),
            ..Default::default()
        };
        s.decode_errors.insert("ipv4_malformed".into(), k);
        s.defrag.fragments = k;
        s.defrag.reassembled = k;
        s.defrag.lost_fragments = k;
        let r = &mut s.reassembly.streams;
        r.delivered_bytes = k;
        r.retransmits = k;
        r.gaps = k;
        r.missing_bytes = k;
        r.overlap_conflicts = k;
        s.l7.insert(
            "http".into(),
            wirehouse_l7::ProtocolStats {
                sessions: k,
                flows: k,
                timeouts: k,
                parse_errors: k,
                ..Default::default()
            },
        );
        s.capture.push(CaptureReport {
            interface: "veth0".into(),
            engine: "pcap".into(),
            packets: k,
            kernel_packets: k,
            saved_files: (0..k).map(|i| format!("s{i}.pcap")).collect(),
            save_pcap_errors: k,
            ..Default::default()
        });
        s
    }

    /// A count of exactly one takes the singular ("1 decode error"); any other count,
    /// zero included, the plural.
    #[test]
    fn summary_counts_one_in_the_singular() {
        let want = [
            (
                0,
                "read 0 packets (0.0 MB captured) from 0 inputs in 1.00 s (0 packets/s)",
            ),
            (
                1,
                "read 1 packet (0.0 MB captured) from 1 input in 1.00 s (1 packets/s)",
            ),
            (
                2,
                "read 2 packets (0.0 MB captured) from 2 inputs in 1.00 s (2 packets/s)",
            ),
            (
                0,
                "not tracked: 0 non-IP, 0 decode errors, 0 unsupported link type, \
                 0 fragments not reassembled",
            ),
            (
                1,
                "not tracked: 0 non-IP, 1 decode error (ipv4_malformed 1), \
                 0 unsupported link type, 1 fragment not reassembled",
            ),
            (
                1,
                "tcp reassembly: 1 byte delivered, 1 retransmission, 0 out of order, \
                 1 gap (1 byte missing), 1 overlap conflict",
            ),
            (
                2,
                "tcp reassembly: 2 bytes delivered, 2 retransmissions, 0 out of order, \
                 2 gaps (2 bytes missing), 2 overlap conflicts",
            ),
            (1, "l7: http 1 session (1 flow, 1 timeout, 1 parse error)"),
            (
                0,
                "l7: http 0 sessions (0 flows, 0 timeouts, 0 parse errors)",
            ),
            (
                1,
                "defrag: 1 fragment, 1 datagram reassembled, 1 fragment of an unknown flow lost",
            ),
            (
                2,
                "defrag: 2 fragments, 2 datagrams reassembled, 2 fragments of unknown flows lost",
            ),
            (
                1,
                "1 worker; batch latency us: p50 0 p90 0 p99 0 max 0 over 1 batch",
            ),
            (
                2,
                "2 workers; batch latency us: p50 0 p90 0 p99 0 max 0 over 2 batches",
            ),
            (
                1,
                "capture veth0 (pcap): 1 packet read; kernel: 1 received, 0 dropped; \
                 saved to 1 pcap file, 1 write error",
            ),
            (
                2,
                "capture veth0 (pcap): 2 packets read; kernel: 2 received, 0 dropped; \
                 saved to 2 pcap files, 2 write errors",
            ),
        ];
        for (k, line) in want {
            let summary = every_count(k).summary();
            assert!(
                summary.lines().any(|l| l == line),
                "{line}\nnot in:\n{summary}"
            );
        }
    }
}
