//! A pure DNS message decoder (RFC 1035, RFC 3596, RFC 2782, RFC 6891): `&[u8]` →
//! [`Message`] | [`Error`]. Never panics and does bounded work on any input: names are
//! limited to 255 wire bytes and [`MAX_POINTER_HOPS`] compression pointers (forward
//! pointers are followed, as Suricata and Wireshark do; loops end at the hop limit), and at
//! most [`MAX_RECORDS_KEPT`] records are kept per section.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use wirehouse_schema::Text;

/// Most compression pointers followed while reading one name.
pub const MAX_POINTER_HOPS: usize = 64;
/// Longest name on the wire (labels with their length bytes and the root byte), RFC 1035.
pub const MAX_NAME_WIRE_LEN: usize = 255;
/// Most questions kept per message (all are decoded to find the records behind them).
pub const MAX_QUESTIONS_KEPT: usize = 32;
/// Most records kept per section (the others are decoded and counted, not kept).
pub const MAX_RECORDS_KEPT: usize = 64;
/// Most rdata bytes kept for a record type decoded generically.
pub const MAX_GENERIC_RDATA: usize = 256;

/// Why a message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Fewer than the 12 header bytes.
    ShortHeader,
    /// A question runs past the end of the message.
    TruncatedQuestion,
    /// A question's name is malformed (pointer loop, bad label type, too long, out of bounds).
    BadName,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::ShortHeader => "dns message shorter than its header",
            Error::TruncatedQuestion => "dns question truncated",
            Error::BadName => "malformed dns name",
        })
    }
}

impl std::error::Error for Error {}

/// The fixed 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Transaction id.
    pub id: u16,
    /// QR: a response.
    pub qr: bool,
    /// OPCODE (0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE, 6 DSO).
    pub opcode: u8,
    /// AA: authoritative answer.
    pub aa: bool,
    /// TC: truncated (retry over TCP).
    pub tc: bool,
    /// RD: recursion desired.
    pub rd: bool,
    /// RA: recursion available.
    pub ra: bool,
    /// AD: authentic data (RFC 4035).
    pub ad: bool,
    /// CD: checking disabled (RFC 4035).
    pub cd: bool,
    /// The header's 4-bit RCODE (see [`Message::rcode`] for the EDNS-extended one).
    pub rcode: u8,
    /// Questions announced.
    pub qdcount: u16,
    /// Answer records announced.
    pub ancount: u16,
    /// Authority records announced.
    pub nscount: u16,
    /// Additional records announced (including an EDNS OPT record).
    pub arcount: u16,
}

impl Header {
    /// Decodes the first 12 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Header, Error> {
        let h = b.get(..12).ok_or(Error::ShortHeader)?;
        let u = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let flags = u(2);
        Ok(Header {
            id: u(0),
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0x0f) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            ad: flags & 0x0020 != 0,
            cd: flags & 0x0010 != 0,
            rcode: (flags & 0x0f) as u8,
            qdcount: u(4),
            ancount: u(6),
            nscount: u(8),
            arcount: u(10),
        })
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Query name, rendered (see [`read_name`]).
    pub name: Text,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS as on the wire (mDNS sets the top bit to ask for a unicast response).
    pub qclass: u16,
}

/// Decoded record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// A.
    A(Ipv4Addr),
    /// AAAA.
    Aaaa(Ipv6Addr),
    /// CNAME, NS, PTR, DNAME: one domain name.
    Name(Text),
    /// MX.
    Mx {
        /// Preference.
        preference: u16,
        /// Mail exchanger.
        exchange: Text,
    },
    /// TXT: the character-strings, raw.
    Txt(Vec<Vec<u8>>),
    /// SOA.
    Soa {
        /// Primary name server.
        mname: Text,
        /// Responsible mailbox.
        rname: Text,
        /// Serial.
        serial: u32,
        /// Refresh, seconds.
        refresh: u32,
        /// Retry, seconds.
        retry: u32,
        /// Expire, seconds.
        expire: u32,
        /// Minimum / negative-caching TTL, seconds.
        minimum: u32,
    },
    /// SRV.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: Text,
    },
    /// Any other type (or a known type whose rdata did not decode): the rdata's length
    /// and its first [`MAX_GENERIC_RDATA`] bytes.
    Other {
        /// Full rdata length.
        len: u16,
        /// The first bytes.
        bytes: Vec<u8>,
    },
}

/// One TXT character-string in presentation form: quoted, runs of printable bytes in
/// one piece, `"` and `\\` escaped with a backslash, other bytes as `\\DDD`.
fn write_character_string(s: &[u8], f: &mut impl std::fmt::Write) -> std::fmt::Result {
    f.write_str("\"")?;
    let mut rest = s;
    while !rest.is_empty() {
        let n = plain_run(rest);
        // Printable ASCII is UTF-8.
        f.write_str(std::str::from_utf8(&rest[..n]).unwrap_or_default())?;
        let Some(&b) = rest.get(n) else { break };
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            _ => {
                let ddd = [b'\\', b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10];
                f.write_str(std::str::from_utf8(&ddd).unwrap_or_default())?;
            }
        }
        rest = &rest[n + 1..];
    }
    f.write_str("\"")
}

/// A byte a TXT character-string keeps as it is: printable ASCII but `"` and `\\`.
fn plain(b: u8) -> bool {
    matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\'
}

/// How many bytes at the start of `s` are [`plain`]. Eight at a time while none of the
/// eight is special (a test on the whole word), then one by one: TXT records run to
/// hundreds of bytes, and the byte-by-byte scan cost about 11 instructions a byte.
fn plain_run(s: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // Non-zero when some byte of `v` is zero.
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut n = 0;
    for word in s.chunks_exact(8) {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default());
        // Some byte below 0x20; some byte above 0x7e; some `"`; some `\`.
        let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let above = (x.wrapping_add(ONES) | x) & HIGH;
        let quote = zero_byte(x ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(x ^ (ONES * u64::from(b'\\')));
        if below | above | quote | backslash != 0 {
            break;
        }
        n += 8;
    }
    n + s[n..]
        .iter()
        .position(|&b| !plain(b))
        .unwrap_or(s.len() - n)
}

/// TXT rdata in presentation form: its character-strings separated by spaces.
fn write_character_strings<'s>(
    strings: impl IntoIterator<Item = &'s [u8]>,
    f: &mut impl std::fmt::Write,
) -> std::fmt::Result {
    for (i, s) in strings.into_iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write_character_string(s, f)?;
    }
    Ok(())
}

