//! ClickHouse DDL generated from a [`TableDef`].

use crate::{Kind, TableDef};

/// Options for the generated DDL.
#[derive(Debug, Clone, Default)]
pub struct ClickHouseOptions {
    /// Database name.
    pub database: String,
}

fn ch_type(kind: Kind, nullable: bool) -> String {
    let t = match kind {
        Kind::U8 => "UInt8",
        Kind::U16 => "UInt16",
        Kind::U32 => "UInt32",
        Kind::U64 => "UInt64",
        Kind::I64 => "Int64",
        Kind::F64 => "Float64",
        Kind::Timestamp => "DateTime64(6, 'UTC')",
        Kind::Str => "String",
        Kind::LowCardStr => "LowCardinality(String)",
        Kind::Ip => "String",
        Kind::Map => "Map(String, String)",
    };
    if nullable {
        format!("Nullable({t})")
    } else {
        t.to_string()
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// `CREATE TABLE IF NOT EXISTS` for one table: MergeTree, partitioned by day.
pub fn clickhouse_ddl(t: &TableDef, o: &ClickHouseOptions) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            format!(
                "    `{}` {} COMMENT '{}'",
                c.name,
                ch_type(c.kind, c.nullable),
                quote(c.doc.trim())
            )
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`{name}`\n(\n{cols}\n)\nENGINE = MergeTree\nPARTITION BY toDate({time})\nORDER BY ({order})\nCOMMENT '{doc}';\n",
        db = o.database,
        name = t.name,
        cols = cols.join(",\n"),
        time = t.time_column,
        order = t.order_by.join(", "),
        doc = quote(t.doc.trim()),
    )
}
