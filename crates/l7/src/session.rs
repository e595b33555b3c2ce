//! Request/response pairing and row assembly. A parser reports each request and each
//! response through a [`Cx`]; the flow's [`Pairing`] matches them by id (DNS txid, Kafka
//! correlation id...) or first-in-first-out (HTTP/1.1 pipelining) and writes
//! [`L7Row`]s. Requests still unanswered when the flow ends, or older than the session
//! timeout when a newer one arrives, are written with `response_status = timeout`.
//!
//! A parser may report a request under another `l7_protocol` than its own
//! ([`Cx::request_as`], [`Cx::request_open_as`]): the HTTP parser does so for OCI registry
//! API calls (`oci`). The row (with its response, or as a timeout) carries that name; the
//! counters stay the reporting protocol's.

use crate::ProtocolInfo;
use crate::Shared;
use crate::row::L7Row;
use std::collections::VecDeque;
use wirehouse_flow::Flow;
use wirehouse_schema::{Attributes, Text, Timestamp};

/// `response_status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Ok,
    /// The client's fault (HTTP 4xx, DNS NXDOMAIN/FORMERR...).
    ClientError,
    /// The server's fault (HTTP 5xx, DNS SERVFAIL/REFUSED...).
    ServerError,
    /// No response came.
    Timeout,
    /// A response whose outcome the protocol does not say.
    #[default]
    Unknown,
}

impl Status {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::ClientError => "client_error",
            Status::ServerError => "server_error",
            Status::Timeout => "timeout",
            Status::Unknown => "unknown",
        }
    }
}

/// A request, as a parser reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// Pairing key (DNS txid...); `None` pairs first-in-first-out.
    pub pair_id: Option<u64>,
    /// Arrival of the first byte, ns.
    pub start_ns: i64,
    /// Arrival of the last byte, ns.
    pub end_ns: i64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// `version`.
    pub version: Text,
    /// `request_type`.
    pub request_type: Text,
    /// `request_domain`.
    pub domain: Text,
    /// `request_resource`.
    pub resource: Text,
    /// `endpoint`.
    pub endpoint: Text,
    /// `request_id`.
    pub request_id: Option<u64>,
    /// Extras.
    pub attributes: Attributes,
}

/// A response, as a parser reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// Pairing key; `None` pairs with the oldest unanswered request.
    pub pair_id: Option<u64>,
    /// Arrival of the first byte, ns.
    pub start_ns: i64,
    /// Arrival of the last byte, ns.
    pub end_ns: i64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// `version` when the request did not say.
    pub version: Text,
    /// `response_status`.
    pub status: Status,
    /// `response_code`.
    pub code: Option<i64>,
    /// `response_result`.
    pub result: Text,
    /// `response_exception`.
    pub exception: Text,
    /// `request_id` when the request was not seen.
    pub request_id: Option<u64>,
    /// What the response repeats of its request (DNS's question section): fills the
    /// request columns (type, domain, resource, endpoint) when no request pairs with it.
    pub echo: Option<Box<Request>>,
    /// Extras (merged after the request's).
    pub attributes: Attributes,
}

/// Counters of one protocol (summed over flows and workers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProtocolStats {
    /// Flows recognised as this protocol.
    pub flows: u64,
    /// Rows written.
    pub sessions: u64,
    /// Requests reported.
    pub requests: u64,
    /// Responses reported.
    pub responses: u64,
    /// Responses with no matching request (written with empty request fields).
    pub unpaired_responses: u64,
    /// Requests written as timeout.
    pub timeouts: u64,
    /// Bytes the parser called invalid (counted per occurrence).
    pub parse_errors: u64,
    /// Gaps the parser was told about.
    pub gaps: u64,
    /// Flows given up (after a gap the parser could not recover from, or too many errors).
    pub given_up: u64,
    /// Times a direction's unconsumed bytes exceeded the buffer cap and were dropped.
    pub buffer_overflows: u64,
    /// Unanswered requests pushed out because too many were pending.
    pub pending_overflows: u64,
}

impl ProtocolStats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &ProtocolStats) {
        self.flows += o.flows;
        self.sessions += o.sessions;
        self.requests += o.requests;
        self.responses += o.responses;
        self.unpaired_responses += o.unpaired_responses;
        self.timeouts += o.timeouts;
        self.parse_errors += o.parse_errors;
        self.gaps += o.gaps;
        self.given_up += o.given_up;
        self.buffer_overflows += o.buffer_overflows;
        self.pending_overflows += o.pending_overflows;
    }
}

/// A request not yet written: unanswered, or answered while its body still arrives.
#[derive(Debug)]
struct Pending {
    req: Request,
    resp: Option<Response>,
    /// More of the request (its body) is still arriving.
    open: bool,
    /// `l7_protocol` of the row when not the parser's own.
    protocol: Option<&'static str>,
}