/// The character-strings of TXT rdata, `None` when the last one runs past its end.
fn txt_strings(rd: &[u8]) -> Option<Vec<&[u8]>> {
    let mut strings = Vec::new();
    let mut p = 0;
    while p < rd.len() {
        let l = usize::from(rd[p]);
        strings.push(rd.get(p + 1..p + 1 + l)?);
        p += 1 + l;
    }
    Some(strings)
}

impl std::fmt::Display for RData {
    /// Presentation form (RFC 1035 §5.1; RFC 3597 `\# len hex` for generic data).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RData::A(a) => f.write_str(wirehouse_schema::Ipv4Text::new(a.octets()).as_str()),
            RData::Aaaa(a) => f.write_str(wirehouse_schema::Ipv6Text::new(a.octets()).as_str()),
            RData::Name(n) => f.write_str(n),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Txt(strings) => write_character_strings(strings.iter().map(Vec::as_slice), f),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => write!(
                f,
                "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
            ),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            RData::Other { len, bytes } => {
                write!(f, "\\# {len}")?;
                if !bytes.is_empty() {
                    f.write_str(" ")?;
                    for b in bytes {
                        write!(f, "{b:02x}")?;
                    }
                    if usize::from(*len) > bytes.len() {
                        f.write_str("...")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name, rendered.
    pub name: Text,
    /// TYPE.
    pub rtype: u16,
    /// CLASS (for OPT: the requestor's UDP payload size).
    pub class: u16,
    /// TTL, seconds (for OPT: extended rcode, version and flags).
    pub ttl: u32,
    /// Decoded data.
    pub data: RData,
}

impl std::fmt::Display for Record {
    /// `name TYPE TTL data`, e.g. `example.com A 300 93.184.216.34`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Piece by piece: cheaper than one four-argument format on this hot path.
        f.write_str(&self.name)?;
        f.write_str(" ")?;
        f.write_str(&type_name(self.rtype))?;
        f.write_str(" ")?;
        std::fmt::Display::fmt(&self.ttl, f)?;
        f.write_str(" ")?;
        std::fmt::Display::fmt(&self.data, f)
    }
}

/// The EDNS(0) OPT pseudo-record (RFC 6891).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size.
    pub udp_size: u16,
    /// Upper 8 bits of the extended RCODE.
    pub ext_rcode: u8,
    /// EDNS version.
    pub version: u8,
    /// DO: DNSSEC OK.
    pub dnssec_ok: bool,
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Header.
    pub header: Header,
    /// Questions (at most [`MAX_QUESTIONS_KEPT`]).
    pub questions: Vec<Question>,
    /// Answer records (at most [`MAX_RECORDS_KEPT`]).
    pub answers: Vec<Record>,
    /// Authority records (at most [`MAX_RECORDS_KEPT`]).
    pub authorities: Vec<Record>,
    /// Additional records other than OPT (at most [`MAX_RECORDS_KEPT`]).
    pub additionals: Vec<Record>,
    /// Answer records decoded (kept or not).
    pub answers_seen: u16,
    /// The first OPT record of the additional section.
    pub edns: Option<Edns>,
    /// The records ended early: a record ran past the end of the message or had a
    /// malformed owner name. What came before is kept.
    pub incomplete: bool,
    /// Bytes after the last announced record.
    pub trailing: usize,
}

impl Message {
    /// The RCODE, extended by the OPT record's upper 8 bits when present.
    pub fn rcode(&self) -> u16 {
        extended_rcode(&self.header, self.edns)
    }
}

/// The header's RCODE, extended by the OPT record's upper 8 bits when present.
fn extended_rcode(h: &Header, edns: Option<Edns>) -> u16 {
    let hi = edns.map_or(0, |e| u16::from(e.ext_rcode));
    (hi << 4) | u16::from(h.rcode)
}

/// Decodes a whole DNS message (UDP payload, or a TCP message without its length prefix).
///
/// Fails only when the header or a question cannot be decoded; records that run short
/// set [`Message::incomplete`] and keep what came before.
pub fn parse_message(b: &[u8]) -> Result<Message, Error> {
    let header = Header::parse(b)?;
    let mut msg = Message {
        header,
        ..Message::default()
    };
    let mut pos = 12;
    for _ in 0..header.qdcount {
        let (q, next) = read_question(b, pos)?;
        pos = next;
        if msg.questions.len() < MAX_QUESTIONS_KEPT {
            msg.questions.push(q);
        }
    }
    let sections = [
        (header.ancount, 0u8),
        (header.nscount, 1),
        (header.arcount, 2),
    ];
    'sections: for (count, section) in sections {
        for _ in 0..count {
            let Some((rec, next)) = read_record(b, pos) else {
                msg.incomplete = true;
                break 'sections;
            };
            pos = next;
            let list = match section {
                0 => {
                    msg.answers_seen = msg.answers_seen.saturating_add(1);
                    &mut msg.answers
                }
                1 => &mut msg.authorities,
                _ if rec.rtype == 41 => {
                    if msg.edns.is_none() {
                        msg.edns = Some(Edns::of(rec.class, rec.ttl));
                    }
                    continue;
                }
                _ => &mut msg.additionals,
            };
            if list.len() < MAX_RECORDS_KEPT {
                list.push(rec);
            }
        }
    }
    if !msg.incomplete {
        msg.trailing = b.len().saturating_sub(pos);
    }
    Ok(msg)
}

/// Where names and records are rendered: a `String`, a [`Text`], or [`Measure`] (which
/// only counts, to validate what is not kept).
pub trait Out: std::fmt::Write {
    /// Bytes written so far.
    fn written(&self) -> usize;
    /// Drops what was written after the first `n` bytes (`n` on a character boundary).
    fn truncate(&mut self, n: usize);

    /// Appends `text`, bytes already checked to be printable ASCII. Outputs that can
    /// take them without validating them again as UTF-8 do so: `from_utf8` on every
    /// label of every name cost ~75 instructions a label, 1.4 % of the instructions of a
    /// whole run on mix.pcap.
    fn push_printable(&mut self, text: &[u8]) {
        let _ = self.write_str(std::str::from_utf8(text).unwrap_or_default());
    }

    /// Writes one label of a name in presentation form: printable ASCII as it is, `.` and
    /// `\\` escaped with a backslash, other bytes (and space) as `\\DDD`.
    fn label(&mut self, label: &[u8]) {
        // The common label is plain ASCII: copied whole.
        if label
            .iter()
            .all(|&c| matches!(c, 0x21..=0x7e) && c != b'.' && c != b'\\')
        {
            self.push_printable(label);
            return;
        }
        for &c in label {
            let _ = match c {
                b'.' | b'\\' => self.write_str(if c == b'.' { "\\." } else { "\\\\" }),
                0x21..=0x7e => self.write_char(c as char),
                _ => write!(self, "\\{c:03}"),
            };
        }
    }
}

