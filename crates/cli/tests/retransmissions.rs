//! Retransmission counts against tshark's `tcp.analysis.retransmission`, per flow
//! direction, on the corpus captures tagged with TCP retransmissions.
//!
//! Known, systematic differences (see crates/flow/src/reassembly.rs): tshark flags a
//! segment as retransmitted when its sequence number is below the highest seen, with a
//! timing rule against reordering; we count segments that repeat bytes already seen (all
//! or some), and hole-filling segments (at the hole's start or inside it) that arrive more
//! than one handshake RTT (default 3 ms) after the hole appeared, when the receiver
//! acknowledged the hole's start meanwhile or no new bytes came within that time before.
//! Keep-alives are not retransmissions for either.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::process::Command;

/// tshark: retransmissions per (src endpoint, dst endpoint).
fn tshark_retx(pcap: &std::path::Path) -> BTreeMap<(Ep, Ep), u64> {
    let out = wirehouse_testkit::run(Command::new("tshark").args(["-n", "-r"]).arg(pcap).args([
        "-Y",
        "tcp.analysis.retransmission and not icmp and not icmpv6",
        "-T",
        "fields",
        "-E",
        "occurrence=l",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "ipv6.dst",
        "-e",
        "tcp.dstport",
    ]));
    let mut m = BTreeMap::new();
    for l in out.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 6 {
            continue;
        }
        let (Ok(sp), Ok(dp)) = (f[2].parse::<u16>(), f[5].parse::<u16>()) else {
            continue;
        };
        let src = if f[1].is_empty() { f[0] } else { f[1] };
        let dst = if f[4].is_empty() { f[3] } else { f[4] };
        *m.entry(((src.to_string(), sp), (dst.to_string(), dp)))
            .or_default() += 1;
    }
    m
}

#[test]
fn retransmissions_per_direction_are_close_to_tshark() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    if !wirehouse_testkit::have_tool("tshark") {
        return;
    }
    let rows: Vec<_> = wirehouse_testkit::manifest(&corpus)
        .into_iter()
        .filter(|r| r.coverage.contains("TCP retransmissions") && !r.coverage.contains("corrupt"))
        .collect();
    let (mut dirs, mut equal, mut ours_total, mut theirs_total) = (0u64, 0u64, 0u64, 0u64);
    let mut worst = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let pcap = corpus.join(&r.file);
        let dir = out_dir(&format!("retx{i}"));
        let o = convert(&[&pcap], &dir, &["--no-progress", "-q"]);
        assert!(o.status.success(), "{}", r.file);
        let ours = our_retransmits(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let theirs = tshark_retx(&pcap);
        let keys: std::collections::BTreeSet<_> =
            ours.keys().chain(theirs.keys()).cloned().collect();
        for k in keys {
            let (o, t) = (
                ours.get(&k).copied().unwrap_or(0),
                theirs.get(&k).copied().unwrap_or(0),
            );
            dirs += 1;
            ours_total += o;
            theirs_total += t;
            if o == t {
                equal += 1;
            } else {
                worst.push((o.abs_diff(t), r.file.clone(), k, o, t));
            }
        }
    }
    worst.sort();
    worst.reverse();
    eprintln!(
        "{} captures, {dirs} directions with retransmissions: {equal} equal; total ours {ours_total}, tshark {theirs_total}",
        rows.len()
    );
    for w in worst.iter().take(10) {
        eprintln!("  {w:?}");
    }
    assert!(rows.len() > 50);
    assert!(
        equal * 100 >= dirs * 75,
        "only {equal} of {dirs} directions agree"
    );
    assert!(
        ours_total.abs_diff(theirs_total) * 100 <= theirs_total * 15,
        "totals {ours_total} vs {theirs_total}"
    );
}
