//! The ClickHouse sink, split by role like Vector's: [`config`] (settings, the URL form),
//! [`service`] (HTTP requests and error classification), [`spool`] (batches waiting for
//! ClickHouse), and the sink here: batching by rows / bytes / age, inserts in flight,
//! retries with backoff and jitter, deduplication tokens, dead letters, replay.
//!
//! Outcomes are counted in [`SinkSummary::counters`]: `inserted_batches`,
//! `inserted_rows`, `retries`, `spooled_batches`, `replayed_batches`,
//! `dead_letter_batches`, `dead_letter_rows`, `spool_dropped_batches`,
//! `spool_left_batches`, `spool_left_bytes`.

pub mod config;
pub mod service;
pub mod spool;

use crate::parquet::{ParquetOptions, ParquetSink};
use crate::{Sink, SinkError, SinkSummary};
use arrow_array::RecordBatch;
use config::{ClickHouseConfig, Endpoint};
use crossbeam_channel::{Sender, bounded};
use service::{ChError, Client};
use spool::Spool;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wirehouse_schema::{
    ClickHouseOptions, TableDef, clickhouse_database_ddl, clickhouse_ddl, clickhouse_type,
};

struct Job {
    seq: u64,
    table: &'static TableDef,
    token: String,
    rows: u64,
    body: Vec<u8>,
}

#[derive(Default)]
struct Pending {
    batches: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
    since: Option<Instant>,
}

struct Shared {
    client: Client,
    endpoint: Endpoint,
    cfg: ClickHouseConfig,
    tables: Vec<&'static TableDef>,
    spool: Spool,
    outage: AtomicBool,
    closing: AtomicBool,
    schema_ok: AtomicBool,
    fatal: Mutex<Option<String>>,
    counters: Mutex<BTreeMap<String, u64>>,
    rows: Mutex<BTreeMap<&'static str, u64>>,
    dead: Mutex<Option<ParquetSink>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn count(&self, k: &str, n: u64) {
        *lock(&self.counters).entry(k.to_string()).or_default() += n;
    }

