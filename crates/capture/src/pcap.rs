//! Classic pcap: both byte orders, micro- and nanosecond timestamps, and the "modified"
//! (Kuznetzov, magic `a1b2cd34`) record header. Validation follows libpcap's, so the
//! packets we read are the packets tcpdump reads.

use crate::input::Fill;
use crate::{CaptureError, Input, LinkType, Meta, Packet, PacketSource};

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// True when `m` is a pcap magic number in either byte order.
pub fn is_magic(m: [u8; 4]) -> bool {
    let le = u32::from_le_bytes(m);
    let be = u32::from_be_bytes(m);
    [MAGIC_US, MAGIC_NS, MAGIC_MODIFIED]
        .iter()
        .any(|&x| x == le || x == be)
}

/// The largest captured length libpcap accepts for a link type.
pub fn max_snaplen_for(linktype: u32) -> u32 {
    match linktype {
        231 => 128 * 1024 * 1024, // DBUS
        279 => 8 * 1024 * 1024,   // EBHSCR
        249 => 1024 * 1024,       // USBPCAP
        _ => 262_144,
    }
}

/// A streaming pcap reader.
pub struct Reader {
    input: Input,
    swapped: bool,
    nanos: bool,
    modified: bool,
    linktype: LinkType,
    snaplen: u32,
    buf: Vec<u8>,
    /// Bytes of the input buffer handed out with the last packet, consumed on the next call.
    pending: usize,
    done: bool,
}

impl Reader {
    /// Reads and validates the 24-byte file header.
    pub fn new(mut input: Input) -> Result<Self, CaptureError> {
        let mut h = [0u8; 24];
        match input.fill(&mut h)? {
            Fill::Full => {}
            Fill::Eof => {
                return Err(CaptureError::Empty {
                    file: input.name().into(),
                });
            }
            Fill::Short(n) => {
                return Err(CaptureError::Truncated {
                    file: input.name().into(),
                    offset: 0,
                    what: "pcap file header",
                    needed: 24,
                    got: n as u64,
                });
            }
        }
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (swapped, magic) = if [MAGIC_US, MAGIC_NS, MAGIC_MODIFIED].contains(&le) {
            (false, le)
        } else {
            (true, le.swap_bytes())
        };
        let u16at = |o: usize| {
            let v = u16::from_le_bytes([h[o], h[o + 1]]);
            if swapped { v.swap_bytes() } else { v }
        };
        let u32at = |o: usize| {
            let v = u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
            if swapped { v.swap_bytes() } else { v }
        };
        let (major, minor) = (u16at(4), u16at(6));
        let corrupt = |reason: String| CaptureError::Corrupt {
            file: input.name().into(),
            offset: 0,
            reason,
        };
        // libpcap accepts 2.0–2.4 and the 543.0 variant written by some old tools.
        if !((major == 2 && minor <= 4) || (major == 543 && minor == 0)) {
            return Err(corrupt(format!(
                "unsupported pcap savefile version {major}.{minor}"
            )));
        }
        let raw_lt = u32at(20);
        if raw_lt & 0x03ff_0000 != 0 {
            return Err(corrupt(format!(
                "savefile linktype reserved field not zero ({:#010x})",
                raw_lt & 0x03ff_0000
            )));
        }
        let lt = raw_lt & 0xffff;
        let max = max_snaplen_for(lt);
        let mut snaplen = u32at(16);
        if snaplen == 0 || snaplen > max {
            snaplen = max;
        }
        Ok(Self {
            input,
            swapped,
            nanos: magic == MAGIC_NS,
            modified: magic == MAGIC_MODIFIED,
            linktype: LinkType::from_u32(lt),
            snaplen,
            buf: Vec::with_capacity(65536),
            pending: 0,
            done: false,
        })
    }

    /// The file's link type.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// The file's effective snapshot length.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// How this file's record headers read.
    fn records(&self) -> Records {
        Records {
            swapped: self.swapped,
            nanos: self.nanos,
            hlen: if self.modified { 24 } else { 16 },
            snaplen: self.snaplen,
            max: max_snaplen_for(self.linktype.to_u32()),
        }
    }

