//! Tests. Fixtures: the control connections' TCP payloads (`tshark -Y 'tcp.port==21 &&
//! tcp.len>0 && !tcp.analysis.retransmission' -T fields -e tcp.srcport -e tcp.payload`)
//! of corpus captures: `zeek/Traces/ftp/retr.pcap`, `ipv6.pcap`,
//! `ipv6-multiline-reply.pcap`, `ftp-auth-tls.pcap`, and
//! `suricata-verify/tests/ftp/ftp-download-active/input.pcap`; one line per segment,
//! `C`/`S` then hex.

use super::*;
use crate::shared::Shared;
use crate::testutil::{segmentation_invariant, tcp_sessions};
use crate::{L7Config, L7Engine, L7Row};
use std::net::IpAddr;
use std::sync::Arc;
use wirehouse_flow::harness::{Segment, Split, segments};
use wirehouse_flow::{CloseReason, FlowConfig, FlowRow, FlowTable};

fn fixture(text: &str) -> Vec<(bool, Vec<u8>)> {
    text.lines()
        .filter_map(|l| {
            let (d, h) = l.split_once(' ')?;
            let b = (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            Some((d == "C", b))
        })
        .collect()
}

fn conv(f: &[(bool, Vec<u8>)]) -> Vec<(bool, &[u8])> {
    f.iter().map(|(c, b)| (*c, b.as_slice())).collect()
}

const RETR: &str = include_str!("fixtures/retr.txt");
const IPV6: &str = include_str!("fixtures/ipv6.txt");
const MULTILINE: &str = include_str!("fixtures/multiline.txt");
const AUTH_TLS: &str = include_str!("fixtures/auth_tls.txt");
const ACTIVE: &str = include_str!("fixtures/active.txt");

fn rows(text: &[(bool, &[u8])]) -> Vec<L7Row> {
    tcp_sessions(text, Split::Whole, 21)
}

fn summary(rows: &[L7Row]) -> Vec<(String, String, Option<i64>, &'static str)> {
    rows.iter()
        .map(|r| {
            (
                r.request_type.to_string(),
                r.request_resource.to_string(),
                r.response_code,
                r.response_status,
            )
        })
        .collect()
}

fn get<'a>(r: &'a L7Row, k: &str) -> Option<&'a str> {
    r.attributes
        .iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.as_str())
}

#[test]
fn retr_conversation_is_segmentation_invariant() {
    let f = fixture(RETR);
    let rows = segmentation_invariant(&conv(&f), 21);
    let s = summary(&rows);
    let want: Vec<(&str, &str, i64, &str)> = vec![
        ("USER", "anonymous", 331, "ok"),
        ("PASS", "****", 230, "ok"),
        ("SYST", "", 215, "ok"),
        ("PWD", "", 257, "ok"),
        ("TYPE", "I", 200, "ok"),
        ("EPSV", "", 229, "ok"),
        ("SIZE", "/README", 213, "ok"),
        ("CWD", "/README", 550, "client_error"),
        ("RETR", "/README", 226, "ok"),
        ("QUIT", "", 221, "ok"),
    ];
    assert_eq!(s.len(), want.len());
    for (g, w) in s.iter().zip(&want) {
        assert_eq!(
            (g.0.as_str(), g.1.as_str(), g.2, g.3),
            (w.0, w.1, Some(w.2), w.3)
        );
    }
    assert_eq!(rows[0].l7_protocol, "ftp");
    assert_eq!(rows[0].endpoint, "USER");
    assert_eq!(rows[7].response_exception, "/README: Not a directory");
    assert_eq!(rows[6].response_result, "16557");
    // 150 then 226: one row, the preliminary reply counted in.
    let retr = &rows[8];
    assert_eq!(get(retr, "preliminary_code"), Some("150"));
    assert_eq!(retr.response_bytes, 53 + 24);
    // Announced through 229, but no data connection in this test: pending.
    assert_eq!(get(retr, "data_pending"), Some("1"));
    // The password is nowhere.
    for r in &rows {
        assert!(!format!("{r:?}").contains("chrome@example.com"));
    }
}

