//! Pure HTTP/1.x decoding: request and response heads (with `httparse`), body framing,
//! chunk-size lines, and the endpoint template of a path. No state, no allocation beyond
//! the fields kept.

use wirehouse_schema::Text;

/// Most header lines looked at in one head.
const MAX_HEADERS: usize = 128;

/// Longest head read leniently: one httparse refuses must end within it, so a stream
/// that is not HTTP after all is not held to the buffer limit.
const MAX_LENIENT_HEAD: usize = 16 * 1024;

/// Methods recognised at the start of a request (RFC 9110 plus WebDAV and a few common
/// extensions).
pub const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"HEAD",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"MKACTIVITY",
    b"CHECKOUT",
    b"MERGE",
    b"M-SEARCH",
    b"NOTIFY",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"PURGE",
];

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (a response without a length).
    UntilClose,
}

/// The header fields wirehouse keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Host.
    pub host: Text,
    /// User-Agent.
    pub user_agent: Text,
    /// Content-Type.
    pub content_type: Text,
    /// Content-Length, when valid.
    pub content_length: Option<u64>,
    /// A Content-Length that is not a number, or two that differ: the message cannot be
    /// framed by length (RFC 9112 §6.3), the mark of a request-smuggling attempt.
    pub invalid_content_length: bool,
    /// Transfer-Encoding ends in `chunked`.
    pub chunked: bool,
    /// Both Transfer-Encoding and Content-Length were sent: the coding frames the
    /// message, which "ought to be handled as an error" (RFC 9112 §6.3; request
    /// smuggling).
    pub transfer_encoding_and_content_length: bool,
    /// Transfer-Encoding as sent.
    pub transfer_encoding: Text,
    /// X-Request-Id (or X-Request-ID, Request-Id).
    pub request_id: Text,
    /// traceparent (W3C trace context).
    pub traceparent: Text,
    /// Connection: close.
    pub close: bool,
    /// Upgrade as sent.
    pub upgrade: Text,
    /// Referer.
    pub referer: Text,
    /// Content-Encoding as sent.
    pub content_encoding: Text,
    /// Docker-Content-Digest (OCI registry).
    pub docker_content_digest: Text,
    /// Docker-Upload-UUID (OCI registry).
    pub docker_upload_uuid: Text,
    /// Docker-Distribution-API-Version (OCI registry).
    pub distribution_api_version: Text,
    /// WWW-Authenticate (the first one).
    pub www_authenticate: Text,
}

/// A request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Method.
    pub method: Text,
    /// Request target as sent.
    pub target: Text,
    /// "HTTP/1.1", "HTTP/1.0", or "HTTP/0.9" for a request line without a version.
    pub version: &'static str,
    /// Kept headers.
    pub fields: Fields,
    /// Bytes of the head, up to and including the empty line.
    pub len: usize,
}

/// A response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: Text,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Kept headers.
    pub fields: Fields,
    /// Bytes of the head.
    pub len: usize,
}

/// Outcome of decoding a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head<T> {
    /// Complete.
    Done(T),
    /// More bytes needed.
    Partial,
    /// Not an HTTP/1.x head.
    Invalid,
}

fn text(v: &[u8], cap: usize) -> Text {
    let v = &v[..v.len().min(cap)];
    // `from_utf8` first: it is several times faster than `from_utf8_lossy` on the valid
    // (nearly always ASCII) values that are the rule.
    match std::str::from_utf8(v) {
        Ok(s) => Text::from(s.trim()),
        Err(_) => Text::from(String::from_utf8_lossy(v).trim()),
    }
}

/// The length a Content-Length value gives: digits only, or a list of one repeated
/// value (RFC 9112 §8.6 lets a recipient take `11, 11` as 11).
fn content_length(v: &[u8]) -> Option<u64> {
    let mut len = None;
    for part in v.split(|&b| b == b',') {
        let digits = part.trim_ascii();
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
        if len.is_some_and(|l| l != n) {
            return None;
        }
        len = Some(n);
    }
    len
}

