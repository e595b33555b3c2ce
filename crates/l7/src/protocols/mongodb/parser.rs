//! The MongoDB wire-protocol decoder, pure and incremental: a 16-byte [`Header`], then a
//! [`MessageDecoder`] that is pushed the rest of the message in pieces of any size and
//! keeps only what the `l7_sessions` row needs (command name, database, collection, `ok`,
//! error code and message, cursor id, batch length...). Nothing is buffered beyond one
//! small token (an element header, a captured string prefix), so a 48 MiB reply costs the
//! same memory as a 100-byte one. OP_COMPRESSED bodies (noop, snappy, zlib, zstd) are
//! decompressed as they stream in; OP_MSG checksums (CRC-32C) are verified on the way.

use std::io;

/// Bytes of the standard message header.
pub const HEADER_LEN: usize = 16;
/// Largest message accepted (the protocol's 48 MB `maxMessageSizeBytes`, as 48 MiB).
pub const MAX_MESSAGE_LEN: u32 = 48 * 1024 * 1024;
/// Largest BSON document accepted (16 MiB plus the server's 16 KiB of command overhead).
pub const MAX_DOC_LEN: u32 = 16 * 1024 * 1024 + 16 * 1024;
/// Deepest BSON nesting walked.
pub const MAX_DEPTH: usize = 32;
/// Longest string value kept (longer ones are truncated at a character boundary).
pub const MAX_STR: usize = 512;
/// Longest element name or C string (namespace, sequence identifier) accepted.
pub const MAX_CSTRING: usize = 1024;
/// Most kind-1 document sequences remembered per message.
pub const MAX_SEQUENCES: usize = 8;
/// Largest token (element header plus a captured string prefix) ever held across pieces.
const MAX_TOKEN: usize = 4096;
/// Decompressed bytes produced per decompressor call.
const OUT_CHUNK: usize = 16 * 1024;
/// Snappy history kept for back-references (the format's encoders use 64 KiB blocks).
const SNAPPY_WINDOW: usize = 64 * 1024;

/// OP_REPLY (legacy reply).
pub const OP_REPLY: i32 = 1;
/// OP_UPDATE (legacy).
pub const OP_UPDATE: i32 = 2001;
/// OP_INSERT (legacy).
pub const OP_INSERT: i32 = 2002;
/// OP_QUERY (legacy; still used for the handshake).
pub const OP_QUERY: i32 = 2004;
/// OP_GET_MORE (legacy).
pub const OP_GET_MORE: i32 = 2005;
/// OP_DELETE (legacy).
pub const OP_DELETE: i32 = 2006;
/// OP_KILL_CURSORS (legacy).
pub const OP_KILL_CURSORS: i32 = 2007;
/// OP_COMMAND (deprecated, 3.2–3.6 internal).
pub const OP_COMMAND: i32 = 2010;
/// OP_COMMANDREPLY (deprecated).
pub const OP_COMMANDREPLY: i32 = 2011;
/// OP_COMPRESSED.
pub const OP_COMPRESSED: i32 = 2012;
/// OP_MSG.
pub const OP_MSG: i32 = 2013;

/// OP_MSG flag: a CRC-32C checksum ends the message.
pub const MSG_CHECKSUM_PRESENT: u32 = 1;
/// OP_MSG flag: another message follows without a reply (exhaust, unacknowledged writes).
pub const MSG_MORE_TO_COME: u32 = 1 << 1;
/// OP_MSG flag: the client accepts exhaust replies.
pub const MSG_EXHAUST_ALLOWED: u32 = 1 << 16;
/// OP_REPLY flag: the cursor id was not found.
pub const REPLY_CURSOR_NOT_FOUND: u32 = 1;
/// OP_REPLY flag: the query failed; the single document holds `$err`.
pub const REPLY_QUERY_FAILURE: u32 = 1 << 1;

/// The name of an opcode, `None` when unknown.
pub fn opcode_name(op: i32) -> Option<&'static str> {
    Some(match op {
        OP_REPLY => "OP_REPLY",
        OP_UPDATE => "OP_UPDATE",
        OP_INSERT => "OP_INSERT",
        OP_QUERY => "OP_QUERY",
        OP_GET_MORE => "OP_GET_MORE",
        OP_DELETE => "OP_DELETE",
        OP_KILL_CURSORS => "OP_KILL_CURSORS",
        OP_COMMAND => "OP_COMMAND",
        OP_COMMANDREPLY => "OP_COMMANDREPLY",
        OP_COMPRESSED => "OP_COMPRESSED",
        OP_MSG => "OP_MSG",
        _ => return None,
    })
}

/// The name of a compressor id (OP_COMPRESSED), `None` when unknown.
pub fn compressor_name(id: u8) -> Option<&'static str> {
    Some(match id {
        0 => "noop",
        1 => "snappy",
        2 => "zlib",
        3 => "zstd",
        _ => return None,
    })
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn i32le(b: &[u8], at: usize) -> Option<i32> {
    u32le(b, at).map(|v| v as i32)
}

fn i64le(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Text of at most `max` bytes (cut at a character boundary), invalid UTF-8 replaced.
pub fn bounded_text(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(max + 4)]);
    truncate(&s, max).to_owned()
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The standard message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total message length, header included.
    pub len: u32,
    /// Sender's id of this message.
    pub request_id: i32,
    /// The `request_id` this message answers (0 for requests).
    pub response_to: i32,
    /// Opcode.
    pub opcode: i32,
}

impl Header {
    /// Reads the first 16 bytes; `None` when fewer.
    pub fn parse(b: &[u8]) -> Option<Header> {
        Some(Header {
            len: u32le(b, 0)?,
            request_id: i32le(b, 4)?,
            response_to: i32le(b, 8)?,
            opcode: i32le(b, 12)?,
        })
    }

