//! `wirehouse capture`: live packets from network interfaces through the same workers
//! and sinks as `convert`, continuously.
//!
//! - **af-packet**: one TPACKET_V3 ring per worker and interface, the rings of an
//!   interface in one kernel fanout group (flow hash, IPv4 defragmentation), so the
//!   kernel spreads the reading over one capture thread per worker. Each thread's
//!   dispatcher then shards by the pipeline's own symmetric hash, which also places
//!   the IPv6 datagrams it reassembles (the kernel hashes IPv6 fragments by address
//!   pair, so they may arrive on another ring than the rest of their flow).
//! - **pcap**: one libpcap handle and capture thread per interface, whose dispatcher
//!   shards to every worker by the symmetric flow hash.
//!
//! The clock is the wall clock: it moves every `poll_timeout_ms` even without packets,
//! so flows time out, `active` rows are written and partial batches reach the sink on
//! time. Nothing is dropped in user space: every queue is bounded, so a slow sink or
//! worker makes the ring fill, and the kernel counts what it could not deliver.

use crate::run::{Dispatch, DispatchCounts, Fed, SharedRoutes, run_pipeline};
use crate::stats::CaptureReport;
use crate::worker::{Batch, Live, ToWorker};
use crate::{Config, RunStats};
use crossbeam_channel::{Receiver, Sender};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wirehouse_capture::live::LiveError;
use wirehouse_capture::rotate::{RotatingPcap, Rotation};
use wirehouse_flow::{CloseReason, DefragStats};
use wirehouse_sinks::{Sink, SinkError};

#[cfg(target_os = "linux")]
use wirehouse_capture::live::afpacket::{self, Ring, RingConfig};
#[cfg(feature = "libpcap")]
use wirehouse_capture::live::pcap::{PcapConfig, PcapSource};

/// What to capture.
#[derive(Debug, Clone, Default)]
pub struct LiveSpec {
    /// Interfaces.
    pub interfaces: Vec<String>,
    /// Filter expression (tcpdump syntax).
    pub bpf: Option<String>,
    /// Also write the raw packets here, as rotated pcap files.
    pub save_pcap: Option<PathBuf>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// Opened capture handles (opened first, so privileges can be dropped before the run).
pub enum LiveSources {
    /// AF_PACKET rings: `[worker][interface]`.
    #[cfg(target_os = "linux")]
    AfPacket(Vec<Vec<Ring>>),
    /// One libpcap handle per interface.
    #[cfg(feature = "libpcap")]
    Pcap(Vec<PcapSource>),
}

fn engine_unavailable(engine: &str) -> LiveError {
    LiveError::Config(format!(
        "capture engine {engine:?} is not in this build (engines: af-packet on Linux, pcap with the `libpcap` feature)"
    ))
}

/// Opens every interface with the configured engine.
pub fn open(spec: &LiveSpec, cfg: &Config) -> Result<LiveSources, LiveError> {
    let c = &cfg.capture;
    if spec.interfaces.is_empty() {
        return Err(LiveError::Config(
            "no interface to capture (-i IFACE)".into(),
        ));
    }
    match c.engine.as_str() {
        #[cfg(target_os = "linux")]
        "af-packet" => {
            let n = crate::workers(cfg);
            let base = match c.fanout_group {
                0 => (std::process::id() as u16).max(1),
                g => g,
            };
            let mut ring_cfgs = Vec::new();
            for (j, iface) in spec.interfaces.iter().enumerate() {
                let filter = match &spec.bpf {
                    Some(expr) => Some(wirehouse_capture::live::compile_filter(
                        expr,
                        afpacket::linktype_of(iface)?,
                        c.snaplen,
                    )?),
                    None => None,
                };
                ring_cfgs.push(RingConfig {
                    block_size: c.ring_block_size,
                    block_count: c.ring_blocks,
                    block_timeout_ms: c.block_timeout_ms,
                    snaplen: c.snaplen,
                    promisc: c.promisc,
                    fanout_group: Some(base.wrapping_add(j as u16)),
                    filter,
                });
            }
            let mut rings = Vec::new();
            for _ in 0..n {
                let mut mine = Vec::new();
                for (iface, rc) in spec.interfaces.iter().zip(&ring_cfgs) {
                    mine.push(Ring::open(iface, rc)?);
                }
                rings.push(mine);
            }
            Ok(LiveSources::AfPacket(rings))
        }
        #[cfg(feature = "libpcap")]
        "pcap" => {
            let pc = PcapConfig {
                snaplen: c.snaplen,
                promisc: c.promisc,
                timeout_ms: c.poll_timeout_ms,
                buffer_bytes: c.pcap_buffer_mb.saturating_mul(1 << 20),
                bpf: spec.bpf.clone(),
            };
            spec.interfaces
                .iter()
                .map(|i| PcapSource::open(i, &pc))
                .collect::<Result<Vec<_>, _>>()
                .map(LiveSources::Pcap)
        }
        other => Err(engine_unavailable(other)),
    }
}

fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Keeps a capture thread's dispatcher on the wall clock: every `poll_timeout_ms`,
/// packets or not, the clock moves and partial batches go out.
struct WallTicker {
    every: Duration,
    last: Instant,
}

impl WallTicker {
    fn new(cfg: &Config, d: &mut Dispatch) -> Self {
        d.set_clock(wall_ns());
        Self {
            every: Duration::from_millis(u64::from(poll_ms(cfg))),
            last: Instant::now(),
        }
    }

