//! pcapng: sections of either byte order, several interfaces each with its own link type,
//! timestamp resolution and offset; enhanced, simple and obsolete packet blocks. Every
//! other block type is skipped after its length is validated. Limits follow libpcap's
//! (blocks ≤ 16 MiB, lengths multiple of 4, trailer length equal to header length).

use crate::input::Fill;
use crate::{CaptureError, Input, LinkType, Meta, Packet, PacketSource};

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Largest block accepted (libpcap's limit).
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;

/// True when `m` starts a pcapng section header block.
pub fn is_magic(m: [u8; 4]) -> bool {
    u32::from_le_bytes(m) == SHB
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: LinkType,
    snaplen: u32,
    /// Timestamp units per second.
    units: u128,
    offset_s: i64,
}

/// A streaming pcapng reader.
pub struct Reader {
    input: Input,
    swapped: bool,
    ifaces: Vec<Iface>,
    buf: Vec<u8>,
    /// Bytes of the input buffer handed out with the last packet, consumed on the next call.
    pending: usize,
    done: bool,
}

/// A field of `b` at `o` in the section's byte order.
fn u16_in(swapped: bool, b: &[u8], o: usize) -> u16 {
    let v = u16::from_le_bytes([b[o], b[o + 1]]);
    if swapped { v.swap_bytes() } else { v }
}

/// A field of `b` at `o` in the section's byte order.
fn u32_in(swapped: bool, b: &[u8], o: usize) -> u32 {
    let v = u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    if swapped { v.swap_bytes() } else { v }
}

/// Whether blocks of this type carry a packet.
fn is_packet(btype: u32) -> bool {
    matches!(btype, EPB | PB | SPB)
}

/// The packet block at the start of `b` when it lies whole in `b` and is sound: its
/// packet (`start` relative to `b`) and the block's length. `None` for everything else
/// — section and interface blocks, blocks cut by the end of `b`, and damaged blocks,
/// whose error the copying path reports.
#[inline]
fn whole(swapped: bool, ifaces: &[Iface], b: &[u8]) -> Option<(Meta, usize)> {
    let (btype, total) = (u32_in(swapped, b.get(..8)?, 0), u32_in(swapped, b, 4));
    let total = total as usize;
    if !is_packet(btype)
        || total < 12
        || !total.is_multiple_of(4)
        || total > MAX_BLOCK as usize
        || b.len() < total
        || u32_in(swapped, b, total - 4) as usize != total
    {
        return None;
    }
    let m = packet_meta(swapped, ifaces, btype, &b[8..total - 4]).ok()?;
    let m = Meta {
        start: 8 + m.start,
        in_input: true,
        ..m
    };
    Some((m, total))
}

/// The packet of a packet block whose body (without type, length and trailer) is
/// `body`: its metadata, with `start` relative to `body`; or why the block is bad.
fn packet_meta(swapped: bool, ifaces: &[Iface], btype: u32, body: &[u8]) -> Result<Meta, String> {
    let (iface_id, ts_hi, ts_lo, caplen, wire_len, start) = if btype == SPB {
        if body.len() < 4 {
            return Err("simple packet block too short".into());
        }
        let wire = u32_in(swapped, body, 0);
        let mut cap = wire.min((body.len() - 4) as u32);
        if let Some(i) = ifaces.first()
            && i.snaplen != 0
        {
            cap = cap.min(i.snaplen);
        }
        (0, 0, 0, cap, wire, 4)
    } else {
        if body.len() < 20 {
            return Err("packet block too short".into());
        }
        let iface = if btype == EPB {
            u32_in(swapped, body, 0)
        } else {
            u32::from(u16_in(swapped, body, 0))
        };
        let f = |o| u32_in(swapped, body, o);
        (iface, f(4), f(8), f(12), f(16), 20usize)
    };
    let Some(iface) = ifaces.get(iface_id as usize) else {
        return Err(format!(
            "packet block refers to interface {iface_id}, but only {} are described",
            ifaces.len()
        ));
    };
    if caplen as usize > body.len() - start {
        return Err(format!(
            "captured length {caplen} is larger than the block's {} data bytes",
            body.len() - start
        ));
    }
    let ts_ns = if btype == SPB {
        0
    } else {
        Reader::timestamp(iface, ts_hi, ts_lo)
    };
    Ok(Meta {
        ts_ns,
        linktype: iface.linktype,
        wire_len,
        interface: iface_id,
        start,
        len: caplen as usize,
        in_input: false,
    })
}

impl Reader {
    /// Reads the first section header block.
    pub fn new(input: Input) -> Result<Self, CaptureError> {
        let mut r = Self {
            input,
            swapped: false,
            ifaces: Vec::new(),
            buf: Vec::with_capacity(65536),
            pending: 0,
            done: false,
        };
        match r.read_block()? {
            Some((SHB, _)) => Ok(r),
            _ => Err(r.corrupt(
                0,
                "pcapng file does not start with a section header block".into(),
            )),
        }
    }

    /// Link types of the interfaces of the current section.
    pub fn linktypes(&self) -> Vec<LinkType> {
        self.ifaces.iter().map(|i| i.linktype).collect()
    }

    fn u16at(&self, o: usize) -> u16 {
        u16_in(self.swapped, &self.buf, o)
    }
    fn u32at(&self, o: usize) -> u32 {
        u32_in(self.swapped, &self.buf, o)
    }

    fn corrupt(&self, offset: u64, reason: String) -> CaptureError {
        CaptureError::Corrupt {
            file: self.input.name().into(),
            offset,
            reason,
        }
    }
    fn truncated(&self, offset: u64, needed: u64, got: u64) -> CaptureError {
        CaptureError::Truncated {
            file: self.input.name().into(),
            offset,
            what: "pcapng block",
            needed,
            got,
        }
    }

    /// Reads one block into `buf` (body only, without type/length/trailer) and handles
    /// section and interface blocks. Returns the block type and its offset.
    fn read_block(&mut self) -> Result<Option<(u32, u64)>, CaptureError> {
        let offset = self.input.pos();
        let mut h = [0u8; 12];
        match self.input.fill(&mut h[..8])? {
            Fill::Full => {}
            Fill::Eof => return Ok(None),
            Fill::Short(n) => return Err(self.truncated(offset, 8, n as u64)),
        }
        let raw_type = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if raw_type == SHB {
            // The byte-order magic decides how to read everything in this section.
            match self.input.fill(&mut h[8..12])? {
                Fill::Full => {}
                Fill::Eof => return Err(self.truncated(offset, 12, 8)),
                Fill::Short(n) => return Err(self.truncated(offset, 12, 8 + n as u64)),
            }
            let bom = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
            self.swapped = match bom {
                BYTE_ORDER_MAGIC => false,
                x if x.swap_bytes() == BYTE_ORDER_MAGIC => true,
                x => {
                    return Err(self.corrupt(
                        offset,
                        format!("bad byte-order magic {x:#010x} in section header"),
                    ));
                }
            };
        }
        let sw = |v: u32| if self.swapped { v.swap_bytes() } else { v };
        let btype = sw(raw_type);
        let total = sw(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
        let min = if btype == SHB { 28 } else { 12 };
        if total < min {
            return Err(self.corrupt(
                offset,
                format!("block of type {btype:#x} has length {total} < {min}"),
            ));
        }
        if total % 4 != 0 {
            return Err(self.corrupt(
                offset,
                format!("block has a length of {total} that is not a multiple of 4"),
            ));
        }
        if total > MAX_BLOCK {
            return Err(self.corrupt(
                offset,
                format!("block of {total} bytes is larger than the {MAX_BLOCK}-byte limit"),
            ));
        }
        let already = if btype == SHB { 12 } else { 8 };
        let rest = (total - already) as usize;
        self.buf.clear();
        if btype == SHB {
            self.buf.extend_from_slice(&h[8..12]);
        }
        let start = self.buf.len();
        self.buf.resize(start + rest, 0);
        match self.input.fill(&mut self.buf[start..])? {
            Fill::Full => {}
            Fill::Eof => return Err(self.truncated(offset, total.into(), already.into())),
            Fill::Short(n) => {
                return Err(self.truncated(offset, total.into(), (already as usize + n) as u64));
            }
        }
        let trailer = self.u32at(self.buf.len() - 4);
        if trailer != total {
            return Err(self.corrupt(
                offset,
                format!("block total length in header {total} and trailer {trailer} don't match"),
            ));
        }
        self.buf.truncate(self.buf.len() - 4);
        match btype {
            SHB => {
                let (major, minor) = (self.u16at(4), self.u16at(6));
                if !(major == 1 && (minor == 0 || minor == 2)) {
                    return Err(self.corrupt(
                        offset,
                        format!("unsupported pcapng savefile version {major}.{minor}"),
                    ));
                }
                self.ifaces.clear();
            }
            IDB => {
                if self.buf.len() < 8 {
                    return Err(
                        self.corrupt(offset, "interface description block too short".into())
                    );
                }
                let mut iface = Iface {
                    linktype: LinkType::from_u32(u32::from(self.u16at(0))),
                    snaplen: self.u32at(4),
                    units: 1_000_000,
                    offset_s: 0,
                };
                let mut o = 8;
                while o + 4 <= self.buf.len() {
                    let (code, len) = (self.u16at(o), usize::from(self.u16at(o + 2)));
                    let v = o + 4;
                    if code == 0 || v + len > self.buf.len() {
                        break;
                    }
                    match (code, len) {
                        (9, 1) => {
                            let r = self.buf[v];
                            let exp = u32::from(r & 0x7f);
                            iface.units = if r & 0x80 == 0 {
                                10u128.checked_pow(exp).unwrap_or(0)
                            } else {
                                2u128.checked_pow(exp).unwrap_or(0)
                            };
                            if iface.units == 0 || exp > 30 {
                                return Err(
                                    self.corrupt(offset, format!("if_tsresol {r:#x} out of range"))
                                );
                            }
                        }
                        (14, 8) => {
                            let lo = u64::from(self.u32at(v));
                            let hi = u64::from(self.u32at(v + 4));
                            let val = if self.swapped {
                                (lo << 32) | hi
                            } else {
                                (hi << 32) | lo
                            };
                            iface.offset_s = val as i64;
                        }
                        _ => {}
                    }
                    o = v + len.div_ceil(4) * 4;
                }
                self.ifaces.push(iface);
            }
            _ => {}
        }
        Ok(Some((btype, offset)))
    }

    fn timestamp(iface: &Iface, hi: u32, lo: u32) -> i64 {
        let units = (u128::from(hi) << 32) | u128::from(lo);
        // The usual resolutions without a 128-bit division per packet (same result).
        let ns = match iface.units {
            1_000_000 => units * 1000,
            1_000_000_000 => units,
            per_s => units * 1_000_000_000 / per_s,
        };
        (ns.min(i64::MAX as u128) as i64)
            .saturating_add(iface.offset_s.saturating_mul(1_000_000_000))
    }

    /// The next packet block lying whole in the input's buffer, read in place (no
    /// copy): the common block. `None` sends everything else the copying way.
    #[inline]
    fn next_in_place(&mut self) -> Result<Option<Meta>, CaptureError> {
        let (swapped, ifaces) = (self.swapped, &self.ifaces);
        let avail = self.input.buffered()?;
        let Some((m, total)) = whole(swapped, ifaces, avail) else {
            return Ok(None);
        };
        crate::mapped::prefetch(avail, total);
        self.pending = total;
        Ok(Some(m))
    }

    fn next_meta(&mut self) -> Result<Option<Meta>, CaptureError> {
        if self.pending > 0 {
            self.input.consume(self.pending);
            self.pending = 0;
        }
        if let Some(m) = self.next_in_place()? {
            return Ok(Some(m));
        }
        loop {
            let Some((btype, offset)) = self.read_block()? else {
                return Ok(None);
            };
            if is_packet(btype) {
                return packet_meta(self.swapped, &self.ifaces, btype, &self.buf)
                    .map(Some)
                    .map_err(|reason| self.corrupt(offset, reason));
            }
            if let Some(m) = self.next_in_place()? {
                return Ok(Some(m));
            }
        }
    }
}

impl PacketSource for Reader {
    fn for_each(
        &mut self,
        f: &mut dyn FnMut(&Packet<'_>, u64) -> bool,
    ) -> Result<(), CaptureError> {
        crate::for_each_walking(self, f, |r, f| {
            if r.done {
                return Ok(crate::input::Walk::Stopped);
            }
            r.input.consume(std::mem::take(&mut r.pending));
            let (swapped, ifaces) = (r.swapped, &r.ifaces);
            let walked = r.input.walk(|b| whole(swapped, ifaces, b), f);
            r.done |= walked.is_err();
            walked
        })
    }

    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.next_meta() {
            Ok(Some(m)) if m.in_input => {
                let (buf, window) = self.input.buffered_window()?;
                Ok(Some(m.packet(buf, window)))
            }
            Ok(Some(m)) => Ok(Some(m.packet(&self.buf, None))),
            other => {
                self.done = true;
                other.map(|_| None)
            }
        }
    }
    fn position(&self) -> u64 {
        self.input.pos() + self.pending as u64
    }
    fn name(&self) -> &str {
        self.input.name()
    }
    fn format(&self) -> &'static str {
        "pcapng"
    }
}
