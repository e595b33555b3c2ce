//! Bytes rebuilt from pieces at offsets that arrive in any order and more than once: DTLS
//! handshake fragments, QUIC CRYPTO frames.

/// Separate byte ranges one buffer may be rebuilt from (past them, [`Pieces::add`] refuses
/// every piece).
pub(crate) const MAX_RANGES: usize = 64;

/// The first `cap` bytes of something sent in pieces.
#[derive(Debug, Default)]
pub(crate) struct Pieces {
    cap: usize,
    /// Grows to the furthest byte received.
    buf: Vec<u8>,
    /// Byte ranges received: sorted, separate, not touching.
    have: Vec<(usize, usize)>,
}

impl Pieces {
    /// Keeps bytes `0..cap`.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            ..Default::default()
        }
    }

    /// Adds `data`, which starts at `offset` (what lies past `cap` is dropped). False, now
    /// and for every later piece, once the pieces are too scattered to keep (more than
    /// [`MAX_RANGES`] separate ranges): the cost of a piece stays bounded.
    pub(crate) fn add(&mut self, offset: usize, data: &[u8]) -> bool {
        if self.have.len() > MAX_RANGES {
            return false;
        }
        if offset >= self.cap || data.is_empty() {
            return true;
        }
        let end = offset.saturating_add(data.len()).min(self.cap);
        if end > self.buf.len() {
            self.buf.resize(end, 0);
        }
        self.buf[offset..end].copy_from_slice(&data[..end - offset]);
        add_range(&mut self.have, (offset, end));
        self.have.len() <= MAX_RANGES
    }

    /// The bytes received without a hole from the start.
    pub(crate) fn prefix(&self) -> &[u8] {
        match self.have.first() {
            Some(&(0, e)) => &self.buf[..e],
            _ => &[],
        }
    }

    /// All `cap` bytes are here.
    pub(crate) fn complete(&self) -> bool {
        self.prefix().len() == self.cap
    }

    /// The buffer (the whole of it once [`complete`](Self::complete)).
    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Adds `(s, e)` to sorted, separate ranges, merging what it touches.
fn add_range(have: &mut Vec<(usize, usize)>, (mut s, mut e): (usize, usize)) {
    let first = have.partition_point(|&(_, he)| he < s);
    let mut last = first;
    while let Some(&(hs, he)) = have.get(last)
        && hs <= e
    {
        s = s.min(hs);
        e = e.max(he);
        last += 1;
    }
    have.splice(first..last, [(s, e)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge() {
        let mut have = Vec::new();
        for r in [
            (10, 20),
            (30, 40),
            (0, 5),
            (20, 30),
            (5, 10),
            (50, 60),
            (45, 55),
        ] {
            add_range(&mut have, r);
        }
        assert_eq!(have, [(0, 40), (45, 60)]);
    }

    #[test]
    fn pieces_in_any_order() {
        let text = b"the quick brown fox jumps over the lazy dog";
        let mut p = Pieces::new(text.len());
        for (off, len) in [(30, 13), (4, 6), (0, 4), (4, 6), (12, 20), (10, 2)] {
            assert!(!p.complete());
            assert!(p.add(off, &text[off..off + len]));
        }
        assert!(p.complete());
        assert_eq!(p.prefix(), text);
        // Capped: what lies past the cap is dropped.
        let mut p = Pieces::new(10);
        assert!(p.add(5, &text[5..20]));
        assert!(p.add(usize::MAX - 1, b"xy"));
        assert_eq!(p.prefix(), b"");
        assert!(p.add(0, &text[..5]));
        assert_eq!(p.into_inner(), &text[..10]);
    }

    /// Pieces that never touch, newest first (each would be inserted at the front):
    /// refused past MAX_RANGES, also the ones that would close a gap.
    #[test]
    fn too_scattered() {
        let mut p = Pieces::new(65_536);
        let added = (0..32_768).rev().filter(|i| p.add(i * 2, b"x")).count();
        assert_eq!(added, MAX_RANGES);
        assert_eq!(p.have.len(), MAX_RANGES + 1);
        assert!(!p.add(1, b"x"));
        assert_eq!(p.have.len(), MAX_RANGES + 1);
    }
}
