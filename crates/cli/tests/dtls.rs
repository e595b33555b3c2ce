//! DTLS end to end against tshark, on handshakes between OpenSSL's s_client and s_server
//! (`testdata/dtls-openssl.pcap`, recorded by `scripts/make-dtls-capture.sh`): DTLS 1.2 and
//! 1.0, IPv4 and IPv6, cookie exchanges, a certificate chain in fragments over several
//! datagrams, and a handshake the server refuses.

mod common;

use common::*;
use std::collections::BTreeMap;

/// tshark's `fields` of the first frame matching `filter`, by server port (the lower one
/// here: the clients' are ephemeral).
fn tshark_first(
    pcap: &std::path::Path,
    filter: &str,
    fields: &[&str],
) -> BTreeMap<u16, Vec<String>> {
    tshark_first_udp(pcap, filter, fields, u16::min)
        .into_iter()
        .map(|(port, v)| (port, v[2..].to_vec()))
        .collect()
}

fn version_name(hex: &str) -> &'static str {
    match hex {
        "0xfeff" => "DTLS 1.0",
        "0xfefd" => "DTLS 1.2",
        _ => "?",
    }
}

#[test]
fn openssl_handshakes_match_tshark() {
    if !wirehouse_testkit::have_tool("tshark") {
        return;
    }
    let pcap = wirehouse_testkit::repo_root().join("testdata/dtls-openssl.pcap");
    let dir = out_dir("dtls");
    let o = convert(&[&pcap], &dir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: BTreeMap<u16, Row> = l7_rows(&dir)
        .into_iter()
        .map(|r| (r.server_port, r))
        .collect();

    let hello = tshark_first(
        &pcap,
        "dtls.handshake.type == 1",
        &[
            "dtls.handshake.extensions_server_name",
            "dtls.handshake.ja3",
            "dtls.handshake.extensions_alpn_str",
            "udp.length",
        ],
    );
    let server = tshark_first(
        &pcap,
        "dtls.handshake.type == 2",
        &[
            "dtls.handshake.version",
            "dtls.handshake.ciphersuite",
            "dtls.handshake.ja3s",
        ],
    );
    let verify = tshark_first(&pcap, "dtls.handshake.type == 3", &[]);
    let fatal = tshark_first(
        &pcap,
        "dtls.alert_message.level == 2",
        &["dtls.alert_message.desc"],
    );
    assert_eq!(hello.len(), 4, "{hello:#?}");
    assert_eq!(rows.len(), hello.len(), "{rows:#?}");

    for (port, h) in &hello {
        let r = &rows[port];
        assert_eq!(r.l7_protocol, "dtls");
        assert_eq!(r.request_type, "handshake");
        assert_eq!(r.request_domain, h[0], "{port}");
        assert_eq!(r.endpoint, h[0], "{port}");
        assert_eq!(r.attr("ja3_hash"), Some(h[1].as_str()), "{port}");
        assert_eq!(r.attr("alpn_offered").unwrap_or(""), h[2], "{port}");
        // One datagram holds the first hello: its UDP payload.
        let udp_len: u64 = h[3].parse().expect("udp.length");
        assert_eq!(r.request_bytes, udp_len - 8, "{port}");
        assert!(r.attr("ja4").is_some_and(|j| j.starts_with('d')), "{r:#?}");
        assert_eq!(
            r.attr("hello_verify").is_some(),
            verify.contains_key(port),
            "{port}"
        );
        match (server.get(port), fatal.get(port)) {
            (Some(s), None) => {
                assert_eq!(r.response_status, "ok", "{r:#?}");
                assert_eq!(r.version, version_name(&s[0]), "{port}");
                assert_eq!(r.attr("cipher_suite"), Some(s[1].as_str()), "{port}");
                assert_eq!(r.attr("ja3s"), Some(s[2].as_str()), "{port}");
            }
            (None, Some(a)) => {
                assert_eq!(r.response_status, "server_error", "{r:#?}");
                assert_eq!(a[0], "40", "handshake_failure");
                assert_eq!(r.response_exception, "handshake_failure");
            }
            other => panic!("port {port}: {other:?}"),
        }
    }
    // The certificates the script made.
    assert!(
        rows[&4433]
            .attr("cert_subject")
            .is_some_and(|s| s.contains("CN=dtls.example.test"))
    );
    assert!(
        rows[&5684]
            .attr("cert_subject")
            .is_some_and(|s| s.contains("OU=fragments, CN=big.example.test")),
        "{:#?}",
        rows[&5684]
    );
    assert_eq!(
        rows[&5684].attr("cert_issuer"),
        Some("C=DE, O=wirehouse test, CN=wirehouse test CA")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
