//! Initial packet protection (RFC 9001 §5; RFC 9369 §3.3 for version 2): keys from the
//! client's Destination Connection ID, header protection with AES-128 in ECB mode, the
//! payload with AES-128-GCM.

use super::{DRAFT29, Packet, V1, V2};
use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

/// AES-GCM's tag length.
const TAG_LEN: usize = 16;
/// Header protection samples 16 bytes, 4 bytes after the packet number starts.
const SAMPLE_LEN: usize = 16;

/// One side's Initial keys.
#[derive(Clone)]
pub(super) struct Keys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys")
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hk: &Hkdf<Sha256>, label: &str, out: &mut [u8]) -> Option<()> {
    let full = [b"tls13 ", label.as_bytes()].concat();
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&u16::try_from(out.len()).ok()?.to_be_bytes());
    info.push(u8::try_from(full.len()).ok()?);
    info.extend_from_slice(&full);
    info.push(0);
    hk.expand(&info, out).ok()
}

impl Keys {
    /// The Initial keys of `version` for the client (`server` false) or the server, from
    /// the Destination Connection ID of the client's first Initial.
    pub(super) fn initial(version: u32, dcid: &[u8], server: bool) -> Option<Self> {
        let (salt, prefix): (&[u8], &str) = match version {
            V1 => (&SALT_V1, "quic"),
            V2 => (&SALT_V2, "quicv2"),
            DRAFT29 => (&SALT_DRAFT29, "quic"),
            _ => return None,
        };
        let initial = Hkdf::<Sha256>::new(Some(salt), dcid);
        let mut secret = [0u8; 32];
        expand_label(
            &initial,
            if server { "server in" } else { "client in" },
            &mut secret,
        )?;
        let hk = Hkdf::<Sha256>::from_prk(&secret).ok()?;
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        expand_label(&hk, &format!("{prefix} key"), &mut key)?;
        expand_label(&hk, &format!("{prefix} iv"), &mut iv)?;
        expand_label(&hk, &format!("{prefix} hp"), &mut hp)?;
        Some(Self {
            aead: Aes128Gcm::new(&key.into()),
            iv,
            hp: Aes128::new(&hp.into()),
        })
    }

    /// The decrypted payload of packet `p` of datagram `d`; `None` when it does not open
    /// (another connection's keys, or corrupt bytes).
    pub(super) fn open(&self, d: &[u8], p: &Packet<'_>) -> Option<Vec<u8>> {
        let sample = d.get(p.pn_offset + 4..p.pn_offset + 4 + SAMPLE_LEN)?;
        let mut mask = aes::Block::clone_from_slice(sample);
        self.hp.encrypt_block(&mut mask);
        let first = d[p.start] ^ (mask[0] & 0x0f);
        let pn_len = usize::from(first & 3) + 1;
        let payload_start = p.pn_offset + pn_len;
        if payload_start + TAG_LEN > p.end {
            return None;
        }
        let mut header = d[p.start..payload_start].to_vec();
        header[0] = first;
        let mut pn = 0u64;
        for (k, b) in header[p.pn_offset - p.start..].iter_mut().enumerate() {
            *b ^= mask[1 + k];
            pn = pn << 8 | u64::from(*b);
        }
        // Initial packet numbers start at 0 and stay small: the truncated number is the
        // whole one.
        let mut nonce = self.iv;
        for (k, b) in pn.to_be_bytes().iter().enumerate() {
            nonce[4 + k] ^= b;
        }
        let tag_at = p.end - TAG_LEN;
        let mut plain = d[payload_start..tag_at].to_vec();
        let tag = Tag::clone_from_slice(&d[tag_at..p.end]);
        self.aead
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), &header, &mut plain, &tag)
            .ok()?;
        Some(plain)
    }
}

/// RFC 9001 §5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2.
const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 9001 Appendix A.1: the keys for Destination Connection ID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_initial_keys() {
        let dcid = hex("8394c8f03e515708");
        let expect = |server: bool, key: &str, iv: &str, hp: &str| {
            let k = Keys::initial(V1, &dcid, server).expect("keys");
            assert_eq!(k.iv.to_vec(), hex(iv));
            // The AEAD and header keys, by what they do to a known block.
            let mut block = aes::Block::default();
            k.hp.encrypt_block(&mut block);
            let mut want = aes::Block::default();
            Aes128::new_from_slice(&hex(hp))
                .expect("hp")
                .encrypt_block(&mut want);
            assert_eq!(block, want);
            let mut a = [0u8; 4];
            let mut b = [0u8; 4];
            let n = Nonce::from_slice(&k.iv);
            let ta = k
                .aead
                .encrypt_in_place_detached(n, b"", &mut a)
                .expect("seal");
            let other = Aes128Gcm::new_from_slice(&hex(key)).expect("key");
            let tb = other
                .encrypt_in_place_detached(n, b"", &mut b)
                .expect("seal");
            assert_eq!((a, ta), (b, tb));
        };
        expect(
            false,
            "1f369613dd76d5467730efcbe3b1a22d",
            "fa044b2f42a3fd3b46fb255c",
            "9f50449e04a0e810283a1e9933adedd2",
        );
        expect(
            true,
            "cf3a5331653c364c88f0f379b6067e37",
            "0ac1493ca1905853b0bba03e",
            "c206b8d9b9f0f37644430b490eeaa314",
        );
    }
}
