//! UDP header view.

use crate::{DecodeError, Layer, be16};

/// A checked UDP header over a buffer that starts at the header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that the 8-byte header was captured.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < 8 {
            return Err(DecodeError::truncated(Layer::Udp));
        }
        Ok(Self { buffer })
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    /// Length field (header + data).
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }
    /// True when the length field says there is no data.
    pub fn is_empty(&self) -> bool {
        self.len() <= 8
    }
    /// Captured data, cut at the length field when it is consistent.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let l = usize::from(self.len());
        let end = if l >= 8 { l.min(b.len()) } else { b.len() };
        &b[8..end]
    }
}