fn fields(headers: &[httparse::Header<'_>]) -> Fields {
    let mut f = Fields::default();
    let (mut te, mut cl) = (false, false);
    for h in headers {
        let n = h.name.as_bytes();
        let v = h.value;
        if n.eq_ignore_ascii_case(b"host") {
            f.host = text(v, 256);
        } else if n.eq_ignore_ascii_case(b"user-agent") {
            f.user_agent = text(v, 512);
        } else if n.eq_ignore_ascii_case(b"content-type") {
            f.content_type = text(v, 128);
        } else if n.eq_ignore_ascii_case(b"content-length") {
            cl = true;
            // Once invalid, the length stays unknown whatever follows.
            match (content_length(v), f.content_length) {
                (Some(n), None) if !f.invalid_content_length => f.content_length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => {
                    f.invalid_content_length = true;
                    f.content_length = None;
                }
            }
        } else if n.eq_ignore_ascii_case(b"transfer-encoding") {
            te = true;
            f.transfer_encoding = text(v, 128);
            // The last coding, skipping empty list elements (RFC 9110 §5.6.1): `chunked,`
            // is chunked, `,.chunked,` is not.
            f.chunked = f
                .transfer_encoding
                .rsplit(',')
                .map(str::trim)
                .find(|t| !t.is_empty())
                .is_some_and(|last| last.eq_ignore_ascii_case("chunked"));
        } else if n.eq_ignore_ascii_case(b"x-request-id") || n.eq_ignore_ascii_case(b"request-id") {
            f.request_id = text(v, 128);
        } else if n.eq_ignore_ascii_case(b"traceparent") {
            f.traceparent = text(v, 128);
        } else if n.eq_ignore_ascii_case(b"connection") {
            f.close |= v
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        } else if n.eq_ignore_ascii_case(b"upgrade") {
            f.upgrade = text(v, 64);
        } else if n.eq_ignore_ascii_case(b"referer") {
            f.referer = text(v, 512);
        } else if n.eq_ignore_ascii_case(b"content-encoding") {
            f.content_encoding = text(v, 64);
        } else if n.eq_ignore_ascii_case(b"docker-content-digest") {
            f.docker_content_digest = text(v, 256);
        } else if n.eq_ignore_ascii_case(b"docker-upload-uuid") {
            f.docker_upload_uuid = text(v, 128);
        } else if n.eq_ignore_ascii_case(b"docker-distribution-api-version") {
            f.distribution_api_version = text(v, 64);
        } else if n.eq_ignore_ascii_case(b"www-authenticate") && f.www_authenticate.is_empty() {
            f.www_authenticate = text(v, 1024);
        }
    }
    f.transfer_encoding_and_content_length = te && cl;
    f
}

/// A head cut off (by a gap or the end of its stream): its whole lines followed by the
/// empty line that never came, or `None` when not even its first line is whole.
pub fn close_cut_head(buf: &[u8]) -> Option<Vec<u8>> {
    let nl = memchr::memrchr(b'\n', buf)?;
    let mut head = Vec::with_capacity(nl + 3);
    head.extend_from_slice(&buf[..=nl]);
    head.extend_from_slice(b"\r\n");
    Some(head)
}

/// Decodes a request head at the start of `buf`.
pub fn request_head(buf: &[u8]) -> Head<RequestHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Head::Done(RequestHead {
            method: req.method.unwrap_or_default().into(),
            target: text(req.path.unwrap_or_default().as_bytes(), 4096),
            version: if req.version == Some(0) {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
            fields: fields(req.headers),
            len,
        }),
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(_) => lenient_request_head(buf),
    }
}

