//! Pure TLS handshake decoders (no state beyond a handshake reassembler): record headers,
//! handshake messages reassembled across records, ClientHello, ServerHello (and
//! HelloRetryRequest), the leaf certificate's subject and issuer names (a small bounded DER
//! walker), alerts, an SSLv2-compatible ClientHello, and the JA3/JA3S/JA4 fingerprints.
//!
//! Every decoder takes untrusted bytes: slicing is checked, lengths are checked before
//! use, lists and strings are capped, nothing panics.

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::fmt::Write as _;

/// Bytes in a record header.
pub const RECORD_HEADER_LEN: usize = 5;
/// Largest record length accepted (TLS 1.2 ciphertext: 2^14 + 2048).
pub const MAX_RECORD_LEN: usize = 16_384 + 2_048;
/// Largest handshake message kept whole; longer ones are kept truncated to this.
pub const MAX_MESSAGE_LEN: usize = 65_536;
/// Most entries kept of any list (cipher suites, extensions, groups...).
const MAX_LIST: usize = 512;
/// Most ALPN protocols kept.
const MAX_ALPN: usize = 32;
/// Longest string kept (SNI, one ALPN name, one name attribute value).
const MAX_STR: usize = 256;
/// Longest rendered distinguished name.
const MAX_DN: usize = 1024;

/// Record content types.
pub mod content {
    /// change_cipher_spec.
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert.
    pub const ALERT: u8 = 21;
    /// handshake.
    pub const HANDSHAKE: u8 = 22;
    /// application_data.
    pub const APPLICATION_DATA: u8 = 23;
    /// heartbeat.
    pub const HEARTBEAT: u8 = 24;
}

/// Handshake message types.
pub mod hs {
    /// hello_request.
    pub const HELLO_REQUEST: u8 = 0;
    /// client_hello.
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello.
    pub const SERVER_HELLO: u8 = 2;
    /// hello_verify_request (DTLS, RFC 6347 §4.2.1).
    pub const HELLO_VERIFY_REQUEST: u8 = 3;
    /// new_session_ticket.
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// encrypted_extensions.
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// certificate.
    pub const CERTIFICATE: u8 = 11;
    /// server_key_exchange.
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    /// certificate_request.
    pub const CERTIFICATE_REQUEST: u8 = 13;
    /// server_hello_done.
    pub const SERVER_HELLO_DONE: u8 = 14;
    /// certificate_verify.
    pub const CERTIFICATE_VERIFY: u8 = 15;
    /// client_key_exchange.
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    /// finished.
    pub const FINISHED: u8 = 20;
}

/// Extension types this decoder reads.
pub mod ext {
    /// server_name (SNI).
    pub const SERVER_NAME: u16 = 0;
    /// supported_groups (elliptic_curves).
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// ec_point_formats.
    pub const EC_POINT_FORMATS: u16 = 11;
    /// signature_algorithms.
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation.
    pub const ALPN: u16 = 16;
    /// supported_versions.
    pub const SUPPORTED_VERSIONS: u16 = 43;
}

/// A decoder's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A value.
    Done(T),
    /// At least this many more bytes are needed.
    Incomplete(usize),
    /// Not valid.
    Invalid,
}

/// A TLS record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type (see [`content`]).
    pub content_type: u8,
    /// Record-layer version.
    pub version: u16,
    /// Length of the record's payload.
    pub len: usize,
}

impl RecordHeader {
    /// Header plus payload.
    pub fn total_len(&self) -> usize {
        RECORD_HEADER_LEN + self.len
    }
}

/// Decodes a record header: content type 20..=24, version 3.0..=3.4 (major 3), length at
/// most [`MAX_RECORD_LEN`].
pub fn record_header(b: &[u8]) -> Decoded<RecordHeader> {
    // Judge what is there before asking for more.
    if let Some(&ct) = b.first()
        && !(content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(&ct)
    {
        return Decoded::Invalid;
    }
    if let Some(&major) = b.get(1)
        && major != 3
    {
        return Decoded::Invalid;
    }
    if let Some(&minor) = b.get(2)
        && minor > 4
    {
        return Decoded::Invalid;
    }
    let Some(h) = b.get(..RECORD_HEADER_LEN) else {
        return Decoded::Incomplete(RECORD_HEADER_LEN - b.len());
    };
    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    if len > MAX_RECORD_LEN {
        return Decoded::Invalid;
    }
    Decoded::Done(RecordHeader {
        content_type: h[0],
        version: u16::from_be_bytes([h[1], h[2]]),
        len,
    })
}

/// A bounds-checked big-endian reader over a byte slice.
#[derive(Debug, Clone, Copy)]
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&v, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    /// A vector with a `w`-byte length prefix.
    fn vec(&mut self, w: usize) -> Option<&'a [u8]> {
        let n = match w {
            1 => usize::from(self.u8()?),
            2 => usize::from(self.u16()?),
            _ => self.u24()?,
        };
        self.take(n)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .take(MAX_LIST)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// Text of at most [`MAX_STR`] bytes (invalid UTF-8 replaced).
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b.get(..MAX_STR).unwrap_or(b)).into_owned()
}