    fn table(&self, name: &str) -> Option<&'static TableDef> {
        self.tables.iter().copied().find(|t| t.name == name)
    }

    fn stored(&self, table: &'static str, rows: u64) {
        *lock(&self.rows).entry(table).or_default() += rows;
    }

    fn err(&self, message: impl std::fmt::Display) -> SinkError {
        SinkError::ClickHouse {
            endpoint: format!("{:?}", self.endpoint),
            message: message.to_string(),
        }
    }

    /// Creates what is missing and checks that every table has the declared columns.
    fn ensure_schema(&self) -> Result<(), ChError> {
        let db = &self.endpoint.database;
        let opts = ClickHouseOptions {
            database: db.clone(),
            ..Default::default()
        };
        if self.cfg.create_tables {
            self.client.query(&clickhouse_database_ddl(&opts))?;
            for t in &self.tables {
                self.client.query(&clickhouse_ddl(t, &opts))?;
            }
        }
        let mut problems = Vec::new();
        for t in &self.tables {
            let have = self.client.query(&format!(
                "SELECT name, type FROM system.columns WHERE database = '{db}' AND table = '{}' ORDER BY position FORMAT TabSeparatedRaw",
                t.name
            ))?;
            let have: Vec<(String, String)> = have
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .map(|(n, ty)| (n.to_string(), ty.to_string()))
                .collect();
            if have.is_empty() {
                problems.push(format!("table {db}.{} does not exist", t.name));
                continue;
            }
            for c in t.columns {
                let want = clickhouse_type(c);
                match have.iter().find(|(n, _)| n == c.name) {
                    None => problems.push(format!("{}.{}: missing (want {want})", t.name, c.name)),
                    Some((_, ty)) if *ty != want => {
                        problems.push(format!("{}.{}: is {ty}, want {want}", t.name, c.name))
                    }
                    _ => {}
                }
            }
            for (n, ty) in &have {
                if !t.columns.iter().any(|c| c.name == n) {
                    problems.push(format!("{}.{n}: not declared ({ty})", t.name));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ChError {
                permanent: true,
                code: None,
                message: format!(
                    "existing tables differ from wirehouse's schema (see `wirehouse schema --sink clickhouse`): {}",
                    problems.join("; ")
                ),
            })
        }
    }

    /// One insert with retries; Err when it cannot succeed or attempts ran out.
    fn insert(&self, table: &str, token: &str, body: &[u8]) -> Result<(), ChError> {
        let mut delay = self.cfg.backoff_initial_ms.max(1);
        let attempts = self.cfg.attempts.max(1);
        let mut last = None;
        for attempt in 1..=attempts {
            match self
                .client
                .insert(&self.endpoint.database, table, token, body)
            {
                Ok(()) => return Ok(()),
                Err(e) if e.permanent => return Err(e),
                Err(e) => {
                    tracing::debug!(table, attempt, error = %e, "insert failed");
                    last = Some(e)
                }
            }
            if attempt < attempts {
                self.count("retries", 1);
                std::thread::sleep(jitter(delay));
                delay = (delay * 2).min(self.cfg.backoff_max_ms.max(1));
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn spool(&self, job: &Job) {
        match self
            .spool
            .put(job.seq, job.table.name, job.rows, &job.token, &job.body)
        {
            Ok(dropped) => {
                self.count("spooled_batches", 1);
                self.count("spool_dropped_batches", dropped);
            }
            Err(e) => {
                *lock(&self.fatal) = Some(format!("spool {}: {e}", self.cfg.spool_dir));
            }
        }
    }

    /// A batch ClickHouse will never take: kept as Parquet in the dead-letter directory.
    fn dead_letter(&self, table: &'static TableDef, body: &[u8], rows: u64, e: &ChError) {
        tracing::error!(table = table.name, rows, error = %e, "ClickHouse rejected a batch; written to the dead-letter directory");
        self.count("dead_letter_batches", 1);
        self.count("dead_letter_rows", rows);
        let mut dead = lock(&self.dead);
        if dead.is_none() {
            match ParquetSink::new(&self.cfg.dead_letter_dir, ParquetOptions::default()) {
                Ok(s) => *dead = Some(s),
                Err(e) => {
                    *lock(&self.fatal) = Some(format!("dead-letter directory: {e}"));
                    return;
                }
            }
        }
        let sink = dead.as_mut().expect("created above");
        match arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None) {
            Ok(reader) => {
                for b in reader.flatten() {
                    if let Err(e) = sink.write(table, b) {
                        *lock(&self.fatal) = Some(format!("dead-letter directory: {e}"));
                    }
                }
            }
            Err(e) => *lock(&self.fatal) = Some(format!("dead-letter decode: {e}")),
        }
    }

    /// Sends one job: straight to ClickHouse, or to the spool while it is away.
    fn handle(&self, job: Job) {
        if self.outage.load(Ordering::SeqCst) {
            self.spool(&job);
            return;
        }
        match self.insert(job.table.name, &job.token, &job.body) {
            Ok(()) => {
                self.count("inserted_batches", 1);
                self.count("inserted_rows", job.rows);
                self.stored(job.table.name, job.rows);
            }
            Err(e) if e.permanent => self.dead_letter(job.table, &job.body, job.rows, &e),
            Err(e) => {
                if !self.outage.swap(true, Ordering::SeqCst) {
                    tracing::warn!(error = %e, "ClickHouse unreachable; spooling batches until it is back");
                }
                self.spool(&job);
            }
        }
    }

    /// Replays the spool oldest first whenever ClickHouse answers; ends when closing and
    /// the spool is empty (or the drain timeout passed).
    fn replay_loop(&self) {
        let mut delay = self.cfg.backoff_initial_ms.max(1);
        let mut closing_since: Option<Instant> = None;
        loop {
            if self.closing.load(Ordering::SeqCst) && closing_since.is_none() {
                closing_since = Some(Instant::now());
            }
            let Some(entry) = self.spool.oldest() else {
                self.outage.store(false, Ordering::SeqCst);
                if closing_since.is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            if closing_since
                .is_some_and(|t| t.elapsed() > Duration::from_secs(self.cfg.drain_timeout_s))
            {
                return;
            }
            let result = if self.schema_ok.load(Ordering::SeqCst) {
                Ok(())
            } else {
                self.ensure_schema()
                    .map(|()| self.schema_ok.store(true, Ordering::SeqCst))
            };
            let result = result.and_then(|()| {
                let body = std::fs::read(&entry.path).map_err(|e| ChError {
                    permanent: true,
                    code: None,
                    message: format!("{}: {e}", entry.path.display()),
                })?;
                let r =
                    self.client
                        .insert(&self.endpoint.database, &entry.table, &entry.token, &body);
                match (&r, self.table(&entry.table)) {
                    (Err(e), Some(t)) if e.permanent && self.schema_ok.load(Ordering::SeqCst) => {
                        self.dead_letter(t, &body, entry.rows, e);
                        Ok(())
                    }
                    _ => r.map(|()| {
                        self.count("replayed_batches", 1);
                        self.count("inserted_rows", entry.rows);
                        if let Some(t) = self.table(&entry.table) {
                            self.stored(t.name, entry.rows);
                        }
                    }),
                }
            });
            match result {
                Ok(()) => {
                    delay = self.cfg.backoff_initial_ms.max(1);
                    if let Err(e) = self.spool.remove(&entry) {
                        *lock(&self.fatal) = Some(format!("spool: {e}"));
                        return;
                    }
                }
                Err(e) if e.permanent => {
                    *lock(&self.fatal) = Some(e.message);
                    return;
                }
                Err(_) => {
                    std::thread::sleep(jitter(delay));
                    delay = (delay * 2).min(self.cfg.backoff_max_ms.max(1));
                }
            }
        }
    }
}

/// `ms` milliseconds, ±25 %.
fn jitter(ms: u64) -> Duration {
    let nanos = Instant::now().elapsed().subsec_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
    let spread = ms / 2;
    let off = if spread == 0 { 0 } else { nanos % (spread + 1) };
    Duration::from_millis(ms - ms / 4 + off)
}

/// Arrow IPC stream (zstd-compressed buffers) of `batches`.
fn encode(batches: &[RecordBatch]) -> Result<Vec<u8>, arrow_schema::ArrowError> {
    let schema = batches[0].schema();
    let opts = arrow_ipc::writer::IpcWriteOptions::default()
        .try_with_compression(Some(arrow_ipc::CompressionType::ZSTD))?;
    let mut w = arrow_ipc::writer::StreamWriter::try_new_with_options(Vec::new(), &schema, opts)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    w.into_inner()
}

/// Inserts record batches into ClickHouse tables over HTTP.
pub struct ClickHouseSink {
    shared: Arc<Shared>,
    pending: HashMap<&'static str, (&'static TableDef, Pending)>,
    jobs: Option<Sender<Job>>,
    inserters: Vec<JoinHandle<()>>,
    replayer: Option<JoinHandle<()>>,
    run: String,
    seq: AtomicU64,
}

impl ClickHouseSink {
    /// Connects to `url` (`http[s]://HOST:PORT/DATABASE`), creates or checks `tables`,
    /// and starts replaying what an earlier run left in the spool. An unreachable server
    /// is not an error (batches are spooled); a schema mismatch or rejected credentials is.
    pub fn new(
        url: &str,
        mut cfg: ClickHouseConfig,
        tables: Vec<&'static TableDef>,
    ) -> Result<Self, SinkError> {
        let endpoint = Endpoint::parse(url).map_err(|message| SinkError::ClickHouse {
            endpoint: url.split('@').next_back().unwrap_or(url).to_string(),
            message,
        })?;
        if let Ok(u) = std::env::var("WIREHOUSE_CLICKHOUSE_USER") {
            cfg.user = u;
        } else if let Some(u) = &endpoint.user {
            cfg.user = u.clone();
        }
        if let Ok(p) = std::env::var("WIREHOUSE_CLICKHOUSE_PASSWORD") {
            cfg.password = p;
        } else if let Some(p) = &endpoint.password {
            cfg.password = p.clone();
        }
        let client = Client::new(
            &endpoint.base,
            &cfg.user,
            &cfg.password,
            Duration::from_secs(cfg.timeout_s.max(1)),
        );
        let spool = Spool::open(
            std::path::Path::new(&cfg.spool_dir),
            cfg.spool_max_bytes,
            cfg.spool_full,
        )
        .map_err(|source| SinkError::Io {
            path: cfg.spool_dir.clone().into(),
            source,
        })?;
        let next_seq = spool.max_seq().map_or(0, |s| s + 1);
        let leftover = spool.size();
        let shared = Arc::new(Shared {
            client,
            endpoint,
            cfg,
            tables,
            spool,
            outage: AtomicBool::new(leftover.0 > 0),
            closing: AtomicBool::new(false),
            schema_ok: AtomicBool::new(false),
            fatal: Mutex::new(None),
            counters: Mutex::new(BTreeMap::new()),
            rows: Mutex::new(BTreeMap::new()),
            dead: Mutex::new(None),
        });
        if leftover.0 > 0 {
            tracing::info!(
                batches = leftover.0,
                bytes = leftover.1,
                "replaying the spool left by an earlier run first"
            );
        }
        match shared.ensure_schema() {
            Ok(()) => shared.schema_ok.store(true, Ordering::SeqCst),
            Err(e) if e.permanent => return Err(shared.err(e)),
            Err(e) => {
                tracing::warn!(error = %e, "ClickHouse unreachable at start; spooling batches until it is back");
                shared.outage.store(true, Ordering::SeqCst);
            }
        }
        let n = shared.cfg.max_inflight.max(1);
        let (tx, rx) = bounded::<Job>(n);
        let inserters = (0..n)
            .map(|_| {
                let (sh, rx) = (shared.clone(), rx.clone());
                std::thread::spawn(move || {
                    for job in rx {
                        sh.handle(job);
                    }
                })
            })
            .collect();
        let sh = shared.clone();
        let replayer = Some(std::thread::spawn(move || sh.replay_loop()));
        let run = format!(
            "{:x}{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0),
            std::process::id()
        );
        Ok(Self {
            shared,
            pending: HashMap::new(),
            jobs: Some(tx),
            inserters,
            replayer,
            run,
            seq: AtomicU64::new(next_seq),
        })
    }

    fn check(&self) -> Result<(), SinkError> {
        match lock(&self.shared.fatal).clone() {
            Some(m) => Err(self.shared.err(m)),
            None => Ok(()),
        }
    }

    fn flush(&mut self, table: &'static str) -> Result<(), SinkError> {
        let Some((def, p)) = self.pending.get_mut(table) else {
            return Ok(());
        };
        let def = *def;
        let p = std::mem::take(p);
        if p.rows == 0 {
            return Ok(());
        }
        let merged = arrow_select::concat::concat_batches(&p.batches[0].schema(), &p.batches)
            .map_err(|source| SinkError::Arrow {
                table: def.name,
                source,
            })?;
        let step = self.shared.cfg.batch_rows.max(1);
        let mut off = 0;
        while off < merged.num_rows() {
            let part = merged.slice(off, step.min(merged.num_rows() - off));
            off += part.num_rows();
            let body = encode(std::slice::from_ref(&part)).map_err(|source| SinkError::Arrow {
                table: def.name,
                source,
            })?;
            let seq = self.seq.fetch_add(1, Ordering::SeqCst);
            let job = Job {
                seq,
                table: def,
                token: format!("{}-{seq}", self.run),
                rows: part.num_rows() as u64,
                body,
            };
            if let Some(tx) = &self.jobs {
                // Bounded: at most max_inflight inserts queued (backpressure).
                let _ = tx.send(job);
            }
        }
        self.check()
    }
}

impl Sink for ClickHouseSink {
    fn write(&mut self, table: &'static TableDef, batch: RecordBatch) -> Result<(), SinkError> {
        self.check()?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let cfg = self.shared.clone();
        let cfg = &cfg.cfg;
        let (_, p) = self
            .pending
            .entry(table.name)
            .or_insert_with(|| (table, Pending::default()));
        p.since.get_or_insert_with(Instant::now);
        p.rows += batch.num_rows();
        p.bytes += batch.get_array_memory_size();
        p.batches.push(batch);
        let full = p.rows >= cfg.batch_rows || p.bytes >= cfg.batch_bytes;
        if full {
            self.flush(table.name)?;
        }
        self.tick()
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        // Every table whose oldest pending rows are old enough goes.
        let age = Duration::from_millis(self.shared.cfg.batch_age_ms);
        let due: Vec<&'static str> = self
            .pending
            .iter()
            .filter(|(_, (_, p))| p.since.is_some_and(|s| s.elapsed() >= age))
            .map(|(k, _)| *k)
            .collect();
        for t in due {
            self.flush(t)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<SinkSummary, SinkError> {
        let names: Vec<&'static str> = self.pending.keys().copied().collect();
        for t in names {
            self.flush(t)?;
        }
        self.jobs = None;
        for h in self.inserters.drain(..) {
            let _ = h.join();
        }
        self.shared.closing.store(true, Ordering::SeqCst);
        if let Some(h) = self.replayer.take() {
            let _ = h.join();
        }
        if let Some(mut dead) = lock(&self.shared.dead).take() {
            dead.close()?;
        }
        let (left, left_bytes) = self.shared.spool.size();
        self.shared.count("spool_left_batches", left as u64);
        self.shared.count("spool_left_bytes", left_bytes);
        if left > 0 {
            tracing::warn!(batches = left, dir = %self.shared.cfg.spool_dir, "ClickHouse did not take every batch; they stay in the spool for the next run");
        }
        self.check()?;
        Ok(SinkSummary {
            rows: lock(&self.shared.rows).clone(),
            files: Vec::new(),
            counters: lock(&self.shared.counters).clone(),
            discarded: false,
        })
    }
}
