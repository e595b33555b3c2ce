//! IPv4 and IPv6 defragmentation (runs before flow hashing: non-first fragments carry
//! no ports).
//!
//! Policy: **first wins** — bytes already received are kept and a later fragment only
//! fills holes (as BSD and Linux do for the common cases). An overlapping fragment whose
//! bytes differ from what is held is counted in `overlap_conflicts`; an exact repeat in
//! `duplicates`. A datagram is dropped, and its fragments counted, when it would exceed
//! 65535 bytes, when its fragments disagree about its end, when it holds more than
//! `max_fragments_per_datagram` fragments, when it is incomplete after `timeout_s`
//! seconds of packet time from its first fragment, or when the memory cap or the pending
//! limit forces the oldest datagrams out.

use crate::PacketCount;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use wirehouse_wire::{DecodeError, Decoded, Fragment, decode_ip};

const SEC: i64 = 1_000_000_000;

/// Defragmentation limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefragConfig {
    /// Seconds (packet time) a datagram may wait for its missing fragments.
    pub timeout_s: u64,
    /// Bytes held in all pending datagrams at most.
    pub memcap_bytes: usize,
    /// Datagrams pending at most.
    pub max_pending: usize,
    /// Fragments per datagram at most.
    pub max_fragments_per_datagram: u32,
}

impl Default for DefragConfig {
    fn default() -> Self {
        Self {
            timeout_s: 30,
            memcap_bytes: 64 << 20,
            max_pending: 65_536,
            max_fragments_per_datagram: 1024,
        }
    }
}

/// What defragmentation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DefragStats {
    /// Fragments received.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Fragments that repeated bytes already held, identically.
    pub duplicates: u64,
    /// Fragments that partly overlapped bytes already held.
    pub overlaps: u64,
    /// Overlapping fragments whose bytes differed from those held (first copy kept).
    pub overlap_conflicts: u64,
    /// Fragments not used: data cut by the snapshot length, or a non-last fragment whose
    /// length is not a multiple of 8.
    pub invalid_fragments: u64,
    /// Datagrams dropped for exceeding 65535 bytes.
    pub oversize_datagrams: u64,
    /// Datagrams dropped because their fragments disagreed about the end.
    pub inconsistent_datagrams: u64,
    /// Datagrams dropped for having too many fragments.
    pub too_many_fragments: u64,
    /// Datagrams still incomplete at their timeout or at the end of input.
    pub incomplete_datagrams: u64,
    /// Datagrams forced out by the memory cap or the pending limit.
    pub evicted_datagrams: u64,
    /// Fragments of dropped, incomplete or evicted datagrams whose first fragment was
    /// never seen (so their flow is unknown).
    pub lost_fragments: u64,
    /// Incomplete datagrams whose leading part (with the first fragment) was handed on,
    /// so their fragments count toward their flow.
    pub partial_datagrams: u64,
}

// Thirteen counters and nothing else, so a new counter cannot be left out of `counters`.
const _: () = assert!(std::mem::size_of::<DefragStats>() == 13 * 8);

impl DefragStats {
    /// What each counter counts, in words (one of it, many of it), in the order of
    /// [`DefragStats::counters`].
    pub const WHAT: [(&'static str, &'static str); 13] = [
        ("fragment", "fragments"),
        ("datagram reassembled", "datagrams reassembled"),
        ("duplicate fragment", "duplicate fragments"),
        ("overlapping fragment", "overlapping fragments"),
        (
            "overlap conflict (first copy kept)",
            "overlap conflicts (first copy kept)",
        ),
        ("invalid fragment", "invalid fragments"),
        ("oversize datagram dropped", "oversize datagrams dropped"),
        (
            "inconsistent datagram dropped",
            "inconsistent datagrams dropped",
        ),
        (
            "datagram with too many fragments dropped",
            "datagrams with too many fragments dropped",
        ),
        ("incomplete datagram", "incomplete datagrams"),
        (
            "datagram evicted (memory cap or pending limit)",
            "datagrams evicted (memory cap or pending limit)",
        ),
        (
            "fragment of an unknown flow lost",
            "fragments of unknown flows lost",
        ),
        ("partial datagram passed on", "partial datagrams passed on"),
    ];