/// Reassembles handshake messages from the payloads of consecutive handshake records of one
/// direction: a message may span records, a record may hold several messages. A message
/// longer than [`MAX_MESSAGE_LEN`] is delivered truncated to that length (its remaining
/// bytes are counted and dropped as they arrive).
#[derive(Debug, Default, Clone)]
pub struct Reassembler {
    /// A partial message header.
    hdr: Vec<u8>,
    /// The message being collected: (type, declared length, body bytes seen).
    cur: Option<(u8, usize, usize)>,
    /// Its body so far (at most [`MAX_MESSAGE_LEN`] bytes).
    buf: Vec<u8>,
}

/// A reassembled handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Handshake type (see [`hs`]).
    pub msg_type: u8,
    /// The declared body length.
    pub len: usize,
    /// The body (truncated to [`MAX_MESSAGE_LEN`] when longer).
    pub body: Vec<u8>,
}

impl Reassembler {
    /// Adds a handshake record's payload; returns the messages it completes, in order.
    pub fn push(&mut self, mut payload: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        loop {
            match self.cur {
                None => {
                    let n = (4 - self.hdr.len()).min(payload.len());
                    let (h, rest) = payload.split_at(n);
                    self.hdr.extend_from_slice(h);
                    payload = rest;
                    let &[t, a, b, c] = self.hdr.as_slice() else {
                        return out;
                    };
                    self.hdr.clear();
                    let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                    self.cur = Some((t, len, 0));
                    self.buf.clear();
                }
                Some((t, len, seen)) => {
                    let n = (len - seen).min(payload.len());
                    let (body, rest) = payload.split_at(n);
                    let keep = n.min(MAX_MESSAGE_LEN.saturating_sub(self.buf.len()));
                    self.buf.extend_from_slice(&body[..keep]);
                    payload = rest;
                    let seen = seen + n;
                    if seen < len {
                        self.cur = Some((t, len, seen));
                        return out;
                    }
                    self.cur = None;
                    out.push(Message {
                        msg_type: t,
                        len,
                        body: std::mem::take(&mut self.buf),
                    });
                    if out.len() >= MAX_LIST {
                        // A record of empty messages: enough.
                        self.clear();
                        return out;
                    }
                }
            }
            if payload.is_empty() && !matches!(self.cur, Some((_, 0, 0))) {
                return out;
            }
        }
    }

    /// True when part of a message is buffered.
    pub fn is_partial(&self) -> bool {
        !self.hdr.is_empty() || self.cur.is_some()
    }

    /// Forgets everything buffered.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// True for the GREASE values of RFC 8701 (0x0a0a, 0x1a1a, ..., 0xfafa).
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// A decoded ClientHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// legacy_version.
    pub version: u16,
    /// legacy_session_id (at most 32 bytes).
    pub session_id: Vec<u8>,
    /// Cipher suites, in order (GREASE included).
    pub ciphers: Vec<u16>,
    /// Compression methods.
    pub compression: Vec<u8>,
    /// Extension types, in order (GREASE included).
    pub extensions: Vec<u16>,
    /// server_name (host_name entry).
    pub sni: Option<String>,
    /// ALPN protocols offered, in order.
    pub alpn: Vec<String>,
    /// The first ALPN protocol's raw bytes (JA4 looks at them).
    pub alpn_first: Vec<u8>,
    /// supported_versions, in order (GREASE included).
    pub supported_versions: Vec<u16>,
    /// supported_groups, in order (GREASE included).
    pub groups: Vec<u16>,
    /// ec_point_formats.
    pub ec_point_formats: Vec<u8>,
    /// signature_algorithms, in order.
    pub sig_algs: Vec<u16>,
    /// Decoded from an SSLv2-compatible ClientHello.
    pub sslv2: bool,
    /// What carried it (JA4's first letter).
    pub carrier: Carrier,
}

/// What carries a TLS handshake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Carrier {
    /// TLS records over TCP.
    #[default]
    Tcp,
    /// DTLS records over UDP.
    Dtls,
    /// QUIC CRYPTO frames.
    Quic,
}

/// Decodes a ClientHello body carried over TCP. Truncated extensions end the extension list
/// (what was read is kept); a truncated fixed part is invalid.
pub fn client_hello(body: &[u8]) -> Option<ClientHello> {
    client_hello_in(body, Carrier::Tcp)
}

