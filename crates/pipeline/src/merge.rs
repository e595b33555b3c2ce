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

/// One open input, and the packet at which the merge last left it (copied out: the
/// only packets copied are those where the merge switches inputs).
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
    /// The packet the merge left the input at.
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

    /// Hands `f` this input's packets, straight from the reader's buffer, while their
    /// time is at most `limit`; the first later one is kept (true), or the input ends
    /// (false; damage is reported). `stop` keeps the next packet, whatever its time.
    fn run(
        &mut self,
        limit: i64,
        stop: &AtomicBool,
        done_bytes: u64,
        f: &mut impl FnMut(usize, &Packet<'_>, u64),
    ) -> bool {
        let mut kept = false;
        let Open {
            src,
            index,
            report,
            ts,
            linktype,
            wire_len,
            interface,
            data,
        } = self;
        let read = src.for_each(&mut |p, pos| {
            report.packets += 1;
            if p.ts_ns > limit || stop.load(Ordering::Relaxed) {
                (*ts, *linktype, *wire_len, *interface) =
                    (p.ts_ns, p.linktype, p.wire_len, p.interface);
                data.clear();
                data.extend_from_slice(p.data);
                kept = true;
                return false;
            }
            f(*index, p, done_bytes + pos);
            true
        });
        if let Err(e) = read {
            damaged(report, e);
        }
        kept
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
    // Heap of (next packet time, input index): unopened inputs wait with their first
    // time, open ones with the time of the packet the merge left them at.
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| Reverse((p.first_ts.unwrap_or(i64::MIN), i)))
        .collect();
    let mut done_bytes = 0u64;
    while let Some(Reverse((_, i))) = heap.pop() {
        if stop.load(Ordering::Relaxed) {
            // Stop reading: inputs not finished are reported as they are, inputs not
            // opened yet as not read (so the summary names every file left out).
            reports.push(match open[i].take() {
                Some(o) => o.report,
                None => InputReport {
                    file: planned[i].spec.name(),
                    error: Some(format!(
                        "{}: not read, the run was interrupted first",
                        planned[i].spec.name()
                    )),
                    ..Default::default()
                },
            });
            continue;
        }
        let o = match &mut open[i] {
            Some(o) => {
                // The packet the merge left this input at comes first.
                f(o.index, &o.packet(), done_bytes + o.src.position());
                o
            }
            None => {
                let spec = planned[i].spec;
                match open_src(spec) {
                    Ok(src) => open[i].insert(Open {
                        report: InputReport {
                            file: spec.name(),
                            format: src.format().into(),
                            ..Default::default()
                        },
                        src,
                        index: i,
                        ts: 0,
                        linktype: LinkType::Ethernet,
                        wire_len: 0,
                        interface: 0,
                        data: Vec::new(),
                    }),
                    Err(e) => {
                        reports.push(open_error(spec, e));
                        continue;
                    }
                }
            }
        };
        // Read straight on while this input stays first (the usual case: no overlap).
        let limit = heap.peek().map_or(i64::MAX, |Reverse((t, _))| *t);
        if o.run(limit, stop, done_bytes, &mut f) {
            heap.push(Reverse((o.ts, i)));
        } else {
            done_bytes += o.src.position();
            reports.push(open[i].take().expect("open").report);
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

#[cfg(test)]
mod tests {
    use super::*;
    use wirehouse_capture::PcapWriter;

    /// A pcap of one packet per time in `times` (µs), each carrying its file and
    /// sequence number.
    fn write(path: &std::path::Path, file: u8, times: impl Iterator<Item = i64>) {
        let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        let mut w = PcapWriter::new(f, LinkType::Ethernet, 65535, false).unwrap();
        for (seq, t) in times.enumerate() {
            let data = [vec![file], (seq as u32).to_be_bytes().to_vec(), vec![0; 60]].concat();
            w.write(&Packet {
                ts_ns: t * 1000,
                linktype: LinkType::Ethernet,
                wire_len: data.len() as u32,
                interface: 0,
                data: &data,
                window: None,
            })
            .unwrap();
        }
        use std::io::Write;
        w.into_inner().unwrap().flush().unwrap();
    }

    /// (name of the input it is attributed to, file byte, sequence, time µs).
    type Handed = (String, u8, u32, i64);

    /// (name of the input it is attributed to, file byte, sequence, time) of every
    /// packet the merge hands over; `stop_after` sets the stop flag once that many were
    /// handed over.
    fn merged(specs: &[InputSpec], stop_after: usize) -> (Vec<Handed>, Vec<InputReport>) {
        let mut reports = Vec::new();
        let planned = plan(specs, &mut reports);
        let stop = AtomicBool::new(false);
        let mut got = Vec::new();
        let more = for_each_packet(&planned, &stop, |i, p, _| {
            let seq = u32::from_be_bytes(p.data[1..5].try_into().unwrap());
            got.push((planned[i].spec.name(), p.data[0], seq, p.ts_ns / 1000));
            if got.len() == stop_after {
                stop.store(true, Ordering::Relaxed);
            }
        });
        reports.extend(more);
        (got, reports)
    }

    #[test]
    fn overlapping_inputs_are_merged_by_time_and_each_packet_handed_over_once() {
        let dir = std::env::temp_dir().join(format!("wh-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Two captures of the same time span, interleaved packet by packet (two taps), a
        // third that starts where they end (a rotated file; its first packet ties with
        // the last of the first), and one that overlaps them in bursts of ten.
        let paths: Vec<_> = ["even", "odd", "later", "bursts"]
            .iter()
            .map(|n| dir.join(format!("{n}.pcap")))
            .collect();
        write(&paths[0], 0, (0..100).map(|k| 2 * k));
        write(&paths[1], 1, (0..100).map(|k| 2 * k + 1));
        write(&paths[2], 2, 198..300);
        write(&paths[3], 3, (0..50).map(|k| 50 + (k / 10) * 40 + k % 10));
        let specs: Vec<InputSpec> = paths
            .iter()
            .map(|p| InputSpec::File {
                path: p.clone(),
                explicit: true,
            })
            .collect();
        let (got, reports) = merged(&specs, usize::MAX);
        assert_eq!(got.len(), 100 + 100 + 102 + 50);
        assert!(got.windows(2).all(|w| w[0].3 <= w[1].3), "in time order");
        for file in 0..4u8 {
            let seqs: Vec<u32> = got.iter().filter(|g| g.1 == file).map(|g| g.2).collect();
            assert_eq!(
                seqs,
                (0..seqs.len() as u32).collect::<Vec<_>>(),
                "file {file}"
            );
            // Each packet is attributed to the input it was read from.
            let name = paths[usize::from(file)].display().to_string();
            assert!(got.iter().filter(|g| g.1 == file).all(|g| g.0 == name));
        }
        let mut counts: Vec<(String, u64)> = reports
            .iter()
            .map(|r| (r.file.clone(), r.packets))
            .collect();
        counts.sort();
        let want: Vec<u64> = vec![50, 100, 102, 100]; // bursts, even, later, odd
        assert_eq!(counts.iter().map(|c| c.1).collect::<Vec<_>>(), want);

        // Stopping: nothing more is handed over; every input opened by then is reported
        // with the packets read from it, and the one starting later as not read.
        let (got, reports) = merged(&specs, 120);
        assert_eq!(got.len(), 120);
        assert_eq!(reports.len(), 4);
        for r in &reports {
            let later = r.file == paths[2].display().to_string();
            assert_eq!(later, r.error.is_some(), "{r:?}");
            assert!(!later || (r.packets == 0 && !r.unreadable), "{r:?}");
        }
        let read: u64 = reports.iter().map(|r| r.packets).sum();
        assert!((120..=123).contains(&read), "{read}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