    /// Every counter, in field order (see [`DefragStats::WHAT`]).
    pub fn counters(&self) -> [u64; 13] {
        let mut c = *self;
        c.counters_mut().map(|v| *v)
    }

    fn counters_mut(&mut self) -> [&mut u64; 13] {
        [
            &mut self.fragments,
            &mut self.reassembled,
            &mut self.duplicates,
            &mut self.overlaps,
            &mut self.overlap_conflicts,
            &mut self.invalid_fragments,
            &mut self.oversize_datagrams,
            &mut self.inconsistent_datagrams,
            &mut self.too_many_fragments,
            &mut self.incomplete_datagrams,
            &mut self.evicted_datagrams,
            &mut self.lost_fragments,
            &mut self.partial_datagrams,
        ]
    }

    /// Adds another defragmenter's counters (one per capture thread).
    pub fn add(&mut self, o: &DefragStats) {
        for (mine, theirs) in self.counters_mut().into_iter().zip(o.counters()) {
            *mine += theirs;
        }
    }
}

/// A datagram put back together.
#[derive(Debug, Clone)]
pub struct Reassembled {
    /// The whole IP datagram (header adjusted: no fragmentation, lengths fixed).
    pub datagram: Vec<u8>,
    /// Fragments it was made of.
    pub fragments: u32,
    /// Sum of the fragments' IP lengths on the wire.
    pub wire_bytes: u64,
    /// False for the leading part of a datagram that never completed (its first
    /// fragment and whatever followed it without a hole), handed on so that its
    /// fragments still count toward their flow.
    pub complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    ident: u32,
    proto: u8,
}

struct Pending {
    generation: u64,
    header: Vec<u8>,
    named_at: u16,
    next_proto: u8,
    data: Vec<u8>,
    have: Vec<(u32, u32)>,
    total: Option<u32>,
    fragments: u32,
    wire_bytes: u64,
}

impl Pending {
    fn mem(&self) -> usize {
        self.data.capacity() + self.header.capacity() + self.have.capacity() * 8 + 128
    }
}

/// Outcome of inserting one fragment's bytes.
enum Insert {
    Ok,
    Drop(fn(&mut DefragStats)),
}

/// Reassembles IP datagrams from fragments, bounded in time and memory.
pub struct Defragmenter {
    cfg: DefragConfig,
    pending: HashMap<Key, Pending, foldhash::fast::RandomState>,
    deadlines: BinaryHeap<Reverse<(i64, u64, Key)>>,
    next_gen: u64,
    mem: usize,
    stats: DefragStats,
    partial: Vec<Reassembled>,
    /// Datagrams completed within the timeout, to recognise fragments repeated after
    /// completion: key → (data of the datagram, its header + transport header).
    recent: HashMap<Key, Recent, foldhash::fast::RandomState>,
    recent_order: std::collections::VecDeque<(i64, u64, Key)>,
    recent_mem: usize,
}

struct Recent {
    generation: u64,
    /// The fragmentable part of the datagram (what fragments carry).
    data: Vec<u8>,
    /// Header and transport header: a repeated fragment is handed on as this, no payload.
    echo: Vec<u8>,
}

impl Defragmenter {
    /// An empty defragmenter.
    pub fn new(cfg: DefragConfig) -> Self {
        Self {
            cfg,
            pending: HashMap::default(),
            deadlines: BinaryHeap::new(),
            next_gen: 0,
            mem: 0,
            stats: DefragStats::default(),
            partial: Vec::new(),
            recent: HashMap::default(),
            recent_order: std::collections::VecDeque::new(),
            recent_mem: 0,
        }
    }

