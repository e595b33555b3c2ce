//! QUIC handshake (RFC 9000 / RFC 9001; see `README.md` in this folder): one row per
//! connection from the TLS ClientHello and ServerHello that Initial packets carry in CRYPTO
//! frames. Initial packets are protected with keys any observer derives from the client's
//! Destination Connection ID (RFC 9001 §5.2); everything after the ServerHello is protected
//! with keys a capture does not have, so parsing stops there.

mod crypto;

use crate::pieces::Pieces;
use crate::protocols::tls::parser::{self, Carrier, MAX_MESSAGE_LEN, Reassembler, hs};
use crate::protocols::tls::{Exchange, hello_request};
use crate::{Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Session, Span, Transport};
use crypto::Keys;
use wirehouse_schema::Text;

/// The QUIC protocol (registry entry).
#[derive(Debug)]
pub struct Quic;

/// The registry entry.
pub static PROTOCOL: Quic = Quic;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "quic",
    id: 123,
    transport: Transport::Udp,
    default_ports: &[443, 8443],
};

/// QUIC version 1 (RFC 9000).
const V1: u32 = 1;
/// QUIC version 2 (RFC 9369).
const V2: u32 = 0x6b33_43cf;
/// The last draft deployed widely (draft-ietf-quic-transport-29).
const DRAFT29: u32 = 0xff00_001d;
/// Longest connection id (RFC 9000 §17.2).
const MAX_CID_LEN: usize = 20;

impl Protocol for Quic {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        if input.tcp || !input.from_client {
            return Probe::NotMine;
        }
        probe_bytes(input.bytes)
    }

    fn session(&self) -> Box<dyn Session> {
        Box::<QuicSession>::default()
    }
}

/// Certain for a datagram whose first packet is an Initial of a known version that the keys
/// of its Destination Connection ID open, with a CRYPTO frame at offset 0 starting a
/// ClientHello. Only a client's first flight can be told: the server's Initial needs the
/// client's connection id.
fn probe_bytes(b: &[u8]) -> Probe {
    let Some(p) = packets(b).next() else {
        return Probe::NotMine;
    };
    if p.kind != Kind::Initial {
        return Probe::NotMine;
    }
    let Some(keys) = Keys::initial(p.version, p.dcid, false) else {
        return Probe::NotMine;
    };
    let Some(plain) = keys.open(b, &p) else {
        return Probe::NotMine;
    };
    let hello = frames(&plain)
        .any(|f| matches!(f, Frame::Crypto(0, d) if d.first() == Some(&hs::CLIENT_HELLO)));
    if hello {
        Probe::Certain
    } else {
        Probe::NotMine
    }
}

/// A long-header packet's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// A long-header packet within a datagram.
#[derive(Debug, Clone, Copy)]
struct Packet<'a> {
    version: u32,
    kind: Kind,
    dcid: &'a [u8],
    /// Offsets in the datagram: the packet's first byte, its packet number, its end.
    start: usize,
    pn_offset: usize,
    end: usize,
}

/// A variable-length integer (RFC 9000 §16) at the start of `b`, and its length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let v = bytes[1..]
        .iter()
        .fold(u64::from(first & 0x3f), |v, &x| v << 8 | u64::from(x));
    Some((v, len))
}

/// The long-header packets of a datagram of a known version, in order (coalesced packets,
/// RFC 9000 §12.2); stops at a short-header packet, a Retry's end or anything malformed.
fn packets(d: &[u8]) -> impl Iterator<Item = Packet<'_>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let p = packet(d, at)?;
        at = p.end;
        Some(p)
    })
}

fn packet(d: &[u8], start: usize) -> Option<Packet<'_>> {
    let b = d.get(start..)?;
    let first = *b.first()?;
    // Long header with the fixed bit.
    if first & 0xc0 != 0xc0 {
        return None;
    }
    let version = u32::from_be_bytes(b.get(1..5)?.try_into().ok()?);
    let bits = (first >> 4) & 3;
    let kind = match (version, bits) {
        (V1 | DRAFT29, 0) | (V2, 1) => Kind::Initial,
        (V1 | DRAFT29, 1) | (V2, 2) => Kind::ZeroRtt,
        (V1 | DRAFT29, 2) | (V2, 3) => Kind::Handshake,
        (V1 | DRAFT29, 3) | (V2, 0) => Kind::Retry,
        _ => return None,
    };
    let mut at = 5;
    let mut cid = || {
        let n = usize::from(*b.get(at)?);
        let c = b.get(at + 1..at + 1 + n).filter(|_| n <= MAX_CID_LEN)?;
        at += 1 + n;
        Some(c)
    };
    let dcid = cid()?;
    cid()?; // source connection id
    if kind == Kind::Retry {
        let end = d.len();
        return Some(Packet {
            version,
            kind,
            dcid,
            start,
            pn_offset: end,
            end,
        });
    }
    if kind == Kind::Initial {
        let (token_len, n) = varint(b.get(at..)?)?;
        at = at
            .checked_add(n)?
            .checked_add(usize::try_from(token_len).ok()?)?;
    }
    let (len, n) = varint(b.get(at..)?)?;
    let pn_offset = start + at + n;
    let end = pn_offset.checked_add(usize::try_from(len).ok()?)?;
    if end > d.len() {
        return None;
    }
    Some(Packet {
        version,
        kind,
        dcid,
        start,
        pn_offset,
        end,
    })
}

