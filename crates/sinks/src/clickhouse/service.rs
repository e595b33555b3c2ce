//! ClickHouse over HTTP: queries, `INSERT … FORMAT ArrowStream` with a deduplication token,
//! and the classification of failures into worth retrying or not.

use std::time::Duration;

/// Error codes that cannot succeed on retry (bad data, unknown table/column, syntax,
/// authentication and access).
const PERMANENT_CODES: &[u32] = &[
    6, 16, 20, 27, 33, 36, 38, 41, 42, 44, 47, 49, 53, 60, 62, 69, 70, 72, 81, 117, 130, 131, 192,
    193, 194, 195, 291, 372, 436, 469, 497, 516,
];

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChError {
    /// True when retrying cannot help.
    pub permanent: bool,
    /// ClickHouse's error code, when it sent one.
    pub code: Option<u32>,
    /// What happened (never contains credentials).
    pub message: String,
}

impl std::fmt::Display for ChError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses `Code: N` from an error body.
pub fn error_code(body: &str) -> Option<u32> {
    let i = body.find("Code:")?;
    let digits: String = body[i + 5..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Classifies an HTTP answer that was not a success.
pub fn classify(status: u16, body: &str) -> ChError {
    let code = error_code(body);
    let permanent = match code {
        Some(c) => PERMANENT_CODES.contains(&c),
        // No ClickHouse code: a proxy or the server in trouble; 4xx other than timeouts
        // and throttling will not get better.
        None => (400..500).contains(&status) && !matches!(status, 408 | 425 | 429),
    };
    let first_line = body.lines().next().unwrap_or("").trim();
    ChError {
        permanent,
        code,
        message: format!(
            "HTTP {status}: {}",
            &first_line[..first_line.len().min(400)]
        ),
    }
}

/// A ClickHouse HTTP endpoint.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    user: String,
    password: String,
}

impl Client {
    /// A client for `base` (`http[s]://HOST:PORT`).
    pub fn new(base: &str, user: &str, password: &str, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.to_string(),
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    fn transport(&self, e: ureq::Error) -> ChError {
        ChError {
            permanent: false,
            code: None,
            message: format!("{}: {e}", self.base),
        }
    }

    fn finish(
        &self,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, ChError> {
        let resp = r.map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|e| self.transport(e))?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(classify(status, &body))
        }
    }

    /// `GET /ping`.
    pub fn ping(&self) -> Result<(), ChError> {
        let r = self.agent.get(format!("{}/ping", self.base)).call();
        self.finish(r).map(|_| ())
    }

    /// Runs `sql` (sent in the body); returns the text result.
    pub fn query(&self, sql: &str) -> Result<String, ChError> {
        let r = self
            .agent
            .post(format!("{}/", self.base))
            .header("X-ClickHouse-User", &self.user)
            .header("X-ClickHouse-Key", &self.password)
            .send(sql.as_bytes());
        self.finish(r)
    }

    /// `INSERT INTO db.table FORMAT ArrowStream` with `body`; `token` makes a repeated
    /// insert of the same batch a no-op.
    pub fn insert(&self, db: &str, table: &str, token: &str, body: &[u8]) -> Result<(), ChError> {
        let r = self
            .agent
            .post(format!("{}/", self.base))
            .query(
                "query",
                format!("INSERT INTO `{db}`.`{table}` FORMAT ArrowStream"),
            )
            .query("insert_deduplication_token", token)
            .query("insert_deduplicate", "1")
            .header("X-ClickHouse-User", &self.user)
            .header("X-ClickHouse-Key", &self.password)
            .header("Content-Type", "application/octet-stream")
            .send(body);
        self.finish(r).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_retrying() {
        let e = classify(
            404,
            "Code: 60. DB::Exception: Table x.y does not exist. (UNKNOWN_TABLE)",
        );
        assert!(e.permanent);
        assert_eq!(e.code, Some(60));
        assert!(
            !classify(
                500,
                "Code: 252. DB::Exception: Too many parts (TOO_MANY_PARTS)"
            )
            .permanent
        );
        assert!(classify(401, "Code: 516. DB::Exception: Authentication failed").permanent);
        assert!(!classify(503, "Service Unavailable").permanent);
        assert!(classify(400, "Bad Request").permanent);
        assert!(!classify(429, "slow down").permanent);
    }
}
