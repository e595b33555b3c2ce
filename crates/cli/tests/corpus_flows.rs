//! Flows against tshark on the whole real-capture corpus: for every capture without
//! truncation or fuzzing, the TCP/UDP flows `wirehouse convert` writes — by
//! their innermost addresses and ports — and their per-direction packet counts and IP
//! byte totals equal tshark's. This covers the link types (SLL, SLL2, NULL, raw IP, ...)
//! and tunnels (VLAN/QinQ, GRE, ERSPAN, VXLAN, Geneve, ...) listed in WANTED, each of
//! which must be represented by at least one agreeing capture with flows.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

const WANTED: &[&str] = &[
    "SLL",
    "SLL2",
    "raw IP linktype",
    "loopback/NULL linktype",
    "VLAN",
    "QinQ",
    "GRE",
    "ERSPAN",
    "VXLAN",
    "Geneve",
    "GTP",
    "Teredo",
    "pcapng multiple interfaces",
    "big-endian file",
    "nanosecond timestamps",
    "IPv4 fragments",
    "IPv6 fragments",
];
/// Truncated and fuzzed files are checked for robustness elsewhere.
const AVOID: &[&str] = &["corrupt/fuzzed/malformed", "truncated/snaplen-cut packets"];
/// Captures where tshark and wirehouse legitimately disagree.
const KNOWN: &[(&str, &str)] = &[
    (
        "tcpdump/bigtcp-ipv6-hbh.pcap",
        "BIG TCP jumbogram: tshark counts 40 bytes for payload length 0; we count the captured datagram",
    ),
    (
        "zeek/Traces/ipv6-mobility-dst-opts.pcap",
        "tshark stops at a destination option whose action bits say 'discard'; the datagram is on the wire and we count it",
    ),
    (
        "zeek/Traces/ipv4/fragmented-1.pcap",
        "evasion test: a first fragment with MF set whose length is not a multiple of 8 is invalid (as in Linux) and dropped, counted in defrag.invalid_fragments; tshark accepts it",
    ),
    (
        "zeek/Traces/ipv4/fragmented-2.pcap",
        "evasion test: same as fragmented-1.pcap",
    ),
];

#[test]
fn flows_match_tshark_across_the_corpus() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    if !wirehouse_testkit::have_tool("tshark") {
        return;
    }
    let rows: Vec<_> = wirehouse_testkit::manifest(&corpus)
        .into_iter()
        .filter(|r| !r.coverage.split(';').any(|k| AVOID.contains(&k)))
        .filter(|r| !KNOWN.iter().any(|(f, _)| *f == r.file))
        .collect();
    let covered: Mutex<BTreeMap<&str, usize>> = Mutex::default();
    let failures: Mutex<Vec<String>> = Mutex::default();
    let (mut compared_flows, next) = (Mutex::new(0usize), std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(r) = rows.get(i) else { break };
                    let pcap = corpus.join(&r.file);
                    let dir = out_dir(&format!("cf{i}"));
                    let o = convert(&[&pcap], &dir, &["--no-progress", "-q"]);
                    let theirs = tshark_flows(&pcap);
                    let ours = our_flows(&dir, &[6, 17]);
                    let _ = std::fs::remove_dir_all(&dir);
                    if !o.status.success() {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: exit {:?}", r.file, o.status));
                        continue;
                    }
                    let d = diff(&ours, &theirs);
                    if !d.is_empty() {
                        failures.lock().unwrap().push(format!(
                            "{} ({}): {} differences, first: {}",
                            r.file,
                            r.coverage,
                            d.len(),
                            d[0]
                        ));
                        continue;
                    }
                    *compared_flows.lock().unwrap() += theirs.len();
                    if !theirs.is_empty() {
                        for k in r.coverage.split(';') {
                            if let Some(w) = WANTED.iter().find(|w| **w == k) {
                                *covered.lock().unwrap().entry(w).or_default() += 1;
                            }
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let covered = covered.into_inner().unwrap();
    eprintln!(
        "{} captures, {} flows compared; agreeing captures with flows per key: {covered:?}",
        rows.len(),
        compared_flows.get_mut().unwrap()
    );
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    for k in WANTED {
        assert!(
            covered.get(k).copied().unwrap_or(0) > 0,
            "no agreeing capture with flows for {k}"
        );
    }
}
