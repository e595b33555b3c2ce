//! HTTP heads on real captures, cut short or malformed.
//!
//! A head cut off by a gap or by the end of the capture: when the first line came
//! whole, the message is written from the lines that came whole, with the bytes that
//! came and `request_incomplete=1` (a request) or `incomplete=1` (a response), as
//! DeepFlow does, and as tshark shows it per segment
//! (`-o tcp.desegment_tcp_streams:FALSE`; reassembling, tshark waits for the rest of the
//! head and never dissects it). When not even the first line came whole, nothing is
//! written and the loss is counted as a gap.
//!
//! A head with a malformed header line is read past it, as clients and servers do. A head
//! whose framing is in doubt (request smuggling) is marked.

mod common;

use common::*;

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
    let got = (l7_rows(&dir.join("out")), stats_json(&stats));
    std::fs::remove_dir_all(&dir).unwrap();
    got
}

/// What one capture must give: its one row's method, host, resource, status, request
/// bytes, response code and response bytes, which side was cut, and the stream gaps
/// HTTP saw.
struct Case {
    pcap: &'static str,
    method: &'static str,
    host: &'static str,
    resource: &'static str,
    status: &'static str,
    request_bytes: u64,
    code: Option<i64>,
    response_bytes: u64,
    cut: &'static str,
    gaps: u64,
}

const CASES: &[Case] = &[
    // One 1,358-byte segment, a GET whose Cookie line the capture ends inside (tshark per
    // segment: GET /spa/vendor.bundle…js, 1358 bytes of payload).
    Case {
        pcap: "PcapPlusPlus/Packet++Test/PacketExamples/PartialHttpRequest.pcap",
        method: "GET",
        host: "auth.wi-fi.ru",
        resource: "/spa/vendor.bundle.5d388fb8db38cec4d554.js",
        status: "timeout",
        request_bytes: 1358,
        code: None,
        response_bytes: 0,
        cut: "request_incomplete",
        gaps: 0,
    },
    // A POST whose head goes on in a segment the capture lacks; the server's 200 answers
    // it (DeepFlow's client-ip.result: POST, captured_request_byte 1410, then a 200).
    Case {
        pcap: "deepflow/flow_generator/http/client-ip.pcap",
        method: "POST",
        host: "api-webizft1.intranet.local",
        resource: "/biz-inquiry-bff/bff/v1/common/check/polymerization?channel=webportal&terminalType=bff",
        status: "ok",
        request_bytes: 1410,
        code: Some(200),
        response_bytes: 737,
        cut: "request_incomplete",
        gaps: 1,
    },
    // "GET / HTTP/1.0\r\n" (16 bytes), then 16 bytes lost, then the server resets.
    Case {
        pcap: "suricata-verify/tests/tcp-rst-unacked-stream-07-http/input.pcap",
        method: "GET",
        host: "",
        resource: "/",
        status: "timeout",
        request_bytes: 16,
        code: None,
        response_bytes: 0,
        cut: "request_incomplete",
        gaps: 1,
    },
    // The response's status line alone (17 bytes), where the capture ends (DeepFlow's
    // istio-tcp-frag.result: a 200 with captured_response_byte 17).
    Case {
        pcap: "deepflow/flow_generator/http/istio-tcp-frag.pcap",
        method: "GET",
        host: "productpage",
        resource: "/productpage",
        status: "ok",
        request_bytes: 331,
        code: Some(200),
        response_bytes: 17,
        cut: "incomplete",
        gaps: 0,
    },
    // A response captured with a small snap length: 40 of its 1,208 bytes (tshark per
    // segment: a 200).
    Case {
        pcap: "PcapPlusPlus/Packet++Test/PacketExamples/SllPacket.pcap",
        method: "",
        host: "",
        resource: "",
        status: "ok",
        request_bytes: 0,
        code: Some(200),
        response_bytes: 40,
        cut: "incomplete",
        gaps: 1,
    },
];