/// Unwritten requests of one flow.
#[derive(Debug, Default)]
pub(crate) struct Pairing {
    pending: VecDeque<Pending>,
}

/// Limits the pairing works within.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairLimits {
    pub timeout_ns: i64,
    pub max_pending: usize,
}

/// What a parser reports through: the flow it belongs to, its unanswered requests, the
/// rows written so far and the protocol's counters.
pub struct Cx<'a> {
    pub(crate) flow: &'a Flow,
    pub(crate) proto: &'static ProtocolInfo,
    pub(crate) pairing: &'a mut Pairing,
    pub(crate) rows: &'a mut Vec<L7Row>,
    pub(crate) stats: &'a mut ProtocolStats,
    pub(crate) limits: PairLimits,
    /// The flow's client is really its server (see the engine).
    pub(crate) reversed: bool,
    /// The run's cross-worker state.
    pub(crate) shared: &'a Shared,
    /// The protocol before lent the stream ([`crate::Parse::Lend`]).
    pub(crate) lent: bool,
}

impl Cx<'_> {
    /// The protocol before this one lent it the stream ([`crate::Parse::Lend`]): what
    /// follows its shutdown may be in the clear again, to be detected afresh.
    pub fn lent(&self) -> bool {
        self.lent
    }

    /// The server's side of the flow (as the parser sees it).
    fn server_side(&self) -> wirehouse_flow::Side {
        if self.reversed {
            self.flow.client
        } else {
            self.flow.client.other()
        }
    }

    /// The flow's server port.
    pub fn server_port(&self) -> u16 {
        self.flow.key.endpoint(self.server_side()).1
    }

    /// The flow's `(client, server)` endpoints (as the parser sees them).
    pub fn endpoints(&self) -> ((std::net::IpAddr, u16), (std::net::IpAddr, u16)) {
        let server = self.server_side();
        (
            self.flow.key.endpoint(server.other()),
            self.flow.key.endpoint(server),
        )
    }

    /// The flow's `flow_id`.
    pub fn flow_id(&self) -> u64 {
        self.flow.id
    }

    /// The run's state shared by every worker (see [`crate::shared`]).
    pub fn shared(&self) -> &Shared {
        self.shared
    }

    /// True when the flow is TCP.
    pub fn is_tcp(&self) -> bool {
        self.flow.key.proto == wirehouse_wire::ipproto::TCP
    }

    /// Counts bytes the parser could not make sense of but recovered from by itself.
    pub fn parse_error(&mut self) {
        self.stats.parse_errors += 1;
    }

    /// A request was seen. Requests pending longer than the session timeout are written
    /// as timeouts first; beyond the pending cap the oldest is.
    pub fn request(&mut self, r: Request) {
        self.push(r, false, None);
    }

    /// Like [`request`](Self::request), the row written under `l7_protocol = protocol`
    /// instead of the parser's own name (a protocol carried inside another: OCI in HTTP).
    pub fn request_as(&mut self, protocol: &'static str, r: Request) {
        self.push(r, false, Some(protocol));
    }

    /// A request whose body is still to come: a response that arrives before
    /// [`request_done`](Self::request_done) waits for it, so the row counts the whole body.
    pub fn request_open(&mut self, r: Request) {
        self.push(r, true, None);
    }

    /// [`request_open`](Self::request_open) under another `l7_protocol` (see
    /// [`request_as`](Self::request_as)).
    pub fn request_open_as(&mut self, protocol: &'static str, r: Request) {
        self.push(r, true, Some(protocol));
    }

    fn push(&mut self, r: Request, open: bool, protocol: Option<&'static str>) {
        self.stats.requests += 1;
        let cutoff = r.start_ns.saturating_sub(self.limits.timeout_ns);
        while self
            .pairing
            .pending
            .front()
            .is_some_and(|p| p.req.start_ns < cutoff)
        {
            let p = self.pairing.pending.pop_front().expect("non-empty");
            self.finish(p);
        }
        if self.pairing.pending.len() >= self.limits.max_pending {
            self.stats.pending_overflows += 1;
            let p = self.pairing.pending.pop_front().expect("non-empty");
            self.finish(p);
        }
        self.pairing.pending.push_back(Pending {
            req: r,
            resp: None,
            open,
            protocol,
        });
    }

    /// The most recent request not yet written, to extend (a body still arriving).
    pub fn last_request(&mut self) -> Option<&mut Request> {
        self.pairing.pending.back_mut().map(|p| &mut p.req)
    }

    /// The open request's body is complete: written now if its response came already.
    pub fn request_done(&mut self) {
        let Some(i) = self.pairing.pending.iter().rposition(|p| p.open) else {
            return;
        };
        self.pairing.pending[i].open = false;
        if self.pairing.pending[i].resp.is_some() {
            let p = self.pairing.pending.remove(i).expect("in range");
            self.finish(p);
        }
    }

    /// Unanswered requests.
    pub fn pending(&self) -> usize {
        self.pairing
            .pending
            .iter()
            .filter(|p| p.resp.is_none())
            .count()
    }

    /// A response was seen: paired with the request of the same `pair_id`, or the oldest
    /// unanswered one when it has none; written alone when nothing matches.
    pub fn response(&mut self, r: Response) {
        self.stats.responses += 1;
        let unanswered = |p: &Pending| p.resp.is_none();
        let idx = match r.pair_id {
            Some(id) => self
                .pairing
                .pending
                .iter()
                .position(|p| unanswered(p) && p.req.pair_id == Some(id)),
            None => self.pairing.pending.iter().position(unanswered),
        };
        match idx {
            Some(i) if self.pairing.pending[i].open => self.pairing.pending[i].resp = Some(r),
            Some(i) => {
                let p = self.pairing.pending.remove(i).expect("in range");
                self.write(Some(p.req), Some(r), p.protocol);
            }
            None => {
                self.stats.unpaired_responses += 1;
                self.write(None, Some(r), None);
            }
        }
    }

    /// Writes every request not yet written (the flow ended): with its response, or as a
    /// timeout.
    pub(crate) fn flush(&mut self) {
        while let Some(p) = self.pairing.pending.pop_front() {
            self.finish(p);
        }
    }

    fn finish(&mut self, p: Pending) {
        match p.resp {
            Some(r) => self.write(Some(p.req), Some(r), p.protocol),
            None => self.timeout(p.req, p.protocol),
        }
    }

    fn timeout(&mut self, p: Request, protocol: Option<&'static str>) {
        self.stats.timeouts += 1;
        self.write(Some(p), None, protocol);
    }

    fn write(
        &mut self,
        req: Option<Request>,
        resp: Option<Response>,
        protocol: Option<&'static str>,
    ) {
        let f = self.flow;
        let server = self.server_side();
        let (c, s) = (f.key.endpoint(server.other()), f.key.endpoint(server));
        let (start, req_end) = match (&req, &resp) {
            (Some(q), _) => (q.start_ns, q.end_ns),
            (None, Some(r)) => (r.start_ns, r.start_ns),
            (None, None) => return,
        };
        let end = resp.as_ref().map_or(req_end, |r| r.end_ns).max(start);
        let response_time_us = match (&req, &resp) {
            (Some(q), Some(r)) => Some(((r.start_ns - q.start_ns).max(0) / 1000) as u64),
            _ => None,
        };
        let req = match (req, &resp) {
            (Some(q), _) => q,
            (None, Some(r)) => r
                .echo
                .as_deref()
                .cloned()
                .map_or_else(Request::default, |e| Request {
                    request_type: e.request_type,
                    domain: e.domain,
                    resource: e.resource,
                    endpoint: e.endpoint,
                    version: e.version,
                    ..Request::default()
                }),
            (None, None) => Request::default(),
        };
        let (status, resp) = match resp {
            Some(r) => (r.status, r),
            None => (Status::Timeout, Response::default()),
        };
        let mut attributes = req.attributes;
        merge_attributes(&mut attributes, resp.attributes);
        self.stats.sessions += 1;
        self.rows.push(L7Row {
            time: Timestamp::from_ns(start),
            end_time: Timestamp::from_ns(end),
            response_time_us,
            duration_us: ((end - start) / 1000) as u64,
            flow_id: f.id,
            source: f.source.clone(),
            vlan_id: f.vlan_id,
            ip_proto: f.key.proto,
            client_ip: c.0,
            server_ip: s.0,
            client_port: c.1,
            server_port: s.1,
            l7_protocol: protocol.unwrap_or(self.proto.name),
            version: if req.version.is_empty() {
                resp.version
            } else {
                req.version
            },
            request_type: req.request_type,
            request_domain: req.domain,
            request_resource: req.resource,
            endpoint: req.endpoint,
            request_id: req.request_id.or(resp.request_id),
            response_status: status.as_str(),
            response_code: resp.code,
            response_result: resp.result,
            response_exception: resp.exception,
            request_bytes: req.bytes,
            response_bytes: resp.bytes,
            attributes,
        });
    }
}

/// Appends a response's attributes to its request's so that no key appears twice (readers
/// such as DuckDB refuse a map with a repeated key): a key the request already has is
/// left out when the response's value is the same (an `X-Request-Id` echoed back), and
/// written as `response_<key>` when it differs (left out too if that key is also taken).
fn merge_attributes(attrs: &mut Attributes, resp: Attributes) {
    for (k, v) in resp {
        match attrs.iter().find(|(a, _)| *a == k) {
            None => attrs.push((k, v)),
            Some((_, w)) if *w == v => {}
            Some(_) => {
                let k = Text::from(format!("response_{k}"));
                if !attrs.iter().any(|(a, _)| *a == k) {
                    attrs.push((k, v));
                }
            }
        }
    }
}
