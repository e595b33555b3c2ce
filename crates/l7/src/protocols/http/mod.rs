//! HTTP/1.0 and 1.1: request and response heads, bodies framed by Content-Length,
//! chunked encoding or connection close, pipelining (FIFO pairing), HEAD / 1xx / 204 /
//! 304 without bodies, 101 upgrades (parsing stops), CONNECT tunnels (handed over to what
//! they carry), and resynchronisation at the next head after a gap or invalid bytes.
//! Registry API calls (OCI distribution spec) are recognised by `oci` and written as
//! `l7_protocol = 'oci'`. See `README.md`
//! for the row mapping.

pub mod oci;
#[cfg(test)]
mod oci_capture;
pub mod parser;

use crate::{
    Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Request, Response, Session, Span, Status,
    Transport,
};
use parser::{Fields, Head, ResponseHead};
use std::collections::VecDeque;
use wirehouse_schema::{Attributes, Text};

/// The HTTP/1.x protocol.
pub struct Http;

/// Registry entry.
pub static PROTOCOL: Http = Http;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "http",
    id: 20,
    transport: Transport::Tcp,
    default_ports: &[80, 8080, 8000, 8008, 8081, 8888, 3128, 5000, 9200],
};

impl Protocol for Http {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        let v = if input.from_client {
            parser::probe_request(input.bytes)
        } else {
            parser::looks_like_response(input.bytes)
        };
        match v {
            Some(true) => Probe::Certain,
            Some(false) => Probe::Unsure,
            None => Probe::NotMine,
        }
    }

    fn session(&self) -> Box<dyn Session> {
        Box::<HttpSession>::default()
    }
}

/// Where a direction is within its current message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Body {
    /// Expecting a head.
    #[default]
    Head,
    /// This many body bytes left.
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// This many bytes of the current chunk left.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer lines up to the empty one.
    Trailers,
    /// Everything until the connection closes.
    UntilClose,
}

#[derive(Debug, Default)]
struct Dir {
    body: Body,
    /// Looking for the next head after lost or invalid bytes.
    resync: bool,
}

/// What the response to a request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Head,
    Connect,
    /// HTTP/0.9: the response is a bare body up to the close.
    V09,
    Other,
}

/// A request whose response is awaited: what framing to expect, and the registry call
/// it is, if any.
#[derive(Debug)]
struct Ask {
    kind: Asked,
    oci: Option<Box<oci::Call>>,
}

/// Most request kinds remembered for framing responses.
const MAX_ASKED: usize = 512;

/// Per-connection state.
#[derive(Debug, Default)]
pub struct HttpSession {
    req: Dir,
    resp: Dir,
    asked: VecDeque<Ask>,
    /// The response whose body is arriving.
    current: Option<Response>,
    /// Interim (1xx) response bytes, counted into the final response.
    interim_bytes: u64,
    /// Registry blobs named by manifests on this connection.
    known: oci::Known,
    /// The request body being kept (a registry manifest PUT).
    cap_req: Option<oci::Capture>,
    /// The response body being kept (a registry manifest GET).
    cap_resp: Option<oci::Capture>,
}

fn status_of(code: u16) -> Status {
    match code {
        100..=399 => Status::Ok,
        400..=499 => Status::ClientError,
        500..=599 => Status::ServerError,
        _ => Status::Unknown,
    }
}

fn push_attr(attrs: &mut Attributes, k: &'static str, v: &str) {
    if !v.is_empty() {
        attrs.push((Text::const_new(k), v.into()));
    }
}

fn common_attrs(attrs: &mut Attributes, f: &Fields) {
    push_attr(attrs, "x_request_id", &f.request_id);
    push_attr(attrs, "traceparent", &f.traceparent);
    if let Some(trace_id) = f.traceparent.split('-').nth(1).filter(|t| t.len() == 32) {
        push_attr(attrs, "trace_id", trace_id);
    }
}

