//! Inputs as one trace: files are opened in the order of their first packet's time and
//! merged by packet time (a k-way merge over the files whose time ranges overlap; a file
//! is opened when the merge reaches its first packet and closed when it ends), so flows
//! that span files stay one flow. Standard input is read first.

use crate::{InputReport, InputSpec};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use wirehouse_capture::{CaptureError, LinkType, Packet, PacketSource};

/// An input ready to be merged.
pub(crate) struct Planned<'a> {
    pub spec: &'a InputSpec,
    pub first_ts: Option<i64>,
    pub size: u64,
}

fn open(spec: &InputSpec) -> Result<Box<dyn PacketSource>, CaptureError> {
    match spec {
        InputSpec::File { path, .. } => wirehouse_capture::open(path),
        InputSpec::Stdin => wirehouse_capture::open_stdin(),
    }
}

/// The report for an input that could not be opened.
pub(crate) fn open_error(spec: &InputSpec, e: CaptureError) -> InputReport {
    let explicit = !matches!(
        spec,
        InputSpec::File {
            explicit: false,
            ..
        }
    );
    let empty = matches!(e, CaptureError::Empty { .. });
    let not_capture = matches!(e, CaptureError::NotACapture { .. });
    InputReport {
        file: spec.name(),
        error: Some(e.to_string()),
        // A zero-length file is fine; a non-capture inside a directory is skipped.
        unreadable: !empty && (explicit || !not_capture),
        skipped: !explicit && not_capture,
        ..Default::default()
    }
}

/// Opens each file once to learn its first timestamp; unopenable inputs are reported.
pub(crate) fn plan<'a>(
    inputs: &'a [InputSpec],
    reports: &mut Vec<InputReport>,
) -> Vec<Planned<'a>> {
    let mut out = Vec::new();
    for spec in inputs {
        match spec {
            InputSpec::File { path, .. } => match wirehouse_capture::open(path) {
                Ok(mut src) => {
                    let first_ts = src.next_packet().ok().flatten().map(|p| p.ts_ns);
                    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                    out.push(Planned {
                        spec,
                        first_ts,
                        size,
                    });
                }
                Err(e) => reports.push(open_error(spec, e)),
            },
            InputSpec::Stdin => out.push(Planned {
                spec,
                first_ts: Some(i64::MIN),
                size: 0,
            }),
        }
    }
    out.sort_by_key(|p| p.first_ts.unwrap_or(i64::MAX));
    out
}

/// One open input with its current packet copied out.
struct Open {
    src: Box<dyn PacketSource>,
    index: usize,
    report: InputReport,
    ts: i64,
    linktype: LinkType,
    wire_len: u32,
    interface: u32,
    data: Vec<u8>,
}

impl Open {
    /// The current packet.
    fn packet(&self) -> Packet<'_> {
        Packet {
            ts_ns: self.ts,
            linktype: self.linktype,
            wire_len: self.wire_len,
            interface: self.interface,
            data: &self.data,
            window: None,
        }
    }

    /// Reads the next packet into the buffer; false at the end (or damage, reported).
    fn advance(&mut self) -> bool {
        match self.src.next_packet() {
            Ok(Some(p)) => {
                self.ts = p.ts_ns;
                self.linktype = p.linktype;
                self.wire_len = p.wire_len;
                self.interface = p.interface;
                self.data.clear();
                self.data.extend_from_slice(p.data);
                self.report.packets += 1;
                true
            }
            Ok(None) => false,
            Err(e) => {
                damaged(&mut self.report, e);
                false
            }
        }
    }
}

/// Records damage found after the input's start: the packets before it are kept.
fn damaged(report: &mut InputReport, e: CaptureError) {
    tracing::warn!(input = %report.file, error = %e, "input damaged; packets before the damage are kept");
    report.unreadable = report.packets == 0;
    report.error = Some(e.to_string());
}

/// Calls `f(input index, packet, bytes read so far)` for every packet of every input
/// in time order, until the inputs end or `stop` is set. Returns the input reports.
pub(crate) fn for_each_packet(
    planned: &[Planned<'_>],
    stop: &AtomicBool,
    mut f: impl FnMut(usize, &Packet<'_>, u64),
) -> Vec<InputReport> {
    let mut reports = Vec::new();
    let mut open: Vec<Option<Open>> = (0..planned.len()).map(|_| None).collect();
    // Heap of (next packet time, input index): unopened inputs wait with their first time.
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| Reverse((p.first_ts.unwrap_or(i64::MIN), i)))
        .collect();
    let mut done_bytes = 0u64;
    while let Some(Reverse((_, i))) = heap.pop() {
        if stop.load(Ordering::Relaxed) {
            // Stop reading: inputs not finished are reported as they are.
            if let Some(o) = open[i].take() {
                reports.push(o.report);
            }
            continue;
        }
        if open[i].is_none() {
            let spec = planned[i].spec;
            match open_src(spec) {
                Ok(src) => {
                    let report = InputReport {
                        file: spec.name(),
                        format: src.format().into(),
                        ..Default::default()
                    };
                    let mut o = Open {
                        src,
                        index: i,
                        report,
                        ts: 0,
                        linktype: LinkType::Ethernet,
                        wire_len: 0,
                        interface: 0,
                        data: Vec::new(),
                    };
                    if o.advance() {
                        heap.push(Reverse((o.ts, i)));
                        open[i] = Some(o);
                    } else {
                        reports.push(o.report);
                    }
                }
                Err(e) => reports.push(open_error(spec, e)),
            }
            continue;
        }
        let o = open[i].as_mut().expect("open");
        // While this input stays first (the usual case: no overlap), read straight on.
        let limit = heap.peek().map(|Reverse((t, _))| *t).unwrap_or(i64::MAX);
        f(o.index, &o.packet(), done_bytes + o.src.position());
        if heap.is_empty() {
            // No other input competes: hand packets over straight from the reader's
            // buffer, without copying them.
            let (index, report) = (o.index, &mut o.report);
            let read = o.src.for_each(&mut |p, pos| {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                report.packets += 1;
                f(index, p, done_bytes + pos);
                true
            });
            if let Err(e) = read {
                damaged(&mut o.report, e);
            }
            done_bytes += o.src.position();
            reports.push(open[i].take().expect("open").report);
            continue;
        }
        loop {
            if !o.advance() {
                done_bytes += o.src.position();
                let o = open[i].take().expect("open");
                reports.push(o.report);
                break;
            }
            if o.ts > limit || stop.load(Ordering::Relaxed) {
                heap.push(Reverse((o.ts, i)));
                break;
            }
            f(o.index, &o.packet(), done_bytes + o.src.position());
        }
    }
    for o in open.into_iter().flatten() {
        reports.push(o.report);
    }
    reports
}

fn open_src(spec: &InputSpec) -> Result<Box<dyn PacketSource>, CaptureError> {
    open(spec)
}
