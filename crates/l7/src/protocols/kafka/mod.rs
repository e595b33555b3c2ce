//! Kafka over TCP: detection, per-flow sessions paired by correlation id, large messages
//! consumed progressively, and the `l7_sessions` row mapping (see this folder's
//! README.md).

pub mod parser;

use crate::{
    Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Request, Response, Session, Span, Status,
    Transport,
};
use parser::{
    Body, MAX_MESSAGE, api_info, api_name, cut, decode_request, decode_response, error_name,
    is_server_error, key, request_header, response_header_len,
};
use std::collections::VecDeque;
use wirehouse_schema::{Attributes, Text, ToCompactString, format_compact};

/// The Kafka protocol (registry entry).
#[derive(Debug, Clone, Copy)]
pub struct Kafka;

/// The registry's Kafka entry.
pub static PROTOCOL: Kafka = Kafka;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "kafka",
    id: 100,
    transport: Transport::Tcp,
    default_ports: &[9092, 9093, 9094],
};

/// The first bytes of a message decoded; the rest of a larger one is skipped.
pub const WINDOW: usize = 64 * 1024;
/// Longest `request_resource` / `endpoint`, bytes.
pub const MAX_RESOURCE: usize = 512;
/// Longest attribute value, bytes.
pub const MAX_ATTR: usize = 256;
/// Outstanding requests remembered per flow (to decode their responses).
const MAX_OUTSTANDING: usize = 1024;
/// Versions above the highest known one that the probe still leaves to the port hint.
const VERSION_HEADROOM: i16 = 4;

impl Protocol for Kafka {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        if !input.tcp {
            return Probe::NotMine;
        }
        if input.from_client {
            probe_request(input.bytes)
        } else {
            probe_response(input.bytes)
        }
    }

    fn session(&self) -> Box<dyn Session> {
        Box::new(KafkaSession::default())
    }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be16(b: &[u8]) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

/// Verdict on the first bytes of a request stream: size prefix (8 bytes .. 100 MiB), a
/// known API key, a version in its range, a sane printable client id.
pub fn probe_request(b: &[u8]) -> Probe {
    let Some(size) = be32(b) else {
        return Probe::Unsure;
    };
    let size = size as usize;
    if !(8..=MAX_MESSAGE).contains(&size) {
        return Probe::NotMine;
    }
    let (Some(k), Some(v)) = (be16(&b[4..]), b.get(6..).and_then(be16)) else {
        return Probe::Unsure;
    };
    let Some(api) = api_info(k) else {
        return Probe::NotMine;
    };
    if v < 0 || v > api.max_version.saturating_add(VERSION_HEADROOM) {
        return Probe::NotMine;
    }
    if k == key::CONTROLLED_SHUTDOWN && v == 0 {
        // Request header v0: no client id to check.
        return if b.len() >= 12 {
            Probe::Certain
        } else {
            Probe::Unsure
        };
    }
    let Some(len) = b.get(12..).and_then(be16) else {
        return Probe::Unsure;
    };
    if len < -1 || 10 + len.max(0) as usize > size {
        return Probe::NotMine;
    }
    let id = &b[14..b.len().min(14 + len.max(0) as usize)];
    if !id.iter().all(|c| (0x20..0x7f).contains(c)) {
        return Probe::NotMine;
    }
    // A null or empty client id, or one not yet all here, leaves too few checked bytes
    // (zero-filled binary looks like Produce v0): let the port decide.
    if len <= 0 || id.len() < len as usize || v > api.max_version {
        Probe::Unsure
    } else {
        Probe::Certain
    }
}

/// Verdict on the first bytes of a response stream: a response says too little (a size
/// and a correlation id) to be sure without its request.
pub fn probe_response(b: &[u8]) -> Probe {
    match be32(b) {
        Some(n) if !(4..=MAX_MESSAGE as u32).contains(&n) => Probe::NotMine,
        _ => Probe::Unsure,
    }
}

/// A request whose response is awaited.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    correlation_id: i32,
    api_key: i16,
    api_version: i16,
    /// The request named topics (else the response's are reported).
    had_topics: bool,
}

/// A message being skipped past its decoded prefix.
#[derive(Debug, Default)]
struct Dir {
    /// Bytes of the current message still to skip.
    skip: u64,
    /// The response decoded from the prefix, written when the message ends.
    held: Option<Response>,
    /// Correlation id of the request whose body is being skipped (reported open).
    open: Option<u64>,
    /// A gap was seen: the next bytes must look like a message start.
    resync: bool,
}

/// Per-flow Kafka state.
#[derive(Debug, Default)]
struct KafkaSession {
    dirs: [Dir; 2],
    outstanding: VecDeque<Outstanding>,
}

/// The attribute value `s`, cut.
fn attr(a: &mut Attributes, k: &str, v: impl AsRef<str>) {
    a.push((k.into(), cut(v.as_ref(), MAX_ATTR).into()));
}

/// Attributes of a body; `topics`: also its topics and partition count.
fn body_attributes(b: &Body, topics: bool, a: &mut Attributes) {
    if topics && !b.topics.is_empty() {
        attr(a, "topics", b.topics.join(","));
    }
    if topics && b.partitions > 0 {
        attr(a, "partitions", b.partitions.to_string());
    }
    if let Some(n) = b.records {
        attr(a, "records", n.to_string());
        attr(a, "record_bytes", b.record_bytes.to_string());
        if b.records_partial {
            attr(a, "records_partial", "1");
        }
    }
    if let Some(acks) = b.acks {
        attr(a, "acks", acks.to_string());
    }
    if let Some(g) = &b.group_id {
        attr(a, "group_id", g);
    }
    if let Some(t) = &b.transactional_id {
        attr(a, "transactional_id", t);
    }
    if let Some(t) = b.throttle_time_ms.filter(|&t| t != 0) {
        attr(a, "throttle_time_ms", t.to_string());
    }
    for (k, v) in &b.extra {
        attr(a, k, v);
    }
    if b.malformed {
        attr(a, "decode_error", "1");
    }
}

/// `response_status` of an error code.
pub fn status(code: i16) -> Status {
    if code == 0 {
        Status::Ok
    } else if is_server_error(code) {
        Status::ServerError
    } else {
        Status::ClientError
    }
}

/// Plausible start of a request (after a gap): size, known key, version in range.
fn plausible_request(b: &[u8]) -> Option<bool> {
    let size = be32(b)? as usize;
    let k = be16(b.get(4..)?)?;
    let v = be16(b.get(6..)?)?;
    Some(
        (8..=MAX_MESSAGE).contains(&size)
            && api_info(k).is_some_and(|a| (0..=a.max_version + VERSION_HEADROOM).contains(&v)),
    )
}

impl KafkaSession {
    /// A request of `total` bytes (size prefix included) whose first bytes are `msg`
    /// (after the prefix). Returns false when its header does not decode.
    fn request(
        &mut self,
        cx: &mut Cx<'_>,
        msg: &[u8],
        total: usize,
        span: Span,
        open: bool,
    ) -> bool {
        let size = total - 4;
        let Ok(h) = request_header(msg, size) else {
            return false;
        };
        let b = decode_request(
            h.api_key,
            h.api_version,
            msg.get(h.len..).unwrap_or_default(),
            size - h.len.min(size),
        );
        if b.malformed {
            cx.parse_error();
        }
        let id = u64::from(h.correlation_id as u32);
        let mut attributes = Attributes::new();
        body_attributes(&b, true, &mut attributes);
        let resource = Text::from(cut(&b.topics.join(","), MAX_RESOURCE));
        let endpoint = b.topics.first().map(|t| Text::from(cut(t, MAX_RESOURCE)));
        let no_response = h.api_key == key::PRODUCE && b.acks == Some(0);
        let req = Request {
            pair_id: Some(id),
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            bytes: total as u64,
            version: h.api_version.to_compact_string(),
            request_type: format_compact!("{}_v{}", api_name(h.api_key), h.api_version),
            domain: h.client_id.unwrap_or_default().into(),
            resource,
            endpoint: endpoint.unwrap_or_default(),
            request_id: Some(id),
            attributes,
        };
        if !no_response {
            if self.outstanding.len() >= MAX_OUTSTANDING {
                self.outstanding.pop_front();
            }
            self.outstanding.push_back(Outstanding {
                correlation_id: h.correlation_id,
                api_key: h.api_key,
                api_version: h.api_version,
                had_topics: b.topic_count > 0,
            });
        }
        if open {
            cx.request_open(req);
            self.dirs[0].open = Some(id);
        } else {
            cx.request(req);
        }
        if no_response {
            // acks=0: the broker never answers; close the exchange at once.
            cx.response(Response {
                pair_id: Some(id),
                start_ns: span.end_ns,
                end_ns: span.end_ns,
                status: Status::Unknown,
                ..Response::default()
            });
        }
        true
    }