impl Out for String {
    fn written(&self) -> usize {
        self.len()
    }
    fn truncate(&mut self, n: usize) {
        String::truncate(self, n)
    }
    fn push_printable(&mut self, text: &[u8]) {
        self.extend(text.iter().map(|&c| char::from(c)));
    }
}

impl Out for Text {
    fn written(&self) -> usize {
        self.len()
    }
    fn truncate(&mut self, n: usize) {
        Text::truncate(self, n)
    }
}

/// An [`Out`] that keeps nothing: validates a name or record without rendering it.
#[derive(Debug, Default)]
pub struct Measure(usize);

impl std::fmt::Write for Measure {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

impl Out for Measure {
    fn written(&self) -> usize {
        self.0
    }
    fn truncate(&mut self, n: usize) {
        self.0 = self.0.min(n);
    }
    fn label(&mut self, label: &[u8]) {
        self.0 += label.len();
    }
}

impl Edns {
    /// From the OPT record's CLASS and TTL fields.
    fn of(class: u16, ttl: u32) -> Edns {
        Edns {
            udp_size: class,
            ext_rcode: (ttl >> 24) as u8,
            version: (ttl >> 16) as u8,
            dnssec_ok: ttl & 0x8000 != 0,
        }
    }
}

/// Longest rendered answer list ([`Summary::answers`]), bytes.
pub const MAX_RESULT_LEN: usize = 4096;

/// A question of a [`Summary`]: where its name starts, its type and class.
#[derive(Debug, Clone, Copy, Default)]
struct QuestionAt {
    pos: u32,
    qtype: u16,
    qclass: u16,
}

/// What a session row needs of a message, decoded in one pass without owned records:
/// the header, the questions (names rendered on demand), the answers rendered as
/// `name TYPE TTL data` joined with `"; "`, and the OPT record. Decodes and rejects
/// exactly what [`parse_message`] does.
#[derive(Debug)]
pub struct Summary<'a> {
    /// Header.
    pub header: Header,
    msg: &'a [u8],
    questions: [QuestionAt; MAX_QUESTIONS_KEPT],
    kept: usize,
    /// The answers, at most [`MAX_RECORDS_KEPT`] and [`MAX_RESULT_LEN`] bytes; a cut is
    /// marked with `...`.
    pub answers: Text,
    /// Answer records decoded (kept or not).
    pub answers_seen: u16,
    /// The first OPT record of the additional section.
    pub edns: Option<Edns>,
    /// The records ended early (see [`Message::incomplete`]).
    pub incomplete: bool,
}

impl Summary<'_> {
    /// The RCODE, extended by the OPT record's upper 8 bits when present.
    pub fn rcode(&self) -> u16 {
        extended_rcode(&self.header, self.edns)
    }

    /// Questions kept (at most [`MAX_QUESTIONS_KEPT`]).
    pub fn questions(&self) -> usize {
        self.kept
    }

    /// (QTYPE, QCLASS) of question `i` (`i` < [`Summary::questions`]).
    pub fn question(&self, i: usize) -> (u16, u16) {
        let q = self.questions[i];
        (q.qtype, q.qclass)
    }

    /// Appends the rendered name of question `i` (see [`read_name`]).
    pub fn write_question_name(&self, i: usize, out: &mut impl Out) {
        // Validated when the summary was made: this cannot fail.
        let _ = write_name(self.msg, self.questions[i].pos as usize, out);
    }

    /// The rendered name of question `i`, rendered on the stack and copied into its
    /// [`Text`] once: pushed label by label into a `CompactString`, a question name cost
    /// about twice as many instructions (growing and re-checking the inline/heap form at
    /// every dot and label).
    pub fn question_name(&self, i: usize) -> Text {
        let mut name = NameBuf::default();
        self.write_question_name(i, &mut name);
        Text::from(name.as_str())
    }
}

/// Room for the presentation form of any name [`write_name`] accepts: each of its at
/// most 255 wire bytes renders to at most 4 characters (a label byte escaped as `\DDD`;
/// a length byte as one dot or nothing). The longest possible is 1003.
const MAX_NAME_TEXT_LEN: usize = 4 * MAX_NAME_WIRE_LEN;

/// The stack buffer a question name is rendered in (see [`MAX_NAME_TEXT_LEN`]): a write
/// that does not fit (none can) is refused whole, so the text stays valid UTF-8.
type NameBuf = wirehouse_schema::TextBuf<MAX_NAME_TEXT_LEN>;

impl Out for NameBuf {
    fn written(&self) -> usize {
        self.len()
    }
    fn truncate(&mut self, n: usize) {
        NameBuf::truncate(self, n)
    }
    fn push_printable(&mut self, text: &[u8]) {
        self.push(text);
    }
}

/// Decodes `b` into a [`Summary`]; `scratch` is a buffer the answers are rendered in
/// (kept by the caller so that its allocation is reused).
pub fn summarize<'a>(b: &'a [u8], scratch: &mut String) -> Result<Summary<'a>, Error> {
    const MARK: &str = "; ...";
    let header = Header::parse(b)?;
    let mut sum = Summary {
        header,
        msg: b,
        questions: [QuestionAt::default(); MAX_QUESTIONS_KEPT],
        kept: 0,
        answers: Text::default(),
        answers_seen: 0,
        edns: None,
        incomplete: false,
    };
    let mut pos = 12;
    for _ in 0..header.qdcount {
        let at = pos;
        let (qtype, qclass, next) = question(b, pos, &mut Measure::default())?;
        pos = next;
        if sum.kept < MAX_QUESTIONS_KEPT {
            sum.questions[sum.kept] = QuestionAt {
                pos: at as u32,
                qtype,
                qclass,
            };
            sum.kept += 1;
        }
    }
    let out = scratch;
    out.clear();
    let mut cut = false;
    let mut full = false;
    for i in 0..header.ancount {
        let next = if usize::from(i) < MAX_RECORDS_KEPT && !full {
            let before = out.len();
            if before > 0 {
                out.push_str("; ");
            }
            let next = write_record(b, pos, out);
            if next.is_none() {
                out.truncate(before);
            } else if out.len() + MARK.len() > MAX_RESULT_LEN {
                if before == 0 {
                    let mut n = MAX_RESULT_LEN - MARK.len();
                    while !out.is_char_boundary(n) {
                        n -= 1;
                    }
                    out.truncate(n);
                } else {
                    out.truncate(before);
                }
                cut = true;
                full = true;
            }
            next
        } else {
            let next = walk_record(b, pos).map(|(_, _, _, next)| next);
            // Like the full parse: a record past the kept ones that does not decode ends
            // the answers (incomplete), it does not count as one more.
            if usize::from(i) >= MAX_RECORDS_KEPT && next.is_some() {
                cut = true;
            }
            next
        };
        let Some(next) = next else {
            sum.incomplete = true;
            break;
        };
        pos = next;
        sum.answers_seen = sum.answers_seen.saturating_add(1);
    }
    if !sum.incomplete {
        'rest: for (count, additional) in [(header.nscount, false), (header.arcount, true)] {
            for _ in 0..count {
                let Some((rtype, class, ttl, next)) = walk_record(b, pos) else {
                    sum.incomplete = true;
                    break 'rest;
                };
                pos = next;
                if additional && rtype == 41 && sum.edns.is_none() {
                    sum.edns = Some(Edns::of(class, ttl));
                }
            }
        }
    }
    if cut {
        out.push_str(if out.is_empty() { "..." } else { MARK });
    }
    sum.answers = Text::from(out.as_str());
    // A record is rendered whole before the length check: an escaped 64 KiB TXT record
    // grows the buffer to ~260 KiB. Do not keep that for the rest of the flow.
    if out.capacity() > 4 * MAX_RESULT_LEN {
        *out = String::new();
    }
    Ok(sum)
}

