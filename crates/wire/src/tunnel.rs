//! Tunnel headers: GRE (with ERSPAN I/II/III), VXLAN, Geneve, GTP-U, Teredo and AYIYA.

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
    let et = crate::ethernet::snap_ethertype(llc)
        .ok_or(DecodeError::new(Layer::Link, crate::ErrorKind::NotIp(0)))?;
    Ok((et, &b[len + 8..]))
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

/// Parses a GTP user-plane header: GTPv1-U (3GPP TS 29.281, UDP 2152) or GTPv0 (GSM
/// 09.60, UDP 3386). Only a T-PDU (message type 255) carries a user packet. In GTPv0 it
/// follows the 20-byte header. In GTPv1 it follows the 8-byte header, the 4 optional
/// bytes present when any of the E, S or PN flags is set, and the extension headers the E
/// flag chains (each a length in 4-byte units, its content, and the next type; 0 ends the
/// chain). Echo, error and signalling messages are [`Inner::Other`] with their type.
pub fn gtp(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    let h = b.get(..8).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    // Protocol type 1 (GTP, not GTP'), version 0 or 1.
    let version = h[0] >> 5;
    if version > 1 || h[0] & 0x10 == 0 {
        return Err(DecodeError::malformed(Layer::Tunnel));
    }
    if h[1] != 0xff {
        return Ok((Inner::Other(u16::from(h[1])), &b[8..]));
    }
    let mut off = 8;
    if version == 0 {
        off = 20;
    } else if h[0] & 0x07 != 0 {
        let opt = b.get(8..12).ok_or(DecodeError::truncated(Layer::Tunnel))?;
        off = 12;
        let mut next = if h[0] & 0x04 != 0 { opt[3] } else { 0 };
        while next != 0 {
            let len = usize::from(*b.get(off).ok_or(DecodeError::truncated(Layer::Tunnel))?) * 4;
            if len == 0 {
                return Err(DecodeError::malformed(Layer::Tunnel));
            }
            let ext = b
                .get(off..off + len)
                .ok_or(DecodeError::truncated(Layer::Tunnel))?;
            next = ext[len - 1];
            off += len;
        }
    }
    let rest = b.get(off..).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    match rest.first().map(|v| v >> 4) {
        Some(4 | 6) => Ok((Inner::Ip, rest)),
        Some(_) => Err(DecodeError::malformed(Layer::Tunnel)),
        None => Err(DecodeError::truncated(Layer::Tunnel)),
    }
}

/// Parses Teredo's encapsulation (RFC 4380, UDP 3544): an optional authentication
/// indicator (type 1: client id and authentication value lengths, the two, an 8-byte
/// nonce and a confirmation byte), an optional origin indication (type 0: port and
/// address, 8 bytes in all), then an IPv6 packet. Anything that is not IPv6 there is
/// not Teredo.
pub fn teredo(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    let mut off = 0;
    if b.get(..2) == Some(&[0, 1]) {
        let l = b.get(2..4).ok_or(DecodeError::truncated(Layer::Tunnel))?;
        off = 4 + usize::from(l[0]) + usize::from(l[1]) + 9;
    }
    if b.get(off..off + 2) == Some(&[0, 0]) {
        off += 8;
    }
    let rest = b.get(off..).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    match rest.first() {
        Some(v) if v >> 4 == 6 => Ok((Inner::Ip, rest)),
        Some(_) => Err(DecodeError::malformed(Layer::Tunnel)),
        None => Err(DecodeError::truncated(Layer::Tunnel)),
    }
}

/// Parses an AYIYA header (UDP 5072): identity of 2^n bytes, signature of 4·m bytes after
/// the 8 fixed ones. Only the forward operation (1) carries a packet, of the next-header
/// protocol (IPv4 or IPv6).
pub fn ayiya(b: &[u8]) -> Result<(Inner, &[u8]), DecodeError> {
    let h = b.get(..8).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    let len = 8 + (1usize << (h[0] >> 4)) + usize::from(h[1] >> 4) * 4;
    let rest = b.get(len..).ok_or(DecodeError::truncated(Layer::Tunnel))?;
    match (h[2] & 0x0f, h[3]) {
        (1, 4 | 41) => Ok((Inner::Ip, rest)),
        (op, _) => Ok((Inner::Other(u16::from(op)), rest)),
    }
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

    #[test]
    fn gtp_user_plane() {
        let ip = [0x45, 0, 0, 20];
        // GTPv1-U G-PDU, no optional fields.
        let mut g = vec![0x30, 0xff, 0, 4, 0, 0, 0, 1];
        g.extend_from_slice(&ip);
        assert_eq!(gtp(&g).unwrap(), (Inner::Ip, &ip[..]));
        // E flag: optional fields, then one 4-byte extension header (PDU session container).
        let mut e = vec![
            0x34, 0xff, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0,
        ];
        e.extend_from_slice(&ip);
        assert_eq!(gtp(&e).unwrap(), (Inner::Ip, &ip[..]));
        // An extension header of length 0 would never end; one that is cut is truncated.
        assert!(gtp(&[0x34, 0xff, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85, 0, 0, 0, 0]).is_err());
        assert!(gtp(&[0x34, 0xff, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85, 2, 0, 0, 0]).is_err());
        // Echo request: not user data. GTP' (protocol type 0) and v2 are not user plane.
        assert_eq!(
            gtp(&[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap().0,
            Inner::Other(1)
        );
        assert!(gtp(&[0x20, 0xff, 0, 4, 0, 0, 0, 1, 0x45]).is_err());
        assert!(gtp(&[0x48, 0xff, 0, 4, 0, 0, 0, 1, 0x45]).is_err());
        // GTPv0 T-PDU: a 20-byte header.
        let mut v0 = vec![0x1e, 0xff, 0, 4];
        v0.extend_from_slice(&[0; 16]);
        v0.extend_from_slice(&ip);
        assert_eq!(gtp(&v0).unwrap(), (Inner::Ip, &ip[..]));
        assert!(gtp(&v0[..12]).is_err());
    }

    #[test]
    fn teredo_and_ayiya() {
        let ip6 = [0x60, 0, 0, 0];
        assert_eq!(teredo(&ip6).unwrap(), (Inner::Ip, &ip6[..]));
        // Origin indication, then authentication indicator with 1-byte id and value.
        let mut o = vec![0, 0, 0x12, 0x34, 1, 2, 3, 4];
        o.extend_from_slice(&ip6);
        assert_eq!(teredo(&o).unwrap(), (Inner::Ip, &ip6[..]));
        let mut a = vec![0, 1, 1, 1, 0xaa, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8, 0];
        a.extend_from_slice(&o);
        assert_eq!(teredo(&a).unwrap(), (Inner::Ip, &ip6[..]));
        // IPv4 (or anything but IPv6) there is not Teredo; a claimed id past the end is cut.
        assert!(teredo(&[0x45, 0, 0, 20]).is_err());
        assert!(teredo(&[0, 1, 200, 0, 0]).is_err());
        // AYIYA: 16-byte identity (2^4), 20-byte signature (5·4), forward, IPv6.
        let mut y = vec![0x41, 0x52, 0x11, 41, 0, 0, 0, 0];
        y.extend_from_slice(&[0; 36]);
        y.extend_from_slice(&ip6);
        assert_eq!(ayiya(&y).unwrap(), (Inner::Ip, &ip6[..]));
        y[2] = 0x12;
        assert_eq!(ayiya(&y).unwrap().0, Inner::Other(2));
        assert!(ayiya(&y[..30]).is_err());
    }
}