    /// A response of `total` bytes whose first bytes are `msg`.
    fn response(&mut self, msg: &[u8], total: usize, span: Span) -> Option<Response> {
        let size = total - 4;
        let corr = i32::from_be_bytes(msg.get(..4)?.try_into().ok()?);
        let id = u64::from(corr as u32);
        let mut r = Response {
            pair_id: Some(id),
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            bytes: total as u64,
            request_id: Some(id),
            ..Response::default()
        };
        let Some(i) = self
            .outstanding
            .iter()
            .position(|o| o.correlation_id == corr)
        else {
            return Some(r);
        };
        let o = self.outstanding.remove(i)?;
        r.version = o.api_version.to_compact_string();
        let Ok(hl) = response_header_len(msg, size, o.api_key, o.api_version) else {
            r.attributes.push(("decode_error".into(), "1".into()));
            return Some(r);
        };
        let b = decode_response(
            o.api_key,
            o.api_version,
            msg.get(hl..).unwrap_or_default(),
            size - hl.min(size),
        );
        body_attributes(&b, !o.had_topics, &mut r.attributes);
        if let Some(code) = b.error_code {
            r.code = Some(i64::from(code));
            r.status = status(code);
            if code != 0 {
                r.exception = error_name(code).into();
            }
        }
        Some(r)
    }
}

impl Session for KafkaSession {
    fn parse(&mut self, cx: &mut Cx<'_>, from_client: bool, buf: &[u8], span: Span) -> Parse {
        let d = usize::from(!from_client);
        let dir = &mut self.dirs[d];
        if dir.skip > 0 {
            let n = (buf.len() as u64).min(dir.skip);
            dir.skip -= n;
            if let Some(r) = &mut dir.held {
                r.end_ns = span.end_ns;
            }
            if let Some(id) = dir.open
                && let Some(q) = cx.last_request().filter(|q| q.pair_id == Some(id))
            {
                q.end_ns = span.end_ns;
            }
            if dir.skip == 0 {
                self.finish(cx, d);
            }
            return Parse::Consumed(n as usize);
        }
        let Some(size) = be32(buf) else {
            return Parse::Needed(4 - buf.len());
        };
        let size = size as usize;
        let min = if from_client { 8 } else { 4 };
        if !(min..=MAX_MESSAGE).contains(&size) {
            return Parse::Invalid;
        }
        if dir.resync {
            let ok = if from_client {
                plausible_request(buf)
            } else {
                buf.get(4..8)
                    .and_then(|c| c.try_into().ok())
                    .map(i32::from_be_bytes)
                    .map(|c| self.outstanding.iter().any(|o| o.correlation_id == c))
            };
            match ok {
                None => return Parse::Needed(8 - buf.len()),
                Some(false) => return Parse::Invalid,
                Some(true) => dir.resync = false,
            }
        }
        let total = size + 4;
        let window = total.min(WINDOW);
        if buf.len() < window {
            return Parse::Needed(window - buf.len());
        }
        let msg = &buf[4..window];
        let complete = window == total;
        if from_client {
            if !self.request(cx, msg, total, span, !complete) {
                // Framing holds but the header does not decode (SASL v0 tokens...).
                cx.parse_error();
            }
        } else if let Some(r) = self.response(msg, total, span) {
            if complete {
                cx.response(r);
            } else {
                self.dirs[d].held = Some(r);
            }
        }
        if complete {
            Parse::Consumed(total)
        } else {
            self.dirs[d].skip = (total - window) as u64;
            Parse::Consumed(window)
        }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, from_client: bool, len: u64, _ts_ns: i64) -> bool {
        if len == 0 {
            // Bytes called invalid: the framing is lost for good.
            return false;
        }
        let d = usize::from(!from_client);
        let dir = &mut self.dirs[d];
        if dir.skip >= len {
            // Lost bytes inside a message being skipped: the framing holds.
            dir.skip -= len;
            if dir.skip == 0 {
                self.finish(cx, d);
            }
            return true;
        }
        self.finish(cx, d);
        self.dirs[d].skip = 0;
        self.dirs[d].resync = true;
        true
    }

    fn end(&mut self, cx: &mut Cx<'_>, from_client: bool, _buf: &[u8], _span: Span) {
        self.finish(cx, usize::from(!from_client));
    }
}