/// A frame of an Initial packet's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame<'a> {
    /// CRYPTO: stream offset, data.
    Crypto(u64, &'a [u8]),
    /// CONNECTION_CLOSE: its error code.
    Close(u64),
    /// PADDING, PING, ACK.
    Other,
}

/// The frames of a decrypted Initial or Handshake payload, in order; stops at a frame type
/// those packets may not carry, or at one cut short.
fn frames(mut b: &[u8]) -> impl Iterator<Item = Frame<'_>> {
    std::iter::from_fn(move || {
        let mut take = || -> Option<u64> {
            let (v, n) = varint(b)?;
            b = &b[n..];
            Some(v)
        };
        let t = take()?;
        let frame = match t {
            0x00 | 0x01 => Frame::Other,
            0x02 | 0x03 => {
                let (_largest, _delay) = (take()?, take()?);
                let ranges = take()?;
                take()?; // first range
                for _ in 0..ranges.min(1 << 16) {
                    take()?; // gap
                    take()?; // length
                }
                if t == 0x03 {
                    for _ in 0..3 {
                        take()?; // ECN counts
                    }
                }
                Frame::Other
            }
            0x06 => {
                let offset = take()?;
                let len = usize::try_from(take()?).ok()?;
                let data = b.get(..len)?;
                b = &b[len..];
                Frame::Crypto(offset, data)
            }
            0x1c | 0x1d => {
                let code = take()?;
                if t == 0x1c {
                    take()?; // frame type
                }
                let len = usize::try_from(take()?).ok()?;
                b = b.get(len..)?;
                Frame::Close(code)
            }
            _ => return None,
        };
        Some(frame)
    })
}

/// One direction's CRYPTO stream at the Initial level.
#[derive(Debug)]
struct Stream {
    bytes: Pieces,
    /// How much of it went to the message reassembler.
    fed: usize,
    hs: Reassembler,
    /// Arrival of its first byte.
    start_ns: Option<i64>,
    /// UDP payload bytes of this side so far.
    sent: u64,
}

impl Default for Stream {
    fn default() -> Self {
        Self {
            bytes: Pieces::new(MAX_MESSAGE_LEN),
            fed: 0,
            hs: Reassembler::default(),
            start_ns: None,
            sent: 0,
        }
    }
}

impl Stream {
    /// Adds CRYPTO data; returns the handshake messages it completes.
    fn add(&mut self, offset: u64, data: &[u8], ts_ns: i64) -> Vec<parser::Message> {
        self.start_ns.get_or_insert(ts_ns);
        let Ok(offset) = usize::try_from(offset) else {
            return Vec::new();
        };
        // Too scattered a stream stops growing (Pieces refuses it): no more messages.
        self.bytes.add(offset, data);
        let prefix = self.bytes.prefix();
        let new = prefix.get(self.fed..).unwrap_or_default();
        self.fed = prefix.len();
        self.hs.push(new)
    }
}

/// Per-flow QUIC handshake state.
#[derive(Debug, Default)]
pub struct QuicSession {
    /// [client, server].
    dirs: [Stream; 2],
    /// Both sides' Initial keys.
    keys: Option<InitialKeys>,
    version: u32,
    hx: Exchange,
    /// The server sent a Retry.
    retry: bool,
    /// A Retry came and no client Initial since: the next one sets the keys afresh.
    rekey: bool,
}

/// The Initial keys of one connection id and version, for both sides.
#[derive(Debug)]
struct InitialKeys {
    dcid: Vec<u8>,
    version: u32,
    client: Keys,
    server: Keys,
}

impl InitialKeys {
    fn new(dcid: &[u8], version: u32) -> Option<Self> {
        Some(Self {
            dcid: dcid.to_vec(),
            version,
            client: Keys::initial(version, dcid, false)?,
            server: Keys::initial(version, dcid, true)?,
        })
    }
}

