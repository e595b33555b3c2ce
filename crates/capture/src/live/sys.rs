//! poll(2) over capture descriptors.

#![allow(unsafe_code)]

use std::os::fd::RawFd;

/// Waits until one of `fds` is readable (or in error) or `timeout_ms` passes.
pub fn wait(fds: &[RawFd], timeout_ms: i32) {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of pollfd of the given length; poll only writes
    // `revents`. A closed descriptor is reported in `revents`, not undefined behaviour.
    unsafe {
        libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms);
    }
}
