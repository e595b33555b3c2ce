//! MongoDB wire protocol over TCP: detection, per-flow sessions paired by
//! requestID/responseTo, and the `l7_sessions` row mapping (see this folder's README.md).
//! Messages are decoded as they stream in ([`parser::MessageDecoder`]), so a reply of
//! many megabytes yields its row without being buffered.

pub mod parser;

use crate::{
    Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Request, Response, Session, Span, Status,
    Transport,
};
use parser::{
    HEADER_LEN, Header, MAX_CSTRING, MAX_MESSAGE_LEN, MSG_MORE_TO_COME, Message, MessageDecoder,
    OP_COMMAND, OP_COMMANDREPLY, OP_COMPRESSED, OP_DELETE, OP_GET_MORE, OP_INSERT, OP_KILL_CURSORS,
    OP_MSG, OP_QUERY, OP_REPLY, OP_UPDATE, REPLY_CURSOR_NOT_FOUND, REPLY_QUERY_FAILURE,
    opcode_name, truncate,
};
use wirehouse_schema::Attributes;

/// The MongoDB protocol (registry entry).
#[derive(Debug, Clone, Copy)]
pub struct MongoDb;

/// The registry's MongoDB entry.
pub static PROTOCOL: MongoDb = MongoDb;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "mongodb",
    id: 81,
    transport: Transport::Tcp,
    default_ports: &[27017, 27018, 27019],
};

/// Longest `request_resource`, bytes.
pub const MAX_RESOURCE_LEN: usize = 512;
/// Longest attribute value, bytes.
pub const MAX_ATTR_LEN: usize = 256;
/// Longest `response_exception`, bytes.
pub const MAX_EXCEPTION_LEN: usize = 1024;

/// Commands whose string argument is not a collection name.
const NOT_A_COLLECTION: &[&str] = &[
    "getLog",
    "getParameter",
    "setParameter",
    "setFeatureCompatibilityVersion",
    "hostInfo",
];

/// Error codes counted as the client's fault: duplicate key (11000, 11001, 12582) and
/// document validation failure (121).
pub const CLIENT_ERROR_CODES: &[i64] = &[11000, 11001, 12582, 121];

impl Protocol for MongoDb {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        if !input.tcp {
            return Probe::NotMine;
        }
        probe(input.bytes, input.from_client)
    }

    fn session(&self) -> Box<dyn Session> {
        Box::new(MongoSession::default())
    }
}

/// A C string at `b` that looks like a namespace (`db.collection`, printable, with a dot):
/// `Some(true)` yes, `Some(false)` no, `None` when it is cut by the end of `b`.
fn namespace_like(b: &[u8]) -> Option<bool> {
    for (i, &c) in b.iter().enumerate().take(MAX_CSTRING + 1) {
        if c == 0 {
            return Some(i > 0 && b[..i].contains(&b'.'));
        }
        if c < 0x20 || c == 0x7f {
            return Some(false);
        }
    }
    if b.len() > MAX_CSTRING {
        Some(false)
    } else {
        None
    }
}

