//! DNS over UDP and TCP (also mDNS on 5353 and LLMNR on 5355): detection, per-flow
//! sessions paired by transaction id, and the `l7_sessions` row mapping (see this
//! folder's README.md).

pub mod parser;

use crate::{
    Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Request, Response, Session, Span, Status,
    Transport,
};
pub use parser::MAX_RESULT_LEN;
use parser::{
    Header, Message, Summary, class_name, opcode_name, parse_message, rcode_name, summarize,
    type_name,
};
use std::collections::VecDeque;
use wirehouse_schema::{Attributes, Text, ToCompactString};

/// The DNS protocol (registry entry).
#[derive(Debug, Clone, Copy)]
pub struct Dns;

/// The registry's DNS entry.
pub static PROTOCOL: Dns = Dns;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "dns",
    id: 120,
    transport: Transport::Both,
    default_ports: &[53, 5353, 5355],
};

/// Most questions a message may announce and still be taken for DNS by the probe.
const PROBE_MAX_QDCOUNT: u16 = 32;
/// Unanswered query ids remembered per flow (to tell unpaired responses).
const MAX_OUTSTANDING: usize = 4096;
/// mDNS port (its QCLASS top bit is the unicast-response / cache-flush bit).
const MDNS_PORT: u16 = 5353;
/// NetBIOS Name Service (RFC 1002): messages shaped like DNS but of another protocol
/// (encoded names, NB records, broadcast queries nobody answers on the same flow).
const NBNS_PORT: u16 = 137;

impl Protocol for Dns {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        if [input.server_port, input.client.1, input.server.1].contains(&NBNS_PORT) {
            return Probe::NotMine;
        }
        if input.tcp {
            probe_tcp(input.bytes)
        } else {
            probe_message(input.bytes)
        }
    }

    fn session(&self) -> Box<dyn Session> {
        Box::new(DnsSession::default())
    }
}

/// Header sanity for a message of `len` bytes: an assigned opcode, queries with 1..=32
/// questions (an inverse query, RFC 1035 §6.4, asks with an answer record and no
/// question), and counts that fit in `len` (a question takes at least 5 bytes, a record
/// 11).
fn plausible_header(h: &Header, len: usize) -> bool {
    if h.opcode > 6 || h.opcode == 3 || h.qdcount > PROBE_MAX_QDCOUNT {
        return false;
    }
    let inverse = h.opcode == 1 && h.ancount > 0;
    if !h.qr && h.qdcount == 0 && !inverse {
        return false;
    }
    let records = u64::from(h.ancount) + u64::from(h.nscount) + u64::from(h.arcount);
    12 + 5 * u64::from(h.qdcount) + 11 * records <= len as u64
}

/// Questions look like real ones: a type other than 0 and a known class (the answer
/// records too of an inverse query, which asks with them).
fn plausible_questions(m: &Message) -> bool {
    let real = |t: u16, class: u16| t != 0 && matches!(class & 0x7fff, 1 | 3 | 4 | 254 | 255);
    m.questions.iter().all(|q| real(q.qtype, q.qclass))
        && (m.header.qr
            || !m.questions.is_empty()
            || m.answers.iter().all(|a| real(a.rtype, a.class)))
}

/// Verdict on a whole message (a UDP datagram, or a TCP message without its prefix).
fn probe_message(b: &[u8]) -> Probe {
    let Ok(h) = Header::parse(b) else {
        return Probe::NotMine;
    };
    if !plausible_header(&h, b.len()) {
        return Probe::NotMine;
    }
    let Ok(m) = parse_message(b) else {
        return Probe::NotMine;
    };
    if m.incomplete || !plausible_questions(&m) {
        return Probe::NotMine;
    }
    let padded = b
        .get(b.len() - m.trailing..)
        .is_some_and(|t| t.iter().all(|&x| x == 0));
    let announced = u32::from(h.qdcount) + u32::from(h.ancount) + u32::from(h.nscount);
    // A query with a response code set is odd (resolvers ignore it): only the port says DNS.
    if padded && announced > 0 && (h.qr || h.rcode == 0) {
        Probe::Certain
    } else {
        // Trailing garbage, or a bare 12-byte header: let the port decide.
        Probe::Unsure
    }
}

