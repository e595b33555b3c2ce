#!/usr/bin/env python3
"""check-readers.py DIR — reads every table wirehouse wrote under DIR with three
independent Parquet readers (pyarrow, DuckDB, and ClickHouse's engine via chDB's
file(..., Parquet)) and checks they agree with each other on row counts, column names
and a few aggregates. Prints one line per reader and table, then
'N passed, N failed'. Exit status 1 on any failure."""
import glob, os, sys

d = sys.argv[1]
passed = failed = 0

def check(name, ok, detail=""):
    global passed, failed
    print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}")
    if ok:
        passed += 1
    else:
        failed += 1

tables = sorted(t for t in os.listdir(d) if os.path.isdir(os.path.join(d, t)))
check("tables present", "flows" in tables, str(tables))
for t in tables:
    files = sorted(glob.glob(f"{d}/{t}/**/*.parquet", recursive=True))
    check(f"{t}: no in-progress files left", not glob.glob(f"{d}/{t}/**/.*", recursive=True))
    import pyarrow.parquet as pq
    pa_tab = pq.read_table(files, partitioning=None)
    pa_rows, pa_cols = pa_tab.num_rows, pa_tab.column_names
    pa_pkts = sum(pa_tab.column("client_packets").to_pylist()) + sum(pa_tab.column("server_packets").to_pylist()) if t == "flows" else None
    check(f"{t}: pyarrow", pa_rows > 0, f"{pa_rows} rows, {len(pa_cols)} columns")

    import duckdb
    con = duckdb.connect()
    q = f"read_parquet('{d}/{t}/**/*.parquet', hive_partitioning=false)"
    dd_rows = con.execute(f"SELECT count(*) FROM {q}").fetchall()[0][0]
    dd_cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {q}").fetchall()]
    check(f"{t}: duckdb", dd_rows == pa_rows and dd_cols == pa_cols, f"{dd_rows} rows")
    if t == "flows":
        dd_pkts = con.execute(f"SELECT sum(client_packets + server_packets) FROM {q}").fetchall()[0][0]
        check(f"{t}: duckdb packets = pyarrow packets", dd_pkts == pa_pkts, f"{dd_pkts} vs {pa_pkts}")

    import chdb
    ch_q = f"file('{d}/{t}/*/*.parquet', Parquet)"
    ch_rows = int(chdb.query(f"SELECT count() FROM {ch_q}", "CSV").data().strip())
    check(f"{t}: clickhouse (chdb) file(..., Parquet)", ch_rows == pa_rows, f"{ch_rows} rows")
    if t == "flows":
        ch = chdb.query(f"SELECT sum(client_packets + server_packets), countIf(isIPAddressInRange(client_ip, '0.0.0.0/0') OR isIPAddressInRange(client_ip, '::/0')), min(toTypeName(start_time)) FROM {ch_q}", "TabSeparatedRaw").data().strip().split("\t")
        check(f"{t}: clickhouse packets = pyarrow packets", int(ch[0]) == pa_pkts, f"{ch[0]} vs {pa_pkts}")
        check(f"{t}: clickhouse parses every client_ip for CIDR filters", int(ch[1]) == pa_rows, ch[1])
        check(f"{t}: clickhouse reads start_time as a UTC microsecond timestamp", "DateTime64(6, 'UTC')" in ch[2], ch[2])

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