/// Verdict on bytes starting with a header: the header is sane and sent by the right side
/// (requests have responseTo = 0; replies are OP_REPLY or answer a request), and the
/// start of the body has the shape of its opcode.
pub fn probe(b: &[u8], from_client: bool) -> Probe {
    let Some(h) = Header::parse(b) else {
        return Probe::Unsure;
    };
    if !h.sane() || h.len < 20 {
        return Probe::NotMine;
    }
    let direction_ok = if from_client {
        // Old drivers send responseTo = -1 on requests.
        matches!(h.response_to, 0 | -1) && !matches!(h.opcode, OP_REPLY | OP_COMMANDREPLY)
    } else {
        matches!(
            h.opcode,
            OP_REPLY | OP_COMMANDREPLY | OP_MSG | OP_COMPRESSED
        )
    };
    if !direction_ok {
        return Probe::NotMine;
    }
    let body = &b[HEADER_LEN..];
    let body_len = h.len as usize - HEADER_LEN;
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => Probe::Certain,
        Some(false) => Probe::NotMine,
        None => Probe::Unsure,
    };
    let doc_fits = |at: usize, room: usize| -> Option<bool> {
        let n = i32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?);
        Some(n >= 5 && n as usize <= room)
    };
    match h.opcode {
        OP_MSG => {
            let Some(f) = body.get(..4) else {
                return Probe::Unsure;
            };
            let flags = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            if flags & 0xfffc != 0 || body_len < 4 + 1 + 5 {
                return Probe::NotMine;
            }
            match body.get(4) {
                None => Probe::Unsure,
                Some(0) => verdict(doc_fits(5, body_len - 5)),
                Some(1) => verdict(doc_fits(5, body_len - 5).map(|ok| {
                    ok && body
                        .get(9..)
                        .is_none_or(|id| namespace_like_ident(id) != Some(false))
                })),
                Some(_) => Probe::NotMine,
            }
        }
        OP_QUERY | OP_INSERT => verdict(body.get(4..).and_then(namespace_like)),
        OP_GET_MORE | OP_UPDATE | OP_DELETE => verdict(body.get(4..).and_then(namespace_like)),
        OP_KILL_CURSORS => verdict(body.get(4..8).map(|n| {
            let n = i32::from_le_bytes([n[0], n[1], n[2], n[3]]);
            n >= 0 && 8 + 8 * n as u64 == body_len as u64
        })),
        OP_REPLY => {
            if body_len < 20 {
                return Probe::NotMine;
            }
            let (Some(from), Some(n)) = (body.get(12..16), body.get(16..20)) else {
                return Probe::Unsure;
            };
            let from = i32::from_le_bytes([from[0], from[1], from[2], from[3]]);
            let n = i32::from_le_bytes([n[0], n[1], n[2], n[3]]);
            if from < 0 || n < 0 || 20 + 5 * n as u64 > body_len as u64 {
                return Probe::NotMine;
            }
            if n == 0 {
                // No document: the header and the five fields are the whole message.
                return if body_len == 20 {
                    Probe::Certain
                } else {
                    Probe::NotMine
                };
            }
            verdict(doc_fits(20, body_len - 20))
        }
        OP_COMPRESSED => verdict(body.get(..9).map(|p| {
            let op = i32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            let size = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
            op != OP_COMPRESSED
                && opcode_name(op).is_some()
                && size <= MAX_MESSAGE_LEN
                && p[8] <= 3
                && body_len > 9
        })),
        _ => Probe::Unsure,
    }
}

/// A sequence identifier: printable up to its NUL.
fn namespace_like_ident(b: &[u8]) -> Option<bool> {
    for (i, &c) in b.iter().enumerate().take(MAX_CSTRING + 1) {
        if c == 0 {
            return Some(i > 0);
        }
        if c < 0x20 || c == 0x7f {
            return Some(false);
        }
    }
    None
}

/// A message being received.
#[derive(Debug)]
struct InFlight {
    dec: MessageDecoder,
    start_ns: i64,
}

/// One direction's state.
#[derive(Debug, Default)]
enum Dir {
    /// At a message boundary.
    #[default]
    Header,
    /// Inside a message.
    Body(Box<InFlight>),
    /// After lost or invalid bytes: looking for a plausible header.
    Resync,
}

/// Per-flow MongoDB state.
#[derive(Debug, Default)]
struct MongoSession {
    dirs: [Dir; 2],
}

