//! The progress bar (indicatif) shown on a terminal.

use std::time::Duration;

/// A progress bar on stderr when it is a terminal; nothing otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Shows a bar when `enabled`.
    pub fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Self { bar }
    }
    pub(crate) fn total(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_length(n);
        }
    }
    pub(crate) fn update(&self, pos: u64, packets: u64, elapsed: f64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
            b.set_message(format!(
                "{packets} packets, {:.0} packets/s",
                packets as f64 / elapsed.max(1e-9)
            ));
        }
    }
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
