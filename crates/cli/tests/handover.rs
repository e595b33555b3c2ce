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
        let stats = stats_json(&stats);
        for row in &want {
            let proto = &row[0];
            assert_eq!(stats["l7"][proto]["flows"], 1, "{file}: {proto}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(dir.with_extension("json")).unwrap();
    }
}

/// A capture cut with editcap: (name, the frames kept, each range with the bytes chopped
/// off the end of its packets; the rows wanted).
type Cut<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [[&'a str; 2]]);

/// Segments lost after the TLS row of `ftp-start-tls.pcap`, which TLS, lent the stream by
/// FTP, walks record by record until both sides have shut it down. A hole that ends where
/// a record starts, or inside the record being skipped, is walked past, and the commands
/// after CCC are read; when the client's alert is what was lost, the shutdown is not seen
/// and nothing after it is guessed at. The hole is counted each time.
#[test]
fn holes_inside_lent_tls() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    if !wirehouse_testkit::have_tool("editcap") || !wirehouse_testkit::have_tool("mergecap") {
        return;
    }
    let all: &[[&str; 2]] = &[
        ["ftp", "AUTH"],
        ["tls", "handshake"],
        ["ftp", "PASV"],
        ["ftp", "STOR"],
    ];
    let cases: &[Cut] = &[
        // Frame 36, a client record (37 bytes, application data), lost whole.
        ("lost36", &[("1-35", "0"), ("37-100", "0")], all),
        // Frame 35 (two server records, 82 bytes) captured without its last 20 bytes:
        // the hole is inside the second record.
        (
            "cut35",
            &[("1-34", "0"), ("35", "-20"), ("36-100", "0")],
            all,
        ),
        // Frame 43, the client's alert, lost.
        ("lost43", &[("1-42", "0"), ("44-100", "0")], &all[..=1]),
    ];
    let src = corpus.join("nDPI/pcap/ftp-start-tls.pcap");
    for (name, parts, want) in cases {
        let dir = out_dir(&format!("lent-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut pieces = Vec::new();
        for (i, (frames, chop)) in parts.iter().enumerate() {
            let piece = dir.join(format!("{i}.pcap"));
            wirehouse_testkit::run(
                std::process::Command::new("editcap")
                    .args(["-r", "-C", chop])
                    .arg(&src)
                    .arg(&piece)
                    .arg(frames),
            );
            pieces.push(piece);
        }
        let cut = dir.join("cut.pcap");
        wirehouse_testkit::run(
            std::process::Command::new("mergecap")
                .args(["-a", "-w"])
                .arg(&cut)
                .args(&pieces),
        );
        let out = dir.join("out");
        let stats = dir.join("stats.json");
        let o = convert(
            &[&cut],
            &out,
            &[
                "--no-progress",
                "-q",
                "--stats-json",
                stats.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut rows = text_columns(&out, "l7_sessions", &["l7_protocol", "request_type"]);
        rows.sort();
        let mut want = want.to_vec();
        want.sort();
        assert_eq!(rows, want, "{name}");
        let stats = stats_json(&stats);
        assert_eq!(stats["l7"]["tls"]["gaps"], 1, "{name}");
        assert_eq!(stats["l7"]["tls"]["given_up"], 0, "{name}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
