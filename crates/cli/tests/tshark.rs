//! End to end against tshark: the flows `wirehouse convert` writes have the same
//! 5-tuples, and per direction the same packet and IP-byte totals, as tshark decodes.

mod common;

use common::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    wirehouse_testkit::repo_root().join("testdata").join(name)
}

#[test]
fn fixture_flows_match_tshark_to_the_byte() {
    if !wirehouse_testkit::have_tool("tshark") {
        return;
    }
    let pcap = fixture("http-dns-icmp.pcap");
    let dir = out_dir("fixture");
    let o = convert(&[&pcap], &dir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = our_flows(&dir, &[6, 17]);
    let theirs = tshark_flows(&pcap);
    // tcp.stream count: distinct TCP conversations.
    let streams = wirehouse_testkit::run(
        std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&pcap)
            .args(["-Y", "tcp", "-T", "fields", "-e", "tcp.stream"]),
    );
    let n_streams = streams
        .lines()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(ours.keys().filter(|k| k.0 == 6).count(), n_streams);
    // The UDP flows here include fragmented ICMP-free DNS only; fragments are ICMP.
    let d = diff(&ours, &theirs);
    assert!(d.is_empty(), "{d:#?}");
    assert!(ours.len() >= 9, "{ours:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A large mixed capture (e.g. from `../shared/tools/make-traffic.sh`) named by
/// `WIREHOUSE_MIXED_PCAP`: run with `cargo test --release -p wirehouse --test tshark -- --ignored`.
#[test]
#[ignore = "needs WIREHOUSE_MIXED_PCAP, a large capture not shipped with the repository"]
fn mixed_capture_flows_match_tshark() {
    let pcap =
        PathBuf::from(std::env::var("WIREHOUSE_MIXED_PCAP").expect("set WIREHOUSE_MIXED_PCAP"));
    let dir = out_dir("mixed");
    let o = convert(&[&pcap], &dir, &["--no-progress"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = our_flows(&dir, &[6, 17]);
    let theirs = tshark_flows(&pcap);
    let d = diff(&ours, &theirs);
    eprintln!(
        "{} TCP/UDP flows compared, {} differ",
        theirs.len(),
        d.len()
    );
    assert!(d.is_empty(), "{:#?}", &d[..d.len().min(20)]);
    std::fs::remove_dir_all(&dir).unwrap();
}