/// Marks of a message whose framing is in doubt (RFC 9112 §6.3), their keys prefixed by
/// `prefix` (`response_` on a response, as MongoDB's `common_attributes` does).
fn framing_attrs(attrs: &mut Attributes, f: &Fields, prefix: &str) {
    let marks = [
        (f.invalid_content_length, "invalid_content_length"),
        (
            f.transfer_encoding_and_content_length,
            "transfer_encoding_and_content_length",
        ),
    ];
    for (on, key) in marks {
        if on {
            attrs.push((format!("{prefix}{key}").into(), "1".into()));
        }
    }
}

/// A body worth keeping for a registry summary: not encoded, not known to be too large.
fn body_fits(body: &Body, f: &Fields) -> bool {
    let encoded =
        !f.content_encoding.is_empty() && !f.content_encoding.eq_ignore_ascii_case("identity");
    *body != Body::Head && !encoded && f.content_length.is_none_or(|n| n <= oci::MAX_BODY as u64)
}

/// An interim status (100 Continue, 103 Early Hints): a final response follows.
fn interim(code: u16) -> bool {
    (100..200).contains(&code) && code != 101
}

fn framing(f: &Fields) -> Body {
    if f.chunked {
        Body::ChunkSize
    } else {
        match f.content_length {
            Some(n) if n > 0 => Body::Length(n),
            _ => Body::Head,
        }
    }
}

impl HttpSession {
    /// Body bytes of the current message: counted, times extended.
    fn account(&mut self, cx: &mut Cx<'_>, fc: bool, n: u64, end_ns: i64) {
        if fc {
            if let Some(r) = cx.last_request() {
                r.bytes += n;
                r.end_ns = r.end_ns.max(end_ns);
            }
        } else if let Some(r) = self.current.as_mut() {
            r.bytes += n;
            r.end_ns = r.end_ns.max(end_ns);
        }
    }

    /// Body bytes of the current message, kept when it is a registry manifest.
    fn keep(&mut self, fc: bool, b: &[u8]) {
        let cap = if fc {
            &mut self.cap_req
        } else {
            &mut self.cap_resp
        };
        if let Some(c) = cap {
            c.extend(b);
        }
    }

    /// A kept manifest body is complete: its summary joins the message's attributes.
    fn summarize(&mut self, cx: &mut Cx<'_>, fc: bool) {
        if fc {
            if let Some(c) = self.cap_req.take()
                && let Some(body) = c.body()
                && let Some(r) = cx.last_request()
            {
                oci::body_attrs(body, true, &mut self.known, &mut r.attributes);
            }
        } else if let Some(c) = self.cap_resp.take()
            && let Some(body) = c.body()
            && let Some(r) = self.current.as_mut()
        {
            let ok = r.code.is_some_and(|c| (200..300).contains(&c));
            oci::body_attrs(body, ok, &mut self.known, &mut r.attributes);
        }
    }