impl Session for MongoSession {
    fn parse(&mut self, cx: &mut Cx<'_>, from_client: bool, buf: &[u8], span: Span) -> Parse {
        let dir = &mut self.dirs[usize::from(!from_client)];
        if matches!(dir, Dir::Resync) {
            let last = buf.len().saturating_sub(HEADER_LEN - 1);
            match (0..last).find(|&i| probe(&buf[i..], from_client) == Probe::Certain) {
                Some(0) => *dir = Dir::Header,
                Some(i) => {
                    *dir = Dir::Header;
                    return Parse::Consumed(i);
                }
                None if last > 0 => return Parse::Consumed(last),
                None => return Parse::Needed(HEADER_LEN - buf.len()),
            }
        }
        match dir {
            Dir::Header | Dir::Resync => {
                let Some(raw) = buf.get(..HEADER_LEN) else {
                    return Parse::Needed(HEADER_LEN - buf.len());
                };
                let Some(h) = Header::parse(raw) else {
                    return Parse::Needed(HEADER_LEN);
                };
                if !h.sane() {
                    return Parse::Invalid;
                }
                let raw: &[u8; HEADER_LEN] = raw.try_into().unwrap_or(&[0; HEADER_LEN]);
                let f = InFlight {
                    dec: MessageDecoder::new(h, raw),
                    start_ns: span.start_ns,
                };
                if f.dec.remaining() == 0 {
                    *dir = Dir::Header;
                    report(cx, from_client, f.dec.finish(), f.start_ns, span.end_ns);
                } else {
                    *dir = Dir::Body(Box::new(f));
                }
                Parse::Consumed(HEADER_LEN)
            }
            Dir::Body(f) => {
                let k = usize::try_from(f.dec.remaining())
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                f.dec.feed(&buf[..k]);
                if f.dec.remaining() == 0
                    && let Dir::Body(f) = std::mem::take(dir)
                {
                    report(cx, from_client, f.dec.finish(), f.start_ns, span.end_ns);
                }
                Parse::Consumed(k)
            }
        }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, from_client: bool, len: u64, ts_ns: i64) -> bool {
        let dir = &mut self.dirs[usize::from(!from_client)];
        match std::mem::replace(dir, Dir::Resync) {
            Dir::Body(mut f) if len > 0 => {
                let remaining = f.dec.remaining();
                f.dec.lose(len);
                if len < remaining {
                    // The gap lies inside this message: it still ends where it said.
                    *dir = Dir::Body(f);
                } else {
                    if len == remaining {
                        *dir = Dir::Header;
                    }
                    report(cx, from_client, f.dec.finish(), f.start_ns, ts_ns);
                }
            }
            Dir::Body(f) => {
                // Bytes called invalid inside a message cannot happen (bodies are always
                // consumed); report what was decoded.
                report(cx, from_client, f.dec.finish(), f.start_ns, ts_ns);
            }
            Dir::Header | Dir::Resync => {}
        }
        true
    }

    fn end(&mut self, cx: &mut Cx<'_>, from_client: bool, _buf: &[u8], span: Span) {
        let ts_ns = span.end_ns;
        let dir = &mut self.dirs[usize::from(!from_client)];
        if let Dir::Body(mut f) = std::mem::take(dir) {
            // The capture ends inside this message.
            let n = f.dec.remaining();
            f.dec.lose(n);
            report(cx, from_client, f.dec.finish(), f.start_ns, ts_ns);
        }
    }
}

fn attr(a: &mut Attributes, k: &str, v: impl ToString) {
    a.push((k.into(), truncate(&v.to_string(), MAX_ATTR_LEN).into()));
}

/// `db` and `collection` of a namespace `db.collection`.
fn split_namespace(ns: &str) -> (&str, &str) {
    ns.split_once('.').unwrap_or((ns, ""))
}

/// Request columns of a message: (request_type, database, collection).
fn request_fields(m: &Message) -> (String, String, String) {
    let op = opcode_name(m.opcode).unwrap_or("unknown");
    let doc = m.body.doc.as_ref();
    let ns = m.body.namespace.as_deref().unwrap_or("");
    let (ns_db, ns_coll) = split_namespace(ns);
    // The collection a command names: its first value when a string, else `collection`.
    let command_collection = |wrapped: bool| {
        doc.and_then(|d| {
            let (cmd, arg) = if wrapped {
                (&d.wrapped_key, &d.wrapped_str)
            } else {
                (&d.first_key, &d.first_str)
            };
            let named = cmd
                .as_deref()
                .is_some_and(|c| NOT_A_COLLECTION.contains(&c));
            arg.clone()
                .filter(|_| !named)
                .or_else(|| d.collection.clone())
        })
        .unwrap_or_default()
    };
    match m.opcode {
        OP_MSG | OP_COMMAND => {
            let cmd = m
                .body
                .command_name
                .clone()
                .or_else(|| doc.and_then(|d| d.first_key.clone()));
            let db = doc
                .and_then(|d| d.db.clone())
                .or_else(|| m.body.namespace.clone())
                .unwrap_or_default();
            match cmd {
                Some(c) => (c, db, command_collection(false)),
                None => (op.to_owned(), db, String::new()),
            }
        }
        OP_QUERY if ns_coll == "$cmd" || ns_coll.ends_with(".$cmd") => {
            let wrapped = doc.is_some_and(|d| d.first_key.as_deref() == Some("$query"));
            let cmd = doc.and_then(|d| {
                if wrapped {
                    d.wrapped_key.clone()
                } else {
                    d.first_key.clone()
                }
            });
            (
                cmd.unwrap_or_else(|| "query".to_owned()),
                ns_db.to_owned(),
                command_collection(wrapped),
            )
        }
        OP_QUERY => ("query".to_owned(), ns_db.to_owned(), ns_coll.to_owned()),
        _ => (op.to_owned(), ns_db.to_owned(), ns_coll.to_owned()),
    }
}