/// Decodes a ClientHello body that `carrier` brought (DTLS's has a cookie after the session
/// id, RFC 6347 §4.2.1).
pub fn client_hello_in(body: &[u8], carrier: Carrier) -> Option<ClientHello> {
    let mut r = Rd(body);
    let mut ch = ClientHello {
        version: r.u16()?,
        carrier,
        ..Default::default()
    };
    r.take(32)?;
    let sid = r.vec(1)?;
    ch.session_id = sid.get(..32).unwrap_or(sid).to_vec();
    if carrier == Carrier::Dtls {
        r.vec(1)?; // cookie
    }
    ch.ciphers = u16_list(r.vec(2)?);
    let comp = r.vec(1)?;
    ch.compression = comp.get(..MAX_LIST).unwrap_or(comp).to_vec();
    if r.is_empty() {
        return Some(ch);
    }
    let exts = match r.vec(2) {
        Some(e) => e,
        None => r.0, // truncated extension block: read what is there
    };
    let mut e = Rd(exts);
    while let (Some(t), Some(data)) = (e.u16(), e.vec(2)) {
        if ch.extensions.len() < MAX_LIST {
            ch.extensions.push(t);
        }
        let mut d = Rd(data);
        match t {
            ext::SERVER_NAME => {
                if let Some(list) = d.vec(2) {
                    let mut l = Rd(list);
                    while let (Some(kind), Some(name)) = (l.u8(), l.vec(2)) {
                        if kind == 0 && ch.sni.is_none() {
                            ch.sni = Some(text(name));
                        }
                    }
                }
            }
            ext::ALPN => {
                let mut raw = d;
                if let Some(first) = raw.vec(2).and_then(|l| Rd(l).vec(1)) {
                    ch.alpn_first = first.get(..MAX_STR).unwrap_or(first).to_vec();
                }
                ch.alpn = alpn_list(&mut d);
            }
            ext::SUPPORTED_VERSIONS => {
                if let Some(v) = d.vec(1) {
                    ch.supported_versions = u16_list(v);
                }
            }
            ext::SUPPORTED_GROUPS => {
                if let Some(v) = d.vec(2) {
                    ch.groups = u16_list(v);
                }
            }
            ext::EC_POINT_FORMATS => {
                if let Some(v) = d.vec(1) {
                    ch.ec_point_formats = v.get(..MAX_LIST).unwrap_or(v).to_vec();
                }
            }
            ext::SIGNATURE_ALGORITHMS => {
                if let Some(v) = d.vec(2) {
                    ch.sig_algs = u16_list(v);
                }
            }
            _ => {}
        }
    }
    Some(ch)
}

fn alpn_list(d: &mut Rd<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(list) = d.vec(2) {
        let mut l = Rd(list);
        while let Some(p) = l.vec(1) {
            if out.len() < MAX_ALPN {
                out.push(text(p));
            }
        }
    }
    out
}

/// Decodes an SSLv2-compatible ClientHello (record header included): `[len:2 with the high
/// bit set][msg_type=1][version:2][cipher_specs_len:2][session_id_len:2][challenge_len:2]
/// [cipher specs: 3 bytes each]...`. Returns the hello (cipher specs whose first byte is 0
/// become cipher suites) and the record's total length.
pub fn sslv2_client_hello(b: &[u8]) -> Decoded<(ClientHello, usize)> {
    let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
        return Decoded::Incomplete(2usize.saturating_sub(b.len()));
    };
    if b0 & 0x80 == 0 {
        return Decoded::Invalid;
    }
    let len = usize::from(b0 & 0x7f) << 8 | usize::from(b1);
    let Some(h) = b.get(2..11) else {
        return Decoded::Incomplete(11 - b.len());
    };
    let version = u16::from_be_bytes([h[1], h[2]]);
    let cs = usize::from(u16::from_be_bytes([h[3], h[4]]));
    let sid = usize::from(u16::from_be_bytes([h[5], h[6]]));
    let chl = usize::from(u16::from_be_bytes([h[7], h[8]]));
    if h[0] != 1
        || !(version == 0x0002 || (0x0300..=0x0304).contains(&version))
        || cs % 3 != 0
        || cs == 0
        || 9 + cs + sid + chl != len
    {
        return Decoded::Invalid;
    }
    let total = 2 + len;
    let Some(specs) = b.get(11..11 + cs) else {
        return Decoded::Incomplete(total.saturating_sub(b.len()).max(1));
    };
    let ciphers = specs
        .chunks_exact(3)
        .filter(|c| c[0] == 0)
        .take(MAX_LIST)
        .map(|c| u16::from_be_bytes([c[1], c[2]]))
        .collect();
    Decoded::Done((
        ClientHello {
            version,
            ciphers,
            sslv2: true,
            ..Default::default()
        },
        total,
    ))
}

