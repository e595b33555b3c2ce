//! `convert`: read every input as one trace (files ordered by their first packet's time,
//! one flow table across them, so a flow spanning files stays one flow), track flows,
//! and write the tables to a sink.

use crate::{Config, InputReport, InputSpec, RunStats};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wirehouse_capture::{CaptureError, PacketSource};
use wirehouse_flow::{CloseReason, Defragmenter, FlowBuilder, FlowRow, FlowTable};
use wirehouse_sinks::{Sink, SinkError};
use wirehouse_wire::{DecodeError, ErrorKind, decode};

/// A progress bar on stderr when it is a terminal; nothing otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Shows a bar when `enabled`.
    pub fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Self { bar }
    }
    fn total(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_length(n);
        }
    }
    fn update(&self, pos: u64, packets: u64, elapsed: f64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
            b.set_message(format!(
                "{packets} packets, {:.0} packets/s",
                packets as f64 / elapsed.max(1e-9)
            ));
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

struct Emitter<'a> {
    builder: FlowBuilder,
    batch_rows: usize,
    sink: &'a mut dyn Sink,
    error: Option<SinkError>,
    by_reason: HashMap<&'static str, u64>,
}

impl Emitter<'_> {
    fn push(&mut self, r: FlowRow) {
        *self.by_reason.entry(r.close_reason).or_default() += 1;
        self.builder.append(&r);
        if self.builder.len() >= self.batch_rows {
            self.flush();
        }
    }
    fn flush(&mut self) {
        if self.builder.is_empty() || self.error.is_some() {
            return;
        }
        if let Err(e) = self.sink.write(&FlowRow::TABLE, self.builder.finish()) {
            self.error = Some(e);
        }
    }
}

fn open(spec: &InputSpec) -> Result<Box<dyn PacketSource>, CaptureError> {
    match spec {
        InputSpec::File { path, .. } => wirehouse_capture::open(path),
        InputSpec::Stdin => wirehouse_capture::open_stdin(),
    }
}

fn report_open_error(spec: &InputSpec, e: CaptureError) -> InputReport {
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

/// Converts `inputs` into tables written to `sink`. Input damage is reported in the
/// returned statistics; only a sink failure aborts the run.
pub fn convert(
    inputs: &[InputSpec],
    sink: &mut dyn Sink,
    cfg: &Config,
    progress: &Progress,
) -> Result<RunStats, SinkError> {
    let started = Instant::now();
    let mut stats = RunStats::default();

    // Order files by their first packet's time so the inputs form one trace.
    let mut ordered: Vec<(Option<i64>, &InputSpec)> = Vec::new();
    let mut total_bytes = 0u64;
    for spec in inputs {
        if let InputSpec::File { path, .. } = spec {
            match wirehouse_capture::open(path) {
                Ok(mut src) => {
                    let first = src.next_packet().ok().flatten().map(|p| p.ts_ns);
                    total_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                    ordered.push((first, spec));
                }
                Err(e) => stats.inputs.push(report_open_error(spec, e)),
            }
        } else {
            ordered.push((Some(i64::MIN), spec));
        }
    }
    ordered.sort_by_key(|(ts, _)| ts.unwrap_or(i64::MAX));
    progress.total(total_bytes);

    let mut table = FlowTable::new(cfg.flow.clone());
    let mut defrag = Defragmenter::new(cfg.defrag.clone());
    let mut emit = Emitter {
        builder: FlowBuilder::with_capacity(cfg.output.batch_rows.min(1 << 16)),
        batch_rows: cfg.output.batch_rows.max(1),
        sink,
        error: None,
        by_reason: HashMap::new(),
    };
    let mut decode_errors: HashMap<DecodeError, u64> = HashMap::new();
    let mut done_bytes = 0u64;

    for (_, spec) in ordered {
        let name: Arc<str> = spec.name().into();
        let mut src = match open(spec) {
            Ok(s) => s,
            Err(e) => {
                stats.inputs.push(report_open_error(spec, e));
                continue;
            }
        };
        let mut rep = InputReport {
            file: name.to_string(),
            format: src.format().into(),
            ..Default::default()
        };
        loop {
            let p = match src.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(input = %name, error = %e, "input damaged; packets before the damage are kept");
                    rep.unreadable = rep.packets == 0;
                    rep.error = Some(e.to_string());
                    break;
                }
            };
            rep.packets += 1;
            stats.captured_bytes += p.data.len() as u64;
            stats.wire_bytes += u64::from(p.wire_len);
            match decode(p.linktype, p.data) {
                Ok(d) => {
                    stats.truncated_transport_headers += u64::from(d.l4_truncated);
                    let fed = defrag.feed(p.ts_ns, p.data, &d, |whole, count| {
                        stats.flow_packets += u64::from(count.packets);
                        table.process_counted(p.ts_ns, whole, &name, count, &mut |r| emit.push(r));
                    });
                    match fed {
                        Ok(()) => table.advance(p.ts_ns, &mut |r| emit.push(r)),
                        Err((e, n)) => *decode_errors.entry(e).or_default() += u64::from(n),
                    }
                }
                Err(e) => match e.kind {
                    ErrorKind::NotIp(_) => stats.non_ip_packets += 1,
                    ErrorKind::UnsupportedLinkType(_) => stats.unsupported_linktype_packets += 1,
                    _ => *decode_errors.entry(e).or_default() += 1,
                },
            }
            if rep.packets.is_multiple_of(65_536) {
                if let Some(e) = emit.error.take() {
                    return Err(e);
                }
                progress.update(
                    done_bytes + src.position(),
                    stats.packets + rep.packets,
                    started.elapsed().as_secs_f64(),
                );
            }
        }
        done_bytes += src.position();
        stats.packets += rep.packets;
        stats.inputs.push(rep);
    }
    defrag.drain();
    stats.defrag = defrag.stats();
    table.drain(CloseReason::EndOfInput, &mut |r| emit.push(r));
    stats.reassembly = table.reassembly_totals();
    stats.gaps = stats.reassembly.streams.gaps;
    emit.flush();
    if let Some(e) = emit.error.take() {
        return Err(e);
    }
    progress.finish();
    let summary = emit.sink.close()?;
    stats.flows = emit
        .by_reason
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    stats.decode_errors = decode_errors
        .into_iter()
        .fold(Default::default(), |mut m, (e, n)| {
            *m.entry(e.counter_name()).or_default() += n;
            m
        });
    stats.rows = summary
        .rows
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    stats.files = summary
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    stats.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}
