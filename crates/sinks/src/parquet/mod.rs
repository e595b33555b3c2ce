//! The Parquet sink: one open file per (table, day), rolled by row count and by age, zstd,
//! written atomically (hidden `.inprogress` name, renamed on close).

use crate::{Sink, SinkError, SinkSummary};
use arrow_array::{Array, BooleanArray, RecordBatch, TimestampMicrosecondArray};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wirehouse_schema::{ColumnDef, Kind, TableDef};

mod columns;
use columns::ColumnWriter;

/// Parquet sink settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParquetOptions {
    /// Rows per file before a new file is started.
    pub max_rows_per_file: u64,
    /// Rows per row group.
    pub row_group_rows: usize,
    /// zstd level (1–22). The default, 1, spends two thirds of level 3's instructions
    /// on compression for files 0.5 % larger (mix.pcap: 5.16 -> 5.19 MB, the whole run
    /// 1.4 % fewer instructions, -w 1 4.7 % less CPU).
    pub zstd_level: i32,
    /// Most files open at once (one per table and day); the least recently written is closed.
    pub max_open_files: usize,
    /// Seconds (wall clock) a file stays open at most before it is completed, so a long
    /// live capture's files become visible; the next rows start a new file. 0 = no limit.
    pub max_file_seconds: u64,
    /// Threads that encode the columns of a batch in parallel (0 = one per core, 1 = on
    /// the sink's own thread). `wirehouse` itself passes 1 for a 0 when the run has a
    /// single worker.
    pub encode_threads: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            max_rows_per_file: 5_000_000,
            row_group_rows: 1 << 18,
            zstd_level: 1,
            max_open_files: 16,
            max_file_seconds: 60,
            encode_threads: 0,
        }
    }
}

struct OpenFile {
    writer: ColumnWriter,
    tmp: PathBuf,
    path: PathBuf,
    rows: u64,
    last_use: u64,
    /// When the file was created (for `max_file_seconds`).
    opened: Instant,
}

