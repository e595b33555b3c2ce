//! The command line on real files: compressed and piped input, directories, several
//! files as one trace, bad and damaged input, the stats file, `schema` and `protocols`.

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use wirehouse_capture::{LinkType, PcapWriter};

fn fixture() -> PathBuf {
    wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap")
}

/// The line of `err` that starts with `start` (the first, when there are several).
fn line_starting(err: &str, start: &str) -> String {
    err.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no '{start}' line: {err}"))
        .to_string()
}

/// A new empty directory for a test's own files.
fn scratch(name: &str) -> PathBuf {
    let d = out_dir(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Flows of a plain conversion of the fixture, the reference for the other tests.
fn reference() -> FlowFacts {
    let dir = out_dir("reference");
    let o = convert(&[&fixture()], &dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = our_flows(&dir, &[1, 6, 17, 58]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(f.len() >= 12, "{f:#?}");
    f
}

#[test]
fn gzip_zstd_and_stdin_give_the_same_flows() {
    let want = reference();
    let raw = std::fs::read(fixture()).unwrap();
    let tmp = scratch("compressed-inputs");
    let gz = tmp.join("f.pcap.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    e.write_all(&raw).unwrap();
    e.finish().unwrap();
    let zst = tmp.join("f.pcap.zst");
    std::fs::write(&zst, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    for input in [&gz, &zst] {
        let dir = out_dir(&format!(
            "c-{}",
            input.extension().unwrap().to_string_lossy()
        ));
        let o = convert(&[input], &dir, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            our_flows(&dir, &[1, 6, 17, 58]),
            want,
            "{}",
            input.display()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let dir = out_dir("stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
        .args(["convert", "-", "-o"])
        .arg(format!("parquet:{}", dir.display()))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(our_flows(&dir, &[1, 6, 17, 58]), want);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn unique_identifiers_and_client_ports_are_stored_without_a_dictionary() {
    let dir = out_dir("encodings");
    let o = convert(&[&fixture()], &dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    use parquet::file::reader::{FileReader, SerializedFileReader};
    // (table, column, whether its column chunks have a dictionary page)
    let want = [
        ("flows", "flow_id", false),
        ("flows", "client_port", false),
        ("flows", "server_port", true),
        ("l7_sessions", "flow_id", true),
        ("l7_sessions", "client_port", false),
        ("l7_sessions", "server_port", true),
    ];
    for (table, column, dictionary) in want {
        let files = table_files(&dir, table);
        assert!(!files.is_empty(), "{table}");
        let mut chunks = 0;
        for f in files {
            let r = SerializedFileReader::new(std::fs::File::open(&f).unwrap()).unwrap();
            for g in r.metadata().row_groups() {
                for c in g
                    .columns()
                    .iter()
                    .filter(|c| c.column_path().string() == column)
                {
                    assert_eq!(
                        c.dictionary_page_offset().is_some(),
                        dictionary,
                        "{table}.{column} in {}",
                        f.display()
                    );
                    chunks += 1;
                }
            }
        }
        assert!(chunks > 0, "{table}.{column}: no column chunk");
    }
    // Still the same flows.
    assert_eq!(our_flows(&dir, &[1, 6, 17, 58]), reference());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes the fixture's packets [from, to) to `path`.
fn write_part(path: &Path, from: usize, to: usize) {
    let mut src = wirehouse_capture::open(&fixture()).unwrap();
    let mut w = PcapWriter::new(
        std::fs::File::create(path).unwrap(),
        LinkType::Ethernet,
        262_144,
        false,
    )
    .unwrap();
    let mut i = 0;
    while let Some(p) = src.next_packet().unwrap() {
        if (from..to).contains(&i) {
            w.write(&p).unwrap();
        }
        i += 1;
    }
    w.into_inner().unwrap();
}

#[test]
fn files_of_a_directory_are_one_trace_and_non_captures_are_skipped() {
    let want = reference();
    let tmp = out_dir("split-input");
    std::fs::create_dir_all(tmp.join("a/b")).unwrap();
    // The later half sorts first by name: files must be ordered by their first packet.
    write_part(&tmp.join("a/0-second-half.pcap"), 150, usize::MAX);
    write_part(&tmp.join("a/b/1-first-half.pcap"), 0, 150);
    std::fs::write(tmp.join("a/README.txt"), "not a capture\n").unwrap();
    let dir = out_dir("split-output");
    let o = convert(&[&tmp.join("a")], &dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("README.txt"),
        "skipped file is reported: {}",
        stderr(&o)
    );
    assert_eq!(our_flows(&dir, &[1, 6, 17, 58]), want);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// In `tmp`: `notes.pcap`, a text file; `truncated.pcap`, the fixture cut in the middle
/// of a packet record; and the path of `gone.pcap`, which does not exist.
fn bad_inputs(tmp: &Path) -> [PathBuf; 3] {
    let not_capture = tmp.join("notes.pcap");
    std::fs::write(&not_capture, "this is a text file, not a capture\n").unwrap();
    let raw = std::fs::read(fixture()).unwrap();
    let truncated = tmp.join("truncated.pcap");
    std::fs::write(&truncated, &raw[..raw.len() / 2]).unwrap();
    [not_capture, truncated, tmp.join("gone.pcap")]
}

#[test]
fn bad_inputs_are_reported_and_the_rest_converted() {
    let tmp = scratch("bad-inputs");
    let [not_capture, truncated, missing] = bad_inputs(&tmp);
    let empty = tmp.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let stats = tmp.join("stats.json");
    let dir = out_dir("bad-output");
    let o = convert(
        &[&not_capture, &missing, &empty, &truncated],
        &dir,
        &["--stats-json", stats.to_str().unwrap()],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    // notes.pcap and the missing file are unreadable: the empty and the cut file open.
    assert!(
        err.lines().any(|l| l == "2 inputs could not be read"),
        "{err}"
    );
    assert!(
        err.contains("notes.pcap") && err.contains("not a pcap or pcapng capture"),
        "{err}"
    );
    // The missing file is one of the summary's error lines, like any unreadable input
    // (not a log line of its own before the run).
    assert_eq!(
        line_starting(&err, &format!("error: {}", missing.display())),
        format!(
            "error: {}: cannot open: No such file or directory (os error 2)",
            missing.display()
        ),
        "{err}"
    );
    assert!(!err.contains("ERROR"), "{err}");
    assert!(
        err.contains("truncated.pcap") && err.contains("byte offset"),
        "{err}"
    );
    // Every packet before the damage was kept: count them with our own reader.
    let mut src = wirehouse_capture::open(&truncated).unwrap();
    let mut before = 0u64;
    while let Ok(Some(_)) = src.next_packet() {
        before += 1;
    }
    assert!(before > 100);
    let js = stats_json(&stats);
    assert_eq!(js["packets"].as_u64(), Some(before));
    let flows = our_flows(&dir, &[1, 6, 17, 58]);
    let packets: u64 = flows.values().map(|v| v[0] + v[2]).sum();
    let untracked = js["non_ip_packets"].as_u64().unwrap()
        + js["defrag"]["lost_fragments"].as_u64().unwrap()
        + js["defrag"]["invalid_fragments"].as_u64().unwrap();
    assert_eq!(packets + untracked, before);
    let inputs = js["inputs"].as_array().unwrap();
    let by_name = |n: &str| {
        inputs
            .iter()
            .find(|i| i["file"].as_str().unwrap().ends_with(n))
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("notes.pcap")["unreadable"], true);
    assert_eq!(by_name("gone.pcap")["unreadable"], true);
    assert!(
        by_name("gone.pcap")["error"]
            .as_str()
            .unwrap()
            .contains("cannot open"),
        "{js}"
    );
    assert_eq!(by_name("empty.pcap")["unreadable"], false);
    assert_eq!(by_name("truncated.pcap")["unreadable"], false);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `-q` is "only errors": a clean run writes its tables and prints nothing; a run with
/// a file that is not a capture, a missing one and a cut one prints the first two's
/// errors and the count of unreadable inputs, not the cut file's warning nor any of the
/// summary.
#[test]
fn quiet_prints_only_errors() {
    let tmp = scratch("quiet-inputs");
    let dir = out_dir("quiet");
    let stats = tmp.join("stats.json");
    let o = convert(
        &[&fixture()],
        &dir,
        &[
            "-q",
            "--no-progress",
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let flows = our_flows(&dir, &[1, 6, 17, 58]).len();
    assert!(flows >= 12);
    // The stats file is written whole.
    let js = stats_json(&stats);
    assert_eq!(js["rows"]["flows"].as_u64(), Some(flows as u64), "{js}");
    assert!(js["packets"].as_u64().unwrap() > 0, "{js}");
    std::fs::remove_dir_all(&dir).unwrap();

    let [not_capture, truncated, missing] = bad_inputs(&tmp);
    let o = convert(
        &[&not_capture, &missing, &truncated],
        &dir,
        &["-q", "--no-progress"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    let error = |name: &str, what: &str| {
        lines[..2]
            .iter()
            .any(|l| l.starts_with("error: ") && l.contains(name) && l.contains(what))
    };
    assert!(error("notes.pcap", "not a pcap or pcapng capture"), "{err}");
    assert!(error("gone.pcap", "cannot open"), "{err}");
    assert_eq!(lines[2], "2 inputs could not be read");
    // The cut file's packets before the damage are still converted.
    assert!(!our_flows(&dir, &[1, 6, 17, 58]).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// An output directory that is an existing file, or a stats file that is a directory,
/// is refused before anything is read, in one line that says which and why (not a bare
/// "File exists", and not twice).
#[test]
fn unusable_output_paths_are_refused_before_reading() {
    let tmp = scratch("output-is-a-file");
    let file = tmp.join("out");
    std::fs::write(&file, "a file").unwrap();
    let o = convert(&[&fixture()], &file, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let p = file.display();
    assert_eq!(
        stderr(&o),
        format!("error: output parquet:{p}: {p}: exists and is not a directory\n")
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a file");
    let dir = tmp.join("parquet");
    let o = convert(
        &[&fixture()],
        &dir,
        &["--stats-json", tmp.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "error: --stats-json {}: Is a directory (os error 21)\n",
            tmp.display()
        )
    );
    assert!(table_files(&dir, "flows").is_empty());
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn corrupt_and_fuzzed_corpus_files_never_panic() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let rows: Vec<_> = wirehouse_testkit::manifest(&corpus)
        .into_iter()
        .filter(|r| {
            r.coverage.contains("corrupt/fuzzed/malformed")
                || r.coverage.contains("truncated/snaplen-cut")
        })
        .collect();
    assert!(rows.len() > 50);
    let files: Vec<PathBuf> = rows.iter().map(|r| corpus.join(&r.file)).collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let dir = out_dir("fuzzed");
    let o = convert(&refs, &dir, &["--no-progress"]);
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "exit {:?}: {err}",
        o.status
    );
    assert!(err.contains("read ") && err.contains("flows:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn schema_and_protocols_commands() {
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let md = run(&["schema"]);
    for c in [
        "flow_id",
        "client_retransmits",
        "ip_fragments",
        "close_reason",
        "handshake_rtt_us",
    ] {
        assert!(md.contains(&format!("| {c} |")), "{c} missing from {md}");
    }
    let ddl = run(&["schema", "--sink", "clickhouse", "--database", "netlog"]);
    assert!(
        ddl.contains("CREATE TABLE IF NOT EXISTS `netlog`.`flows`"),
        "{ddl}"
    );
    assert!(ddl.contains("`start_time` DateTime64(6, 'UTC')"), "{ddl}");
    run(&["protocols"]);
}

/// The run summary on stderr says in words what `--stats-json` holds: flows by close
/// reason, fragments and datagrams reassembled (the fixture has fragmented datagrams),
/// rows per table; no debug dump of a struct or a map.
#[test]
fn summary_lines_say_what_stats_json_holds() {
    let dir = out_dir("summary-lines");
    let stats = dir.with_extension("json");
    let o = convert(
        &[&fixture()],
        &dir,
        &["--stats-json", stats.to_str().unwrap()],
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let js = stats_json(&stats);
    std::fs::remove_file(&stats).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let line = |start: &str| line_starting(&err, start);
    let words = |m: &serde_json::Value| {
        let m = m.as_object().unwrap();
        let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
        (
            m.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
            parts.join(", "),
        )
    };
    let (flows, by_reason) = words(&js["flows"]);
    assert!(flows > 0, "{js}");
    assert_eq!(line("flows: "), format!("flows: {flows} ({by_reason})"));
    let d = &js["defrag"];
    let fragments = d["fragments"].as_u64().unwrap();
    assert!(fragments > 0, "the fixture has fragments: {d}");
    let defrag = line("defrag: ");
    assert!(
        defrag.starts_with(&format!(
            "defrag: {fragments} fragments, {} datagrams reassembled",
            d["reassembled"]
        )),
        "{defrag}"
    );
    let (_, per_table) = words(&js["rows"]);
    assert_eq!(line("rows written: "), format!("rows written: {per_table}"));
    for l in err.lines() {
        assert!(!l.contains('{') && !l.contains('"'), "a debug dump: {l}");
    }
}

/// One HTTP request cut into 12 IPv4 fragments, with no answer (PcapPlusPlus's
/// IPFragUtil output; tshark reassembles the same one `GET /convert_data.js` from the 12
/// frames): the summary counts the one datagram, session, flow, timeout, input, worker
/// and batch in the singular, the 12 packets and fragments in the plural.
#[test]
fn summary_counts_one_in_the_singular() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let cap = corpus.join("PcapPlusPlus/ExamplesTest/expected_output/http_req_frag.pcap");
    let o = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
        .args(["convert", "-o", "null", "-w", "1", "--no-progress"])
        .arg(&cap)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let line = |start: &str| line_starting(&err, start);
    assert!(
        line("read ").starts_with("read 12 packets (0.0 MB captured) from 1 input in "),
        "{err}"
    );
    assert_eq!(
        line("defrag: "),
        "defrag: 12 fragments, 1 datagram reassembled"
    );
    assert_eq!(
        line("l7: "),
        "l7: http 1 session (1 flow, 1 timeout, 0 parse errors)"
    );
    assert!(line("1 worker; ").ends_with(" over 1 batch"), "{err}");
    assert_eq!(line("flows: "), "flows: 1 (end_of_input 1)");
}

/// `-o null` runs the whole pipeline and stores nothing: no directory appears, and the
/// rows it reports per table and the sessions per protocol are those of a Parquet run
/// of the same input (whose reported rows are the rows in its files), whatever the
/// worker count. The summary says the rows were counted, not written.
#[test]
fn null_output_counts_the_rows_parquet_would_store() {
    let summary = |out: &str, w: &str, name: &str| {
        let stats = out_dir(name).with_extension("json");
        // An empty working directory, to see that nothing is written there.
        let cwd = out_dir(&format!("{name}-cwd"));
        std::fs::create_dir_all(&cwd).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
            .current_dir(&cwd)
            .arg("convert")
            .arg(fixture())
            .args(["-o", out, "-w", w, "--no-progress", "--stats-json"])
            .arg(&stats)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let js = stats_json(&stats);
        std::fs::remove_file(&stats).unwrap();
        let left = std::fs::read_dir(&cwd).unwrap().count();
        std::fs::remove_dir_all(&cwd).unwrap();
        assert_eq!(
            js["rows_discarded"].as_bool(),
            Some(out == "null"),
            "{out}: {js}"
        );
        (js["rows"].clone(), js["sessions"].clone(), stderr(&o), left)
    };
    let dir = out_dir("null-reference");
    let (rows, sessions, err, _) = summary(&format!("parquet:{}", dir.display()), "1", "null-pq");
    assert!(err.contains("rows written: flows "), "{err}");
    for table in ["flows", "l7_sessions"] {
        let stored: usize = read_table(&dir, table).iter().map(|b| b.num_rows()).sum();
        assert!(stored > 0, "{table}: the fixture gives rows");
        assert_eq!(Some(stored as u64), rows[table].as_u64(), "{table}: {rows}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    for w in ["1", "2"] {
        let (n_rows, n_sessions, err, left) = summary("null", w, &format!("null-w{w}"));
        assert_eq!(n_rows, rows, "-w {w}");
        assert_eq!(n_sessions, sessions, "-w {w}");
        assert!(err.contains("output: null"), "{err}");
        assert!(err.contains("rows counted, not stored: flows "), "{err}");
        assert!(!err.contains("rows written"), "{err}");
        assert_eq!(left, 0, "-o null -w {w} wrote into its working directory");
    }
}
