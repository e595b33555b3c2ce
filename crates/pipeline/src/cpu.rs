//! CPU time by thread, for the run summary's account of where the CPU went
//! ([`CpuSeconds`](crate::CpuSeconds)): `clock_gettime` on the thread and process CPU
//! clocks. `None` where those clocks are not read (other systems than Linux).

/// CPU seconds the calling thread has used since it started.
pub(crate) fn thread_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        seconds(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// CPU seconds the process has used: every thread, running or ended.
pub(crate) fn process_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        seconds(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(target_os = "linux")]
fn seconds(clock: nix::time::ClockId) -> Option<f64> {
    let t = nix::time::clock_gettime(clock).ok()?;
    Some(t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
}
