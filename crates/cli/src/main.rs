//! The `wirehouse` command: a thin layer over `wirehouse-pipeline`.

mod malloc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use wirehouse_pipeline::{Config, Progress, convert, expand_inputs};
use wirehouse_schema::ClickHouseOptions;
use wirehouse_sinks::Sink;
use wirehouse_sinks::clickhouse::ClickHouseSink;
use wirehouse_sinks::null::NullSink;
use wirehouse_sinks::parquet::{ParquetOptions, ParquetSink};

#[derive(Parser)]
#[command(
    name = "wirehouse",
    version,
    about = "Network traffic to analytics tables"
)]
struct Cli {
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr: no progress bar, no run summary (--stats-json is still written).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Convert pcap/pcapng files (also .gz/.zst), directories (recursively) or - (stdin) into tables.
    Convert {
        /// Capture files, directories, or - for standard input.
        #[arg(required = true)]
        inputs: Vec<String>,
        #[command(flatten)]
        common: Common,
        /// Never show the progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Capture live from network interfaces, continuously, until SIGINT/SIGTERM (or --duration).
    Capture {
        #[command(flatten)]
        args: CaptureArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Print the tables' schemas (Parquet/Arrow columns, or ClickHouse DDL).
    Schema {
        /// Which store's schema to print.
        #[arg(long, value_enum, default_value_t = SinkKind::Parquet)]
        sink: SinkKind,
        /// ClickHouse database name.
        #[arg(long, default_value = "wirehouse")]
        database: String,
        /// ClickHouse cluster: ReplicatedMergeTree local tables plus Distributed tables, ON CLUSTER.
        #[arg(long, value_name = "NAME")]
        cluster: Option<String>,
        /// Drop rows older than N days (off by default; ClickHouse drops rows already expired at insert time, so converting an old archive with a TTL stores nothing).
        #[arg(long, value_name = "N")]
        ttl_days: Option<u32>,
    },
    /// List the application protocols wirehouse recognises.
    Protocols,
    /// List the capture devices: flags and addresses (like libpcap's findalldevs).
    Interfaces {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Options `convert` and `capture` share.
#[derive(clap::Args)]
struct Common {
    /// Where the tables go: parquet:DIR or clickhouse:http://HOST:PORT/DATABASE, or null
    /// (count the rows, store nothing: a run for its summary alone).
    #[arg(short, long, default_value = "parquet:./wirehouse-out")]
    output: String,
    /// Configuration file (see config/wirehouse.toml).
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Shard workers (default: one per CPU core, or [pipeline] workers).
    #[arg(short, long)]
    workers: Option<usize>,
    /// Application protocols to parse, comma-separated (default: all; see `wirehouse protocols`).
    #[arg(long, value_name = "LIST")]
    protocols: Option<String>,
    /// Write the run summary as JSON to this file.
    #[arg(long)]
    stats_json: Option<PathBuf>,
}

impl Common {
    /// The configuration file with the flags applied.
    fn config(&self) -> Result<Config> {
        let mut cfg = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(w) = self.workers {
            cfg.pipeline.workers = w;
        }
        if let Some(list) = &self.protocols {
            cfg.l7.protocols = list
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            if let Err(e) = cfg.l7.check() {
                bail!("--protocols: {e}");
            }
        }
        Ok(cfg)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// Linux AF_PACKET TPACKET_V3 rings with kernel fanout.
    AfPacket,
    /// libpcap.
    Pcap,
}

#[derive(Clone, Copy, ValueEnum)]
enum SinkKind {
    Parquet,
    Clickhouse,
}

fn open_sink(spec: &str, cfg: &Config) -> Result<(Box<dyn Sink>, String)> {
    if matches!(spec, "null" | "null:") {
        return Ok((Box::new(NullSink::new()), "null (nothing stored)".into()));
    }
    match spec.split_once(':') {
        Some(("parquet", dir)) if !dir.is_empty() => {
            let sink = ParquetSink::new(dir, parquet_options(cfg))
                .with_context(|| format!("output {spec}"))?;
            Ok((Box::new(sink), dir.to_string()))
        }
        Some(("clickhouse", url)) => {
            let sink = ClickHouseSink::new(
                url,
                cfg.output.clickhouse.clone(),
                wirehouse_pipeline::tables(),
            )?;
            // Never echo credentials given in the URL.
            let shown = match url.split_once("://") {
                Some((scheme, rest)) => format!(
                    "clickhouse:{scheme}://{}",
                    rest.rsplit('@').next().unwrap_or(rest)
                ),
                None => "clickhouse".to_string(),
            };
            Ok((Box::new(sink), shown))
        }
        _ => bail!("{spec}: expected parquet:DIR, clickhouse:http://HOST:PORT/DATABASE or null"),
    }
}

/// The Parquet options of a run. `encode_threads = 0` (automatic) with a single worker
/// means the sink's own thread: that worker's rows leave it idle most of the time, and a
/// pool's threads only contend with the worker for the cores (measured on 2 cores: the
/// same wall time, 1–7 % more CPU, ~1,600 involuntary context switches a run instead of
/// ~25). With more workers, one thread per core.
fn parquet_options(cfg: &Config) -> ParquetOptions {
    let mut opts = cfg.output.parquet.clone();
    if opts.encode_threads == 0 && cfg.pipeline.workers == 1 {
        opts.encode_threads = 1;
    }
    opts
}

static STOP: AtomicBool = AtomicBool::new(false);

/// The first SIGINT/SIGTERM stops reading; the run then writes every open flow as
/// 'shutdown' and closes its files (said on stderr unless `quiet`). A second one exits at
/// once, which is always said, since files may be left unfinished.
fn on_signals_stop(quiet: bool) {
    let _ = ctrlc::set_handler(move || {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("second interrupt: exiting now");
            std::process::exit(130);
        }
        if !quiet {
            eprintln!(
                "interrupted: finishing open flows and files (interrupt again to exit at once)"
            );
        }
    });
}

/// The `--stats-json` file, created when the run starts (before privileges are dropped).
type JsonOut = (std::fs::File, PathBuf);

fn create_json(p: Option<&PathBuf>) -> Result<Option<JsonOut>> {
    p.map(|p| {
        std::fs::File::create(p)
            .with_context(|| format!("--stats-json {}", p.display()))
            .map(|f| (f, p.clone()))
    })
    .transpose()
}

/// The summary on stderr (with `--quiet`, only its error lines), the JSON file, and the
/// exit status a finished run earns.
fn report(
    stats: &wirehouse_pipeline::RunStats,
    cfg: &Config,
    dir: &str,
    stats_json: Option<JsonOut>,
    quiet: bool,
) -> Result<Option<ExitCode>> {
    if quiet {
        eprint!("{}", stats.errors());
    } else {
        eprint!("{}", stats.summary());
        eprintln!("output: {dir}");
    }
    if let Some((f, p)) = stats_json {
        serde_json::to_writer_pretty(f, stats).with_context(|| format!("{}", p.display()))?;
    }
    let left = stats.sink.get("spool_left_batches").copied().unwrap_or(0);
    if left > 0 {
        eprintln!(
            "{} still in the spool ({}): the next run replays them",
            wirehouse_pipeline::counted(left, "batch is", "batches are"),
            cfg.output.clickhouse.spool_dir
        );
        return Ok(Some(ExitCode::from(1)));
    }
    Ok(None)
}

fn run_convert(
    inputs: Vec<String>,
    common: Common,
    progress: bool,
    quiet: bool,
) -> Result<ExitCode> {
    let cfg = common.config()?;
    on_signals_stop(quiet);
    let (specs, unlisted) = expand_inputs(&inputs);
    let (mut sink, dir) = open_sink(&common.output, &cfg)?;
    let json = create_json(common.stats_json.as_ref())?;
    let mut stats = convert(&specs, sink.as_mut(), &cfg, &Progress::new(progress), &STOP)?;
    // Directories that could not be listed are unreadable inputs like any other.
    stats.inputs.splice(0..0, unlisted);
    if let Some(code) = report(&stats, &cfg, &dir, json, quiet)? {
        return Ok(code);
    }
    let bad = stats.unreadable_inputs();
    if bad > 0 {
        eprintln!(
            "{} could not be read",
            wirehouse_pipeline::counted(bad as u64, "input", "inputs")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `wirehouse capture` options besides the common ones.
#[derive(clap::Args)]
struct CaptureArgs {
    /// Interface to capture (repeat for several; see `wirehouse interfaces`).
    #[arg(short, long = "interface", value_name = "IFACE", required = true)]
    interfaces: Vec<String>,
    /// Capture engine (default: [capture] engine, af-packet).
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    /// Filter expression, tcpdump syntax, compiled and attached in the kernel.
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Also write the raw packets to pcap files in DIR, rotated by size or age.
    #[arg(long, value_name = "DIR")]
    save_pcap: Option<PathBuf>,
    /// Bytes kept of each packet.
    #[arg(long)]
    snaplen: Option<u32>,
    /// Do not put the interfaces in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Drop root privileges to this user once the capture sockets are open (like tcpdump -Z).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

#[cfg(unix)]
fn run_capture(a: CaptureArgs, common: Common, quiet: bool) -> Result<ExitCode> {
    use wirehouse_pipeline::live;
    let mut cfg = common.config()?;
    if let Some(e) = a.engine {
        cfg.capture.engine = match e {
            Engine::AfPacket => "af-packet",
            Engine::Pcap => "pcap",
        }
        .into();
    }
    if let Some(s) = a.snaplen {
        cfg.capture.snaplen = s;
    }
    if a.no_promisc {
        cfg.capture.promisc = false;
    }
    let spec = live::LiveSpec {
        interfaces: a.interfaces,
        bpf: a.bpf,
        save_pcap: a.save_pcap,
        duration: a
            .duration
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(std::time::Duration::from_secs_f64),
    };
    on_signals_stop(quiet);
    let sources = live::open(&spec, &cfg)?;
    // Every file the run writes is opened or created before privileges go.
    let (mut sink, dir) = open_sink(&common.output, &cfg)?;
    if let Some(d) = &spec.save_pcap {
        std::fs::create_dir_all(d).with_context(|| format!("--save-pcap {}", d.display()))?;
    }
    let json = create_json(common.stats_json.as_ref())?;
    if let Some(name) = &a.user {
        let mut owned: Vec<PathBuf> = spec.save_pcap.iter().cloned().collect();
        if let Some(("parquet", d)) = common.output.split_once(':') {
            owned.push(d.into());
        }
        drop_privileges(name, &owned)?;
    }
    tracing::info!(
        "capturing on {} with {} ({}); stop with Ctrl-C",
        spec.interfaces.join(", "),
        cfg.capture.engine,
        spec.bpf.as_deref().unwrap_or("no filter")
    );
    let stats = live::capture(sources, &spec, sink.as_mut(), &cfg, &STOP)?;
    if let Some(code) = report(&stats, &cfg, &dir, json, quiet)? {
        return Ok(code);
    }
    if stats.capture.iter().any(|c| c.error.is_some()) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Becomes user `name` (its groups too), after handing it the directories the run
/// writes into, as `tcpdump -Z` does.
#[cfg(unix)]
fn drop_privileges(name: &str, dirs: &[PathBuf]) -> Result<()> {
    use nix::unistd::{Gid, Uid, User, chown, initgroups, setgid, setuid};
    let u = User::from_name(name)
        .with_context(|| format!("--user {name}"))?
        .with_context(|| format!("--user {name}: no such user"))?;
    for d in dirs {
        std::fs::create_dir_all(d).with_context(|| format!("{}", d.display()))?;
        chown(d, Some(u.uid), Some(u.gid)).with_context(|| format!("chown {}", d.display()))?;
    }
    let cname = std::ffi::CString::new(name).context("--user")?;
    initgroups(&cname, u.gid).context("initgroups")?;
    setgid(u.gid).context("setgid")?;
    setuid(u.uid).context("setuid")?;
    // There is no way back.
    if u.uid != Uid::from_raw(0)
        && (setuid(Uid::from_raw(0)).is_ok() || setgid(Gid::from_raw(0)).is_ok())
    {
        bail!("--user {name}: root privileges could be regained");
    }
    tracing::info!("running as {name} (uid {}, gid {})", u.uid, u.gid);
    Ok(())
}

#[cfg(not(unix))]
fn run_capture(_: CaptureArgs, _: Common, _: bool) -> Result<ExitCode> {
    bail!("live capture needs Linux (af-packet) or a Unix libpcap")
}

fn print_interfaces(json: bool) -> Result<ExitCode> {
    let all = wirehouse_capture::interfaces::list().context("listing interfaces")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    use wirehouse_capture::interfaces::Connection;
    for (n, i) in all.iter().enumerate() {
        let mut flags = Vec::new();
        for (on, name) in [
            (i.up, "Up"),
            (i.running, "Running"),
            (i.loopback, "Loopback"),
            (i.wireless, "Wireless"),
        ] {
            if on {
                flags.push(name);
            }
        }
        flags.push(match i.connection {
            Connection::Connected => "Connected",
            Connection::Disconnected => "Disconnected",
            Connection::NotApplicable => "Connection status not applicable",
            Connection::Unknown => "Connection status unknown",
        });
        let desc = if i.description.is_empty() {
            String::new()
        } else {
            format!(" ({})", i.description)
        };
        println!("{}. {}{desc} [{}]", n + 1, i.name, flags.join(", "));
        for a in &i.addresses {
            let mut line = format!("     {}", a.addr);
            if let Some(m) = a.netmask {
                line.push_str(&format!(" netmask {m}"));
            }
            if let Some(b) = a.broadcast {
                line.push_str(&format!(" broadcast {b}"));
            }
            if let Some(p) = a.peer {
                line.push_str(&format!(" peer {p}"));
            }
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_schema(sink: SinkKind, ch: ClickHouseOptions) {
    if let SinkKind::Clickhouse = sink {
        print!("{}", wirehouse_pipeline::clickhouse_schema(&ch));
        return;
    }
    for t in wirehouse_pipeline::tables() {
        match sink {
            SinkKind::Clickhouse => {}
            SinkKind::Parquet => {
                println!("# {} — {}\n", t.name, t.doc.trim());
                println!("| column | type | nullable | meaning |\n|---|---|---|---|");
                for c in t.columns {
                    println!(
                        "| {} | {} | {} | {} |",
                        c.name,
                        c.kind.arrow_type(),
                        c.nullable,
                        c.doc.trim()
                    );
                }
                println!();
            }
        }
    }
}

fn main() -> ExitCode {
    malloc::tune();
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => tracing::Level::ERROR,
        (false, 0) => tracing::Level::INFO,
        (false, 1) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.cmd {
        Cmd::Convert {
            inputs,
            common,
            no_progress,
        } => run_convert(
            inputs,
            common,
            !no_progress && !cli.quiet && std::io::stderr().is_terminal(),
            cli.quiet,
        ),
        Cmd::Capture { args, common } => run_capture(args, common, cli.quiet),
        Cmd::Schema {
            sink,
            database,
            cluster,
            ttl_days,
        } => {
            let ch = ClickHouseOptions {
                database,
                cluster,
                ttl_days,
            };
            print_schema(sink, ch);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Interfaces { json } => print_interfaces(json),
        Cmd::Protocols => {
            println!(
                "{:<12} {:>5} {:<9} default ports",
                "name", "id", "transport"
            );
            for p in wirehouse_l7::registry() {
                let ports: Vec<String> = p.default_ports.iter().map(u16::to_string).collect();
                println!(
                    "{:<12} {:>5} {:<9} {}",
                    p.name,
                    p.id,
                    p.transport.as_str(),
                    ports.join(",")
                );
            }
            if wirehouse_l7::REGISTRY.is_empty() {
                eprintln!("(no application protocol parsers are registered in this build)");
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}", causes(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `: `-separated like `{:#}`, but without a cause whose text
/// the message before it already ends with (an error that prints its source, as
/// `path: No such file or directory (os error 2)` does, and also returns it as its
/// source would otherwise show it twice).
fn causes(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for c in e.chain() {
        let c = c.to_string();
        if s.is_empty() {
            s = c;
        } else if !s.ends_with(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_encodes_parquet_on_the_sink_thread() {
        let threads = |workers, encode_threads| {
            let mut cfg = Config::default();
            cfg.pipeline.workers = workers;
            cfg.output.parquet.encode_threads = encode_threads;
            parquet_options(&cfg).encode_threads
        };
        // Automatic: the sink's own thread for one worker, one per core (0) otherwise.
        assert_eq!(threads(1, 0), 1);
        assert_eq!(threads(2, 0), 0);
        assert_eq!(threads(0, 0), 0);
        // Set explicitly: kept whatever the workers.
        assert_eq!(threads(1, 3), 3);
        assert_eq!(threads(2, 1), 1);
    }
}
