//! DTLS handshake (TLS over UDP, RFC 6347 / RFC 9147; see `README.md` in this folder): one
//! row per handshake, with the TLS parser's row (SNI, versions, cipher, certificate names,
//! JA3/JA3S/JA4). Records are walked datagram by datagram and handshake messages rebuilt from
//! their fragments; parsing stops once the handshake is over.

use crate::pieces::Pieces;
use crate::protocols::tls::parser::{self, Carrier, MAX_MESSAGE_LEN, content, hs};
use crate::protocols::tls::{Exchange, hello_request};
use crate::{Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Session, Span, Transport};
use std::borrow::Cow;

/// The DTLS protocol (registry entry).
#[derive(Debug)]
pub struct Dtls;

/// The registry entry.
pub static PROTOCOL: Dtls = Dtls;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "dtls",
    id: 122,
    transport: Transport::Udp,
    default_ports: &[443, 4433, 5684],
};

/// A DTLS record header: type, version, epoch, sequence number (6 bytes), length.
const RECORD_HEADER_LEN: usize = 13;
/// A handshake fragment header: type, length, message_seq, fragment offset and length.
const FRAGMENT_HEADER_LEN: usize = 12;
/// Messages of one direction being rebuilt from fragments at once.
const MAX_PARTIAL: usize = 4;

impl Protocol for Dtls {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        if input.tcp {
            return Probe::NotMine;
        }
        probe_bytes(input.bytes, input.from_client)
    }

    fn session(&self) -> Box<dyn Session> {
        Box::<DtlsSession>::default()
    }
}

/// Certain for a datagram that starts with a whole epoch-0 handshake record whose first
/// fragment is a ClientHello (from the client), a HelloVerifyRequest or a ServerHello; a
/// datagram stands alone, so anything else is not DTLS's.
fn probe_bytes(b: &[u8], from_client: bool) -> Probe {
    let Some((r, payload, _)) = record(b) else {
        return Probe::NotMine;
    };
    let first = fragments(payload).next();
    match first {
        Some(f) if r.content_type == content::HANDSHAKE && r.epoch == 0 => match f.msg_type {
            hs::CLIENT_HELLO if from_client => Probe::Certain,
            hs::HELLO_VERIFY_REQUEST | hs::SERVER_HELLO => Probe::Certain,
            _ => Probe::NotMine,
        },
        _ => Probe::NotMine,
    }
}

/// A DTLS record's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    content_type: u8,
    epoch: u16,
}

/// The record at the start of `b` (DTLSPlaintext: content type 20..=24, version 0xfe..),
/// its payload and what follows it; `None` when `b` does not start with a whole one. (A
/// record with a connection id, type 25 of RFC 9146, has the id before its length: it is
/// not walked.)
fn record(b: &[u8]) -> Option<(Record, &[u8], &[u8])> {
    let h = b.get(..RECORD_HEADER_LEN)?;
    let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
    let plausible = (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(&h[0])
        && h[1] == 0xfe
        && len <= parser::MAX_RECORD_LEN;
    if !plausible {
        return None;
    }
    let payload = b.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len)?;
    let r = Record {
        content_type: h[0],
        epoch: u16::from_be_bytes([h[3], h[4]]),
    };
    Some((r, payload, &b[RECORD_HEADER_LEN + len..]))
}

/// One handshake fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fragment<'a> {
    msg_type: u8,
    /// The whole message's length.
    len: usize,
    seq: u16,
    offset: usize,
    body: &'a [u8],
}

/// The fragments of a handshake record's payload, in order; stops at the first that is
/// cut short or does not fit its message.
fn fragments(mut b: &[u8]) -> impl Iterator<Item = Fragment<'_>> {
    std::iter::from_fn(move || {
        let h = b.get(..FRAGMENT_HEADER_LEN)?;
        let u24 =
            |i: usize| usize::from(h[i]) << 16 | usize::from(h[i + 1]) << 8 | usize::from(h[i + 2]);
        let (len, offset, flen) = (u24(1), u24(6), u24(9));
        let body = b.get(FRAGMENT_HEADER_LEN..FRAGMENT_HEADER_LEN + flen)?;
        if offset + flen > len {
            return None;
        }
        b = &b[FRAGMENT_HEADER_LEN + flen..];
        Some(Fragment {
            msg_type: h[0],
            len,
            seq: u16::from_be_bytes([h[4], h[5]]),
            offset,
            body,
        })
    })
}

/// A message being rebuilt: its first [`MAX_MESSAGE_LEN`] bytes at most.
#[derive(Debug)]
struct Partial {
    seq: u16,
    msg_type: u8,
    len: usize,
    body: Pieces,
    /// Arrival of its first fragment.
    start_ns: i64,
}

