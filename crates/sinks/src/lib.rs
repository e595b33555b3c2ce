//! Sinks store finished record batches. They know tables only as a [`TableDef`] plus a
//! `RecordBatch`, so a new table or protocol never touches a sink.
//!
//! - [`parquet::ParquetSink`]: `DIR/<table>/date=YYYY-MM-DD/part-*.parquet`, zstd,
//!   written under a hidden temporary name and renamed when complete.
//! - [`clickhouse::ClickHouseSink`]: `INSERT … FORMAT ArrowStream` over HTTP with retries,
//!   deduplication tokens, a disk spool and a dead-letter directory.
//! - [`null::NullSink`]: counts rows and stores nothing (a run for its summary alone).

pub mod clickhouse;
pub mod null;
pub mod parquet;

use arrow_array::RecordBatch;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wirehouse_schema::TableDef;

/// A failure to store data; names the file or endpoint involved.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Filesystem error.
    #[error("{path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The Parquet encoder failed.
    #[error("{path}: parquet: {source}")]
    Parquet {
        /// File being written.
        path: PathBuf,
        /// The error.
        source: ::parquet::errors::ParquetError,
    },
    /// ClickHouse refused the setup or a batch could not be stored anywhere.
    #[error("clickhouse {endpoint}: {message}")]
    ClickHouse {
        /// `http[s]://host:port/database` (no credentials).
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// Arrow could not split or convert a batch.
    #[error("table {table}: arrow: {source}")]
    Arrow {
        /// Table name.
        table: &'static str,
        /// The error.
        source: arrow_schema::ArrowError,
    },
}

/// What a sink stored.
#[derive(Debug, Clone, Default)]
pub struct SinkSummary {
    /// Rows per table.
    pub rows: BTreeMap<&'static str, u64>,
    /// Files completed.
    pub files: Vec<PathBuf>,
    /// Sink-specific outcome counters (ClickHouse: inserted, retried, spooled, ...).
    pub counters: BTreeMap<String, u64>,
    /// True when the rows were counted and dropped, not stored (`-o null`).
    pub discarded: bool,
}

/// Somewhere record batches go.
pub trait Sink: Send {
    /// Stores one batch of `table`.
    fn write(&mut self, table: &'static TableDef, batch: RecordBatch) -> Result<(), SinkError>;
    /// Called when no batch arrived for a while: send what has waited long enough.
    fn tick(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Completes everything (files closed and renamed, buffers sent) and reports.
    fn close(&mut self) -> Result<SinkSummary, SinkError>;
}
