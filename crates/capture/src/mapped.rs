//! Regular files read through memory-mapped windows instead of `read(2)`: no copy from
//! the page cache into a buffer, and packets handed to other threads by reference to
//! their window ([`Window`]) instead of by copy.
//!
//! A file is mapped `WINDOW` bytes at a time (read-only, read ahead); when fewer than
//! `MIN_AHEAD` bytes are left in a window, the next one is mapped from the current
//! position (page-aligned down), so a record always lies whole in one window. A window is
//! unmapped when the last holder of it is gone, so memory stays at a few windows
//! whatever the file size.
//!
//! The caveat every mmap reader shares (ripgrep, for one): a file truncated by another
//! process *while* it is being read makes the kernel raise SIGBUS on the missing pages.
//! Files that are damaged or cut short before the run are handled like any other input.

#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Bytes mapped at a time.
pub(crate) const WINDOW: usize = 32 << 20;
/// A new window is mapped when fewer bytes than this are left in the current one
/// (more than the largest record any reader accepts whole in one piece).
pub(crate) const MIN_AHEAD: usize = 1 << 20;

/// Asks the CPU to start loading the cache lines at `bytes[at..at + 128]` (the next
/// record's header and the start of its packet) while the current one is processed: the
/// readers walk the mapping one record at a time, and records vary in size, so the
/// hardware prefetcher cannot guess where the next one starts. A hint only: it never
/// faults and does nothing past the end of `bytes`.
#[inline]
pub fn prefetch(bytes: &[u8], at: usize) {
    prefetch_line(bytes, at);
    prefetch_line(bytes, at.saturating_add(64));
}

/// Asks the CPU to start loading the cache line holding `bytes[at]` (nothing past the
/// end of `bytes`). A hint only: it never faults, and it is dropped for a page that is
/// not mapped yet.
#[inline]
pub fn prefetch_line(bytes: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(b) = bytes.get(at) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: prefetching is a hint that never faults and never reads into the
        // program's state; the address is that of a byte of `bytes`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(b).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}

/// One mapped, read-only region of a file.
#[derive(Debug)]
pub struct Window {
    ptr: *const u8,
    len: usize,
    /// Offset of the first byte in the file.
    start: u64,
}

// SAFETY: the mapping is read-only and never changes owner-visible state; sharing
// references to its bytes between threads is like sharing a `&[u8]`.
unsafe impl Send for Window {}
// SAFETY: as above.
unsafe impl Sync for Window {}

impl Window {
    /// Maps `len` bytes of `file` from `start` (a multiple of the page size).
    fn map(file: &File, start: u64, len: usize) -> std::io::Result<Self> {
        if len == 0 {
            return Ok(Self {
                ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(),
                len: 0,
                start,
            });
        }
        // SAFETY: a fresh read-only private mapping of an open file; the kernel checks
        // the offset and length.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                start as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // Read sequentially, and start reading this window and the next from disk now,
        // while the previous one is processed (what read(2)'s readahead does; it matters
        // when the file is not cached).
        // SAFETY: advice only, on our own mapping and file.
        unsafe {
            libc::madvise(p, len, libc::MADV_SEQUENTIAL);
            libc::madvise(p, len, libc::MADV_WILLNEED);
            libc::posix_fadvise(
                file.as_raw_fd(),
                (start + len as u64) as libc::off_t,
                WINDOW as libc::off_t,
                libc::POSIX_FADV_WILLNEED,
            );
        }
        Ok(Self {
            ptr: p.cast(),
            len,
            start,
        })
    }

    /// The mapped bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is mapped readable for as long as `self` lives (or is a
        // dangling pointer with length 0).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Where `data` (a slice of these bytes) starts in the window, if it is one.
    pub fn offset_of(&self, data: &[u8]) -> Option<usize> {
        let (p, base) = (data.as_ptr() as usize, self.ptr as usize);
        (p >= base && p + data.len() <= base + self.len).then(|| p - base)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping our own mapping once; `bytes()` borrows end with `self`.
            unsafe {
                libc::munmap(self.ptr as *mut libc::c_void, self.len);
            }
        }
    }
}

/// A regular file read through windows.
pub(crate) struct Mapped {
    file: File,
    size: u64,
    window: Arc<Window>,
    /// Read position in the file.
    pos: u64,
}

fn page() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

