//! Ethernet II frames and 802.1Q / 802.1ad VLAN tags.

use crate::{DecodeError, Layer, be16};

mod field {
    pub type Field = std::ops::Range<usize>;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const HEADER_LEN: usize = 14;
}

/// A read-only view of an Ethernet II frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer`, checking that the 14-byte header is present.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < field::HEADER_LEN {
            return Err(DecodeError::truncated(Layer::Link));
        }
        Ok(Self { buffer })
    }
    /// Destination MAC.
    pub fn dst(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::DST]
            .try_into()
            .unwrap_or_default()
    }
    /// Source MAC.
    pub fn src(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::SRC]
            .try_into()
            .unwrap_or_default()
    }
    /// EtherType (or 802.3 length when ≤ 1500).
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ETHERTYPE.start)
    }
    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::HEADER_LEN..]
    }
}

/// A VLAN tag (4 bytes after the tag's EtherType): TCI then the next EtherType.
#[derive(Debug, Clone, Copy)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// Wraps `buffer`, checking that the 4-byte tag is present.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < 4 {
            return Err(DecodeError::truncated(Layer::Shim));
        }
        Ok(Self { buffer })
    }
    /// The 12-bit VLAN identifier.
    pub fn vlan_id(&self) -> u16 {
        be16(self.buffer.as_ref(), 0) & 0x0fff
    }
    /// Priority code point.
    pub fn pcp(&self) -> u8 {
        self.buffer.as_ref()[0] >> 5
    }
    /// EtherType of what follows the tag.
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    /// Bytes after the tag.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[4..]
    }
}

/// The EtherType named by an 802.2 LLC header with SNAP (`aa aa 03`, a 3-byte OUI, the
/// type) at the start of `b`; `None` for other LLC headers or fewer than 8 bytes.
pub fn snap_ethertype(b: &[u8]) -> Option<u16> {
    (b.len() >= 8 && b[..3] == [0xaa, 0xaa, 0x03]).then(|| be16(b, 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_frame_is_an_error() {
        assert!(Frame::new_checked(&[0u8; 13][..]).is_err());
        let mut f = [0u8; 18];
        f[12] = 0x81;
        f[14] = 0x20;
        f[15] = 0x07; // vlan 7, pcp 1
        f[16] = 0x08;
        let eth = Frame::new_checked(&f[..]).unwrap();
        assert_eq!(eth.ethertype(), 0x8100);
        let tag = VlanTag::new_checked(eth.payload()).unwrap();
        assert_eq!((tag.vlan_id(), tag.pcp(), tag.ethertype()), (7, 1, 0x0800));
    }
}
