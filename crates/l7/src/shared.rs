//! State shared by every worker's [`L7Engine`](crate::L7Engine) of one run: what one flow
//! tells about another that may land on a different worker. Today that is FTP's data
//! connections: the control session announces the endpoint a data connection will use
//! (`227`/`229` replies, `PORT`/`EPRT` commands), the `ftp-data` probe recognises the
//! connection by its endpoint, its session publishes the transfer (flow id, bytes,
//! times) when it ends, and the control session picks it up at the transfer's final reply.
//!
//! One [`Shared`] is created per run and given to each worker's engine
//! ([`L7Engine::with_shared`](crate::L7Engine::with_shared)); parsers reach it through
//! [`Cx::shared`](crate::Cx::shared), probes through [`ProbeInput::shared`](crate::ProbeInput).
//! Bounded: each map holds at most [`MAX_ENTRIES`] entries; entries older than
//! [`TTL_NS`] in packet time are swept out when a map is full (and every 4096 inserts);
//! what still does not fit is dropped and counted ([`Shared::dropped`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// An `(address, port)` endpoint.
pub type Endpoint = (IpAddr, u16);

/// Most entries per map.
pub const MAX_ENTRIES: usize = 65_536;

/// Age (packet time) after which an announcement or an unclaimed transfer is swept.
pub const TTL_NS: i64 = 300 * 1_000_000_000;

/// An announced data endpoint: which control connection will use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// The control connection's `flow_id`.
    pub control_flow_id: u64,
    /// The endpoint the control session will look the transfer up by (an announcement
    /// can be registered under several endpoints: the address in the reply and the
    /// control connection's own address, which differ behind NAT).
    pub key: Endpoint,
    /// Packet time of the announcement, ns.
    pub at_ns: i64,
}

/// A finished data transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The data connection's `flow_id`.
    pub data_flow_id: u64,
    /// Payload bytes transferred (both directions, lost bytes included).
    pub bytes: u64,
    /// First payload byte, ns.
    pub first_ns: i64,
    /// Last payload byte, ns.
    pub last_ns: i64,
}

#[derive(Debug, Default)]
struct FtpMaps {
    announced: HashMap<Endpoint, Announcement>,
    finished: HashMap<(u64, Endpoint), Transfer>,
    inserts: u64,
}

/// Cross-worker state of one run (thread-safe; see the module documentation).
#[derive(Debug, Default)]
pub struct Shared {
    ftp: Mutex<FtpMaps>,
    /// Announcements in the map (read without the lock by probes of unrelated flows).
    announced: AtomicUsize,
    dropped: AtomicU64,
    /// An FTP control session was seen in this run.
    ftp_seen: AtomicBool,
}

/// Removes entries older than `now - TTL_NS`.
fn sweep<K: Eq + std::hash::Hash, V>(m: &mut HashMap<K, V>, now: i64, at: impl Fn(&V) -> i64) {
    let cutoff = now.saturating_sub(TTL_NS);
    m.retain(|_, v| at(v) >= cutoff);
}

impl Shared {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn ftp(&self) -> MutexGuard<'_, FtpMaps> {
        // A worker that panicked while holding the lock left consistent maps behind
        // (every update is a single insert or remove): keep going.
        self.ftp.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries dropped because a map was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records that an FTP control session runs (on any worker).
    pub fn note_ftp(&self) {
        if !self.ftp_seen.load(Ordering::Relaxed) {
            self.ftp_seen.store(true, Ordering::Relaxed);
        }
    }

    /// True once an FTP control session was seen in this run.
    pub fn ftp_seen(&self) -> bool {
        self.ftp_seen.load(Ordering::Relaxed)
    }

    /// True when at least one data endpoint is announced and not yet claimed.
    pub fn has_announcements(&self) -> bool {
        self.announced.load(Ordering::Relaxed) > 0
    }

