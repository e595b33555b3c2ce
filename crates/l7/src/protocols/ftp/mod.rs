//! FTP control connections (RFC 959 and its extensions): one row per command, written
//! at its final reply (preliminary `1xx` replies do not end a command), multi-line
//! replies, FIFO pairing, `PASS` masked, the stream handed over to TLS after `AUTH TLS` +
//! `234`. The data endpoints announced by `227`/`229` replies and `PORT`/`EPRT` commands
//! go into the run's [`Shared`](crate::Shared) registry, where the `ftp-data` protocol
//! ([`super::ftp_data`]) finds them; a transfer command's row carries what its data
//! connection moved. See `README.md` for the row mapping.

pub mod parser;

use crate::shared::{Announcement, Endpoint};
use crate::{
    Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Request, Response, Session, Span, Status,
    Transport,
};
use parser::Line;
use std::collections::VecDeque;
use wirehouse_schema::{Attributes, Text};

/// The FTP control protocol.
pub struct Ftp;

/// Registry entry.
pub static PROTOCOL: Ftp = Ftp;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "ftp",
    // No DeepFlow number exists for FTP: 50 is free (DeepFlow uses 1000+ for custom).
    id: 50,
    transport: Transport::Tcp,
    default_ports: &[21, 2121],
};

impl Protocol for Ftp {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        if !input.tcp {
            return Probe::NotMine;
        }
        let v = if input.from_client {
            parser::looks_like_command(input.bytes)
        } else {
            parser::looks_like_greeting(input.bytes)
        };
        let on_port = INFO.default_ports.contains(&input.server_port);
        match v {
            Some(true) => Probe::Certain,
            // A complete `220` line or a known command on FTP's port.
            Some(false) if on_port && memchr::memchr(b'\n', input.bytes).is_some() => {
                Probe::Certain
            }
            Some(false) => Probe::Unsure,
            None => Probe::NotMine,
        }
    }

    fn session(&self) -> Box<dyn Session> {
        Box::<FtpSession>::default()
    }
}

/// Most commands remembered while waiting for their replies.
const MAX_COMMANDS: usize = 256;

/// A command waiting for its final reply.
#[derive(Debug)]
struct Cmd {
    id: u64,
    verb: String,
    /// The endpoint a `PORT`/`EPRT` argument names.
    port: Option<Endpoint>,
}

/// A multi-line reply being read.
#[derive(Debug)]
struct Multi {
    code: u16,
    text: String,
    start_ns: i64,
    bytes: u64,
}

/// Preliminary (`1xx`) replies to the oldest command.
#[derive(Debug)]
struct Prelim {
    code: u16,
    start_ns: i64,
    bytes: u64,
}

/// Per-connection state.
#[derive(Debug, Default)]
pub struct FtpSession {
    /// Skipping to the next line ending (client, server): after a too-long line or a gap.
    skipping: [bool; 2],
    cmds: VecDeque<Cmd>,
    next_id: u64,
    noted: bool,
    /// A final reply was seen (the first one may be the greeting).
    replied: bool,
    multi: Option<Multi>,
    prelim: Option<Prelim>,
    /// The data endpoint announced last (the key the transfer is published under).
    data: Option<Endpoint>,
}

/// `response_status` of a reply code (RFC 959 §4.2): 1xx–3xx are positive; 4xx are
/// transient negative completions (the server cannot do it now: 421, 425, 426, 450,
/// 451, 452) → `server_error`; 5xx are permanent negative completions (syntax errors,
/// not logged in, no such file or no access: 500–504, 530, 550–553) → `client_error`.
pub fn status_of(code: u16) -> Status {
    match code {
        100..=399 => Status::Ok,
        400..=499 => Status::ServerError,
        500..=599 => Status::ClientError,
        _ => Status::Unknown,
    }
}

fn attr(a: &mut Attributes, k: &str, v: impl wirehouse_schema::ToCompactString) {
    a.push((k.into(), v.to_compact_string()));
}

