//! TLS handshake (see `README.md` in this folder): one row per handshake, ClientHello =
//! request, the server's hello flight (or its fatal alert) = response, with SNI, ALPN,
//! negotiated version and cipher, the leaf certificate's names (TLS ≤ 1.2) and the
//! JA3/JA3S/JA4 fingerprints. Parsing stops once the handshake is over.

pub mod parser;

use crate::{Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Request, Response, Session};
use crate::{Span, Status, Transport};
use parser::{
    Alert, CertNames, ClientHello, Decoded, RECORD_HEADER_LEN, RecordHeader, ServerHello, content,
    hs,
};
use wirehouse_schema::Text;

/// The TLS protocol (registry entry).
#[derive(Debug)]
pub struct Tls;

/// The registry entry.
pub static PROTOCOL: Tls = Tls;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "tls",
    id: 121,
    transport: Transport::Tcp,
    default_ports: &[443, 465, 636, 853, 993, 995, 8443],
};

impl Protocol for Tls {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        if !input.tcp {
            return Probe::NotMine;
        }
        probe_bytes(input.bytes, input.from_client)
    }

    fn session(&self) -> Box<dyn Session> {
        Box::<TlsSession>::default()
    }
}

/// Certain for a handshake record starting with a ClientHello or ServerHello (either side);
/// an SSLv2-compatible ClientHello from the client; Unsure on too few bytes.
fn probe_bytes(b: &[u8], from_client: bool) -> Probe {
    match b.first() {
        None => Probe::Unsure,
        Some(&content::HANDSHAKE) => {
            if let Decoded::Invalid = parser::record_header(b) {
                return Probe::NotMine;
            }
            // The hello's version (major 3) when this record holds it: a hello may also
            // be split over several small records.
            let rec_len = b.get(3..5).map_or(0, |l| u16::from_be_bytes([l[0], l[1]]));
            match (b.get(5), b.get(9)) {
                (None, _) => Probe::Unsure,
                (Some(&t), _) if t != hs::CLIENT_HELLO && t != hs::SERVER_HELLO => Probe::NotMine,
                (Some(_), Some(&major)) if rec_len >= 5 && major != 3 => Probe::NotMine,
                _ => Probe::Certain,
            }
        }
        Some(&x) if x & 0x80 != 0 && from_client => match parser::sslv2_client_hello(b) {
            Decoded::Invalid => Probe::NotMine,
            Decoded::Incomplete(_) if b.len() < 11 => Probe::Unsure,
            _ => Probe::Certain,
        },
        _ => Probe::NotMine,
    }
}

/// One direction's parsing state.
#[derive(Debug, Default)]
struct Dir {
    hs: parser::Reassembler,
    /// Bytes of the current record still to skip.
    skip: usize,
    /// Handshake records of this side are no longer parsed (encrypted, or of no interest).
    opaque: bool,
    /// After a gap or invalid bytes: looking for a record boundary.
    resync: bool,
    /// A record was seen.
    started: bool,
    /// The direction ended.
    ended: bool,
    /// An alert record came after the handshake (its close_notify, when TLS 1.2 or older).
    alerted: bool,
    /// Record bytes consumed.
    bytes: u64,
    /// Arrival of the first record of the handshake message being reassembled.
    msg_start_ns: i64,
}

/// What the server said so far: the response being built (TLS and DTLS).
#[derive(Debug, Default)]
pub(crate) struct Server {
    start_ns: i64,
    pub(crate) sh: Option<ServerHello>,
    hello_retry: bool,
    /// A DTLS HelloVerifyRequest came first.
    hello_verify: bool,
    cert: Option<CertNames>,
    hello_done: bool,
    pub(crate) alert: Option<Alert>,
    pub(crate) client_alert: Option<Alert>,
    sslv2: bool,
}

impl Server {
    /// The server's first record came at `start_ns`.
    fn new(start_ns: i64) -> Self {
        Self {
            start_ns,
            ..Default::default()
        }
    }

    /// A whole handshake message from the server. True when what follows it is encrypted
    /// (a TLS 1.3 ServerHello).
    pub(crate) fn message(&mut self, cx: &mut Cx<'_>, msg_type: u8, body: &[u8]) -> bool {
        let v = self.sh.as_ref().map(ServerHello::negotiated);
        match msg_type {
            hs::SERVER_HELLO => match parser::server_hello(body) {
                Some(sh) if sh.hello_retry => self.hello_retry = true,
                Some(sh) => {
                    let tls13 = is_tls13(sh.negotiated());
                    self.sh = Some(sh);
                    return tls13;
                }
                None => cx.parse_error(),
            },
            hs::HELLO_VERIFY_REQUEST => self.hello_verify = true,
            hs::CERTIFICATE if self.cert.is_none() && v.is_some_and(|v| !is_tls13(v)) => {
                self.cert = parser::certificate_leaf(body);
            }
            hs::SERVER_HELLO_DONE => self.hello_done = true,
            _ => {}
        }
        false
    }