    /// Length within bounds and a known opcode.
    pub fn sane(&self) -> bool {
        self.len as usize >= HEADER_LEN
            && self.len <= MAX_MESSAGE_LEN
            && opcode_name(self.opcode).is_some()
    }
}

/// CRC-32C (Castagnoli), as OP_MSG checksums use.
#[derive(Debug, Clone, Copy)]
pub struct Crc32c(u32);

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

impl Default for Crc32c {
    fn default() -> Self {
        Crc32c(!0)
    }
}

impl Crc32c {
    /// Adds bytes.
    pub fn update(&mut self, b: &[u8]) {
        let mut c = self.0;
        for &x in b {
            c = CRC_TABLE[((c ^ u32::from(x)) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of the bytes added.
    pub fn value(&self) -> u32 {
        !self.0
    }
}

/// What is kept of a document sequence (`errors` within the first element of
/// `writeErrors`, or `writeConcernError`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorInfo {
    /// `code`.
    pub code: Option<i64>,
    /// `codeName`.
    pub code_name: Option<String>,
    /// `errmsg`.
    pub errmsg: Option<String>,
}

/// What is kept of a top-level BSON document (a command, a reply).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    /// Name of the first element (the command name of a command).
    pub first_key: Option<String>,
    /// Value of the first element when a string (the collection of most commands).
    pub first_str: Option<String>,
    /// Value of the first element when an integer (getMore's cursor id).
    pub first_int: Option<i64>,
    /// First element of a `$query` wrapper (legacy commands through mongos).
    pub wrapped_key: Option<String>,
    /// Its value when a string.
    pub wrapped_str: Option<String>,
    /// `$db`.
    pub db: Option<String>,
    /// `collection` (getMore).
    pub collection: Option<String>,
    /// `ok` (a number or a boolean).
    pub ok: Option<f64>,
    /// `code`, `codeName`, `errmsg`.
    pub error: ErrorInfo,
    /// `$err` (legacy query failure).
    pub dollar_err: Option<String>,
    /// `err` when a string (getLastError).
    pub err: Option<String>,
    /// `n`.
    pub n: Option<i64>,
    /// `nModified`.
    pub n_modified: Option<i64>,
    /// Elements of `writeErrors`.
    pub write_errors: Option<u64>,
    /// The first of them.
    pub write_error: ErrorInfo,
    /// `writeConcernError`, when present.
    pub write_concern_error: Option<ErrorInfo>,
    /// `cursor.id`.
    pub cursor_id: Option<i64>,
    /// `cursor.ns`.
    pub cursor_ns: Option<String>,
    /// Length of `cursor.firstBatch` or `cursor.nextBatch`.
    pub batch_len: Option<u64>,
    /// Top-level elements.
    pub elements: u64,
}

/// Result of one decoding step on a contiguous piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `n` bytes were used, then `skip` more are to be passed over.
    Used(usize, u64),
    /// The token at this position is longer than the bytes given.
    More,
    /// Malformed.
    Err,
}

/// A decoder driven by a [`Feeder`].
trait Stepper {
    /// Decodes the token at `pos` (offset within the stream) from `d` (never past the
    /// stream's end).
    fn step(&mut self, d: &[u8], pos: u64) -> Step;
    /// True once everything expected was decoded.
    fn complete(&self) -> bool;
}

/// Drives a [`Stepper`] over a stream of known length pushed in pieces: skips what it is
/// told to, and holds a token split across pieces (bounded by `MAX_TOKEN`).
#[derive(Debug, Default)]
struct Feeder {
    len: u64,
    /// Bytes received.
    fed: u64,
    /// Bytes decoded or skipped (`fed - carry.len()` unless failed).
    pos: u64,
    skip: u64,
    carry: Vec<u8>,
    failed: bool,
}

impl Feeder {
    fn new(len: u64) -> Self {
        Feeder {
            len,
            ..Feeder::default()
        }
    }

    fn remaining(&self) -> u64 {
        self.len - self.fed
    }

    /// Pushes `input` (cut to what remains of the stream; returns false when cut).
    fn feed(&mut self, s: &mut dyn Stepper, input: &[u8]) -> bool {
        let room = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        let fits = input.len() <= room;
        let input = &input[..input.len().min(room)];
        self.fed += input.len() as u64;
        if !fits {
            self.failed = true;
        }
        self.process(s, input);
        fits
    }

    fn process(&mut self, s: &mut dyn Stepper, mut input: &[u8]) {
        while !input.is_empty() && !self.failed {
            if self.skip > 0 {
                let k = (self.skip.min(input.len() as u64)) as usize;
                self.skip -= k as u64;
                self.pos += k as u64;
                input = &input[k..];
                continue;
            }
            if self.pos >= self.len {
                self.failed = true;
                break;
            }
            if self.carry.is_empty() {
                match s.step(input, self.pos) {
                    Step::Used(n, skip) if (n > 0 || skip > 0) && n <= input.len() => {
                        self.pos += n as u64;
                        self.skip = skip;
                        input = &input[n..];
                    }
                    Step::More if input.len() < MAX_TOKEN => {
                        self.carry.extend_from_slice(input);
                        input = &[];
                    }
                    _ => self.failed = true,
                }
            } else {
                let old = self.carry.len();
                let k = input.len().min(MAX_TOKEN.saturating_sub(old));
                self.carry.extend_from_slice(&input[..k]);
                match s.step(&self.carry, self.pos) {
                    Step::Used(n, skip) if (n > 0 || skip > 0) && n <= self.carry.len() => {
                        self.pos += n as u64;
                        self.skip = skip;
                        if n >= old {
                            self.carry.clear();
                            input = &input[n - old..];
                        } else {
                            // Part of what was held lies past the token: decode it first.
                            let rest = self.carry[n..old].to_vec();
                            self.carry.clear();
                            self.process(s, &rest);
                        }
                    }
                    Step::More if self.carry.len() < MAX_TOKEN => input = &input[k..],
                    _ => self.failed = true,
                }
            }
        }
    }

