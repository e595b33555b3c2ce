//! The readers against the real-capture corpus: every capture opens or fails with a
//! clear error (never a panic), and packet counts equal tcpdump's expected outputs.

use std::collections::BTreeMap;
use std::path::Path;
use wirehouse_capture::{CaptureError, open};

/// Reads a whole capture: (packets, error).
fn read_all(path: &Path) -> (u64, Option<CaptureError>) {
    let mut src = match open(path) {
        Ok(s) => s,
        Err(e) => return (0, Some(e)),
    };
    let mut n = 0;
    loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= 16 * 1024 * 1024);
                n += 1;
            }
            Ok(None) => return (n, None),
            Err(e) => return (n, Some(e)),
        }
    }
}

#[test]
fn every_corpus_capture_opens_without_panic() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let rows = wirehouse_testkit::manifest(&corpus);
    assert!(rows.len() > 900, "manifest lists {} captures", rows.len());
    let (mut ok, mut damaged, mut refused) = (0, 0, Vec::new());
    for r in &rows {
        let (n, err) = read_all(&corpus.join(&r.file));
        match err {
            None => ok += 1,
            Some(e) if n > 0 || !e.is_unreadable() => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&r.file) && msg.contains("byte offset")
                        || matches!(e, CaptureError::Empty { .. }),
                    "error must name the file and offset: {msg}"
                );
                damaged += 1;
            }
            Some(e) => refused.push(format!("{}: {e}", r.file)),
        }
    }
    eprintln!(
        "{ok} read cleanly, {damaged} damaged (packets before the damage kept), {} refused",
        refused.len()
    );
    for r in &refused {
        eprintln!("  refused {r}");
    }
    // Only non-captures may be refused outright; the corpus has none of those.
    assert!(refused.is_empty(), "refused: {refused:#?}");
}

/// `tcpdump -#` numbers each packet it prints: the last number is the packet count.
fn tcpdump_count(out: &str) -> u64 {
    out.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let digits = t.find(|c: char| !c.is_ascii_digit())?;
            (digits > 0 && t[digits..].starts_with("  ") && l.len() - t.len() + digits == 5)
                .then(|| t[..digits].parse::<u64>().ok())
                .flatten()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn packet_counts_equal_tcpdump() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let dir = corpus.join("tcpdump");
    let list = std::fs::read_to_string(dir.join("TESTLIST.selected")).unwrap();
    let mut checked = BTreeMap::new();
    let mut mismatches = Vec::new();
    for line in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (pcap, out, opts) = (f[1], f[2], &f[3..]);
        // Filters, --skip and -c change which packets are printed: not a count of the file.
        if opts
            .iter()
            .any(|o| *o == "--" || *o == "--skip" || *o == "-c")
        {
            continue;
        }
        let Ok(expected_text) = std::fs::read_to_string(dir.join(out)) else {
            continue;
        };
        let expected = tcpdump_count(&expected_text);
        let (got, _) = checked
            .entry(pcap.to_string())
            .or_insert_with(|| {
                let (n, e) = read_all(&dir.join(pcap));
                (n, e.map(|e| e.to_string()))
            })
            .clone();
        if got != expected {
            mismatches.push(format!(
                "{pcap}: tcpdump {expected}, wirehouse {got} ({out})"
            ));
        }
    }
    eprintln!("{} tcpdump captures compared", checked.len());
    assert!(
        checked.len() >= 100,
        "only {} captures compared",
        checked.len()
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn pcapng_generator_files_match_their_descriptions() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let mut compared = 0;
    for order in ["output_le", "output_be"] {
        let base = corpus.join("pcapng-test-generator").join(order);
        let Ok(kinds) = std::fs::read_dir(&base) else {
            continue;
        };
        for kind in kinds.flatten() {
            for f in std::fs::read_dir(kind.path()).unwrap().flatten() {
                let p = f.path();
                if p.extension().is_none_or(|e| e != "pcapng") {
                    continue;
                }
                let desc = std::fs::read_to_string(p.with_extension("txt")).unwrap_or_default();
                // "Block counts:" lists how many EPB, SPB and (obsolete) PB blocks were written.
                let expected: u64 = desc
                    .lines()
                    .filter_map(|l| {
                        let (k, v) = l.trim().split_once(": ")?;
                        matches!(k, "EPB" | "SPB" | "PB")
                            .then(|| v.trim().parse::<u64>().ok())
                            .flatten()
                    })
                    .sum();
                let (got, err) = read_all(&p);
                if expected > 0 {
                    assert_eq!(got, expected, "{} ({err:?})", p.display());
                    compared += 1;
                }
            }
        }
    }
    eprintln!("{compared} pcapng generator files compared");
}
