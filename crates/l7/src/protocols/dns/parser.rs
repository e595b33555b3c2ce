//! A pure DNS message decoder (RFC 1035, RFC 3596, RFC 2782, RFC 6891): `&[u8]` →
//! [`Message`] | [`Error`]. Never panics and does bounded work on any input: names are
//! limited to 255 wire bytes and [`MAX_POINTER_HOPS`] compression pointers (forward
//! pointers are followed, as Suricata and Wireshark do; loops end at the hop limit), and at
//! most [`MAX_RECORDS_KEPT`] records are kept per section.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

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
    pub name: String,
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
    Name(String),
    /// MX.
    Mx {
        /// Preference.
        preference: u16,
        /// Mail exchanger.
        exchange: String,
    },
    /// TXT: the character-strings, raw.
    Txt(Vec<Vec<u8>>),
    /// SOA.
    Soa {
        /// Primary name server.
        mname: String,
        /// Responsible mailbox.
        rname: String,
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
        target: String,
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

impl std::fmt::Display for RData {
    /// Presentation form (RFC 1035 §5.1; RFC 3597 `\# len hex` for generic data).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RData::A(a) => write!(f, "{a}"),
            RData::Aaaa(a) => write!(f, "{a}"),
            RData::Name(n) => f.write_str(n),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Txt(strings) => {
                for (i, s) in strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    f.write_str("\"")?;
                    for &b in s {
                        match b {
                            b'"' | b'\\' => write!(f, "\\{}", b as char)?,
                            0x20..=0x7e => write!(f, "{}", b as char)?,
                            _ => write!(f, "\\{b:03}")?,
                        }
                    }
                    f.write_str("\"")?;
                }
                Ok(())
            }
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
    pub name: String,
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
        write!(
            f,
            "{} {} {} {}",
            self.name,
            type_name(self.rtype),
            self.ttl,
            self.data
        )
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
        let hi = self.edns.map_or(0, |e| u16::from(e.ext_rcode));
        (hi << 4) | u16::from(self.header.rcode)
    }
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
                        msg.edns = Some(Edns {
                            udp_size: rec.class,
                            ext_rcode: (rec.ttl >> 24) as u8,
                            version: (rec.ttl >> 16) as u8,
                            dnssec_ok: rec.ttl & 0x8000 != 0,
                        });
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

fn be16(b: &[u8], pos: usize) -> Option<u16> {
    let s = b.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], pos: usize) -> Option<u32> {
    let s = b.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn read_question(b: &[u8], pos: usize) -> Result<(Question, usize), Error> {
    let (name, pos) = name(b, pos).map_err(|short| {
        if short {
            Error::TruncatedQuestion
        } else {
            Error::BadName
        }
    })?;
    let qtype = be16(b, pos).ok_or(Error::TruncatedQuestion)?;
    let qclass = be16(b, pos + 2).ok_or(Error::TruncatedQuestion)?;
    Ok((
        Question {
            name,
            qtype,
            qclass,
        },
        pos + 4,
    ))
}

fn read_record(b: &[u8], pos: usize) -> Option<(Record, usize)> {
    let (name, pos) = read_name(b, pos)?;
    let rtype = be16(b, pos)?;
    let class = be16(b, pos + 2)?;
    let ttl = be32(b, pos + 4)?;
    let rdlen = be16(b, pos + 8)?;
    let start = pos + 10;
    let end = start.checked_add(usize::from(rdlen))?;
    if end > b.len() {
        return None;
    }
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
fn rdata_name(b: &[u8], pos: usize, end: usize) -> Option<(String, usize)> {
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
        16 => {
            let mut strings = Vec::new();
            let mut p = 0;
            while p < rd.len() {
                let l = usize::from(rd[p]);
                let s = rd.get(p + 1..p + 1 + l)?;
                strings.push(s.to_vec());
                p += 1 + l;
            }
            RData::Txt(strings)
        }
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
pub fn read_name(b: &[u8], pos: usize) -> Option<(String, usize)> {
    name(b, pos).ok()
}

/// [`read_name`], telling a name cut short by the end of the message (`Err(true)`) from a
/// malformed one (`Err(false)`).
fn name(b: &[u8], pos: usize) -> Result<(String, usize), bool> {
    let mut out = String::new();
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
                if !out.is_empty() {
                    out.push('.');
                }
                for &c in label {
                    match c {
                        b'.' | b'\\' => {
                            out.push('\\');
                            out.push(c as char);
                        }
                        0x21..=0x7e => out.push(c as char),
                        _ => {
                            let _ = write!(out, "\\{c:03}");
                        }
                    }
                }
                p += 1 + l;
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
    let next = after.unwrap_or(p + 1);
    if out.is_empty() {
        out.push_str("<root>");
    }
    Ok((out, next))
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
