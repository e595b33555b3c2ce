//! One glibc malloc setting for the pipeline's threads.
//!
//! glibc gives each allocating thread an arena: a 64 MiB heap reserved inaccessible and
//! opened with `mprotect` as it grows, a few pages at a time. Every such call takes the
//! process's memory-map lock for writing, and while it waits for the lock every other
//! thread's page faults and mappings wait too. A -w 2 conversion of mix.pcap (make-traffic
//! output) made 2,340 of those calls, and its threads slept on the lock often enough that
//! both cores were idle at times. With `M_TOP_PAD` at the heap size a new heap is opened
//! whole when it is made (33 calls in all). Its pages are still only backed by memory
//! once they are written.

#![allow(unsafe_code)]

/// glibc's heap size for the arenas of threads other than the main one (64-bit).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENA_HEAP: libc::c_int = 64 << 20;

/// Applies the setting. Call it first thing in `main`, before any thread is started.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a malloc parameter; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, ARENA_HEAP);
    }
}