/// Renders the record at `pos` as `name TYPE TTL data` (what [`Record`]'s `Display`
/// writes) and returns the position after it; `None` where [`read_record`] fails, with
/// part of the record possibly written.
fn write_record(b: &[u8], pos: usize, out: &mut impl Out) -> Option<usize> {
    let pos = write_name(b, pos, out).ok()?;
    let (rtype, _, ttl, start, end) = record_fields(b, pos)?;
    let rd = &b[start..end];
    let _ = out.write_str(" ");
    let _ = out.write_str(&type_name(rtype));
    let _ = out.write_str(" ");
    let _ = out.write_str(wirehouse_schema::DecimalText::new(ttl).as_str());
    let _ = out.write_str(" ");
    match (rtype, rd.len()) {
        (1, 4) => {
            let _ = out
                .write_str(wirehouse_schema::Ipv4Text::new([rd[0], rd[1], rd[2], rd[3]]).as_str());
        }
        (28, 16) => {
            let a: [u8; 16] = rd.try_into().unwrap_or_default();
            let _ = out.write_str(wirehouse_schema::Ipv6Text::new(a).as_str());
        }
        // The common types rendered straight into `out` (as `RData`'s `Display` would
        // render them), without decoding them into an `RData` and formatting that.
        (2 | 5 | 12 | 39, _) | (15, 2..) | (33, 6..) => {
            let mark = out.written();
            let name_at = match rtype {
                15 => start + 2,
                33 => start + 6,
                _ => start,
            };
            for i in (0..name_at - start).step_by(2) {
                let _ = out.write_str(
                    wirehouse_schema::DecimalText::new(be16(rd, i).unwrap_or(0)).as_str(),
                );
                let _ = out.write_str(" ");
            }
            if write_name(b, name_at, out) != Ok(end) {
                out.truncate(mark);
                let _ = write!(out, "{}", generic(rd));
            }
        }
        (16, _) => {
            let _ = match txt_strings(rd) {
                Some(strings) => write_character_strings(strings, out),
                None => write!(out, "{}", generic(rd)),
            };
        }
        _ => {
            let data = decode_rdata(b, rtype, start, end).unwrap_or_else(|| generic(rd));
            let _ = write!(out, "{data}");
        }
    }
    Some(end)
}

/// Walks one record without rendering it: (type, class, TTL, position after it); `None`
/// where [`read_record`] fails.
fn walk_record(b: &[u8], pos: usize) -> Option<(u16, u16, u32, usize)> {
    let pos = write_name(b, pos, &mut Measure::default()).ok()?;
    let (rtype, class, ttl, _, end) = record_fields(b, pos)?;
    Some((rtype, class, ttl, end))
}

/// The fixed fields after a record's owner name, which ends at `pos`: (TYPE, CLASS, TTL,
/// start and end of the rdata); `None` when they or the rdata run past the message.
fn record_fields(b: &[u8], pos: usize) -> Option<(u16, u16, u32, usize, usize)> {
    let rtype = be16(b, pos)?;
    let class = be16(b, pos + 2)?;
    let ttl = be32(b, pos + 4)?;
    let rdlen = be16(b, pos + 8)?;
    let start = pos + 10;
    let end = start.checked_add(usize::from(rdlen))?;
    (end <= b.len()).then_some((rtype, class, ttl, start, end))
}

/// Writes the name of the question at `pos` to `out`: (QTYPE, QCLASS, position after it).
fn question(b: &[u8], pos: usize, out: &mut impl Out) -> Result<(u16, u16, usize), Error> {
    let pos = write_name(b, pos, out).map_err(|short| {
        if short {
            Error::TruncatedQuestion
        } else {
            Error::BadName
        }
    })?;
    let qtype = be16(b, pos).ok_or(Error::TruncatedQuestion)?;
    let qclass = be16(b, pos + 2).ok_or(Error::TruncatedQuestion)?;
    Ok((qtype, qclass, pos + 4))
}

