//! Test support shared by the crates' integration tests: where the real-capture corpus
//! is (`WIREHOUSE_CORPUS`, default `../shared/corpus` beside the repository), which
//! external tools exist, and small readers for other projects' expected results.
//!
//! Policy: when the corpus or a tool is missing, a test says so on stderr and returns —
//! unless `CI` is set, where a missing prerequisite is a failure (CI installs them, so a
//! green CI run proves the comparison really ran).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (two levels above a crate's manifest directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// A prerequisite is missing: fail under CI, otherwise say so and let the caller skip.
pub fn missing(what: &str) {
    if in_ci() {
        panic!("prerequisite missing under CI: {what}");
    }
    eprintln!("SKIPPED: {what} is not available");
}

/// The corpus directory, or `None` (after reporting) when it is absent.
pub fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("WIREHOUSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpus"));
    if p.join("MANIFEST.tsv").is_file() {
        Some(p)
    } else {
        missing(&format!(
            "the corpus at {} (set WIREHOUSE_CORPUS)",
            p.display()
        ));
        None
    }
}

/// True when `tool` runs (`tool --version`); reports it missing otherwise.
pub fn have_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        missing(tool);
    }
    ok
}

/// True when `program` is on the PATH (or in /usr/sbin, /sbin: servers such as nginx
/// have no `--version`); reports it missing otherwise.
pub fn have_program(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let ok = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(program).is_file());
    if !ok {
        missing(program);
    }
    ok
}

/// One row of the corpus's MANIFEST.tsv.
#[derive(Debug, Clone)]
pub struct ManifestRow {
    /// Path relative to the corpus root.
    pub file: String,
    /// Format and content summary written by the corpus builder.
    pub content: String,
    /// Coverage keys (comma separated).
    pub coverage: String,
}

/// Every capture entry of MANIFEST.tsv.
pub fn manifest(corpus: &Path) -> Vec<ManifestRow> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() > 9 && !f[0].starts_with("(dup)")).then(|| ManifestRow {
                file: f[0].to_string(),
                content: f[8].to_string(),
                coverage: f[9].to_string(),
            })
        })
        .collect()
}

/// Runs a command and returns its stdout; panics with stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A deterministic pseudo-random sequence (xorshift64) for mutation tests: every run
/// damages the same inputs the same way, so a failure names a reproducible round.
pub fn xorshift() -> impl FnMut() -> u64 {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
