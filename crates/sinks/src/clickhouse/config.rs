//! ClickHouse sink settings (`[output.clickhouse]`) and the `clickhouse:URL/DATABASE` form.

use serde::{Deserialize, Serialize};

/// What to do when the spool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpoolFull {
    /// Block the writer (offline conversion: the reader waits).
    Wait,
    /// Drop the oldest spooled batches and count them (live capture keeps the newest).
    DropOldest,
}

/// ClickHouse sink settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// User (`WIREHOUSE_CLICKHOUSE_USER` overrides).
    pub user: String,
    /// Password (`WIREHOUSE_CLICKHOUSE_PASSWORD` overrides); never logged.
    pub password: String,
    /// Create the database and tables when missing.
    pub create_tables: bool,
    /// Rows per insert at most.
    pub batch_rows: usize,
    /// Uncompressed Arrow bytes per insert at most.
    pub batch_bytes: usize,
    /// A table's pending rows are inserted once the oldest is this old, milliseconds.
    pub batch_age_ms: u64,
    /// Inserts in flight at most.
    pub max_inflight: usize,
    /// Attempts per insert before the batch goes to the spool.
    pub attempts: u32,
    /// First retry delay, milliseconds (doubles, with jitter, up to `backoff_max_ms`).
    pub backoff_initial_ms: u64,
    /// Longest retry delay, milliseconds.
    pub backoff_max_ms: u64,
    /// HTTP timeout per request, seconds.
    pub timeout_s: u64,
    /// Directory of batches waiting for ClickHouse to come back (replayed in order,
    /// also by the next run).
    pub spool_dir: String,
    /// Bytes the spool may hold.
    pub spool_max_bytes: u64,
    /// When the spool is full: `wait` or `drop_oldest`.
    pub spool_full: SpoolFull,
    /// At the end of a conversion, how long to keep retrying a spool that ClickHouse does
    /// not accept yet, seconds (what is left stays on disk for the next run).
    pub drain_timeout_s: u64,
    /// Batches ClickHouse rejected as unusable (bad data, unknown column...) are written
    /// here as Parquet.
    pub dead_letter_dir: String,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            user: "default".into(),
            password: String::new(),
            create_tables: true,
            batch_rows: 100_000,
            batch_bytes: 64 << 20,
            batch_age_ms: 1000,
            max_inflight: 2,
            attempts: 3,
            backoff_initial_ms: 200,
            backoff_max_ms: 10_000,
            timeout_s: 30,
            spool_dir: "wirehouse-spool".into(),
            spool_max_bytes: 1 << 30,
            spool_full: SpoolFull::Wait,
            drain_timeout_s: 300,
            dead_letter_dir: "wirehouse-dead-letter".into(),
        }
    }
}

/// Where to connect: `clickhouse:http[s]://[user[:password]@]HOST:PORT/DATABASE`.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http[s]://HOST:PORT` without credentials.
    pub base: String,
    /// Database.
    pub database: String,
    /// Credentials given in the URL, if any.
    pub user: Option<String>,
    /// Password given in the URL, if any.
    pub password: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.database)
    }
}

impl Endpoint {
    /// Parses the part after `clickhouse:`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(s, _)| *s == "http" || *s == "https")
            .ok_or_else(|| "expected clickhouse:http://HOST:PORT/DATABASE".to_string())?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (creds, host) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err("no host in the ClickHouse URL".into());
        }
        let database = path.trim_matches('/');
        let database = if database.is_empty() {
            "wirehouse"
        } else {
            database
        };
        if !database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!(
                "database name {database:?}: letters, digits and _ only"
            ));
        }
        let (user, password) = match creds.map(|c| c.split_once(':').unwrap_or((c, ""))) {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (None, None),
        };
        Ok(Self {
            base: format!("{scheme}://{host}"),
            database: database.to_string(),
            user,
            password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms_and_no_password_in_debug() {
        let e = Endpoint::parse("https://bob:s3cret@ch.example:8443/traffic").unwrap();
        assert_eq!(e.base, "https://ch.example:8443");
        assert_eq!(e.database, "traffic");
        assert_eq!(e.password.as_deref(), Some("s3cret"));
        assert!(!format!("{e:?}").contains("s3cret"));
        let e = Endpoint::parse("http://127.0.0.1:8123").unwrap();
        assert_eq!(
            (e.base.as_str(), e.database.as_str()),
            ("http://127.0.0.1:8123", "wirehouse")
        );
        assert!(Endpoint::parse("ftp://x/y").is_err());
        assert!(Endpoint::parse("http://h/bad-name").is_err());
    }
}
