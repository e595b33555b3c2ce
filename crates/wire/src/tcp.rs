//! TCP header view with option parsing (MSS, window scale, SACK-permitted, timestamps).

use crate::{DecodeError, Layer, be16, be32};

/// TCP flag bits as they appear in the low byte of the flags field.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;
}

/// The options wirehouse reads from a TCP header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub window_scale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Number of SACK blocks present.
    pub sack_blocks: u8,
    /// Timestamp value and echo reply.
    pub timestamp: Option<(u32, u32)>,
}

/// A checked TCP header over a buffer that starts at the header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that the fixed header and the data-offset worth of options were captured.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < 20 {
            return Err(DecodeError::truncated(Layer::Tcp));
        }
        let p = Self { buffer };
        if p.header_len() < 20 {
            return Err(DecodeError::malformed(Layer::Tcp));
        }
        if p.buffer.as_ref().len() < p.header_len() {
            return Err(DecodeError::truncated(Layer::Tcp));
        }
        Ok(p)
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }
    /// Acknowledgement number.
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }
    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }
    /// The eight classic flag bits (FIN … CWR).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[13]
    }
    /// Window (unscaled).
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), 14)
    }
    /// Parses the options; a malformed option ends the walk and keeps what was read.
    pub fn options(&self) -> Options {
        let b = &self.buffer.as_ref()[20..self.header_len()];
        let mut o = Options::default();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                0 => break,
                1 => i += 1,
                kind => {
                    let Some(&len) = b.get(i + 1) else { break };
                    let len = usize::from(len);
                    if len < 2 || i + len > b.len() {
                        break;
                    }
                    let v = &b[i + 2..i + len];
                    match (kind, len) {
                        (2, 4) => o.mss = Some(be16(v, 0)),
                        (3, 3) => o.window_scale = Some(v[0]),
                        (4, 2) => o.sack_permitted = true,
                        (5, _) => o.sack_blocks = ((len - 2) / 8) as u8,
                        (8, 10) => o.timestamp = Some((be32(v, 0), be32(v, 4))),
                        _ => {}
                    }
                    i += len;
                }
            }
        }
        o
    }
    /// Bytes after the header (the caller cuts them at the IP datagram's end).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_options() {
        // A Linux SYN: MSS 1460, SACK-permitted, timestamps, NOP, window scale 7.
        let h = [
            0xc3, 0x50, 0x00, 0x50, 0x8b, 0x2a, 0x1f, 0x00, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0,
            0, 0, 0, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x01, 0x02, 0x03, 0, 0,
            0, 0, 0x01, 0x03, 0x03, 0x07,
        ];
        let p = Packet::new_checked(&h[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (50000, 80));
        assert_eq!(p.flags(), flags::SYN);
        let o = p.options();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.window_scale, Some(7));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamp, Some((0x0001_0203, 0)));
    }

    #[test]
    fn hostile_options_and_offsets() {
        let mut h = [0u8; 24];
        h[12] = 0x60;
        h[20] = 2;
        h[21] = 200; // option length past the header
        let p = Packet::new_checked(&h[..]).unwrap();
        assert_eq!(p.options(), Options::default());
        h[12] = 0x40; // data offset 16 < 20
        assert!(Packet::new_checked(&h[..]).is_err());
        h[12] = 0xf0; // 60 > 24 captured
        assert!(Packet::new_checked(&h[..]).is_err());
    }
}