    /// Remembers a completed datagram for the timeout (bounded to a quarter of the memcap).
    fn remember(&mut self, ts_ns: i64, key: Key, r: &Reassembled, data_at: usize) {
        let Ok(d) = decode_ip(&r.datagram) else {
            return;
        };
        let l4_end = (d.payload.as_ptr() as usize).saturating_sub(r.datagram.as_ptr() as usize);
        let mut echo =
            r.datagram[..l4_end.clamp(data_at.min(r.datagram.len()), r.datagram.len())].to_vec();
        let n = echo.len() as u16;
        if matches!(key.src, IpAddr::V4(_)) {
            echo[2..4].copy_from_slice(&n.to_be_bytes());
        } else if echo.len() >= 40 {
            echo[4..6].copy_from_slice(&(n - 40).to_be_bytes());
        }
        let generation = self.next_gen;
        self.next_gen += 1;
        let rec = Recent {
            generation,
            data: r.datagram[data_at.min(r.datagram.len())..].to_vec(),
            echo,
        };
        self.recent_mem += rec.data.len() + rec.echo.len() + 64;
        let deadline = ts_ns.saturating_add((self.cfg.timeout_s as i64).saturating_mul(SEC));
        if let Some(old) = self.recent.insert(key, rec) {
            self.recent_mem -= old.data.len() + old.echo.len() + 64;
        }
        self.recent_order.push_back((deadline, generation, key));
        self.forget(ts_ns);
    }