/// Writes `DIR/<table>/date=YYYY-MM-DD/part-<run>-<n>.parquet`.
pub struct ParquetSink {
    dir: PathBuf,
    opts: ParquetOptions,
    run: String,
    seq: u64,
    tick: u64,
    open: HashMap<(&'static str, i64), OpenFile>,
    summary: SinkSummary,
    /// Where the columns are encoded (`None`: on the sink's thread).
    pool: Option<Arc<rayon::ThreadPool>>,
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01), proleptic Gregorian.
pub fn civil_date(days: i64) -> String {
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

const DAY_US: i64 = 86_400_000_000;

/// Times and integer measures (durations, byte and packet counts) are stored
/// DELTA_BINARY_PACKED without a dictionary: their values rarely repeat, so a dictionary
/// costs a hash per value, a dictionary page as large as the data and compresses worse
/// than the bit-packed differences (mix.pcap: `l7_sessions` 5.15 -> 4.56 MB, and 18 %
/// fewer instructions in the sink). `flow_id` (every DNS row of a flow carries it) and
/// status codes repeat and keep the dictionary.
fn delta_encoded(c: &ColumnDef) -> bool {
    match c.kind {
        Kind::Timestamp => true,
        Kind::U64 | Kind::I64 => !(c.name == "flow_id" || c.name.ends_with("_code")),
        _ => false,
    }
}

/// Columns whose values hardly repeat within a row group but are not measures: the
/// client's (ephemeral) port, and `flows.flow_id` (one row per flow). They are stored
/// PLAIN: a dictionary costs a hash per value and a dictionary page as large as the data
/// (mix.pcap: `flows` 823 -> 753 kB, `l7_sessions` 4,241 -> 4,213 kB, 0.3 % fewer
/// instructions).
fn plain_encoded(table: &TableDef, c: &ColumnDef) -> bool {
    c.name == "client_port" || (table.name == "flows" && c.name == "flow_id")
}

impl ParquetSink {
    /// A sink writing under `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>, opts: ParquetOptions) -> Result<Self, SinkError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| SinkError::Io {
            path: dir.clone(),
            // create_dir_all fails with "File exists" only when `dir` is something other
            // than a directory; say so.
            source: match e.kind() {
                std::io::ErrorKind::AlreadyExists => std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "exists and is not a directory",
                ),
                _ => e,
            },
        })?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let run = format!("{now}-{}", std::process::id());
        let threads = match opts.encode_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let pool = if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("parquet-{i}"))
                .build()
                .map_err(|e| SinkError::Io {
                    path: dir.clone(),
                    source: std::io::Error::other(e),
                })?;
            Some(Arc::new(pool))
        } else {
            None
        };
        Ok(Self {
            dir,
            opts,
            run,
            seq: 0,
            tick: 0,
            open: HashMap::new(),
            summary: SinkSummary::default(),
            pool,
        })
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn open_file(
        &mut self,
        table: &'static TableDef,
        day: i64,
        schema: Arc<arrow_schema::Schema>,
    ) -> Result<OpenFile, SinkError> {
        let part_dir = self
            .dir
            .join(table.name)
            .join(format!("date={}", civil_date(day)));
        std::fs::create_dir_all(&part_dir).map_err(|source| SinkError::Io {
            path: part_dir.clone(),
            source,
        })?;
        self.seq += 1;
        let name = format!("part-{}-{:05}.parquet", self.run, self.seq);
        let path = part_dir.join(&name);
        let tmp = part_dir.join(format!(".{name}.inprogress"));
        let file = File::create(&tmp).map_err(|source| SinkError::Io {
            path: tmp.clone(),
            source,
        })?;
        let level = ZstdLevel::try_new(self.opts.zstd_level).unwrap_or_default();
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(self.opts.row_group_rows))
            .set_created_by(format!("wirehouse {}", env!("CARGO_PKG_VERSION")));
        // Min/max of free text (paths, SQL, answers, attributes) prunes nothing and costs
        // a comparison per value: statistics only where they help (times, numbers,
        // addresses, low-cardinality names).
        for c in table.columns {
            let paths: Vec<ColumnPath> = match c.kind {
                Kind::Str => vec![ColumnPath::from(c.name)],
                Kind::Map => ["key", "value"]
                    .iter()
                    .map(|leaf| {
                        ColumnPath::new(vec![c.name.into(), "entries".into(), (*leaf).into()])
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for p in paths {
                props = props.set_column_statistics_enabled(p, EnabledStatistics::None);
            }
            if plain_encoded(table, c) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(c.name), false);
            }
            if delta_encoded(c) {
                let p = ColumnPath::from(c.name);
                props = props
                    .set_column_dictionary_enabled(p.clone(), false)
                    .set_column_encoding(p, Encoding::DELTA_BINARY_PACKED);
            }
        }
        let props = props.build();
        let writer =
            ColumnWriter::try_new(file, schema, props, self.pool.clone()).map_err(|source| {
                SinkError::Parquet {
                    path: tmp.clone(),
                    source,
                }
            })?;
        Ok(OpenFile {
            writer,
            tmp,
            path,
            rows: 0,
            last_use: 0,
            opened: Instant::now(),
        })
    }

    fn finish_file(&mut self, f: OpenFile) -> Result<(), SinkError> {
        let file = f.writer.into_inner().map_err(|source| SinkError::Parquet {
            path: f.tmp.clone(),
            source,
        })?;
        file.sync_all().map_err(|source| SinkError::Io {
            path: f.tmp.clone(),
            source,
        })?;
        drop(file);
        std::fs::rename(&f.tmp, &f.path).map_err(|source| SinkError::Io {
            path: f.path.clone(),
            source,
        })?;
        self.summary.files.push(f.path);
        Ok(())
    }

    /// Completes every open file older than `max_file_seconds`, as if it had reached
    /// `max_rows_per_file`: later rows of its table and day start a new file. Called by
    /// `tick` and, since rows arriving all the time mean no tick, after every `write`.
    fn finish_aged_files(&mut self) -> Result<(), SinkError> {
        if self.opts.max_file_seconds == 0 {
            return Ok(());
        }
        let max_age = Duration::from_secs(self.opts.max_file_seconds);
        let mut aged: Vec<(&'static str, i64)> = self
            .open
            .iter()
            .filter(|(_, f)| f.opened.elapsed() >= max_age)
            .map(|(k, _)| *k)
            .collect();
        aged.sort_unstable();
        for key in aged {
            if let Some(f) = self.open.remove(&key) {
                self.finish_file(f)?;
            }
        }
        Ok(())
    }

    fn write_day(
        &mut self,
        table: &'static TableDef,
        day: i64,
        batch: &RecordBatch,
    ) -> Result<(), SinkError> {
        let key = (table.name, day);
        if !self.open.contains_key(&key) {
            if self.open.len() >= self.opts.max_open_files.max(1) {
                let oldest = self
                    .open
                    .iter()
                    .min_by_key(|(_, f)| f.last_use)
                    .map(|(k, _)| *k);
                if let Some(f) = oldest.and_then(|k| self.open.remove(&k)) {
                    self.finish_file(f)?;
                }
            }
            let f = self.open_file(table, day, batch.schema())?;
            self.open.insert(key, f);
        }
        self.tick += 1;
        let tick = self.tick;
        let f = self.open.get_mut(&key).expect("opened above");
        f.writer.write(batch).map_err(|source| SinkError::Parquet {
            path: f.tmp.clone(),
            source,
        })?;
        f.rows += batch.num_rows() as u64;
        f.last_use = tick;
        if f.rows >= self.opts.max_rows_per_file {
            let f = self.open.remove(&key).expect("present");
            self.finish_file(f)?;
        }
        Ok(())
    }
}