    /// Everything arrived and was decoded.
    fn done(&self, s: &dyn Stepper) -> bool {
        !self.failed
            && self.fed == self.len
            && self.pos == self.len
            && self.skip == 0
            && self.carry.is_empty()
            && s.complete()
    }
}

/// Where in the document the walker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Wrapped,
    Cursor,
    Batch,
    WriteErrors,
    WriteError,
    ConcernError,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Offset of the terminating NUL.
    end: u64,
    ctx: Ctx,
    elements: u64,
}

/// Walks one BSON document, keeping a [`Doc`].
#[derive(Debug)]
struct Walker {
    limit: u64,
    pos: u64,
    stack: Vec<Frame>,
    started: bool,
    done: bool,
    doc: Doc,
}

/// Length of the value of BSON type `t` starting at `v` (`v` holds what arrived of it):
/// `Ok(None)` when more bytes are needed to tell.
fn value_len(t: u8, v: &[u8]) -> Result<Option<u64>, ()> {
    let fixed = match t {
        0x01 | 0x09 | 0x11 | 0x12 => 8,
        0x06 | 0x0A | 0xFF | 0x7F => 0,
        0x07 => 12,
        0x08 => 1,
        0x10 => 4,
        0x13 => 16,
        0x0B => {
            // Regular expression: two C strings.
            let Some(a) = v.iter().take(MAX_CSTRING + 1).position(|&c| c == 0) else {
                return if v.len() > MAX_CSTRING {
                    Err(())
                } else {
                    Ok(None)
                };
            };
            let rest = &v[a + 1..];
            let Some(b) = rest.iter().take(MAX_CSTRING + 1).position(|&c| c == 0) else {
                return if rest.len() > MAX_CSTRING {
                    Err(())
                } else {
                    Ok(None)
                };
            };
            return Ok(Some((a + b + 2) as u64));
        }
        0x02 | 0x0D | 0x0E | 0x0C | 0x05 | 0x03 | 0x04 | 0x0F => {
            let Some(n) = i32le(v, 0) else {
                return Ok(None);
            };
            if n < 0 || n as u32 > MAX_DOC_LEN {
                return Err(());
            }
            let n = n as u64;
            return match t {
                0x02 | 0x0D | 0x0E if n >= 1 => Ok(Some(4 + n)),
                0x0C if n >= 1 => Ok(Some(4 + n + 12)),
                0x05 => Ok(Some(5 + n)),
                0x03 | 0x04 if n >= 5 => Ok(Some(n)),
                0x0F if n >= 14 => Ok(Some(n)),
                _ => Err(()),
            };
        }
        _ => return Err(()),
    };
    Ok(Some(fixed))
}

/// A number (double, int32, int64, boolean) as i64 / f64.
fn number(t: u8, v: &[u8]) -> Option<f64> {
    match t {
        0x01 => Some(f64::from_le_bytes(v.get(..8)?.try_into().ok()?)),
        0x10 => i32le(v, 0).map(f64::from),
        0x12 => i64le(v, 0).map(|x| x as f64),
        0x08 => v.first().map(|&b| f64::from(u8::from(b != 0))),
        _ => None,
    }
}

