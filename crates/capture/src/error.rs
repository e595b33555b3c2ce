//! Capture errors: every one names the input and, where it applies, the byte offset.

use std::io;

/// A capture could not be opened or read further.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened (missing, a directory's permissions, ...).
    #[error("{file}: cannot open: {source}")]
    Open {
        /// Input name.
        file: String,
        /// The error.
        source: io::Error,
    },
    /// An I/O error.
    #[error("{file}: byte offset {offset}: {source}")]
    Io {
        /// Input name.
        file: String,
        /// Offset where it happened.
        offset: u64,
        /// The error.
        source: io::Error,
    },
    /// The file does not start with a pcap, pcapng, gzip or zstd magic number.
    #[error("{file}: not a pcap or pcapng capture (starts with {})", hex(magic))]
    NotACapture {
        /// Input name.
        file: String,
        /// The first bytes.
        magic: Vec<u8>,
    },
    /// A zero-length file.
    #[error("{file}: empty file (0 bytes)")]
    Empty {
        /// Input name.
        file: String,
    },
    /// A header or record is inconsistent.
    #[error("{file}: byte offset {offset}: {reason}")]
    Corrupt {
        /// Input name.
        file: String,
        /// Offset of the damaged header or record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file ends in the middle of a record.
    #[error(
        "{file}: byte offset {offset}: truncated {what}: needed {needed} bytes, only {got} left"
    )]
    Truncated {
        /// Input name.
        file: String,
        /// Offset of the truncated record.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        got: u64,
    },
}

impl CaptureError {
    pub(crate) fn io(file: &str, offset: u64, source: io::Error) -> Self {
        Self::Io {
            file: file.into(),
            offset,
            source,
        }
    }

    /// True when the input could not be read at all (as opposed to damage after a valid
    /// start, where the packets before the damage were delivered).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            Self::Open { .. } | Self::NotACapture { .. } | Self::Io { offset: 0, .. }
        )
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