#[test]
fn heads_cut_short() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    for c in CASES {
        let (got, s) = run(&corpus, c.pcap);
        assert_eq!(got.len(), 1, "{}: {got:?}", c.pcap);
        let r = &got[0];
        assert_eq!(
            (
                r.request_type.as_str(),
                r.request_domain.as_str(),
                r.request_resource.as_str(),
                r.response_status.as_str(),
                r.request_bytes,
                r.response_code,
                r.response_bytes,
            ),
            (
                c.method,
                c.host,
                c.resource,
                c.status,
                c.request_bytes,
                c.code,
                c.response_bytes
            ),
            "{}",
            c.pcap
        );
        assert_eq!(r.attr(c.cut), Some("1"), "{}: {:?}", c.pcap, r.attributes);
        assert_eq!(s["l7"]["http"]["gaps"], c.gaps, "{}", c.pcap);
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

/// PcapPlusPlus's HttpMalformedResponse.pcapng: one segment from port 80, an S3
/// `HTTP/1.1 403 Forbidden` whose second line has no colon (`x-amz-request-id2 …`), then
/// `Transfer-Encoding: chunked` and a chunk the capture ends inside (tshark: a 403). The
/// bad line is skipped; the 403 is written, unpaired, with the chunked framing the later
/// header gave. Before, the head was refused and nothing was written.
#[test]
fn a_header_line_without_a_colon_is_skipped() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let (got, s) = run(
        &corpus,
        "PcapPlusPlus/Packet++Test/PacketExamples/HttpMalformedResponse.pcapng",
    );
    assert_eq!(got.len(), 1, "{got:?}");
    let r = &got[0];
    assert_eq!(
        (r.response_code, r.response_status.as_str(), r.request_bytes),
        (Some(403), "client_error", 0)
    );
    assert_eq!(r.attr("transfer_encoding"), Some("chunked"), "{r:?}");
    assert_eq!(r.attr("response_content_type"), Some("application/xml"));
    assert_eq!(s["l7"]["http"]["unpaired_responses"], 1);
}

/// Messages whose framing is in doubt (RFC 9112 §6.3) are marked:
/// - suricata-verify `http-multiple-cl`: a POST with `Content-Length:11` and
///   `Content-Length:93`, then two more POSTs whose lines begin inside the first one's
///   would-be body, and one 501 from Python's http.server, which closes. Such a message
///   cannot be framed by length (an unrecoverable error), so nothing after its head is
///   taken as a request (Suricata alerts on it; tshark takes the first length and counts
///   a second request).
/// - suricata-verify `http-chunked`: the Qlik Sense smuggling request, a HEAD with
///   `Content-Length: 0` and `Transfer-Encoding: ,.chunked,`, which the server only
///   acknowledges. `.chunked` is not `chunked`, so it has no body either way.
#[test]
fn framing_in_doubt_is_marked() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    for (pcap, method, resource, request_bytes, status, mark) in [
        (
            "suricata-verify/tests/http-multiple-cl/input.pcap",
            "POST",
            "/which.php",
            83,
            "server_error",
            "invalid_content_length",
        ),
        (
            "suricata-verify/tests/http-chunked/input.pcap",
            "HEAD",
            "/resources/fonts/SourceSansPro-Regular.ttf",
            376,
            "timeout",
            "transfer_encoding_and_content_length",
        ),
    ] {
        let (got, _) = run(&corpus, pcap);
        assert_eq!(got.len(), 1, "{pcap}: {got:?}");
        let r = &got[0];
        assert_eq!(
            (
                r.request_type.as_str(),
                r.request_resource.as_str(),
                r.request_bytes,
                r.response_status.as_str()
            ),
            (method, resource, request_bytes, status),
            "{pcap}"
        );
        assert_eq!(r.attr(mark), Some("1"), "{pcap}: {r:?}");
    }
}
