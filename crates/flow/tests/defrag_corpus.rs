//! Defragmentation against PcapPlusPlus's IPDefragUtil expected outputs: the datagrams
//! we reassemble equal, byte for byte, the packets in their expected output captures;
//! and the fragment counts equal their summaries.

use std::path::Path;
use wirehouse_flow::{DefragConfig, Defragmenter};

/// Reassembles every datagram of a capture, in completion order.
fn reassemble(path: &Path) -> (Vec<Vec<u8>>, wirehouse_flow::DefragStats) {
    let mut src = wirehouse_capture::open(path).unwrap();
    let mut d = Defragmenter::new(DefragConfig::default());
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        let Ok(dec) = wirehouse_wire::decode(p.linktype, p.data) else {
            continue;
        };
        if let Some(f) = dec.frag
            && let Some(r) = d.push(
                p.ts_ns,
                &p.data[dec.ip_offset..],
                &f,
                dec.ip.src,
                dec.ip.dst,
                dec.ip.wire_len,
            )
            && r.complete
        {
            out.push(r.datagram);
        }
    }
    (out, d.stats())
}

/// The IP datagrams of a capture.
fn datagrams(path: &Path) -> Vec<Vec<u8>> {
    let mut src = wirehouse_capture::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        let dec = wirehouse_wire::decode(p.linktype, p.data).unwrap();
        out.push(p.data[dec.ip_offset..dec.ip_offset + dec.ip.wire_len as usize].to_vec());
    }
    out
}

#[test]
fn reassembled_datagrams_equal_pcapplusplus_outputs() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let base = corpus.join("PcapPlusPlus/ExamplesTest");
    for (input, expected, fragments) in [
        (
            "pcap_examples/ip-frag.pcap",
            "expected_output/no-ip-frag.pcap",
            1859,
        ),
        (
            "pcap_examples/ipv6-frag.pcap",
            "expected_output/no-ipv6-frag.pcap",
            4,
        ),
        (
            "../Pcap++Test/PcapExamples/frag_http_req.pcap",
            "expected_output/http_req.pcap",
            11,
        ),
    ] {
        let (ours, stats) = reassemble(&base.join(input));
        let theirs = datagrams(&base.join(expected));
        assert_eq!(stats.fragments, fragments, "{input}: fragments matched");
        assert_eq!(ours.len(), theirs.len(), "{input}: datagrams reassembled");
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(o.len(), t.len(), "{input} datagram {i}: length");
            assert!(
                o == t,
                "{input} datagram {i} differs at byte {:?}",
                o.iter().zip(t).position(|(a, b)| a != b)
            );
        }
    }
}

#[test]
fn fragment_edge_case_captures_never_panic_and_account_for_every_fragment() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let rows = wirehouse_testkit::manifest(&corpus);
    let mut files = 0;
    for r in rows.iter().filter(|r| r.coverage.contains("fragments")) {
        let Ok(mut src) = wirehouse_capture::open(&corpus.join(&r.file)) else {
            continue;
        };
        let mut d = Defragmenter::new(DefragConfig::default());
        let in_datagrams = std::cell::Cell::new(0u64);
        let count = |datagram: Option<&[u8]>, fragments: u32| {
            if let Some(dg) = datagram {
                in_datagrams.set(in_datagrams.get() + u64::from(fragments));
                assert!(dg.len() <= 65_535 + 40);
            }
        };
        while let Ok(Some(p)) = src.next_packet() {
            let Ok(dec) = wirehouse_wire::decode(p.linktype, p.data) else {
                continue;
            };
            if dec.frag.is_some() {
                // A datagram that does not decode is still accounted for by the error.
                if let Err((_, n)) =
                    d.feed(p.ts_ns, p.data, &dec, |_, c, dg| count(dg, c.fragments))
                {
                    in_datagrams.set(in_datagrams.get() + u64::from(n));
                }
            }
        }
        if let Err((_, n)) = d.finish(|_, c, dg| count(dg, c.fragments)) {
            in_datagrams.set(in_datagrams.get() + u64::from(n));
        }
        let in_datagrams = in_datagrams.get();
        let s = d.stats();
        // Every fragment is in a (whole or leading part of a) datagram, or counted as lost or invalid.
        assert_eq!(
            s.fragments,
            in_datagrams + s.lost_fragments + s.invalid_fragments,
            "{}: {s:?}",
            r.file
        );
        assert_eq!(d.memory(), 0);
        files += 1;
    }
    assert!(files >= 30, "{files}");
}