fn integer(t: u8, v: &[u8]) -> Option<i64> {
    match t {
        0x10 => i32le(v, 0).map(i64::from),
        0x12 => i64le(v, 0),
        0x01 => {
            let f = f64::from_le_bytes(v.get(..8)?.try_into().ok()?);
            (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
        }
        _ => None,
    }
}

/// What to do with an element.
enum Want {
    Skip,
    Num,
    Str,
    Descend(Ctx),
}

impl Walker {
    fn new(limit: u64) -> Self {
        Walker {
            limit,
            pos: 0,
            stack: Vec::new(),
            started: false,
            done: false,
            doc: Doc::default(),
        }
    }

    fn want(ctx: Ctx, index: u64, t: u8, key: &[u8]) -> Want {
        let is_doc = t == 0x03;
        let is_arr = t == 0x04;
        match ctx {
            Ctx::Top => match key {
                _ if index == 0 && t == 0x02 => Want::Str,
                _ if index == 0 && matches!(t, 0x10 | 0x12) => Want::Num,
                b"$query" if is_doc => Want::Descend(Ctx::Wrapped),
                b"$db" | b"collection" | b"codeName" | b"errmsg" | b"$err" | b"err"
                    if t == 0x02 =>
                {
                    Want::Str
                }
                b"ok" | b"code" | b"n" | b"nModified" => Want::Num,
                b"cursor" if is_doc => Want::Descend(Ctx::Cursor),
                b"writeErrors" if is_arr => Want::Descend(Ctx::WriteErrors),
                b"writeConcernError" if is_doc => Want::Descend(Ctx::ConcernError),
                _ => Want::Skip,
            },
            Ctx::Wrapped if index == 0 => {
                if t == 0x02 {
                    Want::Str
                } else {
                    Want::Num
                }
            }
            Ctx::Cursor => match key {
                b"id" => Want::Num,
                b"ns" if t == 0x02 => Want::Str,
                b"firstBatch" | b"nextBatch" if is_arr => Want::Descend(Ctx::Batch),
                _ => Want::Skip,
            },
            Ctx::WriteErrors if index == 0 && is_doc => Want::Descend(Ctx::WriteError),
            Ctx::WriteError | Ctx::ConcernError => match key {
                b"code" => Want::Num,
                b"codeName" | b"errmsg" if t == 0x02 => Want::Str,
                _ => Want::Skip,
            },
            _ => Want::Skip,
        }
    }

    fn record_num(&mut self, ctx: Ctx, index: u64, key: &[u8], t: u8, v: &[u8]) {
        let d = &mut self.doc;
        let err = match ctx {
            Ctx::WriteError => Some(&mut d.write_error),
            Ctx::ConcernError => d.write_concern_error.as_mut(),
            _ => None,
        };
        if let Some(e) = err {
            e.code = integer(t, v).or(e.code);
            return;
        }
        if ctx == Ctx::Top && index == 0 {
            d.first_int = integer(t, v);
        }
        match (ctx, key) {
            (Ctx::Wrapped, _) if index == 0 => {
                d.wrapped_key = Some(bounded_text(key, 64));
            }
            (Ctx::Top, b"ok") => d.ok = number(t, v),
            (Ctx::Top, b"code") => d.error.code = integer(t, v),
            (Ctx::Top, b"n") => d.n = integer(t, v),
            (Ctx::Top, b"nModified") => d.n_modified = integer(t, v),
            (Ctx::Cursor, b"id") => d.cursor_id = integer(t, v),
            _ => {}
        }
    }

    fn record_str(&mut self, ctx: Ctx, index: u64, key: &[u8], s: String) {
        let d = &mut self.doc;
        let err = match ctx {
            Ctx::WriteError => Some(&mut d.write_error),
            Ctx::ConcernError => d.write_concern_error.as_mut(),
            _ => None,
        };
        if let Some(e) = err {
            match key {
                b"codeName" => e.code_name = Some(s),
                _ => e.errmsg = Some(s),
            }
            return;
        }
        if ctx == Ctx::Top && index == 0 {
            d.first_str = Some(s.clone());
        }
        match (ctx, key) {
            (Ctx::Wrapped, _) => {
                d.wrapped_key = Some(bounded_text(key, 64));
                d.wrapped_str = Some(s);
            }
            (Ctx::Top, b"$db") => d.db = Some(s),
            (Ctx::Top, b"collection") => d.collection = Some(s),
            (Ctx::Top, b"codeName") => d.error.code_name = Some(s),
            (Ctx::Top, b"errmsg") => d.error.errmsg = Some(s),
            (Ctx::Top, b"$err") => d.dollar_err = Some(s),
            (Ctx::Top, b"err") => d.err = Some(s),
            (Ctx::Cursor, b"ns") => d.cursor_ns = Some(s),
            _ => {}
        }
    }

    fn step(&mut self, d: &[u8]) -> Step {
        let r = self.step_inner(d);
        if let Step::Used(n, skip) = r {
            self.pos += n as u64 + skip;
        }
        r
    }

    fn step_inner(&mut self, d: &[u8]) -> Step {
        if self.done {
            return Step::Err;
        }
        if !self.started {
            let Some(n) = i32le(d, 0) else {
                return Step::More;
            };
            if n < 5 || n as u32 > MAX_DOC_LEN || n as u64 > self.limit {
                return Step::Err;
            }
            self.started = true;
            self.stack.push(Frame {
                end: n as u64 - 1,
                ctx: Ctx::Top,
                elements: 0,
            });
            return Step::Used(4, 0);
        }
        let Some(top) = self.stack.last().copied() else {
            return Step::Err;
        };
        if self.pos >= top.end {
            if self.pos > top.end || d[0] != 0 {
                return Step::Err;
            }
            self.stack.pop();
            match top.ctx {
                Ctx::Top => {
                    self.doc.elements = top.elements;
                    self.done = true;
                }
                Ctx::Batch => self.doc.batch_len = Some(top.elements),
                Ctx::WriteErrors => self.doc.write_errors = Some(top.elements),
                _ => {}
            }
            return Step::Used(1, 0);
        }
        let t = d[0];
        let Some(klen) = d[1..].iter().take(MAX_CSTRING + 1).position(|&c| c == 0) else {
            return if d.len() > MAX_CSTRING + 1 {
                Step::Err
            } else {
                Step::More
            };
        };
        let key = &d[1..1 + klen];
        let hdr = 2 + klen;
        let v = &d[hdr..];
        let vlen = match value_len(t, v) {
            Err(()) => return Step::Err,
            Ok(None) => return Step::More,
            Ok(Some(l)) => l,
        };
        if self.pos + hdr as u64 + vlen > top.end {
            return Step::Err;
        }
        let index = top.elements;
        let want = Self::want(top.ctx, index, t, key);
        let ready = match want {
            Want::Num => v.len() as u64 >= vlen.min(16),
            Want::Str => v.len() >= 4 + ((vlen - 5) as usize).min(MAX_STR),
            Want::Skip | Want::Descend(_) => true,
        };
        if !ready {
            return Step::More;
        }
        if let Some(f) = self.stack.last_mut() {
            f.elements += 1;
        }
        if top.ctx == Ctx::Top && index == 0 {
            self.doc.first_key = Some(bounded_text(key, 64));
        }
        match want {
            Want::Skip => Step::Used(hdr, vlen),
            Want::Num => {
                let key = key.to_vec();
                self.record_num(top.ctx, index, &key, t, v);
                Step::Used(hdr, vlen)
            }
            Want::Str => {
                // String: int32 length (with the NUL), bytes, NUL.
                let keep = ((vlen - 5) as usize).min(MAX_STR);
                let s = bounded_text(&v[4..4 + keep], MAX_STR);
                let key = key.to_vec();
                self.record_str(top.ctx, index, &key, s);
                Step::Used(hdr + 4 + keep, vlen - 4 - keep as u64)
            }
            Want::Descend(ctx) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Step::Used(hdr, vlen);
                }
                match ctx {
                    Ctx::Batch => self.doc.batch_len = Some(0),
                    Ctx::ConcernError => {
                        self.doc.write_concern_error = Some(ErrorInfo::default());
                    }
                    _ => {}
                }
                self.stack.push(Frame {
                    end: self.pos + hdr as u64 + vlen - 1,
                    ctx,
                    elements: 0,
                });
                Step::Used(hdr + 4, 0)
            }
        }
    }
}

/// A document sequence of an OP_MSG (section kind 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    /// Its identifier (`documents`, `updates`, `deletes`...).
    pub identifier: String,
    /// Documents in it.
    pub documents: u64,
}