impl QuicSession {
    /// The keys that open packet `p` from `fc`. They come from the Destination Connection
    /// ID of the client's first Initial, and change only after a Retry (RFC 9001 §5.2), not
    /// when the client goes on to address the server's chosen id. A server answering in
    /// another version (compatible version negotiation, RFC 9368) uses that version's salt
    /// on the same id.
    fn keys(&mut self, fc: bool, p: &Packet<'_>) -> Option<&Keys> {
        if fc && (self.keys.is_none() || std::mem::take(&mut self.rekey)) {
            self.keys = InitialKeys::new(p.dcid, p.version);
        }
        if let Some(k) = &self.keys
            && k.version != p.version
        {
            self.keys = InitialKeys::new(&k.dcid, p.version);
        }
        let k = self.keys.as_ref()?;
        Some(if fc { &k.client } else { &k.server })
    }

    /// A whole handshake message from `fc`; true when the handshake is over for us.
    fn message(&mut self, cx: &mut Cx<'_>, fc: bool, m: &parser::Message, span: Span) -> bool {
        if fc {
            if m.msg_type == hs::CLIENT_HELLO {
                match parser::client_hello_in(&m.body, Carrier::Quic) {
                    Some(ch) if self.hx.first_hello(&ch) => {
                        let d = &self.dirs[0];
                        let start = d.start_ns.unwrap_or(span.start_ns);
                        let mut req = hello_request(&ch, start, span.end_ns, d.sent);
                        req.attributes.push((
                            Text::const_new("quic_version"),
                            version_name(self.version).into(),
                        ));
                        cx.request(req);
                    }
                    Some(_) => {}
                    None => cx.parse_error(),
                }
            }
            return false;
        }
        let start = self.dirs[1].start_ns.unwrap_or(span.start_ns);
        // A ServerHello: all that follows is protected with keys we do not have.
        self.hx.server_mut(start).message(cx, m.msg_type, &m.body)
    }
}

fn version_name(v: u32) -> String {
    match v {
        V1 => "1".into(),
        V2 => "2".into(),
        DRAFT29 => "draft-29".into(),
        _ => format!("0x{v:08x}"),
    }
}

impl Session for QuicSession {
    fn parse(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) -> Parse {
        let i = usize::from(!fc);
        self.dirs[i].sent += buf.len() as u64;
        for p in packets(buf) {
            if p.kind == Kind::Retry && !fc {
                // The server asks the client to prove its address; the client's next
                // Initial (new connection id, new keys) continues the same handshake.
                self.rekey = true;
                if !std::mem::replace(&mut self.retry, true)
                    && let Some(req) = cx.last_request()
                {
                    req.attributes.push((Text::const_new("retry"), "1".into()));
                }
            }
            if p.kind != Kind::Initial {
                continue;
            }
            if self.version == 0 {
                self.version = p.version;
            }
            let Some(plain) = self.keys(fc, &p).and_then(|k| k.open(buf, &p)) else {
                cx.parse_error();
                continue;
            };
            for f in frames(&plain) {
                match f {
                    Frame::Crypto(offset, data) => {
                        for m in self.dirs[i].add(offset, data, span.start_ns) {
                            if self.message(cx, fc, &m, span) {
                                self.hx.finish(cx, self.dirs[1].sent, span.end_ns);
                                return Parse::Stop;
                            }
                        }
                    }
                    Frame::Close(code) if !fc => {
                        // A TLS alert travels as a CRYPTO_ERROR, 0x100 + its code (RFC
                        // 9001 §4.8).
                        let alert = code
                            .checked_sub(0x100)
                            .and_then(|d| u8::try_from(d).ok())
                            .and_then(|d| parser::alert(&[2, d]));
                        self.hx.server_mut(span.start_ns).alert = alert;
                        self.hx.finish(cx, self.dirs[1].sent, span.end_ns);
                        return Parse::Stop;
                    }
                    _ => {}
                }
            }
        }
        // Short-header (1-RTT) packets and the other long-header ones are not read.
        Parse::Consumed(buf.len())
    }

    fn gap(&mut self, _cx: &mut Cx<'_>, _from_client: bool, _len: u64, _ts_ns: i64) -> bool {
        true
    }

