//! The conversion pipeline: inputs → decode → flow table → record batches → sink, the
//! configuration file, and the run statistics (`--stats-json`).
//!
//! Threads: the caller's thread reads and dispatches (inputs merged by time, minimal
//! decode, IP defragmentation, symmetric flow hash), N shard workers each own a flow
//! table with TCP reassembly, the application-protocol parsers and Arrow builders, and one sink thread writes the files.
//! All channels are bounded (backpressure), packets travel in batches, and the output
//! is the same set of rows whatever the number of workers.

mod config;
mod inputs;
mod merge;
mod progress;
mod run;
mod stats;
mod worker;

pub use config::{Config, ConfigError, OutputConfig, PipelineConfig};
pub use inputs::{InputSpec, expand_inputs};
pub use progress::Progress;
pub use run::convert;
pub use stats::{InputReport, RunStats};

/// Every table the pipeline writes, in order.
pub fn tables() -> Vec<&'static wirehouse_schema::TableDef> {
    vec![&wirehouse_flow::FlowRow::TABLE, &wirehouse_l7::L7Row::TABLE]
}