#[test]
fn multiline_replies() {
    let f = fixture(MULTILINE);
    let rows = segmentation_invariant(&conv(&f), 21);
    // The 12-line greeting writes no row; the first is USER.
    assert_eq!(rows[0].request_type, "USER");
    // The server's last reply (221, no QUIT seen) pairs with nothing.
    let (last, paired) = rows.split_last().unwrap();
    assert!(paired.iter().all(|r| !r.request_type.is_empty()));
    assert_eq!(
        (last.request_type.as_str(), last.response_code),
        ("", Some(221))
    );
    let retr = paired.last().unwrap();
    assert_eq!(
        (retr.request_type.as_str(), retr.response_code),
        ("RETR", Some(550))
    );
    // 550 without a preliminary reply: no data connection expected.
    assert_eq!(get(retr, "data_pending"), None);
    let f6 = fixture(IPV6);
    let rows = rows_of(&f6);
    // `230-` … `230 ` is one reply to PASS.
    let pass = rows.iter().find(|r| r.request_type == "PASS").unwrap();
    assert_eq!(pass.response_code, Some(230));
    assert_eq!(pass.request_resource, "****");
    let user = rows.iter().position(|r| r.request_type == "USER").unwrap();
    assert_eq!(rows[user + 1].request_type, "PASS");
    assert_eq!(rows[user + 2].request_type, "SYST");
}

fn rows_of(f: &[(bool, Vec<u8>)]) -> Vec<L7Row> {
    rows(&conv(f))
}

#[test]
fn ipv6_eprt_epsv() {
    let f = fixture(IPV6);
    let rows = rows_of(&f);
    let types: Vec<&str> = rows.iter().map(|r| r.request_type.as_str()).collect();
    assert!(types.contains(&"EPRT"), "{types:?}");
    assert!(types.contains(&"EPSV"), "{types:?}");
    let eprt = rows.iter().find(|r| r.request_type == "EPRT").unwrap();
    assert_eq!(eprt.response_code, Some(200));
    assert!(eprt.request_resource.starts_with("|2|"));
    // Every transfer's row says its data connection is not seen here.
    for r in rows
        .iter()
        .filter(|r| parser::TRANSFERS.contains(&r.request_type.as_str()))
    {
        assert!(r.response_code.is_some());
    }
}

#[test]
fn auth_tls_hands_over_to_tls() {
    let f = fixture(AUTH_TLS);
    let rows = rows_of(&f);
    let auth = rows.iter().position(|r| r.request_type == "AUTH").unwrap();
    let a = &rows[auth];
    assert_eq!(a.request_resource, "TLS");
    assert_eq!(a.response_code, Some(234));
    assert_eq!(get(a, "tls"), Some("1"));
    // What follows is TLS, read as TLS: the handshake, and no FTP row.
    let after: Vec<_> = rows[auth + 1..]
        .iter()
        .map(|r| (r.l7_protocol, r.request_type.as_str()))
        .collect();
    assert_eq!(after, [("tls", "handshake")], "{:?}", summary(&rows));
}

#[test]
fn active_mode_port() {
    let f = fixture(ACTIVE);
    let rows = segmentation_invariant(&conv(&f), 21);
    let port = rows.iter().find(|r| r.request_type == "PORT").unwrap();
    assert_eq!(port.response_code, Some(200));
    assert!(
        parser::host_port(port.request_resource.as_bytes()).is_some(),
        "{}",
        port.request_resource
    );
}

#[test]
fn pipelined_fifo_and_statuses() {
    let c: &[(bool, &[u8])] = &[
        (false, b"220 FTP ready\r\n"),
        (
            true,
            b"USER bob\r\nPASS secret\r\nCWD /x\r\nRETR a\r\nstor b\r\n",
        ),
        (false, b"331 Need password\r\n230 OK\r\n"),
        (false, b"250 CWD ok\r\n150 Opening\r\n"),
        (false, b"425 Can't open data connection\r\n"),
        (false, b"553-Not allowed\r\n more\r\n553 Not allowed\r\n"),
        (true, b"FOO bar\r\nNOOP\r\n"),
        (false, b"502 Not implemented\r\n200 ok\r\n"),
    ];
    let rows = segmentation_invariant(c, 21);
    let s: Vec<_> = summary(&rows)
        .into_iter()
        .map(|(t, a, c, st)| (t, a, c.unwrap_or(0), st))
        .collect();
    let want = [
        ("USER", "bob", 331, "ok"),
        ("PASS", "****", 230, "ok"),
        ("CWD", "/x", 250, "ok"),
        ("RETR", "a", 425, "server_error"),
        ("STOR", "b", 553, "client_error"),
        ("FOO", "bar", 502, "client_error"),
        ("NOOP", "", 200, "ok"),
    ];
    assert_eq!(s.len(), want.len(), "{s:?}");
    for (g, w) in s.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1.as_str(), g.2, g.3), w);
    }
    assert_eq!(rows[3].response_exception, "Can't open data connection");
    assert_eq!(get(&rows[3], "preliminary_code"), Some("150"));
    assert_eq!(rows[4].response_exception, "Not allowed");
    assert!(!format!("{rows:?}").contains("secret"));
}