/// A whole handshake message.
#[derive(Debug)]
struct Message<'a> {
    msg_type: u8,
    body: Cow<'a, [u8]>,
    /// Arrival of its first fragment.
    start_ns: i64,
}

/// One direction's handshake messages, rebuilt from fragments that may come in any order,
/// more than once.
#[derive(Debug, Default)]
struct Messages {
    partial: Vec<Partial>,
    /// Messages 0..64 delivered (their retransmissions are ignored).
    delivered: u64,
}

impl Messages {
    fn delivered(&self, seq: u16) -> bool {
        seq < 64 && self.delivered & 1 << seq != 0
    }

    /// Adds a fragment that arrived at `ts_ns`; returns the message it completes.
    fn push<'a>(&mut self, f: Fragment<'a>, ts_ns: i64) -> Option<Message<'a>> {
        if self.delivered(f.seq) {
            return None;
        }
        let cap = f.len.min(MAX_MESSAGE_LEN);
        let msg = if f.offset == 0 && f.body.len() >= cap {
            self.partial.retain(|p| p.seq != f.seq);
            Message {
                msg_type: f.msg_type,
                body: Cow::Borrowed(&f.body[..cap]),
                start_ns: ts_ns,
            }
        } else {
            // A fragment that disagrees with the message being rebuilt under its number
            // (type, length) starts it afresh: one corrupt fragment cannot block the rest.
            self.partial
                .retain(|p| p.seq != f.seq || (p.msg_type == f.msg_type && p.len == f.len));
            let i = match self.partial.iter().position(|p| p.seq == f.seq) {
                Some(i) => i,
                None => {
                    if self.partial.len() == MAX_PARTIAL {
                        self.partial.remove(0);
                    }
                    self.partial.push(Partial {
                        seq: f.seq,
                        msg_type: f.msg_type,
                        len: f.len,
                        body: Pieces::new(cap),
                        start_ns: ts_ns,
                    });
                    self.partial.len() - 1
                }
            };
            let p = &mut self.partial[i];
            if !p.body.add(f.offset, f.body) {
                // Too scattered to keep.
                self.partial.remove(i);
                return None;
            }
            if !p.body.complete() {
                return None;
            }
            let p = self.partial.remove(i);
            Message {
                msg_type: p.msg_type,
                body: Cow::Owned(p.body.into_inner()),
                start_ns: p.start_ns,
            }
        };
        if f.seq < 64 {
            self.delivered |= 1 << f.seq;
        }
        Some(msg)
    }
}

/// One direction's state.
#[derive(Debug, Default)]
struct Dir {
    msgs: Messages,
    /// Record bytes so far.
    bytes: u64,
}

/// Per-flow DTLS handshake state.
#[derive(Debug, Default)]
pub struct DtlsSession {
    /// [client, server].
    dirs: [Dir; 2],
    hx: Exchange,
    /// The server's handshake is encrypted from here on (DTLS 1.3).
    server_opaque: bool,
}

impl DtlsSession {
    /// One record from `fc` (its bytes already counted). True when the handshake is over.
    fn record(&mut self, cx: &mut Cx<'_>, fc: bool, r: Record, payload: &[u8], span: Span) -> bool {
        let plain = r.epoch == 0;
        let alert = (plain && r.content_type == content::ALERT)
            .then(|| parser::alert(payload))
            .flatten()
            .filter(parser::Alert::is_fatal);
        let ends = self
            .hx
            .ends_handshake(fc, r.content_type, !plain, alert, span.start_ns);
        if ends {
            self.hx.finish(cx, self.dirs[1].bytes, span.start_ns);
            return true;
        }
        if r.content_type != content::HANDSHAKE || !plain || (!fc && self.server_opaque) {
            return false;
        }
        for f in fragments(payload) {
            let Some(m) = self.dirs[usize::from(!fc)].msgs.push(f, span.start_ns) else {
                continue;
            };
            if fc {
                if m.msg_type == hs::CLIENT_HELLO {
                    match parser::client_hello_in(&m.body, Carrier::Dtls) {
                        Some(ch) if self.hx.first_hello(&ch) => {
                            let bytes = self.dirs[0].bytes;
                            cx.request(hello_request(&ch, m.start_ns, span.end_ns, bytes));
                        }
                        Some(_) => {}
                        None => cx.parse_error(),
                    }
                }
            } else if self
                .hx
                .server_mut(m.start_ns)
                .message(cx, m.msg_type, &m.body)
            {
                self.server_opaque = true;
                return false;
            }
        }
        false
    }
}