    /// Announces that a data connection to `ep` will belong to control connection
    /// `a.control_flow_id`. Replaces an earlier announcement of the same endpoint.
    pub fn announce(&self, ep: Endpoint, a: Announcement) {
        let mut m = self.ftp();
        m.inserts += 1;
        if m.announced.len() >= MAX_ENTRIES || m.inserts.is_multiple_of(4096) {
            sweep(&mut m.announced, a.at_ns, |v| v.at_ns);
            sweep(&mut m.finished, a.at_ns, |v| v.last_ns);
        }
        if m.announced.len() >= MAX_ENTRIES && !m.announced.contains_key(&ep) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            m.announced.insert(ep, a);
        }
        self.announced.store(m.announced.len(), Ordering::Relaxed);
    }

    /// Is `ep` an announced data endpoint?
    pub fn is_announced(&self, ep: Endpoint) -> bool {
        self.has_announcements() && self.ftp().announced.contains_key(&ep)
    }

    /// Takes the announcement of `ep` (a data connection to it started), with the other
    /// endpoints registered for the same transfer.
    pub fn claim(&self, ep: Endpoint) -> Option<Announcement> {
        if !self.has_announcements() {
            return None;
        }
        let mut m = self.ftp();
        let a = m.announced.remove(&ep)?;
        m.announced
            .retain(|_, v| !(v.control_flow_id == a.control_flow_id && v.key == a.key));
        self.announced.store(m.announced.len(), Ordering::Relaxed);
        Some(a)
    }

    /// Publishes (or updates) the transfer of the data connection announced as `a`.
    pub fn publish(&self, a: &Announcement, t: Transfer) {
        let mut m = self.ftp();
        let k = (a.control_flow_id, a.key);
        if m.finished.len() >= MAX_ENTRIES && !m.finished.contains_key(&k) {
            sweep(&mut m.finished, t.last_ns, |v| v.last_ns);
            if m.finished.len() >= MAX_ENTRIES {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        m.finished.insert(k, t);
    }

    /// Takes the finished transfer of control connection `control_flow_id` through the
    /// data endpoint it announced as `key`.
    pub fn take_transfer(&self, control_flow_id: u64, key: Endpoint) -> Option<Transfer> {
        self.ftp().finished.remove(&(control_flow_id, key))
    }

    /// Forgets what control connection `control_flow_id` announced under `key` and that no
    /// data connection claimed.
    pub fn withdraw(&self, control_flow_id: u64, key: Endpoint) {
        if !self.has_announcements() {
            return;
        }
        let mut m = self.ftp();
        m.announced
            .retain(|_, v| !(v.control_flow_id == control_flow_id && v.key == key));
        self.announced.store(m.announced.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(p: u16) -> Endpoint {
        ([10, 0, 0, 2].into(), p)
    }

    #[test]
    fn announce_claim_publish_take() {
        let s = Shared::new();
        assert!(!s.is_announced(ep(5000)));
        let a = Announcement {
            control_flow_id: 7,
            key: ep(5000),
            at_ns: 1,
        };
        s.announce(ep(5000), a);
        s.announce(([192, 168, 0, 1].into(), 5000), a);
        assert!(s.is_announced(ep(5000)));
        assert_eq!(s.claim(([192, 168, 0, 1].into(), 5000)), Some(a));
        // Both aliases are gone.
        assert!(!s.is_announced(ep(5000)));
        assert!(!s.has_announcements());
        let t = Transfer {
            data_flow_id: 9,
            bytes: 10,
            first_ns: 2,
            last_ns: 3,
        };
        s.publish(&a, t);
        assert_eq!(s.take_transfer(7, ep(5000)), Some(t));
        assert_eq!(s.take_transfer(7, ep(5000)), None);
    }

    #[test]
    fn bounded_and_expiring() {
        let s = Shared::new();
        for i in 0..MAX_ENTRIES + 10 {
            let e: Endpoint = ([10, (i >> 16) as u8, (i >> 8) as u8, i as u8].into(), 1);
            s.announce(
                e,
                Announcement {
                    control_flow_id: i as u64,
                    key: e,
                    at_ns: 0,
                },
            );
        }
        assert_eq!(s.dropped(), 10);
        // Much later: the old ones expire and make room.
        let e = ep(1);
        s.announce(
            e,
            Announcement {
                control_flow_id: 1,
                key: e,
                at_ns: TTL_NS * 2,
            },
        );
        assert!(s.is_announced(e));
        assert_eq!(s.ftp().announced.len(), 1);
    }
}
