//! ICMP and ICMPv6: type and code (the flow layer keys ICMP flows on them).

use crate::{DecodeError, Layer, be16};

/// A checked ICMP/ICMPv6 header (first 4 bytes, plus the echo identifier when present).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that type, code and checksum were captured.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < 4 {
            return Err(DecodeError::truncated(Layer::Icmp));
        }
        Ok(Self { buffer })
    }
    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    /// Message code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// Echo identifier, when captured (meaningful for echo request/reply only).
    pub fn echo_id(&self) -> Option<u16> {
        let b = self.buffer.as_ref();
        (b.len() >= 6).then(|| be16(b, 4))
    }
    /// Bytes after the 4-byte header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[4..]
    }
}

/// True for ICMPv4/v6 echo request or reply types.
pub fn is_echo(v6: bool, ty: u8) -> bool {
    if v6 {
        matches!(ty, 128 | 129)
    } else {
        matches!(ty, 0 | 8)
    }
}
