//! The ClickHouse sink against the real ClickHouse engine (chDB behind
//! `scripts/clickhouse-http.py`): the same rows as the Parquet output, an endpoint killed
//! in the middle of a conversion and brought back 10 s later, wirehouse killed during an
//! outage and restarted, and a batch ClickHouse rejects landing in the dead-letter
//! directory while the run goes on.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("WIREHOUSE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/wirehouse-venv")
        });
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import chdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        wirehouse_testkit::missing("chdb in the test venv (scripts/setup.sh test)");
        return None;
    }
    Some(py)
}

struct Server {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
    py: PathBuf,
}

impl Server {
    fn start(py: &Path, data: &Path, port: u16) -> Server {
        let mut s = Server {
            child: None,
            port,
            data: data.to_path_buf(),
            py: py.to_path_buf(),
        };
        s.restart();
        s
    }

    fn restart(&mut self) {
        let script = wirehouse_testkit::repo_root().join("scripts/clickhouse-http.py");
        let child = Command::new(&self.py)
            .arg(script)
            .args(["--port", &self.port.to_string(), "--path"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clickhouse-http.py");
        self.child = Some(child);
        let t = Instant::now();
        while http(self.port, "GET /ping", b"").is_none_or(|r| !r.starts_with("Ok")) {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "endpoint did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn query(&self, sql: &str) -> String {
        http(self.port, "POST /", sql.as_bytes()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.0 request; the body of a 200 answer, `None` on any failure.
fn http(port: u16, line: &str, body: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let head = format!(
        "{line} HTTP/1.0\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.split(' ').nth(1).filter(|c| *c == "200")?;
    Some(body.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A config with the spool and dead-letter directories under `dir`.
fn config(dir: &Path, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("wirehouse.toml");
    std::fs::write(
        &p,
        format!(
            "[output.clickhouse]\nspool_dir = \"{}\"\ndead_letter_dir = \"{}\"\nbackoff_initial_ms = 50\nbackoff_max_ms = 500\n{extra}",
            dir.join("spool").display(),
            dir.join("dead").display()
        ),
    )
    .unwrap();
    p
}

fn to_clickhouse(inputs: &[&Path], port: u16, db: &str, cfg: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wirehouse"))
        .arg("convert")
        .args(inputs)
        .args(["-o", &format!("clickhouse:http://127.0.0.1:{port}/{db}")])
        .arg("-c")
        .arg(cfg)
        .args(["--no-progress", "-w", "2"])
        .output()
        .expect("run wirehouse")
}

/// Row count and an order-independent hash of every value, per table.
fn digest(s: &Server, from: &str) -> String {
    digest_except(s, from, "")
}

/// Like [`digest`], without some columns (`EXCEPT (...)`).
fn digest_except(s: &Server, from: &str, except: &str) -> String {
    let except = if except.is_empty() {
        String::new()
    } else {
        format!(" EXCEPT ({except})")
    };
    s.query(&format!(
        "SELECT count(), sum(cityHash64(toString(tuple(*)))) FROM (SELECT *{except} FROM {from}) SETTINGS use_hive_partitioning = 0"
    ))
}

/// Batches waiting in the spool directory (none when it does not exist yet).
fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "arrows"))
                .count()
        })
        .unwrap_or(0)
}

fn inputs() -> Vec<PathBuf> {
    let mut v = vec![wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap")];
    if let Some(c) = wirehouse_testkit::corpus() {
        v.push(c.join("zeek/Traces/http/pipelined-requests.pcap"));
        v.push(c.join("nDPI/pcap/tls_2_reasms.pcapng"));
    }
    v
}

#[test]
fn clickhouse_holds_the_same_rows_as_parquet() {
    let Some(py) = python() else { return };
    let dir = out_dir("ch-same");
    let srv = Server::start(&py, &dir.join("chdb"), free_port());
    let ins = inputs();
    let refs: Vec<&Path> = ins.iter().map(PathBuf::as_path).collect();
    let pq = dir.join("parquet");
    let o = convert(&refs, &pq, &["--no-progress"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = to_clickhouse(&refs, srv.port, "same", &config(&dir, ""));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for t in ["flows", "l7_sessions"] {
        let ours = digest(&srv, &format!("same.{t}"));
        let parquet = digest(
            &srv,
            &format!("file('{}/{t}/*/*.parquet', Parquet)", pq.display()),
        );
        assert!(!ours.starts_with("0\t"), "{t}: no rows in ClickHouse");
        assert_eq!(ours, parquet, "{t}: ClickHouse vs Parquet (count, hash)");
    }
    // Reused tables: the second run checks the schema and appends.
    let o = to_clickhouse(&refs[..1], srv.port, "same", &config(&dir, ""));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_mismatched_table_stops_the_run_with_the_differences() {
    let Some(py) = python() else { return };
    let dir = out_dir("ch-mismatch");
    let srv = Server::start(&py, &dir.join("chdb"), free_port());
    srv.query("CREATE DATABASE bad");
    srv.query("CREATE TABLE bad.flows (flow_id String, start_time DateTime) ENGINE = MergeTree ORDER BY start_time");
    let fixture = wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap");
    let o = to_clickhouse(&[&fixture], srv.port, "bad", &config(&dir, ""));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("flows.flow_id: is String, want UInt64"),
        "{err}"
    );
    assert!(err.contains("flows.client_ip: missing"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outage_mid_conversion_loses_and_doubles_nothing() {
    let Some(py) = python() else { return };
    let dir = out_dir("ch-outage");
    let mut srv = Server::start(&py, &dir.join("chdb"), free_port());
    let fixture = wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap");
    let raw = std::fs::read(&fixture).unwrap();
    // Rows leave the workers at once and go out every 100 ms, so inserts happen while
    // packets are still arriving on stdin.
    let cfg = config(
        &dir,
        "batch_age_ms = 100\n[output]\nbatch_rows = 1\n[pipeline]\nbatch_packets = 4\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
        .args([
            "convert",
            "-",
            "-o",
            &format!("clickhouse:http://127.0.0.1:{}/outage", srv.port),
        ])
        .arg("-c")
        .arg(&cfg)
        .args(["--no-progress", "--stats-json"])
        .arg(dir.join("stats.json"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The first half (pcap records are whole: cut at a record boundary).
    let half = record_boundary(&raw, raw.len() / 2);
    stdin.write_all(&raw[..half]).unwrap();
    stdin.flush().unwrap();
    let t = Instant::now();
    while srv
        .query("SELECT count() FROM outage.l7_sessions")
        .trim()
        .parse::<u64>()
        .unwrap_or(0)
        == 0
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "nothing inserted before the outage"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    srv.kill();
    stdin.write_all(&raw[half..]).unwrap();
    drop(stdin);
    std::thread::sleep(Duration::from_secs(10));
    srv.restart();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stats = stats_json(&dir.join("stats.json"));
    assert!(
        stats["sink"]["spooled_batches"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    assert_eq!(stats["sink"]["spool_left_batches"], 0, "{stats}");
    let pq = dir.join("parquet");
    assert!(
        convert(&[&fixture], &pq, &["--no-progress"])
            .status
            .success()
    );
    // Read from stdin, the rows say source = "-": every other value must be equal.
    for t in ["flows", "l7_sessions"] {
        assert_eq!(
            digest_except(&srv, &format!("outage.{t}"), "source"),
            digest_except(
                &srv,
                &format!("file('{}/{t}/*/*.parquet', Parquet)", pq.display()),
                "source"
            ),
            "{t}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first pcap record boundary at or after `at`.
fn record_boundary(raw: &[u8], at: usize) -> usize {
    let mut off = 24;
    while off + 16 <= raw.len() {
        let caplen = u32::from_le_bytes(raw[off + 8..off + 12].try_into().unwrap()) as usize;
        let next = off + 16 + caplen;
        if off >= at {
            return off;
        }
        off = next;
    }
    raw.len()
}

/// ClickHouse away for the whole run and a one-second drain timeout: the run still
/// ends, its batches stay in the spool, and it says how many (as many as the spool
/// directory holds) and exits 1.
#[test]
fn batches_left_in_the_spool_are_counted_and_fail_the_run() {
    let dir = out_dir("ch-left");
    let fixture = wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap");
    let cfg = config(&dir, "attempts = 1\ndrain_timeout_s = 1\n");
    let o = to_clickhouse(&[&fixture], free_port(), "left", &cfg);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let spooled = spooled(&dir.join("spool"));
    assert!(spooled >= 2, "one batch per table at least: {spooled}");
    let want = format!(
        "{spooled} batches are still in the spool ({}): the next run replays them",
        dir.join("spool").display()
    );
    assert!(err.lines().any(|l| l == want), "no '{want}' in: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wirehouse_killed_during_an_outage_replays_its_spool() {
    let Some(py) = python() else { return };
    let dir = out_dir("ch-killed");
    let port = free_port();
    let fixture = wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap");
    // No endpoint at all: everything goes to the spool; the run keeps retrying until it
    // is killed.
    let cfg = config(&dir, "attempts = 1\ndrain_timeout_s = 600\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
        .arg("convert")
        .arg(&fixture)
        .args(["-o", &format!("clickhouse:http://127.0.0.1:{port}/killed")])
        .arg("-c")
        .arg(&cfg)
        .arg("--no-progress")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let spool = dir.join("spool");
    let t = Instant::now();
    let spooled = || spooled(&spool);
    while spooled() < 2 {
        assert!(t.elapsed() < Duration::from_secs(60), "nothing spooled");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    let _ = child.wait();
    // ClickHouse is back; the next run (here on an empty capture) replays the spool.
    let srv = Server::start(&py, &dir.join("chdb"), port);
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, &std::fs::read(&fixture).unwrap()[..24]).unwrap();
    let o = to_clickhouse(&[&empty], port, "killed", &cfg);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(spooled(), 0);
    let pq = dir.join("parquet");
    assert!(
        convert(&[&fixture], &pq, &["--no-progress"])
            .status
            .success()
    );
    for t in ["flows", "l7_sessions"] {
        assert_eq!(
            digest(&srv, &format!("killed.{t}")),
            digest(
                &srv,
                &format!("file('{}/{t}/*/*.parquet', Parquet)", pq.display())
            ),
            "{t}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rejected_batches_go_to_the_dead_letter_directory_and_the_run_goes_on() {
    let Some(py) = python() else { return };
    let dir = out_dir("ch-dead");
    let srv = Server::start(&py, &dir.join("chdb"), free_port());
    let fixture = wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap");
    let cfg = config(&dir, "");
    // Create the tables, then make ClickHouse refuse every flows row.
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, &std::fs::read(&fixture).unwrap()[..24]).unwrap();
    assert!(
        to_clickhouse(&[&empty], srv.port, "dead", &cfg)
            .status
            .success()
    );
    srv.query("ALTER TABLE dead.flows ADD CONSTRAINT never CHECK client_packets > 1000000");
    let o = to_clickhouse(&[&fixture], srv.port, "dead", &cfg);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let pq = dir.join("parquet");
    assert!(
        convert(&[&fixture], &pq, &["--no-progress"])
            .status
            .success()
    );
    let rows = |d: &Path, t: &str| read_table(d, t).iter().map(|b| b.num_rows()).sum::<usize>();
    assert_eq!(srv.query("SELECT count() FROM dead.flows").trim(), "0");
    assert_eq!(
        srv.query("SELECT count() FROM dead.l7_sessions").trim(),
        rows(&pq, "l7_sessions").to_string()
    );
    assert_eq!(
        rows(&dir.join("dead"), "flows"),
        rows(&pq, "flows"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cluster_ddl_is_valid_clickhouse_sql() {
    let Some(py) = python() else { return };
    let dir = out_dir("ch-ddl");
    let srv = Server::start(&py, &dir.join("chdb"), free_port());
    let o = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
        .args([
            "schema",
            "--sink",
            "clickhouse",
            "--cluster",
            "c1",
            "--ttl-days",
            "30",
        ])
        .output()
        .unwrap();
    let ddl = String::from_utf8(o.stdout).unwrap();
    let mut n = 0;
    for stmt in ddl.split(";\n") {
        let stmt: String = stmt
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if stmt.trim().is_empty() {
            continue;
        }
        let quoted = stmt.replace('\\', "\\\\").replace('\'', "\\'");
        let formatted = http(
            srv.port,
            "POST /",
            format!("SELECT formatQuery('{quoted}')").as_bytes(),
        );
        assert!(
            formatted.is_some_and(|f| f.contains("ON CLUSTER c1")),
            "not valid: {stmt}"
        );
        n += 1;
    }
    // The database, then a replicated local table and a Distributed table per table.
    assert_eq!(n, 1 + 2 * 2);
    assert!(
        ddl.contains("ReplicatedMergeTree") && ddl.contains("Distributed(") && ddl.contains("TTL ")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