    /// Writes the response ending at `end_ns` (`bytes`: the server's), when the server said
    /// something worth one; `client_session_id`: the ClientHello's.
    fn respond(self, cx: &mut Cx<'_>, client_session_id: Option<&[u8]>, bytes: u64, end_ns: i64) {
        let mut r = Response {
            start_ns: self.start_ns,
            end_ns: end_ns.max(self.start_ns),
            bytes,
            ..Default::default()
        };
        let attrs = &mut r.attributes;
        let mut put = |k: &'static str, v: String| {
            if !v.is_empty() {
                attrs.push((Text::const_new(k), v.into()));
            }
        };
        if let Some(sh) = &self.sh {
            let v = sh.negotiated();
            r.version = parser::version_name(v).into();
            r.result = parser::cipher_name(sh.cipher).into();
            r.status = Status::Ok;
            put("alpn", sh.alpn.clone().unwrap_or_default());
            put("cipher_suite", format!("0x{:04x}", sh.cipher));
            put("ja3s", parser::md5_hex(&parser::ja3s(sh)));
            let resumed = !is_tls13(v)
                && !sh.session_id.is_empty()
                && client_session_id == Some(sh.session_id.as_slice());
            if resumed {
                put("resumed", "1".into());
            }
            if let Some(req) = cx.last_request() {
                req.version = r.version.clone();
            }
        } else if self.sslv2 {
            r.version = parser::version_name(0x0002).into();
            r.status = Status::Ok;
            if let Some(req) = cx.last_request() {
                req.version = r.version.clone();
            }
        } else if self.alert.is_none() {
            // Neither a hello nor an alert: nothing to report; a request times out.
            return;
        }
        if let Some(c) = self.cert {
            put("cert_subject", c.subject);
            put("cert_issuer", c.issuer);
        }
        if self.hello_retry {
            put("hello_retry", "1".into());
        }
        if self.hello_verify {
            put("hello_verify", "1".into());
        }
        if let Some(a) = self.alert {
            r.status = Status::ServerError;
            r.exception = a.name().into();
        } else if let Some(a) = self.client_alert {
            r.status = Status::ClientError;
            r.exception = a.name().into();
        }
        cx.response(r);
    }
}

/// A handshake's row as it is built, for TLS, DTLS and QUIC alike: the first ClientHello's
/// session id and what the server said.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    client_session_id: Option<Vec<u8>>,
    pub(crate) server: Option<Server>,
}

impl Exchange {
    /// The version the ServerHello chose.
    pub(crate) fn negotiated(&self) -> Option<u16> {
        self.server
            .as_ref()?
            .sh
            .as_ref()
            .map(ServerHello::negotiated)
    }

    /// What the server said so far (its first record came at `start_ns`).
    pub(crate) fn server_mut(&mut self, start_ns: i64) -> &mut Server {
        self.server.get_or_insert_with(|| Server::new(start_ns))
    }

    /// True for the first ClientHello of the handshake (whose request is written); a
    /// later one (after a HelloRetryRequest, a HelloVerifyRequest or a QUIC Retry) is the
    /// same handshake.
    pub(crate) fn first_hello(&mut self, ch: &ClientHello) -> bool {
        let first = self.client_session_id.is_none();
        if first {
            self.client_session_id = Some(ch.session_id.clone());
        }
        first
    }

    /// Whether a record from `fc` of `content_type` ends the handshake as the capture sees
    /// it (`encrypted`: protected, as a DTLS record of epoch > 0; `alert`: the record's
    /// fatal plaintext alert). The client's next flight after the server's hello ends it
    /// (TLS 1.3: any record; else a ChangeCipherSpec, an alert or data); on the server's
    /// side a fatal alert does, and in TLS ≤ 1.2 its ChangeCipherSpec (an abbreviated
    /// handshake, or a full one whose client side the capture misses). The alert is noted
    /// for the response; a server record starts it.
    pub(crate) fn ends_handshake(
        &mut self,
        fc: bool,
        content_type: u8,
        encrypted: bool,
        alert: Option<Alert>,
        start_ns: i64,
    ) -> bool {
        let v = self.negotiated();
        if fc {
            let Some(v) = v else {
                return false;
            };
            if let (Some(a), Some(sv)) = (alert, self.server.as_mut()) {
                sv.client_alert = Some(a);
            }
            return is_tls13(v)
                || encrypted
                || matches!(
                    content_type,
                    content::CHANGE_CIPHER_SPEC | content::ALERT | content::APPLICATION_DATA
                );
        }
        let sv = self.server_mut(start_ns);
        if alert.is_some() {
            sv.alert = alert;
            return true;
        }
        content_type == content::CHANGE_CIPHER_SPEC && v.is_some_and(|v| !is_tls13(v))
    }