/// The ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A decoded ServerHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// legacy_version.
    pub version: u16,
    /// A HelloRetryRequest (special random).
    pub hello_retry: bool,
    /// legacy_session_id_echo.
    pub session_id: Vec<u8>,
    /// The chosen cipher suite.
    pub cipher: u16,
    /// The chosen compression method.
    pub compression: u8,
    /// Extension types, in order.
    pub extensions: Vec<u16>,
    /// supported_versions' selected_version.
    pub selected_version: Option<u16>,
    /// The ALPN protocol chosen.
    pub alpn: Option<String>,
}

impl ServerHello {
    /// The negotiated version: supported_versions when present, else legacy_version.
    pub fn negotiated(&self) -> u16 {
        self.selected_version.unwrap_or(self.version)
    }
}

/// Decodes a ServerHello (or HelloRetryRequest) body.
pub fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Rd(body);
    let version = r.u16()?;
    let random = r.take(32)?;
    // TLS 1.3 drafts before 22 had no session id and no compression method; those
    // before 16 put 0x0304 itself in the version field (named like Suricata does).
    let draft = matches!(version, 0x7f00..=0x7f15 | 0x0304);
    let sid = if draft { &[][..] } else { r.vec(1)? };
    let mut sh = ServerHello {
        version,
        selected_version: draft.then_some(if version == 0x0304 { 0x7f00 } else { version }),
        hello_retry: random == HRR_RANDOM,
        session_id: sid.get(..32).unwrap_or(sid).to_vec(),
        cipher: r.u16()?,
        compression: if draft { 0 } else { r.u8()? },
        ..Default::default()
    };
    if r.is_empty() {
        return Some(sh);
    }
    let exts = r.vec(2).unwrap_or(r.0);
    let mut e = Rd(exts);
    while let (Some(t), Some(data)) = (e.u16(), e.vec(2)) {
        if sh.extensions.len() < MAX_LIST {
            sh.extensions.push(t);
        }
        let mut d = Rd(data);
        match t {
            ext::SUPPORTED_VERSIONS => sh.selected_version = d.u16(),
            ext::ALPN => sh.alpn = alpn_list(&mut d).into_iter().next(),
            _ => {}
        }
    }
    Some(sh)
}

/// An alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// 1 = warning, 2 = fatal.
    pub level: u8,
    /// AlertDescription.
    pub description: u8,
}

impl Alert {
    /// True for a fatal alert.
    pub fn is_fatal(&self) -> bool {
        self.level == 2
    }

    /// The description's RFC name (`handshake_failure`...), or its number.
    pub fn name(&self) -> String {
        alert_name(self.description).map_or_else(|| self.description.to_string(), str::to_string)
    }
}

/// Decodes a plaintext alert record's payload (exactly two bytes).
pub fn alert(payload: &[u8]) -> Option<Alert> {
    match payload {
        &[level, description] if level == 1 || level == 2 => Some(Alert { level, description }),
        _ => None,
    }
}

/// The RFC 8446/5246 name of an alert description.
pub fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => return None,
    })
}

/// Orders versions by age: DTLS counts down (1.0 = 0xfeff, 1.2 = 0xfefd, 1.3 = 0xfefc) and
/// ranks with the TLS version it derives from (1.1, 1.2, 1.3).
pub fn version_rank(v: u16) -> u16 {
    match v {
        0xfeff => 0x0302,
        0xfefd => 0x0303,
        0xfefc => 0x0304,
        _ => v,
    }
}

/// `TLS 1.3`, `TLS 1.2`, `TLS 1.1`, `TLS 1.0`, `SSL 3.0`, `SSL 2.0`; a TLS 1.3 draft as
/// `TLS 1.3 draft N`; anything else as `0x....`.
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0002 | 0x0200 => "SSL 2.0".into(),
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        0x7f00..=0x7f0f => "TLS 1.3 draft-<16".into(),
        0x7f10..=0x7fff => format!("TLS 1.3 draft-{}", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

/// The IANA name of a cipher suite (the common ones), else `0x....`.
pub fn cipher_name(c: u16) -> String {
    let name = match c {
        0x0000 => "TLS_NULL_WITH_NULL_NULL",
        0x0001 => "TLS_RSA_WITH_NULL_MD5",
        0x0002 => "TLS_RSA_WITH_NULL_SHA",
        0x0004 => "TLS_RSA_WITH_RC4_128_MD5",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0016 => "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0032 => "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x0038 => "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x0041 => "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
        0x0067 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        0x006b => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        0x0084 => "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
        0x008c => "TLS_PSK_WITH_AES_128_CBC_SHA",
        0x008d => "TLS_PSK_WITH_AES_256_CBC_SHA",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x00a8 => "TLS_PSK_WITH_AES_128_GCM_SHA256",
        0x00a9 => "TLS_PSK_WITH_AES_256_GCM_SHA384",
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0x1304 => "TLS_AES_128_CCM_SHA256",
        0x1305 => "TLS_AES_128_CCM_8_SHA256",
        0x5600 => "TLS_FALLBACK_SCSV",
        0xc007 => "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        0xc008 => "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc011 => "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        0xc012 => "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xc035 => "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
        0xc036 => "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
        0xc09c => "TLS_RSA_WITH_AES_128_CCM",
        0xc09d => "TLS_RSA_WITH_AES_256_CCM",
        0xc0ac => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        0xc0ad => "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccaa => "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccab => "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xccac => "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        _ => return format!("0x{c:04x}"),
    };
    name.to_string()
}

/// The decimal values joined by dashes (JA3). Joined as bytes and validated once: with
/// each number validated and pushed onto a growing `String`, an element cost about 250
/// instructions, and a ClientHello has dozens.
fn dash_list<'a, T: Copy + Into<u64> + 'a>(it: impl IntoIterator<Item = &'a T>) -> String {
    let mut s = Vec::with_capacity(128);
    for (i, v) in it.into_iter().enumerate() {
        if i > 0 {
            s.push(b'-');
        }
        s.extend_from_slice(wirehouse_schema::DecimalText::new(*v).as_bytes());
    }
    String::from_utf8(s).unwrap_or_default()
}

/// Appends the low `digits` hex digits of `v`, lower case (no `fmt`: fingerprints are
/// built for every handshake).
fn push_hex(s: &mut String, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        s.push(char::from(HEX[((v >> (4 * i)) & 0xf) as usize]));
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        push_hex(&mut s, u64::from(b), 2);
    }
    s
}