/// Verdict on the first bytes of a TCP stream: 2-byte length prefix, then a message.
fn probe_tcp(b: &[u8]) -> Probe {
    let Some(prefix) = b.get(..2) else {
        return Probe::Unsure;
    };
    let n = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    if n < 12 {
        return Probe::NotMine;
    }
    let Ok(h) = Header::parse(&b[2..]) else {
        return Probe::Unsure;
    };
    if !plausible_header(&h, n) {
        return Probe::NotMine;
    }
    match b.get(2..2 + n) {
        Some(msg) => probe_message(msg),
        None => match parse_message(&b[2..]) {
            // The records are cut by the end of what arrived; the questions decoded.
            Ok(m) if h.qdcount > 0 && plausible_questions(&m) && (h.qr || h.rcode == 0) => {
                Probe::Certain
            }
            Ok(_) | Err(parser::Error::TruncatedQuestion) => Probe::Unsure,
            Err(_) => Probe::NotMine,
        },
    }
}

/// Per-flow DNS state.
#[derive(Debug, Default)]
struct DnsSession {
    /// Per direction (0 = client): a gap was seen, the next bytes must look like a length
    /// prefix and a header.
    resync: [bool; 2],
    /// Ids of the queries reported and not yet answered, oldest first (a superset of the
    /// pairing's pending ids, so a response whose id is not here is surely unpaired).
    outstanding: VecDeque<u16>,
    /// Where answers are rendered (its allocation reused from message to message).
    scratch: String,
}

impl DnsSession {
    fn report(&mut self, cx: &mut Cx<'_>, m: Summary<'_>, bytes: usize, span: Span) {
        let mdns = cx.server_port() == MDNS_PORT;
        let id = m.header.id;
        if !m.header.qr {
            if self.outstanding.len() >= MAX_OUTSTANDING {
                self.outstanding.pop_front();
            }
            self.outstanding.push_back(id);
            let mut attributes = Attributes::new();
            query_attributes(&m, mdns, &mut attributes);
            let (qtype, qname) = first_question(&m);
            cx.request(Request {
                pair_id: Some(u64::from(id)),
                start_ns: span.start_ns,
                end_ns: span.end_ns,
                bytes: bytes as u64,
                version: Text::default(),
                request_type: qtype,
                domain: Text::default(),
                resource: qname.clone(),
                endpoint: qname,
                request_id: Some(u64::from(id)),
                attributes,
            });
            return;
        }
        let paired = match self.outstanding.iter().position(|&q| q == id) {
            Some(i) => {
                self.outstanding.remove(i);
                true
            }
            None => false,
        };
        let mut attributes = Attributes::new();
        let mut echo = None;
        if !paired {
            // The row will have no request: keep what the response says of the question.
            let (qtype, qname) = first_question(&m);
            echo = Some(Box::new(Request {
                request_type: qtype,
                resource: qname.clone(),
                endpoint: qname,
                ..Request::default()
            }));
            query_attributes(&m, mdns, &mut attributes);
        }
        response_attributes(&m, &mut attributes);
        let rcode = m.rcode();
        cx.response(Response {
            pair_id: Some(u64::from(id)),
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            bytes: bytes as u64,
            version: Text::default(),
            status: status(rcode),
            code: Some(i64::from(rcode)),
            result: m.answers,
            exception: if rcode == 0 {
                Text::default()
            } else {
                rcode_name(rcode).into()
            },
            request_id: Some(u64::from(id)),
            echo,
            attributes,
        });
    }
}

/// (qtype name, qname) of the first question; empty strings when there is none.
fn first_question(m: &Summary<'_>) -> (Text, Text) {
    if m.questions() == 0 {
        return Default::default();
    }
    (type_name(m.question(0).0).into(), m.question_name(0))
}

/// `response_status` of an (extended) RCODE.
pub fn status(rcode: u16) -> Status {
    match rcode {
        0 => Status::Ok,
        // The query was wrong: malformed, a name that does not exist, an update whose
        // prerequisites fail, a zone or key the server does not serve, EDNS/TSIG/cookie
        // errors of the request.
        1 | 3 | 6..=10 | 16..=23 => Status::ClientError,
        // The server could not or would not answer.
        2 | 4 | 5 | 11 => Status::ServerError,
        _ => Status::Unknown,
    }
}

