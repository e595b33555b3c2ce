//! HTTP request heads cut off by a gap or by the end of the capture, on real captures.
//! When the request line came whole, the request is written from the lines that came
//! (`request_incomplete=1`, the bytes that came), as DeepFlow does, and as tshark shows it
//! per segment (`-o tcp.desegment_tcp_streams:FALSE`; reassembling, tshark waits for the
//! rest of the head and never dissects it). When not even the request line came whole,
//! nothing is written and the loss is counted as a gap.

mod common;

use arrow_array::{Array, MapArray, StringArray, UInt64Array};
use common::*;

/// One l7_sessions row: (method, host, resource, status, request bytes, response code,
/// whether `request_incomplete=1` is among its attributes).
type Row = (String, String, String, String, u64, String, bool);

fn rows(dir: &std::path::Path) -> Vec<Row> {
    let mut out = Vec::new();
    for b in read_table(dir, "l7_sessions") {
        let text = |n: &str, i: usize| col::<StringArray>(&b, n).value(i).to_string();
        let bytes = col::<UInt64Array>(&b, "request_bytes");
        let code = b.column_by_name("response_code").expect("response_code");
        let attrs = col::<MapArray>(&b, "attributes");
        for i in 0..b.num_rows() {
            let entries = attrs.value(i);
            let keys = entries
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("string keys");
            let cut = (0..keys.len()).any(|k| keys.value(k) == "request_incomplete");
            let code = if code.is_null(i) {
                String::new()
            } else {
                format!("{:?}", code.slice(i, 1))
            };
            out.push((
                text("request_type", i),
                text("request_domain", i),
                text("request_resource", i),
                text("response_status", i),
                bytes.value(i),
                code,
                cut,
            ));
        }
    }
    out
}

/// Converts `pcap` from the corpus: its l7_sessions rows and its --stats-json summary.
fn run(corpus: &std::path::Path, pcap: &str) -> (Vec<Row>, serde_json::Value) {
    let dir = out_dir(&format!("cut-{}", pcap.replace('/', "-")));
    let stats = dir.join("stats.json");
    let o = convert(
        &[&corpus.join(pcap)],
        &dir.join("out"),
        &[
            "--no-progress",
            "-q",
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = (rows(&dir.join("out")), stats_json(&stats));
    std::fs::remove_dir_all(&dir).unwrap();
    got
}

/// (capture, method, host, resource, status, request bytes, whether a response code is
/// there, the stream gaps HTTP saw).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u64,
    bool,
    u64,
);

#[test]
fn request_heads_cut_short() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let cases: &[Case] = &[
        // One 1,358-byte segment, a GET whose Cookie line the capture ends inside
        // (tshark per segment: GET /spa/vendor.bundle…js, 1358 bytes of payload).
        (
            "PcapPlusPlus/Packet++Test/PacketExamples/PartialHttpRequest.pcap",
            "GET",
            "auth.wi-fi.ru",
            "/spa/vendor.bundle.5d388fb8db38cec4d554.js",
            "timeout",
            1358,
            false,
            0,
        ),
        // A POST whose head goes on in a segment the capture lacks; the server's 200
        // answers it (DeepFlow's client-ip.result: POST, captured_request_byte 1410, then
        // a 200 response).
        (
            "deepflow/flow_generator/http/client-ip.pcap",
            "POST",
            "api-webizft1.intranet.local",
            "/biz-inquiry-bff/bff/v1/common/check/polymerization?channel=webportal&terminalType=bff",
            "ok",
            1410,
            true,
            1,
        ),
        // "GET / HTTP/1.0\r\n" (16 bytes), then 16 bytes lost, then the server resets.
        (
            "suricata-verify/tests/tcp-rst-unacked-stream-07-http/input.pcap",
            "GET",
            "",
            "/",
            "timeout",
            16,
            false,
            1,
        ),
    ];
    for &(pcap, method, host, resource, status, bytes, answered, gaps) in cases {
        let (got, s) = run(&corpus, pcap);
        assert_eq!(got.len(), 1, "{pcap}: {got:?}");
        let r = &got[0];
        assert_eq!(
            (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_str(), r.4),
            (method, host, resource, status, bytes),
            "{pcap}"
        );
        assert_eq!(!r.5.is_empty(), answered, "{pcap}: response code {}", r.5);
        assert!(r.6, "{pcap}: no request_incomplete attribute");
        assert_eq!(s["l7"]["http"]["gaps"], gaps, "{pcap}");
    }
}

/// zeek's tcp/reassembly.pcap: a SEARCH request line of many KiB with holes in it. The
/// line never comes whole, so there is no request to write; the holes are counted.
#[test]
fn a_request_line_never_whole_writes_nothing() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let (got, s) = run(&corpus, "zeek/Traces/tcp/reassembly.pcap");
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(s["l7"]["http"]["flows"], 1);
    assert_eq!(s["l7"]["http"]["gaps"], 10);
}
