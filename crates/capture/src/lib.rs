//! Packet sources: pcap and pcapng files (plain, gzip or zstd compressed, or stdin), read
//! as a stream one record at a time (a large file is never loaded whole), and a pcap writer.
//!
//! Every reader implements [`PacketSource`], a lending iterator: the returned [`Packet`]
//! borrows the reader's buffer until the next call. Errors name the input and the byte
//! offset of the damaged record (offsets count *decompressed* bytes for .gz/.zst inputs);
//! every packet before the damage has been returned by then.

mod error;
mod input;
#[cfg(unix)]
pub mod interfaces;
#[cfg(unix)]
pub mod live;
#[cfg(unix)]
pub mod mapped;
/// Memory-mapped input needs Unix; elsewhere files are read as streams.
#[cfg(not(unix))]
pub mod mapped {
    /// Never constructed off Unix.
    #[derive(Debug)]
    pub struct Window;
    impl Window {
        /// Never called off Unix.
        pub fn bytes(&self) -> &[u8] {
            &[]
        }
        /// Never called off Unix.
        pub fn offset_of(&self, _data: &[u8]) -> Option<usize> {
            None
        }
    }
    /// A no-op off Unix.
    pub fn prefetch(_bytes: &[u8], _at: usize) {}
    /// A no-op off Unix.
    pub fn prefetch_line(_bytes: &[u8], _at: usize) {}
}
pub mod pcap;
pub mod pcapng;
pub mod rotate;
pub mod writer;

pub use error::CaptureError;
pub use input::Input;
pub use wirehouse_wire::LinkType;
pub use writer::PcapWriter;

use std::io::{BufRead, Read};
use std::path::Path;

/// One captured packet, borrowed from the reader.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch (UTC).
    pub ts_ns: i64,
    /// Link-layer type of `data`.
    pub linktype: LinkType,
    /// Length on the wire (≥ `data.len()` when the snaplen cut the packet).
    pub wire_len: u32,
    /// Index of the capturing interface (pcapng), 0 for pcap.
    pub interface: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// The memory-mapped window `data` lies in, when the input is a mapped file: another
    /// thread can then hold the bytes by reference instead of copying them.
    pub window: Option<&'a std::sync::Arc<mapped::Window>>,
}

/// A packet's metadata, with the location of its bytes in the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub ts_ns: i64,
    pub linktype: LinkType,
    pub wire_len: u32,
    pub interface: u32,
    pub start: usize,
    pub len: usize,
    /// The bytes are in the input's buffer (zero-copy), not the reader's own.
    pub in_input: bool,
}

impl Meta {
    pub(crate) fn packet<'a>(
        self,
        buf: &'a [u8],
        window: Option<&'a std::sync::Arc<mapped::Window>>,
    ) -> Packet<'a> {
        Packet {
            window,
            ts_ns: self.ts_ns,
            linktype: self.linktype,
            wire_len: self.wire_len,
            interface: self.interface,
            data: &buf[self.start..self.start + self.len],
        }
    }
}

/// [`PacketSource::for_each`] of a reader that can walk whole records in its input's
/// buffer: `walk(r, f)` hands over the whole records at the read position (after
/// consuming what the last packet left pending), and one record goes the careful way
/// ([`PacketSource::next_packet`]) whenever none is whole.
pub(crate) fn for_each_walking<R: PacketSource + ?Sized>(
    r: &mut R,
    f: &mut dyn FnMut(&Packet<'_>, u64) -> bool,
    walk: impl Fn(&mut R, &mut dyn FnMut(&Packet<'_>, u64) -> bool) -> Result<input::Walk, CaptureError>,
) -> Result<(), CaptureError> {
    loop {
        match walk(r, f)? {
            input::Walk::Stopped => return Ok(()),
            input::Walk::Handed => {}
            input::Walk::NoneWhole => {
                let pos = r.position();
                match r.next_packet()? {
                    Some(p) if f(&p, pos) => {}
                    _ => return Ok(()),
                }
            }
        }
    }
}

/// A stream of packets.
pub trait PacketSource: Send {
    /// The next packet, `Ok(None)` at the end, or an error naming the damaged offset.
    /// After an error the source is finished: further calls return `Ok(None)`.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError>;
    /// Bytes consumed so far (of the decompressed stream).
    fn position(&self) -> u64;
    /// The input's display name.
    fn name(&self) -> &str;
    /// The container format: "pcap" or "pcapng".
    fn format(&self) -> &'static str;
    /// Hands every packet in turn to `f`, with the position of its record, until `f`
    /// returns `false`, the input ends (both `Ok`), or an error (returned after every
    /// packet before the damage; the source is then finished). A reader may walk the
    /// records lying whole in its buffer in one loop, which costs less per packet than
    /// [`next_packet`](Self::next_packet).
    fn for_each(
        &mut self,
        f: &mut dyn FnMut(&Packet<'_>, u64) -> bool,
    ) -> Result<(), CaptureError> {
        loop {
            let pos = self.position();
            match self.next_packet()? {
                Some(p) if f(&p, pos) => {}
                _ => return Ok(()),
            }
        }
    }
}

/// Opens a capture file, detecting gzip/zstd compression and pcap/pcapng by content.
pub fn open(path: &Path) -> Result<Box<dyn PacketSource>, CaptureError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|source| CaptureError::Open {
        file: name.clone(),
        source,
    })?;
    open_input(Input::file(name, f)?)
}

/// Opens standard input as a capture stream.
pub fn open_stdin() -> Result<Box<dyn PacketSource>, CaptureError> {
    open_reader("-".into(), Box::new(std::io::stdin()))
}

/// Opens any byte stream as a capture (compression and format detected by content).
pub fn open_reader(
    name: String,
    raw: Box<dyn Read + Send>,
) -> Result<Box<dyn PacketSource>, CaptureError> {
    open_input(Input::new(name, raw)?)
}

fn open_input(mut input: Input) -> Result<Box<dyn PacketSource>, CaptureError> {
    let magic = input.peek4()?;
    match magic {
        Some(m) if pcapng::is_magic(m) => Ok(Box::new(pcapng::Reader::new(input)?)),
        Some(m) if pcap::is_magic(m) => Ok(Box::new(pcap::Reader::new(input)?)),
        Some(m) => Err(CaptureError::NotACapture {
            file: input.name().into(),
            magic: m.to_vec(),
        }),
        None => {
            let got = input.peek_all()?;
            if got.is_empty() {
                Err(CaptureError::Empty {
                    file: input.name().into(),
                })
            } else {
                Err(CaptureError::NotACapture {
                    file: input.name().into(),
                    magic: got,
                })
            }
        }
    }
}

/// Internal helper: the buffered reader type every format reads from.
pub(crate) type Buffered = Box<dyn BufRead + Send>;
