//! `--save-pcap DIR`: the raw packets of a live capture written to pcap files that are
//! rotated by size or age. A file is written under a hidden `.name.inprogress` name and
//! renamed when it is complete, so whatever picks files up never sees a half-written one.

use crate::{LinkType, Packet, PcapWriter};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// When a file is complete.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// Bytes per file at most (0: no limit).
    pub max_bytes: u64,
    /// Seconds of capture per file at most (0: no limit).
    pub max_seconds: u64,
}

struct Open {
    w: PcapWriter<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    bytes: u64,
    first_ns: i64,
}

/// Writes `DIR/<prefix>-<YYYYmmddTHHMMSS>-<n>.pcap` files.
pub struct RotatingPcap {
    dir: PathBuf,
    prefix: String,
    linktype: LinkType,
    snaplen: u32,
    rotation: Rotation,
    seq: u64,
    open: Option<Open>,
    done: Vec<PathBuf>,
}

fn stamp(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl RotatingPcap {
    /// Files for `prefix` (e.g. the interface name) in `dir`, which is created.
    pub fn new(
        dir: &Path,
        prefix: &str,
        linktype: LinkType,
        snaplen: u32,
        rotation: Rotation,
    ) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            linktype,
            snaplen,
            rotation,
            seq: 0,
            open: None,
            done: Vec::new(),
        })
    }

    /// Appends a packet, starting a new file first when the current one is full or old.
    pub fn write(&mut self, p: &Packet<'_>) -> io::Result<()> {
        if let Some(o) = &self.open {
            let r = self.rotation;
            let full = r.max_bytes > 0 && o.bytes >= r.max_bytes;
            let old = r.max_seconds > 0
                && p.ts_ns.saturating_sub(o.first_ns)
                    >= (r.max_seconds as i64).saturating_mul(1_000_000_000);
            if full || old {
                self.finish()?;
            }
        }
        if self.open.is_none() {
            let name = format!("{}-{}-{}.pcap", self.prefix, stamp(p.ts_ns), self.seq);
            self.seq += 1;
            let path = self.dir.join(&name);
            let tmp = self.dir.join(format!(".{name}.inprogress"));
            let w = PcapWriter::new(
                BufWriter::with_capacity(1 << 20, File::create(&tmp)?),
                self.linktype,
                self.snaplen,
                true,
            )?;
            self.open = Some(Open {
                w,
                tmp,
                path,
                bytes: 24,
                first_ns: p.ts_ns,
            });
        }
        let o = self.open.as_mut().expect("opened above");
        o.w.write(p)?;
        o.bytes += 16 + p.data.len().min(self.snaplen as usize) as u64;
        Ok(())
    }

    /// Completes the current file (flushed and renamed), if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(o) = self.open.take() {
            o.w.into_inner()?
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()?;
            std::fs::rename(&o.tmp, &o.path)?;
            self.done.push(o.path);
        }
        Ok(())
    }

    /// Closes the current file and returns every file written.
    pub fn close(mut self) -> io::Result<Vec<PathBuf>> {
        self.finish()?;
        Ok(std::mem::take(&mut self.done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(ts_ns: i64, data: &[u8]) -> Packet<'_> {
        Packet {
            ts_ns,
            linktype: LinkType::Ethernet,
            wire_len: data.len() as u32,
            interface: 0,
            data,
            window: None,
        }
    }

    #[test]
    fn stamps_are_utc_civil_time() {
        assert_eq!(stamp(0), "19700101T000000");
        // 2026-11-25 04:23:51 UTC.
        assert_eq!(stamp(1_795_580_631 * 1_000_000_000), "20261125T042351");
    }

    #[test]
    fn rotates_by_size_and_age_and_every_file_reads_back() {
        let dir = std::env::temp_dir().join(format!("wh-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let frame = [0xabu8; 100];
        let mut w = RotatingPcap::new(
            &dir,
            "veth0",
            LinkType::Ethernet,
            65535,
            Rotation {
                max_bytes: 1000,
                max_seconds: 10,
            },
        )
        .unwrap();
        // 20 packets of 116 bytes one second apart: size closes a file every 9 packets.
        for i in 0..20 {
            w.write(&pkt(i * 1_000_000_000, &frame)).unwrap();
        }
        // Then one 30 s later: the age limit starts a new file.
        w.write(&pkt(100_000_000_000, &frame)).unwrap();
        w.write(&pkt(101_000_000_000, &frame)).unwrap();
        let files = w.close().unwrap();
        let mut counts = Vec::new();
        for f in &files {
            let mut r = crate::open(f).unwrap();
            let mut n = 0;
            while let Some(p) = r.next_packet().unwrap() {
                assert_eq!(p.data, &frame[..]);
                n += 1;
            }
            counts.push(n);
        }
        assert_eq!(counts, vec![9, 9, 2, 2]);
        // No temporary file is left.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".inprogress"))
            .collect();
        assert!(left.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