/// Attributes that describe the query: `opcode`, `questions`, `qclass`, `edns_udp_size`,
/// `edns_do`.
fn query_attributes(m: &Summary<'_>, mdns: bool, a: &mut Attributes) {
    if m.header.opcode != 0 {
        a.push(("opcode".into(), opcode_name(m.header.opcode).into()));
    }
    if m.questions() > 0 {
        let qclass = m.question(0).1;
        let class = if mdns { qclass & 0x7fff } else { qclass };
        if class != 1 {
            a.push(("qclass".into(), class_name(class).into()));
        }
    }
    if m.questions() > 1 {
        let mut s = Text::default();
        for i in 1..m.questions() {
            if i > 1 {
                s.push_str(", ");
            }
            m.write_question_name(i, &mut s);
            s.push(' ');
            s.push_str(&type_name(m.question(i).0));
        }
        if usize::from(m.header.qdcount) > m.questions() {
            s.push_str(", ...");
        }
        a.push(("questions".into(), s));
    }
    if let Some(e) = m.edns {
        a.push(("edns_udp_size".into(), e.udp_size.to_compact_string()));
        a.push((
            "edns_do".into(),
            Text::const_new(if e.dnssec_ok { "1" } else { "0" }),
        ));
    }
}

/// Attributes that describe the response: `tc`, `authorities`, `additionals` (not
/// counting OPT), `incomplete`.
fn response_attributes(m: &Summary<'_>, a: &mut Attributes) {
    let h = &m.header;
    if h.tc {
        a.push(("tc".into(), "1".into()));
    }
    if h.nscount > 0 {
        a.push(("authorities".into(), h.nscount.to_compact_string()));
    }
    let additionals = h.arcount.saturating_sub(u16::from(m.edns.is_some()));
    if additionals > 0 {
        a.push(("additionals".into(), additionals.to_compact_string()));
    }
    if m.incomplete {
        a.push(("incomplete".into(), "1".into()));
    }
}

impl Session for DnsSession {
    fn parse(&mut self, cx: &mut Cx<'_>, from_client: bool, buf: &[u8], span: Span) -> Parse {
        if !cx.is_tcp() {
            return match summarize(buf, &mut self.scratch) {
                Ok(m) => {
                    self.report(cx, m, buf.len(), span);
                    Parse::Consumed(buf.len())
                }
                Err(_) => Parse::Invalid,
            };
        }
        let d = usize::from(!from_client);
        let Some(prefix) = buf.get(..2) else {
            return Parse::Needed(2 - buf.len());
        };
        let n = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        if n < 12 {
            return Parse::Invalid;
        }
        if self.resync[d] {
            // After a gap: go on only at what looks like a length prefix and a header.
            let Some(h) = buf.get(2..14) else {
                return Parse::Needed(14 - buf.len());
            };
            match Header::parse(h) {
                Ok(h) if plausible_header(&h, n) => self.resync[d] = false,
                _ => return Parse::Invalid,
            }
        }
        let Some(msg) = buf.get(2..2 + n) else {
            return Parse::Needed(2 + n - buf.len());
        };
        match summarize(msg, &mut self.scratch) {
            Ok(m) => self.report(cx, m, n, span),
            // The framing holds: skip this message, count it.
            Err(_) => cx.parse_error(),
        }
        Parse::Consumed(2 + n)
    }

