//! TCP stream reassembly, one [`HalfStream`] per direction.
//!
//! Delivers each direction's bytes in order as [`StreamEvent`]s: data chunks (with the
//! time of the packet that carried them), explicit gaps with their length, and the end
//! of the stream. Sequence numbers are unwrapped to 64-bit stream offsets, so
//! wrap-around is invisible to consumers.
//!
//! Policies:
//! - **Retransmissions**: a segment whose data was all delivered already (or is already
//!   buffered) is counted and dropped; a segment that partly repeats delivered or
//!   buffered data is counted and only its new bytes are used. Retransmitted SYNs and
//!   FINs count too. A segment filling a hole (at its start or inside it, below the
//!   highest offset seen) counts when the hole is older than the reordering
//!   threshold (the handshake RTT, else 3 ms) and either the other side acknowledged the
//!   hole's start meanwhile or no new bytes came within the threshold before it (old and
//!   new segments interleaved are reordering). A bare ACK whose sequence number is past
//!   the next expected byte shows bytes the capture missed: a hole as well. After the
//!   stream ended (RST), only bytes seen before count; new sequence space is not a
//!   repeat. Keep-alives (one byte, or none, just before the next expected byte) are not
//!   retransmissions.
//! - **Overlaps**: first wins. Bytes already buffered are kept; where a later segment
//!   carries different bytes for them, `overlap_conflicts` counts it.
//! - **Out of order**: a segment beyond the next expected byte is buffered and counted.
//! - **Gaps**: missing bytes are given up on — reported as a gap and counted in
//!   `missing_bytes` — as soon as the other side acknowledges past them (the data was
//!   sent but not captured), after `gap_timeout_s` of packet time, when the direction's
//!   buffer reaches `max_buffer_bytes`, when the global memory cap is hit, or when the
//!   flow ends.
//! - **Mid-stream pickup**: without a SYN, the first segment seen starts the stream.
//! - **Snapshot length**: bytes of a segment cut off by the capture's snaplen (the IP
//!   length says they were sent) take their sequence space and are reported as a gap
//!   where they fall, so header-only captures still tell retransmissions and order.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wirehouse_wire::tcp::flags;

const SEC: i64 = 1_000_000_000;

/// Reassembly limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReassemblyConfig {
    /// Out-of-order bytes buffered per direction at most; beyond it the hole is a gap.
    pub max_buffer_bytes: usize,
    /// Out-of-order bytes buffered over all flows at most (of one flow table).
    pub memcap_bytes: usize,
    /// Seconds of packet time to wait for missing bytes before reporting a gap.
    pub gap_timeout_s: u64,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        Self {
            max_buffer_bytes: 1 << 20,
            memcap_bytes: 256 << 20,
            gap_timeout_s: 10,
        }
    }
}

/// What the reassembler hands to the application layer, per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// The next bytes of the stream.
    Data {
        /// The bytes.
        bytes: &'a [u8],
        /// Time of the first packet that contributed them, ns.
        first_ts_ns: i64,
        /// Time of the last packet that contributed them, ns.
        last_ts_ns: i64,
    },
    /// Bytes that will never come: the stream continues after `len` missing bytes.
    Gap {
        /// Missing bytes.
        len: u64,
        /// When the gap was declared, ns.
        ts_ns: i64,
    },
    /// No more bytes in this direction.
    End {
        /// When, ns.
        ts_ns: i64,
    },
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HalfStats {
    /// Segments (and SYN/FIN) that repeated what was already seen.
    pub retransmits: u64,
    /// Segments that arrived ahead of missing bytes.
    pub out_of_order: u64,
    /// Bytes given up on (sum of gaps).
    pub missing_bytes: u64,
    /// Gaps reported.
    pub gaps: u64,
    /// Overlapping segments whose bytes differed from those buffered (first kept).
    pub overlap_conflicts: u64,
    /// Keep-alive probes.
    pub keepalives: u64,
    /// Bytes delivered in order.
    pub delivered_bytes: u64,
}