/// A request head httparse refuses but servers accept: a request line without a version
/// (HTTP/0.9, alone or followed by headers), a target with unescaped spaces, or malformed
/// header lines (skipped).
fn lenient_request_head(buf: &[u8]) -> Head<RequestHead> {
    let Some(nl) = memchr::memchr(b'\n', &buf[..buf.len().min(MAX_LENIENT_HEAD)]) else {
        return if buf.len() >= MAX_LENIENT_HEAD {
            Head::Invalid
        } else {
            Head::Partial
        };
    };
    let line = buf[..nl].trim_ascii();
    let Some(sp) = memchr::memchr(b' ', line) else {
        return Head::Invalid;
    };
    let (method, rest) = (&line[..sp], line[sp + 1..].trim_ascii_start());
    // The version is the last word; a target with unescaped spaces keeps them, as
    // servers and tshark read it ("GET /a b HTTP/1.0" asks for "/a b").
    let (target, proto) = match memchr::memrchr(b' ', rest) {
        // A version inside the target too would make the line ambiguous.
        Some(i)
            if rest[i + 1..].starts_with(b"HTTP/")
                && memchr::memmem::find(&rest[..i], b" HTTP/").is_none() =>
        {
            (rest[..i].trim_ascii_end(), Some(&rest[i + 1..]))
        }
        Some(_) => return Head::Invalid,
        None => (rest, None),
    };
    if target.is_empty()
        || !METHODS.contains(&method)
        || !(target.starts_with(b"/") || target.starts_with(b"http") || target == b"*")
    {
        return Head::Invalid;
    }
    let version = match proto {
        None => "HTTP/0.9",
        Some(b"HTTP/1.0") => "HTTP/1.0",
        Some(_) => "HTTP/1.1",
    };
    let rest = &buf[nl + 1..];
    // A bare HTTP/0.9 request line, or one followed by header lines up to an empty line.
    let (len, head_lines) = if proto.is_none() && rest.is_empty() {
        (nl + 1, &rest[..0])
    } else {
        let end = memchr::memmem::find(rest, b"\n\r\n")
            .map(|i| (i + 3, i + 1))
            .or_else(|| memchr::memmem::find(rest, b"\n\n").map(|i| (i + 2, i + 1)));
        match end {
            Some((e, h)) => (nl + 1 + e, &rest[..h]),
            None if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") => {
                (nl + 1 + if rest[0] == b'\r' { 2 } else { 1 }, &rest[..0])
            }
            None if buf.len() >= MAX_LENIENT_HEAD => return Head::Invalid,
            None => return Head::Partial,
        }
    };
    let mut headers = Vec::new();
    for l in head_lines.split(|&b| b == b'\n') {
        if let Some(c) = memchr::memchr(b':', l)
            && let Ok(name) = std::str::from_utf8(l[..c].trim_ascii())
        {
            headers.push(httparse::Header {
                name,
                value: l[c + 1..].trim_ascii(),
            });
        }
        if headers.len() >= MAX_HEADERS {
            break;
        }
    }
    Head::Done(RequestHead {
        method: String::from_utf8_lossy(method).into(),
        target: text(target, 4096),
        version,
        fields: fields(&headers),
        len,
    })
}

/// Decodes a response head at the start of `buf`.
pub fn response_head(buf: &[u8]) -> Head<ResponseHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Head::Done(response_of(&resp, len)),
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(_) => lenient_response_head(buf),
    }
}

/// A response head httparse refuses strictly, read again as clients read it: header
/// lines without a colon or with a space before it skipped, folded lines and extra
/// spaces in the status line allowed (PcapPlusPlus `HttpMalformedResponse.pcapng`:
/// `x-amz-request-id2 …` before `Transfer-Encoding: chunked`).
fn lenient_response_head(buf: &[u8]) -> Head<ResponseHead> {
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_space_before_first_header_name(true)
        .ignore_invalid_headers_in_responses(true);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match cfg.parse_response(&mut resp, &buf[..buf.len().min(MAX_LENIENT_HEAD)]) {
        Ok(httparse::Status::Complete(len)) => Head::Done(response_of(&resp, len)),
        Ok(httparse::Status::Partial) if buf.len() < MAX_LENIENT_HEAD => Head::Partial,
        _ => Head::Invalid,
    }
}

/// The head httparse read, `len` bytes long.
fn response_of(resp: &httparse::Response<'_, '_>, len: usize) -> ResponseHead {
    ResponseHead {
        code: resp.code.unwrap_or(0),
        reason: text(resp.reason.unwrap_or_default().as_bytes(), 128),
        minor: resp.version.unwrap_or(1),
        fields: fields(resp.headers),
        len,
    }
}

