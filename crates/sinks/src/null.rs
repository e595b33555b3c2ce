//! A sink that stores nothing: it counts the rows it is given and drops them.
//!
//! For a run whose product is the summary alone (`wirehouse convert -o null CAPTURE
//! --stats-json FILE`: what is in a capture, without writing tables), and for measuring
//! the pipeline without the cost of an encoder (`scripts/bench.sh` prints `-w 2 / -w 1`
//! both ways).

use crate::{Sink, SinkError, SinkSummary};
use arrow_array::RecordBatch;
use std::collections::BTreeMap;
use wirehouse_schema::TableDef;

/// Counts rows per table and keeps nothing.
#[derive(Debug, Default)]
pub struct NullSink {
    rows: BTreeMap<&'static str, u64>,
}

impl NullSink {
    /// A sink that stores nothing.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Sink for NullSink {
    fn write(&mut self, table: &'static TableDef, batch: RecordBatch) -> Result<(), SinkError> {
        *self.rows.entry(table.name).or_default() += batch.num_rows() as u64;
        Ok(())
    }

    fn close(&mut self) -> Result<SinkSummary, SinkError> {
        Ok(SinkSummary {
            rows: std::mem::take(&mut self.rows),
            discarded: true,
            ..SinkSummary::default()
        })
    }
}
