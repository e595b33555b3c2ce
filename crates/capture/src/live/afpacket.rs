//! Linux AF_PACKET capture with TPACKET_V3 memory-mapped rings (no libpcap).
//!
//! One [`Ring`] is one `AF_PACKET` socket bound to one interface, with a receive ring of
//! `block_count` blocks of `block_size` bytes mapped into our address space. The kernel
//! fills a block with as many packets as fit and hands it over when it is full or when
//! `block_timeout_ms` has passed; we read the packets straight from the mapping and give
//! the block back. Rings of the same interface join one `PACKET_FANOUT_HASH` group with
//! `PACKET_FANOUT_FLAG_DEFRAG`: the kernel reassembles IPv4 fragments, hashes the flow
//! symmetrically and keeps both directions of a flow on one ring — one ring per worker.
//!
//! This is the only module of the workspace with `unsafe`: the socket options, the
//! mapping, and the ownership word of each block. Everything read from a block is
//! bounds-checked against the block, so a confused kernel cannot make us read outside it.

#![allow(unsafe_code)]

pub use super::wait;
use super::{BpfInsn, LiveError, LivePacket};
use crate::LinkType;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{Ordering, fence};

const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_FANOUT: libc::c_int = 18;
const TPACKET_V3: libc::c_int = 2;
const PACKET_FANOUT_HASH: u32 = 0;
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const PACKET_MR_PROMISC: u16 = 1;
const ETH_P_ALL: u16 = 0x0003;

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `struct tpacket_req3`.
#[repr(C)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

/// `struct packet_mreq`.
#[repr(C)]
struct PacketMreq {
    ifindex: libc::c_int,
    kind: u16,
    alen: u16,
    address: [u8; 8],
}

/// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then tpacket_hdr_v1).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
/// Offsets in `struct tpacket3_hdr`.
const PKT_HDR_LEN: usize = 48;

/// How a ring is set up.
#[derive(Debug, Clone)]
pub struct RingConfig {
    /// Bytes per block (a multiple of the page size).
    pub block_size: u32,
    /// Blocks in the ring.
    pub block_count: u32,
    /// Milliseconds after which the kernel hands over a partly filled block.
    pub block_timeout_ms: u32,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode (for as long as the socket is open).
    pub promisc: bool,
    /// Fanout group id shared by the rings of one interface; `None`: no fanout.
    pub fanout_group: Option<u16>,
    /// Compiled BPF filter attached to the socket.
    pub filter: Option<Vec<BpfInsn>>,
}

/// Kernel counters of a ring since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RingStats {
    /// Packets the kernel passed the filter (delivered + dropped).
    pub kernel_packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub kernel_drops: u64,
    /// Times the ring was frozen (all blocks in user space).
    pub freezes: u64,
}

/// One TPACKET_V3 receive ring on one interface.
pub struct Ring {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    next: usize,
    snaplen: usize,
    linktype: LinkType,
    interface: String,
    stats: RingStats,
    /// VLAN tags re-inserted into frames are built here.
    scratch: Vec<u8>,
}

// SAFETY: the mapping belongs to this ring alone (no other handle to it exists), so moving
// the ring to another thread moves its only user.
unsafe impl Send for Ring {}

fn last_error(what: &str, interface: &str) -> LiveError {
    LiveError::Io {
        interface: interface.to_string(),
        what: what.to_string(),
        source: io::Error::last_os_error(),
    }
}

fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    what: &str,
    interface: &str,
) -> Result<(), LiveError> {
    // SAFETY: `value` is a live, properly aligned T and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(last_error(what, interface));
    }
    Ok(())
}

/// The link type AF_PACKET delivers for an interface's hardware type (`ARPHRD_*`).
pub fn linktype_of(interface: &str) -> Result<LinkType, LiveError> {
    let p = format!("/sys/class/net/{interface}/type");
    let hw: u32 = std::fs::read_to_string(&p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| LiveError::NoSuchInterface(interface.to_string()))?;
    match hw {
        // Ethernet, loopback (Ethernet framing with zero addresses), IEEE 802 / FDDI-less.
        1 | 772 => Ok(LinkType::Ethernet),
        // tun, WireGuard, IP-over-nothing: the frame is the IP packet.
        65534 | 65535 | 776 | 778 => Ok(LinkType::Raw),
        other => Err(LiveError::Unsupported {
            interface: interface.to_string(),
            why: format!(
                "hardware type {other} is not Ethernet or raw IP; use --engine pcap for this interface"
            ),
        }),
    }
}