    fn gap(&mut self, _cx: &mut Cx<'_>, from_client: bool, len: u64, _ts_ns: i64) -> bool {
        if len == 0 {
            // Bytes called invalid (a bad length prefix, or no header after a gap): the
            // framing is lost for good.
            return false;
        }
        self.resync[usize::from(!from_client)] = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::parser::tests::{
        FWDPTR_Q, MDNS_Q, Rng, SRV_R, TCPDUMP_Q, TCPDUMP_R, ZLIP1, hex, mutate,
    };
    use super::*;
    use crate::L7Row;
    use crate::testutil::{attr, segmentation_invariant, tcp_sessions, udp_sessions};
    use wirehouse_flow::harness::Split;

    // deepflow flow_generator/dns/a-and-ns.pcap: two UDP queries and their responses.
    const AANS_Q1: &str = "319901000001000000000000026161026262026363036464640365656503666666077a71797465737403636f6d0000010001";
    const AANS_R1: &str = "319985800001000100010001026161026262026363036464640365656503666666077a71797465737403636f6d0000010001\
        c00c000100010001518000040a324705c02100020001000151800005026e73c021c04e000100010001518000040a10206f";
    const AANS_Q2: &str = "1cf401000001000000000000026161026262026363036464640365656503666666077a71797465737403636f6d00001c0001";
    use super::parser::tests::SOA_R as AANS_R2;
    // deepflow flow_generator/udp_normal.pcap: PTR query answered NXDOMAIN (SOA in authority).
    const PTR_Q: &str =
        "2a940100000100000000000003323233013002333002313007696e2d61646472046172706100000c0001";
    const PTR_NX: &str = "2a948583000100000001000003323233013002333002313007696e2d61646472046172706100000c0001\
        c0150006000100013c0e0017c01500000000000000708000001c2000093a8000015180";
    // nDPI dns_fragmented.pcap #30/#31: A query (EDNS, DO=0) answered SERVFAIL.
    const SIGFAIL_Q: &str = "fac701200001000000000001077369676661696c107665727465696c746573797374656d65036e65740000010001\
        000029100000000000000c000a000860e38148f822052b";
    const SIGFAIL_R: &str = "fac781820001000000000000077369676661696c107665727465696c746573797374656d65036e65740000010001";
    // deepflow flow_generator/dns/nxdomain.pcap: DNS over TCP, tcp.payload with its prefix.
    const TCP_Q1: &str = "0031680c010000010000000000000d70726f642d666364742d65303203696e740966726f6e746e6f6465036e657400001c0001";
    const TCP_R1: &str = "0031680c850300010000000000000d70726f642d666364742d65303203696e740966726f6e746e6f6465036e657400001c0001";
    const TCP_Q2: &str = "003ce8220100000100000000000011646f636b6572617574682d65652d7670630b636e2d7368656e7a68656e08616c6979756e637303636f6d0000010001";
    const TCP_R2: &str = "0076e8228580000100010000000011646f636b6572617574682d65652d7670630b636e2d7368656e7a68656e08616c6979756e637303636f6d\
        000001000111646f636b6572617574682d65652d7670630b636e2d7368656e7a68656e08616c6979756e637303636f6d000001000100000005000464671a34";
    const TCP_Q3: &str = "00437054010000010000000000000872656769737472790a79696e676d692d696e6303636f6d076d6f6e69746f720373766307636c7573746572056c6f63616c00001c0001";
    const TCP_R3: &str = "00437054850300010000000000000872656769737472790a79696e676d692d696e6303636f6d076d6f6e69746f720373766307636c7573746572056c6f63616c00001c0001";
    // Not DNS: an NTP client request (suricata-verify vxlan-decoder-03, inner), a QUIC
    // Initial (tcpdump quic_handshake_truncated.pcap #1), the RFC 3164 syslog example.
    const NTP: &str = "230009200000000000000000000000000000000000000000000000000000000000000000000000006e7c1f1daa4d542f";
    const NTP_R: &str = "1c0109ea00000000000002d27f7f0100e0bf4a9eed4a07b46e7c1f1daa4d542fe0bf4aa60c781ad7e0bf4aa60c7883e8";
    const QUIC: &str = "c40000000108f71ae16671baa8b70000449e145a8086ee4329e731129452161222028cc4c3168dfbc7532b232f7c1105\
        528474448773a0184879027f4055cd21c1da491812e44ffeedf77c7b60c79a283827152720e9ca42c2deae68c76a6c87\
        2c6a16255a7a720a8ceaabc4096abd7da4e2e32604cec414e3710c76f223f7fad95af1728a1be8f6023329a9fb790078\
        4ffe7a9570233f3b4d32767d351428f4501bbef1f1a5595590e38684aed96afc83ca2edd58876cf98cb657c24f3861cf\
        736ae0aa3e12fc2ccd7d29f3";
    const SYSLOG: &[u8] =
        b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8";

    fn udp(dgrams: &[(bool, &str)], port: u16) -> Vec<L7Row> {
        let bytes: Vec<(bool, Vec<u8>)> = dgrams.iter().map(|(c, h)| (*c, hex(h))).collect();
        let conv: Vec<(bool, &[u8])> = bytes.iter().map(|(c, b)| (*c, b.as_slice())).collect();
        udp_sessions(&conv, port)
    }

    fn udp_probe(b: &[u8], port: u16) -> Probe {
        PROTOCOL.probe(&ProbeInput {
            bytes: b,
            from_client: true,
            tcp: false,
            server_port: port,
            ..ProbeInput::default()
        })
    }

    #[test]
    fn probe_takes_dns_and_leaves_the_rest() {
        for m in [
            TCPDUMP_Q, TCPDUMP_R, SRV_R, MDNS_Q, FWDPTR_Q, PTR_NX, SIGFAIL_R,
        ] {
            assert_eq!(udp_probe(&hex(m), 9999), Probe::Certain, "{m}");
        }
        for m in [NTP, NTP_R, QUIC, ZLIP1] {
            assert_eq!(udp_probe(&hex(m), 9999), Probe::NotMine, "{m}");
        }
        assert_eq!(udp_probe(SYSLOG, 514), Probe::NotMine);
        assert_eq!(udp_probe(b"EVIL", 514), Probe::NotMine);
        let tcp = |b: &[u8]| {
            PROTOCOL.probe(&ProbeInput {
                bytes: b,
                from_client: true,
                tcp: true,
                server_port: 53,
                ..ProbeInput::default()
            })
        };
        let q = hex(TCP_Q2);
        assert_eq!(tcp(&q[..1]), Probe::Unsure);
        assert_eq!(tcp(&q[..10]), Probe::Unsure);
        assert_eq!(tcp(&q[..20]), Probe::Unsure, "question not complete yet");
        assert_eq!(tcp(&q[..q.len() - 1]), Probe::Unsure, "qclass missing");
        let r = hex(TCP_R2);
        assert_eq!(tcp(&r[..r.len() - 3]), Probe::Certain, "question complete");
        assert_eq!(tcp(&q), Probe::Certain);
        assert_eq!(tcp(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Probe::NotMine);
        assert_eq!(tcp(&hex(QUIC)), Probe::NotMine);
    }

    #[test]
    fn a_query_with_a_response_code_is_dns_on_its_port_only() {
        // suricata-verify dns/dns-rcode: a query whose header says NXDOMAIN, answered.
        const Q: &str = "82950123000100000000000103646e65046f697366036e65740000010001000029100000000000000c000a0008a4f5228c58c6180a";
        const R: &str = "82958183000100000001000103646e65046f697366036e65740000010001c01000060001000003830045066e732d31313009617773646e732d313303636f6d0011617773646e732d686f73746d617374657206616d617a6f6ec03b0000000100001c200000038400127500000151800000290200000000000000";
        assert_eq!(udp_probe(&hex(Q), 9999), Probe::Unsure);
        let rows = udp(&[(true, Q), (false, R)], 53);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0].request_resource, "dne.oisf.net");
        assert_eq!(rows[0].request_bytes, 53);
        assert_eq!(rows[0].response_code, Some(3));
    }

