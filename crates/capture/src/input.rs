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

/// A named, buffered, decompressed byte stream that counts what was consumed.
pub struct Input {
    r: Buffered,
    name: String,
    pos: u64,
}

impl Input {
    /// Wraps a raw stream, unwrapping gzip (`1f 8b`) and zstd (`28 b5 2f fd`) by content.
    pub fn new(name: String, raw: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        let mut r: Buffered = Box::new(BufReader::with_capacity(BUF, raw));
        let head = r.fill_buf().map_err(|e| CaptureError::io(&name, 0, e))?;
        if head.starts_with(&[0x1f, 0x8b]) {
            r = Box::new(BufReader::with_capacity(
                BUF,
                flate2::bufread::MultiGzDecoder::new(r),
            ));
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            let d = zstd::stream::read::Decoder::with_buffer(r)
                .map_err(|e| CaptureError::io(&name, 0, e))?;
            r = Box::new(BufReader::with_capacity(BUF, d));
        }
        Ok(Self { r, name, pos: 0 })
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
        let pos = self.pos;
        let b = self
            .r
            .fill_buf()
            .map_err(|e| CaptureError::io(&self.name, pos, e))?;
        Ok((b.len() >= 4).then(|| [b[0], b[1], b[2], b[3]]))
    }

    /// Whatever is left in the current buffer (used for error messages on tiny files).
    pub(crate) fn peek_all(&mut self) -> Result<Vec<u8>, CaptureError> {
        let pos = self.pos;
        let b = self
            .r
            .fill_buf()
            .map_err(|e| CaptureError::io(&self.name, pos, e))?;
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
    pub(crate) fn buffered(&mut self) -> Result<&[u8], CaptureError> {
        let pos = self.pos;
        self.r
            .fill_buf()
            .map_err(|e| CaptureError::io(&self.name, pos, e))
    }

    /// Consumes `n` bytes of what [`buffered`](Self::buffered) returned.
    pub(crate) fn consume(&mut self, n: usize) {
        self.r.consume(n);
        self.pos += n as u64;
    }

    /// Skips `n` bytes; returns how many were actually skipped.
    pub(crate) fn skip(&mut self, n: u64) -> Result<u64, CaptureError> {
        let pos = self.pos;
        let k = io::copy(&mut (&mut self.r).take(n), &mut io::sink())
            .map_err(|e| CaptureError::io(&self.name, pos, e))?;
        self.pos += k;
        Ok(k)
    }
}