impl Ring {
    /// Opens a ring on `interface`.
    pub fn open(interface: &str, cfg: &RingConfig) -> Result<Self, LiveError> {
        if interface == "any" {
            return Err(LiveError::Unsupported {
                interface: interface.into(),
                why: "the af-packet engine captures named interfaces; use --engine pcap for `any`"
                    .into(),
            });
        }
        let linktype = linktype_of(interface)?;
        let name = std::ffi::CString::new(interface)
            .map_err(|_| LiveError::NoSuchInterface(interface.into()))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(LiveError::NoSuchInterface(interface.into()));
        }
        let page = 4096u32;
        if cfg.block_size < page || !cfg.block_size.is_multiple_of(page) || cfg.block_count == 0 {
            return Err(LiveError::Config(format!(
                "ring block size {} must be a positive multiple of {page} and block count {} positive",
                cfg.block_size, cfg.block_count
            )));
        }
        // Protocol 0: no packets arrive before the ring, the filter and the bind are set.
        // SAFETY: plain socket(2) call.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(last_error("socket(AF_PACKET)", interface));
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        setsockopt(
            s,
            SOL_PACKET,
            PACKET_VERSION,
            &TPACKET_V3,
            "PACKET_VERSION",
            interface,
        )?;
        if let Some(filter) = &cfg.filter {
            let mut insns: Vec<libc::sock_filter> = filter
                .iter()
                .map(|i| libc::sock_filter {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect();
            let prog = libc::sock_fprog {
                len: insns.len() as u16,
                filter: insns.as_mut_ptr(),
            };
            setsockopt(
                s,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &prog,
                "SO_ATTACH_FILTER",
                interface,
            )?;
        }
        let frame_size = 2048u32;
        let req = TpacketReq3 {
            block_size: cfg.block_size,
            block_nr: cfg.block_count,
            frame_size,
            frame_nr: cfg.block_size / frame_size * cfg.block_count,
            retire_blk_tov: cfg.block_timeout_ms.max(1),
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        setsockopt(
            s,
            SOL_PACKET,
            PACKET_RX_RING,
            &req,
            "PACKET_RX_RING",
            interface,
        )?;
        let map_len = cfg.block_size as usize * cfg.block_count as usize;
        // SAFETY: mapping the ring the kernel just allocated for this socket.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                s,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(last_error("mmap of the ring", interface));
        }
        // From here the ring owns the mapping (unmapped on drop).
        let mut ring = Ring {
            fd,
            map: map.cast(),
            map_len,
            block_size: cfg.block_size as usize,
            block_count: cfg.block_count as usize,
            next: 0,
            snaplen: cfg.snaplen.max(64) as usize,
            linktype,
            interface: interface.to_string(),
            stats: RingStats::default(),
            scratch: Vec::new(),
        };
        // SAFETY: a zeroed sockaddr_ll is valid; the fields we need are set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                s,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_error("bind", interface));
        }
        if cfg.promisc {
            let mreq = PacketMreq {
                ifindex: ifindex as i32,
                kind: PACKET_MR_PROMISC,
                alen: 0,
                address: [0; 8],
            };
            setsockopt(
                s,
                SOL_PACKET,
                PACKET_ADD_MEMBERSHIP,
                &mreq,
                "PACKET_ADD_MEMBERSHIP (promiscuous)",
                interface,
            )?;
        }
        if let Some(group) = cfg.fanout_group {
            let arg: u32 =
                u32::from(group) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
            setsockopt(
                s,
                SOL_PACKET,
                PACKET_FANOUT,
                &arg,
                "PACKET_FANOUT",
                interface,
            )?;
        }
        // Packets queued before the filter was attached would be unfiltered; there are
        // none, since the socket listened to no protocol until bind.
        ring.read_stats();
        ring.stats = RingStats::default();
        Ok(ring)
    }