/// Buffered bytes: `data`, or (when `uncaptured` > 0, `data` then empty) that many
/// bytes whose segment arrived cut short by the snapshot length.
#[derive(Debug, Clone)]
struct Seg {
    data: Vec<u8>,
    uncaptured: u64,
    ts: i64,
}

impl Seg {
    /// Stream bytes covered.
    fn len(&self) -> u64 {
        self.data.len() as u64 + self.uncaptured
    }

    /// What it counts against the buffer limits: its bytes, or for uncaptured bytes
    /// the size of an entry (so that their number is bounded too).
    fn held(&self) -> usize {
        if self.uncaptured > 0 {
            std::mem::size_of::<Self>()
        } else {
            self.data.len()
        }
    }
}

/// One direction of a TCP connection.
#[derive(Debug, Clone, Default)]
pub struct HalfStream {
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    syn_seen: bool,
    next: u64,
    fin: Option<u64>,
    ended: bool,
    ooo: BTreeMap<u64, Seg>,
    ooo_bytes: usize,
    hole_since: Option<i64>,
    /// The other side acknowledged the start of the first hole after it appeared (it
    /// still waits for those bytes: a later fill was sent again).
    hole_acked: bool,
    /// End of the highest data offset buffered past a hole, and when a segment last
    /// moved it.
    high: u64,
    high_ts: i64,
    /// A segment filling a hole this long (ns) after the hole appeared is a
    /// retransmission, sooner it was merely reordered; 0 means the 3 ms default. The
    /// flow table sets it to the handshake RTT when that is known (as tshark does).
    /// Reordering that lasts longer (old and new segments interleaved) is told apart by
    /// the time since the highest offset last moved, unless the other side
    /// acknowledged the hole's start meanwhile.
    pub reorder_ns: i64,
    /// Counters.
    pub stats: HalfStats,
}

impl HalfStream {
    /// Bytes held in the out-of-order buffer.
    pub fn buffered(&self) -> usize {
        self.ooo_bytes
    }

    /// True once the stream has ended (FIN delivered, RST or flush).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The next in-order stream offset.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// The sequence number of the SYN this direction opened with, if one was seen.
    pub(crate) fn syn_seq(&self) -> Option<u32> {
        self.base
            .filter(|_| self.syn_seen)
            .map(|b| b.wrapping_sub(1))
    }