/// What is kept of a message body (after the header; decompressed when OP_COMPRESSED).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    /// OP_MSG flagBits, OP_QUERY flags, OP_REPLY responseFlags.
    pub flags: u32,
    /// fullCollectionName of the legacy opcodes; the database of OP_COMMAND.
    pub namespace: Option<String>,
    /// commandName of OP_COMMAND.
    pub command_name: Option<String>,
    /// OP_REPLY cursorID, OP_GET_MORE cursorID.
    pub cursor_id: Option<i64>,
    /// OP_REPLY numberReturned.
    pub number_returned: Option<i32>,
    /// OP_GET_MORE / OP_QUERY numberToReturn.
    pub number_to_return: Option<i32>,
    /// OP_KILL_CURSORS numberOfCursorIDs.
    pub cursors_killed: Option<i32>,
    /// The OP_MSG body (section kind 0), the OP_QUERY query, the first OP_REPLY document.
    pub doc: Option<Doc>,
    /// OP_MSG document sequences (at most [`MAX_SEQUENCES`]).
    pub sequences: Vec<Sequence>,
    /// Documents counted: in OP_MSG sequences, OP_INSERT, OP_REPLY.
    pub documents: u64,
    /// The OP_MSG checksum, when present.
    pub checksum: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Prefix,
    Section,
    SeqDocs {
        end: u64,
    },
    /// Documents up to the end of the body; the first is walked when `walk`.
    Docs {
        walk: bool,
    },
    Checksum,
    Rest,
}

/// Decodes a body of a given opcode.
#[derive(Debug)]
struct BodyParser {
    opcode: i32,
    len: u64,
    sections_end: u64,
    phase: Phase,
    walker: Option<Walker>,
    out: Body,
}

/// A C string at the start of `d`: `(text, bytes used with the NUL)`.
fn cstring(d: &[u8]) -> Result<Option<(String, usize)>, ()> {
    match d.iter().take(MAX_CSTRING + 1).position(|&c| c == 0) {
        Some(i) => Ok(Some((bounded_text(&d[..i], MAX_STR), i + 1))),
        None if d.len() > MAX_CSTRING => Err(()),
        None => Ok(None),
    }
}

impl BodyParser {
    fn new(opcode: i32, len: u64) -> Self {
        BodyParser {
            opcode,
            len,
            sections_end: len,
            phase: if opcode == OP_COMMANDREPLY {
                Phase::Docs { walk: true }
            } else {
                Phase::Prefix
            },
            walker: None,
            out: Body::default(),
        }
    }

    fn prefix(&mut self, d: &[u8]) -> Step {
        macro_rules! need {
            ($e:expr) => {
                match $e {
                    Some(v) => v,
                    None => return Step::More,
                }
            };
        }
        macro_rules! cstr {
            ($d:expr) => {
                match cstring($d) {
                    Err(()) => return Step::Err,
                    Ok(None) => return Step::More,
                    Ok(Some(v)) => v,
                }
            };
        }
        let o = &mut self.out;
        match self.opcode {
            OP_MSG => {
                let f = need!(u32le(d, 0));
                o.flags = f;
                if f & MSG_CHECKSUM_PRESENT != 0 {
                    if self.len < 8 {
                        return Step::Err;
                    }
                    self.sections_end = self.len - 4;
                }
                self.phase = Phase::Section;
                Step::Used(4, 0)
            }
            OP_QUERY => {
                o.flags = need!(u32le(d, 0));
                let (ns, n) = cstr!(&d[4..]);
                let to_return = need!(i32le(d, 4 + n + 4));
                o.namespace = Some(ns);
                o.number_to_return = Some(to_return);
                self.phase = Phase::Docs { walk: true };
                Step::Used(4 + n + 8, 0)
            }
            OP_REPLY => {
                o.flags = need!(u32le(d, 0));
                o.cursor_id = Some(need!(i64le(d, 4)));
                o.number_returned = Some(need!(i32le(d, 16)));
                self.phase = Phase::Docs { walk: true };
                Step::Used(20, 0)
            }
            OP_GET_MORE => {
                let (ns, n) = cstr!(d.get(4..).unwrap_or(&[]));
                let to_return = need!(i32le(d, 4 + n));
                let cursor = need!(i64le(d, 8 + n));
                o.namespace = Some(ns);
                o.number_to_return = Some(to_return);
                o.cursor_id = Some(cursor);
                self.phase = Phase::Rest;
                Step::Used(16 + n, 0)
            }
            OP_INSERT => {
                o.flags = need!(u32le(d, 0));
                let (ns, n) = cstr!(&d[4..]);
                o.namespace = Some(ns);
                self.phase = Phase::Docs { walk: false };
                Step::Used(4 + n, 0)
            }
            OP_UPDATE | OP_DELETE => {
                let (ns, n) = cstr!(d.get(4..).unwrap_or(&[]));
                o.flags = need!(u32le(d, 4 + n));
                o.namespace = Some(ns);
                self.phase = Phase::Rest;
                Step::Used(8 + n, 0)
            }
            OP_COMMAND => {
                let (db, n) = cstr!(d);
                let (name, m) = cstr!(&d[n..]);
                o.namespace = Some(db);
                o.command_name = Some(truncate(&name, 64).to_owned());
                self.phase = Phase::Docs { walk: true };
                Step::Used(n + m, 0)
            }
            OP_KILL_CURSORS => {
                o.cursors_killed = Some(need!(i32le(d, 4)));
                self.phase = Phase::Rest;
                Step::Used(8, 0)
            }
            _ => {
                self.phase = Phase::Rest;
                Step::Used(0, self.len)
            }
        }
    }

    fn walked(&mut self, w: Walker) {
        if self.out.doc.is_none() {
            self.out.doc = Some(w.doc);
        }
    }
}

