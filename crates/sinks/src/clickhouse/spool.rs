//! The on-disk spool: batches ClickHouse could not take yet, one file each
//! (`<seq>-<table>-<rows>-<token>.arrows`, Arrow IPC stream, written under a temporary name and
//! renamed), replayed oldest first with their original deduplication token, so a batch
//! that did reach ClickHouse before a crash is not inserted twice. Bounded in bytes.

use super::config::SpoolFull;
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// One spooled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Order of creation.
    pub seq: u64,
    /// Table name.
    pub table: String,
    /// Rows in the batch.
    pub rows: u64,
    /// Deduplication token.
    pub token: String,
    /// File.
    pub path: PathBuf,
    /// File size.
    pub bytes: u64,
}

#[derive(Default)]
struct State {
    files: VecDeque<Entry>,
    bytes: u64,
}

/// A bounded directory of batches.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    full: SpoolFull,
    state: Mutex<State>,
    freed: Condvar,
}

fn parse_name(p: &Path) -> Option<(u64, String, u64, String)> {
    let name = p.file_name()?.to_str()?.strip_suffix(".arrows")?;
    let (seq, rest) = name.split_once('-')?;
    let (table, rest) = rest.split_once('-')?;
    let (rows, token) = rest.split_once('-')?;
    Some((
        seq.parse().ok()?,
        table.to_string(),
        rows.parse().ok()?,
        token.to_string(),
    ))
}

impl Spool {
    /// Opens (creating) `dir` and lists what an earlier run left in it.
    pub fn open(dir: &Path, max_bytes: u64, full: SpoolFull) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut files = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if let Some((seq, table, rows, token)) = parse_name(&p) {
                let bytes = std::fs::metadata(&p)?.len();
                files.push(Entry {
                    seq,
                    table,
                    rows,
                    token,
                    path: p,
                    bytes,
                });
            } else if p.extension().is_some_and(|x| x == "tmp") {
                // A write cut short by a crash: never renamed, never counted.
                let _ = std::fs::remove_file(&p);
            }
        }
        files.sort_by_key(|e| e.seq);
        let bytes = files.iter().map(|e| e.bytes).sum();
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            full,
            state: Mutex::new(State {
                files: files.into(),
                bytes,
            }),
            freed: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The highest sequence number on disk.
    pub fn max_seq(&self) -> Option<u64> {
        self.lock().files.back().map(|e| e.seq)
    }

    /// Batches and bytes waiting.
    pub fn size(&self) -> (usize, u64) {
        let s = self.lock();
        (s.files.len(), s.bytes)
    }

    /// Stores a batch. When full: waits for replay to free room (`wait`), or drops the
    /// oldest batches (`drop_oldest`) and returns how many rows-worth of files it dropped.
    pub fn put(
        &self,
        seq: u64,
        table: &str,
        rows: u64,
        token: &str,
        body: &[u8],
    ) -> io::Result<u64> {
        let mut dropped = 0;
        let mut s = self.lock();
        let need = body.len() as u64;
        while !s.files.is_empty() && s.bytes + need > self.max_bytes {
            match self.full {
                SpoolFull::Wait => {
                    s = self
                        .freed
                        .wait_timeout(s, Duration::from_millis(500))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                SpoolFull::DropOldest => {
                    if let Some(e) = s.files.pop_front() {
                        s.bytes -= e.bytes;
                        let _ = std::fs::remove_file(&e.path);
                        dropped += 1;
                    }
                }
            }
        }
        let path = self
            .dir
            .join(format!("{seq:020}-{table}-{rows}-{token}.arrows"));
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &path)?;
        let e = Entry {
            seq,
            table: table.to_string(),
            rows,
            token: token.to_string(),
            path,
            bytes: need,
        };
        // Keep the queue ordered (inserters may finish out of order).
        let at = s.files.partition_point(|x| x.seq < seq);
        s.files.insert(at, e);
        s.bytes += need;
        Ok(dropped)
    }

    /// The oldest batch.
    pub fn oldest(&self) -> Option<Entry> {
        self.lock().files.front().cloned()
    }

    /// Forgets a replayed batch.
    pub fn remove(&self, e: &Entry) -> io::Result<()> {
        let mut s = self.lock();
        if let Some(i) = s.files.iter().position(|x| x.seq == e.seq) {
            let e = s.files.remove(i).expect("in range");
            s.bytes -= e.bytes;
            std::fs::remove_file(&e.path)?;
        }
        drop(s);
        self.freed.notify_all();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_in_order_and_bounds_bytes() {
        let dir = std::env::temp_dir().join(format!("wh-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Spool::open(&dir, 25, SpoolFull::DropOldest).unwrap();
        s.put(7, "flows", 4, "run-7", b"0123456789").unwrap();
        s.put(3, "l7_sessions", 5, "run-3", b"0123456789").unwrap();
        assert_eq!(s.oldest().unwrap().seq, 3);
        // A third batch does not fit: the oldest goes.
        assert_eq!(s.put(9, "flows", 6, "run-9", b"0123456789").unwrap(), 1);
        drop(s);
        std::fs::write(dir.join("00000000000000000010-flows-x.tmp"), b"partial").unwrap();
        let s = Spool::open(&dir, 25, SpoolFull::Wait).unwrap();
        let e = s.oldest().unwrap();
        assert_eq!(
            (e.seq, e.table.as_str(), e.rows, e.token.as_str()),
            (7, "flows", 4, "run-7")
        );
        assert_eq!(s.size(), (2, 20));
        assert_eq!(s.max_seq(), Some(9));
        s.remove(&e).unwrap();
        assert_eq!(s.size(), (1, 10));
        assert!(!dir.join("00000000000000000010-flows-x.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
