//! IPv4 header view (options are skipped by IHL, not interpreted).

use crate::{DecodeError, Layer, be16};
use std::net::Ipv4Addr;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const SRC: std::ops::Range<usize> = 12..16;
    pub const DST: std::ops::Range<usize> = 16..20;
}

/// Whether the flags and fragment offset field (bytes 6–7 of the header, host order)
/// marks a fragment: more-fragments set or a non-zero offset. For readers of raw
/// headers that skip [`Packet::new_checked`] (the dispatcher's shard hint).
#[inline]
pub fn is_fragment(flags_offset: u16) -> bool {
    flags_offset & 0x3fff != 0
}

/// A checked IPv4 header over a buffer that starts at the header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks version, IHL against the captured bytes, and total length against IHL.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < 20 {
            return Err(DecodeError::truncated(Layer::Ipv4));
        }
        let p = Self { buffer };
        if p.version() != 4 || p.header_len() < 20 {
            return Err(DecodeError::malformed(Layer::Ipv4));
        }
        if p.buffer.as_ref().len() < p.header_len() {
            return Err(DecodeError::truncated(Layer::Ipv4));
        }
        let tl = p.total_len();
        if tl != 0 && (tl as usize) < p.header_len() {
            return Err(DecodeError::malformed(Layer::Ipv4));
        }
        Ok(p)
    }
    /// IP version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    /// Total length field (0 when a NIC's segmentation offload left it unset).
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TOTAL_LEN)
    }
    /// Datagram length on the wire: total length, or captured length when the field is 0.
    pub fn wire_len(&self) -> usize {
        match self.total_len() {
            0 => self.buffer.as_ref().len(),
            n => usize::from(n),
        }
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }
    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & 0x4000 != 0
    }
    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & 0x2000 != 0
    }
    /// A fragment (more-fragments set or a non-zero offset), from one read of the field.
    pub fn is_fragment(&self) -> bool {
        is_fragment(be16(self.buffer.as_ref(), field::FLG_OFF))
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u32 {
        u32::from(be16(self.buffer.as_ref(), field::FLG_OFF) & 0x1fff) * 8
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    /// Next protocol.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        let s = &self.buffer.as_ref()[field::SRC];
        Ipv4Addr::new(s[0], s[1], s[2], s[3])
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        let s = &self.buffer.as_ref()[field::DST];
        Ipv4Addr::new(s[0], s[1], s[2], s[3])
    }
    /// Captured payload, cut at the datagram's end (drops link-layer padding).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.wire_len().min(b.len());
        b.get(self.header_len()..end).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The IPv4 header of a SYN, 10.77.0.2 → 10.77.0.1, DF set.
    const SYN: [u8; 20] = [
        0x45, 0x00, 0x00, 0x3c, 0x8e, 0x1c, 0x40, 0x00, 0x40, 0x06, 0x98, 0x8d, 10, 77, 0, 2, 10,
        77, 0, 1,
    ];

    #[test]
    fn fields() {
        let p = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!(p.total_len(), 60);
        assert!(p.dont_frag() && !p.more_frags());
        // DF alone is not a fragment; MF or an offset is.
        assert!(!p.is_fragment());
        for flg_off in [[0x20, 0x00], [0x00, 0x01]] {
            let mut h = SYN;
            h[6..8].copy_from_slice(&flg_off);
            assert!(Packet::new_checked(&h[..]).unwrap().is_fragment());
        }
        assert_eq!(p.protocol(), 6);
        assert_eq!(p.src(), Ipv4Addr::new(10, 77, 0, 2));
        assert_eq!(p.payload().len(), 0);
    }

    #[test]
    fn hostile_lengths() {
        let mut b = SYN;
        b[0] = 0x4f; // IHL 60 > captured
        assert!(Packet::new_checked(&b[..]).is_err());
        b[0] = 0x44; // IHL 16 < 20
        assert!(Packet::new_checked(&b[..]).is_err());
        b[0] = 0x45;
        b[2] = 0;
        b[3] = 10; // total < IHL
        assert!(Packet::new_checked(&b[..]).is_err());
        assert!(Packet::new_checked(&b[..19]).is_err());
    }
}
