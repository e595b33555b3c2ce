//! Resets during a TCP handshake, on real captures. suricata-verify's evasion captures
//! forge a server reset (and FIN) before the real SYN-ACK; Linux and Windows refuse them
//! (their timestamps do not fit the SYN), the Linux client answers with a reset of its
//! own, and the connection goes on to carry a request and its response (zeek's
//! rst-after-syn is the same without the L7). A reset the handshake did not outlive (a
//! closed port) still closes the connection.

mod common;

use common::*;

/// (capture, the flow's close_reason, its l7 rows as (request_type, request_resource,
/// response_status), whether the summary reports a handshake past a reset, the stream
/// bytes delivered: tshark's payload lengths up to the last genuine reset).
type Case = (
    &'static str,
    &'static str,
    &'static [[&'static str; 3]],
    bool,
    u64,
);

const CASES: &[Case] = &[
    (
        "suricata-verify/tests/bug-3286-02-linux-evasion/with_evasion_linux.pcap",
        "end_of_input",
        &[["GET", "/", "ok"]],
        true,
        338 + 79,
    ),
    (
        "suricata-verify/tests/bug-3286-03-windows-evasion/with_evasion_windows.pcap",
        "end_of_input",
        &[["GET", "/", "ok"]],
        true,
        343 + 79,
    ),
    // zeek's rst-after-syn: a reset with a bad ACK before the SYN-ACK, then a connection
    // that carries 25 bytes and is reset for real.
    ("zeek/Traces/tcp/rst-inject-rae.pcap", "rst", &[], true, 25),
    (
        "deepflow/flow_generator/server-reset.pcap",
        "rst",
        &[],
        false,
        0,
    ),
];

#[test]
fn forged_handshake_resets_close_nothing() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    for (i, (file, reason, want, past, delivered)) in CASES.iter().enumerate() {
        let dir = out_dir(&format!("resets{i}"));
        let stats = dir.with_extension("json");
        let o = convert(
            &[&corpus.join(file)],
            &dir,
            &["--no-progress", "--stats-json", stats.to_str().unwrap()],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{file}: {err}");
        assert_eq!(
            err.contains("1 handshake past a reset"),
            *past,
            "{file}: {err}"
        );
        let flows = text_columns(&dir, "flows", &["close_reason"]);
        assert_eq!(flows, [[reason.to_string()]], "{file}");
        let rows = if table_files(&dir, "l7_sessions").is_empty() {
            Vec::new()
        } else {
            text_columns(
                &dir,
                "l7_sessions",
                &["request_type", "request_resource", "response_status"],
            )
        };
        let want: Vec<Vec<String>> = want
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        assert_eq!(rows, want, "{file}");
        let stats = stats_json(&stats);
        assert_eq!(
            stats["reassembly"]["streams"]["delivered_bytes"], *delivered,
            "{file}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(dir.with_extension("json")).unwrap();
    }
}