    /// Writes the response (what the server said, `bytes` of it) ending at `end_ns`.
    pub(crate) fn finish(&mut self, cx: &mut Cx<'_>, bytes: u64, end_ns: i64) {
        if let Some(sv) = self.server.take() {
            sv.respond(cx, self.client_session_id.as_deref(), bytes, end_ns);
        }
    }
}

/// The request a ClientHello makes: its first byte came at `start_ns`, its last at
/// `end_ns`; `bytes` of records.
pub(crate) fn hello_request(ch: &ClientHello, start_ns: i64, end_ns: i64, bytes: u64) -> Request {
    let sni = Text::from(ch.sni.as_deref().unwrap_or_default());
    let mut attributes = Vec::new();
    let mut put = |k: &'static str, v: String| {
        if !v.is_empty() {
            attributes.push((Text::const_new(k), v.into()));
        }
    };
    if !ch.sslv2 {
        let ja3 = parser::ja3(ch);
        put("ja3_hash", parser::md5_hex(&ja3));
        put("ja3", ja3);
        put("ja4", parser::ja4(ch));
    } else {
        put("sslv2_hello", "1".into());
    }
    put("client_version", parser::version_name(ch.version));
    put(
        "supported_versions",
        ch.supported_versions
            .iter()
            .filter(|v| !parser::is_grease(**v))
            .map(|v| parser::version_name(*v))
            .collect::<Vec<_>>()
            .join(","),
    );
    put("alpn_offered", ch.alpn.join(","));
    Request {
        pair_id: None,
        start_ns,
        end_ns: end_ns.max(start_ns),
        bytes,
        // Set from the ServerHello: the version negotiated, not offered.
        version: Text::default(),
        request_type: "handshake".into(),
        domain: sni.clone(),
        resource: Text::default(),
        endpoint: sni,
        request_id: None,
        attributes,
    }
}

/// Per-flow TLS handshake state.
#[derive(Debug, Default)]
pub struct TlsSession {
    /// [client, server].
    dirs: [Dir; 2],
    hx: Exchange,
    /// The row was written (or cannot be): only encrypted data follows.
    done: bool,
    /// Bytes were lost after the row and what followed did not start a record: records
    /// can no longer be followed (see `stop`).
    adrift: bool,
}

impl Dir {
    /// Consumes what the buffer holds (`have` bytes) of the `len` bytes that start it and
    /// are not parsed; the rest is skipped as it arrives.
    fn take(&mut self, len: usize, have: usize) -> Parse {
        let n = len.min(have);
        self.skip = len - n;
        self.bytes += n as u64;
        Parse::Consumed(n)
    }
}

fn idx(from_client: bool) -> usize {
    usize::from(!from_client)
}

/// TLS 1.3 (or a draft of it) or DTLS 1.3: everything after the ServerHello is encrypted.
pub(crate) fn is_tls13(v: u16) -> bool {
    v == 0x0304 || v == 0xfefc || (0x7f00..=0x7fff).contains(&v)
}

impl TlsSession {
    /// What follows the handshake row. Encrypted records are of no interest, unless
    /// another protocol lent TLS the stream: once TLS is shut down the stream may go on
    /// in the clear (FTP's CCC, RFC 4217 §6), so the records are followed to their end.
    fn stop(&mut self, cx: &Cx<'_>, fc: bool, buf: &[u8]) -> Parse {
        let i = idx(fc);
        if !cx.lent() || self.adrift {
            return Parse::Stop;
        }
        let tls13 = self.hx.negotiated().is_some_and(is_tls13);
        let other = &self.dirs[1 - i];
        // Both sides are done with TLS: each sent its close_notify (in TLS 1.3 it looks
        // like data), and the other is not in the middle of a record.
        let closed = other.skip == 0 && !other.resync && (tls13 || other.alerted);
        let d = &mut self.dirs[i];
        if d.skip > 0 {
            return d.take(d.skip, buf.len());
        }
        match parser::record_header(buf) {
            Decoded::Done(h) => {
                // After a hole (`resync`), the walk goes on where a record starts.
                d.resync = false;
                d.alerted |= h.content_type == content::ALERT;
                d.take(h.total_len(), buf.len())
            }
            Decoded::Incomplete(n) => Parse::Needed(n),
            Decoded::Invalid if d.resync => {
                self.adrift = true;
                Parse::Stop
            }
            // Not a record, once TLS is shut down: detection starts afresh on it.
            Decoded::Invalid if closed && (tls13 || d.alerted) => Parse::Handover(0),
            Decoded::Invalid => Parse::Stop,
        }
    }