fn be16(b: &[u8], pos: usize) -> Option<u16> {
    let s = b.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], pos: usize) -> Option<u32> {
    let s = b.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn read_question(b: &[u8], pos: usize) -> Result<(Question, usize), Error> {
    let mut name = Text::default();
    let (qtype, qclass, next) = question(b, pos, &mut name)?;
    Ok((
        Question {
            name,
            qtype,
            qclass,
        },
        next,
    ))
}

fn read_record(b: &[u8], pos: usize) -> Option<(Record, usize)> {
    let (name, pos) = read_name(b, pos)?;
    let (rtype, class, ttl, start, end) = record_fields(b, pos)?;
    let data = decode_rdata(b, rtype, start, end).unwrap_or_else(|| generic(&b[start..end]));
    Some((
        Record {
            name,
            rtype,
            class,
            ttl,
            data,
        },
        end,
    ))
}

fn generic(rdata: &[u8]) -> RData {
    RData::Other {
        len: rdata.len().min(usize::from(u16::MAX)) as u16,
        bytes: rdata[..rdata.len().min(MAX_GENERIC_RDATA)].to_vec(),
    }
}

/// A name starting inside rdata `[start, end)` that must end within it.
fn rdata_name(b: &[u8], pos: usize, end: usize) -> Option<(Text, usize)> {
    let (n, next) = read_name(b, pos)?;
    (next <= end).then_some((n, next))
}

/// Decodes the rdata of the known types; `None` (then shown generically) when it does
/// not have the type's shape.
fn decode_rdata(b: &[u8], rtype: u16, start: usize, end: usize) -> Option<RData> {
    let rd = b.get(start..end)?;
    Some(match rtype {
        1 => RData::A(Ipv4Addr::from(<[u8; 4]>::try_from(rd).ok()?)),
        28 => RData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(rd).ok()?)),
        2 | 5 | 12 | 39 => {
            let (n, next) = rdata_name(b, start, end)?;
            (next == end).then_some(RData::Name(n))?
        }
        15 => {
            let preference = be16(rd, 0)?;
            let (exchange, next) = rdata_name(b, start + 2, end)?;
            (next == end).then_some(RData::Mx {
                preference,
                exchange,
            })?
        }
        16 => RData::Txt(txt_strings(rd)?.into_iter().map(<[u8]>::to_vec).collect()),
        6 => {
            let (mname, p) = rdata_name(b, start, end)?;
            let (rname, p) = rdata_name(b, p, end)?;
            if p + 20 != end {
                return None;
            }
            RData::Soa {
                mname,
                rname,
                serial: be32(b, p)?,
                refresh: be32(b, p + 4)?,
                retry: be32(b, p + 8)?,
                expire: be32(b, p + 12)?,
                minimum: be32(b, p + 16)?,
            }
        }
        33 => {
            let (target, next) = rdata_name(b, start + 6, end)?;
            (next == end).then_some(RData::Srv {
                priority: be16(rd, 0)?,
                weight: be16(rd, 2)?,
                port: be16(rd, 4)?,
                target,
            })?
        }
        _ => return None,
    })
}

/// Reads the (possibly compressed) name at `pos` of message `b`; returns it rendered and
/// the position after it in the uncompressed stream. `None` when it runs out of bounds,
/// uses a reserved label type (0x40, 0x80), exceeds 255 wire bytes or follows more than
/// [`MAX_POINTER_HOPS`] pointers (which ends any pointer loop).
///
/// Rendering: labels joined with `.`, no trailing dot, the root name as `<root>`; bytes
/// other than printable ASCII, and space, as `\DDD`; `.` and `\` inside a label as `\.`
/// and `\\`. The result is always valid UTF-8.
pub fn read_name(b: &[u8], pos: usize) -> Option<(Text, usize)> {
    let mut out = Text::default();
    let next = write_name(b, pos, &mut out).ok()?;
    Some((out, next))
}

/// Appends the rendering of the name at `pos` (see [`read_name`]) to `out` and returns the
/// position after the name; on `Err` part of the name may have been written.
fn write_name(b: &[u8], pos: usize, out: &mut impl Out) -> Result<usize, bool> {
    let start = out.written();
    let mut p = pos;
    let mut after: Option<usize> = None;
    let mut hops = 0;
    let mut wire_len = 1usize; // the root byte
    loop {
        let len = *b.get(p).ok_or(true)?;
        match len & 0xc0 {
            0x00 if len == 0 => break,
            0x00 => {
                let l = usize::from(len);
                wire_len += l + 1;
                if wire_len > MAX_NAME_WIRE_LEN {
                    return Err(false);
                }
                let label = b.get(p + 1..p + 1 + l).ok_or(true)?;
                if out.written() > start {
                    let _ = out.write_str(".");
                }
                p += 1 + l;
                out.label(label);
            }
            0xc0 => {
                let lo = *b.get(p + 1).ok_or(true)?;
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(false);
                }
                let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                if target >= b.len() {
                    return Err(false);
                }
                if after.is_none() {
                    after = Some(p + 2);
                }
                p = target;
            }
            _ => return Err(false),
        }
    }
    if out.written() == start {
        let _ = out.write_str("<root>");
    }
    Ok(after.unwrap_or(p + 1))
}

/// The mnemonic of a TYPE (`TYPE65280` style for unassigned ones, RFC 3597).
pub fn type_name(t: u16) -> Cow<'static, str> {
    Cow::Borrowed(match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        33 => "SRV",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        104 => "NID",
        105 => "L32",
        106 => "L64",
        107 => "LP",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        258 => "AVC",
        259 => "DOA",
        260 => "AMTRELAY",
        261 => "RESINFO",
        32768 => "TA",
        32769 => "DLV",
        _ => return Cow::Owned(format!("TYPE{t}")),
    })
}

/// The mnemonic of a CLASS (`CLASS5` style for others).
pub fn class_name(c: u16) -> Cow<'static, str> {
    Cow::Borrowed(match c {
        1 => "IN",
        3 => "CH",
        4 => "HS",
        254 => "NONE",
        255 => "ANY",
        _ => return Cow::Owned(format!("CLASS{c}")),
    })
}

/// The mnemonic of an (extended) RCODE (`RCODE12` style for unassigned ones).
pub fn rcode_name(r: u16) -> Cow<'static, str> {
    Cow::Borrowed(match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return Cow::Owned(format!("RCODE{r}")),
    })
}