/// How far `buf` agrees with a request line: `Some(true)` when it starts with a method
/// and a space, `Some(false)` when it could still become one, `None` when it cannot.
pub fn looks_like_request(buf: &[u8]) -> Option<bool> {
    let mut could = false;
    for m in METHODS {
        if buf.len() > m.len() {
            if buf.starts_with(m) && buf[m.len()] == b' ' {
                return Some(true);
            }
        } else if m.starts_with(buf) {
            could = true;
        }
    }
    could.then_some(false)
}

/// The probe's verdict on a client's first bytes (`Some(true)` certain, `Some(false)`
/// unsure, `None` not HTTP): a method and a space and, once the line is complete, a
/// request line [`request_head`] takes (an HTTP version last, or none: HTTP/0.9). Before
/// that, a target that starts like one (`/`, `*`, `http`, or a host after CONNECT) is
/// enough. Protocols that borrowed HTTP's method names are not HTTP: RTSP and SIP
/// (`OPTIONS rtsp://… RTSP/1.0`, `OPTIONS sip:… SIP/2.0`), NATS (`CONNECT {…}`).
pub fn probe_request(buf: &[u8]) -> Option<bool> {
    if !looks_like_request(buf)? {
        return Some(false);
    }
    if let Some(n) = memchr::memchr(b'\n', buf) {
        return match request_head(&buf[..=n]) {
            Head::Invalid => None,
            _ => Some(true),
        };
    }
    let sp = memchr::memchr(b' ', buf)?;
    let target = buf[sp + 1..].trim_ascii_start();
    Some(match target.first() {
        None => false,
        Some(b'/' | b'*') => true,
        Some(&c) if &buf[..sp] == b"CONNECT" => c.is_ascii_alphanumeric() || c == b'[',
        Some(_) => target.len() >= 4 && target[..4].eq_ignore_ascii_case(b"http"),
    })
}

/// Like [`looks_like_request`] for a status line (`HTTP/1.x `).
pub fn looks_like_response(buf: &[u8]) -> Option<bool> {
    const P: &[u8] = b"HTTP/1.";
    if buf.len() >= P.len() + 2 {
        (buf.starts_with(P) && buf[P.len()].is_ascii_digit() && buf[P.len() + 1] == b' ')
            .then_some(true)
    } else {
        let n = buf.len().min(P.len());
        (buf[..n] == P[..n]).then_some(false)
    }
}

/// Where the next message that looks like a head starts in `buf` (at a line start, or
/// after bytes no text starts with), used to resynchronise after a gap or an invalid
/// head; `None` when there is none yet.
pub fn find_head(buf: &[u8], request: bool) -> Option<usize> {
    let check = |at: usize| {
        let rest = &buf[at..];
        let ok = if request {
            looks_like_request(rest)
        } else {
            looks_like_response(rest)
        };
        ok == Some(true)
    };
    if check(0) {
        return Some(0);
    }
    // Bytes a head never starts with (a keepalive probe's byte caught as the stream's
    // first, NUL padding) right before one.
    let lead = buf
        .iter()
        .position(|&b| b.is_ascii_graphic() || b == b'\n')
        .unwrap_or(buf.len());
    if lead > 0 && lead < buf.len() && check(lead) {
        return Some(lead);
    }
    memchr::memchr_iter(b'\n', buf)
        .map(|i| i + 1)
        .find(|&at| at < buf.len() && check(at))
}

/// A chunk-size line (`1a;ext=1\r\n`): the size and the line's length.
pub fn chunk_size(buf: &[u8]) -> Head<(u64, usize)> {
    let Some(nl) = memchr::memchr(b'\n', &buf[..buf.len().min(1024)]) else {
        return if buf.len() >= 1024 {
            Head::Invalid
        } else {
            Head::Partial
        };
    };
    let line = buf[..nl].trim_ascii();
    let hex = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if hex.is_empty() || hex.len() > 15 {
        return Head::Invalid;
    }
    let mut n = 0u64;
    for &c in hex {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Head::Invalid,
        };
        n = n * 16 + u64::from(d);
    }
    Head::Done((n, nl + 1))
}

/// The length of a line (up to and including `\n`) at the start of `buf`.
pub fn line_len(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf).map(|i| i + 1)
}