    /// Writes the response (what the server said) ending at `end_ns`; nothing more follows.
    fn finish(&mut self, cx: &mut Cx<'_>, end_ns: i64) {
        self.done = true;
        self.hx.finish(cx, self.dirs[1].bytes, end_ns);
    }

    /// A complete ClientHello: the request.
    fn client_hello(&mut self, cx: &mut Cx<'_>, ch: &ClientHello, span: Span) {
        if !self.hx.first_hello(ch) {
            return;
        }
        let d = &self.dirs[0];
        // The whole hello, with what is yet to come of an SSLv2 one's challenge.
        let bytes = d.bytes + d.skip as u64;
        cx.request(hello_request(ch, d.msg_start_ns, span.end_ns, bytes));
    }

    /// Handles one whole handshake record's payload from `fc`.
    fn handshake(&mut self, cx: &mut Cx<'_>, fc: bool, payload: &[u8], span: Span) {
        let d = &mut self.dirs[idx(fc)];
        if !d.hs.is_partial() {
            d.msg_start_ns = span.start_ns;
        }
        let msgs = d.hs.push(payload);
        for m in msgs {
            if fc {
                if m.msg_type == hs::CLIENT_HELLO {
                    match parser::client_hello(&m.body) {
                        Some(ch) => self.client_hello(cx, &ch, span),
                        None => cx.parse_error(),
                    }
                    self.dirs[0].opaque = true;
                    self.dirs[0].hs.clear();
                    return;
                }
                continue;
            }
            if self
                .hx
                .server_mut(span.start_ns)
                .message(cx, m.msg_type, &m.body)
            {
                // Everything after is encrypted.
                self.dirs[1].opaque = true;
                self.dirs[1].hs.clear();
                return;
            }
        }
    }

    /// After a gap: skips to the next plausible record header (`None`: one starts here).
    fn resync(&mut self, fc: bool, buf: &[u8]) -> Option<Parse> {
        let plausible = |p: usize| -> bool {
            let Some(b) = buf.get(p..) else {
                return false;
            };
            let Decoded::Done(h) = parser::record_header(b) else {
                return false;
            };
            let first = b.get(RECORD_HEADER_LEN).copied();
            match h.content_type {
                content::CHANGE_CIPHER_SPEC => h.len == 1 && first == Some(1),
                content::ALERT => h.len == 2 && matches!(first, Some(1 | 2)),
                content::HANDSHAKE => {
                    matches!(first, Some(hs::CLIENT_HELLO | hs::SERVER_HELLO))
                        && b.get(9) == Some(&3)
                }
                _ => false,
            }
        };
        let limit = buf.len().saturating_sub(RECORD_HEADER_LEN + 5);
        match (0..limit).find(|&p| plausible(p)) {
            Some(p) => {
                let d = &mut self.dirs[idx(fc)];
                d.resync = false;
                d.bytes += p as u64;
                (p > 0).then_some(Parse::Consumed(p))
            }
            None => {
                self.dirs[idx(fc)].bytes += limit as u64;
                Some(Parse::Consumed(limit))
            }
        }
    }

    /// An SSLv2-format record at the start of a direction.
    fn sslv2(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) -> Parse {
        if fc {
            return match parser::sslv2_client_hello(buf) {
                Decoded::Done((ch, total)) => {
                    let d = &mut self.dirs[0];
                    d.started = true;
                    d.opaque = true;
                    d.msg_start_ns = span.start_ns;
                    // The challenge may still be on its way: it is skipped as it arrives.
                    let p = d.take(total, buf.len());
                    self.client_hello(cx, &ch, span);
                    p
                }
                Decoded::Incomplete(n) => Parse::Needed(n),
                Decoded::Invalid => Parse::Invalid,
            };
        }
        // SSLv2 ServerHello: [len:2][type=4][hit][cert type][version:2]...
        match buf.get(2) {
            None => Parse::Needed(3 - buf.len()),
            Some(4) => {
                let len = buf.first().map_or(0, |b| usize::from(b & 0x7f)) << 8;
                let len = len | buf.get(1).map_or(0, |&b| usize::from(b));
                self.dirs[1].bytes += 2 + len as u64;
                let sv = self.hx.server_mut(span.start_ns);
                sv.sslv2 = true;
                self.finish(cx, span.end_ns);
                Parse::Stop
            }
            Some(_) => Parse::Invalid,
        }
    }
}