    /// A head cut off by a gap or by the end of its stream: `buf` holds this direction's
    /// unconsumed bytes, the first of which came at `start_ns`. When the direction was
    /// at a head and its first line came whole, the message is written from the lines
    /// that came whole ([`parser::close_cut_head`]).
    fn cut_head(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], start_ns: i64) {
        let dir = if fc { &self.req } else { &self.resp };
        if dir.body != Body::Head || dir.resync {
            return;
        }
        let Some(head) = parser::close_cut_head(buf) else {
            return;
        };
        // Only the first byte's time is known: the message ends where it starts.
        let span = Span {
            start_ns,
            end_ns: start_ns,
        };
        let came = buf.len() as u64;
        if fc {
            self.cut_request(cx, &head, span, came);
        } else {
            self.cut_response(cx, &head, span, came);
        }
    }

    /// A cut request head, closed (`head`): written when its request line parses, with
    /// the `came` bytes that came and `request_incomplete=1`.
    fn cut_request(&mut self, cx: &mut Cx<'_>, head: &[u8], span: Span, came: u64) {
        if !matches!(self.request(cx, head, span), Parse::Consumed(_)) {
            return;
        }
        if let Some(r) = cx.last_request() {
            r.bytes = came;
            // Not `incomplete`: that one is the response's, and both may be in a row.
            r.attributes.push(("request_incomplete".into(), "1".into()));
        }
        // A body it announced never came.
        self.cap_req = None;
        self.req.body = Body::Head;
        cx.request_done();
    }

    /// The current message's body is complete.
    fn body_done(&mut self, cx: &mut Cx<'_>, fc: bool) {
        self.summarize(cx, fc);
        if fc {
            self.req.body = Body::Head;
            cx.request_done();
        } else {
            self.resp.body = Body::Head;
            if let Some(r) = self.current.take() {
                cx.response(r);
            }
        }
    }

    fn request(&mut self, cx: &mut Cx<'_>, buf: &[u8], span: Span) -> Parse {
        let h = match parser::request_head(buf) {
            Head::Done(h) => h,
            Head::Partial => return Parse::Needed(1),
            Head::Invalid => return Parse::Invalid,
        };
        let f = &h.fields;
        let mut domain = Text::from(parser::host_only(&f.host));
        if domain.is_empty()
            && let Some(rest) = h
                .target
                .strip_prefix("http://")
                .or_else(|| h.target.strip_prefix("https://"))
        {
            domain = parser::host_only(rest.split('/').next().unwrap_or_default()).into();
        }
        let endpoint = if h.method == "CONNECT" {
            h.target.clone()
        } else {
            parser::endpoint(&h.target)
        };
        let mut attributes = Vec::new();
        push_attr(&mut attributes, "user_agent", &f.user_agent);
        push_attr(&mut attributes, "content_type", &f.content_type);
        push_attr(&mut attributes, "referer", &f.referer);
        framing_attrs(&mut attributes, f, "");
        common_attrs(&mut attributes, f);
        let body = framing(f);
        let call = oci::classify(&h.method, &h.target).map(Box::new);
        let mut r = Request {
            pair_id: None,
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            bytes: h.len as u64,
            version: Text::const_new(h.version),
            request_type: h.method.clone(),
            domain,
            resource: h.target.clone(),
            endpoint,
            request_id: None,
            attributes,
        };
        self.cap_req = None;
        match &call {
            Some(c) => {
                r.resource = c.resource();
                r.endpoint = Text::const_new(c.endpoint.as_str());
                oci::request_attrs(c, f, &self.known, &mut r.attributes);
                if c.captures_request() && body_fits(&body, f) {
                    self.cap_req = Some(oci::Capture::default());
                }
                if body == Body::Head {
                    cx.request_as(oci::PROTOCOL, r);
                } else {
                    cx.request_open_as(oci::PROTOCOL, r);
                }
            }
            None if body == Body::Head => cx.request(r),
            None => cx.request_open(r),
        }
        if self.asked.len() >= MAX_ASKED {
            self.asked.pop_front();
        }
        let kind = match h.method.as_str() {
            _ if h.version == "HTTP/0.9" => Asked::V09,
            "HEAD" => Asked::Head,
            "CONNECT" => Asked::Connect,
            _ => Asked::Other,
        };
        self.asked.push_back(Ask { kind, oci: call });
        self.req.body = body;
        Parse::Consumed(h.len)
    }

    /// The row of a final response (status line `h`, its bytes at `span`), answering the
    /// oldest request still asked; with what that request was and its registry call.
    fn final_response(
        &mut self,
        h: &ResponseHead,
        span: Span,
    ) -> (Response, Option<Asked>, Option<Box<oci::Call>>) {
        let (asked, call) = match self.asked.pop_front() {
            Some(a) => (Some(a.kind), a.oci),
            None => (None, None),
        };
        let f = &h.fields;
        let mut attributes = Vec::new();
        push_attr(&mut attributes, "response_content_type", &f.content_type);
        push_attr(&mut attributes, "transfer_encoding", &f.transfer_encoding);
        if h.code == 101 {
            push_attr(&mut attributes, "upgrade", &f.upgrade);
        }
        framing_attrs(&mut attributes, f, "response_");
        common_attrs(&mut attributes, f);
        let status = status_of(h.code);
        let exception = call
            .as_deref()
            .and_then(|c| oci::response_attrs(c, h.code, f, &mut attributes));
        let resp = Response {
            pair_id: None,
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            bytes: h.len as u64 + std::mem::take(&mut self.interim_bytes),
            version: Text::const_new(if h.minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" }),
            status,
            code: Some(i64::from(h.code)),
            result: Text::default(),
            exception: match exception {
                Some(e) => e.into(),
                None if matches!(status, Status::ClientError | Status::ServerError) => {
                    h.reason.clone()
                }
                None => Text::default(),
            },
            request_id: None,
            echo: None,
            attributes,
        };
        (resp, asked, call)
    }

    /// A cut response head, closed (`head`): written when its status line parses and is
    /// final, with the `came` bytes that came and `incomplete=1`.
    fn cut_response(&mut self, cx: &mut Cx<'_>, head: &[u8], span: Span, came: u64) {
        let Head::Done(h) = parser::response_head(head) else {
            return;
        };
        if interim(h.code) {
            return;
        }
        let (mut resp, _, _) = self.final_response(&h, span);
        resp.bytes = resp.bytes - h.len as u64 + came;
        resp.attributes.push(("incomplete".into(), "1".into()));
        self.cap_resp = None;
        cx.response(resp);
    }

    fn response(&mut self, cx: &mut Cx<'_>, buf: &[u8], span: Span) -> Parse {
        if self.asked.front().map(|a| a.kind) == Some(Asked::V09)
            && parser::looks_like_response(buf).is_none()
        {
            // An HTTP/0.9 response: no status line, the body runs to the close.
            self.asked.pop_front();
            self.current = Some(Response {
                start_ns: span.start_ns,
                end_ns: span.end_ns,
                bytes: buf.len() as u64,
                version: "HTTP/0.9".into(),
                ..Response::default()
            });
            self.resp.body = Body::UntilClose;
            return Parse::Consumed(buf.len());
        }
        let h = match parser::response_head(buf) {
            Head::Done(h) => h,
            Head::Partial => return Parse::Needed(1),
            Head::Invalid => return Parse::Invalid,
        };
        if interim(h.code) {
            // Interim (100 Continue, 103 Early Hints): the final response follows.
            self.interim_bytes += h.len as u64;
            return Parse::Consumed(h.len);
        }
        let (resp, asked, call) = self.final_response(&h, span);
        let (f, status) = (&h.fields, resp.status);
        if h.code == 101 {
            // Another protocol follows (WebSocket, h2c): none parsed here, and their
            // frames are no protocol's first bytes.
            cx.response(resp);
            return Parse::Stop;
        }
        if asked == Some(Asked::Connect) && status == Status::Ok {
            // A proxy's tunnel: what it carries (TLS, or plain HTTP again) is detected.
            cx.response(resp);
            return Parse::Handover(h.len);
        }
        let body = if asked == Some(Asked::Head) || h.code == 204 || h.code == 304 {
            Body::Head
        } else if f.chunked {
            Body::ChunkSize
        } else {
            match f.content_length {
                Some(0) => Body::Head,
                Some(n) => Body::Length(n),
                None => Body::UntilClose,
            }
        };
        self.resp.body = body;
        self.cap_resp = None;
        if call.is_some_and(|c| c.captures_response()) && body_fits(&body, f) {
            self.cap_resp = Some(oci::Capture::default());
        }
        if body == Body::Head {
            cx.response(resp);
        } else {
            self.current = Some(resp);
        }
        Parse::Consumed(h.len)
    }
}

