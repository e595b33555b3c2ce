//! Test support for everything that consumes reassembled streams: a [`Collector`]
//! handler that records what each flow delivered, and the **segmentation-invariance
//! harness** — the same TCP conversation cut into segments whole, byte by byte, in
//! random splits, reordered and with duplicates — so any protocol test can assert that
//! its output does not depend on how the bytes were segmented.
//!
//! ```
//! use wirehouse_flow::harness::{Split, deliver};
//! let conv: &[(bool, &[u8])] = &[(true, b"GET / HTTP/1.1\r\n\r\n"), (false, b"HTTP/1.1 200 OK\r\n\r\n")];
//! let whole = deliver(conv, Split::Whole);
//! for split in Split::all(7) {
//!     assert_eq!(deliver(conv, split), whole, "{split:?}");
//! }
//! ```

use crate::{Flow, FlowConfig, FlowKey, FlowTable, StreamEvent, StreamHandler};
use std::net::IpAddr;
use std::sync::Arc;
use wirehouse_wire::{Decoded, IpInfo, L4, TcpInfo, tcp};

/// What one flow delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Client→server (0) and server→client (1) bytes, in order.
    pub bytes: [Vec<u8>; 2],
    /// Gaps per direction: (stream offset where the gap starts, length).
    pub gaps: [Vec<(u64, u64)>; 2],
    /// Whether each direction ended.
    pub ended: [bool; 2],
    /// The direction of each data chunk, run-length merged: (from_client, bytes).
    pub turns: Vec<(bool, usize)>,
}

/// A [`StreamHandler`] that records every flow's delivered streams.
#[derive(Debug, Default)]
pub struct Collector {
    /// Flows that ended: key, client endpoint, what they delivered.
    pub flows: Vec<(FlowKey, (IpAddr, u16), Delivered)>,
}

impl StreamHandler for Collector {
    type State = Delivered;
    fn stream(&mut self, _flow: &Flow, st: &mut Delivered, from_client: bool, ev: StreamEvent<'_>) {
        let i = usize::from(!from_client);
        match ev {
            StreamEvent::Data { bytes, .. } => {
                st.bytes[i].extend_from_slice(bytes);
                match st.turns.last_mut() {
                    Some((d, n)) if *d == from_client => *n += bytes.len(),
                    _ => st.turns.push((from_client, bytes.len())),
                }
            }
            StreamEvent::Gap { len, .. } => {
                let at = st.bytes[i].len() as u64 + st.gaps[i].iter().map(|g| g.1).sum::<u64>();
                st.gaps[i].push((at, len));
            }
            StreamEvent::End { .. } => st.ended[i] = true,
        }
    }
    fn close(&mut self, flow: &mut Flow, st: Delivered) {
        self.flows
            .push((flow.key, flow.key.endpoint(flow.client), st));
    }
}

/// How a conversation is cut into TCP segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// One segment per message.
    Whole,
    /// One byte per segment.
    ByteByByte,
    /// Random segment sizes (seeded).
    Random(u64),
    /// Random sizes, segments of each message shuffled (seeded).
    Reordered(u64),
    /// Random sizes, some segments sent twice, some overlapping (seeded).
    Duplicated(u64),
}