    fn read_record(&mut self) -> Result<Option<Meta>, CaptureError> {
        if self.pending > 0 {
            self.input.consume(self.pending);
            self.pending = 0;
        }
        let rec = self.records();
        let hlen = rec.hlen;
        // Fast path: the whole record is in the input's buffer — hand out a slice of it.
        let avail = self.input.buffered()?;
        if let Some((ts_ns, caplen, wire_len)) = rec.whole(avail) {
            self.pending = hlen + caplen;
            crate::mapped::prefetch(avail, self.pending);
            return Ok(Some(Meta {
                ts_ns,
                linktype: self.linktype,
                wire_len,
                interface: 0,
                start: hlen,
                len: caplen,
                in_input: true,
            }));
        }
        let offset = self.input.pos();
        let mut h = [0u8; 24];
        match self.input.fill(&mut h[..hlen])? {
            Fill::Full => {}
            Fill::Eof => return Ok(None),
            Fill::Short(n) => {
                return Err(self.truncated(offset, "record header", hlen as u64, n as u64));
            }
        }
        let (ts_ns, mut caplen, wire_len) = rec.header(&h);
        let max = rec.max;
        if caplen > max {
            return Err(CaptureError::Corrupt {
                file: self.input.name().into(),
                offset,
                reason: format!(
                    "invalid packet capture length {caplen}, bigger than maximum of {max}"
                ),
            });
        }
        // Like libpcap: a record longer than the snapshot length is cut to it.
        let discard = caplen.saturating_sub(self.snaplen);
        caplen -= discard;
        if self.buf.len() < caplen as usize {
            self.buf.resize(caplen as usize, 0);
        }
        self.buf.truncate(caplen as usize);
        match self.input.fill(&mut self.buf)? {
            Fill::Full => {}
            Fill::Eof if caplen == 0 => {}
            Fill::Eof => return Err(self.truncated(offset, "packet data", caplen.into(), 0)),
            Fill::Short(n) => {
                return Err(self.truncated(offset, "packet data", caplen.into(), n as u64));
            }
        }
        if discard > 0 {
            let k = self.input.skip(discard.into())?;
            if k < u64::from(discard) {
                return Err(self.truncated(offset, "packet data", discard.into(), k));
            }
        }
        Ok(Some(Meta {
            ts_ns,
            linktype: self.linktype,
            wire_len,
            interface: 0,
            start: 0,
            len: caplen as usize,
            in_input: false,
        }))
    }

    fn truncated(&self, offset: u64, what: &'static str, needed: u64, got: u64) -> CaptureError {
        CaptureError::Truncated {
            file: self.input.name().into(),
            offset,
            what,
            needed,
            got,
        }
    }
}

/// How a file's record headers read.
#[derive(Clone, Copy)]
struct Records {
    swapped: bool,
    nanos: bool,
    /// Record header length: 16, or 24 in the modified format.
    hlen: usize,
    snaplen: u32,
    /// The largest captured length accepted for the link type.
    max: u32,
}

impl Records {
    /// (time ns, captured length, wire length) of the record header `h`.
    #[inline]
    fn header(self, h: &[u8]) -> (i64, u32, u32) {
        let u32at = |o: usize| {
            let v = u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
            if self.swapped { v.swap_bytes() } else { v }
        };
        let (sec, frac) = (u32at(0), u32at(4));
        let ns = if self.nanos {
            i64::from(frac)
        } else {
            i64::from(frac) * 1000
        };
        (i64::from(sec) * 1_000_000_000 + ns, u32at(8), u32at(12))
    }

    /// (time ns, captured length, wire length) of the record at the start of `b` when it
    /// lies whole in `b` and needs no cut to the snapshot length.
    #[inline]
    fn whole(self, b: &[u8]) -> Option<(i64, usize, u32)> {
        let (ts, caplen, wire_len) = self.header(b.get(..self.hlen)?);
        let end = self.hlen + caplen as usize;
        (caplen <= self.max && caplen <= self.snaplen && end <= b.len()).then_some((
            ts,
            caplen as usize,
            wire_len,
        ))
    }
}

impl PacketSource for Reader {
    fn for_each(
        &mut self,
        f: &mut dyn FnMut(&Packet<'_>, u64) -> bool,
    ) -> Result<(), CaptureError> {
        let (rec, linktype) = (self.records(), self.linktype);
        crate::for_each_walking(self, f, |r, f| {
            if r.done {
                return Ok(crate::input::Walk::Stopped);
            }
            r.input.consume(std::mem::take(&mut r.pending));
            let walked = r.input.walk(
                |b| {
                    let (ts_ns, len, wire_len) = rec.whole(b)?;
                    let meta = Meta {
                        ts_ns,
                        linktype,
                        wire_len,
                        interface: 0,
                        start: rec.hlen,
                        len,
                        in_input: true,
                    };
                    Some((meta, rec.hlen + len))
                },
                f,
            );
            r.done |= walked.is_err();
            walked
        })
    }

    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.read_record() {
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
        "pcap"
    }
}