    fn tick(&mut self, d: &mut Dispatch) {
        if self.last.elapsed() >= self.every {
            d.set_clock(wall_ns());
            d.tick();
            self.last = Instant::now();
        }
    }
}

/// The longest wait for packets, ms.
fn poll_ms(cfg: &Config) -> u32 {
    cfg.capture.poll_timeout_ms.max(1)
}

/// When the capture ends: a signal, or the requested duration.
struct Until<'a> {
    stop: &'a AtomicBool,
    deadline: Option<Instant>,
}

impl Until<'_> {
    fn reached(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Writes the raw packets of one interface (of one capture thread), counting failures.
struct Saver {
    w: Option<RotatingPcap>,
    errors: u64,
    error: Option<String>,
}

impl Saver {
    fn new(
        dir: Option<&PathBuf>,
        prefix: &str,
        linktype: wirehouse_capture::LinkType,
        cfg: &Config,
    ) -> Self {
        let c = &cfg.capture;
        let rotation = Rotation {
            max_bytes: c.save_pcap_max_mb.saturating_mul(1 << 20),
            max_seconds: c.save_pcap_max_seconds,
        };
        let (w, error) =
            match dir.map(|d| RotatingPcap::new(d, prefix, linktype, c.snaplen, rotation)) {
                None => (None, None),
                Some(Ok(w)) => (Some(w), None),
                Some(Err(e)) => (None, Some(e.to_string())),
            };
        Saver {
            w,
            errors: u64::from(error.is_some()),
            error,
        }
    }

    fn write(&mut self, p: &wirehouse_capture::Packet<'_>) {
        if let Some(w) = self.w.as_mut()
            && let Err(e) = w.write(p)
        {
            // A full disk must not stop the analytics: count, say so once, go on.
            self.errors += 1;
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    fn close(self, r: &mut CaptureReport) {
        if let Some(w) = self.w {
            match w.close() {
                Ok(files) => r
                    .saved_files
                    .extend(files.iter().map(|f| f.display().to_string())),
                Err(e) => {
                    r.save_pcap_errors += 1;
                    r.error.get_or_insert(e.to_string());
                }
            }
        }
        r.save_pcap_errors += self.errors;
        if let Some(e) = self.error {
            r.error.get_or_insert(format!("--save-pcap: {e}"));
        }
    }
}

/// Longest time spent reading what the kernel still holds after the stop.
const DRAIN: Duration = Duration::from_secs(1);

type ThreadResult = (DispatchCounts, DefragStats, Vec<CaptureReport>);

#[cfg(target_os = "linux")]
#[allow(clippy::too_many_arguments)]
fn ring_thread(
    w: usize,
    n_rings: usize,
    ftp: Arc<SharedRoutes>,
    mut rings: Vec<Ring>,
    txs: Vec<Sender<ToWorker>>,
    recycle: Receiver<Batch>,
    cfg: &Config,
    spec: &LiveSpec,
    until: &Until<'_>,
) -> ThreadResult {
    // The kernel spreads the flows over the rings; the dispatcher still shards by the
    // pipeline's own symmetric hash, which agrees with itself for the datagrams this
    // thread reassembles and the rest of their flow read by another ring's thread.
    let mut d = Dispatch::new(txs, recycle, cfg);
    d.share_ftp_routes(ftp);
    if n_rings > 1 {
        d.hold_reassembled(Duration::from_millis(2 * u64::from(poll_ms(cfg)) + 50));
    }
    let fds: Vec<_> = rings.iter().map(|r| r.fd()).collect();
    let mut savers: Vec<Saver> = rings
        .iter()
        .map(|r| {
            let prefix = format!("{}-w{w}", r.interface());
            Saver::new(spec.save_pcap.as_ref(), &prefix, r.linktype(), cfg)
        })
        .collect();
    let mut packets = vec![0u64; rings.len()];
    let mut ticker = WallTicker::new(cfg, &mut d);
    // After the stop, what the kernel still holds is read: it waits for the block
    // timeout to hand over the last partial blocks, then drains until nothing is left.
    // Under continuous traffic the drain ends after a second.
    let mut draining: Option<Instant> = None;
    loop {
        if draining.is_none() && until.reached() {
            draining = Some(Instant::now());
            std::thread::sleep(Duration::from_millis(
                u64::from(cfg.capture.block_timeout_ms) + 20,
            ));
        }
        let mut got = false;
        for (j, ring) in rings.iter_mut().enumerate() {
            // At most one ring's worth of blocks, so the clock and the other rings get
            // their turn.
            for _ in 0..cfg.capture.ring_blocks {
                let (saver, count) = (&mut savers[j], &mut packets[j]);
                let read = ring.read_block(|p| {
                    saver.write(&p.as_packet());
                    *count += 1;
                    d.packet(p.ts_ns, p.linktype, p.data, p.wire_len, j as u32, None);
                });
                if read.is_none() {
                    break;
                }
                got = true;
            }
        }
        ticker.tick(&mut d);
        if let Some(t) = draining {
            if got && t.elapsed() < DRAIN {
                continue;
            }
            break;
        }
        if !got {
            afpacket::wait(&fds, poll_ms(cfg) as i32);
        }
    }
    d.finish_defrag(0);
    let (counts, defrag) = d.done();
    let mut reports = Vec::new();
    for ((ring, saver), n) in rings.iter_mut().zip(savers).zip(packets) {
        let k = ring.stats();
        let mut r = CaptureReport {
            interface: ring.interface().to_string(),
            engine: "af-packet".into(),
            worker: Some(w),
            packets: n,
            kernel_packets: k.kernel_packets,
            kernel_drops: k.kernel_drops,
            ring_freezes: k.freezes,
            ..Default::default()
        };
        saver.close(&mut r);
        reports.push(r);
    }
    (counts, defrag, reports)
}

#[cfg(feature = "libpcap")]
fn pcap_thread(
    j: usize,
    mut src: PcapSource,
    txs: Vec<Sender<ToWorker>>,
    recycle: Receiver<Batch>,
    cfg: &Config,
    spec: &LiveSpec,
    until: &Until<'_>,
) -> ThreadResult {
    let mut d = Dispatch::new(txs, recycle, cfg);
    let mut saver = Saver::new(
        spec.save_pcap.as_ref(),
        src.interface(),
        src.linktype(),
        cfg,
    );
    let mut ticker = WallTicker::new(cfg, &mut d);
    let mut packets = 0u64;
    let mut error = None;
    // After the stop, libpcap is read until a read times out: what the kernel held
    // when the signal came is not lost.
    let mut draining: Option<Instant> = None;
    loop {
        if draining.is_none() && until.reached() {
            draining = Some(Instant::now());
        }
        if draining.is_some_and(|t| t.elapsed() >= DRAIN) {
            break;
        }
        let got = src.next(|p| {
            saver.write(&p.as_packet());
            packets += 1;
            d.packet(p.ts_ns, p.linktype, p.data, p.wire_len, j as u32, None);
        });
        match got {
            Ok(true) => {}
            Ok(false) if draining.is_some() => break,
            Ok(false) => {}
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
        ticker.tick(&mut d);
    }
    d.finish_defrag(j as u32);
    let (counts, defrag) = d.done();
    let k = src.stats();
    let mut r = CaptureReport {
        interface: src.interface().to_string(),
        engine: "pcap".into(),
        worker: None,
        packets,
        kernel_packets: k.received,
        kernel_drops: k.dropped,
        interface_drops: k.if_dropped,
        error,
        ..Default::default()
    };
    saver.close(&mut r);
    (counts, defrag, vec![r])
}

/// Captures from `sources` into `sink` until `stop` is set (SIGINT/SIGTERM) or the
/// duration passes; then every open flow is written with `close_reason = shutdown` and
/// the sink is closed.
pub fn capture(
    sources: LiveSources,
    spec: &LiveSpec,
    sink: &mut dyn Sink,
    cfg: &Config,
    stop: &AtomicBool,
) -> Result<RunStats, SinkError> {
    let started = Instant::now();
    let mut stats = RunStats::default();
    let names: Arc<Vec<Arc<str>>> = Arc::new(
        spec.interfaces
            .iter()
            .map(|i| Arc::from(i.as_str()))
            .collect(),
    );
    let until = Until {
        stop,
        deadline: spec.duration.map(|d| started + d),
    };
    let live = Live {
        flush: Duration::from_secs(cfg.capture.flush_interval_s.max(1)),
        active_ns: (cfg.capture.active_interval_s as i64).saturating_mul(1_000_000_000),
    };
    let n = match &sources {
        #[cfg(target_os = "linux")]
        LiveSources::AfPacket(r) => r.len(),
        #[cfg(feature = "libpcap")]
        LiveSources::Pcap(_) => crate::workers(cfg),
    };
    let reports = run_pipeline(
        cfg,
        n,
        false,
        names,
        Some(live),
        sink,
        &mut stats,
        |txs, recycle, _| {
            let results: Vec<ThreadResult> = std::thread::scope(|s| {
                let mut hs = Vec::new();
                match sources {
                    #[cfg(target_os = "linux")]
                    LiveSources::AfPacket(rings) => {
                        let n_rings = rings.len();
                        let ftp = Arc::new(SharedRoutes::default());
                        for (w, mine) in rings.into_iter().enumerate() {
                            let (txs, rc, until) = (txs.to_vec(), recycle.clone(), &until);
                            let ftp = ftp.clone();
                            hs.push(s.spawn(move || {
                                ring_thread(w, n_rings, ftp, mine, txs, rc, cfg, spec, until)
                            }));
                        }
                    }
                    #[cfg(feature = "libpcap")]
                    LiveSources::Pcap(srcs) => {
                        for (j, src) in srcs.into_iter().enumerate() {
                            let (txs, rc, until) = (txs.to_vec(), recycle.clone(), &until);
                            hs.push(
                                s.spawn(move || pcap_thread(j, src, txs, rc, cfg, spec, until)),
                            );
                        }
                    }
                }
                hs.into_iter()
                    .map(|h| h.join().expect("capture thread panicked"))
                    .collect()
            });
            let mut fed = Fed {
                result: Vec::new(),
                counts: Vec::new(),
                defrag: Vec::new(),
                reason: CloseReason::Shutdown,
                inline: Vec::new(),
            };
            for (c, d, r) in results {
                fed.counts.push(c);
                fed.defrag.push(d);
                fed.result.extend(r);
            }
            fed
        },
    )?;
    // Per interface: packets read, as for input files.
    for iface in spec.interfaces.iter() {
        let mine = reports.iter().filter(|r| &r.interface == iface);
        stats.inputs.push(crate::InputReport {
            file: iface.clone(),
            format: reports
                .iter()
                .find(|r| &r.interface == iface)
                .map(|r| r.engine.clone())
                .unwrap_or_default(),
            packets: mine.map(|r| r.packets).sum(),
            ..Default::default()
        });
    }
    stats.capture = reports;
    stats.packets = stats.inputs.iter().map(|i| i.packets).sum();
    stats.interrupted = stop.load(Ordering::Relaxed);
    stats.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}