fn resource(db: &str, coll: &str) -> String {
    let r = match (db.is_empty(), coll.is_empty()) {
        (false, false) => format!("{db}.{coll}"),
        (true, false) => coll.to_owned(),
        _ => db.to_owned(),
    };
    truncate(&r, MAX_RESOURCE_LEN).to_owned()
}

/// Attributes and parse-error counting common to both sides.
fn common_attributes(cx: &mut Cx<'_>, m: &Message, a: &mut Attributes, prefix: &str) {
    if let Some(op) = opcode_name(m.opcode) {
        attr(a, &format!("{prefix}opcode"), op);
    }
    if let Some(c) = &m.compressor {
        attr(a, &format!("{prefix}compressor"), c);
    }
    if m.checksum_ok == Some(false) {
        cx.parse_error();
        attr(a, &format!("{prefix}checksum_mismatch"), 1);
    }
    if m.malformed {
        cx.parse_error();
        attr(a, &format!("{prefix}malformed"), 1);
    }
}

/// True for a request no reply follows: OP_MSG with moreToCome, and the legacy writes.
fn fire_and_forget(m: &Message) -> bool {
    match m.opcode {
        OP_MSG => m.body.flags & MSG_MORE_TO_COME != 0,
        OP_INSERT | OP_UPDATE | OP_DELETE | OP_KILL_CURSORS => true,
        _ => false,
    }
}

/// True for a reply: OP_REPLY, or an OP_MSG answering a request (responseTo set, or sent
/// by the server: a request whose id was 0 is answered with responseTo 0).
fn is_reply(m: &Message, from_client: bool) -> bool {
    match m.opcode {
        OP_REPLY | OP_COMMANDREPLY => true,
        OP_QUERY | OP_GET_MORE | OP_INSERT | OP_UPDATE | OP_DELETE | OP_KILL_CURSORS
        | OP_COMMAND => false,
        _ => !matches!(m.header.response_to, 0 | -1) || !from_client,
    }
}

fn report(cx: &mut Cx<'_>, from_client: bool, m: Message, start_ns: i64, end_ns: i64) {
    if is_reply(&m, from_client) {
        let r = response(cx, &m, start_ns, end_ns);
        cx.response(r);
        return;
    }
    let (rtype, db, coll) = request_fields(&m);
    let id = u64::from(m.header.request_id as u32);
    let mut a = Attributes::new();
    common_attributes(cx, &m, &mut a, "");
    let cursor = match m.opcode {
        OP_GET_MORE => m.body.cursor_id,
        _ => m
            .body
            .doc
            .as_ref()
            .filter(|d| d.first_key.as_deref() == Some("getMore"))
            .and_then(|d| d.first_int),
    };
    if let Some(c) = cursor.filter(|&c| c != 0) {
        attr(&mut a, "request_cursor_id", c);
    }
    if m.opcode == OP_KILL_CURSORS
        && let Some(n) = m.body.cursors_killed
    {
        attr(&mut a, "cursors", n);
    }
    if matches!(m.opcode, OP_MSG | OP_INSERT) && m.body.documents > 0 {
        attr(&mut a, "documents", m.body.documents);
    }
    let no_reply = fire_and_forget(&m);
    if no_reply {
        attr(&mut a, "more_to_come", 1);
    }
    let endpoint = if coll.is_empty() {
        rtype.clone()
    } else {
        format!("{rtype} {}", truncate(&coll, MAX_RESOURCE_LEN))
    };
    cx.request(Request {
        pair_id: Some(id),
        start_ns,
        end_ns,
        bytes: u64::from(m.header.len),
        resource: resource(&db, &coll).into(),
        request_type: rtype.into(),
        domain: db.into(),
        endpoint: endpoint.into(),
        request_id: Some(id),
        attributes: a,
        ..Request::default()
    });
    if no_reply {
        // No reply will come: write the row now rather than as a timeout.
        cx.response(Response {
            pair_id: Some(id),
            start_ns: end_ns,
            end_ns,
            ..Response::default()
        });
    }
}