impl FtpSession {
    fn command(&mut self, cx: &mut Cx<'_>, l: &[u8], n: usize, span: Span) {
        let Some(c) = parser::command(l) else {
            cx.parse_error();
            return;
        };
        let resource = if c.verb == "PASS" && !c.arg.is_empty() {
            Text::const_new("****")
        } else {
            parser::text(c.arg.as_bytes(), parser::MAX_ARG).into()
        };
        let port = match c.verb.as_str() {
            "PORT" => parser::host_port(c.arg.as_bytes()),
            "EPRT" => parser::eprt(c.arg.as_bytes()),
            _ => None,
        };
        let id = self.next_id;
        self.next_id += 1;
        cx.request(Request {
            pair_id: Some(id),
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            bytes: n as u64,
            request_type: c.verb.as_str().into(),
            resource,
            endpoint: c.verb.as_str().into(),
            ..Request::default()
        });
        if self.cmds.len() >= MAX_COMMANDS {
            self.cmds.pop_front();
        }
        self.cmds.push_back(Cmd {
            id,
            verb: c.verb,
            port,
        });
    }

    /// A reply line; returns true when parsing must stop (TLS from here on).
    fn reply_line(&mut self, cx: &mut Cx<'_>, l: &[u8], n: usize, span: Span) -> bool {
        if let Some(m) = self.multi.as_mut() {
            m.bytes += n as u64;
            match parser::reply_line(l) {
                Some(r) if r.code == m.code && !r.more => {
                    let m = self.multi.take().expect("in a multi-line reply");
                    return self.reply(cx, m.code, m.text, m.start_ns, span.end_ns, m.bytes);
                }
                _ => return false,
            }
        }
        let Some(r) = parser::reply_line(l) else {
            // A line without a reply code (seen in the wild: "SYST not supported"): the
            // server answered, how is unknown.
            cx.parse_error();
            let t = parser::text(l, parser::MAX_TEXT);
            return self.reply(cx, 0, t, span.start_ns, span.end_ns, n as u64);
        };
        let text = parser::text(r.text, parser::MAX_TEXT);
        if r.more {
            self.multi = Some(Multi {
                code: r.code,
                text,
                start_ns: span.start_ns,
                bytes: n as u64,
            });
            return false;
        }
        self.reply(cx, r.code, text, span.start_ns, span.end_ns, n as u64)
    }

    /// Announces a data endpoint under `key` (and `alias` when it differs).
    fn announce(&mut self, cx: &mut Cx<'_>, key: Endpoint, alias: Endpoint, at_ns: i64) {
        let a = Announcement {
            control_flow_id: cx.flow_id(),
            key,
            at_ns,
        };
        cx.shared().announce(key, a);
        if alias != key {
            cx.shared().announce(alias, a);
        }
        self.data = Some(key);
    }