    /// nDPI `dns_invert_query.pcapng`: an inverse query (no question, one answer record)
    /// and its NOTIMP answer, 4.9 ms later.
    #[test]
    fn an_inverse_query_is_a_request_and_pairs() {
        const Q: &str = "77fc09000000000100000000033231360235380332303201340000010001000000000000";
        const R: &str = "77fc89840000000000000000";
        for port in [53, 9999] {
            let rows = udp(&[(true, Q), (false, R)], port);
            assert_eq!(rows.len(), 1, "{rows:#?}");
            let r = &rows[0];
            assert_eq!(r.request_id, Some(0x77fc));
            assert_eq!(r.request_bytes, 36);
            assert_eq!(r.response_bytes, 12);
            assert!(r.response_time_us.is_some(), "{r:#?}");
            assert_eq!(r.response_code, Some(4));
            assert_eq!(r.response_status, "server_error");
            assert_eq!(attr(r, "opcode"), Some("IQUERY"));
        }
        assert_eq!(udp_probe(&hex(Q), 9999), Probe::Certain);
        // Its record of class 0 instead of IN: nothing says DNS off port 53.
        let class0 = Q.replace("340000010001", "340000010000");
        assert_eq!(udp_probe(&hex(&class0), 9999), Probe::NotMine);
    }

