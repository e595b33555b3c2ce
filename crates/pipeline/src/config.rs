//! The configuration file (`config/wirehouse.toml` documents every option with its default).

use serde::{Deserialize, Serialize};
use std::path::Path;
use wirehouse_flow::{DefragConfig, FlowConfig};
use wirehouse_l7::L7Config;
use wirehouse_sinks::clickhouse::config::ClickHouseConfig;
use wirehouse_sinks::parquet::ParquetOptions;

/// Everything `wirehouse.toml` can set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Flow tracking.
    pub flow: FlowConfig,
    /// IP defragmentation.
    pub defrag: DefragConfig,
    /// Threads and queues.
    pub pipeline: PipelineConfig,
    /// Application-protocol parsing.
    pub l7: L7Config,
    /// Batching and sinks.
    pub output: OutputConfig,
    /// Live capture (`wirehouse capture`).
    pub capture: CaptureConfig,
}

/// Live capture settings; command-line flags override them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// "af-packet" (Linux rings with kernel fanout) or "pcap" (libpcap).
    pub engine: String,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// Put the interfaces in promiscuous mode.
    pub promisc: bool,
    /// af-packet: bytes per ring block (a multiple of 4096).
    pub ring_block_size: u32,
    /// af-packet: blocks per ring (one ring per worker and interface).
    pub ring_blocks: u32,
    /// af-packet: ms after which the kernel hands over a partly filled block.
    pub block_timeout_ms: u32,
    /// af-packet: fanout group id of the first interface (the next ones use the
    /// following ids); 0 picks one from the process id.
    pub fanout_group: u16,
    /// pcap: kernel buffer per interface, MiB.
    pub pcap_buffer_mb: u32,
    /// Longest wait for packets before the clock moves on, ms.
    pub poll_timeout_ms: u32,
    /// Rows reach the sink at least this often, seconds.
    pub flush_interval_s: u64,
    /// Flows with traffic get a `close_reason = active` row this often, seconds (0 = never).
    pub active_interval_s: u64,
    /// `--save-pcap`: start a new file after this many MiB (0 = no limit).
    pub save_pcap_max_mb: u64,
    /// `--save-pcap`: start a new file after this many seconds (0 = no limit).
    pub save_pcap_max_seconds: u64,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            engine: "af-packet".into(),
            snaplen: 262_144,
            promisc: true,
            ring_block_size: 1 << 20,
            ring_blocks: 64,
            block_timeout_ms: 10,
            fanout_group: 0,
            pcap_buffer_mb: 64,
            poll_timeout_ms: 100,
            flush_interval_s: 5,
            active_interval_s: 60,
            save_pcap_max_mb: 1024,
            save_pcap_max_seconds: 3600,
        }
    }
}

/// Threads and queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Shard workers (0 = one per CPU core); `-w` overrides it.
    pub workers: usize,
    /// Packets per batch handed from the dispatcher to a worker.
    pub batch_packets: usize,
    /// Batches queued per worker at most (backpressure beyond it); 0 = automatic
    /// ([`queue_depth`](Self::queue_depth)).
    pub queue_batches: usize,
}

impl PipelineConfig {
    /// Batches queued per worker. Automatic: 32 when reading files (a queued batch of a
    /// mapped file only refers to the packets, and a deep queue lets the workers ride
    /// out the sink's bursts instead of stalling the reader), 8 for a live capture
    /// (whose batches hold copies of the packets: memory, and the kernel ring is the
    /// burst buffer there).
    pub fn queue_depth(&self, live: bool) -> usize {
        match self.queue_batches {
            0 if live => 8,
            0 => 32,
            n => n,
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            batch_packets: 1_024,
            queue_batches: 0,
        }
    }
}

/// Output settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Rows collected per table before a record batch goes to the sink.
    pub batch_rows: usize,
    /// Parquet sink settings.
    pub parquet: ParquetOptions,
    /// ClickHouse sink settings.
    pub clickhouse: ClickHouseConfig,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            batch_rows: 8_192,
            parquet: ParquetOptions::default(),
            clickhouse: ClickHouseConfig::default(),
        }
    }
}

/// A configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Invalid TOML or an unknown / mistyped option.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The error (with line and column).
        source: toml::de::Error,
    },
    /// A value no option accepts.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Parses TOML text; unknown keys are errors.
    pub fn from_toml(text: &str, path: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })?;
        cfg.l7.check().map_err(|message| ConfigError::Invalid {
            path: path.into(),
            message,
        })?;
        if !matches!(cfg.capture.engine.as_str(), "af-packet" | "pcap") {
            return Err(ConfigError::Invalid {
                path: path.into(),
                message: format!(
                    "[capture] engine = {:?}: expected \"af-packet\" or \"pcap\"",
                    cfg.capture.engine
                ),
            });
        }
        Ok(cfg)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: p.clone(),
            source,
        })?;
        Self::from_toml(&text, &p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> (String, String) {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/wirehouse.toml");
        (
            std::fs::read_to_string(p).expect("config/wirehouse.toml"),
            p.to_string(),
        )
    }

    #[test]
    fn shipped_config_parses_to_the_defaults() {
        let (text, p) = shipped();
        assert_eq!(Config::from_toml(&text, &p).unwrap(), Config::default());
    }

    #[test]
    fn every_option_is_in_the_shipped_config_with_a_comment() {
        let (text, _) = shipped();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        let mut missing = Vec::new();
        fn walk(t: &toml::Table, prefix: &str, text: &str, missing: &mut Vec<String>) {
            for (k, v) in t {
                match v {
                    toml::Value::Table(sub) => {
                        let section = format!("{prefix}{k}");
                        if !text.contains(&format!("[{section}]")) {
                            missing.push(format!("[{section}]"));
                        }
                        walk(sub, &format!("{section}."), text, missing);
                    }
                    _ => {
                        // The key's line must be preceded by a comment line.
                        let lines: Vec<&str> = text.lines().collect();
                        let at = lines
                            .iter()
                            .position(|l| l.trim_start().starts_with(&format!("{k} =")));
                        match at {
                            Some(i) if i > 0 && lines[i - 1].trim_start().starts_with('#') => {}
                            _ => missing.push(format!("{prefix}{k}")),
                        }
                    }
                }
            }
        }
        walk(&defaults, "", &text, &mut missing);
        assert!(missing.is_empty(), "undocumented options: {missing:?}");
    }

    #[test]
    fn queue_depth_is_deep_for_files_shallow_for_live_capture_unless_set() {
        let (text, p) = shipped();
        let shipped = Config::from_toml(&text, &p).unwrap().pipeline;
        assert_eq!(
            (shipped.queue_depth(false), shipped.queue_depth(true)),
            (32, 8)
        );
        let set = Config::from_toml("[pipeline]\nqueue_batches = 3\n", "x.toml").unwrap();
        let set = set.pipeline;
        assert_eq!((set.queue_depth(false), set.queue_depth(true)), (3, 3));
    }

    #[test]
    fn unknown_option_is_an_error_naming_the_file() {
        let e = Config::from_toml("[flow]\ntcp_timeout = 5\n", "x.toml").unwrap_err();
        assert!(
            e.to_string().contains("x.toml") && e.to_string().contains("tcp_timeout"),
            "{e}"
        );
    }
}