/// The mnemonic of an OPCODE (`OPCODE3` style for unassigned ones).
pub fn opcode_name(o: u8) -> Cow<'static, str> {
    Cow::Borrowed(match o {
        0 => "QUERY",
        1 => "IQUERY",
        2 => "STATUS",
        4 => "NOTIFY",
        5 => "UPDATE",
        6 => "DSO",
        _ => return Cow::Owned(format!("OPCODE{o}")),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The word-at-a-time scan stops where the byte-by-byte one does: every byte value,
    /// at every position of a run of plain bytes up to three words long.
    #[test]
    fn plain_run_stops_at_the_first_byte_kept_escaped() {
        for len in 0..24 {
            for at in 0..=len {
                for b in 0..=255u8 {
                    let mut s = vec![b'x'; len];
                    if at < len {
                        s[at] = b;
                    }
                    s.extend_from_slice(b"\"tail");
                    let want = s.iter().position(|&c| !plain(c)).unwrap_or(s.len());
                    assert_eq!(plain_run(&s), want, "byte {b:#04x} at {at} of {len}");
                }
            }
        }
        assert_eq!(plain_run(b""), 0);
        assert_eq!(plain_run(&[b'a'; 19]), 19);
    }

    /// Bytes from a hex string (whitespace ignored).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    // Fixtures: DNS payloads taken with `tshark -T fields -e udp.payload` (or tcp.payload,
    // length prefix removed) from the corpus; expected values from tshark's dissection.

    /// Written by hand: AAAA a.b, answered 2001:db8::1, ::ffff:10.0.0.1 and
    /// 1:0:0:2:0:0:0:3 (the longer zero run shortened), then an AAAA whose rdata is 4
    /// bytes (shown generically).
    pub(crate) const AAAA_R: &str = "1234818000010004000000000161016200001c0001\
        c00c001c000100000e10001020010db8000000000000000000000001\
        c00c001c000100000e10001000000000000000000000ffff0a000001\
        c00c001c000100000e10001000010000000000020000000000000003\
        c00c001c000100000e1000040a000001";
    /// tcpdump/dns_udp.pcap #1: A www.tcpdump.org, RD+AD, EDNS0 4096 with a cookie.
    pub(crate) const TCPDUMP_Q: &str = "593401200001000000000001037777770774637064756d70036f72670000010001\
        000029100000000000000c000a000842f5d00996f90b13";
    /// tcpdump/dns_udp.pcap #2: its response (2 A, 2 NS, 4 glue + OPT).
    pub(crate) const TCPDUMP_R: &str = "593485000001000200020005037777770774637064756d70036f72670000010001\
        c00c000100010000003c0004c08b2e42c00c000100010000003c0004c6c75868c0100002000100015180001203736e73\
        08636f6f7065726978036e657400c01000020001000151800012036e69630973616e64656c6d616e02636100c06b0001\
        00010000012c0004d157f912c06b001c00010000012c00102607f0b0000f000000000000babef00dc04d000100010000\
        1c200004616b850fc04d001c000100001c20001026003c0300000000f03c91fffe96e8ef0000291000000000000000";
    /// suricata-verify dns-forward-pointer #1: two questions, the first a forward pointer.
    pub(crate) const FWDPTR_Q: &str =
        "8e0401000002000000000000c012000100010a636f64656d6f6e6b6579036e65740000010001";
    /// tcpdump/dns-zlip-1.pcap (bytes past the UDP header): question name `c00c` points at
    /// itself.
    pub(crate) const ZLIP1: &str =
        "ed6900000001000000000000c00cc007c010c017c020c027c030c0ffcf0000000100 01";
    /// tcpdump/dns-zlip-2.pcap: `c00e` → `c00c` → `c00e`, a two-pointer loop.
    pub(crate) const ZLIP2: &str =
        "4a3000000001000000000000c00ec00cc010c017c020c027c030c0ffcf000000010001";
    /// suricata-verify dns-udp-eve-log-srv #2: two SRV answers, OPT.
    pub(crate) const SRV_R: &str = "eb5681800001000200000001045f736970045f7564700373697005766f69636506676f6f676c6503636f6d\
        0000210001c00c002100010000011300260014000113c40d7369702d616e79636173742d3205766f69636506676f6f67\
        6c6503636f6d00c00c00210001000001130026000a000113c40d7369702d616e79636173742d3105766f69636506676f\
        6f676c6503636f6d000000291000000000000000";
    /// packetbeat dns_mx.pcap #2: five MX answers, four NS authorities.
    pub(crate) const MX_R: &str = "d9fc8180000100050004000007656c617374696302636f00000f0001c00c000f0001000001140016000105\
        6173706d78016c06676f6f676c6503636f6d00c00c000f0001000001140009000a04616c7433c02ac00c000f00010000\
        01140009000a04616c7434c02ac00c000f0001000001140009000504616c7431c02ac00c000f00010000011400090005\
        04616c7432c02ac00c000200010002a2e80017076e732d3131383309617773646e732d3139036f726700c00c00020001\
        0002a2e80019076e732d3230303709617773646e732d353802636f02756b00c00c000200010002a2e80012056e732d36\
        3609617773646e732d3038c039c00c000200010002a2e80016066e732d38333509617773646e732d3430036e657400";
    /// suricata-verify dns-udp-eve-txt #2: one TXT answer.
    pub(crate) const TXT_R: &str = "6e538180000100010000000106676f6f676c6503636f6d0000100001c00c0010000100000c91002423763d\
        7370663120696e636c7564653a5f7370662e676f6f676c652e636f6d207e616c6c0000291000000000000000";
    /// deepflow dns/a-and-ns.pcap #4: AAAA query answered with an SOA in authority.
    pub(crate) const SOA_R: &str = "1cf485800001000000010000026161026262026363036464640365656503666666077a71797465737403\
        636f6d00001c0001c0210006000100002a300020026e73c02104726f6f74c02178492d2100002a3000000e1000093a80\
        00002a30";
    /// zeek dns-caa.pcap #2: a CAA answer (decoded generically).
    pub(crate) const CAA_R: &str = "355e8180000100010000000006676f6f676c6503636f6d0001010001c00c010100010000544900130005\
        697373756573796d616e7465632e636f6d";
    /// pcap-parser wireshark_samples-test.pcapng #82: mDNS query, four PTR "QU" questions.
    pub(crate) const MDNS_Q: &str = "000000000004000000000001055f72616f70045f746370056c6f63616c00000c8001085f616972706c6179\
        c012000c8001085f686f6d656b6974c012000c80010c5f736c6565702d70726f7879045f756470c017000c8001000029\
        05a00000119400120004000e00216aa195d27e0348a195d27e03";

    #[test]
    fn query_header_question_edns() {
        let m = parse_message(&hex(TCPDUMP_Q)).unwrap();
        let h = m.header;
        assert_eq!(h.id, 0x5934);
        assert!(!h.qr && h.rd && h.ad && !h.tc && !h.aa && !h.ra);
        assert_eq!((h.opcode, h.rcode, h.qdcount, h.arcount), (0, 0, 1, 1));
        assert_eq!(
            m.questions,
            vec![Question {
                name: "www.tcpdump.org".into(),
                qtype: 1,
                qclass: 1
            }]
        );
        assert_eq!(
            m.edns,
            Some(Edns {
                udp_size: 4096,
                ext_rcode: 0,
                version: 0,
                dnssec_ok: false
            })
        );
        assert!(m.additionals.is_empty() && !m.incomplete && m.trailing == 0);
    }

    #[test]
    fn response_sections_and_compression() {
        let m = parse_message(&hex(TCPDUMP_R)).unwrap();
        let h = m.header;
        assert!(h.qr && h.aa && h.rd && !h.ra);
        assert_eq!(m.rcode(), 0);
        let shown: Vec<String> = m.answers.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown,
            [
                "www.tcpdump.org A 60 192.139.46.66",
                "www.tcpdump.org A 60 198.199.88.104"
            ]
        );
        let ns: Vec<String> = m.authorities.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(ns, ["sns.cooperix.net", "nic.sandelman.ca"]);
        assert_eq!(m.authorities[0].name, "tcpdump.org");
        assert_eq!(m.authorities[0].ttl, 86400);
        let glue: Vec<String> = m.additionals.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            glue,
            [
                "nic.sandelman.ca A 300 209.87.249.18",
                "nic.sandelman.ca AAAA 300 2607:f0b0:f::babe:f00d",
                "sns.cooperix.net A 7200 97.107.133.15",
                "sns.cooperix.net AAAA 7200 2600:3c03::f03c:91ff:fe96:e8ef",
            ]
        );
        assert_eq!(m.edns.map(|e| e.udp_size), Some(4096));
        assert!(!m.incomplete);
    }

    #[test]
    fn srv_mx_txt_soa_generic() {
        let m = parse_message(&hex(SRV_R)).unwrap();
        assert_eq!(
            m.answers[0].to_string(),
            "_sip._udp.sip.voice.google.com SRV 275 20 1 5060 sip-anycast-2.voice.google.com"
        );
        assert_eq!(
            m.answers[1].data.to_string(),
            "10 1 5060 sip-anycast-1.voice.google.com"
        );

        let m = parse_message(&hex(MX_R)).unwrap();
        let mx: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(
            mx,
            [
                "1 aspmx.l.google.com",
                "10 alt3.aspmx.l.google.com",
                "10 alt4.aspmx.l.google.com",
                "5 alt1.aspmx.l.google.com",
                "5 alt2.aspmx.l.google.com"
            ]
        );
        assert_eq!(m.answers[0].ttl, 276);
        assert_eq!(m.authorities.len(), 4);
        assert_eq!(
            m.authorities[2].data,
            RData::Name("ns-66.awsdns-08.com".into())
        );
        assert_eq!(m.authorities[1].ttl, 172776);

        let m = parse_message(&hex(TXT_R)).unwrap();
        assert_eq!(
            m.answers[0].to_string(),
            "google.com TXT 3217 \"v=spf1 include:_spf.google.com ~all\""
        );
        // Presentation escapes (RFC 1035 §5.1): quote and backslash escaped, other
        // bytes outside printable ASCII as \DDD, one string after another.
        let txt = RData::Txt(vec![
            b"a\"b\\c\x01\xc3\xa9".to_vec(),
            b"".to_vec(),
            b"~".to_vec(),
        ]);
        assert_eq!(txt.to_string(), r#""a\"b\\c\001\195\169" "" "~""#);

        let m = parse_message(&hex(SOA_R)).unwrap();
        assert!(m.answers.is_empty());
        assert_eq!(
            m.authorities[0].data,
            RData::Soa {
                mname: "ns.zqytest.com".into(),
                rname: "root.zqytest.com".into(),
                serial: 2018061601,
                refresh: 10800,
                retry: 3600,
                expire: 604800,
                minimum: 10800
            }
        );
        assert_eq!(m.authorities[0].name, "zqytest.com");

        let m = parse_message(&hex(CAA_R)).unwrap();
        assert_eq!(m.answers[0].rtype, 257);
        assert_eq!(
            m.answers[0].to_string(),
            "google.com CAA 21577 \\# 19 0005697373756573796d616e7465632e636f6d"
        );
    }

    #[test]
    fn several_questions_and_forward_pointer() {
        let m = parse_message(&hex(FWDPTR_Q)).unwrap();
        let names: Vec<(&str, u16)> = m
            .questions
            .iter()
            .map(|q| (q.name.as_str(), q.qtype))
            .collect();
        assert_eq!(names, [("codemonkey.net", 1), ("codemonkey.net", 1)]);

        let m = parse_message(&hex(MDNS_Q)).unwrap();
        let names: Vec<&str> = m.questions.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "_raop._tcp.local",
                "_airplay._tcp.local",
                "_homekit._tcp.local",
                "_sleep-proxy._udp.local"
            ]
        );
        assert!(
            m.questions
                .iter()
                .all(|q| q.qtype == 12 && q.qclass == 0x8001)
        );
        assert_eq!(m.edns.map(|e| e.udp_size), Some(1440));
    }

    #[test]
    fn pointer_loops_are_rejected() {
        assert_eq!(parse_message(&hex(ZLIP1)), Err(Error::BadName));
        assert_eq!(parse_message(&hex(ZLIP2)), Err(Error::BadName));
        // A pointer to the first byte of a name that is the pointer itself, in a record.
        let mut r = hex(TCPDUMP_R);
        let at = 33; // the first answer's owner name (c00c)
        assert_eq!(&r[at..at + 2], &[0xc0, 0x0c]);
        r[at + 1] = at as u8;
        let m = parse_message(&r).unwrap();
        assert!(m.incomplete && m.answers.is_empty());
        // Past the end of the message.
        r[at] = 0xff;
        assert!(parse_message(&r).unwrap().incomplete);
    }

    #[test]
    fn names_are_escaped_and_bounded() {
        // Header, then a question whose label holds "A", space, ".", "\" and 0xff.
        let mut m = hex("000101000001000000000000");
        m.extend_from_slice(&[5, b'A', b' ', b'.', b'\\', 0xff, 0, 0, 1, 0, 1]);
        let q = &parse_message(&m).unwrap().questions[0];
        assert_eq!(q.name, "A\\032\\.\\\\\\255");
        // Root name.
        let root = hex("0001010000010000000000000000020001");
        assert_eq!(parse_message(&root).unwrap().questions[0].name, "<root>");
        // 5 labels of 63 bytes: 321 wire bytes > 255.
        let mut long = hex("000101000001000000000000");
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&long), Err(Error::BadName));
        // The longest text a name can render to: 255 wire bytes of labels whose every
        // byte is escaped as \DDD (3 x 63 + 61 bytes, 1003 characters). The summary's
        // stack-rendered question name must hold all of it.
        let mut widest = hex("000101000001000000000000");
        for len in [63u8, 63, 63, 61] {
            widest.push(len);
            widest.extend(std::iter::repeat_n(0xff, usize::from(len)));
        }
        widest.extend_from_slice(&[0, 0, 1, 0, 1]);
        let name = &parse_message(&widest).unwrap().questions[0].name;
        assert_eq!(name.len(), 4 * 250 + 3);
        let mut scratch = String::new();
        let sum = summarize(&widest, &mut scratch).unwrap();
        assert_eq!(sum.question_name(0), *name);
        // Reserved label type 0x40.
        let mut bad = hex("000101000001000000000000");
        bad.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
        assert_eq!(parse_message(&bad), Err(Error::BadName));
    }

    #[test]
    fn truncated_records_keep_what_came_before() {
        let full = hex(TCPDUMP_R);
        // Cut inside the second answer's address.
        let m = parse_message(&full[..62]).unwrap();
        assert!(m.incomplete);
        assert_eq!(m.questions[0].name, "www.tcpdump.org");
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::A(Ipv4Addr::new(192, 139, 46, 66)));
        // Every prefix: no panic; the header and the question decide success.
        for n in 0..full.len() {
            match parse_message(&full[..n]) {
                Err(Error::ShortHeader) => assert!(n < 12),
                Err(Error::TruncatedQuestion) => assert!((12..33).contains(&n)),
                Err(Error::BadName) => panic!("prefix {n}: bad name"),
                Ok(m) => assert!(n >= 33 && m.incomplete, "prefix {n}"),
            }
        }
    }

    #[test]
    fn names_of_codes() {
        assert_eq!(type_name(28), "AAAA");
        assert_eq!(type_name(65280), "TYPE65280");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(16), "BADVERS");
        assert_eq!(rcode_name(12), "RCODE12");
        assert_eq!(class_name(3), "CH");
        assert_eq!(opcode_name(5), "UPDATE");
    }

    /// xorshift64*, for reproducible mutations.
    pub(crate) struct Rng(pub(crate) u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// `base` with a few random bytes changed (and sometimes cut or extended).
    pub(crate) fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
        let mut m = base.to_vec();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(m.len());
            m[i] = match rng.below(4) {
                0 => 0xc0 | (rng.next() as u8 & 0x3f),
                1 => rng.next() as u8 & 0x3f,
                _ => rng.next() as u8,
            };
        }
        match rng.below(5) {
            0 => m.truncate(rng.below(m.len() + 1)),
            1 => m.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
            _ => {}
        }
        m
    }

    #[test]
    fn random_mutations_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let bases: Vec<Vec<u8>> = [TCPDUMP_R, SRV_R, MX_R, SOA_R, MDNS_Q, FWDPTR_Q]
            .iter()
            .map(|s| hex(s))
            .collect();
        let mut decoded = 0;
        for i in 0..6000 {
            let m = mutate(&mut rng, &bases[i % bases.len()]);
            if let Ok(msg) = parse_message(&m) {
                decoded += 1;
                assert!(msg.answers.len() <= MAX_RECORDS_KEPT);
                for r in &msg.answers {
                    let _ = r.to_string();
                }
            }
        }
        assert!(
            decoded > 1000,
            "mutations mostly keep the header: {decoded}"
        );
    }

    /// The answers of a full parse, joined as a summary renders them (the cut marks
    /// aside, which `answers_are_capped` in the module above checks).
    fn joined(m: &Message) -> String {
        let rendered: Vec<String> = m.answers.iter().map(|r| r.to_string()).collect();
        rendered.join("; ")
    }

    fn agree(b: &[u8], what: &str) {
        let mut scratch = String::new();
        match (parse_message(b), summarize(b, &mut scratch)) {
            (Ok(f), Ok(s)) => {
                assert_eq!(f.header, s.header, "{what}");
                assert_eq!(f.questions.len(), s.questions(), "{what}");
                for (i, q) in f.questions.iter().enumerate() {
                    let mut name = String::new();
                    s.write_question_name(i, &mut name);
                    assert_eq!(s.question_name(i), name, "{what}");
                    assert_eq!(
                        (q.name.as_str(), q.qtype, q.qclass),
                        (name.as_str(), s.question(i).0, s.question(i).1),
                        "{what}"
                    );
                }
                assert_eq!(
                    (f.answers_seen, f.edns, f.incomplete, f.rcode()),
                    (s.answers_seen, s.edns, s.incomplete, s.rcode()),
                    "{what}"
                );
                if s.answers.len() < MAX_RESULT_LEN / 2
                    && usize::from(f.answers_seen) <= MAX_RECORDS_KEPT
                {
                    assert_eq!(joined(&f), s.answers.as_str(), "{what}");
                }
            }
            (f, s) => assert_eq!(f.err(), s.err(), "{what}"),
        }
    }

    /// A response to `xyz A` announcing `announced` answers, of which `whole` are whole A
    /// records and the next (if any) is cut after its owner name.
    fn many_answers(announced: u16, whole: u16) -> Vec<u8> {
        let mut m = hex("abcd818000010000000000000378797a0000010001");
        m[6..8].copy_from_slice(&announced.to_be_bytes());
        for i in 0..whole {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0]);
            m.extend_from_slice(&i.to_be_bytes());
        }
        if whole < announced {
            m.extend_from_slice(&[0xc0, 12]);
        }
        m
    }

    #[test]
    fn answers_past_the_kept_ones() {
        let kept = MAX_RECORDS_KEPT as u16;
        let mut scratch = String::new();
        // One more answer announced than kept, and it is cut short: no cut mark, the
        // message is incomplete — as the full parse says.
        let m = many_answers(kept + 1, kept);
        agree(&m, "cut after the kept answers");
        let s = summarize(&m, &mut scratch).unwrap();
        assert!(s.incomplete);
        assert_eq!(s.answers_seen, kept);
        assert!(
            s.answers.ends_with(&format!("10.0.0.{}", kept - 1)),
            "{}",
            s.answers
        );
        // Two more, whole: they count, and the text says some were left out.
        let m = many_answers(kept + 2, kept + 2);
        agree(&m, "two past the kept answers");
        let s = summarize(&m, &mut scratch).unwrap();
        assert!(!s.incomplete);
        assert_eq!(s.answers_seen, kept + 2);
        assert!(
            s.answers.ends_with(&format!("10.0.0.{}; ...", kept - 1)),
            "{}",
            s.answers
        );
    }

    #[test]
    fn aaaa_answers_in_rfc5952_text() {
        let mut scratch = String::new();
        let m = hex(AAAA_R);
        let s = summarize(&m, &mut scratch).unwrap();
        assert_eq!(
            s.answers,
            "a.b AAAA 3600 2001:db8::1; a.b AAAA 3600 ::ffff:10.0.0.1; \
             a.b AAAA 3600 1:0:0:2::3; a.b AAAA 3600 \\# 4 0a000001"
        );
    }

    #[test]
    fn summary_agrees_with_the_full_parse() {
        let mut rng = Rng(0x5eed_d15c);
        for h in [
            TCPDUMP_Q, TCPDUMP_R, FWDPTR_Q, SRV_R, MX_R, TXT_R, SOA_R, CAA_R, MDNS_Q, AAAA_R,
        ] {
            let b = hex(h);
            for cut in 0..=b.len() {
                agree(&b[..cut], &format!("{h} cut {cut}"));
            }
            for i in 0..500 {
                let m = mutate(&mut rng, &b);
                agree(&m, &format!("{h} mutation {i}: {m:02x?}"));
            }
        }
    }
}
