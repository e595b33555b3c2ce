//! Linux "cooked" capture headers: SLL (16 bytes) and SLL2 (20 bytes).

use crate::{DecodeError, Layer, be16, be32};

/// A view of a Linux cooked-capture header, either version.
#[derive(Debug, Clone, Copy)]
pub struct Sll<T: AsRef<[u8]>> {
    buffer: T,
    v2: bool,
}

impl<T: AsRef<[u8]>> Sll<T> {
    /// Wraps an SLL (v1, 16-byte) header.
    pub fn new_v1(buffer: T) -> Result<Self, DecodeError> {
        Self::checked(buffer, false)
    }
    /// Wraps an SLL2 (20-byte) header.
    pub fn new_v2(buffer: T) -> Result<Self, DecodeError> {
        Self::checked(buffer, true)
    }
    fn checked(buffer: T, v2: bool) -> Result<Self, DecodeError> {
        let need = if v2 { 20 } else { 16 };
        if buffer.as_ref().len() < need {
            return Err(DecodeError::truncated(Layer::Link));
        }
        Ok(Self { buffer, v2 })
    }
    /// Protocol type (an EtherType for most packets).
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), if self.v2 { 0 } else { 14 })
    }
    /// ARPHRD_ type of the interface.
    pub fn arphrd(&self) -> u16 {
        be16(self.buffer.as_ref(), if self.v2 { 8 } else { 2 })
    }
    /// Packet type (0 = to us, 4 = outgoing, …).
    pub fn packet_type(&self) -> u16 {
        if self.v2 {
            u16::from(self.buffer.as_ref()[10])
        } else {
            be16(self.buffer.as_ref(), 0)
        }
    }
    /// Interface index (SLL2 only; 0 for SLL).
    pub fn ifindex(&self) -> u32 {
        if self.v2 {
            be32(self.buffer.as_ref(), 4)
        } else {
            0
        }
    }
    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[if self.v2 { 20 } else { 16 }..]
    }
}
