//! DNS over UDP and TCP (also mDNS on 5353 and LLMNR on 5355): detection, per-flow
//! sessions paired by transaction id, and the `l7_sessions` row mapping (see this
//! folder's README.md).

pub mod parser;

use crate::{
    Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Request, Response, Session, Span, Status,
    Transport,
};
use parser::{Header, Message, class_name, opcode_name, parse_message, rcode_name, type_name};
use std::collections::VecDeque;
use wirehouse_schema::Attributes;

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
/// Longest `response_result`, bytes.
pub const MAX_RESULT_LEN: usize = 4096;
/// Unanswered query ids remembered per flow (to tell unpaired responses).
const MAX_OUTSTANDING: usize = 4096;
/// mDNS port (its QCLASS top bit is the unicast-response / cache-flush bit).
const MDNS_PORT: u16 = 5353;

impl Protocol for Dns {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
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
/// questions and RCODE 0, and counts that fit in `len` (a question takes at least 5
/// bytes, a record 11).
fn plausible_header(h: &Header, len: usize) -> bool {
    if h.opcode > 6 || h.opcode == 3 || h.qdcount > PROBE_MAX_QDCOUNT {
        return false;
    }
    if !h.qr && (h.qdcount == 0 || h.rcode != 0) {
        return false;
    }
    let records = u64::from(h.ancount) + u64::from(h.nscount) + u64::from(h.arcount);
    12 + 5 * u64::from(h.qdcount) + 11 * records <= len as u64
}

/// Questions look like real ones: a type other than 0 and a known class.
fn plausible_questions(m: &Message) -> bool {
    m.questions
        .iter()
        .all(|q| q.qtype != 0 && matches!(q.qclass & 0x7fff, 1 | 3 | 4 | 254 | 255))
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
    if padded && announced > 0 {
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
            Ok(m) if h.qdcount > 0 && plausible_questions(&m) => Probe::Certain,
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
}

impl DnsSession {
    fn report(&mut self, cx: &mut Cx<'_>, m: &Message, bytes: usize, span: Span) {
        let mdns = cx.server_port() == MDNS_PORT;
        let id = m.header.id;
        if !m.header.qr {
            if self.outstanding.len() >= MAX_OUTSTANDING {
                self.outstanding.pop_front();
            }
            self.outstanding.push_back(id);
            let mut attributes = Attributes::new();
            query_attributes(m, mdns, &mut attributes);
            let (qtype, qname) = first_question(m);
            cx.request(Request {
                pair_id: Some(u64::from(id)),
                start_ns: span.start_ns,
                end_ns: span.end_ns,
                bytes: bytes as u64,
                version: String::new(),
                request_type: qtype,
                domain: String::new(),
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
        if !paired {
            // The row will have no request: keep what the response says of the question.
            let (qtype, qname) = first_question(m);
            if !qname.is_empty() {
                attributes.push(("qname".into(), qname));
                attributes.push(("qtype".into(), qtype));
            }
            query_attributes(m, mdns, &mut attributes);
        }
        response_attributes(m, &mut attributes);
        let rcode = m.rcode();
        cx.response(Response {
            pair_id: Some(u64::from(id)),
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            bytes: bytes as u64,
            version: String::new(),
            status: status(rcode),
            code: Some(i64::from(rcode)),
            result: answers(m),
            exception: if rcode == 0 {
                String::new()
            } else {
                rcode_name(rcode).into_owned()
            },
            request_id: Some(u64::from(id)),
            attributes,
        });
    }
}

/// (qtype name, qname) of the first question; empty strings when there is none.
fn first_question(m: &Message) -> (String, String) {
    m.questions.first().map_or_else(Default::default, |q| {
        (type_name(q.qtype).into_owned(), q.name.clone())
    })
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
fn query_attributes(m: &Message, mdns: bool, a: &mut Attributes) {
    if m.header.opcode != 0 {
        a.push(("opcode".into(), opcode_name(m.header.opcode).into_owned()));
    }
    if let Some(q) = m.questions.first() {
        let class = if mdns { q.qclass & 0x7fff } else { q.qclass };
        if class != 1 {
            a.push(("qclass".into(), class_name(class).into_owned()));
        }
    }
    if m.questions.len() > 1 {
        let mut s = String::new();
        for (i, q) in m.questions.iter().skip(1).enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&q.name);
            s.push(' ');
            s.push_str(&type_name(q.qtype));
        }
        if usize::from(m.header.qdcount) > m.questions.len() {
            s.push_str(", ...");
        }
        a.push(("questions".into(), s));
    }
    if let Some(e) = m.edns {
        a.push(("edns_udp_size".into(), e.udp_size.to_string()));
        a.push(("edns_do".into(), u8::from(e.dnssec_ok).to_string()));
    }
}

/// Attributes that describe the response: `tc`, `authorities`, `additionals` (not
/// counting OPT), `incomplete`.
fn response_attributes(m: &Message, a: &mut Attributes) {
    let h = &m.header;
    if h.tc {
        a.push(("tc".into(), "1".into()));
    }
    if h.nscount > 0 {
        a.push(("authorities".into(), h.nscount.to_string()));
    }
    let additionals = h.arcount.saturating_sub(u16::from(m.edns.is_some()));
    if additionals > 0 {
        a.push(("additionals".into(), additionals.to_string()));
    }
    if m.incomplete {
        a.push(("incomplete".into(), "1".into()));
    }
}

/// `response_result`: the answers as `name TYPE TTL data`, joined with `"; "`, at most
/// [`MAX_RESULT_LEN`] bytes (`...` marks a cut).
fn answers(m: &Message) -> String {
    const MARK: &str = "; ...";
    let mut out = String::new();
    let mut cut = usize::from(m.answers_seen) > m.answers.len();
    for r in &m.answers {
        let s = r.to_string();
        let sep = if out.is_empty() { "" } else { "; " };
        if out.len() + sep.len() + s.len() + MARK.len() > MAX_RESULT_LEN {
            if out.is_empty() {
                let mut n = MAX_RESULT_LEN - MARK.len();
                while !s.is_char_boundary(n) {
                    n -= 1;
                }
                out.push_str(&s[..n]);
            }
            cut = true;
            break;
        }
        out.push_str(sep);
        out.push_str(&s);
    }
    if cut {
        out.push_str(if out.is_empty() { "..." } else { MARK });
    }
    out
}

impl Session for DnsSession {
    fn parse(&mut self, cx: &mut Cx<'_>, from_client: bool, buf: &[u8], span: Span) -> Parse {
        if !cx.is_tcp() {
            return match parse_message(buf) {
                Ok(m) => {
                    self.report(cx, &m, buf.len(), span);
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
        match parse_message(msg) {
            Ok(m) => self.report(cx, &m, n, span),
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
