//! IPv6 header view and the extension-header chain walk.

use crate::{DecodeError, ErrorKind, Layer, be16, be32, ipproto};
use std::net::Ipv6Addr;

/// Most extension headers followed before giving up.
pub const MAX_EXT_HEADERS: usize = 16;

/// A checked fixed IPv6 header over a buffer that starts at the header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the version and that the 40-byte header was captured.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < 40 {
            return Err(DecodeError::truncated(Layer::Ipv6));
        }
        if b[0] >> 4 != 6 {
            return Err(DecodeError::malformed(Layer::Ipv6));
        }
        Ok(Self { buffer })
    }
    /// Payload length field (0 for jumbograms).
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }
    /// Datagram length on the wire: 40 + payload length, or the captured length for jumbograms.
    pub fn wire_len(&self) -> usize {
        match self.payload_len() {
            0 => self.buffer.as_ref().len(),
            n => 40 + usize::from(n),
        }
    }
    /// Next header after the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[6]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[7]
    }
    /// Flow label.
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0) & 0x000f_ffff
    }
    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        let a: [u8; 16] = self.buffer.as_ref()[8..24].try_into().unwrap_or_default();
        Ipv6Addr::from(a)
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        let a: [u8; 16] = self.buffer.as_ref()[24..40].try_into().unwrap_or_default();
        Ipv6Addr::from(a)
    }
    /// Captured bytes after the fixed header, cut at the datagram's end.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.wire_len().min(b.len());
        b.get(40..end).unwrap_or(&[])
    }
}

/// The fragment header's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    /// Offset in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
    /// The header that follows the fragment header.
    pub next: u8,
}

/// The result of walking the extension-header chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtChain {
    /// The upper-layer protocol (or the header where the walk stopped).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the *payload* (after the fixed header).
    pub offset: usize,
    /// The fragment header, if one was found.
    pub fragment: Option<FragmentHeader>,
    /// Offset of the fragment header from the start of the payload.
    pub fragment_at: Option<usize>,
    /// Offset, from the start of the IPv6 header, of the next-header byte that names the
    /// fragment header (6 when it follows the fixed header).
    pub fragment_named_at: Option<usize>,
}

/// Walks hop-by-hop, routing, destination-options, fragment, AH and mobility headers.
///
/// Stops at the first upper-layer protocol, at a non-first fragment (its payload is not a
/// header), or at "no next header". Bounds-checked at every step.
pub fn walk_ext(first: u8, payload: &[u8]) -> Result<ExtChain, DecodeError> {
    let mut nh = first;
    let mut off = 0usize;
    let mut fragment = None;
    let mut fragment_at = None;
    let mut fragment_named_at = None;
    let mut named_at = 6usize;
    for _ in 0..MAX_EXT_HEADERS {
        match nh {
            ipproto::HOPOPT
            | ipproto::ROUTING
            | ipproto::DSTOPTS
            | ipproto::MOBILITY
            | ipproto::HIP
            | ipproto::SHIM6 => {
                let h = payload
                    .get(off..off + 2)
                    .ok_or(DecodeError::truncated(Layer::Ipv6))?;
                let len = (usize::from(h[1]) + 1) * 8;
                if payload.len() < off + len {
                    return Err(DecodeError::truncated(Layer::Ipv6));
                }
                nh = h[0];
                named_at = 40 + off;
                off += len;
            }
            ipproto::AH => {
                let h = payload
                    .get(off..off + 2)
                    .ok_or(DecodeError::truncated(Layer::Ipv6))?;
                let len = (usize::from(h[1]) + 2) * 4;
                if payload.len() < off + len {
                    return Err(DecodeError::truncated(Layer::Ipv6));
                }
                nh = h[0];
                named_at = 40 + off;
                off += len;
            }
            ipproto::FRAGMENT => {
                let h = payload
                    .get(off..off + 8)
                    .ok_or(DecodeError::truncated(Layer::Ipv6))?;
                let fo = be16(h, 2);
                let frag = FragmentHeader {
                    offset: u32::from(fo & 0xfff8),
                    more: fo & 1 != 0,
                    ident: be32(h, 4),
                    next: h[0],
                };
                fragment_at = Some(off);
                fragment_named_at = Some(named_at);
                nh = h[0];
                named_at = 40 + off;
                off += 8;
                // An "atomic" fragment (offset 0, no more) is a whole datagram.
                if frag.offset != 0 || frag.more {
                    fragment = Some(frag);
                }
                if frag.offset != 0 {
                    return Ok(ExtChain {
                        protocol: nh,
                        offset: off,
                        fragment,
                        fragment_at,
                        fragment_named_at,
                    });
                }
            }
            _ => {
                return Ok(ExtChain {
                    protocol: nh,
                    offset: off,
                    fragment,
                    fragment_at,
                    fragment_named_at,
                });
            }
        }
    }
    Err(DecodeError::new(Layer::Ipv6, ErrorKind::TooDeep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_with_hbh_and_fragment() {
        // hop-by-hop (8 bytes, next = fragment), fragment (offset 0, M, id 0x1234, next = UDP)
        let p = [
            ipproto::FRAGMENT,
            0,
            1,
            4,
            0,
            0,
            0,
            0, //
            ipproto::UDP,
            0,
            0x00,
            0x01,
            0,
            0,
            0x12,
            0x34, //
            0,
            53,
            0,
            53,
            0,
            8,
            0,
            0,
        ];
        let c = walk_ext(ipproto::HOPOPT, &p).unwrap();
        assert_eq!(c.protocol, ipproto::UDP);
        assert_eq!(c.offset, 16);
        assert_eq!(
            c.fragment,
            Some(FragmentHeader {
                offset: 0,
                more: true,
                ident: 0x1234,
                next: ipproto::UDP
            })
        );
        assert_eq!((c.fragment_at, c.fragment_named_at), (Some(8), Some(40)));
    }

    #[test]
    fn hostile_chain() {
        // Hop-by-hop claiming 2 KiB in a 4-byte buffer.
        assert!(walk_ext(ipproto::HOPOPT, &[6, 255, 0, 0]).is_err());
        // A loop of destination options headers longer than the limit.
        let p = [ipproto::DSTOPTS, 0, 0, 0, 0, 0, 0, 0].repeat(20);
        assert_eq!(
            walk_ext(ipproto::DSTOPTS, &p).unwrap_err().kind,
            ErrorKind::TooDeep
        );
        assert!(walk_ext(ipproto::FRAGMENT, &[17, 0, 0]).is_err());
    }
}