impl Stepper for BodyParser {
    fn step(&mut self, d: &[u8], pos: u64) -> Step {
        if let Some(w) = self.walker.as_mut() {
            let r = w.step(d);
            if w.done
                && let Some(w) = self.walker.take()
            {
                self.walked(w);
            }
            return r;
        }
        match self.phase {
            Phase::Prefix => self.prefix(d),
            Phase::Section if pos == self.sections_end => {
                self.phase = if self.sections_end < self.len {
                    Phase::Checksum
                } else {
                    Phase::Rest
                };
                self.step(d, pos)
            }
            Phase::Section => match d[0] {
                0 => {
                    if self.out.doc.is_none() {
                        self.walker = Some(Walker::new(self.sections_end - pos - 1));
                        Step::Used(1, 0)
                    } else {
                        // One body per message.
                        Step::Err
                    }
                }
                1 => {
                    let Some(size) = i32le(d, 1) else {
                        return Step::More;
                    };
                    let end = pos + 1 + size.max(0) as u64;
                    if size < 5 || end > self.sections_end {
                        return Step::Err;
                    }
                    let (id, n) = match cstring(&d[5..]) {
                        Err(()) => return Step::Err,
                        Ok(None) => return Step::More,
                        Ok(Some(v)) => v,
                    };
                    if 4 + n as u64 > size as u64 {
                        return Step::Err;
                    }
                    if self.out.sequences.len() < MAX_SEQUENCES {
                        self.out.sequences.push(Sequence {
                            identifier: truncate(&id, 64).to_owned(),
                            documents: 0,
                        });
                    }
                    self.phase = Phase::SeqDocs { end };
                    Step::Used(5 + n, 0)
                }
                _ => Step::Err,
            },
            Phase::SeqDocs { end } if pos == end => {
                self.phase = Phase::Section;
                self.step(d, pos)
            }
            Phase::SeqDocs { end } => {
                let Some(n) = i32le(d, 0) else {
                    return Step::More;
                };
                if n < 5 || n as u32 > MAX_DOC_LEN || pos + n as u64 > end {
                    return Step::Err;
                }
                self.out.documents += 1;
                if let Some(s) = self.out.sequences.last_mut() {
                    s.documents += 1;
                }
                Step::Used(4, n as u64 - 4)
            }
            Phase::Docs { walk } => {
                if walk && self.out.doc.is_none() {
                    self.out.documents += 1;
                    let mut w = Walker::new(self.len - pos);
                    let r = w.step(d);
                    self.walker = Some(w);
                    return r;
                }
                let Some(n) = i32le(d, 0) else {
                    return Step::More;
                };
                if n < 5 || n as u32 > MAX_DOC_LEN || pos + n as u64 > self.len {
                    return Step::Err;
                }
                self.out.documents += 1;
                Step::Used(4, n as u64 - 4)
            }
            Phase::Checksum => {
                let Some(c) = u32le(d, 0) else {
                    return Step::More;
                };
                self.out.checksum = Some(c);
                self.phase = Phase::Rest;
                Step::Used(4, 0)
            }
            Phase::Rest => Step::Used(0, self.len - pos),
        }
    }

    fn complete(&self) -> bool {
        self.walker.is_none()
            && match self.phase {
                Phase::Rest | Phase::Docs { .. } => true,
                Phase::Section => self.sections_end == self.len,
                Phase::SeqDocs { end } => end == self.len && self.sections_end == self.len,
                _ => false,
            }
    }
}

/// A streaming raw-snappy decoder (the block format: a varint length, then literals and
/// copies), keeping a bounded history for back-references.
#[derive(Debug, Default)]
struct Snappy {
    started: bool,
    /// Declared decompressed length.
    total: u64,
    /// Bytes produced.
    produced: u64,
    /// Literal bytes still to copy.
    literal: u64,
    /// History (the tail of the output) plus output not yet handed on.
    out: Vec<u8>,
    /// `out[..handed]` was handed on.
    handed: usize,
    /// Most bytes to produce.
    cap: u64,
}

impl Snappy {
    fn push(&mut self, b: &[u8]) -> bool {
        if self.produced + b.len() as u64 > self.cap {
            return false;
        }
        self.out.extend_from_slice(b);
        self.produced += b.len() as u64;
        true
    }

    /// Output not yet handed on, then history trimmed to the window.
    fn take(&mut self, sink: &mut dyn FnMut(&[u8])) {
        if self.handed < self.out.len() {
            sink(&self.out[self.handed..]);
            self.handed = self.out.len();
        }
        if self.out.len() > 2 * SNAPPY_WINDOW {
            let cut = self.out.len() - SNAPPY_WINDOW;
            self.out.drain(..cut);
            self.handed -= cut;
        }
    }
}