    /// The flow ended: what the server said is written.
    fn end(&mut self, cx: &mut Cx<'_>, _from_client: bool, _buf: &[u8], span: Span) {
        self.hx.finish(cx, self.dirs[1].sent, span.end_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{attr, borrow, fixture, udp_sessions};

    /// The first connection of `testdata/quic-aioquic.pcap` (QUIC v1, aioquic).
    const V1_HELLO: &str = include_str!("fixtures/aioquic_v1.txt");

    /// RFC 9000 Appendix A.1.
    #[test]
    fn varints() {
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (b, v) in cases {
            assert_eq!(varint(b), Some((v, b.len())));
            if b.len() > 1 {
                assert_eq!(varint(&b[..b.len() - 1]), None, "cut short");
            }
        }
    }

    #[test]
    fn handshake_row() {
        let conv = fixture(V1_HELLO);
        let rows = udp_sessions(&borrow(&conv), 443);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        let r = &rows[0];
        assert_eq!(r.l7_protocol, "quic");
        assert_eq!(r.request_domain, "quic.example.test");
        assert_eq!(r.version, "TLS 1.3");
        assert_eq!(r.response_status, "ok");
        assert_eq!(attr(r, "quic_version"), Some("1"));
        assert_eq!(attr(r, "alpn_offered"), Some("h3"));
        assert_eq!(r.request_bytes, conv[0].1.len() as u64);
        assert_eq!(r.response_bytes, conv[1].1.len() as u64);
    }

    #[test]
    fn probe_verdicts() {
        let conv = fixture(V1_HELLO);
        let ch = &conv[0].1;
        assert_eq!(probe_bytes(ch), Probe::Certain);
        // The server's Initial cannot be opened without the client's connection id.
        assert_eq!(probe_bytes(&conv[1].1), Probe::NotMine);
        // One bit of the ciphertext changed: the tag does not match.
        let mut bad = ch.clone();
        bad[100] ^= 1;
        assert_eq!(probe_bytes(&bad), Probe::NotMine);
        // Another version, a short header, too short.
        let mut other = ch.clone();
        other[4] = 9;
        assert_eq!(probe_bytes(&other), Probe::NotMine);
        assert_eq!(probe_bytes(&[0x40, 1, 2, 3]), Probe::NotMine);
        assert_eq!(probe_bytes(&ch[..60]), Probe::NotMine);
    }

    /// Every prefix of both datagrams, and hostile lengths, through the session.
    #[test]
    fn cut_and_hostile_datagrams() {
        let conv = fixture(V1_HELLO);
        let ch = &conv[0].1;
        for n in (0..ch.len()).step_by(7) {
            let rows = udp_sessions(&[(true, &ch[..n]), (false, &conv[1].1[..n])], 443);
            assert!(rows.iter().all(|r| r.l7_protocol == "quic"), "{rows:#?}");
        }
        // A connection id of 255 bytes, a token and a length past the datagram.
        let mut d = vec![0xc0, 0, 0, 0, 1, 255];
        d.extend([0u8; 300]);
        assert!(packet(&d, 0).is_none());
        let mut d = vec![
            0xc0, 0, 0, 0, 1, 0, 0, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(packet(&d, 0).is_none());
        d.truncate(7);
        d.extend([0x00, 0x7f, 0xff]);
        assert!(packet(&d, 0).is_none());
        // ACK ranges that claim more than the payload holds; a CRYPTO frame past it.
        let frames_of = |b: &[u8]| frames(b).count();
        assert_eq!(frames_of(&[0x02, 0, 0, 0xbf, 0xff, 0xff, 0xff, 0, 0]), 0);
        assert_eq!(frames_of(&[0x06, 0, 0x7f, 0xff, 1, 2]), 0);
        assert_eq!(
            frames_of(&[0x00, 0x01, 0x06, 0, 1, 9, 0x1c, 0x41, 0, 0, 0]),
            4
        );
    }

    /// Decrypted payloads are only as good as the peer that sent them: random frames
    /// (biased to frame types Initial packets carry) into the frame walk and the CRYPTO
    /// stream, random datagrams into the packet walk.
    #[test]
    fn random_bytes_do_not_panic() {
        let mut rng = wirehouse_testkit::xorshift();
        let mut stream = Stream::default();
        let mut crypto = 0;
        for _ in 0..50_000 {
            let len = (rng() % 80) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng() as u8).collect();
            if let Some(t) = b.first_mut() {
                *t = [0x00, 0x01, 0x02, 0x03, 0x06, 0x1c, 0x1d][(rng() % 7) as usize];
            }
            for f in frames(&b) {
                if let Frame::Crypto(offset, data) = f {
                    crypto += 1;
                    stream.add(offset % 70_000, data, 0);
                }
            }
            if let Some(t) = b.first_mut() {
                *t |= 0xc0;
            }
            let _ = packets(&b).count();
        }
        assert!(crypto > 500, "{crypto} CRYPTO frames");
    }

    /// The client's second Initial is addressed to the server's connection id; the keys
    /// stay those of its first (they change only after a Retry), so the server's Initial
    /// that comes after it still opens.
    #[test]
    fn keys_outlive_the_clients_new_connection_id() {
        let conv = fixture(V1_HELLO);
        let reordered = [
            (true, conv[0].1.as_slice()),
            (true, conv[2].1.as_slice()),
            (false, conv[1].1.as_slice()),
        ];
        let rows = udp_sessions(&reordered, 443);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0].response_status, "ok", "{rows:#?}");
        assert_eq!(rows[0].version, "TLS 1.3");
    }
}