    /// A complete reply; returns true when parsing must stop.
    fn reply(
        &mut self,
        cx: &mut Cx<'_>,
        code: u16,
        text: String,
        start_ns: i64,
        end_ns: i64,
        bytes: u64,
    ) -> bool {
        if (1..200).contains(&code) {
            // Preliminary: the command goes on (a greeting's `120` is dropped).
            if !self.cmds.is_empty() {
                let p = self.prelim.get_or_insert(Prelim {
                    code,
                    start_ns,
                    bytes: 0,
                });
                p.bytes += bytes;
            }
            return false;
        }
        let first = !std::mem::replace(&mut self.replied, true);
        if first && matches!(code, 220 | 421) {
            // The greeting (`421` when the server refuses), even when the client spoke
            // first: it answers no command.
            return false;
        }
        let Some(cmd) = self.cmds.pop_front() else {
            // A reply to a command not seen (capture started late, lost bytes).
            cx.response(Response {
                pair_id: Some(u64::MAX),
                start_ns,
                end_ns,
                bytes,
                status: status_of(code),
                code: Some(i64::from(code)),
                result: if code < 400 {
                    text.as_str().into()
                } else {
                    Text::default()
                },
                exception: if code >= 400 {
                    text.into()
                } else {
                    Text::default()
                },
                ..Response::default()
            });
            return false;
        };
        let prelim = self.prelim.take();
        let mut attributes = Attributes::new();
        if let Some(p) = &prelim {
            attr(&mut attributes, "preliminary_code", p.code);
        }
        let ((cip, _), (sip, _)) = cx.endpoints();
        let ok = (200..300).contains(&code);
        match (cmd.verb.as_str(), code) {
            ("PASV", 227) => {
                if let Some((ip, port)) = parser::host_port(text.as_bytes()) {
                    // Behind NAT the reply names an address the capture does not see.
                    self.announce(cx, (sip, port), (ip, port), end_ns);
                }
            }
            ("EPSV", 229) => {
                if let Some(port) = parser::epsv_port(text.as_bytes()) {
                    self.announce(cx, (sip, port), (sip, port), end_ns);
                }
            }
            ("PORT" | "EPRT", _) if ok => {
                if let Some((ip, port)) = cmd.port {
                    self.announce(cx, (ip, port), (cip, port), end_ns);
                }
            }
            (v, _) if parser::TRANSFERS.contains(&v) => {
                if let Some(key) = self.data {
                    let started = prelim.is_some() || ok;
                    match cx.shared().take_transfer(cx.flow_id(), key) {
                        Some(t) => {
                            attr(&mut attributes, "data_flow_id", t.data_flow_id);
                            attr(&mut attributes, "data_bytes", t.bytes);
                            let us = (t.last_ns - t.first_ns).max(0) / 1000;
                            attr(&mut attributes, "data_duration_us", us);
                            self.data = None;
                        }
                        None if started => {
                            attr(&mut attributes, "data_pending", 1);
                            self.data = None;
                        }
                        None => {}
                    }
                }
            }
            _ => {}
        }
        let stop = cmd.verb == "AUTH" && code == 234;
        if stop {
            attr(&mut attributes, "tls", 1);
        }
        let (start_ns, bytes) = match &prelim {
            Some(p) => (p.start_ns.min(start_ns), bytes + p.bytes),
            None => (start_ns, bytes),
        };
        let err = code >= 400;
        cx.response(Response {
            pair_id: Some(cmd.id),
            start_ns,
            end_ns,
            bytes,
            status: status_of(code),
            code: (code > 0).then_some(i64::from(code)),
            result: if err {
                Text::default()
            } else {
                text.as_str().into()
            },
            exception: if err { text.into() } else { Text::default() },
            attributes,
            ..Response::default()
        });
        stop
    }
}

impl Session for FtpSession {
    fn parse(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) -> Parse {
        if !self.noted {
            self.noted = true;
            cx.shared().note_ftp();
        }
        let d = usize::from(!fc);
        if self.skipping[d] {
            return match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    self.skipping[d] = false;
                    Parse::Consumed(i + 1)
                }
                None => Parse::Consumed(buf.len()),
            };
        }
        match parser::line(buf) {
            Line::Partial => Parse::Needed(1),
            Line::TooLong => {
                cx.parse_error();
                self.skipping[d] = true;
                Parse::Consumed(parser::MAX_LINE)
            }
            Line::Done(l, n) => {
                if l.iter().all(|b| b.is_ascii_whitespace()) {
                    return Parse::Consumed(n);
                }
                if fc {
                    self.command(cx, l, n, span);
                } else if self.reply_line(cx, l, n, span) {
                    // AUTH TLS accepted: TLS follows, in both directions.
                    return Parse::Lend(n);
                }
                Parse::Consumed(n)
            }
        }
    }

    fn gap(&mut self, _cx: &mut Cx<'_>, fc: bool, len: u64, _ts_ns: i64) -> bool {
        if len > 0 {
            // Resynchronise at the next line.
            self.skipping[usize::from(!fc)] = true;
        }
        true
    }

    fn end(&mut self, cx: &mut Cx<'_>, fc: bool, buf: &[u8], span: Span) {
        // A last line without its line ending.
        if self.skipping[usize::from(!fc)] || buf.is_empty() || buf.len() >= parser::MAX_LINE {
            return;
        }
        let l = buf.strip_suffix(b"\r").unwrap_or(buf);
        if fc {
            self.command(cx, l, buf.len(), span);
        } else {
            self.reply_line(cx, l, buf.len(), span);
        }
    }
}

#[cfg(test)]
mod tests;