impl Session for TlsSession {
    fn parse(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) -> Parse {
        if self.done {
            return self.stop(cx, fc, buf);
        }
        let i = idx(fc);
        let d = &mut self.dirs[i];
        if d.skip > 0 {
            return d.take(d.skip, buf.len());
        }
        if d.resync
            && let Some(p) = self.resync(fc, buf)
        {
            return p;
        }
        let d = &mut self.dirs[i];
        if !d.started && buf.first().is_some_and(|b| b & 0x80 != 0) {
            return self.sslv2(cx, fc, buf, span);
        }
        let h: RecordHeader = match parser::record_header(buf) {
            Decoded::Done(h) => h,
            Decoded::Incomplete(n) => return Parse::Needed(n),
            Decoded::Invalid => return Parse::Invalid,
        };
        d.started = true;
        let total = h.total_len();
        let whole = buf.get(RECORD_HEADER_LEN..total);
        // A plaintext alert is read whole where it may end the handshake: from the client
        // after the server's hello, from the server until its records are encrypted.
        let alert_matters = h.content_type == content::ALERT
            && h.len == 2
            && if fc {
                self.hx.negotiated().is_some()
            } else {
                !self.dirs[1].opaque
            };
        let alert = if alert_matters {
            let Some(p) = whole else {
                return Parse::Needed(total - buf.len());
            };
            parser::alert(p).filter(Alert::is_fatal)
        } else {
            None
        };
        if self
            .hx
            .ends_handshake(fc, h.content_type, false, alert, span.start_ns)
        {
            self.dirs[i].bytes += total as u64;
            self.finish(cx, span.start_ns);
            return self.stop(cx, fc, buf);
        }
        let d = &mut self.dirs[i];
        if h.content_type == content::HANDSHAKE && !d.opaque {
            let Some(p) = whole else {
                return Parse::Needed(total - buf.len());
            };
            d.bytes += total as u64;
            self.handshake(cx, fc, p, span);
            return Parse::Consumed(total);
        }
        // Anything else is skipped record by record, without buffering it.
        d.take(total, buf.len())
    }

    fn gap(&mut self, cx: &mut Cx<'_>, from_client: bool, len: u64, ts_ns: i64) -> bool {
        if self.done {
            if !cx.lent() {
                return false;
            }
            // Records are followed after the row (see `stop`). A hole inside the record
            // being skipped shortens the skip; past its end the bytes lost may have held
            // whole records, so what follows must start one (else the walk ends there).
            let d = &mut self.dirs[idx(from_client)];
            match usize::try_from(len) {
                Ok(n) if n > 0 && n < d.skip => d.skip -= n,
                Ok(n) if n > 0 => {
                    d.skip = 0;
                    d.resync = true;
                }
                _ => self.adrift = true,
            }
            return true;
        }
        if self.hx.negotiated().is_some() {
            // The hello is known: write what we have rather than guess past the hole.
            self.finish(cx, ts_ns);
            return false;
        }
        let d = &mut self.dirs[idx(from_client)];
        d.hs.clear();
        d.skip = 0;
        d.resync = true;
        true
    }