impl Mapped {
    /// Maps the start of `file`, `None` when it is not a non-empty regular file.
    pub(crate) fn open(file: File) -> Option<Self> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        let size = meta.len();
        let window = Arc::new(Window::map(&file, 0, (size as usize).min(WINDOW)).ok()?);
        Some(Self {
            file,
            size,
            window,
            pos: 0,
        })
    }

    // Once per window: kept out of line so that `buffered`, called twice per packet,
    // inlines to a compare and a slice.
    #[cold]
    #[inline(never)]
    fn remap(&mut self) -> std::io::Result<()> {
        let start = self.pos / page() * page();
        let len = ((self.size - start) as usize).min(WINDOW);
        self.window = Arc::new(Window::map(&self.file, start, len)?);
        Ok(())
    }

    /// The bytes from the read position to the end of the window, mapping the next
    /// window first when the current one has fewer than `MIN_AHEAD` left (or the
    /// position was skipped past it).
    #[inline]
    pub(crate) fn buffered(&mut self) -> std::io::Result<&[u8]> {
        let end = self.window.start + self.window.len as u64;
        if end.saturating_sub(self.pos) < MIN_AHEAD as u64 && end < self.size {
            self.remap()?;
        }
        let off = (self.pos - self.window.start) as usize;
        Ok(&self.window.bytes()[off..])
    }

    /// Consumes `n` bytes.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n as u64).min(self.size);
    }

    /// Skips up to `n` bytes (no further than the end); returns how many.
    pub(crate) fn skip(&mut self, n: u64) -> u64 {
        let k = (self.size - self.pos).min(n);
        self.pos += k;
        k
    }

    /// Copies up to `buf.len()` bytes.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.buffered()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }

    /// [`buffered`](Self::buffered) and the window the bytes lie in.
    #[inline]
    pub(crate) fn buffered_window(&mut self) -> std::io::Result<(&[u8], &Arc<Window>)> {
        self.buffered()?;
        let off = (self.pos - self.window.start) as usize;
        Ok((&self.window.bytes()[off..], &self.window))
    }
}

#[cfg(test)]
mod tests {
    use crate::{LinkType, Packet, PacketSource, PcapWriter};
    use std::io::Write;

    /// Packets and the final error of one way of reading.
    type Read = (Vec<(i64, Vec<u8>)>, Option<String>);

    /// `p` read as a stream (through a buffer, not mapped).
    fn stream(p: &std::path::Path) -> Box<dyn PacketSource> {
        crate::open_reader(
            p.display().to_string(),
            Box::new(std::fs::File::open(p).unwrap()),
        )
        .unwrap()
    }

    /// `p` read mapped, then as a stream (each checked by [`read_all`]).
    fn both_ways(p: &std::path::Path) -> (Read, Read) {
        (
            read_all(&|| crate::open(p).unwrap()),
            read_all(&|| stream(p)),
        )
    }

    /// The first packet of `p` is handed over from the mapping, not copied.
    fn assert_mapped(p: &std::path::Path) {
        let mut mapped = crate::open(p).unwrap();
        assert!(mapped.next_packet().unwrap().unwrap().window.is_some());
    }