impl Stepper for Snappy {
    fn step(&mut self, d: &[u8], _pos: u64) -> Step {
        if !self.started {
            let mut v: u64 = 0;
            for (i, &b) in d.iter().take(5).enumerate() {
                v |= u64::from(b & 0x7f) << (7 * i);
                if b & 0x80 == 0 {
                    self.started = true;
                    self.total = v;
                    self.cap = self.cap.min(v);
                    return Step::Used(i + 1, 0);
                }
            }
            return if d.len() >= 5 { Step::Err } else { Step::More };
        }
        if self.literal > 0 {
            let k = (self.literal.min(d.len() as u64)) as usize;
            self.literal -= k as u64;
            return if self.push(&d[..k]) {
                Step::Used(k, 0)
            } else {
                Step::Err
            };
        }
        let tag = d[0];
        let (len, offset, used) = match tag & 3 {
            0 => {
                let l = u64::from(tag >> 2);
                let (l, used) = if l < 60 {
                    (l, 1)
                } else {
                    let n = (l - 59) as usize;
                    let Some(b) = d.get(1..1 + n) else {
                        return Step::More;
                    };
                    let mut x = 0u64;
                    for (i, &c) in b.iter().enumerate() {
                        x |= u64::from(c) << (8 * i);
                    }
                    (x, 1 + n)
                };
                self.literal = l + 1;
                return Step::Used(used, 0);
            }
            1 => {
                let Some(&b) = d.get(1) else {
                    return Step::More;
                };
                (
                    4 + usize::from((tag >> 2) & 7),
                    (usize::from(tag >> 5) << 8) | usize::from(b),
                    2,
                )
            }
            2 => {
                let Some(b) = d.get(1..3) else {
                    return Step::More;
                };
                (
                    usize::from(tag >> 2) + 1,
                    usize::from(u16::from_le_bytes([b[0], b[1]])),
                    3,
                )
            }
            _ => {
                let Some(o) = u32le(d, 1) else {
                    return Step::More;
                };
                (usize::from(tag >> 2) + 1, o as usize, 5)
            }
        };
        if offset == 0 || offset > self.out.len() || self.produced + len as u64 > self.cap {
            return Step::Err;
        }
        let start = self.out.len() - offset;
        for i in 0..len {
            let b = self.out[start + i];
            self.out.push(b);
        }
        self.produced += len as u64;
        Step::Used(used, 0)
    }

    fn complete(&self) -> bool {
        self.started && self.literal == 0 && self.produced == self.total
    }
}

enum Inflater {
    Noop,
    Snappy(Box<(Feeder, Snappy)>),
    Zlib(Box<flate2::Decompress>),
    Zstd(Box<zstd::stream::raw::Decoder<'static>>),
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Inflater::Noop => "noop",
            Inflater::Snappy(_) => "snappy",
            Inflater::Zlib(_) => "zlib",
            Inflater::Zstd(_) => "zstd",
        })
    }
}

fn zstd_decoder() -> io::Result<zstd::stream::raw::Decoder<'static>> {
    let mut d = zstd::stream::raw::Decoder::new()?;
    // Windows up to 64 MiB (the largest message is 48 MiB).
    d.set_parameter(zstd::stream::raw::DParameter::WindowLogMax(26))?;
    Ok(d)
}

/// OP_COMPRESSED: the 9-byte prefix, then the compressed original body.
#[derive(Debug)]
struct Compressed {
    prefix: [u8; 9],
    got: usize,
    inflater: Option<Inflater>,
    /// The original body.
    inner: Option<(Feeder, BodyParser)>,
    failed: bool,
    finished: bool,
    out: Vec<u8>,
}

impl Compressed {
    fn feed(&mut self, mut input: &[u8]) {
        if self.got < 9 {
            let k = (9 - self.got).min(input.len());
            self.prefix[self.got..self.got + k].copy_from_slice(&input[..k]);
            self.got += k;
            input = &input[k..];
            if self.got == 9 {
                self.start();
            }
        }
        if input.is_empty() || self.failed || self.finished {
            return;
        }
        let (Some(inf), Some((feeder, body))) = (self.inflater.as_mut(), self.inner.as_mut())
        else {
            return;
        };
        let mut sink_ok = true;
        let mut sink = |b: &[u8]| feeder.feed(body, b);
        match inf {
            Inflater::Noop => sink_ok = sink(input),
            Inflater::Snappy(s) => {
                let (f, snappy) = &mut **s;
                f.feed(snappy, input);
                snappy.take(&mut |b| sink_ok &= sink(b));
                if f.failed {
                    self.failed = true;
                }
            }
            Inflater::Zlib(z) => {
                if self.out.is_empty() {
                    self.out = vec![0; OUT_CHUNK];
                }
                loop {
                    let (i0, o0) = (z.total_in(), z.total_out());
                    let r = z.decompress(input, &mut self.out, flate2::FlushDecompress::None);
                    let used = (z.total_in() - i0) as usize;
                    let made = (z.total_out() - o0) as usize;
                    sink_ok &= sink(&self.out[..made]);
                    input = &input[used.min(input.len())..];
                    match r {
                        Ok(flate2::Status::StreamEnd) => {
                            self.finished = true;
                            break;
                        }
                        Ok(_) if used == 0 && made == 0 => break,
                        Ok(_) if !sink_ok => break,
                        Ok(_) => {}
                        Err(_) => {
                            self.failed = true;
                            break;
                        }
                    }
                }
            }
            Inflater::Zstd(z) => {
                use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                if self.out.is_empty() {
                    self.out = vec![0; OUT_CHUNK];
                }
                loop {
                    let mut inb = InBuffer::around(input);
                    let mut outb = OutBuffer::around(&mut self.out[..]);
                    let r = z.run(&mut inb, &mut outb);
                    let used = inb.pos();
                    let made = outb.pos();
                    sink_ok &= sink(&self.out[..made]);
                    input = &input[used.min(input.len())..];
                    match r {
                        Ok(0) => {
                            self.finished = true;
                            break;
                        }
                        Ok(_) if used == 0 && made == 0 => break,
                        Ok(_) if !sink_ok => break,
                        Ok(_) => {}
                        Err(_) => {
                            self.failed = true;
                            break;
                        }
                    }
                }
            }
        }
        if !sink_ok {
            self.failed = true;
        }
    }

    fn start(&mut self) {
        let op = i32::from_le_bytes(self.prefix[..4].try_into().unwrap_or_default());
        let size = u32::from_le_bytes(self.prefix[4..8].try_into().unwrap_or_default());
        if size > MAX_MESSAGE_LEN || op == OP_COMPRESSED || opcode_name(op).is_none() {
            self.failed = true;
            return;
        }
        self.inflater = match self.prefix[8] {
            0 => Some(Inflater::Noop),
            1 => Some(Inflater::Snappy(Box::new((
                Feeder::new(u64::MAX),
                Snappy {
                    cap: u64::from(size),
                    ..Snappy::default()
                },
            )))),
            2 => Some(Inflater::Zlib(Box::new(flate2::Decompress::new(true)))),
            3 => zstd_decoder().ok().map(|d| Inflater::Zstd(Box::new(d))),
            _ => None,
        };
        if self.inflater.is_none() {
            self.failed = true;
            return;
        }
        self.inner = Some((
            Feeder::new(u64::from(size)),
            BodyParser::new(op, u64::from(size)),
        ));
    }
}

