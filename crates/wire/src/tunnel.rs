//! Tunnel headers: GRE (with ERSPAN I/II/III), VXLAN and Geneve.

use crate::{DecodeError, Layer, be16, ethertype};

/// What a tunnel header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner {
    /// An Ethernet frame.
    Ethernet,
    /// An IP packet (version from the EtherType).
    Ip,
    /// A PPP frame (PPTP's enhanced GRE).
    Ppp,
    /// An IEEE 802.11 frame (Aruba's GRE).
    Wlan,
    /// An MPLS label stack.
    Mpls,
    /// Something else, identified by its EtherType / protocol type.
    Other(u16),
}

fn inner_of(proto: u16) -> Inner {
    match proto {
        ethertype::TEB => Inner::Ethernet,
        ethertype::IPV4 | ethertype::IPV6 => Inner::Ip,
        0x880b => Inner::Ppp,
        0x8200 => Inner::Wlan,
        p => Inner::Other(p),
    }
}

/// Parses a GRE header (RFC 2784/2890, and ERSPAN carried in GRE).
/// Returns what is inside and the bytes that follow all tunnel headers.
pub fn gre(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    if b.len() < 4 {
        return Err(DecodeError::truncated(Layer::Tunnel));
    }
    let flags = be16(b, 0);
    let version = flags & 7;
    let proto = be16(b, 2);
    if version > 1 {
        return Err(DecodeError::malformed(Layer::Tunnel));
    }
    let mut len = 4;
    if flags & 0x8000 != 0 {
        len += 4; // checksum + reserved
    }
    if flags & 0x2000 != 0 {
        len += 4; // key
    }
    let seq = flags & 0x1000 != 0;
    if seq {
        len += 4;
    }
    if version == 1 && flags & 0x0080 != 0 {
        len += 4; // enhanced GRE (PPTP) acknowledgement number
    }
    if flags & 0x4000 != 0 {
        return Err(DecodeError::malformed(Layer::Tunnel)); // source routing: obsolete
    }
    let rest = b.get(len..).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    match proto {
        // ERSPAN type I has no header (no sequence bit); type II has 8 bytes.
        ethertype::ERSPAN2 if !seq => Ok((Inner::Ethernet, rest)),
        ethertype::ERSPAN2 => Ok((
            Inner::Ethernet,
            rest.get(8..).ok_or(DecodeError::truncated(Layer::Tunnel))?,
        )),
        ethertype::ERSPAN3 => {
            let h = rest
                .get(..12)
                .ok_or(DecodeError::truncated(Layer::Tunnel))?;
            let extra = if h[11] & 0x01 != 0 { 8 } else { 0 }; // O bit: platform sub-header
            Ok((
                Inner::Ethernet,
                rest.get(12 + extra..)
                    .ok_or(DecodeError::truncated(Layer::Tunnel))?,
            ))
        }
        // WCCP redirect: a 4-byte header (or none, when the payload is IPv4 already).
        0x883e => match rest.first().map(|b| b >> 4) {
            Some(4) => Ok((Inner::Ip, rest)),
            _ => Ok((
                Inner::Ip,
                rest.get(4..).ok_or(DecodeError::truncated(Layer::Tunnel))?,
            )),
        },
        p => Ok((inner_of(p), rest)),
    }
}

/// Parses an IEEE 802.11 data frame up to its LLC/SNAP header; returns the EtherType of
/// the payload and the bytes after the SNAP header. Management/control frames and
/// protected (encrypted) frames carry no decodable IP.
pub fn wlan(b: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    if b.len() < 24 {
        return Err(DecodeError::truncated(Layer::Link));
    }
    let fc0 = b[0];
    let fc1 = b[1];
    let ftype = (fc0 >> 2) & 3;
    if ftype != 2 {
        return Err(DecodeError::new(Layer::Link, crate::ErrorKind::NotIp(0)));
    }
    if fc1 & 0x40 != 0 {
        return Err(DecodeError::new(Layer::Link, crate::ErrorKind::NotIp(0))); // protected
    }
    let mut len = 24;
    if fc1 & 0x03 == 0x03 {
        len += 6; // address 4
    }
    let qos = fc0 & 0x80 != 0;
    if qos {
        len += 2;
        if fc1 & 0x80 != 0 {
            len += 4; // HT control
        }
    }
    if fc0 & 0x40 != 0 {
        return Err(DecodeError::new(Layer::Link, crate::ErrorKind::NotIp(0))); // null data
    }
    let llc = b
        .get(len..len + 8)
        .ok_or(DecodeError::truncated(Layer::Link))?;
    if llc[..3] != [0xaa, 0xaa, 0x03] {
        return Err(DecodeError::new(Layer::Link, crate::ErrorKind::NotIp(0)));
    }
    Ok((be16(llc, 6), &b[len + 8..]))
}