impl Session for DtlsSession {
    fn parse(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) -> Parse {
        let mut rest = buf;
        while !rest.is_empty() {
            // DTLS 1.3 ciphertext (RFC 9147 §4: a unified header, 0b001xxxxx) stands for
            // an encrypted record to the end of the datagram.
            let (r, payload, next) = match record(rest) {
                Some(x) => x,
                None if rest[0] & 0xe0 == 0x20 => {
                    let r = Record {
                        content_type: content::APPLICATION_DATA,
                        epoch: 3,
                    };
                    (r, &rest[..0], &rest[rest.len()..])
                }
                None if rest.len() == buf.len() => return Parse::Invalid,
                None => {
                    // Bytes after the last whole record: counted, not parsed.
                    cx.parse_error();
                    self.dirs[usize::from(!fc)].bytes += rest.len() as u64;
                    break;
                }
            };
            self.dirs[usize::from(!fc)].bytes += (rest.len() - next.len()) as u64;
            if self.record(cx, fc, r, payload, span) {
                return Parse::Stop;
            }
            rest = next;
        }
        Parse::Consumed(buf.len())
    }

    fn gap(&mut self, _cx: &mut Cx<'_>, _from_client: bool, _len: u64, _ts_ns: i64) -> bool {
        true
    }

    /// The flow ended: what the server said is written.
    fn end(&mut self, cx: &mut Cx<'_>, _from_client: bool, _buf: &[u8], span: Span) {
        self.hx.finish(cx, self.dirs[1].bytes, span.end_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::L7Row;
    use crate::testutil::{attr, borrow, fixture, udp_sessions};

    /// zeek `tls/dtls1_2.pcap`: DTLS 1.2 with a HelloVerifyRequest, both ClientHellos in
    /// two fragments, the certificate in five.
    const ZEEK: &str = include_str!("fixtures/dtls12_zeek.txt");

    fn one_row(dgrams: &[(bool, &[u8])]) -> L7Row {
        let rows = udp_sessions(dgrams, 4400);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        rows.into_iter().next().expect("one row")
    }

    /// Against zeek's `ssl1_2.log` and `x5091_2.log` and tshark's JA3, JA3S and UDP lengths
    /// for the same capture.
    #[test]
    fn zeek_dtls12_handshake() {
        let conv = fixture(ZEEK);
        let r = one_row(&borrow(&conv));
        assert_eq!(r.l7_protocol, "dtls");
        assert_eq!(r.version, "DTLS 1.2");
        assert_eq!(r.request_type, "handshake");
        assert_eq!(r.request_domain, "");
        assert_eq!(r.response_status, "ok");
        assert_eq!(r.response_result, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        assert_eq!(
            attr(&r, "ja3_hash"),
            Some("3c3d129780d0066cd8936a6291a8d44f")
        );
        assert_eq!(attr(&r, "ja3s"), Some("953c1507994f72697446de4eff6e300b"));
        assert!(
            attr(&r, "ja4").is_some_and(|j| j.starts_with("dd2i")),
            "{r:#?}"
        );
        assert_eq!(attr(&r, "client_version"), Some("DTLS 1.2"));
        assert_eq!(attr(&r, "hello_verify"), Some("1"));
        assert_eq!(
            attr(&r, "cert_subject"),
            Some("C=AU, ST=Some-State, O=Internet Widgits Pty Ltd")
        );
        // UDP payloads: the first ClientHello (frames 1-2: 228 + 109), the server's up to
        // the client's ChangeCipherSpec (frame 3: 48, 6-11: 6 × 228, 12: 142).
        assert_eq!(r.request_bytes, 337);
        assert_eq!(r.response_bytes, 1558);
        // The HelloVerifyRequest (third datagram, 2 ms after the first) starts the answer.
        assert_eq!(r.response_time_us, Some(2_000));
    }

    /// Fragments rebuild the same messages in any order and when repeated.
    #[test]
    fn fragments_in_any_order() {
        let conv = fixture(ZEEK);
        let want = one_row(&borrow(&conv));
        let mut shuffled = borrow(&conv);
        // The server's certificate flight backwards, its first datagram twice.
        shuffled[5..12].reverse();
        shuffled.insert(6, shuffled[11]);
        let got = one_row(&shuffled);
        for k in [
            "ja3",
            "ja4",
            "ja3s",
            "cert_subject",
            "cert_issuer",
            "hello_verify",
        ] {
            assert_eq!(attr(&got, k), attr(&want, k), "{k}");
        }
        assert_eq!(got.response_result, want.response_result);
    }

    /// A capture that ends before the client's last flight: the server's hello is still
    /// written, when the flow closes.
    #[test]
    fn written_at_close() {
        let conv = fixture(ZEEK);
        let r = one_row(&borrow(&conv)[..12]);
        assert_eq!(r.response_status, "ok");
        assert_eq!(r.version, "DTLS 1.2");
        assert_eq!(r.response_bytes, 1558);
        // Only the client's hellos: a timeout.
        let r = one_row(&borrow(&conv)[..2]);
        assert_eq!(r.response_status, "timeout");
        assert_eq!(r.request_bytes, 337);
    }

    #[test]
    fn probe_verdicts() {
        let conv = fixture(ZEEK);
        assert_eq!(probe_bytes(&conv[0].1, true), Probe::Certain);
        assert_eq!(probe_bytes(&conv[0].1, false), Probe::NotMine);
        assert_eq!(probe_bytes(&conv[2].1, false), Probe::Certain); // HelloVerifyRequest
        assert_eq!(probe_bytes(&conv[5].1, false), Probe::Certain); // ServerHello
        assert_eq!(probe_bytes(&conv[12].1, true), Probe::NotMine); // ClientKeyExchange
        assert_eq!(probe_bytes(&conv[0].1[..40], true), Probe::NotMine); // cut short
        // TLS over TCP's record header is not DTLS's.
        let tls = [22, 3, 1, 0, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(probe_bytes(&tls, true), Probe::NotMine);
        assert_eq!(probe_bytes(&[], true), Probe::NotMine);
        // A record with a connection id (RFC 9146, type 25: the id comes before the
        // length) is not read with the plain header.
        let mut cid = vec![25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4];
        cid.extend([0u8; 4]);
        assert_eq!(record(&cid), None);
        cid[0] = content::APPLICATION_DATA;
        assert!(record(&cid).is_some());
    }

    /// A corrupt fragment (another length) under the number of a message being rebuilt
    /// does not keep the real fragments from completing it.
    #[test]
    fn a_corrupt_fragment_does_not_block_its_message() {
        let conv = fixture(ZEEK);
        let want = one_row(&borrow(&conv));
        // The datagram with the ServerHello and the certificate's first piece: the
        // certificate fragment's message length, made 0xffffff.
        let mut rec = conv[5].1.clone();
        let mut at = 0;
        loop {
            let (r, payload, _) = record(&rec[at..]).expect("a certificate record");
            let first = fragments(payload).next().expect("fragment");
            if r.content_type == content::HANDSHAKE && first.msg_type == hs::CERTIFICATE {
                break;
            }
            at += RECORD_HEADER_LEN + payload.len();
        }
        let len_at = at + RECORD_HEADER_LEN + 1;
        rec[len_at..len_at + 3].copy_from_slice(&[0xff; 3]);
        let mut dgrams = borrow(&conv);
        dgrams.insert(5, (false, &rec));
        let got = one_row(&dgrams);
        assert_eq!(attr(&got, "cert_subject"), attr(&want, "cert_subject"));
        assert!(attr(&got, "cert_subject").is_some());
    }

    /// Hostile fragment headers: lengths past the message or the record, offsets past a
    /// 16 MiB message, type changes, a message in a thousand one-byte pieces.
    #[test]
    fn hostile_fragments_do_not_panic() {
        let frag = |t: u8, len: u32, seq: u16, off: u32, body: &[u8]| {
            let mut f = vec![t];
            f.extend_from_slice(&len.to_be_bytes()[1..]);
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&off.to_be_bytes()[1..]);
            f.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            f.extend_from_slice(body);
            f
        };
        let rec = |payload: &[u8]| {
            let mut r = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
            r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            r.extend_from_slice(payload);
            r
        };
        let mut m = Messages::default();
        let body = [7u8; 100];
        assert!(fragments(&frag(1, 10, 0, 5, &body[..6])).next().is_none());
        let big = frag(1, 0xff_ffff, 0, 0xff_fff0, &body[..15]);
        let f = fragments(&big).next().expect("fits its message");
        assert!(m.push(f, 0).is_none());
        let other = frag(2, 0xff_ffff, 0, 0, &body[..15]);
        assert!(m.push(fragments(&other).next().expect("frag"), 0).is_none());
        // Every other byte of a 2,000-byte message: dropped whenever too scattered.
        for off in (0..2000).step_by(2) {
            let b = frag(1, 2000, 1, off, &body[..1]);
            assert!(m.push(fragments(&b).next().expect("frag"), 0).is_none());
        }
        assert!(m.partial.len() <= MAX_PARTIAL);
        // Whole datagrams of such records, through the engine.
        let mut dgram = rec(&frag(1, 0xff_ffff, 0, 0, &body));
        dgram.extend(rec(&frag(1, 5, 0, 3, &body[..9])));
        dgram.extend([22, 0xfe, 0xfd, 0, 0]);
        let rows = udp_sessions(&[(true, &dgram), (false, &[0x2f; 40])], 4433);
        assert!(rows.iter().all(|r| r.l7_protocol == "dtls"), "{rows:#?}");
    }
}