impl Sink for ParquetSink {
    fn write(&mut self, table: &'static TableDef, batch: RecordBatch) -> Result<(), SinkError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        *self.summary.rows.entry(table.name).or_default() += batch.num_rows() as u64;
        let ts = batch
            .column(table.time_index())
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("the time column is a microsecond timestamp");
        let days: Vec<i64> = ts.values().iter().map(|v| v.div_euclid(DAY_US)).collect();
        let first = days[0];
        if days.iter().all(|&d| d == first) {
            self.write_day(table, first, &batch)?;
            return self.finish_aged_files();
        }
        let mut distinct: Vec<i64> = days.clone();
        distinct.sort_unstable();
        distinct.dedup();
        for day in distinct {
            let mask = BooleanArray::from(days.iter().map(|&d| d == day).collect::<Vec<_>>());
            let part =
                arrow_select::filter::filter_record_batch(&batch, &mask).map_err(|source| {
                    SinkError::Arrow {
                        table: table.name,
                        source,
                    }
                })?;
            self.write_day(table, day, &part)?;
        }
        self.finish_aged_files()
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        self.finish_aged_files()
    }

    fn close(&mut self) -> Result<SinkSummary, SinkError> {
        let mut open: Vec<_> = self.open.drain().collect();
        open.sort_by_key(|(k, _)| *k);
        for (_, f) in open {
            self.finish_file(f)?;
        }
        let mut s = std::mem::take(&mut self.summary);
        s.files.sort();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use wirehouse_schema::Timestamp;

    wirehouse_schema::table! {
        /// test rows
        table "events" as EventRow, EventBuilder;
        time_column time;
        order_by [time];
        columns {
            /// when
            time: Timestamp,
            /// what
            what: String,
        }
    }

    wirehouse_schema::table! {
        /// test rows with measures and an identifier
        table "measured" as MeasuredRow, MeasuredBuilder;
        time_column time;
        order_by [time];
        columns {
            /// when
            time: Timestamp,
            /// which flow
            flow_id: u64,
            /// how much
            bytes: u64,
            /// how it ended
            response_code: Option<i64>,
        }
    }

    #[test]
    fn times_and_measures_are_delta_encoded_identifiers_keep_the_dictionary() {
        let dir = std::env::temp_dir().join(format!("wh-sink-enc-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut sink = ParquetSink::new(&dir, ParquetOptions::default()).unwrap();
        let rows: Vec<MeasuredRow> = (0..5000i64)
            .map(|i| MeasuredRow {
                time: Timestamp(1_704_153_000_000_000 + i * 1_337 + (i % 7) * 50),
                flow_id: (i as u64 / 40).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                bytes: (i as u64 * 7919) % 100_003,
                response_code: (i % 5 != 0).then_some(200 + (i % 3) * 100),
            })
            .collect();
        let mut b = MeasuredBuilder::with_capacity(rows.len());
        for r in &rows {
            b.append(r);
        }
        sink.write(&MeasuredRow::TABLE, b.finish()).unwrap();
        let s = sink.close().unwrap();
        assert_eq!(s.files.len(), 1);
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&s.files[0]).unwrap()).unwrap();
        let meta = reader.metadata().row_group(0).clone();
        for col in meta.columns() {
            let name = col.column_path().string();
            let delta = col.encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED);
            let dict = col.dictionary_page_offset().is_some();
            match name.as_str() {
                "time" | "bytes" => assert!(
                    delta && !dict,
                    "{name}: {:?}",
                    col.encodings().collect::<Vec<_>>()
                ),
                "flow_id" | "response_code" => assert!(dict && !delta, "{name}"),
                other => panic!("unexpected column {other}"),
            }
        }
        // The values come back as written.
        let mut i = 0;
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            use arrow_array::cast::AsArray;
            use arrow_array::types::{Int64Type, TimestampMicrosecondType, UInt64Type};
            let time = batch.column(0).as_primitive::<TimestampMicrosecondType>();
            let flow = batch.column(1).as_primitive::<UInt64Type>();
            let bytes = batch.column(2).as_primitive::<UInt64Type>();
            let code = batch.column(3).as_primitive::<Int64Type>();
            for j in 0..batch.num_rows() {
                let r = &rows[i];
                assert_eq!(time.value(j), r.time.0, "row {i}");
                assert_eq!(flow.value(j), r.flow_id, "row {i}");
                assert_eq!(bytes.value(j), r.bytes, "row {i}");
                assert_eq!(
                    code.is_valid(j).then(|| code.value(j)),
                    r.response_code,
                    "row {i}"
                );
                i += 1;
            }
        }
        assert_eq!(i, rows.len());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(-1), "1969-12-31");
    }

    #[test]
    fn batches_split_by_day_and_files_appear_only_when_complete() {
        let dir = std::env::temp_dir().join(format!("wh-sink-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut sink = ParquetSink::new(
            &dir,
            ParquetOptions {
                max_rows_per_file: 3,
                ..Default::default()
            },
        )
        .unwrap();
        let mut b = EventBuilder::with_capacity(8);
        // 2024-01-01 23:59:59 and 2024-01-02 00:00:01 UTC.
        for (i, t) in [
            1_704_153_599i64,
            1_704_153_601,
            1_704_153_599,
            1_704_153_599,
        ]
        .iter()
        .enumerate()
        {
            b.append(&EventRow {
                time: Timestamp(t * 1_000_000),
                what: format!("e{i}"),
            });
        }
        sink.write(&EventRow::TABLE, b.finish()).unwrap();
        // Three rows of day one reached max_rows_per_file: that file is complete.
        let day1 = dir.join("events/date=2024-01-01");
        let names: Vec<String> = std::fs::read_dir(&day1)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].ends_with(".parquet") && !names[0].starts_with('.'));
        let day2 = dir.join("events/date=2024-01-02");
        let pending: Vec<String> = std::fs::read_dir(&day2)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(pending[0].starts_with('.') && pending[0].ends_with(".inprogress"));
        let s = sink.close().unwrap();
        assert_eq!(s.rows["events"], 4);
        assert_eq!(s.files.len(), 2);
        let mut total = 0;
        for f in &s.files {
            let r = ParquetRecordBatchReaderBuilder::try_new(File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap();
            for b in r {
                total += b.unwrap().num_rows();
            }
        }
        assert_eq!(total, 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_are_completed_by_age() {
        let dir = std::env::temp_dir().join(format!("wh-sink-age-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut sink = ParquetSink::new(
            &dir,
            ParquetOptions {
                max_file_seconds: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let batch = |what: &str| {
            let mut b = EventBuilder::with_capacity(1);
            b.append(&EventRow {
                time: Timestamp(1_704_153_599 * 1_000_000),
                what: what.into(),
            });
            b.finish()
        };
        sink.write(&EventRow::TABLE, batch("first")).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        // No more rows: the sink thread ticks, and the file is older than a second.
        sink.tick().unwrap();
        let day = dir.join("events/date=2024-01-01");
        let names: Vec<String> = std::fs::read_dir(&day)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].ends_with(".parquet") && !names[0].starts_with('.'));
        // The next rows go to a new file.
        sink.write(&EventRow::TABLE, batch("second")).unwrap();
        let s = sink.close().unwrap();
        assert_eq!(s.rows["events"], 2);
        assert_eq!(s.files.len(), 2);
        assert!(s.files.iter().all(|f| f.exists()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