    /// Forgets completed datagrams past their timeout or beyond the memory bound.
    fn forget(&mut self, now_ns: i64) {
        while let Some(&(deadline, generation, key)) = self.recent_order.front() {
            if deadline > now_ns && self.recent_mem <= self.cfg.memcap_bytes / 4 {
                break;
            }
            self.recent_order.pop_front();
            // The same key may have been remembered again later; only a stale entry goes.
            if self
                .recent
                .get(&key)
                .is_some_and(|r| r.generation == generation)
                && let Some(old) = self.recent.remove(&key)
            {
                self.recent_mem -= old.data.len() + old.echo.len() + 64;
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Bytes held now (pending datagrams).
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// Datagrams waiting for fragments.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn drop_pending(&mut self, key: &Key, why: fn(&mut DefragStats)) {
        if let Some(mut p) = self.pending.remove(key) {
            self.mem -= p.mem();
            why(&mut self.stats);
            // With its first fragment, the datagram's flow is known: hand on what there is.
            match p.have.first() {
                Some(&(0, prefix)) if !p.header.is_empty() => {
                    p.total = Some(prefix);
                    let mut r = build(p, matches!(key.src, IpAddr::V4(_)));
                    r.complete = false;
                    self.stats.partial_datagrams += 1;
                    self.partial.push(r);
                }
                _ => self.stats.lost_fragments += u64::from(p.fragments),
            }
        }
    }

    /// Expires datagrams whose time is up at `now_ns`.
    pub fn advance(&mut self, now_ns: i64) {
        while let Some(&Reverse((deadline, generation, key))) = self.deadlines.peek() {
            if deadline > now_ns {
                break;
            }
            self.deadlines.pop();
            if self
                .pending
                .get(&key)
                .is_some_and(|p| p.generation == generation)
            {
                self.drop_pending(&key, |s| s.incomplete_datagrams += 1);
            }
        }
    }

    fn evict_oldest(&mut self) {
        while let Some(Reverse((_, generation, key))) = self.deadlines.pop() {
            if self
                .pending
                .get(&key)
                .is_some_and(|p| p.generation == generation)
            {
                self.drop_pending(&key, |s| s.evicted_datagrams += 1);
                return;
            }
        }
    }

    /// Ends every pending datagram (end of input): they are counted as incomplete.
    pub fn drain(&mut self) {
        let keys: Vec<Key> = self.pending.keys().copied().collect();
        for k in keys {
            self.drop_pending(&k, |s| s.incomplete_datagrams += 1);
        }
        self.deadlines.clear();
    }

    /// Passes a packet on whole: an unfragmented packet at once (counted as itself), a
    /// fragment once its datagram is complete (counted as all its fragments, with the
    /// reassembled datagram's bytes as the third argument). A
    /// reassembled datagram that does not decode is returned as the error, with the
    /// number of fragments it used.
    pub fn feed(
        &mut self,
        ts_ns: i64,
        frame: &[u8],
        d: &Decoded<'_>,
        mut then: impl FnMut(&Decoded<'_>, PacketCount, Option<&[u8]>),
    ) -> Result<(), (DecodeError, u32)> {
        let result = match d.frag {
            None => {
                let count = PacketCount {
                    packets: 1,
                    ip_bytes: u64::from(d.ip.wire_len),
                    fragments: 0,
                };
                then(d, count, None);
                Ok(())
            }
            Some(f) => {
                let ip = frame.get(d.ip_offset..).unwrap_or(&[]);
                match self.push(ts_ns, ip, &f, d.ip.src, d.ip.dst, d.ip.wire_len) {
                    Some(r) => hand_on(&r, d.vlan_id, &mut then),
                    None => Ok(()),
                }
            }
        };
        // Leading parts of datagrams that expired meanwhile.
        self.hand_on_partial(d.vlan_id, &mut then).and(result)
    }

    /// Expires what is due at `now_ns` and hands on the leading parts of the datagrams
    /// that expired (see [`Reassembled::complete`]).
    pub fn advance_with(
        &mut self,
        now_ns: i64,
        mut then: impl FnMut(&Decoded<'_>, PacketCount, Option<&[u8]>),
    ) -> Result<(), (DecodeError, u32)> {
        self.advance(now_ns);
        self.hand_on_partial(0, &mut then)
    }

    /// Ends every pending datagram (end of input) and hands on their leading parts.
    pub fn finish(
        &mut self,
        mut then: impl FnMut(&Decoded<'_>, PacketCount, Option<&[u8]>),
    ) -> Result<(), (DecodeError, u32)> {
        self.drain();
        self.hand_on_partial(0, &mut then)
    }

    fn hand_on_partial(
        &mut self,
        vlan: u16,
        then: &mut impl FnMut(&Decoded<'_>, PacketCount, Option<&[u8]>),
    ) -> Result<(), (DecodeError, u32)> {
        let mut result = Ok(());
        for r in std::mem::take(&mut self.partial) {
            if let Err(e) = hand_on(&r, vlan, then) {
                result = Err(e);
            }
        }
        result
    }

    /// Adds one fragment. `ip` holds the captured bytes from the fragment's IP header on;
    /// `wire_len` is its IP length on the wire. Returns the datagram once it is whole.
    pub fn push(
        &mut self,
        ts_ns: i64,
        ip: &[u8],
        frag: &Fragment,
        src: IpAddr,
        dst: IpAddr,
        wire_len: u32,
    ) -> Option<Reassembled> {
        self.advance(ts_ns);
        self.stats.fragments += 1;
        let v4 = matches!(src, IpAddr::V4(_));
        let key = Key {
            src,
            dst,
            ident: frag.ident,
            proto: if v4 { frag.next_proto } else { 0 },
        };
        let data_at = usize::from(frag.data_at);
        let end_on_wire = wire_len as usize;
        let (Some(payload), true) = (ip.get(data_at..end_on_wire), end_on_wire >= data_at) else {
            // Data cut by the snapshot length (or lengths that do not add up).
            self.stats.invalid_fragments += 1;
            return None;
        };
        let len = payload.len() as u32;
        if frag.more && !len.is_multiple_of(8) {
            self.stats.invalid_fragments += 1;
            return None;
        }
        self.forget(ts_ns);
        // A fragment repeated after its datagram completed (same bytes): it belongs to
        // that datagram's flow; hand it on as the bare headers, counted as a duplicate.
        if !self.pending.contains_key(&key)
            && let Some(rec) = self.recent.get(&key)
            && rec
                .data
                .get(frag.offset as usize..(frag.offset + len) as usize)
                == Some(payload)
        {
            self.stats.duplicates += 1;
            return Some(Reassembled {
                datagram: rec.echo.clone(),
                fragments: 1,
                wire_bytes: u64::from(wire_len),
                complete: false,
            });
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.cfg.max_pending.max(1) {
                self.evict_oldest();
            }
            let generation = self.next_gen;
            self.next_gen += 1;
            let deadline = ts_ns.saturating_add((self.cfg.timeout_s as i64).saturating_mul(SEC));
            self.deadlines.push(Reverse((deadline, generation, key)));
            let p = Pending {
                generation,
                header: Vec::new(),
                named_at: 0,
                next_proto: 0,
                data: Vec::new(),
                have: Vec::new(),
                total: None,
                fragments: 0,
                wire_bytes: 0,
            };
            self.mem += p.mem();
            self.pending.insert(key, p);
        }
        let p = self.pending.get_mut(&key).expect("inserted above");
        let before = p.mem();
        p.fragments += 1;
        p.wire_bytes += u64::from(wire_len);
        if frag.offset == 0 && p.header.is_empty() {
            p.header = ip[..data_at].to_vec();
            p.named_at = frag.named_at;
            p.next_proto = frag.next_proto;
        }
        let result = insert(
            p,
            frag.offset,
            payload,
            !frag.more,
            v4,
            &mut self.stats,
            self.cfg.max_fragments_per_datagram,
        );
        let after = p.mem();
        self.mem = self.mem + after - before;
        if let Insert::Drop(why) = result {
            self.drop_pending(&key, why);
            return None;
        }
        let complete = p.total.is_some_and(|t| p.have == [(0, t)]) && !p.header.is_empty();
        if complete {
            let p = self.pending.remove(&key).expect("present");
            self.mem -= p.mem();
            self.stats.reassembled += 1;
            let data_at = p.header.len() - if v4 { 0 } else { 8 };
            let r = build(p, v4);
            self.remember(ts_ns, key, &r, data_at);
            return Some(r);
        }
        while self.mem > self.cfg.memcap_bytes && !self.pending.is_empty() {
            self.evict_oldest();
        }
        None
    }
}

fn insert(
    p: &mut Pending,
    offset: u32,
    payload: &[u8],
    last: bool,
    v4: bool,
    st: &mut DefragStats,
    max_frags: u32,
) -> Insert {
    let start = offset;
    let end = offset + payload.len() as u32;
    let header_len = if p.header.is_empty() {
        if v4 { 20 } else { 40 }
    } else {
        p.header.len() as u32
    };
    // IPv6: the fragment header (8 bytes) disappears on reassembly.
    let limit = if v4 {
        65_535 - header_len.min(65_535)
    } else {
        65_583 - header_len.min(65_583)
    };
    if end > limit {
        return Insert::Drop(|s| s.oversize_datagrams += 1);
    }
    if p.fragments > max_frags {
        return Insert::Drop(|s| s.too_many_fragments += 1);
    }
    if last {
        match p.total {
            Some(t) if t != end => return Insert::Drop(|s| s.inconsistent_datagrams += 1),
            _ => p.total = Some(end),
        }
        if p.have.last().is_some_and(|&(_, e)| e > end) {
            return Insert::Drop(|s| s.inconsistent_datagrams += 1);
        }
    } else if p.total.is_some_and(|t| end > t) {
        return Insert::Drop(|s| s.inconsistent_datagrams += 1);
    }
    if p.data.len() < end as usize {
        p.data.resize(end as usize, 0);
    }
    // Walk the held intervals: compare where held, copy where not (first wins).
    let mut covered = 0u32;
    let mut conflict = false;
    let mut cur = start;
    for &(hs, he) in &p.have {
        if he <= cur || hs >= end {
            continue;
        }
        if hs > cur {
            let (a, b) = (cur as usize, hs as usize);
            p.data[a..b].copy_from_slice(&payload[a - start as usize..b - start as usize]);
        }
        let (os, oe) = (hs.max(cur), he.min(end));
        if p.data[os as usize..oe as usize] != payload[(os - start) as usize..(oe - start) as usize]
        {
            conflict = true;
        }
        covered += oe - os;
        cur = oe;
        if cur >= end {
            break;
        }
    }
    if cur < end {
        let (a, b) = (cur as usize, end as usize);
        p.data[a..b].copy_from_slice(&payload[a - start as usize..b - start as usize]);
    }
    if covered > 0 {
        if covered == end - start && !conflict {
            st.duplicates += 1;
        } else {
            st.overlaps += 1;
        }
        if conflict {
            st.overlap_conflicts += 1;
        }
    }
    // Merge [start, end) into the sorted, disjoint interval list.
    if end > start {
        let mut merged = Vec::with_capacity(p.have.len() + 1);
        let (mut s, mut e) = (start, end);
        let mut placed = false;
        for &(hs, he) in &p.have {
            if he < s {
                merged.push((hs, he));
            } else if hs > e {
                if !placed {
                    merged.push((s, e));
                    placed = true;
                }
                merged.push((hs, he));
            } else {
                s = s.min(hs);
                e = e.max(he);
            }
        }
        if !placed {
            merged.push((s, e));
        }
        p.have = merged;
    }
    Insert::Ok
}

fn hand_on(
    r: &Reassembled,
    vlan: u16,
    then: &mut impl FnMut(&Decoded<'_>, PacketCount, Option<&[u8]>),
) -> Result<(), (DecodeError, u32)> {
    let mut whole = decode_ip(&r.datagram).map_err(|e| (e, r.fragments))?;
    whole.vlan_id = vlan;
    // A tunnel's inner packet carried in a fragmented outer datagram counts its own IP
    // length, as it would unfragmented; every fragment still counts as a packet. Never
    // more than came on the wire: a leading part or a repeated fragment carries an inner
    // header whose length claims bytes that did not come.
    let ip_bytes = if whole.tunnel_depth > 0 {
        u64::from(whole.ip.wire_len).min(r.wire_bytes)
    } else {
        r.wire_bytes
    };
    let count = PacketCount {
        packets: r.fragments,
        ip_bytes,
        fragments: r.fragments,
    };
    then(&whole, count, Some(&r.datagram));
    Ok(())
}

fn build(p: Pending, v4: bool) -> Reassembled {
    let total = p.total.unwrap_or(0) as usize;
    let mut d = Vec::with_capacity(p.header.len() + total);
    d.extend_from_slice(&p.header);
    d.extend_from_slice(&p.data[..total]);
    if v4 {
        let hl = p.header.len();
        let tl = (hl + total) as u16;
        d[2..4].copy_from_slice(&tl.to_be_bytes());
        let df = d[6] & 0x40;
        d[6] = df;
        d[7] = 0;
        d[10] = 0;
        d[11] = 0;
        let mut sum = 0u32;
        for c in d[..hl].chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        d[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    } else {
        // Drop the fragment header: the byte that named it now names what it carried.
        let frag_hdr_at = p.header.len() - 8;
        d.drain(frag_hdr_at..frag_hdr_at + 8);
        if let Some(b) = d.get_mut(usize::from(p.named_at)) {
            *b = p.next_proto;
        }
        let plen = (d.len() - 40) as u16;
        d[4..6].copy_from_slice(&plen.to_be_bytes());
    }
    Reassembled {
        datagram: d,
        fragments: p.fragments,
        wire_bytes: p.wire_bytes,
        complete: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `counters` lists the fields in their declared order (the order `WHAT` describes),
    /// and `add` adds every one of them.
    #[test]
    fn counters_follow_the_fields_and_add_adds_each() {
        let s = DefragStats {
            fragments: 1,
            reassembled: 2,
            duplicates: 3,
            overlaps: 4,
            overlap_conflicts: 5,
            invalid_fragments: 6,
            oversize_datagrams: 7,
            inconsistent_datagrams: 8,
            too_many_fragments: 9,
            incomplete_datagrams: 10,
            evicted_datagrams: 11,
            lost_fragments: 12,
            partial_datagrams: 13,
        };
        let want: Vec<u64> = (1..=13).collect();
        assert_eq!(s.counters().to_vec(), want);
        let mut sum = s;
        sum.add(&s);
        sum.add(&DefragStats::default());
        let doubled: Vec<u64> = want.iter().map(|v| v * 2).collect();
        assert_eq!(sum.counters().to_vec(), doubled);
    }

    /// Splits an IPv4 UDP datagram into fragments of `size` data bytes.
    fn fragments(payload_len: usize, size: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let total = 20 + 8 + payload_len;
        let mut dgram = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0x12,
            0x34,
            0,
            0,
            64,
            17,
            0,
            0,
            10,
            0,
            0,
            1,
            10,
            0,
            0,
            2,
        ];
        dgram.extend_from_slice(&[
            0x13,
            0x88,
            0,
            53,
            ((8 + payload_len) >> 8) as u8,
            (8 + payload_len) as u8,
            0,
            0,
        ]);
        dgram.extend((0..payload_len).map(|i| (i * 7) as u8));
        let data = &dgram[20..];
        let mut frags = Vec::new();
        for (i, chunk) in data.chunks(size).enumerate() {
            let off = i * size / 8;
            let more = (i + 1) * size < data.len();
            let mut f = dgram[..20].to_vec();
            let tl = 20 + chunk.len();
            f[2..4].copy_from_slice(&(tl as u16).to_be_bytes());
            let fo = (off as u16) | if more { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&fo.to_be_bytes());
            f.extend_from_slice(chunk);
            frags.push(f);
        }
        (dgram, frags)
    }

    fn push(d: &mut Defragmenter, ts: i64, f: &[u8]) -> Option<Reassembled> {
        let dec = wirehouse_wire::decode_ip(f).unwrap();
        d.push(
            ts,
            f,
            &dec.frag.unwrap(),
            dec.ip.src,
            dec.ip.dst,
            dec.ip.wire_len,
        )
    }

    #[test]
    fn out_of_order_and_duplicate_fragments_reassemble() {
        let (dgram, frags) = fragments(3000, 1480);
        let mut d = Defragmenter::new(DefragConfig::default());
        assert!(push(&mut d, 0, &frags[2]).is_none());
        assert!(push(&mut d, 1, &frags[0]).is_none());
        assert!(push(&mut d, 2, &frags[0]).is_none()); // duplicate
        let r = push(&mut d, 3, &frags[1]).expect("complete");
        let dec = wirehouse_wire::decode_ip(&r.datagram).unwrap();
        assert!(dec.frag.is_none());
        assert_eq!(dec.payload.len(), 3000);
        assert_eq!(&r.datagram[20..], &dgram[20..]);
        assert_eq!(r.fragments, 4);
        assert_eq!(d.stats().duplicates, 1);
        assert_eq!(d.memory(), 0);
    }

    #[test]
    fn overlap_conflicts_keep_the_first_bytes() {
        let (dgram, frags) = fragments(64, 24);
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut evil = frags[1].clone();
        let n = evil.len();
        evil[n - 1] ^= 0xff;
        push(&mut d, 0, &frags[1]);
        push(&mut d, 0, &evil);
        push(&mut d, 0, &frags[0]);
        let r = push(&mut d, 0, &frags[2]).expect("complete");
        assert_eq!(&r.datagram[20..], &dgram[20..]);
        assert_eq!(d.stats().overlap_conflicts, 1);
    }

    #[test]
    fn timeouts_caps_and_hostile_lengths_are_counted() {
        let (_, frags) = fragments(3000, 1480);
        let mut d = Defragmenter::new(DefragConfig {
            memcap_bytes: 4000,
            ..Default::default()
        });
        push(&mut d, 0, &frags[0]);
        push(&mut d, 0, &frags[2]);
        // Expired with its first fragment: the leading part goes on to its flow.
        let mut handed = Vec::new();
        d.advance_with(31 * SEC, |w, c, _| {
            handed.push((w.payload.len(), c.packets))
        })
        .unwrap();
        assert_eq!(d.stats().incomplete_datagrams, 1);
        assert_eq!(d.stats().partial_datagrams, 1);
        assert_eq!(handed, vec![(1480 - 8, 2)]);
        // Without its first fragment, the flow is unknown: the fragment is lost (counted).
        push(&mut d, 32 * SEC, &frags[1]);
        d.advance(63 * SEC);
        assert_eq!(d.stats().lost_fragments, 1);
        // A fragment claiming an offset past 65535.
        let mut big = frags[1].clone();
        big[6..8].copy_from_slice(&(0x1fffu16 | 0x2000).to_be_bytes());
        push(&mut d, 40 * SEC, &big);
        assert_eq!(d.stats().oversize_datagrams, 1);
        // Memory cap: many pending datagrams with different ids.
        for id in 0..10u16 {
            let mut f = frags[0].clone();
            f[4..6].copy_from_slice(&id.to_be_bytes());
            push(&mut d, 41 * SEC, &f);
        }
        assert!(d.memory() <= 4000, "{}", d.memory());
        assert!(d.stats().evicted_datagrams > 0);
    }
}
