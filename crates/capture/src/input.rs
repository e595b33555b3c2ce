//! A buffered input stream with transparent gzip/zstd decompression and an offset counter.

use crate::{Buffered, CaptureError};
use std::io::{self, BufRead, BufReader, Read};

const BUF: usize = 1 << 20;

/// Outcome of reading a fixed-size piece.
pub(crate) enum Fill {
    /// All bytes read.
    Full,
    /// Clean end of input before the first byte.
    Eof,
    /// Input ended after this many bytes.
    Short(usize),
}

/// How [`Input::walk`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// The callback asked to stop.
    Stopped,
    /// Every whole record was handed over; more may follow.
    Handed,
    /// The first record is not whole in the buffer (or the input ended): read it the
    /// careful way.
    NoneWhole,
}

/// A named, buffered, decompressed byte stream that counts what was consumed.
pub struct Input {
    r: Source,
    name: String,
    pos: u64,
}

/// Where the bytes come from.
enum Source {
    /// A stream (pipe, compressed file, ...) through a buffer.
    Stream(Buffered),
    /// A regular uncompressed file, memory-mapped.
    #[cfg(unix)]
    Mapped(crate::mapped::Mapped),
}

/// Reads the first four bytes of `r` whole (a pipe may deliver them a few at a time) and
/// returns them with a reader that yields them again, then the rest: a buffer over it
/// then holds at least the four bytes that tell the format.
fn with_head(mut r: Box<dyn Read + Send>) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(4);
    (&mut r).take(4).read_to_end(&mut head)?;
    let again = io::Cursor::new(head.clone()).chain(r);
    Ok((head, Box::new(again)))
}

const GZIP: [u8; 2] = [0x1f, 0x8b];
const ZSTD: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl Source {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Source::Stream(r) => r.fill_buf(),
            #[cfg(unix)]
            Source::Mapped(m) => m.buffered(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Stream(r) => r.read(buf),
            #[cfg(unix)]
            Source::Mapped(m) => m.read(buf),
        }
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        match self {
            Source::Stream(r) => r.consume(n),
            #[cfg(unix)]
            Source::Mapped(m) => m.consume(n),
        }
    }

    fn skip(&mut self, n: u64) -> io::Result<u64> {
        match self {
            Source::Stream(r) => io::copy(&mut r.take(n), &mut io::sink()),
            #[cfg(unix)]
            Source::Mapped(m) => Ok(m.skip(n)),
        }
    }
}

/// How far past the next record [`Input::walk`] keeps the bytes on their way into the
/// cache. Records are read front to back, but only the dispatcher's few header bytes of
/// each are touched at first; the worker reads the rest later (the packet, and the
/// payload it copies into reassembly), and each first touch of a line missed the cache.
/// Requesting every line of the next page ahead took mix.pcap (1.2 GB) at `-w 1` from
/// 1.145 to 1.044 CPU-s (10 alternating runs) and from 0.965 to 0.917 (6 more, the VM
/// quieter); of 1,024 to 8,192 bytes ahead, 4,096 did best. It costs 1.5 % more
/// instructions: the time saved was spent waiting for memory.
const STREAM_AHEAD: usize = 4096;

/// Requests, line by line and each line once, the bytes of a buffer walked front to back
/// up to [`STREAM_AHEAD`] past the position reached.
#[derive(Default)]
struct StreamAhead {
    /// The first byte not requested yet.
    next: usize,
}

impl StreamAhead {
    #[inline]
    fn fill(&mut self, bytes: &[u8], at: usize) {
        self.lines(bytes.len(), at, |p| crate::mapped::prefetch_line(bytes, p));
    }

    /// Calls `request` with a position in each 64-byte line from `at` (or from where the
    /// last call stopped, when further) up to [`STREAM_AHEAD`] past `at`, within `len`.
    #[inline]
    fn lines(&mut self, len: usize, at: usize, mut request: impl FnMut(usize)) {
        let end = at.saturating_add(STREAM_AHEAD).min(len);
        let mut p = self.next.max(at);
        while p < end {
            request(p);
            p += 64;
        }
        self.next = p;
    }
}