    fn end(&mut self, cx: &mut Cx<'_>, from_client: bool, _buf: &[u8], span: Span) {
        self.dirs[idx(from_client)].ended = true;
        if !self.done && (!from_client || self.dirs.iter().all(|d| d.ended)) {
            self.finish(cx, span.end_ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::L7Row;
    use crate::testutil::{attr, borrow, fixture, segmentation_invariant, tcp_sessions, untimed};
    use wirehouse_flow::harness::Split;

    /// suricata-verify `ja4-tls`: TLS 1.2, no SNI, ALPN, RSA certificate, SKE.
    const SELKS: &str = include_str!("fixtures/tls12_selks.txt");
    /// suricata-verify `tls/tls-pre-1970`: TLS 1.0 with SNI and a certificate.
    const SAMSUNG: &str = include_str!("fixtures/tls10_samsung.txt");
    /// nDPI `tls_ech.pcapng`: Chrome TLS 1.3 (GREASE, ECH) to Cloudflare.
    const ECH: &str = include_str!("fixtures/tls13_ech.txt");
    /// nDPI `tls_alert.pcap` flow 1: the server answers with a fatal alert.
    const ALERT: &str = include_str!("fixtures/tls10_alert.txt");
    /// suricata-verify `tcp-empty-sack`: TLS 1.2, ServerHello + Certificate in one record.
    const ITUNES: &str = include_str!("fixtures/tls12_itunes.txt");
    /// zeek `tunnels/gtp/gtp6_gtp_0x32.pcap` (inner TCP): a resumed TLS 1.0 session.
    const RESUMED: &str = include_str!("fixtures/tls10_resumed.txt");
    /// zeek `tls/ssl-v2.pcap`: an SSLv2 CLIENT-HELLO answered by an SSLv2 SERVER-HELLO.
    const SSLV2: &str = include_str!("fixtures/sslv2_zeek.txt");

    fn one_row(text: &str) -> L7Row {
        let conv = fixture(text);
        let rows = segmentation_invariant(&borrow(&conv), 443);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        rows.into_iter().next().expect("one row")
    }

    /// The hello's cipher specs are parsed before its challenge has arrived: however the
    /// 48 bytes are cut, they count once (tshark: 48 and 950 bytes of TCP payload).
    #[test]
    fn sslv2_hello_bytes_count_once() {
        let r = one_row(SSLV2);
        assert_eq!(r.l7_protocol, "tls");
        assert_eq!(attr(&r, "sslv2_hello"), Some("1"));
        assert_eq!(r.request_bytes, 48);
        assert_eq!(r.response_bytes, 950);
        // Cut right after the cipher specs (byte 32), before the 16-byte challenge.
        let conv = fixture(SSLV2);
        let (hello, rest) = conv[0].1.split_at(32);
        let cut = [(true, hello), (true, rest), (false, conv[1].1.as_slice())];
        let rows = tcp_sessions(&cut, Split::Whole, 443);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0].request_bytes, 48);
    }

    #[test]
    fn probe_verdicts() {
        let conv = fixture(SELKS);
        let ch = &conv[0].1;
        let sh = &conv[1].1;
        assert_eq!(probe_bytes(ch, true), Probe::Certain);
        assert_eq!(probe_bytes(ch, false), Probe::Certain);
        assert_eq!(probe_bytes(sh, false), Probe::Certain);
        assert_eq!(probe_bytes(&ch[..3], true), Probe::Unsure);
        assert_eq!(probe_bytes(&ch[..6], true), Probe::Certain);
        assert_eq!(probe_bytes(b"GET / HTTP/1.1\r\n", true), Probe::NotMine);
        // Application data is not a start we recognise.
        assert_eq!(probe_bytes(&[23, 3, 3, 0, 40, 1, 2], true), Probe::NotMine);
        // A handshake record that is not a hello (ClientKeyExchange).
        assert_eq!(probe_bytes(&[22, 3, 3, 0, 70, 16, 0], true), Probe::NotMine);
        assert_eq!(probe_bytes(&[22, 9, 3, 0, 70, 1], true), Probe::NotMine);
    }

    #[test]
    fn tls12_selks_matches_suricata_and_ja4_reference() {
        let r = one_row(SELKS);
        assert_eq!(r.l7_protocol, "tls");
        assert_eq!(r.request_type, "handshake");
        assert_eq!(r.request_domain, "");
        assert_eq!(r.endpoint, "");
        assert_eq!(r.request_resource, "");
        // suricata-verify tls/bug-7286-tls-metadata-01: tls.version "TLS 1.2".
        assert_eq!(r.version, "TLS 1.2");
        assert_eq!(r.response_status, "ok");
        assert_eq!(r.response_code, None);
        // tshark: Cipher Suite 0xc02f.
        assert_eq!(r.response_result, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(attr(&r, "cipher_suite"), Some("0xc02f"));
        // suricata-verify ja4-tls (and FoxIO's reference output in its README).
        assert_eq!(
            attr(&r, "ja4"),
            Some("t12i1810s1_27d4652c4487_06a4338d0495")
        );
        // suricata-verify tls/bug-7286-tls-metadata-01.
        let dn = "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS";
        assert_eq!(attr(&r, "cert_subject"), Some(dn));
        assert_eq!(attr(&r, "cert_issuer"), Some(dn));
        // tshark: ALPN spdy/3.1,http/1.1; handshake version 0x0303; no supported_versions.
        assert_eq!(attr(&r, "alpn_offered"), Some("spdy/3.1,http/1.1"));
        assert_eq!(attr(&r, "client_version"), Some("TLS 1.2"));
        assert_eq!(attr(&r, "supported_versions"), None);
        assert_eq!(attr(&r, "resumed"), None);
        // Request = the 180-byte ClientHello record; response = the server flight (1307
        // bytes) — everything the server sent before the client's ChangeCipherSpec.
        assert_eq!(r.request_bytes, 180);
        assert_eq!(r.response_bytes, 1307);
        // The handshake ends at the client's ChangeCipherSpec, after the server's flight.
        let rt = r.response_time_us.expect("paired");
        assert!(r.duration_us > rt, "{r:?}");
    }

    #[test]
    fn tls10_samsung_matches_suricata() {
        let r = one_row(SAMSUNG);
        // suricata-verify tls/tls-pre-1970.
        assert_eq!(r.request_domain, "fkp.samsungcloudsolution.com");
        assert_eq!(r.endpoint, "fkp.samsungcloudsolution.com");
        assert_eq!(r.version, "TLS 1.0");
        assert_eq!(
            attr(&r, "cert_subject"),
            Some("OU=vd, CN=fkp.samsungcloudsolution.com")
        );
        assert_eq!(
            attr(&r, "cert_issuer"),
            Some(
                "C=KR, ST=Kyunggido, L=Suwon, O=Samsung Electronics, OU=SW2 SISC, \
                 CN=ROOT CA SISC FKP2_PLUS"
            )
        );
        // tshark: Cipher Suite 0x0005.
        assert_eq!(r.response_result, "TLS_RSA_WITH_RC4_128_SHA");
        assert_eq!(r.response_status, "ok");
    }

    #[test]
    fn tls13_ech_matches_ndpi() {
        let r = one_row(ECH);
        // nDPI result/tls_ech.pcapng.out.
        assert_eq!(r.request_domain, "performance.radar.cloudflare.com");
        assert_eq!(r.version, "TLS 1.3");
        assert_eq!(
            attr(&r, "ja3_hash"),
            Some("6820f114cf3b0809ffdcb30cb277848a")
        );
        assert_eq!(
            attr(&r, "ja4"),
            Some("t13d1516h2_8daaf6152771_02713d6af862")
        );
        assert_eq!(attr(&r, "ja3s"), Some("eb1d94daa7e0344597e756a1fb6e7054"));
        // tshark: cipher 0x1301, supported versions GREASE, 0x0304, 0x0303; ALPN h2,http/1.1.
        assert_eq!(r.response_result, "TLS_AES_128_GCM_SHA256");
        assert_eq!(attr(&r, "supported_versions"), Some("TLS 1.3,TLS 1.2"));
        assert_eq!(attr(&r, "alpn_offered"), Some("h2,http/1.1"));
        assert_eq!(attr(&r, "client_version"), Some("TLS 1.2"));
        // TLS 1.3 echoes the session id: not a resumption; the certificate is encrypted.
        assert_eq!(attr(&r, "resumed"), None);
        assert_eq!(attr(&r, "cert_subject"), None);
        // ALPN is chosen inside the encrypted EncryptedExtensions.
        assert_eq!(attr(&r, "alpn"), None);
        assert_eq!(r.response_status, "ok");
        // The handshake ends at the client's first record after the server's flight.
        assert!(r.duration_us > r.response_time_us.expect("paired"));
    }

    #[test]
    fn fatal_alert_instead_of_server_hello() {
        let r = one_row(ALERT);
        // tshark: Alert (Level: Fatal, Description: Protocol Version).
        assert_eq!(r.response_status, "server_error");
        assert_eq!(r.response_exception, "protocol_version");
        assert_eq!(r.response_result, "");
        // nDPI result/tls_alert.pcap.out: [TLSv1][JA3C: d784...][JA4: t10d0909h2_...].
        assert_eq!(attr(&r, "client_version"), Some("TLS 1.0"));
        assert_eq!(r.request_domain, "www.google-analytics.com");
        assert_eq!(
            attr(&r, "ja3_hash"),
            Some("d78489b860c8bf7838a6ff0b4d131541")
        );
        assert_eq!(
            attr(&r, "ja4"),
            Some("t10d0909h2_61c4dbd01224_cc731f12afbb")
        );
        assert_eq!(
            attr(&r, "alpn_offered"),
            Some("h2,h2-16,h2-15,h2-14,spdy/3.1,spdy/3,http/1.1")
        );
        assert_eq!(r.response_bytes, 7);
    }

    #[test]
    fn several_messages_in_one_record() {
        // The server's first record holds ServerHello and Certificate (tshark: one record of
        // 4822 bytes, handshake types 2,11) spread over several TCP segments.
        let r = one_row(ITUNES);
        assert_eq!(r.request_domain, "p49-buy.itunes.apple.com");
        assert_eq!(r.version, "TLS 1.2");
        assert_eq!(r.response_result, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(attr(&r, "alpn"), Some("http/1.1"));
        assert_eq!(
            attr(&r, "supported_versions"),
            Some("TLS 1.3,TLS 1.2,TLS 1.1,TLS 1.0")
        );
        // tshark's rdnSequence items, in certificate order.
        assert_eq!(
            attr(&r, "cert_issuer"),
            Some(
                "C=US, O=DigiCert Inc, OU=www.digicert.com, \
                 CN=DigiCert SHA2 Extended Validation Server CA"
            )
        );
        assert_eq!(
            attr(&r, "cert_subject"),
            Some(
                "businessCategory=Private Organization, jurisdictionC=US, \
                 jurisdictionST=California, serialNumber=C0806592, C=US, ST=California, \
                 L=Cupertino, O=Apple Inc., OU=Delivery Site Reliability Engineering, \
                 CN=buy.itunes.apple.com"
            )
        );
    }

    #[test]
    fn abbreviated_handshake_is_resumed() {
        // tshark: the ServerHello echoes the ClientHello's session id 4f7960a5..., cipher
        // 0x0039, version 0x0301; the server's ChangeCipherSpec follows in the same segment.
        let r = one_row(RESUMED);
        assert_eq!(attr(&r, "resumed"), Some("1"));
        assert_eq!(r.version, "TLS 1.0");
        assert_eq!(r.response_result, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA");
        assert_eq!(r.request_domain, "");
        assert_eq!(attr(&r, "cert_subject"), None);
        // Ends at the server's ChangeCipherSpec: the ServerHello and ChangeCipherSpec records
        // (tshark: record lengths 74 and 1, plus 5-byte headers).
        assert_eq!(r.response_bytes, 85);
        let others: Vec<_> = [SELKS, ECH, ITUNES].iter().map(|t| one_row(t)).collect();
        assert!(others.iter().all(|r| attr(r, "resumed").is_none()));
    }

    /// Re-frames the first record of `rec` (a handshake record) as two records.
    fn split_record(rec: &[u8], at: usize) -> Vec<u8> {
        let len = usize::from(u16::from_be_bytes([rec[3], rec[4]]));
        let payload = &rec[5..5 + len];
        let mut out = Vec::new();
        for part in [&payload[..at], &payload[at..]] {
            out.extend_from_slice(&rec[..3]);
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&rec[5 + len..]);
        out
    }

    #[test]
    fn client_hello_split_over_two_records() {
        for text in [SELKS, ECH, ALERT] {
            let conv = fixture(text);
            let whole = untimed(tcp_sessions(&borrow(&conv), Split::Whole, 443));
            for at in [1, 3, 4, 40, 100] {
                let mut c2 = conv.clone();
                c2[0].1 = split_record(&conv[0].1, at);
                let rows = untimed(segmentation_invariant(&borrow(&c2), 443));
                assert_eq!(rows.len(), 1);
                let mut want = whole[0].clone();
                want.request_bytes += 5;
                assert_eq!(rows[0], want, "split at {at}");
            }
        }
    }

    #[test]
    fn capture_starting_after_the_client_hello() {
        let conv: Vec<_> = fixture(SELKS).into_iter().skip(1).collect();
        let rows = segmentation_invariant(&borrow(&conv), 443);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        let r = &rows[0];
        assert_eq!(r.request_type, "");
        assert_eq!(r.response_time_us, None);
        assert_eq!(r.version, "TLS 1.2");
        assert_eq!(r.response_status, "ok");
        assert_eq!(
            attr(r, "cert_subject"),
            Some("C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS")
        );
    }

    #[test]
    fn connection_ending_before_the_handshake_is_over() {
        // Only the ClientHello and the server's flight: reported at the end of the stream.
        let conv: Vec<_> = fixture(SELKS).into_iter().take(2).collect();
        let rows = tcp_sessions(&borrow(&conv), Split::Whole, 443);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].response_status, "ok");
        assert_eq!(rows[0].version, "TLS 1.2");
        // Only the ClientHello: a timeout row with the client's best version.
        let rows = tcp_sessions(&borrow(&fixture(ECH)[..1]), Split::Whole, 443);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].response_status, "timeout");
        assert_eq!(rows[0].version, ""); // nothing negotiated
        assert_eq!(rows[0].request_domain, "performance.radar.cloudflare.com");
    }