    /// suricata-verify `dns/bug-1158` frame 84: a NetBIOS name query (type NB, an
    /// encoded name) broadcast from port 137 to port 137. Shaped like DNS, it is not
    /// DNS there; the same bytes on port 53 are.
    #[test]
    fn netbios_name_service_is_not_dns() {
        const NBNS: &str = "bab501100001000000000000204644454645444646454d4542454343414341434143414341434143414341424d0000200001";
        assert!(udp(&[(true, NBNS), (true, NBNS)], 137).is_empty());
        let bytes = hex(NBNS);
        let ip = std::net::IpAddr::from([10, 30, 28, 85]);
        let probe_ports = |client: u16, server: u16| {
            PROTOCOL.probe(&ProbeInput {
                bytes: &bytes,
                tcp: false,
                server_port: 9999,
                client: (ip, client),
                server: (ip, server),
                ..ProbeInput::default()
            })
        };
        assert_eq!(probe_ports(137, 9999), Probe::NotMine);
        // As the engine asks when it tries the bytes as sent by the other side: the
        // endpoints swapped, the server port as it was.
        assert_eq!(probe_ports(9999, 137), Probe::NotMine);
        assert_eq!(udp_probe(&hex(NBNS), 9999), Probe::Certain);
        let rows = udp(&[(true, NBNS)], 53);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0].request_type, "TYPE32");
    }

    #[test]
    fn random_udp_off_port_gives_no_rows() {
        assert!(udp(&[(true, NTP), (false, NTP_R)], 123).is_empty());
        assert!(udp(&[(true, QUIC), (true, QUIC)], 443).is_empty());
    }

    #[test]
    fn udp_pairs_by_txid_out_of_order() {
        let rows = udp(
            &[
                (true, AANS_Q1),
                (true, AANS_Q2),
                (false, AANS_R2),
                (false, AANS_R1),
            ],
            53,
        );
        assert_eq!(rows.len(), 2);
        let (r2, r1) = (&rows[0], &rows[1]);
        assert_eq!(r2.l7_protocol, "dns");
        assert_eq!(r2.request_id, Some(0x1cf4));
        assert_eq!(r2.request_type, "AAAA");
        assert_eq!(r2.request_resource, "aa.bb.cc.ddd.eee.fff.zqytest.com");
        assert_eq!(r2.endpoint, r2.request_resource);
        assert_eq!(r2.version, "");
        assert_eq!(r2.response_status, "ok");
        assert_eq!(r2.response_code, Some(0));
        assert_eq!(r2.response_result, "");
        assert_eq!(attr(r2, "authorities"), Some("1"));
        assert_eq!((r2.request_bytes, r2.response_bytes), (50, 94));
        // Query 2 at 1 ms, its response at 2 ms.
        assert_eq!(r2.response_time_us, Some(1000));

        assert_eq!(r1.request_id, Some(0x3199));
        assert_eq!(r1.request_type, "A");
        assert_eq!(
            r1.response_result,
            "aa.bb.cc.ddd.eee.fff.zqytest.com A 86400 10.50.71.5"
        );
        assert_eq!(r1.response_exception, "");
        assert_eq!(attr(r1, "authorities"), Some("1"));
        assert_eq!(attr(r1, "additionals"), Some("1"));
        assert_eq!(r1.response_time_us, Some(3000));
    }

    #[test]
    fn nxdomain_and_servfail_status() {
        let rows = udp(&[(true, PTR_Q), (false, PTR_NX)], 53);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.request_type, "PTR");
        assert_eq!(r.request_resource, "223.0.30.10.in-addr.arpa");
        assert_eq!(r.response_status, "client_error");
        assert_eq!(r.response_code, Some(3));
        assert_eq!(r.response_exception, "NXDOMAIN");

        let rows = udp(&[(true, SIGFAIL_Q), (false, SIGFAIL_R)], 53);
        let r = &rows[0];
        assert_eq!(r.request_resource, "sigfail.verteiltesysteme.net");
        assert_eq!(r.response_status, "server_error");
        assert_eq!(r.response_code, Some(2));
        assert_eq!(r.response_exception, "SERVFAIL");
        assert_eq!(attr(r, "edns_udp_size"), Some("4096"));
        assert_eq!(attr(r, "edns_do"), Some("0"));

        assert_eq!(status(5), Status::ServerError);
        assert_eq!(status(4), Status::ServerError);
        assert_eq!(status(1), Status::ClientError);
        assert_eq!(status(6), Status::ClientError);
        assert_eq!(status(16), Status::ClientError);
    }

    #[test]
    fn edns_and_answers_of_a_full_response() {
        let rows = udp(&[(true, TCPDUMP_Q), (false, TCPDUMP_R)], 53);
        let r = &rows[0];
        assert_eq!(
            r.response_result,
            "www.tcpdump.org A 60 192.139.46.66; www.tcpdump.org A 60 198.199.88.104"
        );
        assert_eq!(attr(r, "edns_udp_size"), Some("4096"));
        assert_eq!(attr(r, "authorities"), Some("2"));
        assert_eq!(attr(r, "additionals"), Some("4"));
        assert_eq!(attr(r, "opcode"), None);
        assert_eq!(attr(r, "qclass"), None);
    }

    #[test]
    fn mdns_query_several_questions_and_lone_responses() {
        let rows = udp(&[(true, MDNS_Q)], 5353);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.response_status, "timeout");
        assert_eq!(r.request_type, "PTR");
        assert_eq!(r.request_resource, "_raop._tcp.local");
        // The unicast-response bit is masked out: class IN, no attribute.
        assert_eq!(attr(r, "qclass"), None);
        assert_eq!(
            attr(r, "questions"),
            Some("_airplay._tcp.local PTR, _homekit._tcp.local PTR, _sleep-proxy._udp.local PTR")
        );
        // On port 53 the same class is not masked.
        let rows = udp(&[(true, MDNS_Q)], 53);
        assert_eq!(attr(&rows[0], "qclass"), Some("CLASS32769"));

        // A response sent by the client side, and one with no query: rows whose request
        // columns come from the response's question section.
        let rows = udp(&[(true, SRV_R), (false, TCPDUMP_R)], 53);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].request_type, "SRV");
        assert_eq!(rows[0].request_id, Some(0xeb56));
        assert_eq!(rows[0].request_resource, "_sip._udp.sip.voice.google.com");
        assert_eq!(rows[0].response_time_us, None);
        assert_eq!(rows[0].response_status, "ok");
        assert_eq!(rows[1].request_resource, "www.tcpdump.org");
    }

    #[test]
    fn tcp_conversation_is_segmentation_invariant() {
        let msgs: Vec<Vec<u8>> = [TCP_Q1, TCP_R1, TCP_Q2, TCP_R2, TCP_Q3, TCP_R3]
            .iter()
            .map(|h| hex(h))
            .collect();
        let conv: Vec<(bool, &[u8])> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| (i % 2 == 0, m.as_slice()))
            .collect();
        let rows = segmentation_invariant(&conv, 53);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].request_type, "AAAA");
        assert_eq!(rows[0].request_resource, "prod-fcdt-e02.int.frontnode.net");
        assert_eq!(rows[0].response_exception, "NXDOMAIN");
        assert_eq!(rows[0].response_status, "client_error");
        assert_eq!(
            (rows[0].request_bytes, rows[0].response_bytes),
            (0x31, 0x31)
        );
        assert_eq!(
            rows[1].response_result,
            "dockerauth-ee-vpc.cn-shenzhen.aliyuncs.com A 5 100.103.26.52"
        );
        assert_eq!(rows[1].response_status, "ok");
        assert_eq!(
            rows[2].request_resource,
            "registry.yingmi-inc.com.monitor.svc.cluster.local"
        );
        assert!(
            rows.iter()
                .all(|r| r.ip_proto == 6 && r.l7_protocol == "dns")
        );
    }

    #[test]
    fn tcp_two_messages_in_one_segment_and_one_split() {
        let cat = |a: &str, b: &str| [hex(a), hex(b)].concat();
        let (qs, rs) = (cat(TCP_Q1, TCP_Q2), cat(TCP_R1, TCP_R2));
        let rows = tcp_sessions(&[(true, &qs), (false, &rs)], Split::Whole, 53);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].request_id, Some(0x680c));
        assert_eq!(rows[1].request_id, Some(0xe822));
        assert_eq!(rows[1].response_code, Some(0));

        // One response cut in the middle of its question, the halves sent separately.
        let (q, r) = (hex(TCP_Q2), hex(TCP_R2));
        let rows = tcp_sessions(
            &[(true, &q), (false, &r[..30]), (false, &r[30..])],
            Split::Whole,
            53,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].response_status, "ok");
        assert_eq!(rows[0].response_bytes, 0x76);
        assert_eq!(
            rows[0].response_result,
            "dockerauth-ee-vpc.cn-shenzhen.aliyuncs.com A 5 100.103.26.52"
        );
    }

    /// Rows of the TCP conversation with the client's data segments for which `drop`
    /// says so removed (a gap in the client's stream).
    fn tcp_with_loss(
        conv: &[(bool, &[u8])],
        split: Split,
        drop: impl Fn(usize, &[u8]) -> bool,
    ) -> Vec<L7Row> {
        use wirehouse_flow::harness::{run_on, segments};
        let mut n = 0;
        let segs: Vec<_> = segments(conv, split)
            .into_iter()
            .filter(|s| {
                if !s.from_client || s.payload.is_empty() {
                    return true;
                }
                n += 1;
                !drop(n - 1, &s.payload)
            })
            .collect();
        let mut e = run_on(&segs, 53, crate::L7Engine::new(crate::L7Config::default()));
        e.take_rows().collect()
    }

    #[test]
    fn tcp_gap_resyncs_at_a_message_boundary_or_gives_up() {
        let msgs: Vec<Vec<u8>> = [TCP_Q1, TCP_R1, TCP_Q2, TCP_R2, TCP_Q3, TCP_R3]
            .iter()
            .map(|h| hex(h))
            .collect();
        let conv: Vec<(bool, &[u8])> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| (i % 2 == 0, m.as_slice()))
            .collect();
        // The second query is lost whole: the third starts a message, parsing goes on.
        let rows = tcp_with_loss(&conv, Split::Whole, |i, _| i == 1);
        let ids: Vec<_> = rows
            .iter()
            .map(|r| (r.request_id, r.response_status))
            .collect();
        assert_eq!(
            ids,
            [
                (Some(0x680c), "client_error"),
                (Some(0xe822), "ok"),
                (Some(0x7054), "client_error")
            ]
        );
        // Its query was lost: no response time, the question from the response.
        assert_eq!(rows[1].response_time_us, None);
        assert_eq!(
            rows[1].request_resource,
            "dockerauth-ee-vpc.cn-shenzhen.aliyuncs.com"
        );
        assert_eq!(rows[2].request_type, "AAAA");

        // The first 20 bytes of the second query are lost: the rest does not start with a
        // length and a header, so the flow is given up: the third exchange gives no row.
        // (The second response is delivered before the client's gap is declared.)
        let mut cut = msgs.clone();
        let q2 = cut.remove(2);
        let (head, tail) = q2.split_at(20);
        let conv: Vec<(bool, &[u8])> = vec![
            (true, &cut[0]),
            (false, &cut[1]),
            (true, head),
            (true, tail),
            (false, &cut[2]),
            (true, &cut[3]),
            (false, &cut[4]),
        ];
        let rows = tcp_with_loss(&conv, Split::Whole, |i, _| i == 1);
        let ids: Vec<_> = rows.iter().map(|r| r.request_id).collect();
        assert_eq!(ids, [Some(0x680c), Some(0xe822)]);
    }

    #[test]
    fn mutated_messages_through_sessions_never_panic() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let bases: Vec<Vec<u8>> = [TCPDUMP_Q, TCPDUMP_R, SRV_R, MDNS_Q, PTR_NX]
            .iter()
            .map(|h| hex(h))
            .collect();
        for round in 0..300 {
            let dgrams: Vec<Vec<u8>> = (0..8)
                .map(|i| mutate(&mut rng, &bases[(round + i) % bases.len()]))
                .filter(|m| !m.is_empty())
                .collect();
            let conv: Vec<(bool, &[u8])> = dgrams
                .iter()
                .enumerate()
                .map(|(i, m)| (i % 2 == 0, m.as_slice()))
                .collect();
            for r in udp_sessions(&conv, 53) {
                assert!(r.response_result.len() <= MAX_RESULT_LEN);
            }
            // TCP: the same messages with (mutated) length prefixes.
            let framed: Vec<Vec<u8>> = dgrams
                .iter()
                .map(|m| {
                    let mut f = (m.len() as u16).to_be_bytes().to_vec();
                    f.extend_from_slice(m);
                    mutate(&mut rng, &f)
                })
                .collect();
            let conv: Vec<(bool, &[u8])> = framed
                .iter()
                .enumerate()
                .map(|(i, m)| (i % 2 == 0, m.as_slice()))
                .collect();
            let split = if round % 2 == 0 {
                Split::Whole
            } else {
                Split::Random(round as u64)
            };
            let _ = tcp_sessions(&conv, split, 53);
        }
        // Every truncation of a real message, as a datagram and as a TCP message.
        let full = hex(TCPDUMP_R);
        for n in 1..full.len() {
            let _ = udp_sessions(&[(true, &hex(TCPDUMP_Q)), (false, &full[..n])], 53);
            let mut f = (full.len() as u16).to_be_bytes().to_vec();
            f.extend_from_slice(&full[..n]);
            let _ = tcp_sessions(&[(false, &f)], Split::Whole, 53);
        }
    }

    #[test]
    fn answers_are_capped() {
        // A response with 200 A answers (owner: a pointer to the question name).
        let mut m = hex("abcd818000010000000000000378797a0000010001");
        m[6..8].copy_from_slice(&200u16.to_be_bytes());
        for i in 0..200u16 {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0]);
            m.extend_from_slice(&i.to_be_bytes());
        }
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.answers.len(), parser::MAX_RECORDS_KEPT);
        assert_eq!(msg.answers_seen, 200);
        let sum = summarize(&m, &mut String::new()).unwrap();
        assert_eq!(sum.answers_seen, 200);
        let s = sum.answers;
        assert!(s.starts_with("xyz A 9 10.0.0.0; xyz A 9 10.0.0.1; "));
        assert!(s.ends_with("xyz A 9 10.0.0.63; ..."), "{s}");
        assert!(s.len() <= MAX_RESULT_LEN);
    }
}