/// `response_status` for an error `code`.
fn error_status(code: Option<i64>) -> Status {
    match code {
        Some(c) if CLIENT_ERROR_CODES.contains(&c) => Status::ClientError,
        _ => Status::ServerError,
    }
}

fn exception(code_name: Option<&str>, msg: Option<&str>) -> String {
    let s = match (code_name, msg) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (Some(x), None) | (None, Some(x)) => x.to_owned(),
        (None, None) => String::new(),
    };
    truncate(&s, MAX_EXCEPTION_LEN).to_owned()
}

fn response(cx: &mut Cx<'_>, m: &Message, start_ns: i64, end_ns: i64) -> Response {
    let id = u64::from(m.header.response_to as u32);
    let mut a = Attributes::new();
    common_attributes(cx, m, &mut a, "response_");
    let empty = parser::Doc::default();
    let d = m.body.doc.as_ref().unwrap_or(&empty);
    let reply = m.opcode == OP_REPLY;
    let flags = m.body.flags;
    let mut code = None;
    let mut exc = String::new();
    let status = if reply && flags & REPLY_QUERY_FAILURE != 0 {
        code = d.error.code;
        exc = exception(None, d.dollar_err.as_deref().or(d.error.errmsg.as_deref()));
        error_status(code)
    } else if reply && flags & REPLY_CURSOR_NOT_FOUND != 0 {
        code = Some(43);
        exc = "CursorNotFound".to_owned();
        Status::ClientError
    } else if d.ok == Some(0.0) {
        code = d.error.code;
        exc = exception(d.error.code_name.as_deref(), d.error.errmsg.as_deref());
        error_status(code)
    } else if d.write_errors.is_some_and(|n| n > 0) {
        let e = &d.write_error;
        code = e.code;
        exc = exception(e.code_name.as_deref(), e.errmsg.as_deref());
        error_status(code)
    } else if let Some(e) = &d.write_concern_error {
        code = e.code;
        exc = exception(e.code_name.as_deref(), e.errmsg.as_deref());
        Status::ServerError
    } else if let Some(err) = d.err.as_deref().filter(|e| !e.is_empty()) {
        // getLastError: `err` names the previous write's failure.
        code = d.error.code;
        exc = exception(None, Some(err));
        error_status(code)
    } else if d.ok.is_some() || reply {
        Status::Ok
    } else {
        Status::Unknown
    };
    let returned = d
        .batch_len
        .or_else(|| reply.then(|| m.body.number_returned.unwrap_or(0).max(0) as u64));
    if let Some(n) = returned {
        attr(&mut a, "returned", n);
    }
    if let Some(n) = d.n {
        attr(&mut a, "n", n);
    }
    if let Some(n) = d.n_modified {
        attr(&mut a, "n_modified", n);
    }
    if let Some(n) = d.write_errors.filter(|&n| n > 0) {
        attr(&mut a, "write_errors", n);
    }
    let cursor = d.cursor_id.or(if reply { m.body.cursor_id } else { None });
    if let Some(c) = cursor.filter(|&c| c != 0) {
        attr(&mut a, "cursor_id", c);
    }
    if m.body.flags & MSG_MORE_TO_COME != 0 && m.opcode == OP_MSG {
        attr(&mut a, "response_more_to_come", 1);
    }
    let echo = d.cursor_ns.as_deref().map(|ns| {
        let (db, coll) = split_namespace(ns);
        Box::new(Request {
            domain: db.into(),
            resource: truncate(ns, MAX_RESOURCE_LEN).into(),
            endpoint: coll.into(),
            ..Request::default()
        })
    });
    Response {
        pair_id: Some(id),
        start_ns,
        end_ns,
        bytes: u64::from(m.header.len),
        status,
        code,
        exception: exc.into(),
        request_id: Some(id),
        echo,
        attributes: a,
        ..Response::default()
    }
}

#[cfg(test)]
mod tests;
