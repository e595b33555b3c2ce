//! QUIC end to end against tshark, on handshakes between aioquic's client and server
//! (`testdata/quic-aioquic.pcap`, recorded by `scripts/make-quic-capture.sh`): QUIC v1 and
//! v2, IPv4 and IPv6, a Retry, a refused ALPN, a ClientHello in two Initial packets; and
//! nDPI's draft-29 capture against nDPI's result.

mod common;

use common::*;
use std::collections::BTreeMap;

/// UDP payload bytes sent from port `from` to port `to` in frames up to `frame`
/// (tshark's frame numbers).
fn sent_until(frames: &[Vec<String>], from: &str, to: &str, frame: u64) -> u64 {
    frames
        .iter()
        .filter(|f| f[1] == from && f[2] == to && f[0].parse::<u64>().expect("frame") <= frame)
        .map(|f| f[3].parse::<u64>().expect("udp.length") - 8)
        .sum()
}

#[test]
fn aioquic_handshakes_match_tshark() {
    if !wirehouse_testkit::have_tool("tshark") {
        return;
    }
    let pcap = wirehouse_testkit::repo_root().join("testdata/quic-aioquic.pcap");
    let dir = out_dir("quic");
    let o = convert(&[&pcap], &dir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: BTreeMap<u16, Row> = l7_rows(&dir)
        .into_iter()
        .map(|r| (r.client_port, r))
        .collect();

    let frames = tshark_fields(
        &pcap,
        "udp",
        &["frame.number", "udp.srcport", "udp.dstport", "udp.length"],
    );
    // tshark decrypts the Initial packets too: the first ClientHello, ServerHello and
    // CONNECTION_CLOSE of each client port (the higher one: ephemeral), as [frame, the
    // client's port, the server's, fields...].
    let first = |filter: &str, fields: &[&str]| -> BTreeMap<u16, Vec<String>> {
        let mut all = vec!["frame.number"];
        all.extend(fields);
        tshark_first_udp(&pcap, filter, &all, u16::max)
            .into_iter()
            .map(|(client, v)| {
                let server = v[0]
                    .parse::<u16>()
                    .expect("port")
                    .min(v[1].parse().expect("port"));
                let mut row = vec![v[2].clone(), client.to_string(), server.to_string()];
                row.extend_from_slice(&v[3..]);
                (client, row)
            })
            .collect()
    };
    let hellos = first(
        "tls.handshake.type == 1",
        &[
            "tls.handshake.extensions_server_name",
            "tls.handshake.ja3",
            "tls.handshake.extensions_alpn_str",
            "quic.version",
        ],
    );
    let servers = first("tls.handshake.type == 2", &["tls.handshake.ciphersuite"]);
    let closes = first("quic.cc.error_code", &["quic.cc.error_code"]);
    let retries = first("quic.long.packet_type == 3", &[]);
    assert_eq!(hellos.len(), 5, "{hellos:#?}");
    assert_eq!(rows.len(), hellos.len(), "{rows:#?}");

    for (port, h) in &hellos {
        let r = &rows[port];
        let ch_frame: u64 = h[0].parse().expect("frame");
        let (client, server_port) = (&h[1], &h[2]);
        assert_eq!(r.l7_protocol, "quic");
        assert_eq!(r.request_type, "handshake");
        assert_eq!(r.request_domain, h[3], "{client}");
        assert_eq!(r.attr("ja3_hash"), Some(h[4].as_str()), "{client}");
        // tshark lists every ALPN name; we keep the first 32.
        let alpn: Vec<&str> = h[5].split(',').take(32).collect();
        assert_eq!(
            r.attr("alpn_offered"),
            Some(alpn.join(",").as_str()),
            "{client}"
        );
        let version = match h[6].split(',').next() {
            Some("0x00000001") => "1",
            Some("0x6b3343cf") => "2",
            other => panic!("{other:?}"),
        };
        assert_eq!(r.attr("quic_version"), Some(version), "{client}");
        assert!(
            r.attr("ja4").is_some_and(|j| j.starts_with("q13d")),
            "{r:#?}"
        );
        assert_eq!(
            r.request_bytes,
            sent_until(&frames, client, server_port, ch_frame),
            "{client}"
        );
        assert_eq!(
            r.attr("retry").is_some(),
            retries.contains_key(port),
            "{client}"
        );
        match (servers.get(port), closes.get(port)) {
            (Some(s), None) => {
                assert_eq!(r.response_status, "ok", "{r:#?}");
                assert_eq!(r.version, "TLS 1.3");
                assert_eq!(r.attr("cipher_suite"), Some(s[3].as_str()), "{client}");
                let sh_frame = s[0].parse().expect("frame");
                assert_eq!(
                    r.response_bytes,
                    sent_until(&frames, server_port, client, sh_frame)
                );
            }
            (None, Some(c)) => {
                // CRYPTO_ERROR: 0x100 + the TLS alert (120, no_application_protocol).
                assert_eq!(c[3], "376");
                assert_eq!(r.response_status, "server_error", "{r:#?}");
                assert_eq!(r.response_exception, "no_application_protocol");
            }
            other => panic!("client port {client}: {other:?}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// nDPI `dlt_ppp.pcap`: one draft-29 Initial over PPP; nDPI's result names the SNI, the
/// ALPN, the version and the JA3.
#[test]
fn ndpi_draft29_initial() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let pcap = corpus.join("nDPI/pcap/dlt_ppp.pcap");
    let expected =
        std::fs::read_to_string(corpus.join("nDPI/result/dlt_ppp.pcap.out")).expect("nDPI result");
    for want in [
        "[Hostname/SNI: server4]",
        "[(Advertised) ALPNs: hq-29]",
        "[QUIC ver: Draft-29]",
        "[JA3C: fe94e313a5d76fb687c85443cdfa8170]",
    ] {
        assert!(expected.contains(want), "{want}");
    }
    let dir = out_dir("quic-ndpi");
    let o = convert(&[&pcap], &dir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = l7_rows(&dir);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r.l7_protocol, "quic");
    assert_eq!(r.request_domain, "server4");
    assert_eq!(r.attr("alpn_offered"), Some("hq-29"));
    assert_eq!(r.attr("quic_version"), Some("draft-29"));
    assert_eq!(r.attr("ja3_hash"), Some("fe94e313a5d76fb687c85443cdfa8170"));
    // Only the client's Initial was captured.
    assert_eq!(r.response_status, "timeout");
    std::fs::remove_dir_all(&dir).unwrap();
}