/// A decoded message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// The header as sent.
    pub header: Header,
    /// The opcode of the body: the original one of an OP_COMPRESSED.
    pub opcode: i32,
    /// The compressor of an OP_COMPRESSED (`noop`, `snappy`, `zlib`, `zstd`, or the id).
    pub compressor: Option<String>,
    /// What was kept of the body.
    pub body: Body,
    /// The body did not decode (truncated, malformed, bytes lost in a gap, corrupt
    /// compression); `body` holds what was decoded before.
    pub malformed: bool,
    /// OP_MSG checksum: `Some(true)` when present and right, `Some(false)` when wrong.
    pub checksum_ok: Option<bool>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            len: HEADER_LEN as u32,
            request_id: 0,
            response_to: 0,
            opcode: 0,
        }
    }
}

#[derive(Debug)]
enum Kind {
    Plain(Box<(Feeder, BodyParser)>),
    Compressed(Box<Compressed>),
}

/// Decodes one message pushed in pieces: create it from the header, [`feed`] the
/// `header.len - 16` bytes that follow (in any pieces), then [`finish`].
///
/// [`feed`]: MessageDecoder::feed
/// [`finish`]: MessageDecoder::finish
#[derive(Debug)]
pub struct MessageDecoder {
    header: Header,
    fed: u64,
    crc: Option<Crc32c>,
    kind: Kind,
    /// Bytes were lost: the body is not decoded any further.
    lost: bool,
}

impl MessageDecoder {
    /// A decoder for the message `header` (whose 16 bytes are `raw`) announces.
    pub fn new(header: Header, raw: &[u8; HEADER_LEN]) -> Self {
        let body_len = u64::from(header.len).saturating_sub(HEADER_LEN as u64);
        let crc = (header.opcode == OP_MSG).then(|| {
            let mut c = Crc32c::default();
            c.update(raw);
            c
        });
        let kind = if header.opcode == OP_COMPRESSED {
            Kind::Compressed(Box::new(Compressed {
                prefix: [0; 9],
                got: 0,
                inflater: None,
                inner: None,
                failed: false,
                finished: false,
                out: Vec::new(),
            }))
        } else {
            Kind::Plain(Box::new((
                Feeder::new(body_len),
                BodyParser::new(header.opcode, body_len),
            )))
        };
        MessageDecoder {
            header,
            fed: 0,
            crc,
            kind,
            lost: false,
        }
    }

    /// Body bytes still expected.
    pub fn remaining(&self) -> u64 {
        u64::from(self.header.len)
            .saturating_sub(HEADER_LEN as u64)
            .saturating_sub(self.fed)
    }

    /// The next body bytes (at most [`remaining`](Self::remaining) are used).
    pub fn feed(&mut self, b: &[u8]) {
        let b = &b[..b
            .len()
            .min(usize::try_from(self.remaining()).unwrap_or(usize::MAX))];
        if let Some(c) = self.crc.as_mut() {
            // Everything but the trailing 4 bytes (the checksum itself).
            let sum_end = u64::from(self.header.len).saturating_sub(HEADER_LEN as u64 + 4);
            let k = sum_end.saturating_sub(self.fed).min(b.len() as u64) as usize;
            c.update(&b[..k]);
        }
        self.fed += b.len() as u64;
        if self.lost {
            return;
        }
        match &mut self.kind {
            Kind::Plain(fp) => {
                let (f, p) = &mut **fp;
                f.feed(p, b);
            }
            Kind::Compressed(c) => c.feed(b),
        }
    }

    /// `n` body bytes were lost (a capture gap): they count as received; the body is not
    /// decoded further.
    pub fn lose(&mut self, n: u64) {
        let n = n.min(self.remaining());
        self.fed += n;
        self.lost = true;
        self.crc = None;
    }

    /// What was decoded.
    pub fn finish(self) -> Message {
        let mut m = Message {
            header: self.header,
            opcode: self.header.opcode,
            malformed: self.lost || self.remaining() > 0,
            ..Message::default()
        };
        match self.kind {
            Kind::Plain(fp) => {
                let (f, p) = *fp;
                m.malformed |= !f.done(&p);
                m.body = p.out;
            }
            Kind::Compressed(c) => {
                if c.got == 9 {
                    m.opcode = i32::from_le_bytes(c.prefix[..4].try_into().unwrap_or_default());
                    m.compressor = Some(
                        compressor_name(c.prefix[8])
                            .map_or_else(|| c.prefix[8].to_string(), str::to_owned),
                    );
                }
                m.malformed |= c.failed;
                match c.inner {
                    Some((f, p)) => {
                        m.malformed |= !f.done(&p);
                        m.body = p.out;
                    }
                    None => m.malformed = true,
                }
            }
        }
        if let (Some(crc), Some(sum)) = (self.crc, m.body.checksum)
            && !m.malformed
        {
            m.checksum_ok = Some(crc.value() == sum);
        }
        m
    }
}

/// Decodes a whole message (header included); `None` when the header is not sane or
/// fewer bytes than it announces are given. Bytes past the message are ignored.
pub fn decode(b: &[u8]) -> Option<Message> {
    let h = Header::parse(b)?;
    if !h.sane() || b.len() < h.len as usize {
        return None;
    }
    let raw: &[u8; HEADER_LEN] = b[..HEADER_LEN].try_into().ok()?;
    let mut d = MessageDecoder::new(h, raw);
    d.feed(&b[HEADER_LEN..h.len as usize]);
    Some(d.finish())
}
