//! Link types and tunnels: on every corpus capture with SLL, SLL2, NULL/loopback, raw IP,
//! VLAN/QinQ, GRE, ERSPAN, VXLAN or Geneve (and no fragments, truncation or fuzzing), the
//! TCP/UDP flows we find — by their *inner* addresses and ports — and their per-direction
//! packet and byte totals equal tshark's.

mod common;

use common::*;

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
];
const AVOID: &[&str] = &[
    "corrupt/fuzzed/malformed",
    "IPv4 fragments",
    "IPv6 fragments",
    "truncated/snaplen-cut packets",
    "GTP",
    "Teredo",
];

#[test]
fn inner_flows_match_tshark_on_linktype_and_tunnel_captures() {
    let Some(corpus) = wirehouse_testkit::corpus() else { return };
    if !wirehouse_testkit::have_tool("tshark") {
        return;
    }
    let rows: Vec<_> = wirehouse_testkit::manifest(&corpus)
        .into_iter()
        .filter(|r| {
            let keys: Vec<&str> = r.coverage.split(';').collect();
            keys.iter().any(|k| WANTED.contains(k)) && !keys.iter().any(|k| AVOID.contains(k))
        })
        .collect();
    let mut covered: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failures = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let pcap = corpus.join(&r.file);
        let dir = out_dir(&format!("lt{i}"));
        let o = convert(&[&pcap], &dir, &["--no-progress", "-q"]);
        let theirs = tshark_flows(&pcap);
        let ours = our_flows(&dir, &[6, 17]);
        let _ = std::fs::remove_dir_all(&dir);
        if !o.status.success() {
            failures.push(format!("{}: exit {:?}", r.file, o.status));
            continue;
        }
        let d = diff(&ours, &theirs);
        if d.is_empty() {
            for k in r.coverage.split(';').filter(|k| WANTED.contains(k)) {
                *covered.entry(WANTED.iter().find(|w| *w == &k).unwrap()).or_default() += usize::from(!theirs.is_empty());
            }
        } else {
            failures.push(format!("{} ({}): {} differences, first: {}", r.file, r.coverage, d.len(), d[0]));
        }
    }
    eprintln!("{} captures compared; agreeing captures with flows per key: {covered:?}", rows.len());
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), rows.len(), failures.join("\n"));
    for k in WANTED {
        assert!(covered.get(k).copied().unwrap_or(0) > 0, "no agreeing capture with flows for {k}");
    }
}
