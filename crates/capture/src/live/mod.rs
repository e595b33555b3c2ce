//! Live capture: Linux AF_PACKET TPACKET_V3 rings with kernel fanout ([`afpacket`]), and
//! libpcap as the portable fallback ([`pcap`], cargo feature `libpcap`). BPF filter
//! expressions are compiled with libpcap's compiler ([`compile_filter`]) and attached in
//! the kernel.

#[cfg(target_os = "linux")]
pub mod afpacket;
mod sys;
pub use sys::wait;
#[cfg(feature = "libpcap")]
pub mod pcap;

use crate::LinkType;

/// A packet read from a live source, borrowed until the next one.
#[derive(Debug, Clone, Copy)]
pub struct LivePacket<'a> {
    /// Capture time, ns since the epoch.
    pub ts_ns: i64,
    /// Link type of `data`.
    pub linktype: LinkType,
    /// Length on the wire.
    pub wire_len: u32,
    /// The captured bytes (at most the snapshot length).
    pub data: &'a [u8],
}

impl<'a> LivePacket<'a> {
    /// As a file packet (for the pcap writer).
    pub fn as_packet(&self) -> crate::Packet<'a> {
        crate::Packet {
            ts_ns: self.ts_ns,
            linktype: self.linktype,
            wire_len: self.wire_len,
            interface: 0,
            data: self.data,
            window: None,
        }
    }
}

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u16,
    /// Jump if true.
    pub jt: u8,
    /// Jump if false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

/// A live source could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No interface of that name.
    #[error("{0}: no such interface (see `wirehouse interfaces`)")]
    NoSuchInterface(String),
    /// A system call failed.
    #[error("{interface}: {what}{}", hint(source))]
    Io {
        /// Interface.
        interface: String,
        /// Which step.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The engine cannot capture this interface.
    #[error("{interface}: {why}")]
    Unsupported {
        /// Interface.
        interface: String,
        /// Why.
        why: String,
    },
    /// The BPF expression does not compile.
    #[error("BPF filter {expr:?}: {why}")]
    Filter {
        /// The expression.
        expr: String,
        /// libpcap's message.
        why: String,
    },
    /// A setting no engine accepts.
    #[error("{0}")]
    Config(String),
    /// libpcap failed.
    #[error("{interface}: {why}{}", pcap_hint(why))]
    Pcap {
        /// Interface.
        interface: String,
        /// libpcap's message.
        why: String,
    },
}

fn pcap_hint(why: &str) -> &'static str {
    if why.contains("not permitted") || why.contains("ermission denied") {
        " (capturing needs root or CAP_NET_RAW)"
    } else {
        ""
    }
}

fn hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        " (capturing needs root or CAP_NET_RAW)"
    } else {
        ""
    }
}

/// Compiles a tcpdump-style filter expression for `linktype` frames cut to `snaplen`
/// into classic BPF, with libpcap's compiler (optimised).
#[cfg(feature = "libpcap")]
pub fn compile_filter(
    expr: &str,
    linktype: LinkType,
    snaplen: u32,
) -> Result<Vec<BpfInsn>, LiveError> {
    let err = |why: String| LiveError::Filter {
        expr: expr.to_string(),
        why,
    };
    let dead = ::pcap::Capture::dead(::pcap::Linktype(linktype.to_u32() as i32))
        .map_err(|e| err(e.to_string()))?;
    let prog = dead.compile(expr, true).map_err(|e| err(e.to_string()))?;
    prog.get_instructions()
        .iter()
        .map(|i| {
            // The pcap crate shows an instruction as "code jt jf k" (tcpdump -ddd order).
            let f: Vec<u64> = i
                .to_string()
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            match f[..] {
                // An accepting return gives the bytes to keep: the dead handle's
                // 65535 would cut loopback's 64 KiB frames, so it becomes `snaplen`.
                [code, jt, jf, k] => Ok(BpfInsn {
                    code: code as u16,
                    jt: jt as u8,
                    jf: jf as u8,
                    k: if code == 0x06 && k != 0 {
                        snaplen
                    } else {
                        k as u32
                    },
                }),
                _ => Err(err(format!("unexpected instruction {i}"))),
            }
        })
        .collect()
}

/// Without libpcap there is no filter compiler.
#[cfg(not(feature = "libpcap"))]
pub fn compile_filter(
    expr: &str,
    _linktype: LinkType,
    _snaplen: u32,
) -> Result<Vec<BpfInsn>, LiveError> {
    Err(LiveError::Filter {
        expr: expr.to_string(),
        why: "this build has no libpcap (cargo feature `libpcap`) to compile filters".into(),
    })
}

#[cfg(all(test, feature = "libpcap"))]
mod tests {
    use super::*;

    #[test]
    fn filter_compiles_to_what_tcpdump_shows() {
        // tcpdump -d 'tcp port 80' on Ethernet begins: (000) ldh [12]; (001) jeq #0x86dd.
        let p = compile_filter("tcp port 80", LinkType::Ethernet, 262144).unwrap();
        assert!(p.len() > 5, "{p:?}");
        assert_eq!((p[0].code, p[0].k), (0x28, 12));
        assert_eq!((p[1].code, p[1].k), (0x15, 0x86dd));
        // Every program ends in a return.
        assert_eq!(p.last().unwrap().code & 0x07, 0x06);
    }

    #[test]
    fn bad_filter_is_an_error_naming_it() {
        let e = compile_filter("tcp port eighty", LinkType::Ethernet, 65535).unwrap_err();
        assert!(e.to_string().contains("tcp port eighty"), "{e}");
    }
}
