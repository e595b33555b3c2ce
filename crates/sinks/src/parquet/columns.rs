//! A Parquet file written column by column, the columns of each batch encoded in
//! parallel on a thread pool.
//!
//! parquet-rs's `ArrowWriter` encodes the leaf columns of a batch one after the other on
//! the calling thread. The sink is one thread for every worker, so its encoding speed
//! caps how many workers can be kept busy (at `-w 1` it is about a sixth of the work:
//! about five workers would saturate it). This writer drives the same column writers (`ArrowColumnWriter`, one per leaf)
//! itself and runs them on a rayon pool: the bytes written are those `ArrowWriter`
//! would write (same properties, same row groups, the Arrow schema in the footer).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;
use std::fs::File;
use std::sync::Arc;

/// Writes record batches of one schema to one Parquet file.
pub(crate) struct ColumnWriter {
    file: SerializedFileWriter<File>,
    schema: SchemaRef,
    factory: ArrowRowGroupWriterFactory,
    /// The writers of the row group in progress, one per leaf; empty between row groups.
    columns: Vec<ArrowColumnWriter>,
    /// Rows in the row group in progress.
    group_rows: usize,
    max_group_rows: usize,
    /// Where the columns are encoded; `None`: on the calling thread.
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl ColumnWriter {
    /// A writer of `schema` to `file` with `props` (row groups of at most
    /// `props.max_row_group_row_count()` rows).
    pub(crate) fn try_new(
        file: File,
        schema: SchemaRef,
        mut props: WriterProperties,
        pool: Option<Arc<rayon::ThreadPool>>,
    ) -> Result<Self> {
        let parquet_schema = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let max_group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let file =
            SerializedFileWriter::new(file, parquet_schema.root_schema_ptr(), Arc::new(props))?;
        let factory = ArrowRowGroupWriterFactory::try_new(&file, Arc::clone(&schema))?;
        Ok(Self {
            file,
            schema,
            factory,
            columns: Vec::new(),
            group_rows: 0,
            max_group_rows,
            pool,
        })
    }

    /// Encodes `batch` (of the writer's schema), completing a row group whenever it
    /// reaches its row limit.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let fields = self.schema.fields();
        let given = batch.schema_ref().fields();
        if given.len() != fields.len()
            || fields
                .iter()
                .zip(given)
                .any(|(f, g)| f.name() != g.name() || f.data_type() != g.data_type())
        {
            let list = |f: &arrow_schema::Fields| {
                f.iter()
                    .map(|f| format!("{} {}", f.name(), f.data_type()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ParquetError::General(format!(
                "record batch columns ({}) do not match the file's ({})",
                list(given),
                list(fields)
            )));
        }
        let mut at = 0;
        while at < batch.num_rows() {
            if self.columns.is_empty() {
                let index = self.file.flushed_row_groups().len();
                self.columns = self.factory.create_column_writers(index)?;
            }
            let n = (self.max_group_rows - self.group_rows).min(batch.num_rows() - at);
            let part = batch.slice(at, n);
            let mut leaves = Vec::with_capacity(self.columns.len());
            for (field, column) in self.schema.fields().iter().zip(part.columns()) {
                leaves.extend(compute_leaves(field, column)?);
            }
            let write = |(w, leaf): (&mut ArrowColumnWriter, ArrowLeafColumn)| w.write(&leaf);
            match &self.pool {
                Some(pool) => pool.install(|| {
                    self.columns
                        .par_iter_mut()
                        .zip(leaves.into_par_iter())
                        .try_for_each(write)
                })?,
                None => self.columns.iter_mut().zip(leaves).try_for_each(write)?,
            }
            self.group_rows += n;
            at += n;
            if self.group_rows >= self.max_group_rows {
                self.flush_group()?;
            }
        }
        Ok(())
    }

    /// Closes the column chunks of the row group in progress (in parallel: the last
    /// pages and the dictionary pages are compressed here) and appends them to the file.
    fn flush_group(&mut self) -> Result<()> {
        let columns = std::mem::take(&mut self.columns);
        if columns.is_empty() {
            return Ok(());
        }
        let chunks: Vec<ArrowColumnChunk> = match &self.pool {
            Some(pool) => pool.install(|| {
                columns
                    .into_par_iter()
                    .map(|c| c.close())
                    .collect::<Result<_>>()
            })?,
            None => columns
                .into_iter()
                .map(|c| c.close())
                .collect::<Result<_>>()?,
        };
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.group_rows = 0;
        Ok(())
    }

    /// Completes the last row group and the footer; gives the file back.
    pub(crate) fn into_inner(mut self) -> Result<File> {
        self.flush_group()?;
        self.file.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use std::net::IpAddr;
    use wirehouse_schema::{Attributes, Text, Timestamp};

    wirehouse_schema::table! {
        /// test rows: every kind of leaf the sink writes (a map has two)
        table "mixed" as MixedRow, MixedBuilder;
        time_column time;
        order_by [time];
        columns {
            /// when
            time: Timestamp,
            /// free text
            what: Text,
            /// an address
            ip: IpAddr,
            /// a measure, sometimes null
            n: Option<u64>,
            /// extras
            attrs: Attributes,
        }
    }

    fn batches() -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut i = 0u64;
        // Sizes that straddle the row-group limit below in every way: inside one group,
        // ending exactly on its boundary, across one boundary, across two.
        for size in [70, 30, 130, 250, 1] {
            let mut b = MixedBuilder::with_capacity(size);
            for _ in 0..size {
                b.append(&MixedRow {
                    time: Timestamp::from_ns(1_700_000_000_000_000_000 + i as i64 * 1_000_000),
                    what: format!("/item/{}", i % 37).into(),
                    ip: IpAddr::from([10, 0, (i % 3) as u8, (i % 200) as u8]),
                    n: (!i.is_multiple_of(5)).then_some(i * 7),
                    attrs: (0..i % 3)
                        .map(|k| (Text::from(format!("k{k}")), Text::from(format!("v{i}"))))
                        .collect(),
                });
                i += 1;
            }
            out.push(b.finish());
        }
        out
    }

    fn props() -> WriterProperties {
        WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
            .set_max_row_group_row_count(Some(100))
            .build()
    }

    fn read(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    #[test]
    fn same_bytes_as_arrow_writer_in_parallel_or_not() {
        let dir = std::env::temp_dir().join(format!("wh-columns-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let batches = batches();
        let schema = batches[0].schema();

        let reference = dir.join("arrow_writer.parquet");
        let mut w = ArrowWriter::try_new(
            File::create(&reference).unwrap(),
            schema.clone(),
            Some(props()),
        )
        .unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.into_inner().unwrap();

        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap(),
        );
        for (name, pool) in [("serial", None), ("parallel", Some(pool))] {
            let path = dir.join(format!("{name}.parquet"));
            let mut w =
                ColumnWriter::try_new(File::create(&path).unwrap(), schema.clone(), props(), pool)
                    .unwrap();
            for b in &batches {
                w.write(b).unwrap();
            }
            w.into_inner().unwrap();
            assert!(read(&path) == read(&reference), "{name}: bytes differ");

            // And what that means: 481 rows in row groups of 100 at most, in order.
            let r = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
            let groups: Vec<i64> = r
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            assert_eq!(groups, [100, 100, 100, 100, 81], "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_of_another_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!("wh-columns-refuse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let batches = batches();
        let path = dir.join("f.parquet");
        let mut w = ColumnWriter::try_new(
            File::create(&path).unwrap(),
            batches[0].schema(),
            props(),
            None,
        )
        .unwrap();
        let fewer = batches[0].project(&[0, 1, 2]).unwrap();
        let swapped = batches[0].project(&[0, 2, 1, 3, 4]).unwrap();
        for other in [fewer, swapped] {
            let e = w.write(&other).unwrap_err().to_string();
            assert!(e.contains("do not match the file's (time Timestamp"), "{e}");
        }
        w.write(&batches[0]).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