    /// Every packet and the final error, read one way (`open` opens the input): one
    /// packet at a time with `next_packet`, after checking that `for_each` on another
    /// reader of the same input hands over the same packets, positions and error, and
    /// stops when told to.
    fn read_all(open: &dyn Fn() -> Box<dyn PacketSource>) -> (Vec<(i64, Vec<u8>)>, Option<String>) {
        let (mut src, mut again) = (open(), open());
        let (mut out, mut positions) = (Vec::new(), Vec::new());
        let end = loop {
            let pos = src.position();
            match src.next_packet() {
                Ok(Some(p)) => {
                    out.push((p.ts_ns, p.data.to_vec()));
                    positions.push(pos);
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        let (mut each, mut each_pos) = (Vec::new(), Vec::new());
        let each_end = again
            .for_each(&mut |p, pos| {
                each.push((p.ts_ns, p.data.to_vec()));
                each_pos.push(pos);
                true
            })
            .err()
            .map(|e| e.to_string());
        assert!(
            each == out,
            "for_each: {} packets, next_packet {}",
            each.len(),
            out.len()
        );
        assert_eq!(each_pos, positions);
        assert_eq!(each_end, end);
        assert_eq!(again.position(), src.position());
        // Stopping early: `for_each` hands over no more packets once told to stop, and
        // `next_packet` goes on from there.
        if out.len() > 2 {
            let mut third = open();
            let mut seen = 0;
            third
                .for_each(&mut |_, _| {
                    seen += 1;
                    seen < 2
                })
                .unwrap();
            assert_eq!(seen, 2);
            let p = third.next_packet().unwrap().unwrap();
            assert_eq!((p.ts_ns, p.data.to_vec()), out[2]);
        }
        (out, end)
    }

    /// A fresh scratch directory for one test.
    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("wh-mapped-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A writer of a new Ethernet pcap at `path`.
    fn ethernet_pcap(
        path: &std::path::Path,
        snaplen: u32,
        nanos: bool,
    ) -> PcapWriter<std::io::BufWriter<std::fs::File>> {
        let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        PcapWriter::new(f, LinkType::Ethernet, snaplen, nanos).unwrap()
    }

    /// A reader that yields at most one byte per call.
    struct OneByte(std::fs::File);

    impl std::io::Read for OneByte {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn damaged_files_read_the_same_one_packet_at_a_time_and_in_one_loop() {
        let dir = scratch("fuzz");
        // A small pcap and a small pcapng (two interfaces, every packet block type, an
        // unknown block), then random damage: bytes overwritten, lengths replaced by
        // edge values, cuts. Reading must never panic, and `for_each` must hand over
        // exactly what `next_packet` returns (checked by `read_all`), mapped or streamed.
        let pcap = dir.join("base.pcap");
        let mut w = ethernet_pcap(&pcap, 2000, false);
        for i in 0..40u64 {
            let data: Vec<u8> = (0..(i * 37 % 300) as usize)
                .map(|k| (k as u64 ^ i) as u8)
                .collect();
            let p = Packet {
                ts_ns: i as i64 * 1000,
                linktype: LinkType::Ethernet,
                wire_len: data.len() as u32,
                interface: 0,
                data: &data,
                window: None,
            };
            w.write(&p).unwrap();
        }
        w.into_inner().unwrap().flush().unwrap();
        let mut ng = block(
            false,
            0x0a0d_0d0a,
            &[&0x1a2b_3c4du32.to_le_bytes()[..], &[1, 0, 0, 0], &[0xff; 8]].concat(),
        );
        ng.extend(block(false, 1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        ng.extend(block(
            false,
            1,
            &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0],
        ));
        for i in 0..40u32 {
            let data: Vec<u8> = (0..(i * 37 % 300) as usize)
                .map(|k| (k as u32 ^ i) as u8)
                .collect();
            let (t, head) = match i % 5 {
                3 => (3, (data.len() as u32).to_le_bytes().to_vec()),
                4 => (
                    2,
                    [
                        &[0u8, 0, 0, 0][..],
                        &[0, 0, 0, 0],
                        &i.to_le_bytes(),
                        &(data.len() as u32).to_le_bytes(),
                        &(data.len() as u32).to_le_bytes(),
                    ]
                    .concat(),
                ),
                _ => (
                    6,
                    [
                        (i % 2).to_le_bytes(),
                        0u32.to_le_bytes(),
                        i.to_le_bytes(),
                        (data.len() as u32).to_le_bytes(),
                        (data.len() as u32).to_le_bytes(),
                    ]
                    .concat(),
                ),
            };
            if i % 13 == 12 {
                ng.extend(block(false, 0x4000_0bad, &[9; 20]));
            }
            ng.extend(block(false, t, &[head, data].concat()));
        }
        let bases = [std::fs::read(&pcap).unwrap(), ng];
        let mut next = wirehouse_testkit::xorshift();
        let edge = [
            0u32,
            1,
            11,
            12,
            16,
            20,
            28,
            0xffff,
            0x1_0000,
            0x100_0000,
            0x7fff_ffff,
            u32::MAX,
        ];
        let path = dir.join("damaged");
        let mut damaged_reads = 0;
        for round in 0..400 {
            let mut b = bases[round % 2].clone();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % b.len();
                match next() % 3 {
                    0 => b[at] = next() as u8,
                    1 if at + 4 <= b.len() => {
                        let v = edge[(next() as usize) % edge.len()];
                        let v = if next().is_multiple_of(2) {
                            v.to_le_bytes()
                        } else {
                            v.to_be_bytes()
                        };
                        b[at..at + 4].copy_from_slice(&v);
                    }
                    _ => b.truncate(at.max(1)),
                }
            }
            std::fs::write(&path, &b).unwrap();
            // Damage to a file header may leave nothing to open: both ways refuse it.
            let (Ok(_), Ok(_)) = (
                crate::open(&path),
                crate::open_reader("x".into(), Box::new(std::fs::File::open(&path).unwrap())),
            ) else {
                continue;
            };
            let ((a, ea), (s, es)) = both_ways(&path);
            // A stream that yields one byte per read never holds a whole record: every
            // record goes the careful, copying way, against which the in-place way is
            // checked.
            let (c, ec) = read_all(&|| {
                crate::open_reader(
                    path.display().to_string(),
                    Box::new(OneByte(std::fs::File::open(&path).unwrap())),
                )
                .unwrap()
            });
            assert!(
                a == s && ea == es && a == c && ea == ec,
                "round {round}: mapped {} {ea:?}, streamed {} {es:?}, byte by byte {} {ec:?}",
                a.len(),
                s.len(),
                c.len()
            );
            damaged_reads += usize::from(ea.is_some());
        }
        assert!(
            damaged_reads > 100,
            "{damaged_reads} reads ended in an error"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn skipping_past_a_window_lands_on_the_right_bytes() {
        let dir = scratch("skip");
        let path = dir.join("bytes");
        let size = 2 * super::WINDOW + 1000;
        let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut m = super::Mapped::open(std::fs::File::open(&path).unwrap()).unwrap();
        m.consume(10);
        // Past the end of the first window, then to the last bytes, then beyond the end.
        assert_eq!(m.skip(super::WINDOW as u64 + 5), super::WINDOW as u64 + 5);
        let at = 10 + super::WINDOW + 5;
        assert_eq!(&m.buffered().unwrap()[..4], &bytes[at..at + 4]);
        assert_eq!(m.skip((size - at - 3) as u64), (size - at - 3) as u64);
        assert_eq!(m.buffered().unwrap(), &bytes[size - 3..]);
        assert_eq!(m.skip(100), 3);
        assert!(m.buffered().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A pcapng block of type `t` in the byte order `be`, body padded to 4 bytes.
    fn block(be: bool, t: u32, body: &[u8]) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let total = 12 + body.len().div_ceil(4) * 4;
        let mut b = Vec::with_capacity(total);
        b.extend_from_slice(&w(t));
        b.extend_from_slice(&w(total as u32));
        b.extend_from_slice(body);
        b.resize(total - 4, 0);
        b.extend_from_slice(&w(total as u32));
        b
    }

    #[test]
    fn pcapng_packets_are_read_in_place_across_windows_sections_and_damage() {
        let dir = scratch("ng");
        // Two sections (little-, then big-endian), each with an Ethernet interface in
        // microseconds and a raw-IP one in nanoseconds; enhanced, obsolete and simple
        // packet blocks of every size from 0 to 9000 bytes, and unknown blocks between.
        let (mut file, mut want) = (Vec::new(), Vec::new());
        let mut i = 0u64;
        for be in [false, true] {
            let h16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let h32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let mut shb = h32(0x1a2b_3c4d).to_vec();
            shb.extend_from_slice(&[h16(1), h16(0)].concat());
            shb.extend_from_slice(&[0xff; 8]);
            file.extend(block(be, 0x0a0d_0d0a, &shb));
            let idb = |lt: u16, tsresol: Option<u8>| {
                let mut b = [h16(lt), h16(0)].concat();
                b.extend_from_slice(&h32(0));
                if let Some(r) = tsresol {
                    b.extend_from_slice(&[h16(9), h16(1)].concat());
                    b.extend_from_slice(&[r, 0, 0, 0]);
                }
                b.extend_from_slice(&[0; 4]);
                b
            };
            file.extend(block(be, 1, &idb(1, None)));
            file.extend(block(be, 1, &idb(101, Some(9))));
            let end = file.len() + 2 * super::WINDOW;
            while file.len() < end {
                let len = (i * 7919 % 9001) as usize;
                let data: Vec<u8> = (0..len).map(|k| (k as u64 ^ i) as u8).collect();
                let (t, body, ts) = match i % 97 {
                    // Simple packet block: interface 0, no timestamp.
                    5 => (3, [h32(len as u32).to_vec(), data.clone()].concat(), 0),
                    // Obsolete packet block on interface 0 (microseconds).
                    7 => {
                        let mut b = [h16(0), h16(0)].concat();
                        for v in [0, i as u32, len as u32, len as u32] {
                            b.extend_from_slice(&h32(v));
                        }
                        (2, [b, data.clone()].concat(), i as i64 * 1000)
                    }
                    _ => {
                        let iface = (i % 2) as u32;
                        let mut b = h32(iface).to_vec();
                        for v in [1, i as u32, len as u32, len as u32 + 3] {
                            b.extend_from_slice(&h32(v));
                        }
                        let units = (1u64 << 32) + i;
                        let ts = if iface == 0 { units * 1000 } else { units };
                        (6, [b, data.clone()].concat(), ts as i64)
                    }
                };
                if i % 1000 == 999 {
                    file.extend(block(be, 0x4000_0bad, &[7; 40]));
                }
                file.extend(block(be, t, &body));
                want.push((ts, data));
                i += 1;
            }
        }
        let path = dir.join("big.pcapng");
        std::fs::write(&path, &file).unwrap();
        assert_mapped(&path);
        let ((a, ea), (b, eb)) = both_ways(&path);
        assert!(ea.is_none() && eb.is_none(), "{ea:?} {eb:?}");
        assert!(
            a == want,
            "{} packets read, {} written",
            a.len(),
            want.len()
        );
        assert!(b == want);

        // Cut past the first window, and a packet block whose captured length exceeds
        // its data: the same packets before the damage, and the same error naming the
        // same offset, both ways.
        let cut = dir.join("cut.pcapng");
        std::fs::write(&cut, &file[..super::WINDOW + 12_345]).unwrap();
        let ((a, ea), (b, eb)) = both_ways(&cut);
        assert!(a == b && want.starts_with(&a), "{} vs {}", a.len(), b.len());
        assert!(ea.is_some() && ea == eb, "{ea:?} vs {eb:?}");
        let mut bad = file.clone();
        let at = super::WINDOW + 4096;
        // The first enhanced packet block past `at`: little-endian type 6.
        let mut o = 0;
        let mut blocks = 0;
        while o < at || u32::from_le_bytes(bad[o..o + 4].try_into().unwrap()) != 6 {
            o += u32::from_le_bytes(bad[o + 4..o + 8].try_into().unwrap()) as usize;
            blocks += 1;
        }
        bad[o + 20..o + 24].copy_from_slice(&60_000u32.to_le_bytes());
        let damaged = dir.join("bad.pcapng");
        std::fs::write(&damaged, &bad).unwrap();
        let ((a, ea), (b, eb)) = both_ways(&damaged);
        assert!(a == b && want.starts_with(&a) && a.len() < blocks);
        let e = ea.unwrap();
        assert!(Some(&e) == eb.as_ref(), "{e} vs {eb:?}");
        assert!(
            e.contains(&o.to_string()) && e.contains("captured length 60000"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mapped_windows_read_what_the_stream_reads_across_boundaries_and_truncation() {
        let dir = scratch("windows");
        let path = dir.join("big.pcap");
        let mut w = ethernet_pcap(&path, 262_144, true);
        // ~3 windows' worth of records of every size from 0 to 9000 bytes, each with
        // distinct content, so records straddle every window boundary somewhere.
        let mut total = 0usize;
        let mut i = 0u64;
        while total < 2 * super::WINDOW + super::WINDOW / 2 {
            let len = (i * 7919 % 9001) as usize;
            let data: Vec<u8> = (0..len).map(|k| (k as u64 ^ i) as u8).collect();
            w.write(&Packet {
                ts_ns: i as i64 * 1000,
                linktype: LinkType::Ethernet,
                wire_len: len as u32,
                interface: 0,
                data: &data,
                window: None,
            })
            .unwrap();
            total += 16 + len;
            i += 1;
        }
        w.into_inner().unwrap().flush().unwrap();
        assert_mapped(&path);
        let ((a, ea), (b, eb)) = both_ways(&path);
        assert_eq!(a.len() as u64, i);
        assert!(a == b && ea.is_none() && eb.is_none());

        // Cut in the middle of a record past the first window: the same packets and the
        // same error (naming the same offset) both ways.
        let cut = dir.join("cut.pcap");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&cut, &bytes[..super::WINDOW + 12_345]).unwrap();
        let ((a, ea), (b, eb)) = both_ways(&cut);
        assert!(a == b, "{} vs {} packets", a.len(), b.len());
        assert!(ea.is_some() && ea == eb, "{ea:?} vs {eb:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