/// MD5 of `s`, lower-case hex.
pub fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

/// The JA3 string: `version,ciphers,extensions,groups,point_formats` (decimal values
/// joined by `-`, GREASE removed).
pub fn ja3(ch: &ClientHello) -> String {
    let ng = |v: &&u16| !is_grease(**v);
    format!(
        "{},{},{},{},{}",
        ch.version,
        dash_list(ch.ciphers.iter().filter(ng)),
        dash_list(ch.extensions.iter().filter(ng)),
        dash_list(ch.groups.iter().filter(ng)),
        dash_list(&ch.ec_point_formats),
    )
}

/// The JA3S string: `version,cipher,extensions` (the ServerHello's legacy version).
pub fn ja3s(sh: &ServerHello) -> String {
    format!(
        "{},{},{}",
        sh.version,
        sh.cipher,
        dash_list(sh.extensions.iter().filter(|v| !is_grease(**v)))
    )
}

fn sha256_12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".into();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

fn hex4_list(v: &[u16]) -> String {
    let mut s = String::with_capacity(v.len() * 5);
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_hex(&mut s, u64::from(*x), 4);
    }
    s
}

/// The JA4 fingerprint (FoxIO): `t13d1516h2_8daaf6152771_b186095e22b6`; `d` instead of `t`
/// for DTLS, `q` for QUIC.
pub fn ja4(ch: &ClientHello) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max_by_key(|&v| version_rank(v))
        .unwrap_or(ch.version);
    let ver = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };
    let sni = if ch.extensions.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let alpn = match (!ch.alpn.is_empty()).then_some(ch.alpn_first.as_slice()) {
        Some([f, .., l]) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            format!("{}{}", *f as char, *l as char)
        }
        Some([f]) if f.is_ascii_alphanumeric() => format!("{}{}", *f as char, *f as char),
        Some(b @ [_, ..]) => {
            let h = hex(b);
            let (f, l) = (h.chars().next(), h.chars().last());
            format!("{}{}", f.unwrap_or('0'), l.unwrap_or('0'))
        }
        _ => "00".into(),
    };
    ciphers.sort_unstable();
    let mut sorted_ext: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|&e| e != ext::SERVER_NAME && e != ext::ALPN)
        .collect();
    sorted_ext.sort_unstable();
    let mut c = hex4_list(&sorted_ext);
    let sigs: Vec<u16> = ch
        .sig_algs
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    if !c.is_empty() && !sigs.is_empty() {
        c.push('_');
        c.push_str(&hex4_list(&sigs));
    }
    let transport = match ch.carrier {
        Carrier::Tcp => 't',
        Carrier::Dtls => 'd',
        Carrier::Quic => 'q',
    };
    format!(
        "{transport}{ver}{sni}{:02}{:02}{alpn}_{}_{}",
        ciphers.len().min(99),
        exts.len().min(99),
        sha256_12(&hex4_list(&ciphers)),
        sha256_12(&c),
    )
}

/// Subject and issuer of a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// Subject DN, e.g. `C=US, O=Google Inc, CN=www.google.com`.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
}

/// The leaf (first) certificate's names from a TLS ≤ 1.2 Certificate message body (which may
/// be truncated after the leaf).
pub fn certificate_leaf(body: &[u8]) -> Option<CertNames> {
    let mut r = Rd(body);
    let _list_len = r.u24()?;
    let leaf = r.vec(3)?;
    cert_names(leaf)
}