    #[test]
    fn non_standard_port_is_recognised() {
        let conv = fixture(ECH);
        let rows = tcp_sessions(&borrow(&conv), Split::Random(3), 8081);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].l7_protocol, "tls");
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn truncated_and_mutated_conversations_do_not_panic() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for text in [SELKS, SAMSUNG, ECH, ALERT, ITUNES] {
            let conv = fixture(text);
            // Every truncation of the client's and the server's first segment.
            for k in 0..2.min(conv.len()) {
                for cut in 0..conv[k].1.len() {
                    let mut c = conv.clone();
                    c[k].1.truncate(cut);
                    c.retain(|s| !s.1.is_empty());
                    let _ = tcp_sessions(&borrow(&c), Split::Whole, 443);
                }
            }
            for _ in 0..400 {
                let mut c = conv.clone();
                for _ in 0..1 + rng.next() % 4 {
                    let k = (rng.next() % c.len() as u64) as usize;
                    let seg = &mut c[k].1;
                    if seg.is_empty() {
                        continue;
                    }
                    let p = (rng.next() % seg.len() as u64) as usize;
                    match rng.next() % 3 {
                        0 => seg[p] = rng.next() as u8,
                        1 => seg[p] ^= 0x80,
                        _ => seg.truncate(p),
                    }
                }
                c.retain(|s| !s.1.is_empty());
                let _ = tcp_sessions(&borrow(&c), Split::Whole, 443);
            }
        }
    }
}
