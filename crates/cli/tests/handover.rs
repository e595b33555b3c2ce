//! Streams that change protocol part-way, on real captures: a proxy's CONNECT tunnel and
//! FTP's AUTH TLS are followed by the TLS they carry (its handshake row, with the SNI),
//! FTP's commands are read again once CCC has shut TLS down, and the flow keeps the name
//! of the protocol that opened it.

mod common;

use common::*;

/// A row as (l7_protocol, request_type, request_domain).
type Row = (&'static str, &'static str, &'static str);

/// (capture, the flow's l7_protocol, its rows).
const CASES: &[(&str, &str, &[Row])] = &[
    (
        "zeek/Traces/http/connect-with-header.pcap",
        "http",
        &[
            ("http", "CONNECT", "secure.newegg.com"),
            ("tls", "handshake", "secure.newegg.com"),
        ],
    ),
    (
        "arkime/pcap/https-connect.pcap",
        "http",
        &[("http", "CONNECT", ""), ("tls", "handshake", "")],
    ),
    (
        "zeek/Traces/ftp/ftp-auth-tls.pcap",
        "ftp",
        &[
            ("ftp", "AUTH", ""),
            ("ftp", "FEAT", ""),
            ("tls", "handshake", "127.0.0.1"),
        ],
    ),
    // AUTH TLS, then CCC: both sides close TLS and the commands go on in the clear.
    (
        "nDPI/pcap/ftp-start-tls.pcap",
        "ftp",
        &[
            ("ftp", "AUTH", ""),
            ("ftp", "PASV", ""),
            ("ftp", "STOR", ""),
            ("tls", "handshake", ""),
        ],
    ),
];

#[test]
fn tunnels_and_starttls_are_followed_by_tls() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    for (i, (file, flow_proto, want)) in CASES.iter().enumerate() {
        let dir = out_dir(&format!("handover{i}"));
        let stats = dir.with_extension("json");
        let o = convert(
            &[&corpus.join(file)],
            &dir,
            &[
                "--no-progress",
                "-q",
                "--stats-json",
                stats.to_str().unwrap(),
            ],
        );
        assert!(
            o.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let rows = text_columns(
            &dir,
            "l7_sessions",
            &["l7_protocol", "request_type", "request_domain"],
        );
        let want: Vec<Vec<String>> = want
            .iter()
            .map(|(a, b, c)| vec![a.to_string(), b.to_string(), c.to_string()])
            .collect();
        assert_eq!(rows, want, "{file}");
        let flows = text_columns(&dir, "flows", &["l7_protocol"]);
        assert_eq!(flows, [[flow_proto.to_string()]], "{file}");
        // One flow, however often the stream changed hands: each protocol counts it once.
        let stats: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
        for row in &want {
            let proto = &row[0];
            assert_eq!(stats["l7"][proto]["flows"], 1, "{file}: {proto}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(dir.with_extension("json")).unwrap();
    }
}
