//! libpcap live capture (`--engine pcap`): the portable fallback, and the way to capture
//! `any` or link types the AF_PACKET engine does not frame. Packets are sharded by the
//! pipeline's own dispatcher.

use super::{LiveError, LivePacket};
use crate::LinkType;

/// How a libpcap handle is opened.
#[derive(Debug, Clone)]
pub struct PcapConfig {
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Read timeout, ms: a read returns at the latest after this even with no packet.
    pub timeout_ms: u32,
    /// Kernel buffer, bytes.
    pub buffer_bytes: u32,
    /// Filter expression.
    pub bpf: Option<String>,
}

/// Kernel counters of a libpcap handle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PcapStats {
    /// Packets received by the filter.
    pub received: u64,
    /// Packets dropped for lack of buffer space.
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// An open libpcap capture.
pub struct PcapSource {
    cap: ::pcap::Capture<::pcap::Active>,
    timeout_ms: u32,
    linktype: LinkType,
    interface: String,
}

impl PcapSource {
    /// Opens `interface` (or `any`).
    pub fn open(interface: &str, cfg: &PcapConfig) -> Result<Self, LiveError> {
        let err = |e: ::pcap::Error| LiveError::Pcap {
            interface: interface.to_string(),
            why: e.to_string(),
        };
        let mut cap = ::pcap::Capture::from_device(interface)
            .map_err(err)?
            .snaplen(cfg.snaplen as i32)
            .promisc(cfg.promisc)
            .timeout(cfg.timeout_ms.max(1) as i32)
            .buffer_size(cfg.buffer_bytes as i32)
            .precision(::pcap::Precision::Nano)
            .open()
            .map_err(err)?
            // Non-blocking, with our own poll: on Linux (TPACKET_V3) a blocking read with
            // no traffic at all would never return, so a stop could never be noticed.
            .setnonblock()
            .map_err(err)?;
        if let Some(expr) = &cfg.bpf {
            cap.filter(expr, true).map_err(|e| LiveError::Filter {
                expr: expr.clone(),
                why: e.to_string(),
            })?;
        }
        let linktype = LinkType::from_u32(cap.get_datalink().0 as u32);
        Ok(Self {
            cap,
            timeout_ms: cfg.timeout_ms.max(1),
            linktype,
            interface: interface.to_string(),
        })
    }

    /// The interface.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Link type of the frames.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// Hands the next packet to `f`; `Ok(false)` when the read timeout passed without one.
    pub fn next(&mut self, mut f: impl FnMut(LivePacket<'_>)) -> Result<bool, LiveError> {
        use std::os::fd::AsRawFd;
        for attempt in 0..2 {
            match self.cap.next_packet() {
                Ok(p) => {
                    // Nanosecond precision: the "microseconds" field holds nanoseconds.
                    let ts_ns = p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec;
                    f(LivePacket {
                        ts_ns,
                        linktype: self.linktype,
                        wire_len: p.header.len,
                        data: p.data,
                    });
                    return Ok(true);
                }
                // Nothing buffered: wait for the descriptor once, then try again.
                Err(::pcap::Error::TimeoutExpired) if attempt == 0 => {}
                Err(::pcap::Error::TimeoutExpired) => return Ok(false),
                Err(e) => {
                    return Err(LiveError::Pcap {
                        interface: self.interface.clone(),
                        why: e.to_string(),
                    });
                }
            }
            super::wait(&[self.cap.as_raw_fd()], self.timeout_ms as i32);
        }
        Ok(false)
    }

    /// The kernel's counters so far.
    pub fn stats(&mut self) -> PcapStats {
        self.cap
            .stats()
            .map(|s| PcapStats {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
            })
            .unwrap_or_default()
    }
}