impl Session for HttpSession {
    fn parse(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) -> Parse {
        // Empty lines before a head are tolerated (RFC 9112 §2.2).
        let blank = buf
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let at_head = if fc {
            self.req.body == Body::Head
        } else {
            self.resp.body == Body::Head
        };
        if blank > 0 && at_head {
            return Parse::Consumed(blank);
        }
        let dir = if fc { &mut self.req } else { &mut self.resp };
        if dir.resync {
            match parser::find_head(buf, fc) {
                Some(0) => dir.resync = false,
                Some(i) => return Parse::Consumed(i),
                // Keep a short tail: a head may begin in it.
                None => return Parse::Consumed(buf.len().saturating_sub(16)),
            }
        }
        let end = span.end_ns;
        match dir.body {
            Body::Head => {
                if fc {
                    self.request(cx, buf, span)
                } else {
                    self.response(cx, buf, span)
                }
            }
            Body::Length(n) | Body::ChunkData(n) => {
                let k = n.min(buf.len() as u64);
                let left = n - k;
                let chunk = matches!(dir.body, Body::ChunkData(_));
                dir.body = match (chunk, left) {
                    (true, 0) => Body::ChunkEnd,
                    (true, l) => Body::ChunkData(l),
                    (false, l) => Body::Length(l),
                };
                self.account(cx, fc, k, end);
                self.keep(fc, &buf[..k as usize]);
                if !chunk && left == 0 {
                    self.body_done(cx, fc);
                }
                Parse::Consumed(k as usize)
            }
            Body::UntilClose => {
                self.account(cx, fc, buf.len() as u64, end);
                self.keep(fc, buf);
                Parse::Consumed(buf.len())
            }
            Body::ChunkSize => match parser::chunk_size(buf) {
                Head::Done((n, l)) => {
                    dir.body = if n == 0 {
                        Body::Trailers
                    } else {
                        Body::ChunkData(n)
                    };
                    self.account(cx, fc, l as u64, end);
                    Parse::Consumed(l)
                }
                Head::Partial => Parse::Needed(1),
                Head::Invalid => Parse::Invalid,
            },
            Body::ChunkEnd => {
                let l = if buf.starts_with(b"\r\n") {
                    2
                } else if buf.starts_with(b"\n") {
                    1
                } else if buf == b"\r" {
                    return Parse::Needed(1);
                } else {
                    return Parse::Invalid;
                };
                dir.body = Body::ChunkSize;
                self.account(cx, fc, l as u64, end);
                Parse::Consumed(l)
            }
            Body::Trailers => match parser::line_len(buf) {
                Some(l) => {
                    self.account(cx, fc, l as u64, end);
                    if buf[..l].trim_ascii().is_empty() {
                        self.body_done(cx, fc);
                    }
                    Parse::Consumed(l)
                }
                None if buf.len() > 8192 => Parse::Invalid,
                None => Parse::Needed(1),
            },
        }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, fc: bool, len: u64, ts_ns: i64) -> bool {
        // A kept body with a hole in it is not summarised.
        if fc {
            self.cap_req = None;
        } else {
            self.cap_resp = None;
        }
        let dir = if fc { &mut self.req } else { &mut self.resp };
        match dir.body {
            // Lost bytes inside a body of known length: skip them and stay in sync.
            Body::Length(n) if len > 0 && len <= n => {
                dir.body = Body::Length(n - len);
                self.account(cx, fc, len, ts_ns);
                if n == len {
                    self.body_done(cx, fc);
                }
            }
            Body::ChunkData(n) if len > 0 && len <= n => {
                dir.body = if n == len {
                    Body::ChunkEnd
                } else {
                    Body::ChunkData(n - len)
                };
                self.account(cx, fc, len, ts_ns);
            }
            Body::UntilClose if len > 0 => self.account(cx, fc, len, ts_ns),
            _ => {
                // Lost in a head, or past the message: write what we have, then look
                // for the next head.
                if fc {
                    cx.request_done();
                } else if let Some(mut r) = self.current.take() {
                    r.attributes.push(("incomplete".into(), "1".into()));
                    cx.response(r);
                }
                let dir = if fc { &mut self.req } else { &mut self.resp };
                dir.body = Body::Head;
                dir.resync = true;
            }
        }
        true
    }