impl Input {
    /// Wraps a raw stream, unwrapping gzip (`1f 8b`) and zstd (`28 b5 2f fd`) by content.
    pub fn new(name: String, raw: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        let io = |e| CaptureError::io(&name, 0, e);
        let (head, raw) = with_head(raw).map_err(io)?;
        let buffered = |r| -> Buffered { Box::new(BufReader::with_capacity(BUF, r)) };
        let decoded: Box<dyn Read + Send> = if head.starts_with(&GZIP) {
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered(raw)))
        } else if head.starts_with(&ZSTD) {
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered(raw)).map_err(io)?)
        } else {
            // Not compressed: the four bytes already read whole are the capture's magic
            // number, and one buffer is enough.
            return Ok(Self::stream(name, buffered(raw)));
        };
        // The decompressed capture's magic number, likewise whole before anything looks
        // at it.
        let (_, decoded) = with_head(decoded).map_err(io)?;
        Ok(Self::stream(name, buffered(decoded)))
    }

    fn stream(name: String, r: Buffered) -> Self {
        Self {
            r: Source::Stream(r),
            name,
            pos: 0,
        }
    }

    /// Reads a regular file through memory-mapped windows when it is not compressed;
    /// otherwise as a stream.
    pub fn file(name: String, f: std::fs::File) -> Result<Self, CaptureError> {
        #[cfg(unix)]
        {
            let mut head = [0u8; 4];
            use std::os::unix::fs::FileExt;
            let n = f.read_at(&mut head, 0).unwrap_or(0);
            let compressed = head[..n].starts_with(&GZIP) || head[..n].starts_with(&ZSTD);
            if !compressed
                && let Some(m) = crate::mapped::Mapped::open(
                    f.try_clone().map_err(|e| CaptureError::io(&name, 0, e))?,
                )
            {
                return Ok(Self {
                    r: Source::Mapped(m),
                    name,
                    pos: 0,
                });
            }
        }
        Self::new(name, Box::new(f))
    }

    /// [`buffered`](Self::buffered), with the memory-mapped window the bytes lie in.
    #[inline]
    pub(crate) fn buffered_window(
        &mut self,
    ) -> Result<(&[u8], Option<&std::sync::Arc<crate::mapped::Window>>), CaptureError> {
        let pos = self.pos;
        match &mut self.r {
            Source::Stream(r) => r.fill_buf().map(|b| (b, None)),
            #[cfg(unix)]
            Source::Mapped(m) => m.buffered_window().map(|(b, w)| (b, Some(w))),
        }
        .map_err(|e| CaptureError::io(&self.name, pos, e))
    }

    /// Hands `f` every record lying whole in the buffer from the read position on, in
    /// one loop, and consumes them. `whole(b)` reads the record at the start of `b`: its
    /// packet (`start` relative to `b`) and the record's length, or `None` when it is
    /// not whole in `b` (or needs the careful path). `f` gets each packet with the
    /// position of its record and returns whether to go on.
    pub(crate) fn walk(
        &mut self,
        whole: impl Fn(&[u8]) -> Option<(crate::Meta, usize)>,
        f: &mut dyn FnMut(&crate::Packet<'_>, u64) -> bool,
    ) -> Result<Walk, CaptureError> {
        let base = self.pos;
        let (avail, window) = self.buffered_window()?;
        let (mut off, mut stopped) = (0, false);
        let mut ahead = StreamAhead::default();
        while let Some((m, len)) = whole(&avail[off..]) {
            ahead.fill(avail, off + len);
            let p = m.packet(&avail[off..], window);
            let at = base + off as u64;
            off += len;
            if !f(&p, at) {
                stopped = true;
                break;
            }
        }
        self.consume(off);
        Ok(match (stopped, off) {
            (true, _) => Walk::Stopped,
            (false, 0) => Walk::NoneWhole,
            _ => Walk::Handed,
        })
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// The first four bytes without consuming them, `None` if fewer exist.
    pub(crate) fn peek4(&mut self) -> Result<Option<[u8; 4]>, CaptureError> {
        let b = self.buffered()?;
        Ok((b.len() >= 4).then(|| [b[0], b[1], b[2], b[3]]))
    }

    /// Whatever is left in the current buffer (used for error messages on tiny files).
    pub(crate) fn peek_all(&mut self) -> Result<Vec<u8>, CaptureError> {
        let b = self.buffered()?;
        Ok(b[..b.len().min(8)].to_vec())
    }

    /// Reads exactly `buf.len()` bytes, reporting a clean or short end of input.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<Fill, CaptureError> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CaptureError::io(&self.name, self.pos + n as u64, e)),
            }
        }
        self.pos += n as u64;
        Ok(match n {
            0 if !buf.is_empty() => Fill::Eof,
            n if n == buf.len() => Fill::Full,
            n => Fill::Short(n),
        })
    }

    /// The bytes buffered now (reading more only when none are), without consuming them.
    #[inline]
    pub(crate) fn buffered(&mut self) -> Result<&[u8], CaptureError> {
        let pos = self.pos;
        self.r
            .fill_buf()
            .map_err(|e| CaptureError::io(&self.name, pos, e))
    }

    /// Consumes `n` bytes of what [`buffered`](Self::buffered) returned.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.r.consume(n);
        self.pos += n as u64;
    }

    /// Skips `n` bytes; returns how many were actually skipped.
    pub(crate) fn skip(&mut self, n: u64) -> Result<u64, CaptureError> {
        let pos = self.pos;
        let k = self
            .r
            .skip(n)
            .map_err(|e| CaptureError::io(&self.name, pos, e))?;
        self.pos += k;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::{STREAM_AHEAD, StreamAhead};

    /// Walking records of uneven sizes through a buffer: every byte from each record to
    /// `STREAM_AHEAD` past it lies in a line requested by then, no line is requested
    /// twice, and nothing past the end of the buffer is.
    #[test]
    fn stream_ahead_requests_each_line_ahead_once_and_stays_in_bounds() {
        for len in [0, 1, 63, 64, 65, 4_095, 4_096, 4_097, 100_003] {
            let mut ahead = StreamAhead::default();
            let mut requested: Vec<usize> = Vec::new();
            let mut at = 0;
            let mut k = 0usize;
            while at <= len {
                ahead.lines(len, at, |p| requested.push(p));
                let covered_to = (at + STREAM_AHEAD).min(len);
                for b in (at..covered_to).step_by(7).chain(covered_to.checked_sub(1)) {
                    if b < at {
                        continue;
                    }
                    assert!(
                        requested
                            .iter()
                            .any(|&p| p / 64 == b / 64 || (p <= b && b < p + 64)),
                        "len {len}: byte {b} not requested by record at {at}"
                    );
                }
                // Records of 40 to 1,500 bytes, and now and then a jump (a record
                // handed out of another buffer).
                k += 1;
                at += 40 + (k * 7_919) % 1_461 + if k.is_multiple_of(97) { 9_000 } else { 0 };
            }
            assert!(
                requested.iter().all(|&p| p < len),
                "len {len}: past the end"
            );
            assert!(
                requested.windows(2).all(|w| w[1] >= w[0] + 64),
                "len {len}: a line requested twice"
            );
        }
    }
}