/// Parses a VXLAN header (8 bytes; always Ethernet inside).
pub fn vxlan(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    let rest = b.get(8..).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    if b[0] & 0x08 == 0 {
        return Err(DecodeError::malformed(Layer::Tunnel)); // I flag: VNI valid
    }
    Ok((Inner::Ethernet, rest))
}

/// Parses a VXLAN-GPE header (UDP 4790), following a Network Service Header if present.
pub fn vxlan_gpe(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    let h = b.get(..8).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    let rest = &b[8..];
    match h[3] {
        1 | 2 => Ok((Inner::Ip, rest)),
        3 => Ok((Inner::Ethernet, rest)),
        4 => nsh(rest),
        5 => Ok((Inner::Mpls, rest)),
        p => Ok((Inner::Other(u16::from(p)), rest)),
    }
}

/// Parses a Network Service Header (RFC 8300).
pub fn nsh(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    let h = b.get(..8).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    let len = usize::from(h[1] & 0x3f) * 4;
    if len < 8 {
        return Err(DecodeError::malformed(Layer::Tunnel));
    }
    let rest = b.get(len..).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    match h[3] {
        1 | 2 => Ok((Inner::Ip, rest)),
        3 => Ok((Inner::Ethernet, rest)),
        5 => Ok((Inner::Mpls, rest)),
        p => Ok((Inner::Other(u16::from(p)), rest)),
    }
}

/// Parses a Geneve header (8 bytes + options).
pub fn geneve(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    if b.len() < 8 {
        return Err(DecodeError::truncated(Layer::Tunnel));
    }
    if b[0] >> 6 != 0 {
        return Err(DecodeError::malformed(Layer::Tunnel));
    }
    let opt_len = usize::from(b[0] & 0x3f) * 4;
    let rest = b
        .get(8 + opt_len..)
        .ok_or(DecodeError::truncated(Layer::Tunnel))?;
    Ok((inner_of(be16(b, 2)), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_variants() {
        // Plain GRE carrying IPv4.
        let (i, r) = gre(&[0, 0, 0x08, 0x00, 0x45]).unwrap();
        assert_eq!((i, r), (Inner::Ip, &[0x45][..]));
        // Key present, carrying Ethernet.
        let (i, r) = gre(&[0x20, 0, 0x65, 0x58, 0, 0, 0, 1, 0xaa]).unwrap();
        assert_eq!((i, r), (Inner::Ethernet, &[0xaa][..]));
        // Key bit set but key not captured.
        assert!(gre(&[0x20, 0, 0x65, 0x58, 0]).is_err());
        // ERSPAN II: sequence number + 8-byte ERSPAN header.
        let mut e = vec![0x10, 0, 0x88, 0xbe, 0, 0, 0, 1];
        e.extend_from_slice(&[0x10, 0, 0, 0, 0, 0, 0, 0, 0xbb]);
        assert_eq!(gre(&e).unwrap(), (Inner::Ethernet, &[0xbb][..]));
    }

    #[test]
    fn vxlan_and_geneve() {
        assert_eq!(
            vxlan(&[8, 0, 0, 0, 0, 0, 1, 0, 7]).unwrap(),
            (Inner::Ethernet, &[7][..])
        );
        assert!(vxlan(&[8, 0, 0]).is_err());
        // Geneve with 4 bytes of options claimed but only 2 present.
        assert!(geneve(&[1, 0, 0x65, 0x58, 0, 0, 0, 0, 1, 2]).is_err());
        assert_eq!(
            geneve(&[0, 0, 0x08, 0x00, 0, 0, 0, 0, 9]).unwrap(),
            (Inner::Ip, &[9][..])
        );
    }
}