    fn cut(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], start_ns: i64) {
        self.cut_head(cx, fc, buf, start_ns);
    }

    fn end(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) {
        let ts_ns = span.end_ns;
        self.cut_head(cx, fc, buf, span.start_ns);
        if !fc {
            if self.resp.body == Body::UntilClose {
                self.summarize(cx, fc);
            }
            self.cap_resp = None;
        }
        if !fc && let Some(mut r) = self.current.take() {
            // A body delimited by the close, or cut short.
            if self.resp.body != Body::UntilClose {
                r.attributes.push(("incomplete".into(), "1".into()));
            }
            r.end_ns = r.end_ns.max(ts_ns.min(r.end_ns.max(r.start_ns)));
            cx.response(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{attr, segmentation_invariant, tcp_sessions};
    use wirehouse_flow::harness::Split;

    #[test]
    fn a_key_on_both_sides_is_written_once() {
        let rows = |resp_id: &str| {
            let resp =
                format!("HTTP/1.1 200 OK\r\nX-Request-Id: {resp_id}\r\nContent-Length: 0\r\n\r\n");
            let conv: Vec<(bool, &[u8])> = vec![
                (true, b"GET / HTTP/1.1\r\nX-Request-Id: r-1\r\n\r\n"),
                (false, resp.as_bytes()),
            ];
            segmentation_invariant(&conv, 80)
        };
        let keys = |r: &crate::L7Row| {
            r.attributes
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
        };
        // Echoed back (nginx `$request_id`, Envoy): one key.
        let echoed = rows("r-1");
        assert_eq!(keys(&echoed[0]), ["x_request_id"]);
        assert_eq!(attr(&echoed[0], "x_request_id"), Some("r-1"));
        // A different value: the response's under its own key.
        let other = rows("r-2");
        assert_eq!(keys(&other[0]), ["x_request_id", "response_x_request_id"]);
        assert_eq!(attr(&other[0], "response_x_request_id"), Some("r-2"));
    }

    #[test]
    fn invalid_content_length_is_marked_on_its_side() {
        // A response whose lengths differ has no length: its body runs to the close.
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\nhello world";
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"GET / HTTP/1.1\r\nHost: ex.com\r\n\r\n"),
            (false, resp),
        ];
        let rows = segmentation_invariant(&conv, 80);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].response_bytes, resp.len() as u64);
        assert_eq!(attr(&rows[0], "response_invalid_content_length"), Some("1"));
        assert_eq!(attr(&rows[0], "invalid_content_length"), None);
    }

    #[test]
    fn pipelined_requests_pair_in_order_with_every_framing() {
        let big = vec![b'x'; 70_000];
        let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        chunked.extend_from_slice(b"5\r\nhello\r\n1;ext\r\n!\r\n0\r\nX-T: 1\r\n\r\n");
        let mut cl = b"HTTP/1.1 404 Not Found\r\nContent-Length: 70000\r\n\r\n".to_vec();
        cl.extend_from_slice(&big);
        let reqs = b"GET /a/1 HTTP/1.1\r\nHost: ex.com\r\nUser-Agent: t/1\r\n\r\n\
HEAD /b HTTP/1.1\r\nHost: ex.com\r\n\r\n\
POST /c HTTP/1.1\r\nHost: ex.com\r\nContent-Length: 3\r\n\r\nabc\
GET /d HTTP/1.1\r\nHost: ex.com\r\n\r\n";
        let conv: Vec<(bool, &[u8])> = vec![
            (true, reqs),
            (false, &chunked),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"), // HEAD: no body
            (false, &cl),
            (false, b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"),
        ];
        let rows = segmentation_invariant(&conv, 80);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.request_type.as_str(),
                    r.request_resource.as_str(),
                    r.response_code,
                    r.response_status,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("GET", "/a/1", Some(200), "ok"),
                ("HEAD", "/b", Some(200), "ok"),
                ("POST", "/c", Some(404), "client_error"),
                ("GET", "/d", Some(503), "server_error"),
            ]
        );
        assert_eq!(rows[0].endpoint, "/a/{id}");
        assert_eq!(rows[0].request_domain, "ex.com");
        assert_eq!(attr(&rows[0], "user_agent"), Some("t/1"));
        assert_eq!(rows[0].response_bytes, chunked.len() as u64);
        let post = b"POST /c HTTP/1.1\r\nHost: ex.com\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(rows[2].request_bytes, post.len() as u64);
        assert_eq!(rows[2].response_bytes, cl.len() as u64);
        assert_eq!(rows[2].response_exception, "Not Found");
        assert!(
            rows.iter()
                .all(|r| r.l7_protocol == "http" && r.version == "HTTP/1.1")
        );
    }

    /// Request lines whose method HTTP shares with other protocols, and HTTP's own.
    #[test]
    fn borrowed_method_names_are_not_http() {
        use super::parser::probe_request;
        // nDPI `nats.pcap` frame 7: a NATS client's first bytes (the server's INFO came
        // first). The line does not end in an HTTP version; it was taken for HTTP.
        let nats: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"name\":\"\",\"lang\":\"C\",\"version\":\"2.1.0\",\"protocol\":1,\"echo\":true}\r\nPING\r\n";
        assert_eq!(nats.len(), 135);
        assert_eq!(probe_request(nats), None);
        // Before its line ends it may still be a CONNECT to a host: unsure.
        assert_eq!(probe_request(&nats[..20]), Some(false));
        // RFC 2326 §10.1 and RFC 3261 §11 requests.
        assert_eq!(
            probe_request(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
            None
        );
        assert_eq!(
            probe_request(b"OPTIONS rtsp://example.com/media.mp4 RTSP/1.0\r\n"),
            None
        );
        assert_eq!(
            probe_request(b"OPTIONS sip:carol@chicago.com SIP/2.0\r\n"),
            None
        );
        // HTTP: a whole line, a line still coming, HTTP/0.9 (zeek `http_09.pcap`), a
        // CONNECT to a host (zeek `connect-with-header.pcap`).
        assert_eq!(
            probe_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(true)
        );
        assert_eq!(probe_request(b"GET /a/very/long/pa"), Some(true));
        assert_eq!(probe_request(b"GET ht"), Some(false));
        assert_eq!(probe_request(b"GET http://x/"), Some(true));
        assert_eq!(probe_request(b"GET /zeek.html\n"), Some(true));
        assert_eq!(probe_request(b"CONNECT secure.newegg.com:443"), Some(true));
        assert_eq!(
            probe_request(b"CONNECT secure.newegg.com:443 HTTP/1.1\r\n"),
            Some(true)
        );
        assert_eq!(probe_request(b"GE"), Some(false));
        assert_eq!(probe_request(b"HELLO"), None);
    }

    #[test]
    fn unanswered_request_times_out_and_close_ends_a_body() {
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"GET / HTTP/1.0\r\n\r\n"),
            (
                false,
                b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>...</html>",
            ),
            (true, b"GET /never HTTP/1.0\r\n\r\n"),
        ];
        let rows = segmentation_invariant(&conv, 8080);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].response_bytes, 44 + 16);
        assert_eq!(attr(&rows[0], "response_content_type"), Some("text/html"));
        assert_eq!(rows[1].response_status, "timeout");
        assert_eq!(rows[1].response_time_us, None);
    }

    #[test]
    fn upgrade_stops_and_interim_is_not_a_response() {
        let put = b"PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
        let conv: Vec<(bool, &[u8])> = vec![
            (true, put),
            (false, b"HTTP/1.1 100 Continue\r\n\r\n"),
            (true, b"data"),
            (false, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
            (
                true,
                b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            ),
            (
                false,
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
            ),
            (true, b"\x81\x85abcdGET / HTTP/1.1\r\n\r\n"),
        ];
        let rows = segmentation_invariant(&conv, 80);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].response_code, rows[0].request_bytes),
            (Some(201), put.len() as u64 + 4)
        );
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n".len();
        let created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".len();
        assert_eq!(rows[0].response_bytes, (interim + created) as u64);
        assert_eq!(rows[1].response_code, Some(101));
        assert_eq!(attr(&rows[1], "upgrade"), Some("websocket"));
    }

    #[test]
    fn early_response_waits_for_the_request_body() {
        let head = b"POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
        let conv: Vec<(bool, &[u8])> = vec![
            (true, head),
            (true, b"012"),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            (true, b"3456789"),
        ];
        let rows = segmentation_invariant(&conv, 80);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].request_bytes, head.len() as u64 + 10);
        assert_eq!(rows[0].response_code, Some(200));
    }

    #[test]
    fn found_on_any_port_and_not_forced_by_port() {
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ];
        assert_eq!(tcp_sessions(&conv, Split::Whole, 12345).len(), 1);
        let not_http: Vec<(bool, &[u8])> = vec![(true, b"\x16\x03\x01\x02\x00\x01"), (false, b"x")];
        assert!(tcp_sessions(&not_http, Split::Whole, 80).is_empty());
    }

    #[test]
    fn picked_up_mid_request_body_the_server_side_still_tells() {
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"...rest of an upload body..."),
            (false, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
            (true, b"GET /next HTTP/1.1\r\n\r\n"),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ];
        let rows = segmentation_invariant(&conv, 8080);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.request_resource.as_str(), r.response_code))
            .collect();
        assert_eq!(got, [("", Some(201)), ("/next", Some(200))]);
    }

    #[test]
    fn a_flow_oriented_the_wrong_way_is_turned_round() {
        // Segments "from the client" carry responses: the flow table's guess was wrong.
        let conv: Vec<(bool, &[u8])> = vec![
            (false, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            (true, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ];
        let rows = segmentation_invariant(&conv, 80);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.request_resource.as_str(), r.response_code),
            ("/x", Some(200))
        );
        // The harness's client is 10.0.0.1:40000; the real client sent the GET.
        assert_eq!(
            (r.client_ip.to_string().as_str(), r.client_port),
            ("10.0.0.2", 80)
        );
        assert_eq!(
            (r.server_ip.to_string().as_str(), r.server_port),
            ("10.0.0.1", 40000)
        );
    }

    #[test]
    fn garbage_between_messages_resyncs() {
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"GET /1 HTTP/1.1\r\n\r\n"),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            (true, b"\x00\x01garbage\r\nGET /2 HTTP/1.1\r\n\r\n"),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ];
        let rows = segmentation_invariant(&conv, 80);
        let paths: Vec<_> = rows.iter().map(|r| r.request_resource.as_str()).collect();
        assert_eq!(paths, ["/1", "/2"]);
        assert!(rows.iter().all(|r| r.response_code == Some(200)));
    }

    #[test]
    fn spaces_in_the_target_and_a_keepalive_byte_first() {
        // arkime gre-erspan-vxlan.pcap: a target with an unescaped space.
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"GET /Hello Arkime HTTP/1.0\r\n\r\n"),
            (false, b"HTTP/1.1 200 OK\r\n\r\nHi Andy!\n"),
        ];
        let rows = segmentation_invariant(&conv, 80);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].request_type.as_str(),
                rows[0].request_resource.as_str()
            ),
            ("GET", "/Hello Arkime")
        );
        assert_eq!(rows[0].response_code, Some(200));
        // scapy http_chunk.pcap: the capture starts with a Windows keepalive probe (one
        // NUL byte at the stream's first sequence number), then the request.
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"\x00"),
            (
                true,
                b"GET /httpgallery/chunked/chunkedimage.aspx?0.2911017199439567 HTTP/1.1\r\nHost: www.httpwatch.com\r\nConnection: keep-alive\r\n\r\n",
            ),
            (
                false,
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: image/jpeg; charset=utf-8\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ),
        ];
        let rows = segmentation_invariant(&conv, 80);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(
            rows[0].request_resource,
            "/httpgallery/chunked/chunkedimage.aspx?0.2911017199439567"
        );
        assert_eq!(rows[0].response_code, Some(200));
        // Still not a head: a version that is not the last word, or no target at all.
        for line in [
            &b"GET /a HTTP/1.1 x\r\n\r\n"[..],
            b"GET  HTTP/1.1\r\n\r\n",
            b"GET /a HTTP/1.1 HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(
                    super::parser::request_head(line),
                    super::parser::Head::Invalid
                ),
                "{line:?}"
            );
        }
    }

    #[test]
    fn plain_http_through_a_connect_tunnel_is_still_http() {
        let conv: Vec<(bool, &[u8])> = vec![
            (
                true,
                b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
            ),
            (false, b"HTTP/1.1 200 Connection established\r\n\r\n"),
            (true, b"GET /in HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            (
                false,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
        ];
        let rows = segmentation_invariant(&conv, 3128);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.request_type.as_str(), r.response_code))
            .collect();
        assert_eq!(got, [("CONNECT", Some(200)), ("GET", Some(404))]);
        // Tunnels inside tunnels: a flow hands over at most MAX_HANDOVERS times.
        let mut conv: Vec<(bool, &[u8])> = Vec::new();
        for _ in 0..8 {
            conv.push((true, b"CONNECT h:80 HTTP/1.1\r\n\r\n"));
            conv.push((false, b"HTTP/1.1 200 OK\r\n\r\n"));
        }
        let rows = segmentation_invariant(&conv, 3128);
        assert_eq!(rows.len(), usize::from(crate::engine::MAX_HANDOVERS) + 1);
    }
}
