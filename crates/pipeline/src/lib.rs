//! The conversion pipeline: inputs → decode → flow table → record batches → sink, the
//! configuration file, and the run statistics (`--stats-json`).
//!
//! This version runs the whole path on one thread; the sharded multi-worker version
//! keeps the same [`convert`] entry point and statistics.

mod config;
mod inputs;
mod run;
mod stats;

pub use config::{Config, ConfigError, OutputConfig};
pub use inputs::{InputSpec, expand_inputs};
pub use run::{Progress, convert};
pub use stats::{InputReport, RunStats};

/// Every table the pipeline writes, in order.
pub fn tables() -> Vec<&'static wirehouse_schema::TableDef> {
    vec![&wirehouse_flow::FlowRow::TABLE]
}
