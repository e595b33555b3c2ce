//! A pcap writer (microsecond or nanosecond resolution, native little-endian).

use crate::{LinkType, Packet};
use std::io::{self, Write};

/// Writes classic pcap files.
pub struct PcapWriter<W: Write> {
    w: W,
    nanos: bool,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut w: W, linktype: LinkType, snaplen: u32, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        w.write_all(&magic.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        w.write_all(&[0u8; 8])?;
        w.write_all(&snaplen.to_le_bytes())?;
        w.write_all(&linktype.to_u32().to_le_bytes())?;
        Ok(Self { w, nanos, snaplen })
    }

    /// Appends one packet (cut to the snapshot length).
    pub fn write(&mut self, p: &Packet<'_>) -> io::Result<()> {
        let sec = p.ts_ns.div_euclid(1_000_000_000);
        let ns = p.ts_ns.rem_euclid(1_000_000_000);
        let frac = if self.nanos { ns } else { ns / 1000 };
        let data = &p.data[..p.data.len().min(self.snaplen as usize)];
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(sec as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(frac as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&p.wire_len.max(data.len() as u32).to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(data)
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::open_reader;

    #[test]
    fn round_trip_through_reader() {
        let frames: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 60 + usize::from(i)]).collect();
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 62, true).unwrap();
        for (i, f) in frames.iter().enumerate() {
            let p = Packet {
                ts_ns: 1_700_000_000_123_456_789 + i as i64,
                linktype: LinkType::Ethernet,
                wire_len: f.len() as u32,
                interface: 0,
                data: f,
                window: None,
            };
            w.write(&p).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let mut r = open_reader("mem".into(), Box::new(std::io::Cursor::new(bytes))).unwrap();
        let mut n = 0;
        while let Some(p) = r.next_packet().unwrap() {
            assert_eq!(p.ts_ns, 1_700_000_000_123_456_789 + n as i64);
            assert_eq!(p.data.len(), frames[n].len().min(62));
            assert_eq!(p.wire_len as usize, frames[n].len());
            n += 1;
        }
        assert_eq!(n, 5);
    }
}
