//! The pipeline's contract: the same rows whatever the number of workers, one trace
//! across files, and a graceful shutdown on SIGINT that leaves only complete files.

mod common;

use common::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn fixture() -> PathBuf {
    wirehouse_testkit::repo_root().join("testdata/http-dns-icmp.pcap")
}

#[test]
fn one_two_and_eight_workers_write_the_same_rows() {
    let mut inputs = vec![fixture()];
    if let Some(corpus) = wirehouse_testkit::corpus() {
        for f in [
            "PcapPlusPlus/ExamplesTest/pcap_examples/tcp-reassembly.pcap",
            "PcapPlusPlus/ExamplesTest/pcap_examples/ip-frag.pcap",
            "suricata-verify/tests/bug-5633-gre-02/gre-sample.pcap",
            "nDPI/pcap/dns_fragmented.pcap",
            "zeek/Traces/http/pipelined-requests.pcap",
            "zeek/Traces/http/http-large-gap.pcap",
            "nDPI/pcap/tls_2_reasms.pcapng",
            "zeek/Traces/ftp/ipv4.pcap",
            "suricata-verify/tests/ftp/ftp-download-active/input.pcap",
            "deepflow/flow_generator/kafka/11-join-group-v7.pcap",
            "deepflow/flow_generator/mongo/mongo.pcap",
            "zeek/Traces/tunnels/gtp/gtp1_gn_normal_incl_fragmentation.pcap",
            "zeek/Traces/erspan.pcap",
        ] {
            inputs.push(corpus.join(f));
        }
    }
    for input in &inputs {
        let mut outputs = Vec::new();
        for w in ["1", "2", "8"] {
            let dir = out_dir(&format!("w{w}"));
            let o = convert(&[input], &dir, &["-w", w, "--no-progress"]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let mut rows = rows_as_text(&dir, "flows");
            rows.extend(rows_as_text(&dir, "l7_sessions"));
            outputs.push(rows);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert!(!outputs[0].is_empty());
        assert_eq!(outputs[0], outputs[1], "{}: -w 1 vs -w 2", input.display());
        assert_eq!(outputs[0], outputs[2], "{}: -w 1 vs -w 8", input.display());
    }
}

/// SIGINT halfway through a piped capture: reading stops, open flows are written with
/// `close_reason = shutdown`, every file is complete, and stderr says it was interrupted;
/// with `-q` it says nothing (an interrupt is not an error).
#[test]
fn sigint_writes_open_flows_as_shutdown_and_leaves_complete_files() {
    for quiet in [false, true] {
        sigint_run(quiet);
    }
}

fn sigint_run(quiet: bool) {
    let raw = std::fs::read(fixture()).unwrap();
    let dir = out_dir(&format!("sigint-{quiet}"));
    let stats = dir.with_extension("json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirehouse"))
        .args(quiet.then_some("-q"))
        .args(["convert", "-", "--no-progress", "-o"])
        .arg(format!("parquet:{}", dir.display()))
        .arg("--stats-json")
        .arg(&stats)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Half the capture, then an interrupt while the pipe stays open, then the rest.
    stdin.write_all(&raw[..raw.len() / 2]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = stdin.write_all(&raw[raw.len() / 2..]);
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    if quiet {
        assert_eq!(err, "");
    } else {
        assert!(err.contains("interrupted"), "{err}");
    }
    let js = stats_json(&stats);
    assert_eq!(js["interrupted"], true);
    assert!(js["flows"]["shutdown"].as_u64().unwrap_or(0) > 0, "{js}");
    // Every file is complete (renamed, readable), none left in progress.
    let rows = rows_as_text(&dir, "flows");
    assert!(rows.iter().any(|r| r.contains("\"shutdown\"")));
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let n = e.file_name().into_string().unwrap();
            assert!(!n.ends_with(".inprogress"), "left behind: {n}");
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(&stats);
}

/// `--stats-json` says where the CPU went: the reading thread (which runs the worker
/// itself when there is one), each worker thread, the sink thread, and the rest. Thread
/// clocks, not the process clock: the parts add up to no more than the process used.
#[test]
fn stats_account_for_the_cpu_of_each_thread() {
    for (w, threads) in [("1", 0), ("2", 2)] {
        let dir = out_dir(&format!("cpu-w{w}"));
        let stats = dir.with_extension("json");
        let o = convert(
            &[&fixture()],
            &dir,
            &[
                "-w",
                w,
                "--no-progress",
                "--stats-json",
                stats.to_str().unwrap(),
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("cpu seconds: "), "{err}");
        let js = stats_json(&stats);
        let c = &js["cpu_seconds"];
        let num = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("{c}"));
        let workers: Vec<f64> = c["workers"].as_array().unwrap().iter().map(num).collect();
        assert_eq!(workers.len(), threads, "-w {w}: {c}");
        let (total, readers, sink) = (num(&c["total"]), num(&c["readers"]), num(&c["sink"]));
        assert!(readers > 0.0 && sink > 0.0, "-w {w}: {c}");
        assert!(workers.iter().all(|&x| x > 0.0), "-w {w}: {c}");
        let parts = readers + sink + workers.iter().sum::<f64>();
        assert!(
            parts <= total + 1e-6,
            "-w {w}: threads {parts} > process {total}: {c}"
        );
        let other = total - parts;
        assert!((num(&c["other"]) - other).abs() < 1e-6, "-w {w}: {c}");
        std::fs::remove_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(&stats);
    }
}