    /// The descriptor, for poll(2).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The interface.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Link type of the frames.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    fn status_word(&self, block: usize) -> *mut u32 {
        // SAFETY: block < block_count, so the offset is inside the mapping; the status word
        // is 4-byte aligned (blocks are page aligned).
        unsafe { self.map.add(block * self.block_size + BLOCK_STATUS).cast() }
    }

    /// Whether the next block belongs to us.
    pub fn ready(&self) -> bool {
        // SAFETY: the status word is inside the mapping; the kernel writes it concurrently,
        // hence the volatile read.
        let status = unsafe { std::ptr::read_volatile(self.status_word(self.next)) };
        status & TP_STATUS_USER != 0
    }

    /// Reads every packet of the next block if the kernel has handed it over, gives the
    /// block back, and returns how many packets it held (`None`: nothing ready).
    pub fn read_block(&mut self, mut f: impl FnMut(LivePacket<'_>)) -> Option<usize> {
        if !self.ready() {
            return None;
        }
        // Everything the kernel wrote into the block happens-before our reads of it.
        fence(Ordering::Acquire);
        let start = self.next * self.block_size;
        // SAFETY: the block is inside the mapping and, its status being TP_STATUS_USER,
        // the kernel does not touch it until we hand it back below.
        let block: &[u8] =
            unsafe { std::slice::from_raw_parts(self.map.add(start), self.block_size) };
        let u32_at = |b: &[u8], o: usize| -> Option<u32> {
            b.get(o..o + 4)
                .map(|s| u32::from_ne_bytes(s.try_into().expect("4 bytes")))
        };
        let num = u32_at(block, BLOCK_NUM_PKTS).unwrap_or(0) as usize;
        let mut off = u32_at(block, BLOCK_FIRST_PKT).unwrap_or(0) as usize;
        let mut n = 0;
        let mut scratch = std::mem::take(&mut self.scratch);
        for _ in 0..num {
            let Some(h) = block.get(off..off + PKT_HDR_LEN) else {
                break;
            };
            let r32 = |o: usize| u32::from_ne_bytes(h[o..o + 4].try_into().expect("4 bytes"));
            let r16 = |o: usize| u16::from_ne_bytes(h[o..o + 2].try_into().expect("2 bytes"));
            let (next, sec, nsec, caplen, len, status) =
                (r32(0), r32(4), r32(8), r32(12), r32(16), r32(20));
            let mac = r16(24) as usize;
            let Some(data) = block.get(off + mac..off + mac + caplen as usize) else {
                break;
            };
            let ts_ns = i64::from(sec) * 1_000_000_000 + i64::from(nsec);
            let vlan = status & TP_STATUS_VLAN_VALID != 0
                && self.linktype == LinkType::Ethernet
                && data.len() >= 12;
            let (frame, wire_len) = if vlan {
                // The NIC (or veth) took the 802.1Q tag off; put it back where it was so
                // the frame is what was on the wire.
                let tci = r32(32) as u16;
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    r16(36)
                } else {
                    0x8100
                };
                scratch.clear();
                scratch.extend_from_slice(&data[..12]);
                scratch.extend_from_slice(&tpid.to_be_bytes());
                scratch.extend_from_slice(&tci.to_be_bytes());
                scratch.extend_from_slice(&data[12..]);
                (&scratch[..], len.saturating_add(4))
            } else {
                (data, len)
            };
            let frame = &frame[..frame.len().min(self.snaplen)];
            f(LivePacket {
                ts_ns,
                linktype: self.linktype,
                wire_len,
                data: frame,
            });
            n += 1;
            if next == 0 {
                break;
            }
            off += next as usize;
        }
        self.scratch = scratch;
        // Our reads are done before the kernel may reuse the block.
        fence(Ordering::Release);
        // SAFETY: as in `ready`.
        unsafe { std::ptr::write_volatile(self.status_word(self.next), TP_STATUS_KERNEL) };
        self.next = (self.next + 1) % self.block_count;
        Some(n)
    }

    /// Adds the kernel's counters since the last call (reading them resets them).
    fn read_stats(&mut self) {
        let mut st = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `st` is a writable tpacket_stats_v3 and `len` its size.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                (&mut st as *mut TpacketStatsV3).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            self.stats.kernel_packets += u64::from(st.packets);
            self.stats.kernel_drops += u64::from(st.drops);
            self.stats.freezes += u64::from(st.freeze_q_cnt);
        }
    }

    /// The kernel's counters so far.
    pub fn stats(&mut self) -> RingStats {
        self.read_stats();
        self.stats
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping once; nothing borrows it past `read_block`.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
    }
}