/// One DER element: (tag, content, rest). Definite lengths of at most 4 length bytes.
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags do not occur where we look
    }
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let lb = rest.get(..n)?;
        let len = lb.iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
        (len, rest.get(n..)?)
    };
    let content = rest.get(..len)?;
    Some((tag, content, rest.get(len..)?))
}

/// Subject and issuer of one DER X.509 certificate.
pub fn cert_names(cert: &[u8]) -> Option<CertNames> {
    let (0x30, c, _) = der(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = der(c)? else {
        return None;
    };
    let mut rest = tbs;
    let (mut tag, mut cur, mut next) = der(rest)?;
    if tag == 0xa0 {
        // [0] EXPLICIT version
        rest = next;
        (tag, cur, next) = der(rest)?;
    }
    let _ = cur;
    if tag != 0x02 {
        return None; // serialNumber
    }
    let (0x30, _, next) = der(next)? else {
        return None; // signature AlgorithmIdentifier
    };
    let (0x30, issuer, next) = der(next)? else {
        return None;
    };
    let (0x30, _, next) = der(next)? else {
        return None; // validity
    };
    let (0x30, subject, _) = der(next)? else {
        return None;
    };
    Some(CertNames {
        subject: dn(subject),
        issuer: dn(issuer),
    })
}

/// Renders a Name's RDNSequence content: attributes in certificate order, `, ` between
/// RDNs, ` + ` inside a multi-valued RDN.
fn dn(mut seq: &[u8]) -> String {
    let mut out = String::new();
    while let Some((tag, set, rest)) = der(seq) {
        seq = rest;
        if tag != 0x31 {
            continue;
        }
        let mut s = set;
        let mut first_in_rdn = true;
        while let Some((0x30, atv, rest)) = der(s) {
            s = rest;
            let Some((0x06, oid, after)) = der(atv) else {
                continue;
            };
            let Some((vt, val, _)) = der(after) else {
                continue;
            };
            if !out.is_empty() {
                out.push_str(if first_in_rdn { ", " } else { " + " });
            }
            first_in_rdn = false;
            push_capped(&mut out, &attr_name(oid));
            out.push('=');
            push_capped(&mut out, &der_string(vt, val));
            if out.len() >= MAX_DN {
                return out;
            }
        }
    }
    out
}

fn push_capped(out: &mut String, s: &str) {
    for ch in s.chars() {
        if out.len() + ch.len_utf8() > MAX_DN {
            return;
        }
        out.push(ch);
    }
}

/// Dotted form of an OID's content bytes (at most 32 arcs).
fn oid_dotted(b: &[u8]) -> String {
    let mut out = String::new();
    let mut v: u64 = 0;
    let mut arcs = 0;
    for &x in b {
        if v > (u64::MAX >> 8) {
            return format!("#{}", hex(b.get(..32).unwrap_or(b)));
        }
        v = v << 7 | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            if arcs == 0 {
                let (a, b2) = if v < 40 {
                    (0, v)
                } else if v < 80 {
                    (1, v - 40)
                } else {
                    (2, v - 80)
                };
                let _ = write!(out, "{a}.{b2}");
            } else {
                let _ = write!(out, ".{v}");
            }
            arcs += 1;
            v = 0;
            if arcs >= 32 {
                break;
            }
        }
    }
    out
}

fn attr_name(oid: &[u8]) -> String {
    let d = oid_dotted(oid);
    let n = match d.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "Email",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return d,
    };
    n.to_string()
}

