//! ClickHouse DDL generated from a [`TableDef`]: modern types, codecs on timestamps and
//! counters, skip indexes on the text users search, MergeTree partitioned by day with the
//! table's ORDER BY, an optional TTL, and with a cluster name ReplicatedMergeTree local
//! tables behind Distributed tables (`ON CLUSTER`).

use crate::{ColumnDef, Kind, TableDef};

/// Options for the generated DDL.
#[derive(Debug, Clone, Default)]
pub struct ClickHouseOptions {
    /// Database name.
    pub database: String,
    /// Cluster name: ReplicatedMergeTree `<table>_local` tables plus Distributed tables,
    /// every statement `ON CLUSTER`.
    pub cluster: Option<String>,
    /// Rows older than this many days (by the table's time column) are dropped. Off by
    /// default: ClickHouse drops rows already expired at insert time, so converting an
    /// old archive with a TTL would store nothing.
    pub ttl_days: Option<u32>,
}

/// The ClickHouse type of a column.
pub fn clickhouse_type(c: &ColumnDef) -> String {
    let t = match c.kind {
        Kind::U8 => "UInt8",
        Kind::U16 => "UInt16",
        Kind::U32 => "UInt32",
        Kind::U64 => "UInt64",
        Kind::I64 => "Int64",
        Kind::F64 => "Float64",
        Kind::Timestamp => "DateTime64(6, 'UTC')",
        Kind::Str => "String",
        Kind::LowCardStr => "LowCardinality(String)",
        // Text, so CIDR filters work directly: isIPAddressInRange(client_ip, '10.0.0.0/8').
        Kind::Ip => "String",
        Kind::Map => "Map(String, String)",
    };
    if c.nullable {
        format!("Nullable({t})")
    } else {
        t.to_string()
    }
}

fn codec(c: &ColumnDef) -> &'static str {
    match (c.kind, c.nullable) {
        (Kind::Timestamp, _) => " CODEC(Delta, ZSTD(1))",
        (Kind::U8 | Kind::U16 | Kind::U32 | Kind::U64 | Kind::I64, false) => " CODEC(T64, ZSTD(1))",
        (Kind::LowCardStr, _) => "",
        _ => " CODEC(ZSTD(1))",
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

fn on_cluster(o: &ClickHouseOptions) -> String {
    o.cluster
        .as_ref()
        .map_or_else(String::new, |c| format!(" ON CLUSTER `{c}`"))
}

/// `CREATE DATABASE IF NOT EXISTS`.
pub fn clickhouse_database_ddl(o: &ClickHouseOptions) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS `{}`{};\n",
        o.database,
        on_cluster(o)
    )
}

/// `CREATE TABLE IF NOT EXISTS` for one table (and its Distributed table on a cluster).
pub fn clickhouse_ddl(t: &TableDef, o: &ClickHouseOptions) -> String {
    let mut lines: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            format!(
                "    `{}` {}{} COMMENT '{}'",
                c.name,
                clickhouse_type(c),
                codec(c),
                quote(c.doc.trim())
            )
        })
        .collect();
    // Substring search (LIKE '%x%', hasToken) on the text users look for.
    for s in t.search {
        lines.push(format!(
            "    INDEX `idx_{s}` `{s}` TYPE ngrambf_v1(3, 65536, 2, 0) GRANULARITY 4"
        ));
    }
    let local = match &o.cluster {
        Some(_) => format!("{}_local", t.name),
        None => t.name.to_string(),
    };
    let engine = match &o.cluster {
        Some(_) => format!(
            "ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{}/{local}', '{{replica}}')",
            o.database
        ),
        None => "MergeTree".to_string(),
    };
    let ttl = o.ttl_days.map_or_else(String::new, |d| {
        format!("TTL toDateTime({}) + INTERVAL {d} DAY\n", t.time_column)
    });
    // Retried inserts carry a deduplication token; replicated tables keep a window of
    // them by default, plain MergeTree only when asked.
    let settings = match &o.cluster {
        Some(_) => String::new(),
        None => "SETTINGS non_replicated_deduplication_window = 10000\n".to_string(),
    };
    let mut out = format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`{local}`{oc}\n(\n{cols}\n)\nENGINE = {engine}\nPARTITION BY toDate({time})\nORDER BY ({order})\n{ttl}{settings}COMMENT '{doc}';\n",
        db = o.database,
        oc = on_cluster(o),
        cols = lines.join(",\n"),
        time = t.time_column,
        order = t.order_by.join(", "),
        doc = quote(t.doc.trim()),
    );
    if let Some(c) = &o.cluster {
        // Rows of one flow (its flows row and its sessions) land on the same shard.
        let key = if t.columns.iter().any(|c| c.name == "flow_id") {
            "cityHash64(flow_id)"
        } else {
            "rand()"
        };
        out.push_str(&format!(
            "\nCREATE TABLE IF NOT EXISTS `{db}`.`{name}` ON CLUSTER `{c}` AS `{db}`.`{local}`\nENGINE = Distributed(`{c}`, `{db}`, `{local}`, {key});\n",
            db = o.database,
            name = t.name,
        ));
    }
    out
}