impl Split {
    /// Every kind, with random variants seeded from `seed`.
    pub fn all(seed: u64) -> Vec<Split> {
        vec![
            Split::Whole,
            Split::ByteByByte,
            Split::Random(seed),
            Split::Reordered(seed + 1),
            Split::Duplicated(seed + 2),
        ]
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// One synthetic TCP segment.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Sent by the client.
    pub from_client: bool,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (ACK flag set when not a bare SYN).
    pub ack: u32,
    /// Flags.
    pub flags: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

const CLIENT_ISN: u32 = 0xffff_ff00; // wraps within the first 256 bytes
const SERVER_ISN: u32 = 0x1000_0000;

/// Cuts a conversation (messages in order, `true` = from the client) into segments:
/// handshake, data (split as asked), FIN from both sides. ACKs only acknowledge
/// messages the peer finished before, so no ACK ever passes a byte not yet sent.
pub fn segments(conv: &[(bool, &[u8])], split: Split) -> Vec<Segment> {
    use tcp::flags::*;
    let mut rng = Rng(match split {
        Split::Random(s) | Split::Reordered(s) | Split::Duplicated(s) => {
            s.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
        }
        _ => 1,
    });
    let mut out = vec![
        Segment {
            from_client: true,
            seq: CLIENT_ISN,
            ack: 0,
            flags: SYN,
            payload: vec![],
        },
        Segment {
            from_client: false,
            seq: SERVER_ISN,
            ack: CLIENT_ISN.wrapping_add(1),
            flags: SYN | ACK,
            payload: vec![],
        },
        Segment {
            from_client: true,
            seq: CLIENT_ISN.wrapping_add(1),
            ack: SERVER_ISN.wrapping_add(1),
            flags: ACK,
            payload: vec![],
        },
    ];
    let mut sent = [0u32; 2];
    for &(from_client, msg) in conv {
        let i = usize::from(!from_client);
        let isn = if from_client { CLIENT_ISN } else { SERVER_ISN };
        let peer_isn = if from_client { SERVER_ISN } else { CLIENT_ISN };
        let ack = peer_isn.wrapping_add(1).wrapping_add(sent[1 - i]);
        let mut pieces: Vec<(usize, usize)> = Vec::new();
        let mut pos = 0;
        while pos < msg.len() {
            let n = match split {
                Split::Whole => msg.len(),
                Split::ByteByByte => 1,
                _ => 1 + rng.below(64.min(msg.len() as u64)) as usize,
            };
            let end = (pos + n).min(msg.len());
            pieces.push((pos, end));
            pos = end;
        }
        if let Split::Reordered(_) = split {
            for k in (1..pieces.len()).rev() {
                let j = rng.below(k as u64 + 1) as usize;
                pieces.swap(k, j);
            }
        }
        if let Split::Duplicated(_) = split {
            let mut extra = Vec::new();
            for &(a, b) in &pieces {
                match rng.below(4) {
                    0 => extra.push((a, b)),
                    1 if b < msg.len() => {
                        extra.push((a, (b + 1 + rng.below(8) as usize).min(msg.len())))
                    }
                    _ => {}
                }
            }
            let n = pieces.len();
            for e in extra {
                let at = rng.below(n as u64 + 1) as usize;
                pieces.insert(at.min(pieces.len()), e);
            }
        }
        for (a, b) in pieces {
            out.push(Segment {
                from_client,
                seq: isn
                    .wrapping_add(1)
                    .wrapping_add(sent[i])
                    .wrapping_add(a as u32),
                ack,
                flags: ACK | PSH,
                payload: msg[a..b].to_vec(),
            });
        }
        sent[i] = sent[i].wrapping_add(msg.len() as u32);
    }
    let c_end = CLIENT_ISN.wrapping_add(1).wrapping_add(sent[0]);
    let s_end = SERVER_ISN.wrapping_add(1).wrapping_add(sent[1]);
    out.push(Segment {
        from_client: true,
        seq: c_end,
        ack: s_end,
        flags: FIN | ACK,
        payload: vec![],
    });
    out.push(Segment {
        from_client: false,
        seq: s_end,
        ack: c_end.wrapping_add(1),
        flags: FIN | ACK,
        payload: vec![],
    });
    out.push(Segment {
        from_client: true,
        seq: c_end.wrapping_add(1),
        ack: s_end.wrapping_add(1),
        flags: ACK,
        payload: vec![],
    });
    out
}

/// A decoded TCP/IPv4 packet for a synthetic segment (10.0.0.1:40000 ↔ 10.0.0.2:80).
pub fn decoded(s: &Segment) -> Decoded<'_> {
    decoded_on(s, 80)
}

/// Like [`decoded`], with the server on `port`.
pub fn decoded_on(s: &Segment, port: u16) -> Decoded<'_> {
    let (c, sv): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let (src, dst, sp, dp) = if s.from_client {
        (c, sv, 40000, port)
    } else {
        (sv, c, port, 40000)
    };
    Decoded {
        vlan_id: 0,
        tunnel_depth: 0,
        ip_offset: 0,
        ip: IpInfo {
            version: 4,
            src,
            dst,
            protocol: 6,
            wire_len: 40 + s.payload.len() as u32,
            ttl: 64,
        },
        frag: None,
        l4: L4::Tcp(TcpInfo {
            src_port: sp,
            dst_port: dp,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: 65535,
        }),
        payload: &s.payload,
        payload_wire_len: s.payload.len() as u32,
        l4_truncated: false,
    }
}

