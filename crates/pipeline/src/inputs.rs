//! Expanding command-line inputs: files, directories (recursively), and `-` for stdin.

use crate::InputReport;
use std::path::{Path, PathBuf};

/// One input stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// A file; `explicit` when named on the command line (then a non-capture is an error;
    /// inside a directory it is skipped and reported).
    File {
        /// Path.
        path: PathBuf,
        /// Named directly by the user.
        explicit: bool,
    },
    /// Standard input.
    Stdin,
}

impl InputSpec {
    /// Display name, used as the `source` column.
    pub fn name(&self) -> String {
        match self {
            Self::File { path, .. } => path.display().to_string(),
            Self::Stdin => "-".into(),
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<InputSpec>, errors: &mut Vec<InputReport>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            let file = dir.display().to_string();
            errors.push(InputReport {
                error: Some(format!("{file}: cannot read directory: {e}")),
                file,
                unreadable: true,
                ..Default::default()
            });
            return;
        }
    };
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, errors);
        } else if p.is_file() {
            out.push(InputSpec::File {
                path: p,
                explicit: false,
            });
        }
    }
}

/// Expands arguments into input streams. A directory that cannot be listed is returned
/// as an unreadable input's report; any other path is an input (one that cannot be
/// opened, a missing file among them, is reported when the run opens it).
pub fn expand_inputs(args: &[String]) -> (Vec<InputSpec>, Vec<InputReport>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for a in args {
        if a == "-" {
            out.push(InputSpec::Stdin);
            continue;
        }
        let p = PathBuf::from(a);
        if p.is_dir() {
            walk(&p, &mut out, &mut errors);
        } else {
            out.push(InputSpec::File {
                path: p,
                explicit: true,
            });
        }
    }
    (out, errors)
}