fn is_id(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    // UUID 8-4-4-4-12.
    if b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    {
        return true;
    }
    // Hex digests and object ids (at least 8 hex digits with a digit in them).
    if b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(u8::is_ascii_digit) {
        return true;
    }
    // Long opaque tokens mixing letters and digits (base64-ish ids).
    b.len() >= 16
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

/// The request target's path with numeric, UUID, hex and opaque-token segments replaced
/// by `{id}` (query and fragment dropped; an absolute-form target keeps only its path).
pub fn endpoint(target: &str) -> Text {
    let mut path = target;
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return path.into();
    }
    let mut out = Text::default();
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_id(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
        if out.len() > 256 {
            break;
        }
    }
    out
}

/// Host without its port (`[v6]:port` → `[v6]`).
pub fn host_only(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_is_trimmed_capped_and_lossy() {
        assert_eq!(text(b"  example.org \t", 256), "example.org");
        // A cap that cuts "é" (c3 a9) in two leaves a replacement character.
        assert_eq!(text("café au lait".as_bytes(), 4), "caf\u{fffd}");
        assert_eq!(text("café".as_bytes(), 5), "café");
        // Bytes that are not UTF-8 become replacement characters; the rest is kept.
        assert_eq!(text(b"a\xffb\xc0", 256), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn heads_and_framing_fields() {
        let r = b"POST /api/v1/users/12345/orders?x=1 HTTP/1.1\r\nHost: shop.example:8080\r\n\
                  User-Agent: curl/7.88.1\r\nContent-Length: 5\r\nX-Request-Id: abc\r\n\r\nhello";
        let Head::Done(h) = request_head(r) else {
            panic!("not parsed")
        };
        assert_eq!((h.method.as_str(), h.version), ("POST", "HTTP/1.1"));
        assert_eq!(h.target, "/api/v1/users/12345/orders?x=1");
        assert_eq!(h.fields.content_length, Some(5));
        assert_eq!(h.fields.request_id, "abc");
        assert_eq!(&r[h.len..], b"hello");
        assert_eq!(host_only(&h.fields.host), "shop.example");
        assert_eq!(request_head(&r[..30]), Head::Partial);
        assert_eq!(
            request_head(b"\x16\x03\x01\x00\x10junk\r\n\r\n"),
            Head::Invalid
        );
        let Head::Done(s) =
            response_head(b"HTTP/1.0 404 Not Found\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        else {
            panic!("not parsed")
        };
        assert_eq!((s.code, s.reason.as_str(), s.minor), (404, "Not Found", 0));
        assert!(s.fields.chunked);
    }

    #[test]
    fn malformed_response_header_lines_are_skipped_within_a_bound() {
        // A line without a colon, one with a space before it, and a folded line.
        let r = b"HTTP/1.1 403 Forbidden\r\nx-amz-request-id2 CA4D\r\nServer : S3\r\n\
                  X-A: b\r\n c\r\nContent-Length: 7\r\n\r\nmissing";
        let Head::Done(h) = response_head(r) else {
            panic!("not parsed")
        };
        assert_eq!((h.code, h.fields.content_length), (403, Some(7)));
        assert_eq!(&r[h.len..], b"missing");
        // Still waiting for the end of such a head, up to 16 KiB of it.
        assert_eq!(response_head(&r[..60]), Head::Partial);
        let mut long = b"HTTP/1.1 200 OK\r\nno colon\r\n".to_vec();
        long.resize(16 * 1024 - 1, b'a');
        assert_eq!(response_head(&long), Head::Partial);
        long.push(b'a');
        assert_eq!(response_head(&long), Head::Invalid);
        // A status line that is not one stays refused.
        assert_eq!(response_head(b"HTTP/1.1 2x0 OK\r\n\r\n"), Head::Invalid);
    }

    /// The kept fields of a POST with these header lines.
    fn post_fields(lines: &str) -> Fields {
        let head = format!("POST / HTTP/1.1\r\n{lines}\r\n");
        let Head::Done(h) = request_head(head.as_bytes()) else {
            panic!("not parsed: {lines:?}")
        };
        h.fields
    }

    #[test]
    fn content_length_must_be_one_number() {
        let cl = |lines: &str| {
            let f = post_fields(lines);
            (f.content_length, f.invalid_content_length)
        };
        assert_eq!(cl("Content-Length: 11\r\n"), (Some(11), false));
        // Repeated, in one field or two: still one length.
        assert_eq!(cl("Content-Length: 11, 11\r\n"), (Some(11), false));
        assert_eq!(
            cl("Content-Length: 11\r\ncontent-length:11\r\n"),
            (Some(11), false)
        );
        // Lengths that differ, even when a later one repeats the first.
        for lines in [
            "Content-Length:11\r\nContent-Length:93\r\n",
            "Content-Length:11\r\nContent-Length:93\r\nContent-Length:11\r\n",
            "Content-Length: 11, 93\r\n",
            // Not a number, then a number.
            "Content-Length: +11\r\nContent-Length: 11\r\n",
            "Content-Length: 0x10\r\n",
            "Content-Length:\r\n",
            "Content-Length: 99999999999999999999999\r\n",
        ] {
            assert_eq!(cl(lines), (None, true), "{lines:?}");
        }
    }

    #[test]
    fn chunked_is_the_last_coding_of_the_list() {
        let chunked = |te: &str| post_fields(&format!("Transfer-Encoding: {te}\r\n")).chunked;
        for te in [
            "chunked",
            "gzip, chunked",
            "Chunked",
            "chunked,",
            "gzip,chunked , ,",
        ] {
            assert!(chunked(te), "{te:?}");
        }
        // suricata-verify http-chunked (the Qlik Sense smuggling request): `.chunked` is
        // not `chunked`.
        for te in [",.chunked,", "chunked, gzip", "chunkedx", ""] {
            assert!(!chunked(te), "{te:?}");
        }
        // Sent with a Content-Length, in either order: marked, whatever the coding.
        for lines in [
            "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            "Content-Length: 0\r\nTransfer-Encoding: ,.chunked,\r\n",
        ] {
            assert!(
                post_fields(lines).transfer_encoding_and_content_length,
                "{lines:?}"
            );
        }
        assert!(
            !post_fields("Transfer-Encoding: chunked\r\n").transfer_encoding_and_content_length
        );
        assert!(!post_fields("Content-Length: 3\r\n").transfer_encoding_and_content_length);
    }

    #[test]
    fn endpoint_templates_ids() {
        assert_eq!(
            endpoint("/api/v1/users/12345/orders?x=1"),
            "/api/v1/users/{id}/orders"
        );
        assert_eq!(
            endpoint("/v2/library/nginx/blobs/sha256:abc"),
            "/v2/library/nginx/blobs/sha256:abc"
        );
        assert_eq!(
            endpoint("/o/3f2504e0-4f89-11d3-9a0c-0305e82c3301/x"),
            "/o/{id}/x"
        );
        assert_eq!(
            endpoint("/commit/9fceb02d0ae598e95dc970b74767f19372d61af8"),
            "/commit/{id}"
        );
        assert_eq!(endpoint("http://proxy.example/a/42"), "/a/{id}");
        assert_eq!(endpoint("/static/app.js"), "/static/app.js");
        assert_eq!(endpoint("*"), "*");
        assert_eq!(host_only("[::1]:8080"), "[::1]");
        assert_eq!(host_only("::1"), "::1");
    }

    #[test]
    fn chunk_lines_and_resync() {
        assert_eq!(chunk_size(b"1A;foo=bar\r\nxx"), Head::Done((26, 12)));
        assert_eq!(chunk_size(b"1A"), Head::Partial);
        assert_eq!(chunk_size(b"zz\r\n"), Head::Invalid);
        assert_eq!(chunk_size(b"ffffffffffffffffff\r\n"), Head::Invalid);
        let junk = b"tail of a body\r\nGET /next HTTP/1.1\r\n";
        assert_eq!(find_head(junk, true), Some(16));
        assert_eq!(find_head(b"xx\nHTTP/1.1 200 OK\r\n", false), Some(3));
        assert_eq!(looks_like_request(b"GE"), Some(false));
        assert_eq!(looks_like_request(b"GET "), Some(true));
        assert_eq!(looks_like_request(b"PRI * HTTP/2.0"), None);
        assert_eq!(looks_like_response(b"HTTP/1"), Some(false));
        assert_eq!(looks_like_response(b"HTTP/2 200"), None);
    }
}