/// Feeds segments (1 µs apart) through a flow table with `handler`; returns the handler
/// after the flow has ended.
pub fn run<H: StreamHandler>(segs: &[Segment], handler: H) -> H {
    run_on(segs, 80, handler)
}

/// Like [`run`], with the server on `port`.
pub fn run_on<H: StreamHandler>(segs: &[Segment], port: u16, handler: H) -> H {
    let mut t = FlowTable::with_handler(FlowConfig::default(), handler);
    let src: Arc<str> = "harness".into();
    for (i, s) in segs.iter().enumerate() {
        t.process(
            1_000_000_000 + i as i64 * 1000,
            &decoded_on(s, port),
            &src,
            &mut |_| {},
        );
    }
    t.drain(crate::CloseReason::EndOfInput, &mut |_| {});
    t.into_handler()
}

/// A decoded UDP/IPv4 datagram of the same two hosts (client 10.0.0.1:40000, server
/// 10.0.0.2:`port`).
pub fn datagram_on(from_client: bool, payload: &[u8], port: u16) -> Decoded<'_> {
    let (c, sv): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let (src, dst, sp, dp) = if from_client {
        (c, sv, 40000, port)
    } else {
        (sv, c, port, 40000)
    };
    Decoded {
        vlan_id: 0,
        tunnel_depth: 0,
        ip_offset: 0,
        ip: IpInfo {
            version: 4,
            src,
            dst,
            protocol: 17,
            wire_len: 28 + payload.len() as u32,
            ttl: 64,
        },
        frag: None,
        l4: L4::Udp {
            src_port: sp,
            dst_port: dp,
        },
        payload,
        payload_wire_len: payload.len() as u32,
        l4_truncated: false,
    }
}

/// Feeds UDP datagrams (`true` = from the client, 1 ms apart) through a flow table with
/// `handler`; returns the handler after the flow has ended.
pub fn run_datagrams_on<H: StreamHandler>(dgrams: &[(bool, &[u8])], port: u16, handler: H) -> H {
    let mut t = FlowTable::with_handler(FlowConfig::default(), handler);
    let src: Arc<str> = "harness".into();
    for (i, (fc, p)) in dgrams.iter().enumerate() {
        t.process(
            1_000_000_000 + i as i64 * 1_000_000,
            &datagram_on(*fc, p, port),
            &src,
            &mut |_| {},
        );
    }
    t.drain(crate::CloseReason::EndOfInput, &mut |_| {});
    t.into_handler()
}

/// The streams delivered for `conv` cut as `split`.
pub fn deliver(conv: &[(bool, &[u8])], split: Split) -> Delivered {
    let c = run(&segments(conv, split), Collector::default());
    assert_eq!(c.flows.len(), 1, "one connection expected");
    c.flows.into_iter().next().map(|f| f.2).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_split_delivers_the_same_streams() {
        let big: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
            (false, &big),
            (true, b"GET /b HTTP/1.1\r\n\r\n"),
            (
                false,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
        ];
        let whole = deliver(&conv, Split::Whole);
        assert_eq!(whole.bytes[0].len(), 28 + 19);
        assert_eq!(whole.bytes[1].len(), 5000 + 45);
        assert_eq!(whole.ended, [true, true]);
        assert!(whole.gaps[0].is_empty() && whole.gaps[1].is_empty());
        assert_eq!(whole.turns.len(), 4);
        for seed in 0..20 {
            for split in Split::all(seed) {
                assert_eq!(deliver(&conv, split), whole, "{split:?}");
            }
        }
    }
}
