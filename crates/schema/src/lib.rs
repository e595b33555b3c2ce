//! Table declarations. Each table's column list is written once, with the [`table!`]
//! macro, which produces the row struct, the [`TableDef`] (names, kinds, docs) and an
//! Arrow builder that appends rows and finishes `RecordBatch`es. The Arrow schema, the
//! Parquet files, the ClickHouse DDL (`wirehouse schema`) and the docs all derive from
//! the [`TableDef`]: a column added in the declaration appears everywhere.

mod ddl;
mod value;

pub use compact_str::{ToCompactString, format_compact};
pub use ddl::{ClickHouseOptions, clickhouse_database_ddl, clickhouse_ddl, clickhouse_type};
pub use value::{
    Attributes, ColumnValue, DecimalText, IpBuilder, Ipv4Text, Ipv6Text, Text, TextBuf, Timestamp,
};

#[doc(hidden)]
pub use arrow_array;

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use std::sync::Arc;

/// The storage kind of a column; the Arrow and ClickHouse types follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UInt8.
    U8,
    /// UInt16.
    U16,
    /// UInt32.
    U32,
    /// UInt64.
    U64,
    /// Int64.
    I64,
    /// Float64.
    F64,
    /// Microseconds since the epoch, UTC.
    Timestamp,
    /// Free text.
    Str,
    /// Text with few distinct values (protocol names, reasons, sources).
    LowCardStr,
    /// An IP address, stored as readable text.
    Ip,
    /// String → string map.
    Map,
}

impl Kind {
    /// The Arrow type of a column of this kind.
    pub fn arrow_type(self) -> DataType {
        match self {
            Kind::U8 => DataType::UInt8,
            Kind::U16 => DataType::UInt16,
            Kind::U32 => DataType::UInt32,
            Kind::U64 => DataType::UInt64,
            Kind::I64 => DataType::Int64,
            Kind::F64 => DataType::Float64,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Str | Kind::LowCardStr | Kind::Ip => DataType::Utf8,
            Kind::Map => DataType::Map(
                Arc::new(Field::new(
                    "entries",
                    DataType::Struct(
                        vec![
                            Field::new("key", DataType::Utf8, false),
                            Field::new("value", DataType::Utf8, true),
                        ]
                        .into(),
                    ),
                    false,
                )),
                false,
            ),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    /// Column name (fixed: dashboards and tests rely on it).
    pub name: &'static str,
    /// Storage kind.
    pub kind: Kind,
    /// Whether the column may be null.
    pub nullable: bool,
    /// What the column means.
    pub doc: &'static str,
}

/// A table: its name, columns and layout hints.
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    /// Table name.
    pub name: &'static str,
    /// What one row is.
    pub doc: &'static str,
    /// Columns in order.
    pub columns: &'static [ColumnDef],
    /// The timestamp column that partitions the table by day.
    pub time_column: &'static str,
    /// Text columns users search (ClickHouse skip indexes).
    pub search: &'static [&'static str],
    /// Sort key for stores that have one (ClickHouse ORDER BY).
    pub order_by: &'static [&'static str],
}

impl TableDef {
    /// The Arrow schema of the table.
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.kind.arrow_type(), c.nullable))
                .collect::<Vec<_>>(),
        )
    }

    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Index of the partitioning time column.
    pub fn time_index(&self) -> usize {
        self.column_index(self.time_column)
            .expect("time_column is declared in the table")
    }
}

/// Declares a table: the row struct, its `TABLE` definition and an Arrow builder.
///
/// ```
/// wirehouse_schema::table! {
///     /// One row per example.
///     table "examples" as ExampleRow, ExampleBuilder;
///     time_column time;
///     order_by [name, time];
///     columns {
///         /// When it happened.
///         time: wirehouse_schema::Timestamp,
///         /// What it is called.
///         name: String,
///     }
/// }
/// let mut b = ExampleBuilder::with_capacity(1);
/// b.append(&ExampleRow { time: wirehouse_schema::Timestamp(1), name: "x".into() });
/// assert_eq!(b.finish().num_rows(), 1);
/// ```
#[macro_export]
macro_rules! table {
    (
        $(#[doc = $tdoc:literal])*
        table $tname:literal as $row:ident, $builder:ident;
        time_column $tcol:ident;
        order_by [$($ocol:ident),* $(,)?];
        $(search [$($scol:ident),* $(,)?];)?
        columns {
            $( $(#[doc = $cdoc:literal])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[doc = $tdoc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $row {
            $( $(#[doc = $cdoc])* pub $field: $ty, )*
        }

        impl $row {
            /// The table this row belongs to.
            pub const TABLE: $crate::TableDef = $crate::TableDef {
                name: $tname,
                doc: concat!($($tdoc),*),
                columns: &[ $( $crate::ColumnDef {
                    name: stringify!($field),
                    kind: <$ty as $crate::ColumnValue>::KIND,
                    nullable: <$ty as $crate::ColumnValue>::NULLABLE,
                    doc: concat!($($cdoc),*),
                } ),* ],
                time_column: stringify!($tcol),
                order_by: &[$(stringify!($ocol)),*],
                search: &[$($(stringify!($scol)),*)?],
            };
        }

        #[doc = concat!("Appends [`", stringify!($row), "`]s to Arrow arrays and finishes record batches.")]
        pub struct $builder {
            rows: usize,
            $( $field: <$ty as $crate::ColumnValue>::Builder, )*
        }

        #[allow(dead_code)]
        impl $builder {
            /// A builder with room for `cap` rows.
            pub fn with_capacity(cap: usize) -> Self {
                Self { rows: 0, $( $field: <$ty as $crate::ColumnValue>::builder(cap), )* }
            }
            /// Appends one row.
            pub fn append(&mut self, r: &$row) {
                $( <$ty as $crate::ColumnValue>::append(&mut self.$field, &r.$field); )*
                self.rows += 1;
            }
            /// Rows appended since the last `finish`.
            pub fn len(&self) -> usize {
                self.rows
            }
            /// True when no row is pending.
            pub fn is_empty(&self) -> bool {
                self.rows == 0
            }
            /// Takes the pending rows as a record batch. The builder starts over with room
            /// for as many rows as it just gave (at most 65,536) and, for text, as many
            /// bytes, so that a steady flow of batches does not grow every buffer from
            /// nothing again (a reallocation and copy per doubling).
            pub fn finish(&mut self) -> $crate::arrow_array::RecordBatch {
                static SCHEMA: ::std::sync::OnceLock<::std::sync::Arc<$crate::arrow_schema_reexport::Schema>> =
                    ::std::sync::OnceLock::new();
                let schema = SCHEMA.get_or_init(|| ::std::sync::Arc::new($row::TABLE.arrow_schema())).clone();
                let cap = self.rows.min(1 << 16);
                let next = Self {
                    rows: 0,
                    $( $field: <$ty as $crate::ColumnValue>::next_builder(&mut self.$field, cap), )*
                };
                let mut done = ::std::mem::replace(self, next);
                let cols: ::std::vec::Vec<$crate::arrow_array::ArrayRef> = vec![
                    $( $crate::arrow_array::builder::ArrayBuilder::finish(&mut done.$field), )*
                ];
                $crate::arrow_array::RecordBatch::try_new(schema, cols)
                    .expect("builder arrays match the declared schema")
            }
        }
    };
}

#[doc(hidden)]
pub use arrow_schema as arrow_schema_reexport;
