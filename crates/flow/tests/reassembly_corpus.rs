//! TCP reassembly on real captures: PcapPlusPlus's TcpReassembly expected outputs
//! (streams per connection and side, byte for byte), and robustness plus accounting on
//! every corpus capture tagged with retransmissions, out-of-order, overlapping segments
//! or gaps.

use std::path::Path;
use std::sync::Arc;
use wirehouse_flow::harness::Collector;
use wirehouse_flow::{CloseReason, DefragConfig, Defragmenter, FlowConfig, FlowTable};

/// Runs a capture through defrag + a flow table with a collecting handler.
fn collect(path: &Path) -> (Collector, wirehouse_flow::ReassemblyTotals) {
    let mut src = wirehouse_capture::open(path).unwrap();
    let mut t = FlowTable::with_handler(FlowConfig::default(), Collector::default());
    let mut defrag = Defragmenter::new(DefragConfig::default());
    let name: Arc<str> = "corpus".into();
    while let Ok(Some(p)) = src.next_packet() {
        let Ok(d) = wirehouse_wire::decode(p.linktype, p.data) else {
            continue;
        };
        let _ = defrag.feed(p.ts_ns, p.data, &d, |whole, c, _| {
            t.process_counted(p.ts_ns, whole, &name, c, &mut |_| {})
        });
    }
    t.drain(CloseReason::EndOfInput, &mut |_| {});
    let totals = t.reassembly_totals();
    (t.into_handler(), totals)
}

#[test]
fn streams_equal_pcapplusplus_tcpreassembly_outputs() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let base = corpus.join("PcapPlusPlus/ExamplesTest");
    let (c, _) = collect(&base.join("pcap_examples/tcp-reassembly.pcap"));
    let client: (std::net::IpAddr, u16) = ("172.16.133.54".parse().unwrap(), 64370);
    let server: std::net::IpAddr = "23.21.118.18".parse().unwrap();
    let flow = c
        .flows
        .iter()
        .find(|(k, cl, _)| *cl == client && (k.lo().0 == server || k.hi().0 == server))
        .expect("the connection is found");
    let d = &flow.2;
    let sides = base.join("expected_output/tcpreassembly_sides");
    let want_c = std::fs::read(sides.join("172.16.133.54.64370-23.21.118.18.80.txt")).unwrap();
    let want_s = std::fs::read(sides.join("23.21.118.18.80-172.16.133.54.64370.txt")).unwrap();
    assert_eq!(d.bytes[0].len(), want_c.len());
    assert!(d.bytes[0] == want_c, "client stream differs");
    assert_eq!(d.bytes[1].len(), want_s.len());
    assert!(d.bytes[1] == want_s, "server stream differs");
    // The "sanity" output interleaves the sides message by message, as they alternate.
    let sanity = std::fs::read(
        base.join("expected_output/tcpreassembly_sanity/172.16.133.54.64370-23.21.118.18.80.txt"),
    )
    .unwrap();
    let (mut pos, mut inter) = ([0usize; 2], Vec::new());
    for &(from_client, n) in &d.turns {
        let i = usize::from(!from_client);
        inter.extend_from_slice(&d.bytes[i][pos[i]..pos[i] + n]);
        pos[i] += n;
    }
    assert!(inter == sanity, "interleaved streams differ");
    let meta = std::fs::read_to_string(base.join(
        "expected_output/tcpreassembly_sanity/172.16.133.54.64370-23.21.118.18.80-metadata.txt",
    ))
    .unwrap();
    // "Number of messages in side 0: 14" — our direction turns per side.
    let turns_c = d.turns.iter().filter(|t| t.0).count();
    assert!(
        meta.contains(&format!("Number of messages in side 0:      {turns_c}")),
        "{meta}"
    );
    assert!(d.gaps[0].is_empty() && d.gaps[1].is_empty());
}

#[test]
fn edge_case_captures_reassemble_without_panics_and_account_for_every_byte() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let keys = [
        "TCP retransmissions",
        "TCP out-of-order",
        "TCP overlapping segments",
        "TCP missing segments (gaps)",
    ];
    let rows: Vec<_> = wirehouse_testkit::manifest(&corpus)
        .into_iter()
        .filter(|r| keys.iter().any(|k| r.coverage.contains(k)))
        .collect();
    assert!(rows.len() > 100, "{}", rows.len());
    let (mut retx, mut gaps, mut ooo) = (0, 0, 0);
    for r in &rows {
        let (c, totals) = collect(&corpus.join(&r.file));
        retx += totals.streams.retransmits;
        gaps += totals.streams.gaps;
        ooo += totals.streams.out_of_order;
        // Chunks add up to the delivered streams, and gaps are reported in stream order,
        // each starting where the bytes and gaps before it end.
        for (_, _, d) in &c.flows {
            for i in 0..2 {
                let turns: usize = d
                    .turns
                    .iter()
                    .filter(|t| t.0 == (i == 0))
                    .map(|t| t.1)
                    .sum();
                assert_eq!(turns, d.bytes[i].len(), "{}", r.file);
                let mut prev_end = 0;
                for &(at, len) in &d.gaps[i] {
                    assert!(
                        at >= prev_end && len > 0,
                        "{}: gap {at}+{len} after {prev_end}",
                        r.file
                    );
                    prev_end = at + len;
                }
            }
        }
    }
    eprintln!(
        "{} captures: {retx} retransmissions, {ooo} out of order, {gaps} gaps",
        rows.len()
    );
    assert!(retx > 0 && gaps > 0 && ooo > 0);
}

/// Collects UDP payloads.
#[derive(Default)]
struct Datagrams(Vec<Vec<u8>>);

impl wirehouse_flow::StreamHandler for Datagrams {
    type State = ();
    fn stream(
        &mut self,
        _: &wirehouse_flow::Flow,
        _: &mut (),
        _: bool,
        _: wirehouse_flow::StreamEvent<'_>,
    ) {
    }
    fn datagram(&mut self, _: &wirehouse_flow::Flow, _: &mut (), _: bool, _: i64, payload: &[u8]) {
        self.0.push(payload.to_vec());
    }
}

#[test]
fn a_fragmented_dns_answer_is_delivered_whole() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let mut src = wirehouse_capture::open(&corpus.join("nDPI/pcap/dns_fragmented.pcap")).unwrap();
    let mut t = FlowTable::with_handler(FlowConfig::default(), Datagrams::default());
    let mut defrag = Defragmenter::new(DefragConfig::default());
    let name: Arc<str> = "dns".into();
    while let Some(p) = src.next_packet().unwrap() {
        let d = wirehouse_wire::decode(p.linktype, p.data).unwrap();
        let _ = defrag.feed(p.ts_ns, p.data, &d, |whole, c, _| {
            t.process_counted(p.ts_ns, whole, &name, c, &mut |_| {})
        });
    }
    assert!(defrag.stats().reassembled >= 1);
    assert_eq!(defrag.stats().lost_fragments, 0);
    let got = t.into_handler().0;
    // tshark: frame 3 is a 1710-byte UDP datagram (1702 bytes of DNS) with 4 answers.
    let answer = got
        .iter()
        .find(|p| p.len() == 1702)
        .expect("the large answer");
    assert_eq!(answer.len(), 1702);
    assert_eq!(u16::from_be_bytes([answer[6], answer[7]]), 4, "ANCOUNT");
    assert_eq!(answer[2] & 0x80, 0x80, "QR: a response");
}