impl KafkaSession {
    /// The message being skipped in direction `d` is over: write what was held.
    fn finish(&mut self, cx: &mut Cx<'_>, d: usize) {
        let dir = &mut self.dirs[d];
        if dir.open.take().is_some() {
            cx.request_done();
        }
        if let Some(r) = dir.held.take() {
            cx.response(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parser::tests::hex;
    use super::*;
    use crate::L7Row;
    use crate::testutil::{attr, segmentation_invariant, tcp_sessions};
    use wirehouse_flow::harness::Split;

    // Fixtures: TCP payloads (`tshark -T fields -e tcp.payload`) of the corpus captures
    // deepflow/flow_generator/kafka/*.pcap, arkime/pcap/kafka.pcap and
    // nDPI/pcap/kafka.pcapng (frame numbers after '#'). Expected values come from the
    // DeepFlow .result files and tshark's dissection.
    // 00-produce-v2.pcap #1.
    const PRODUCE_V2_REQ: &str = "0000007500000002000000010010636f6e736f6c652d70726f64756365720001000005dc000000010006746f70696332\
        00000001000000000000003d000000000000000000000031dfa8ca66010000000158741cd909ffffffff0000001b4d65\
        737361676520776974686f757420636f6d7072657373696f6e";
    // 00-produce-v2.pcap #2.
    const PRODUCE_V2_RESP: &str = "0000002e00000001000000010006746f70696332000000010000000000000000000000000000ffffffffffffffff0000\
        0000";
    // 00-produce-v7-sw8.pcap #4.
    const PRODUCE_V7_REQ: &str = "00000134000000070000000100176b61666b612d707974686f6e2d70726f64756365722d31ffff000100007530000000\
        010011717569636b73746172742d6576656e74730000000100000000000000e80000000000000000000000dc00000000\
        02de6839a10000000000000000018bd222af150000018bd222af15ffffffffffffffffffffffffffff00000001d20200\
        00000a4d794b65791648656c6c6f204b61666b6102067377389a02312d596d49334f575a684d7a51745a44417a5a6930\
        30596d4d794c54686d59546b744f546335595759334f4463334e4449322d4d475134593255324d5745745a5759795953\
        30305a54497a4c5749345a6a51744d6d4d314f57557a5a6a51305a4451342d302d5957646c626e51364f6e56702d646a\
        45754d4334772d4c326876625756775957646c2d59584277";
    // 00-produce-v7-sw8.pcap #6.
    const PRODUCE_V7_RESP: &str = "0000004100000001000000010011717569636b73746172742d6576656e74730000000100000000000000000000000000\
        07ffffffffffffffff000000000000000000000000";
    // 00-produce-v9.pcap #1.
    const PRODUCE_V9_REQ: &str = "00000098000000090000002f0010636f6e736f6c652d70726f647563657200000001000005dc02097a71792d74657374\
        020000000064000000000000000000000057ffffffff023345f48e00000000000000000191ea86ee1d00000191ea86ee\
        1dffffffffffffffffffffffffffff000000014a000000013e7171717171717171717171717171717171717171717171\
        717171717171717100000000";
    // 00-produce-v9.pcap #2.
    const PRODUCE_V9_RESP: &str = "000000370000002f0002097a71792d74657374020000000000000000000000000023ffffffffffffffff000000000000\
        0010010000000000000000";
    // 01-fetch-v12-ok.pcap #1.
    const FETCH_V12_REQ: &str = "000000740001000c00003cf30020636f6e73756d65722d636f6e736f6c652d636f6e73756d65722d383931392d3100ff\
        ffffff000001f40000000103200000002f2671c50000342002097a71792d746573740200000000000000000000000000\
        000024ffffffffffffffffffffffff001000000000010100";
    // 01-fetch-v12-ok.pcap #2.
    const FETCH_V12_RESP: &str = "0000001100003cf3000000000000002f2671c50100";
    // 01-fetch-v12-unknown.pcap #1.
    const FETCH_V12_SESSION_REQ: &str = "000000490001000c000000140021636f6e73756d65722d636f6e736f6c652d636f6e73756d65722d38343130372d3100\
        ffffffff000001f4000000010320000000029d2b8e0000000901010100";
    // 01-fetch-v12-unknown.pcap #2.
    const FETCH_V12_ERR_RESP: &str = "000000110000001400000000001400029d2b8e0100";
    // 11-join-group-v7.pcap #1.
    const JOIN_V7_REQ: &str = "0000008d000b0007000000780011636f6e73756d65722d7a7a7a7a31322d3100077a7a7a7a31320000afc8000493e001\
        0009636f6e73756d6572030672616e67651b000100000001000a7a71792d746f70696331ffffffff000000000013636f\
        6f70657261746976652d737469636b791f000100000001000a7a71792d746f7069633100000004ffffffff0000000000\
        00";
    // 11-join-group-v7.pcap #2.
    const JOIN_V7_RESP: &str = "0000004b000000780000000000ffffffffffff00000137636f6e73756d65722d7a7a7a7a31322d312d64386530346130\
        392d396636392d346566652d386637382d3631376462303364383039300100";
    // 13-leave-group-v4.pcap #1.
    const LEAVE_V4_REQ: &str = "0000005e000d0004000000c90011636f6e73756d65722d7a7a7a7a31322d3100077a7a7a7a31320237636f6e73756d65\
        722d7a7a7a7a31322d312d61383632336363382d353437322d343733362d383132652d64393831376432376466636100\
        0000";
    // 13-leave-group-v4.pcap #2.
    const LEAVE_V4_RESP: &str = "00000048000000c9000000000000000237636f6e73756d65722d7a7a7a7a31322d312d61383632336363382d35343732\
        2d343733362d383132652d6439383137643237646663610000000000";
    // 14-sync-group-v5.pcap #1.
    const SYNC_V5_REQ: &str = "000000cf000e0005000000780011636f6e73756d65722d7a7a7a7a31322d3100077a7a7a7a31320000000737636f6e73\
        756d65722d7a7a7a7a31322d312d64386530346130392d396636392d346566652d386637382d36313764623033643830\
        39300009636f6e73756d65720672616e67650237636f6e73756d65722d7a7a7a7a31322d312d64386530346130392d39\
        6636392d346566652d386637382d36313764623033643830393027000100000001000a7a71792d746f70696331000000\
        03000000000000000100000002ffffffff0000";
    // 14-sync-group-v5.pcap #2.
    const SYNC_V5_RESP: &str = "00000042000000780000000000ffff09636f6e73756d65720672616e676527000100000001000a7a71792d746f706963\
        3100000003000000000000000100000002ffffffff00";
    // 18-api-versions-v3.pcap #1.
    const APIV3_REQ: &str = "000000310012000300000002000d61646d696e636c69656e742d3100126170616368652d6b61666b612d6a6176610633\
        2e302e3000";
    // 18-api-versions-v3.pcap #2.
    const APIV3_RESP: &str = "000001b30000000200003c0000000000090000010000000c000002000000070000030000000b00000400000005000005\
        000000030000060000000700000700000003000008000000080000090000000800000a0000000400000b000000070000\
        0c0000000400000d0000000400000e0000000500000f0000000500001000000004000011000000010000120000000300\
        001300000007000014000000060000150000000200001600000004000017000000040000180000000300001900000003\
        00001a0000000300001b0000000100001c0000000300001d0000000200001e0000000200001f00000002000020000000\
        040000210000000200002200000002000023000000020000240000000200002500000003000026000000020000270000\
        0002000028000000020000290000000200002a0000000200002b0000000200002c0000000100002d0000000000002e00\
        00000000002f000000000000300000000100003100000001000032000000000000330000000000003800000000000039\
        0000000000003c0000000000003d00000000000041000000000000420000000000004300000000000000000001010800\
        00000000000000";
    // mixed-with-unsupported.pcap #1.
    const FETCH_V13_REQ: &str = "000000480001000d00ed4de80020636f6e73756d65722d6672617564646574656374696f6e736572766963652d3100ff\
        ffffff000001f400000001032000000047011fe800000e6401010100";
    // mixed-with-unsupported.pcap #3.
    const COMMIT_V8_REQ: &str = "000000a90008000800ed4de90020636f6e73756d65722d6672617564646574656374696f6e736572766963652d310016\
        6672617564646574656374696f6e736572766963650000000146636f6e73756d65722d6672617564646574656374696f\
        6e736572766963652d312d33663666323435312d643139322d346434392d626233622d66343665643439623537613900\
        02076f726465727302000000000000000000000000ffffffff01000000";
    // mixed-with-unsupported.pcap #4.
    const COMMIT_V8_RESP: &str = "0000001b00ed4de9000000000002076f726465727302000000000000000000";
    // mixed-with-unsupported.pcap #6.
    const HEARTBEAT_V4_REQ: &str = "0000008d000c000400ed4dea0020636f6e73756d65722d6672617564646574656374696f6e736572766963652d310016\
        6672617564646574656374696f6e736572766963650000000146636f6e73756d65722d6672617564646574656374696f\
        6e736572766963652d312d33663666323435312d643139322d346434392d626233622d66343665643439623537613900\
        00";
    // mixed-with-unsupported.pcap #7.
    const HEARTBEAT_V4_RESP: &str = "0000000c00ed4dea0000000000000000";
    // mixed-with-unsupported.pcap #9.
    const FETCH_V13_RESP: &str = "0000001100ed4de80000000000000047011fe80100";
    // kafka.pcap #4.
    const LIST_OFFSETS_V0_REQ: &str = "0000004b00020000000000000000ffffffff000000010023696e746567726174696f6e2e746573742e746f7069633134\
        37353030373036393335320000000100000000ffffffffffffffff00000001";
    // kafka.pcapng #1.
    const APIV0_REQ: &str = "000000150012000000000081000772646b61666b6100000000";
    // kafka.pcapng #2.
    const APIV0_RESP: &str = "0000015a0000008100000000003800000000000900010000000c00020000000600030000000b00040000000500050000\
        0003000600000007000700000003000800000008000900000007000a00000003000b00000007000c00000004000d0000\
        0004000e00000005000f0000000500100000000400110000000100120000000300130000000700140000000600150000\
        0002001600000004001700000004001800000003001900000003001a00000003001b00000001001c00000003001d0000\
        0002001e00000002001f0000000200200000000400210000000200220000000200230000000200240000000200250000\
        0003002600000002002700000002002800000002002900000002002a00000002002b00000002002c00000001002d0000\
        0000002e00000000002f0000000000300000000100310000000100320000000000330000000000380000000000390000\
        0000003c00000000003d00000000";
    // kafka.pcapng #3.
    const META_V2_REQ: &str =
        "000000280003000200000082000772646b61666b610000000100114c425f4d41494e5f4c4f475f494e505554";
    // kafka.pcapng #4.
    const META_V2_RESP: &str = "000000740000008200000001000003e9000c3137322e33302e302e32333700002384ffff001651354e4e695850665232\
        7154416f46356937334a5067000003e900000001000000114c425f4d41494e5f4c4f475f494e50555400000000010000\
        00000000000003e900000001000003e900000001000003e9";
    // kafka.pcapng #15.
    const PRODUCE_V3_REQ: &str = "000001bc0000000300000002000772646b61666b61ffff0001000013880000000100114c425f4d41494e5f4c4f475f49\
        4e5055540000000100000000000001800000000000000000000001740000000002436cd0350000000000000000018797\
        c250b80000018797c250b8ffffffffffffffff0000ffffffff00000001820500000001f4047b2274696d657374616d70\
        223a2231363831383738333037222c227265636569766564223a2231363831383738333037222c226d65737361676522\
        3a224170722031392030363a32353a303720727379736c6f67643a20205b6f726967696e20736f6674776172653d5c22\
        727379736c6f67645c2220737756657273696f6e3d5c22382e33322e305c2220782d7069643d5c223139395c2220782d\
        696e666f3d5c22687474703a2f2f7777772e727379736c6f672e636f6d5c225d20727379736c6f676420776173204855\
        506564222c22686f7374223a226c6f672d636f6c6c6563746f72222c227365766572697479223a22696e666f222c2266\
        6163696c697479223a227379736c6f67222c2270726f6772616d6e616d65223a22727379736c6f6764222c2274616722\
        3a22727379736c6f67643a227d0d0a00";
    // kafka.pcapng #16.
    const PRODUCE_V3_RESP: &str = "00000039000000020000000100114c425f4d41494e5f4c4f475f494e505554000000010000000000000000000000ab3c\
        21ffffffffffffffff00000000";
    // kafka.pcapng #26.
    const APIV3B_REQ: &str = "0000003400120003000000030010636f6e736f6c652d70726f647563657200126170616368652d6b61666b612d6a6176\
        6106332e362e3100";
    // kafka.pcapng #28.
    const APIV3B_RESP: &str = "000001ba0000000300003d0000000000090000010000000f000002000000080000030000000c00000400000007000005\
        000000040000060000000800000700000003000008000000080000090000000800000a0000000400000b000000090000\
        0c0000000400000d0000000500000e0000000500000f0000000500001000000004000011000000010000120000000300\
        001300000007000014000000060000150000000200001600000004000017000000040000180000000400001900000003\
        00001a0000000300001b0000000100001c0000000300001d0000000300001e0000000300001f00000003000020000000\
        040000210000000200002200000002000023000000040000240000000200002500000003000026000000030000270000\
        0002000028000000020000290000000300002a0000000200002b0000000200002c0000000100002d0000000000002e00\
        00000000002f000000000000300000000100003100000001000032000000000000330000000000003800000003000039\
        0000000100003a0000000000003c0000000000003d000000000000410000000000004200000000000043000000000000\
        0000000101080000000000000000";
    // kafka.pcapng #30.
    const INITPID_V4_REQ: &str = "0000002b00160004000000040010636f6e736f6c652d70726f647563657200007fffffffffffffffffffffffffff00";
    // kafka.pcapng #31.
    const INITPID_V4_RESP: &str = "0000001600000004000000000000000000000000000000000000";
    // kafka.pcapng #33.
    const META_V12_REQ: &str = "0000003c0003000c000000050010636f6e736f6c652d70726f6475636572000200000000000000000000000000000000\
        0c73616d706c65546f70696300010000";
    // kafka.pcapng #34.
    const META_V12_RESP: &str = "0000007a00000005000000000002000000000a6c6f63616c686f7374000023840000176e452d4f4a76326f5179754363\
        784c7a4d7855634677000000000200000c73616d706c65546f706963c4a4c0df715f41b79ca495c62744d56c00020000\
        000000000000000000000000020000000002000000000100800000000000";
    // kafka.pcapng #36.
    const PRODUCE_V9B_REQ: &str = "0000008800000009000000060010636f6e736f6c652d70726f64756365720000ffff000005dc020c73616d706c65546f\
        706963020000000051000000000000000000000044ffffffff02a1c4dc2a0000000000000000018c8a9f8fd90000018c\
        8a9f8fd900000000000000000000000000000000000124000000011848656c6c6f20776f726c642100000000";
    // kafka.pcapng #37.
    const PRODUCE_V9B_RESP: &str = "0000003a0000000600020c73616d706c65546f706963020000000000000000000000000000ffffffffffffffff000000\
        0000000000010000000000000000";

    /// Rows of a conversation given as hex messages, one segment each.
    fn rows(conv: &[(bool, &str)], port: u16) -> Vec<L7Row> {
        let bytes: Vec<(bool, Vec<u8>)> = conv.iter().map(|(c, h)| (*c, hex(h))).collect();
        let conv: Vec<(bool, &[u8])> = bytes.iter().map(|(c, b)| (*c, b.as_slice())).collect();
        tcp_sessions(&conv, Split::Whole, port)
    }

    fn probe(h: &str, from_client: bool, port: u16) -> Probe {
        PROTOCOL.probe(&ProbeInput {
            bytes: &hex(h),
            from_client,
            tcp: true,
            server_port: port,
            ..ProbeInput::default()
        })
    }

    #[test]
    fn probe_takes_kafka_requests_and_leaves_the_rest() {
        for h in [
            PRODUCE_V2_REQ,
            PRODUCE_V9_REQ,
            FETCH_V12_REQ,
            APIV3_REQ,
            APIV0_REQ,
            JOIN_V7_REQ,
            COMMIT_V8_REQ,
        ] {
            assert_eq!(probe(h, true, 36333), Probe::Certain, "{h}");
        }
        // An empty client id checks too few bytes (zero-filled binary passes): unsure,
        // so the port hint decides.
        assert_eq!(probe(LIST_OFFSETS_V0_REQ, true, 36333), Probe::Unsure);
        assert_eq!(
            probe("00000040000000000000000000000000", true, 8081),
            Probe::Unsure
        );
        // Fewer than 14 bytes: cannot tell yet.
        assert_eq!(probe(&APIV3_REQ[..20], true, 9092), Probe::Unsure);
        // Responses alone cannot be told from the correlation id.
        assert_eq!(probe(PRODUCE_V2_RESP, false, 9092), Probe::Unsure);
        // HTTP, TLS, a DNS-over-TCP query, an unknown API key, a version out of range,
        // a non-printable client id.
        let not = [
            hex("474554202f20485454502f312e310d0a486f73743a20610d0a0d0a"),
            hex("16030100f5010000f10303"),
            hex("0031680c010000010000000000000d70726f642d666364742d65303203696e74"),
            hex("0000001500ff000000000081000772646b61666b6100000000"),
            hex("000000150012002000000081000772646b61666b6100000000"),
            hex("00000015001200000000008100070001020304050600000000"),
        ];
        for b in &not {
            let p = PROTOCOL.probe(&ProbeInput {
                bytes: b,
                from_client: true,
                tcp: true,
                server_port: 9092,
                ..ProbeInput::default()
            });
            assert_eq!(p, Probe::NotMine, "{b:02x?}");
        }
        // Not over UDP; a server sending HTTP is not Kafka.
        let udp = PROTOCOL.probe(&ProbeInput {
            bytes: &hex(APIV3_REQ),
            from_client: true,
            tcp: false,
            server_port: 9092,
            ..ProbeInput::default()
        });
        assert_eq!(udp, Probe::NotMine);
        assert_eq!(
            probe("485454502f312e3120323030204f4b", false, 9092),
            Probe::NotMine
        );
    }

    #[test]
    fn produce_v2_message_set() {
        // DeepFlow: Produce v2, correlation 1, console-producer, topic2, 121/50 bytes, ok.
        let r = rows(&[(true, PRODUCE_V2_REQ), (false, PRODUCE_V2_RESP)], 9092);
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.l7_protocol, "kafka");
        assert_eq!(r.request_type, "Produce_v2");
        assert_eq!(r.version, "2");
        assert_eq!(r.request_domain, "console-producer");
        assert_eq!(r.request_resource, "topic2");
        assert_eq!(r.endpoint, "topic2");
        assert_eq!(r.request_id, Some(1));
        assert_eq!((r.request_bytes, r.response_bytes), (121, 50));
        assert_eq!(r.response_status, "ok");
        assert_eq!(r.response_code, Some(0));
        assert_eq!(r.response_exception, "");
        // tshark: acks 1, one legacy message (message size 49) in a 61-byte set.
        assert_eq!(attr(r, "acks"), Some("1"));
        assert_eq!(attr(r, "records"), Some("1"));
        assert_eq!(attr(r, "record_bytes"), Some("61"));
        assert_eq!(attr(r, "partitions"), Some("1"));
        assert_eq!(attr(r, "topics"), Some("topic2"));
        assert_eq!(attr(r, "records_partial"), None);
        assert_eq!(attr(r, "throttle_time_ms"), None);
    }

    #[test]
    fn produce_v7_and_v9_record_batches() {
        // DeepFlow: Produce v7, correlation 1, kafka-python-producer-1, quickstart-events,
        // 312/69 bytes, ok; tshark: acks 1, batch of 1 record.
        let r = rows(&[(true, PRODUCE_V7_REQ), (false, PRODUCE_V7_RESP)], 36333);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request_type, "Produce_v7");
        assert_eq!(r[0].request_domain, "kafka-python-producer-1");
        assert_eq!(r[0].request_resource, "quickstart-events");
        assert_eq!((r[0].request_bytes, r[0].response_bytes), (312, 69));
        assert_eq!(r[0].response_status, "ok");
        assert_eq!(attr(&r[0], "acks"), Some("1"));
        assert_eq!(attr(&r[0], "records"), Some("1"));
        // Flexible v9: DeepFlow correlation 47, console-producer, zqy-test, 156/59 bytes.
        let r = rows(&[(true, PRODUCE_V9_REQ), (false, PRODUCE_V9_RESP)], 36333);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request_type, "Produce_v9");
        assert_eq!(r[0].request_id, Some(47));
        assert_eq!(r[0].request_domain, "console-producer");
        assert_eq!(r[0].request_resource, "zqy-test");
        assert_eq!((r[0].request_bytes, r[0].response_bytes), (156, 59));
        assert_eq!(r[0].response_code, Some(0));
        assert_eq!(r[0].response_status, "ok");
        // The batch's records count is 1 (record "qqq..."), 99 bytes (compact length 0x64).
        assert_eq!(attr(&r[0], "records"), Some("1"));
        assert_eq!(attr(&r[0], "record_bytes"), Some("99"));
        // nDPI #36/#37: Produce v9 with acks -1 (tshark), "Hello world!" to sampleTopic.
        let r = rows(&[(true, PRODUCE_V9B_REQ), (false, PRODUCE_V9B_RESP)], 9092);
        assert_eq!(r[0].request_resource, "sampleTopic");
        assert_eq!(attr(&r[0], "acks"), Some("-1"));
        assert_eq!(attr(&r[0], "records"), Some("1"));
        assert_eq!(r[0].response_status, "ok");
    }