    /// Stream offset of `seq`, relative to the next expected byte (handles wrap-around).
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let next_seq = base.wrapping_add(self.next as u32);
        Some(self.next as i64 + i64::from(seq.wrapping_sub(next_seq) as i32))
    }

    /// Accounts one segment of this direction: `payload` as captured, followed by
    /// `uncaptured` bytes the snapshot length cut off (they take sequence space and count
    /// as missing bytes). Returns the change in buffered bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        cfg: &ReassemblyConfig,
        ts: i64,
        seq: u32,
        tcp_flags: u8,
        payload: &[u8],
        uncaptured: u32,
        emit: &mut dyn FnMut(StreamEvent<'_>),
    ) -> isize {
        let mut cut = u64::from(uncaptured);
        // Sequence space the segment takes, captured or not.
        let len = payload.len() as i64 + i64::from(uncaptured);
        let before = self.ooo_bytes as isize;
        let syn = tcp_flags & flags::SYN != 0;
        let fin = tcp_flags & flags::FIN != 0;
        let data_seq = if syn {
            match self.base {
                Some(b) if b == seq.wrapping_add(1) => {
                    if payload.is_empty() {
                        self.stats.retransmits += 1;
                        return 0;
                    }
                }
                Some(_) if self.syn_seen || self.next > 0 => {
                    // A SYN with another ISN on a live stream: ignore it (counted as a retransmission).
                    self.stats.retransmits += 1;
                    return 0;
                }
                _ => {
                    self.base = Some(seq.wrapping_add(1));
                    self.syn_seen = true;
                }
            }
            seq.wrapping_add(1)
        } else {
            if self.base.is_none() {
                self.base = Some(seq);
            }
            seq
        };
        if self.ended {
            // Only what was seen before the end can be repeated: new sequence space after
            // an RST (a FIN crossing it, data sent before the reset arrived) is not.
            let repeat = self.offset_of(data_seq).is_none_or(|off| {
                if len == 0 {
                    self.fin.is_some_and(|f| off <= f as i64)
                } else {
                    off + len <= self.next as i64
                }
            });
            if (len > 0 || fin) && repeat {
                self.stats.retransmits += 1;
            }
            return 0;
        }
        let Some(mut off) = self.offset_of(data_seq) else {
            return 0;
        };
        let next = self.next as i64;
        let mut data = payload;
        if len == 0 {
            if fin {
                if self.fin.is_some() && off < next {
                    self.stats.retransmits += 1;
                } else if off >= next {
                    self.fin = Some(off as u64);
                }
            } else if off == next - 1 {
                self.stats.keepalives += 1;
            } else if off > next && off - next <= 1 << 30 {
                // A bare ACK sent after bytes the capture missed: they are a hole (their
                // copy that fills it later was sent again).
                self.raise_high(off as u64, ts);
                self.hole_since.get_or_insert(ts);
            }
            self.try_end(ts, emit);
            return self.ooo_bytes as isize - before;
        }
        let end = off + len;
        if end <= next {
            if len == 1 && off == next - 1 && !fin {
                self.stats.keepalives += 1;
            } else {
                self.stats.retransmits += 1;
            }
            return 0;
        }
        let mut counted = false;
        if off < next {
            self.stats.retransmits += 1;
            counted = true;
            let skip = (next - off) as u64;
            let kept = skip.min(data.len() as u64);
            data = &data[kept as usize..];
            cut -= skip - kept;
            off = next;
        }
        if fin {
            self.fin = Some(end as u64);
        }
        let off = off as u64;
        if off == self.next {
            if !counted && self.late_fill(ts) {
                // It fills a hole long after later bytes arrived, and either the other
                // side asked for it meanwhile or no new bytes came just before: sent
                // again, not reordered.
                self.stats.retransmits += 1;
            }
            self.hole_acked = false;
            self.deliver(off, data, ts, emit);
            if cut > 0 {
                let at = off + data.len() as u64;
                self.fill_holes(at, at, &[], cut, ts);
            }
            self.drain(emit);
        } else {
            // Below the highest offset, long after the hole appeared: sent again.
            let late = end as u64 <= self.high && self.late_fill(ts);
            // Only segments past a hole can move the highest offset while there is one.
            self.raise_high(end as u64, ts);
            self.buffer(off, data, cut, ts, late);
            self.hole_since.get_or_insert(ts);
            if self.ooo_bytes > cfg.max_buffer_bytes {
                self.give_up_first_hole(ts, emit);
            }
        }
        self.try_end(ts, emit);
        self.ooo_bytes as isize - before
    }

    /// A segment filling a hole at `ts` was sent again rather than reordered: the hole is
    /// older than the reordering threshold, and either the other side asked for its
    /// bytes meanwhile or no new bytes came within the threshold before.
    fn late_fill(&self, ts: i64) -> bool {
        let threshold = if self.reorder_ns > 0 {
            self.reorder_ns
        } else {
            3_000_000
        };
        self.hole_since
            .is_some_and(|h| ts.saturating_sub(h) > threshold)
            && (self.hole_acked || ts.saturating_sub(self.high_ts) > threshold)
    }

    /// Notes that the sender has reached stream offset `end` at `ts`, if that is further
    /// than before.
    fn raise_high(&mut self, end: u64, ts: i64) {
        if end > self.high {
            self.high = end;
            self.high_ts = ts;
        }
    }

    /// Delivers `data` at offset `off` (== next), dropping buffered bytes it covers
    /// (first wins: buffered bytes that differ are counted as conflicts).
    fn deliver(&mut self, off: u64, data: &[u8], ts: i64, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        let end = off + data.len() as u64;
        // Buffered segments overlapping [off, end): buffered bytes win where they exist.
        let overlapping: Vec<u64> = self.ooo.range(..end).map(|(k, _)| *k).collect();
        let mut cut = data.len();
        for k in overlapping {
            let held = &self.ooo[&k];
            let seg_end = k + held.len();
            if seg_end <= off {
                continue;
            }
            // Deliver new data only up to the first buffered segment; the buffer supplies the rest.
            if k >= off {
                let a = (k - off) as usize;
                let b = (seg_end.min(end) - off) as usize;
                if held.uncaptured == 0 && held.data[..b - a] != data[a..b] {
                    self.stats.overlap_conflicts += 1;
                }
                cut = cut.min(a);
            }
        }
        let part = &data[..cut];
        if !part.is_empty() {
            emit(StreamEvent::Data {
                bytes: part,
                first_ts_ns: ts,
                last_ts_ns: ts,
            });
            self.stats.delivered_bytes += part.len() as u64;
        }
        self.next = off + cut as u64;
        if cut < data.len() {
            // The rest of this segment beyond the buffered bytes is kept in the buffer
            // (its overlaps were compared above).
            self.fill_holes(off + cut as u64, off, data, 0, ts);
        }
    }

    /// Walks `data` (which starts at stream offset `off`) and the `uncaptured` bytes
    /// after it from offset `from` to their end: bytes already buffered are kept (and
    /// compared where both were captured), the others are buffered. Returns how many
    /// bytes were already held and whether any of them differed.
    fn fill_holes(
        &mut self,
        from: u64,
        off: u64,
        data: &[u8],
        uncaptured: u64,
        ts: i64,
    ) -> (u64, bool) {
        let data_end = off + data.len() as u64;
        let end = data_end + uncaptured;
        let mut pos = from;
        let mut covered = 0u64;
        let mut conflict = false;
        while pos < end {
            if let Some((&k, s)) = self.ooo.range(..=pos).next_back()
                && k + s.len() > pos
            {
                let held_end = (k + s.len()).min(end);
                let same_end = held_end.min(data_end);
                if s.uncaptured == 0 && pos < same_end {
                    let held = &s.data[(pos - k) as usize..(same_end - k) as usize];
                    if held != &data[(pos - off) as usize..(same_end - off) as usize] {
                        conflict = true;
                    }
                }
                covered += held_end - pos;
                pos = held_end;
                continue;
            }
            let stop = self
                .ooo
                .range(pos..)
                .next()
                .map(|(k, _)| *k)
                .unwrap_or(end)
                .min(end);
            if pos < data_end {
                let piece_end = stop.min(data_end);
                let piece = data[(pos - off) as usize..(piece_end - off) as usize].to_vec();
                self.ooo_bytes += piece.len();
                self.ooo.insert(
                    pos,
                    Seg {
                        data: piece,
                        uncaptured: 0,
                        ts,
                    },
                );
                pos = piece_end;
            }
            if pos < stop {
                let seg = Seg {
                    data: Vec::new(),
                    uncaptured: stop - pos,
                    ts,
                };
                self.ooo_bytes += seg.held();
                self.ooo.insert(pos, seg);
                pos = stop;
            }
        }
        (covered, conflict)
    }

    /// Buffers an out-of-order segment (`data`, then `uncaptured` bytes), first wins
    /// against what is buffered. It is a retransmission when it repeats buffered bytes
    /// (all or some) or is a `late` hole fill, else out of order.
    fn buffer(&mut self, off: u64, data: &[u8], uncaptured: u64, ts: i64, late: bool) {
        let (covered, conflict) = self.fill_holes(off, off, data, uncaptured, ts);
        if conflict {
            self.stats.overlap_conflicts += 1;
        }
        if covered > 0 || late {
            self.stats.retransmits += 1;
        } else {
            self.stats.out_of_order += 1;
        }
    }

    /// Delivers buffered segments that are now in order.
    fn drain(&mut self, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        while let Some(entry) = self.ooo.first_entry() {
            let k = *entry.key();
            if k > self.next {
                break;
            }
            let s = entry.remove();
            self.ooo_bytes -= s.held();
            let end = k + s.len();
            if end <= self.next {
                continue;
            }
            if s.uncaptured > 0 {
                // Cut off by the snapshot length: never to be seen.
                self.gap(end - self.next, s.ts, emit);
                continue;
            }
            let bytes = &s.data[(self.next - k) as usize..];
            emit(StreamEvent::Data {
                bytes,
                first_ts_ns: s.ts,
                last_ts_ns: s.ts,
            });
            self.stats.delivered_bytes += bytes.len() as u64;
            self.next = end;
        }
        self.hole_since = if self.ooo.is_empty() {
            None
        } else {
            self.hole_since
        };
    }

    fn gap(&mut self, len: u64, ts: i64, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        if len == 0 {
            return;
        }
        emit(StreamEvent::Gap { len, ts_ns: ts });
        self.stats.gaps += 1;
        self.stats.missing_bytes += len;
        self.next += len;
    }

    /// Gives up on the first hole: a gap up to the first buffered byte, then delivery.
    fn give_up_first_hole(&mut self, ts: i64, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        if let Some((&k, _)) = self.ooo.first_key_value() {
            self.gap(k.saturating_sub(self.next), ts, emit);
            self.hole_acked = false;
            self.drain(emit);
            self.hole_since = if self.ooo.is_empty() { None } else { Some(ts) };
        }
    }

    fn try_end(&mut self, ts: i64, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        if !self.ended && self.ooo.is_empty() && self.fin.is_some_and(|f| f <= self.next) {
            self.ended = true;
            emit(StreamEvent::End { ts_ns: ts });
        }
    }

    /// The other side acknowledged up to `ack`: bytes before it that were never seen
    /// are lost to the capture and become a gap. Returns the change in buffered bytes.
    pub fn peer_ack(&mut self, ack: u32, ts: i64, emit: &mut dyn FnMut(StreamEvent<'_>)) -> isize {
        let before = self.ooo_bytes as isize;
        if self.ended {
            return 0;
        }
        let Some(a) = self.offset_of(ack) else {
            return 0;
        };
        let next = self.next as i64;
        // A FIN takes one sequence number: its ACK is not missing data.
        let a = if self.fin.is_some_and(|f| a as u64 == f + 1) {
            a - 1
        } else {
            a
        };
        if a == next && self.hole_since.is_some_and(|h| ts > h) {
            self.hole_acked = true;
        }
        // Only plausible ACKs (within 1 GiB ahead) say anything about lost data.
        if a <= next || a - next > (1 << 30) {
            return 0;
        }
        while let Some((&k, _)) = self.ooo.first_key_value() {
            if (k as i64) >= a {
                break;
            }
            self.give_up_first_hole(ts, emit);
        }
        let next = self.next as i64;
        if a > next && self.ooo.is_empty() {
            self.gap((a - next) as u64, ts, emit);
            self.hole_since = None;
        }
        self.try_end(ts, emit);
        self.ooo_bytes as isize - before
    }

    /// Gives up on holes older than the gap timeout at `now`.
    pub fn expire_holes(
        &mut self,
        cfg: &ReassemblyConfig,
        now: i64,
        emit: &mut dyn FnMut(StreamEvent<'_>),
    ) -> isize {
        let before = self.ooo_bytes as isize;
        let limit = (cfg.gap_timeout_s as i64).saturating_mul(SEC);
        while self
            .hole_since
            .is_some_and(|t| now.saturating_sub(t) >= limit)
        {
            if self.ooo.is_empty() {
                // A hole only a bare ACK showed: nothing held behind it.
                self.hole_since = None;
                break;
            }
            self.give_up_first_hole(now, emit);
        }
        self.try_end(now, emit);
        self.ooo_bytes as isize - before
    }

    /// Gives up on every hole now (memory pressure): buffered bytes are delivered after
    /// gaps; the stream goes on.
    pub fn flush_holes(&mut self, ts: i64, emit: &mut dyn FnMut(StreamEvent<'_>)) -> isize {
        let before = self.ooo_bytes as isize;
        while !self.ooo.is_empty() {
            self.give_up_first_hole(ts, emit);
        }
        self.try_end(ts, emit);
        self.ooo_bytes as isize - before
    }

    /// Ends the stream now: buffered bytes are delivered after gaps, then End.
    pub fn finish(&mut self, ts: i64, emit: &mut dyn FnMut(StreamEvent<'_>)) -> isize {
        let before = self.ooo_bytes as isize;
        while !self.ooo.is_empty() {
            self.give_up_first_hole(ts, emit);
        }
        if !self.ended && self.base.is_some() {
            self.ended = true;
            emit(StreamEvent::End { ts_ns: ts });
        }
        self.ooo_bytes as isize - before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Out {
        bytes: Vec<u8>,
        gaps: Vec<u64>,
        ended: bool,
    }

    fn feed(h: &mut HalfStream, out: &mut Out, seq: u32, fl: u8, data: &[u8]) {
        feed_with(h, out, seq, fl, data, 0);
    }

    /// A segment of `data` followed by `uncaptured` bytes the snaplen cut off.
    fn feed_cut(h: &mut HalfStream, out: &mut Out, seq: u32, data: &[u8], uncaptured: u32) {
        feed_with(h, out, seq, flags::ACK, data, uncaptured);
    }

    fn feed_with(
        h: &mut HalfStream,
        out: &mut Out,
        seq: u32,
        fl: u8,
        data: &[u8],
        uncaptured: u32,
    ) {
        let cfg = ReassemblyConfig::default();
        h.segment(&cfg, 0, seq, fl, data, uncaptured, &mut |e| match e {
            StreamEvent::Data { bytes, .. } => out.bytes.extend_from_slice(bytes),
            StreamEvent::Gap { len, .. } => out.gaps.push(len),
            StreamEvent::End { .. } => out.ended = true,
        });
    }

    /// A half stream whose reordering threshold is 1 µs.
    fn reordering_after_1us() -> HalfStream {
        HalfStream {
            reorder_ns: 1_000,
            ..HalfStream::default()
        }
    }

    fn feed_at(h: &mut HalfStream, ts: i64, seq: u32, data: &[u8]) {
        let cfg = ReassemblyConfig::default();
        h.segment(&cfg, ts, seq, flags::ACK, data, 0, &mut |_| {});
    }

    #[test]
    fn late_hole_fills_count_when_asked_for_or_after_a_pause_not_amid_new_data() {
        let mut h = reordering_after_1us();
        feed_at(&mut h, 0, 1000, b"0123456789");
        // Old and new segments interleaved (a reordering burst): the hole is older than
        // the threshold when it is filled, but new bytes arrived just before.
        feed_at(&mut h, 10, 1020, b"cccccccccc");
        feed_at(&mut h, 20_000, 1030, b"dddddddddd");
        feed_at(&mut h, 20_100, 1010, b"bbbbbbbbbb");
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (0, 2));
        // The same, but the other side acknowledged the hole's start meanwhile: it was
        // still waiting for those bytes.
        feed_at(&mut h, 30_000, 1050, b"ffffffffff");
        h.peer_ack(1040, 31_000, &mut |_| {});
        feed_at(&mut h, 31_100, 1060, b"gggggggggg");
        feed_at(&mut h, 31_200, 1040, b"eeeeeeeeee");
        assert_eq!(h.stats.retransmits, 1);
        // A hole filled long after the last new bytes (a timeout): sent again.
        feed_at(&mut h, 40_000, 1080, b"iiiiiiiiii");
        feed_at(&mut h, 50_000, 1070, b"hhhhhhhhhh");
        assert_eq!(h.stats.retransmits, 2);
        // Filled within the threshold: reordered.
        feed_at(&mut h, 60_000, 1100, b"kkkkkkkkkk");
        feed_at(&mut h, 60_500, 1090, b"jjjjjjjjjj");
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (2, 6));
        assert_eq!(h.next_offset(), 110);
    }

    #[test]
    fn fills_inside_a_hole_and_partial_repeats_of_buffered_bytes() {
        // The shape of zeek's tcp/reassembly.pcap: two lost stretches, later repaired by
        // segments with other boundaries.
        let mut h = reordering_after_1us();
        feed_at(&mut h, 0, 1000, b"0123456789");
        feed_at(&mut h, 10, 1040, b"eeeeeeeeee"); // hole 1010..1040
        // Inside the hole (not at its start), long after it appeared: sent again.
        feed_at(&mut h, 50_000, 1020, b"cccccccccc");
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (1, 1));
        // Starts in buffered bytes and runs past them: partly a repeat.
        feed_at(&mut h, 50_010, 1045, b"eeeeeffffff");
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (2, 1));
        // Inside the hole soon after new bytes came: reordered.
        feed_at(&mut h, 50_020, 1070, b"hhhhh"); // hole 1056..1070
        feed_at(&mut h, 50_030, 1060, b"gggg");
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (2, 3));
        feed_at(&mut h, 90_000, 1010, b"bbbbbbbbbb");
        feed_at(&mut h, 90_010, 1030, b"dddddddddd");
        feed_at(&mut h, 90_020, 1056, b"ffff");
        feed_at(&mut h, 90_030, 1064, b"gggggg");
        assert_eq!(h.next_offset(), 75);
    }

    #[test]
    fn bytes_cut_by_the_snapshot_length_take_their_sequence_space() {
        // Headers only (snaplen 54): segments still follow each other, repeats are
        // retransmissions, and the bytes are missing.
        let mut h = HalfStream::default();
        let mut o = Out::default();
        feed_cut(&mut h, &mut o, 1000, b"", 100);
        feed_cut(&mut h, &mut o, 1100, b"", 100);
        feed_cut(&mut h, &mut o, 1000, b"", 100);
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (1, 0));
        assert_eq!(
            (o.gaps.clone(), h.stats.missing_bytes),
            (vec![100, 100], 200)
        );
        assert!(o.bytes.is_empty());
        // A segment whose start was captured: its bytes, then a gap for the rest.
        let mut h = HalfStream::default();
        let mut o = Out::default();
        feed_cut(&mut h, &mut o, 1000, b"ABCD", 6);
        feed_cut(&mut h, &mut o, 1010, b"EFGH", 0);
        assert_eq!(o.bytes, b"ABCDEFGH");
        assert_eq!(o.gaps, vec![6]);
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (0, 0));
        // Out of order and cut: held as missing bytes until the hole before it fills.
        feed_cut(&mut h, &mut o, 1024, b"", 10);
        assert_eq!(
            (h.stats.out_of_order, h.buffered()),
            (1, std::mem::size_of::<Seg>())
        );
        feed_cut(&mut h, &mut o, 1014, b"0123456789", 0);
        assert_eq!(o.bytes, b"ABCDEFGH0123456789");
        assert_eq!(o.gaps, vec![6, 10]);
        assert_eq!((h.buffered(), h.next_offset()), (0, 34));
        // It comes again: a retransmission.
        feed_cut(&mut h, &mut o, 1024, b"", 10);
        assert_eq!((h.stats.retransmits, h.stats.missing_bytes), (1, 16));
    }

    #[test]
    fn a_bare_ack_past_missed_bytes_opens_a_hole() {
        let cfg = ReassemblyConfig::default();
        for (fill_at, retransmitted) in [(50_000, 1), (500, 0)] {
            let mut h = reordering_after_1us();
            feed_at(&mut h, 0, 1000, b"0123");
            // The capture missed 1004..1010; the sender's next ACK carries seq 1010.
            feed_at(&mut h, 100, 1010, b"");
            feed_at(&mut h, fill_at, 1004, b"456789");
            assert_eq!(h.stats.retransmits, retransmitted, "filled at {fill_at}");
            assert_eq!(h.next_offset(), 10);
        }
        // Never filled: the hole expires without anything held behind it.
        let mut h = HalfStream::default();
        feed_at(&mut h, 0, 1000, b"0123");
        feed_at(&mut h, 100, 1010, b"");
        h.expire_holes(&cfg, 100 + 11 * SEC, &mut |_| {});
        h.expire_holes(&cfg, 100 + 12 * SEC, &mut |_| {});
        assert_eq!((h.stats.retransmits, h.next_offset()), (0, 4));
        // The bytes come later all the same: in order, and old.
        feed_at(&mut h, 13 * SEC, 1004, b"456789");
        assert_eq!((h.stats.retransmits, h.next_offset()), (0, 10));
    }

    #[test]
    fn new_bytes_after_a_reset_are_not_retransmissions() {
        let mut h = HalfStream::default();
        let mut o = Out::default();
        feed(&mut h, &mut o, 1000, flags::ACK, b"0123");
        // The connection is reset: the stream ends.
        h.finish(0, &mut |_| {});
        assert!(h.is_ended());
        // A FIN sent before the reset arrived, and bytes never seen: not repeats.
        feed(&mut h, &mut o, 1004, flags::ACK | flags::FIN, b"");
        feed(&mut h, &mut o, 1004, flags::ACK, b"4567");
        assert_eq!(h.stats.retransmits, 0);
        // Bytes seen before the end, sent again: a retransmission.
        feed(&mut h, &mut o, 1000, flags::ACK, b"0123");
        assert_eq!(h.stats.retransmits, 1);
        assert_eq!(o.bytes, b"0123");
    }

    #[test]
    fn wraparound_out_of_order_retransmission_and_fin() {
        let isn = u32::MAX - 5; // data starts 6 bytes before the wrap
        let mut h = HalfStream::default();
        let mut o = Out::default();
        feed(&mut h, &mut o, isn, flags::SYN, b"");
        feed(
            &mut h,
            &mut o,
            isn.wrapping_add(1 + 8),
            flags::ACK,
            b"IJKLMNOP",
        ); // ahead
        feed(&mut h, &mut o, isn.wrapping_add(1), flags::ACK, b"ABCDEFGH");
        feed(&mut h, &mut o, isn.wrapping_add(1), flags::ACK, b"ABCD"); // retransmission
        feed(
            &mut h,
            &mut o,
            isn.wrapping_add(1 + 16),
            flags::ACK | flags::FIN,
            b"Q",
        );
        assert_eq!(o.bytes, b"ABCDEFGHIJKLMNOPQ");
        assert!(o.ended && o.gaps.is_empty());
        assert_eq!((h.stats.retransmits, h.stats.out_of_order), (1, 1));
    }

    #[test]
    fn ack_past_a_hole_makes_a_gap() {
        let mut h = HalfStream::default();
        let mut o = Out::default();
        feed(&mut h, &mut o, 1000, flags::ACK, b"0123");
        feed(&mut h, &mut o, 1010, flags::ACK, b"abcd"); // 1004..1010 never captured
        h.peer_ack(1014, 1, &mut |e| match e {
            StreamEvent::Data { bytes, .. } => o.bytes.extend_from_slice(bytes),
            StreamEvent::Gap { len, .. } => o.gaps.push(len),
            StreamEvent::End { .. } => o.ended = true,
        });
        assert_eq!(o.bytes, b"0123abcd");
        assert_eq!(o.gaps, vec![6]);
        assert_eq!(h.stats.missing_bytes, 6);
    }

    #[test]
    fn overlap_conflict_first_wins_and_keepalive() {
        let mut h = HalfStream::default();
        let mut o = Out::default();
        feed(&mut h, &mut o, 100, flags::ACK, b"aa");
        feed(&mut h, &mut o, 104, flags::ACK, b"XXXX"); // buffered first
        feed(&mut h, &mut o, 102, flags::ACK, b"bbYYYYcc"); // overlaps with different bytes
        assert_eq!(o.bytes, b"aabbXXXXcc");
        assert_eq!(h.stats.overlap_conflicts, 1);
        feed(&mut h, &mut o, 109, flags::ACK, b"c"); // keep-alive: the last byte again
        assert_eq!(h.stats.keepalives, 1);
        assert_eq!(h.stats.retransmits, 0);
    }
}