#[test]
fn long_lines_skipped_and_unanswered_time_out() {
    let long = [b'A'; 9000];
    let mut cmd = long.to_vec();
    cmd.extend_from_slice(b"\r\nNOOP\r\nSTAT\r\n");
    let c: &[(bool, &[u8])] = &[
        (false, b"220 FTP\r\n"),
        (true, b"SYST\r\n"),
        (false, b"215 UNIX\r\n"),
        (true, &cmd),
        (false, b"200 ok\r\n"),
    ];
    let rows = segmentation_invariant(c, 21);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[1].request_type.as_str(), rows[1].response_code),
        ("NOOP", Some(200))
    );
    assert_eq!(rows[2].request_type, "STAT");
    assert_eq!(rows[2].response_status, "timeout");
    let mut reply = b"200 ".to_vec();
    reply.extend_from_slice(&[b'x'; 2000]);
    reply.extend_from_slice(b"\r\n");
    let c: &[(bool, &[u8])] = &[(true, b"NOOP\r\n"), (false, &reply)];
    let r = super::tests::rows(c);
    assert_eq!(r[0].response_result.len(), parser::MAX_TEXT);
}

/// Runs segments through a flow table with an engine sharing `shared`.
fn run_shared(
    segs: &[Segment],
    port: u16,
    shared: &Arc<Shared>,
    ips: (IpAddr, IpAddr),
    cport: u16,
) -> (Vec<L7Row>, Vec<FlowRow>) {
    use wirehouse_flow::harness::decoded_on;
    let mut t = FlowTable::with_handler(
        FlowConfig::default(),
        L7Engine::with_shared(L7Config::default(), shared.clone()),
    );
    let src: Arc<str> = "t".into();
    let mut flows = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let mut d = decoded_on(s, port);
        // Move the connection to the wanted addresses and client port.
        let fc = s.from_client;
        let (a, b) = if fc { (ips.0, ips.1) } else { (ips.1, ips.0) };
        d.ip.src = a;
        d.ip.dst = b;
        if let wirehouse_wire::L4::Tcp(tcp) = &mut d.l4 {
            if fc {
                tcp.src_port = cport;
            } else {
                tcp.dst_port = cport;
            }
        }
        t.process(1_000_000_000 + i as i64 * 1_000_000, &d, &src, &mut |r| {
            flows.push(r)
        });
    }
    t.drain(CloseReason::EndOfInput, &mut |r| flows.push(r));
    let rows: Vec<L7Row> = t.into_handler().take_rows().collect();
    (rows, flows)
}