/// A directory string's text; other types as `#hex`.
fn der_string(tag: u8, v: &[u8]) -> String {
    let v = v.get(..MAX_STR * 4).unwrap_or(v);
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => text(v),
        // T61String / TeletexString: treat as Latin-1
        0x14 => v.iter().take(MAX_STR).map(|&b| b as char).collect(),
        // BMPString: UCS-2 big-endian
        0x1e => char::decode_utf16(v.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
            .take(MAX_STR)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
        // UniversalString: UCS-4 big-endian
        0x1c => v
            .chunks_exact(4)
            .take(MAX_STR)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => format!("#{}", hex(v.get(..MAX_STR / 2).unwrap_or(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture;

    fn first(text: &str, from_client: bool) -> Vec<u8> {
        fixture(text)
            .into_iter()
            .find(|s| s.0 == from_client)
            .map(|s| s.1)
            .expect("segment")
    }

    fn selks_client_hello() -> Vec<u8> {
        first(include_str!("fixtures/tls12_selks.txt"), true)
    }

    fn ech_client_hello() -> Vec<u8> {
        first(include_str!("fixtures/tls13_ech.txt"), true)
    }

    /// The server's first segment of the SELKS capture: ServerHello (61), Certificate (889),
    /// ServerKeyExchange (333), ServerHelloDone (4) records (tshark).
    fn selks_server_flight() -> Vec<u8> {
        first(include_str!("fixtures/tls12_selks.txt"), false)
    }

    /// Splits `b` into its records' payloads.
    fn records(mut b: &[u8]) -> Vec<(RecordHeader, &[u8])> {
        let mut out = Vec::new();
        while let Decoded::Done(h) = record_header(b) {
            out.push((h, &b[5..h.total_len()]));
            b = &b[h.total_len()..];
        }
        out
    }

    #[test]
    fn record_headers() {
        let b = selks_server_flight();
        let r = records(&b);
        assert_eq!(
            r.iter().map(|(h, _)| h.len).collect::<Vec<_>>(),
            [61, 889, 333, 4]
        );
        assert!(r.iter().all(|(h, _)| h.content_type == content::HANDSHAKE));
        assert_eq!(record_header(&b[..3]), Decoded::Incomplete(2));
        assert_eq!(record_header(&[22, 2]), Decoded::Invalid);
        assert_eq!(record_header(&[25]), Decoded::Invalid);
        assert_eq!(record_header(&[23, 3, 3, 0xff, 0xff]), Decoded::Invalid);
        assert_eq!(record_header(&[]), Decoded::Incomplete(5));
    }

    #[test]
    fn reassembly_across_and_within_records() {
        let b = selks_server_flight();
        let payloads: Vec<u8> = records(&b).iter().flat_map(|r| r.1.to_vec()).collect();
        // Whole records: four messages in order.
        let mut r = Reassembler::default();
        let whole: Vec<Message> = records(&b).iter().flat_map(|p| r.push(p.1)).collect();
        let types: Vec<u8> = whole.iter().map(|m| m.msg_type).collect();
        assert_eq!(types, [2, 11, 12, 14]);
        assert!(!r.is_partial());
        // The same bytes cut at every size: the same messages.
        for step in [1, 2, 3, 7, 100, 1000] {
            let mut r = Reassembler::default();
            let got: Vec<Message> = payloads.chunks(step).flat_map(|c| r.push(c)).collect();
            assert_eq!(got, whole, "step {step}");
        }
        // An over-long message is delivered truncated; what follows it is intact.
        let mut big = vec![hs::CERTIFICATE, 0x01, 0x00, 0x10];
        big.extend(std::iter::repeat_n(0xab, 0x01_0010));
        big.extend_from_slice(&[hs::SERVER_HELLO_DONE, 0, 0, 0]);
        let mut r = Reassembler::default();
        let got: Vec<Message> = big.chunks(16_384).flat_map(|c| r.push(c)).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len, 0x01_0010);
        assert_eq!(got[0].body.len(), MAX_MESSAGE_LEN);
        assert_eq!(got[1].msg_type, hs::SERVER_HELLO_DONE);
    }

    #[test]
    fn client_hello_fields() {
        // tshark on nDPI tls_ech.pcapng: SNI, ALPN, supported_versions with GREASE first.
        let b = ech_client_hello();
        let ch = client_hello(&b[9..]).expect("client hello");
        assert_eq!(ch.version, 0x0303);
        assert_eq!(ch.sni.as_deref(), Some("performance.radar.cloudflare.com"));
        assert_eq!(ch.alpn, ["h2", "http/1.1"]);
        assert_eq!(ch.supported_versions, [0xdada, 0x0304, 0x0303]);
        assert_eq!(ch.ciphers.len(), 16);
        assert_eq!(ch.ciphers[0], 0xaaaa);
        assert!(is_grease(ch.ciphers[0]));
        assert_eq!(ch.session_id.len(), 32);
        // nDPI: JA3C 6820f114cf3b0809ffdcb30cb277848a, JA4 t13d1516h2_8daaf6152771_02713d6af862.
        assert_eq!(md5_hex(&ja3(&ch)), "6820f114cf3b0809ffdcb30cb277848a");
        assert_eq!(ja4(&ch), "t13d1516h2_8daaf6152771_02713d6af862");
    }

    #[test]
    fn ja4_spec_values() {
        // FoxIO JA4.md, "Cipher hash": the sorted example list hashes to 8daaf6152771.
        assert_eq!(
            sha256_12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        // "If there are no ciphers ... JA4_b is set to 000000000000".
        assert_eq!(sha256_12(""), "000000000000");
        // ALPN: non-alphanumeric first/last byte → first and last hex characters.
        let mut ch = ClientHello {
            version: 0x0303,
            ..Default::default()
        };
        for (alpn, want) in [
            (vec![0xab], "ab"),
            (vec![0xab, 0xcd], "ad"),
            (vec![0x30, 0xab], "3b"),
            (b"h".to_vec(), "hh"),
            (b"http/1.1".to_vec(), "h1"),
        ] {
            ch.alpn = vec![String::from_utf8_lossy(&alpn).into_owned()];
            ch.alpn_first = alpn.clone();
            assert_eq!(&ja4(&ch)[8..10], want, "{alpn:?}");
        }
        // Given as examples in the spec too.
        for (alpn, want) in [
            (vec![0x30, 0x31, 0xab, 0xcd], "3d"),
            (vec![0x30, 0xab, 0xcd, 0x31], "01"),
        ] {
            ch.alpn_first = alpn;
            assert_eq!(&ja4(&ch)[8..10], want);
        }
        ch.alpn.clear();
        assert_eq!(&ja4(&ch)[8..10], "00");
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a0b));
    }

    #[test]
    fn leaf_certificate_names() {
        let b = selks_server_flight();
        let r = records(&b);
        let cert = &r[1].1[4..];
        let names = certificate_leaf(cert).expect("names");
        // suricata-verify tls/bug-7286-tls-metadata-01.
        assert_eq!(names.subject, "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS");
        assert_eq!(names.issuer, names.subject);
        // The ServerHello of the same flight: tshark says cipher 0xc02f, TLS 1.2.
        let sh = server_hello(&r[0].1[4..]).expect("server hello");
        assert_eq!(sh.cipher, 0xc02f);
        assert_eq!(sh.negotiated(), 0x0303);
        assert!(!sh.hello_retry);
        assert_eq!(
            cipher_name(sh.cipher),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(cipher_name(0xfefe), "0xfefe");
    }

    #[test]
    fn alerts_and_versions() {
        assert_eq!(
            alert(&[2, 70]).map(|a| (a.is_fatal(), a.name())),
            Some((true, "protocol_version".into()))
        );
        assert_eq!(alert(&[1, 0]).map(|a| a.is_fatal()), Some(false));
        assert_eq!(alert(&[3, 0]), None);
        assert_eq!(alert(&[2]), None);
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x7f1c), "TLS 1.3 draft-28");
    }

    #[test]
    fn sslv2_compatible_hello() {
        // [len 0x802e][type 1][version 3.1][specs 21][sid 0][challenge 16]: the layout
        // of RFC 5246 appendix E.2 (a real hello carries 7 cipher specs here).
        let mut b = vec![
            0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
        ];
        for spec in [
            [0x07, 0x00, 0xc0],
            [0x05, 0x00, 0x80],
            [0x03, 0x00, 0x80],
            [0x01, 0x00, 0x80],
            [0x00, 0x00, 0x2f],
            [0x00, 0x00, 0x35],
            [0x00, 0x00, 0x0a],
        ] {
            b.extend_from_slice(&spec);
        }
        b.extend_from_slice(&[0x5a; 16]);
        let Decoded::Done((ch, total)) = sslv2_client_hello(&b) else {
            panic!("not decoded");
        };
        assert_eq!(total, b.len());
        assert_eq!(ch.version, 0x0301);
        assert_eq!(ch.ciphers, [0x002f, 0x0035, 0x000a]);
        assert!(matches!(
            sslv2_client_hello(&b[..5]),
            Decoded::Incomplete(_)
        ));
        b[2] = 2;
        assert_eq!(sslv2_client_hello(&b), Decoded::Invalid);
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

    /// Runs every decoder on `b`.
    fn decode_all(b: &[u8]) {
        let _ = record_header(b);
        let _ = sslv2_client_hello(b);
        if let Some(ch) = client_hello(b) {
            let _ = (ja3(&ch), ja4(&ch));
        }
        if let Some(sh) = server_hello(b) {
            let _ = ja3s(&sh);
        }
        let _ = certificate_leaf(b);
        let _ = cert_names(b);
        let _ = alert(b);
        let mut r = Reassembler::default();
        let _ = r.push(b);
    }

    #[test]
    fn truncated_and_mutated_inputs_do_not_panic() {
        let ch = selks_client_hello();
        let ech = ech_client_hello();
        let flight = selks_server_flight();
        let r = records(&flight);
        let cert = r[1].1[4..].to_vec();
        let sh = r[0].1[4..].to_vec();
        let inputs = [
            ch[9..].to_vec(),
            ech[9..].to_vec(),
            cert,
            sh,
            flight.clone(),
        ];
        for b in &inputs {
            for cut in 0..=b.len() {
                decode_all(&b[..cut]);
            }
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..4000 {
            let mut b = inputs[i % inputs.len()].clone();
            for _ in 0..1 + rng.next() % 6 {
                let p = (rng.next() % b.len() as u64) as usize;
                match rng.next() % 4 {
                    0 => b[p] = rng.next() as u8,
                    1 => b[p] = 0xff,
                    2 => b[p] = 0x80 | (rng.next() as u8 & 0x07),
                    _ => b[p] = 0,
                }
            }
            decode_all(&b);
        }
    }
}