    #[test]
    fn fetch_v12_request_and_responses() {
        // DeepFlow: Fetch v12, correlation 15603, consumer-console-consumer-8919-1,
        // zqy-test partition 0, 120/21 bytes, ok (no topics in the response).
        let r = rows(&[(true, FETCH_V12_REQ), (false, FETCH_V12_RESP)], 36333);
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.request_type, "Fetch_v12");
        assert_eq!(r.request_id, Some(15603));
        assert_eq!(r.request_domain, "consumer-console-consumer-8919-1");
        assert_eq!(r.request_resource, "zqy-test");
        assert_eq!(r.endpoint, "zqy-test");
        assert_eq!(attr(r, "partitions"), Some("1"));
        assert_eq!((r.request_bytes, r.response_bytes), (120, 21));
        assert_eq!(r.response_status, "ok");
        assert_eq!(r.response_code, Some(0));
        assert_eq!(attr(r, "records"), Some("0"));
        // The same session fetch answered with error bytes 0x1400 (DeepFlow: status code
        // 5120, server error): a code Kafka does not define.
        let r = rows(
            &[(true, FETCH_V12_SESSION_REQ), (false, FETCH_V12_ERR_RESP)],
            9092,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request_id, Some(20));
        assert_eq!(r[0].request_domain, "consumer-console-consumer-84107-1");
        assert_eq!(r[0].request_resource, "");
        assert_eq!(r[0].response_code, Some(5120));
        assert_eq!(r[0].response_exception, "UNKNOWN_ERROR_5120");
        assert_eq!(r[0].response_status, "server_error");
    }

    /// A message from hex pieces, with its size prefix.
    fn framed(pieces: &[&str]) -> String {
        let body = pieces.concat();
        format!("{:08x}{body}", body.len() / 2)
    }

    /// A Fetch v13 request built per FetchRequest.json: topic `id`, partitions 0 and 1.
    fn fetch_v13_request(id: &str) -> String {
        let part = |idx: &str, offset: &str| {
            [
                idx,
                "00000000",
                offset,
                "ffffffff",
                "ffffffffffffffff",
                "00100000",
                "00",
            ]
            .concat()
        };
        framed(&[
            "0001000d",
            "00000007",
            "000163",
            "00", // header v2: client id "c"
            "ffffffff",
            "000001f4",
            "00000001",
            "03200000",
            "00",
            "00000000",
            "ffffffff",
            "02",
            id,
            "03",
            &part("00000000", "0000000000000005"),
            &part("00000001", "0000000000000007"),
            "00",
            "01",
            "01",
            "00", // topic tags, no forgotten topics, rack "", tags
        ])
    }

    /// A Fetch v13 response: topic `id`, partition 0 carrying `batch`, partition 1 with
    /// error `err`.
    fn fetch_v13_response(id: &str, batch: &[u8], err: u16) -> String {
        let recs: String = batch.iter().map(|b| format!("{b:02x}")).collect();
        let len = format!("{:02x}", batch.len() + 1);
        let err = format!("{err:04x}");
        let part = |idx: &str, err: &str, records: &str| {
            [
                idx,
                err,
                "0000000000000006",
                "0000000000000006",
                "0000000000000000",
                "01",
                "ffffffff",
                records,
                "00",
            ]
            .concat()
        };
        framed(&[
            "00000007",
            "00", // header v1
            "00000000",
            "0000",
            "00000000",
            "02",
            id,
            "03",
            &part("00000000", "0000", &[len.as_str(), &recs].concat()),
            &part("00000001", &err, "01"),
            "00",
            "00",
        ])
    }

    #[test]
    fn fetch_v13_topic_ids() {
        // sampleTopic's id, from the Metadata v12 response of nDPI #34.
        let id = "c4a4c0df715f41b79ca495c62744d56c";
        let req = hex(PRODUCE_V9B_REQ);
        let batch = &req[req.len() - 83..req.len() - 3];
        assert_eq!((batch[16], batch.len()), (2, 80));
        let q = fetch_v13_request(id);
        let a = fetch_v13_response(id, batch, 6);
        assert_eq!(probe(&q, true, 9092), Probe::Certain);
        let r = rows(&[(true, &q), (false, &a)], 9092);
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.request_type, "Fetch_v13");
        assert_eq!(r.request_domain, "c");
        assert_eq!(r.request_resource, "c4a4c0df-715f-41b7-9ca4-95c62744d56c");
        assert_eq!(attr(r, "partitions"), Some("2"));
        assert_eq!(attr(r, "records"), Some("1"));
        assert_eq!(attr(r, "record_bytes"), Some("80"));
        assert_eq!(r.response_code, Some(6));
        assert_eq!(r.response_exception, "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(r.response_status, "server_error");

        // The real v13 session fetch (no topics) of mixed-with-unsupported: DeepFlow
        // correlation 15551976, consumer-frauddetectionservice-1, ok, 76/21 bytes.
        let r = rows(&[(true, FETCH_V13_REQ), (false, FETCH_V13_RESP)], 9092);
        assert_eq!(r[0].request_type, "Fetch_v13");
        assert_eq!(r[0].request_id, Some(15551976));
        assert_eq!(r[0].request_domain, "consumer-frauddetectionservice-1");
        assert_eq!((r[0].request_bytes, r[0].response_bytes), (76, 21));
        assert_eq!(r[0].response_status, "ok");
    }

    #[test]
    fn api_versions_v3_flexible_request_v0_response_header() {
        // DeepFlow: ApiVersions v3, correlation 2, adminclient-1, ok, 53/439 bytes.
        let r = rows(&[(true, APIV3_REQ), (false, APIV3_RESP)], 9092);
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.request_type, "ApiVersions_v3");
        assert_eq!(r.request_id, Some(2));
        assert_eq!(r.request_domain, "adminclient-1");
        assert_eq!((r.request_bytes, r.response_bytes), (53, 439));
        assert_eq!(r.response_code, Some(0));
        assert_eq!(r.response_status, "ok");
        assert_eq!(attr(r, "client_software_name"), Some("apache-kafka-java"));
        assert_eq!(attr(r, "client_software_version"), Some("3.0.0"));
        // 59 API keys listed (compact array length 0x3c).
        assert_eq!(attr(r, "api_keys"), Some("59"));
        // nDPI #1/#2: ApiVersions v0 from rdkafka (56 keys, tshark error 0).
        let r = rows(&[(true, APIV0_REQ), (false, APIV0_RESP)], 9092);
        assert_eq!(r[0].request_type, "ApiVersions_v0");
        assert_eq!(r[0].request_domain, "rdkafka");
        assert_eq!(r[0].request_id, Some(129));
        assert_eq!(attr(&r[0], "api_keys"), Some("56"));
        assert_eq!(r[0].response_status, "ok");
    }

    #[test]
    fn group_apis() {
        // DeepFlow: JoinGroup v7 correlation 120, group zzzz12, error -1 (server error).
        let r = rows(&[(true, JOIN_V7_REQ), (false, JOIN_V7_RESP)], 36333);
        assert_eq!(r[0].request_type, "JoinGroup_v7");
        assert_eq!(r[0].request_domain, "consumer-zzzz12-1");
        assert_eq!(attr(&r[0], "group_id"), Some("zzzz12"));
        assert_eq!(r[0].response_code, Some(-1));
        assert_eq!(r[0].response_exception, "UNKNOWN_SERVER_ERROR");
        assert_eq!(r[0].response_status, "server_error");
        assert_eq!((r[0].request_bytes, r[0].response_bytes), (145, 79));
        // SyncGroup v5: same group, error -1.
        let r = rows(&[(true, SYNC_V5_REQ), (false, SYNC_V5_RESP)], 36333);
        assert_eq!(r[0].request_type, "SyncGroup_v5");
        assert_eq!(attr(&r[0], "group_id"), Some("zzzz12"));
        assert_eq!(r[0].response_code, Some(-1));
        assert_eq!((r[0].request_bytes, r[0].response_bytes), (211, 70));
        // LeaveGroup v4 correlation 201: ok (tshark: errors 0,0: top level and member).
        let r = rows(&[(true, LEAVE_V4_REQ), (false, LEAVE_V4_RESP)], 36333);
        assert_eq!(r[0].request_type, "LeaveGroup_v4");
        assert_eq!(r[0].request_id, Some(201));
        assert_eq!(attr(&r[0], "group_id"), Some("zzzz12"));
        assert_eq!(r[0].response_code, Some(0));
        assert_eq!(r[0].response_status, "ok");
        assert_eq!((r[0].request_bytes, r[0].response_bytes), (98, 76));
    }

    #[test]
    fn offset_commit_heartbeat_metadata_list_offsets() {
        // mixed-with-unsupported #3..#7 (one connection); tshark: OffsetCommit v8 group
        // frauddetectionservice, topic orders, partition 0, error 0; Heartbeat v4 error 0.
        let r = rows(
            &[
                (true, COMMIT_V8_REQ),
                (false, COMMIT_V8_RESP),
                (true, HEARTBEAT_V4_REQ),
                (false, HEARTBEAT_V4_RESP),
            ],
            9092,
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].request_type, "OffsetCommit_v8");
        assert_eq!(r[0].request_id, Some(15551977));
        assert_eq!(r[0].request_resource, "orders");
        assert_eq!(attr(&r[0], "group_id"), Some("frauddetectionservice"));
        assert_eq!(r[0].response_code, Some(0));
        assert_eq!(r[0].response_status, "ok");
        assert_eq!(r[1].request_type, "Heartbeat_v4");
        assert_eq!(attr(&r[1], "group_id"), Some("frauddetectionservice"));
        assert_eq!(r[1].response_code, Some(0));
        // nDPI #3/#4: Metadata v2 for LB_MAIN_LOG_INPUT, errors 0,0.
        let r = rows(&[(true, META_V2_REQ), (false, META_V2_RESP)], 9092);
        assert_eq!(r[0].request_type, "Metadata_v2");
        assert_eq!(r[0].request_id, Some(130));
        assert_eq!(r[0].request_resource, "LB_MAIN_LOG_INPUT");
        assert_eq!(r[0].response_code, Some(0));
        assert_eq!(attr(&r[0], "brokers"), Some("1"));
        // arkime: ListOffsets v0, empty client id, one topic; no response captured.
        let r = rows(&[(true, LIST_OFFSETS_V0_REQ)], 9092);
        assert_eq!(r[0].request_type, "ListOffsets_v0");
        assert_eq!(r[0].request_domain, "");
        assert_eq!(r[0].request_resource, "integration.test.topic1475007069352");
        assert_eq!(r[0].response_status, "timeout");
    }

    #[test]
    fn error_codes_map_to_names_and_statuses() {
        use parser::error_name;
        assert_eq!(status(0), Status::Ok);
        for (code, name, st) in [
            (-1, "UNKNOWN_SERVER_ERROR", Status::ServerError),
            (1, "OFFSET_OUT_OF_RANGE", Status::ClientError),
            (3, "UNKNOWN_TOPIC_OR_PARTITION", Status::ClientError),
            (6, "NOT_LEADER_OR_FOLLOWER", Status::ServerError),
            (7, "REQUEST_TIMED_OUT", Status::ServerError),
            (15, "COORDINATOR_NOT_AVAILABLE", Status::ServerError),
            (29, "TOPIC_AUTHORIZATION_FAILED", Status::ClientError),
            (35, "UNSUPPORTED_VERSION", Status::ClientError),
            (42, "INVALID_REQUEST", Status::ClientError),
            (56, "KAFKA_STORAGE_ERROR", Status::ServerError),
            (100, "UNKNOWN_TOPIC_ID", Status::ClientError),
            (133, "SHARE_SESSION_LIMIT_REACHED", Status::ServerError),
            (999, "UNKNOWN_ERROR_999", Status::ServerError),
        ] {
            assert_eq!(error_name(code), name);
            assert_eq!(status(code), st, "{code}");
        }
    }

    #[test]
    fn responses_pair_by_correlation_id_out_of_order() {
        // Two requests in flight, answered in reverse order; then a response nobody asked for.
        let r = rows(
            &[
                (true, FETCH_V12_REQ),
                (true, PRODUCE_V9_REQ),
                (false, PRODUCE_V9_RESP),
                (false, FETCH_V12_RESP),
                (false, HEARTBEAT_V4_RESP),
            ],
            36333,
        );
        assert_eq!(r.len(), 3);
        let by_id = |id: u64| r.iter().find(|x| x.request_id == Some(id)).unwrap();
        let p = by_id(47);
        assert_eq!(
            (p.request_type.as_str(), p.response_bytes),
            ("Produce_v9", 59)
        );
        assert_eq!(p.response_status, "ok");
        let f = by_id(15603);
        assert_eq!(
            (f.request_type.as_str(), f.response_bytes),
            ("Fetch_v12", 21)
        );
        assert_eq!(f.response_status, "ok");
        let u = by_id(15551978);
        assert_eq!(u.request_type, "");
        assert_eq!(u.response_status, "unknown");
        assert_eq!(u.response_bytes, 16);
    }

    #[test]
    fn real_conversation_is_segmentation_invariant() {
        // nDPI kafka.pcapng, the connection from port 46136: ApiVersions v3, InitProducerId
        // v4, Metadata v12, Produce v9 (correlation ids 3..6, console-producer).
        let msgs: Vec<Vec<u8>> = [
            APIV3B_REQ,
            APIV3B_RESP,
            INITPID_V4_REQ,
            INITPID_V4_RESP,
            META_V12_REQ,
            META_V12_RESP,
            PRODUCE_V9B_REQ,
            PRODUCE_V9B_RESP,
        ]
        .iter()
        .map(|h| hex(h))
        .collect();
        let conv: Vec<(bool, &[u8])> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| (i % 2 == 0, m.as_slice()))
            .collect();
        let r = segmentation_invariant(&conv, 9092);
        let got: Vec<_> = r
            .iter()
            .map(|x| (x.request_type.as_str(), x.request_id, x.response_status))
            .collect();
        assert_eq!(
            got,
            [
                ("ApiVersions_v3", Some(3), "ok"),
                ("InitProducerId_v4", Some(4), "ok"),
                ("Metadata_v12", Some(5), "ok"),
                ("Produce_v9", Some(6), "ok"),
            ]
        );
        assert!(r.iter().all(|x| x.request_domain == "console-producer"));
        assert_eq!(r[2].request_resource, "sampleTopic");
        assert_eq!(r[3].request_resource, "sampleTopic");
        assert_eq!(attr(&r[0], "client_software_version"), Some("3.6.1"));
    }

    /// A RecordBatch (magic 2) of `count` records and `len` bytes in all.
    fn batch(count: i32, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[8..12].copy_from_slice(&((len - 12) as i32).to_be_bytes());
        b[16] = 2;
        b[57..61].copy_from_slice(&count.to_be_bytes());
        b
    }

    fn uvarint(mut v: u32, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn with_size(body: Vec<u8>) -> Vec<u8> {
        let mut m = (body.len() as u32).to_be_bytes().to_vec();
        m.extend(body);
        m
    }

    /// A Produce v9 (correlation 47, zqy-test partition 0) carrying `sets`, and a Fetch
    /// v12 response (correlation 15603, zqy-test partition 0) carrying the same batches.
    fn large_messages(sets: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let recs: Vec<u8> = sets.concat();
        let mut p = hex(
            "000000090000002f0010636f6e736f6c652d70726f64756365720000ffff000005dc02097a71792d746573740200000000",
        );
        uvarint(recs.len() as u32 + 1, &mut p);
        p.extend(&recs);
        p.extend([0, 0, 0]);
        let mut f = hex(
            "00003cf3000000000000000000000002097a71792d7465737402000000000000\
            000000000000002400000000000000240000000000000000",
        );
        f.extend(hex("01ffffffff"));
        uvarint(recs.len() as u32 + 1, &mut f);
        f.extend(&recs);
        f.extend([0, 0, 0]);
        (with_size(p), with_size(f))
    }

    #[test]
    fn large_messages_are_consumed_progressively() {
        // Four batches of 50,000 bytes: the first 64 KiB of each message show the first
        // two batch headers (10 + 20 records); the rest is skipped.
        let sets: Vec<Vec<u8>> = [10, 20, 30, 40].iter().map(|&n| batch(n, 50_000)).collect();
        let (produce, fetch) = large_messages(&sets);
        assert!(produce.len() > L7_BUFFER && fetch.len() > L7_BUFFER);
        let (pr, fr) = (hex(PRODUCE_V9_RESP), hex(FETCH_V12_REQ));
        let conv: Vec<(bool, &[u8])> =
            vec![(true, &produce), (false, &pr), (true, &fr), (false, &fetch)];
        let r = segmentation_invariant(&conv, 9092);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].request_type, "Produce_v9");
        assert_eq!(r[0].request_resource, "zqy-test");
        assert_eq!(r[0].request_bytes, produce.len() as u64);
        assert_eq!(r[0].response_status, "ok");
        assert_eq!(attr(&r[0], "records"), Some("30"));
        assert_eq!(attr(&r[0], "record_bytes"), Some("200000"));
        assert_eq!(attr(&r[0], "records_partial"), Some("1"));
        assert_eq!(r[1].request_type, "Fetch_v12");
        assert_eq!(r[1].response_bytes, fetch.len() as u64);
        assert_eq!(r[1].response_status, "ok");
        assert_eq!(attr(&r[1], "records"), Some("30"));
        assert_eq!(attr(&r[1], "records_partial"), Some("1"));
        // The whole-message run ends each row when the last byte of its message came.
        let whole = tcp_sessions(&conv, Split::Random(3), 9092);
        assert!(whole.iter().all(|x| x.end_time >= x.time));

        // Small enough to fit the window: counted exactly.
        let sets: Vec<Vec<u8>> = [3, 4].iter().map(|&n| batch(n, 20_000)).collect();
        let (produce, _) = large_messages(&sets);
        let r = tcp_sessions(&[(true, &produce), (false, &pr)], Split::Random(1), 9092);
        assert_eq!(attr(&r[0], "records"), Some("7"));
        assert_eq!(attr(&r[0], "records_partial"), None);
    }

    /// The engine's default buffer cap.
    const L7_BUFFER: usize = 131_072;

    #[test]
    fn a_gap_inside_a_skipped_message_keeps_the_framing() {
        use wirehouse_flow::harness::{run_on, segments};
        let sets: Vec<Vec<u8>> = [10, 20, 30, 40].iter().map(|&n| batch(n, 50_000)).collect();
        let (produce, _) = large_messages(&sets);
        let (pr, hb, hr) = (
            hex(PRODUCE_V9_RESP),
            hex(FETCH_V12_REQ),
            hex(FETCH_V12_RESP),
        );
        let conv: Vec<(bool, &[u8])> =
            vec![(true, &produce), (false, &pr), (true, &hb), (false, &hr)];
        // Cut in 10,000-byte segments; lose one past the first 64 KiB of the Produce.
        let segs: Vec<_> = segments(&conv, Split::Random(7))
            .into_iter()
            .enumerate()
            .collect();
        let mut seen = 0usize;
        let mut dropped = false;
        let kept: Vec<_> = segs
            .into_iter()
            .filter(|(_, s)| {
                if !s.from_client || s.payload.is_empty() || dropped {
                    return true;
                }
                let start = seen;
                seen += s.payload.len();
                if start > 100_000 && seen < 190_000 {
                    dropped = true;
                    return false;
                }
                true
            })
            .map(|(_, s)| s)
            .collect();
        assert!(dropped);
        let mut e = run_on(
            &kept,
            9092,
            crate::L7Engine::new(crate::L7Config::default()),
        );
        let r: Vec<L7Row> = e.take_rows().collect();
        let got: Vec<_> = r
            .iter()
            .map(|x| (x.request_type.as_str(), x.response_status))
            .collect();
        assert_eq!(got, [("Produce_v9", "ok"), ("Fetch_v12", "ok")]);
    }

    /// xorshift64*.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// `base` with a few random bytes changed (and sometimes cut or extended).
    fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
        let mut m = base.to_vec();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(m.len());
            if let Some(b) = m.get_mut(i) {
                *b = match rng.below(4) {
                    0 => 0xff,
                    1 => rng.next() as u8 & 0x3f,
                    _ => rng.next() as u8,
                };
            }
        }
        match rng.below(5) {
            0 => m.truncate(rng.below(m.len() + 1)),
            1 => m.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
            _ => {}
        }
        m
    }

    /// Every real exchange: (request, response).
    const PAIRS: &[(&str, &str)] = &[
        (PRODUCE_V2_REQ, PRODUCE_V2_RESP),
        (PRODUCE_V3_REQ, PRODUCE_V3_RESP),
        (PRODUCE_V7_REQ, PRODUCE_V7_RESP),
        (PRODUCE_V9_REQ, PRODUCE_V9_RESP),
        (PRODUCE_V9B_REQ, PRODUCE_V9B_RESP),
        (FETCH_V12_REQ, FETCH_V12_RESP),
        (FETCH_V12_SESSION_REQ, FETCH_V12_ERR_RESP),
        (FETCH_V13_REQ, FETCH_V13_RESP),
        (JOIN_V7_REQ, JOIN_V7_RESP),
        (SYNC_V5_REQ, SYNC_V5_RESP),
        (LEAVE_V4_REQ, LEAVE_V4_RESP),
        (APIV3_REQ, APIV3_RESP),
        (APIV0_REQ, APIV0_RESP),
        (APIV3B_REQ, APIV3B_RESP),
        (COMMIT_V8_REQ, COMMIT_V8_RESP),
        (HEARTBEAT_V4_REQ, HEARTBEAT_V4_RESP),
        (META_V2_REQ, META_V2_RESP),
        (META_V12_REQ, META_V12_RESP),
        (INITPID_V4_REQ, INITPID_V4_RESP),
    ];

    #[test]
    fn produce_v3_from_rdkafka() {
        // nDPI #15/#16: tshark Produce v3, correlation 2, rdkafka, acks 1, one batch of one
        // record; response offset 11222049, error 0, throttle 0.
        let r = rows(&[(true, PRODUCE_V3_REQ), (false, PRODUCE_V3_RESP)], 9092);
        assert_eq!(r[0].request_type, "Produce_v3");
        assert_eq!(r[0].request_domain, "rdkafka");
        assert_eq!(r[0].request_resource, "LB_MAIN_LOG_INPUT");
        assert_eq!(attr(&r[0], "records"), Some("1"));
        assert_eq!(attr(&r[0], "acks"), Some("1"));
        assert_eq!(r[0].response_status, "ok");
        assert_eq!(attr(&r[0], "throttle_time_ms"), None);
    }

    #[test]
    fn mutated_conversations_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = PAIRS.iter().map(|(q, a)| (hex(q), hex(a))).collect();
        for round in 0..400 {
            let mut msgs = Vec::new();
            for i in 0..4 {
                let (q, a) = &pairs[(round * 4 + i) % pairs.len()];
                msgs.push((true, mutate(&mut rng, q)));
                msgs.push((false, mutate(&mut rng, a)));
            }
            let conv: Vec<(bool, &[u8])> = msgs
                .iter()
                .filter(|(_, m)| !m.is_empty())
                .map(|(c, m)| (*c, m.as_slice()))
                .collect();
            let split = if round % 2 == 0 {
                Split::Whole
            } else {
                Split::Random(round as u64)
            };
            for r in tcp_sessions(&conv, split, 9092) {
                assert!(r.request_resource.len() <= MAX_RESOURCE);
                assert!(r.endpoint.len() <= MAX_RESOURCE);
                assert!(r.attributes.iter().all(|(_, v)| v.len() <= MAX_ATTR));
            }
        }
        // Every truncation of a real exchange's response, and of its request.
        for (q, a) in pairs.iter().take(6) {
            for n in 0..a.len() {
                let _ = tcp_sessions(&[(true, q), (false, &a[..n])], Split::Whole, 9092);
            }
            for n in 1..q.len() {
                let _ = tcp_sessions(&[(true, &q[..n]), (false, a)], Split::Whole, 9092);
            }
        }
    }

    #[test]
    fn decoders_never_panic_on_truncations_and_mutations() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = PAIRS.iter().map(|(q, a)| (hex(q), hex(a))).collect();
        let check = |b: &Body| {
            assert!(b.topics.iter().map(|t| t.len() + 1).sum::<usize>() < 600 + 300);
            assert!(b.partitions <= parser::MAX_PARTITIONS as u64);
            assert!(b.topic_count <= parser::MAX_TOPICS as u64);
        };
        // Every truncation, as a prefix of the declared message and as a message cut short.
        for (q, a) in &pairs {
            let h = request_header(&q[4..], q.len() - 4).unwrap();
            for n in 4..q.len() {
                for total in [q.len() - 4, n - 4] {
                    if let Ok(h) = request_header(&q[4..n], total) {
                        let body = q.get(4 + h.len..n).unwrap_or_default();
                        check(&decode_request(
                            h.api_key,
                            h.api_version,
                            body,
                            total.saturating_sub(h.len),
                        ));
                    }
                }
                for total in [a.len() - 4, n.min(a.len()) - 4] {
                    let m = &a[4..n.min(a.len())];
                    if let Ok(hl) = response_header_len(m, total, h.api_key, h.api_version) {
                        let body = m.get(hl..).unwrap_or_default();
                        check(&decode_response(
                            h.api_key,
                            h.api_version,
                            body,
                            total.saturating_sub(hl),
                        ));
                    }
                }
            }
        }
        // Mutated bodies decoded as every decoded API at every version.
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut decoded = 0;
        for i in 0..4000 {
            let (q, a) = &pairs[i % pairs.len()];
            let m = mutate(&mut rng, if i % 2 == 0 { q } else { a });
            let k = [
                0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 22, 25, 26, 36,
            ][rng.below(18)];
            let v = rng.below(20) as i16;
            let off = rng.below(24).min(m.len());
            let total = if rng.below(2) == 0 {
                m.len() - off
            } else {
                m.len() - off + rng.below(1000)
            };
            let b = if i % 2 == 0 {
                decode_request(k, v, &m[off..], total)
            } else {
                decode_response(k, v, &m[off..], total)
            };
            check(&b);
            decoded += usize::from(!b.malformed);
            let _ = request_header(&m, m.len());
        }
        assert!(decoded > 100);
    }

    #[test]
    fn caps_bound_the_walk_and_acks_0_expects_no_response() {
        // Produce v9, acks 0, 2000 topics "t0000".."t1999" of one partition (null records).
        let mut p = hex("000000090000000100016300000000000005dc");
        uvarint(2001, &mut p);
        for i in 0..2000 {
            p.push(6);
            p.extend(format!("t{i:04}").bytes());
            p.extend(hex("0200000000000000"));
        }
        p.push(0);
        let m = with_size(p);
        let b = decode_request(0, 9, &m[4 + 12..], m.len() - 16);
        assert_eq!((b.topic_count, b.partitions), (1000, 1000));
        assert!(b.incomplete && !b.malformed);
        let r = tcp_sessions(&[(true, &m)], Split::Whole, 9092);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request_type, "Produce_v9");
        assert!(r[0].request_resource.starts_with("t0000,t0001,"));
        assert!(r[0].request_resource.len() <= MAX_RESOURCE);
        assert!(attr(&r[0], "topics").unwrap().len() <= MAX_ATTR);
        assert_eq!(attr(&r[0], "acks"), Some("0"));
        // No response comes for acks=0: not a timeout.
        assert_eq!(r[0].response_status, "unknown");
        assert_eq!(r[0].response_bytes, 0);
    }
}