#[test]
fn shared_registry_links_data_connection() {
    let shared = Arc::new(Shared::new());
    let (c, s): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    // Control, first half: up to the 227 (engine A, "worker 1").
    let ctl1: &[(bool, &[u8])] = &[
        (false, b"220 FTP server ready\r\n"),
        (true, b"USER u\r\n"),
        (false, b"230 ok\r\n"),
        (true, b"PASV\r\n"),
        (false, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n"),
    ];
    // The probe of a flow to 10.0.0.2:5001 is certain only once it is announced.
    let probe = |shared: &Shared| {
        crate::protocols::ftp_data::PROTOCOL.probe(&ProbeInput {
            bytes: b"\x89PNG",
            from_client: false,
            server_port: 5001,
            client: (c, 40001),
            server: (s, 5001),
            shared: Some(shared),
            ..ProbeInput::default()
        })
    };
    assert_eq!(probe(&shared), Probe::NotMine);
    // Whole control conversation; the data connection in between, on another engine.
    let data = vec![0x42u8; 3000];
    let ctl2: &[(bool, &[u8])] = &[
        (true, b"RETR f\r\n"),
        (false, b"150 Opening\r\n"),
        (false, b"226 Done\r\n"),
        (true, b"QUIT\r\n"),
        (false, b"221 Bye\r\n"),
    ];
    // Engine A sees the control connection up to the 227, which announces 10.0.0.2:5001
    // (19*256+137).
    let mut all: Vec<(bool, &[u8])> = ctl1.to_vec();
    let (rows_a1, _) = run_shared(&segments(ctl1, Split::Whole), 21, &shared, (c, s), 40000);
    assert!(rows_a1.iter().any(|r| r.request_type == "PASV"));
    assert!(shared.is_announced((s, 5001)));
    assert_eq!(probe(&shared), Probe::Certain);
    // Engine B: the data connection, recognised, counted, published.
    let (rows_b, flows_b) = run_shared(
        &segments(
            &[(false, &data[..1000]), (false, &data[1000..])],
            Split::Whole,
        ),
        5001,
        &shared,
        (c, s),
        40001,
    );
    assert!(
        rows_b.is_empty(),
        "a data connection writes no rows of its own"
    );
    assert_eq!(flows_b.len(), 1);
    let data_row = &flows_b[0];
    assert_eq!(data_row.l7_protocol, "ftp-data");
    assert_eq!(data_row.server_payload_bytes, 3000);
    assert!(!shared.is_announced((s, 5001)), "claimed");
    // Engine A again (same control flow: same addresses, ports and first-packet time).
    all.extend_from_slice(ctl2);
    let (rows_a, _) = run_shared(&segments(&all, Split::Whole), 21, &shared, (c, s), 40000);
    let retr = rows_a.iter().find(|r| r.request_type == "RETR").unwrap();
    assert_eq!(
        get(retr, "data_flow_id"),
        Some(data_row.flow_id.to_string().as_str())
    );
    assert_eq!(get(retr, "data_bytes"), Some("3000"));
    assert!(get(retr, "data_duration_us").is_some());
    assert_eq!(get(retr, "data_pending"), None);
    // Taken: a second lookup finds nothing.
    assert!(shared.take_transfer(retr.flow_id, (s, 5001)).is_none());
}

#[test]
fn gap_resynchronises_at_next_line() {
    // Drop a segment in the middle of a client line.
    let mut segs = segments(
        &[
            (false, b"220 FTP ready\r\n" as &[u8]),
            (true, b"USER a\r\n"),
            (false, b"331 pw\r\n"),
            (true, b"PASS xx"),
            (true, b"yy\r\nSYST\r\n"),
            (false, b"230 ok\r\n215 UNIX\r\n"),
        ],
        Split::Whole,
    );
    // Find the segment carrying "PASS xx" and drop it.
    segs.retain(|s| s.payload != b"PASS xx");
    let mut e = wirehouse_flow::harness::run_on(&segs, 21, L7Engine::new(L7Config::default()));
    let rows: Vec<L7Row> = e.take_rows().collect();
    let s: Vec<_> = summary(&rows);
    // The partial line after the gap ("yy") is skipped; SYST pairs with the next reply.
    assert_eq!(s[0].0, "USER");
    assert!(s.iter().any(|r| r.0 == "SYST"), "{s:?}");
    assert!(!format!("{rows:?}").contains("yy"));
}

#[test]
fn no_panic_on_truncations_and_mutations() {
    let f = fixture(IPV6);
    let mut stream: Vec<(bool, Vec<u8>)> = f.clone();
    stream.extend(fixture(RETR));
    // Every truncation of the server's and the client's bytes, one side at a time.
    let client: Vec<u8> = f.iter().filter(|x| x.0).flat_map(|x| x.1.clone()).collect();
    let server: Vec<u8> = f
        .iter()
        .filter(|x| !x.0)
        .flat_map(|x| x.1.clone())
        .collect();
    for n in (0..server.len()).step_by(7) {
        let _ = rows(&[
            (false, &server[..n]),
            (true, &client[..n.min(client.len())]),
        ]);
    }
    // Random mutations.
    let mut next = wirehouse_testkit::xorshift();
    for _ in 0..200 {
        let mut m = stream.clone();
        for _ in 0..8 {
            let i = (next() as usize) % m.len();
            if m[i].1.is_empty() {
                continue;
            }
            let j = (next() as usize) % m[i].1.len();
            m[i].1[j] = next() as u8;
        }
        let _ = rows(&conv(&m));
    }
    // Raw probes on junk.
    for n in 0..64 {
        let b: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        for fc in [true, false] {
            let _ = PROTOCOL.probe(&ProbeInput {
                bytes: &b,
                from_client: fc,
                server_port: 21,
                ..ProbeInput::default()
            });
        }
        let _ = parser::host_port(&b);
        let _ = parser::epsv_port(&b);
        let _ = parser::eprt(&b);
        let _ = parser::reply_line(&b);
        let _ = parser::command(&b);
    }
}

#[test]
fn probe_verdicts() {
    let p = |b: &[u8], fc: bool, port: u16| {
        PROTOCOL.probe(&ProbeInput {
            bytes: b,
            from_client: fc,
            server_port: port,
            ..ProbeInput::default()
        })
    };
    let f = fixture(RETR);
    assert_eq!(p(&f[0].1, false, 21), Probe::Certain);
    assert_eq!(p(&f[0].1, false, 9999), Probe::Certain, "says FTP");
    assert_eq!(p(b"220 welcome\r\n", false, 9999), Probe::Unsure);
    assert_eq!(p(b"220 welcome\r\n", false, 21), Probe::Certain);
    assert_eq!(p(b"USER x\r\n", true, 9999), Probe::Unsure);
    assert_eq!(p(b"USER x\r\n", true, 21), Probe::Certain);
    assert_eq!(p(b"EPSV\r\n", true, 9999), Probe::Certain);
    assert_eq!(p(b"GET / HTTP/1.1\r\n", true, 21), Probe::NotMine);
    assert_eq!(p(b"220 mail ESMTP\r\n", false, 21), Probe::NotMine);
}
