#![allow(dead_code)]
//! Test support for parsers: run a conversation through a real flow table with the
//! engine, and check that rows do not depend on how the bytes were segmented.

use crate::{L7Config, L7Engine, L7Row};
use wirehouse_flow::harness::{Split, run_datagrams_on, run_on, segments};
use wirehouse_schema::Timestamp;

/// The rows for a TCP conversation (`true` = from the client) cut as `split`, with the
/// server on `port` (client 10.0.0.1:40000, server 10.0.0.2).
pub fn tcp_sessions(conv: &[(bool, &[u8])], split: Split, port: u16) -> Vec<L7Row> {
    let mut e = run_on(
        &segments(conv, split),
        port,
        L7Engine::new(L7Config::default()),
    );
    e.take_rows().collect()
}

/// The rows for UDP datagrams (`true` = from the client, 1 ms apart), server on `port`.
pub fn udp_sessions(dgrams: &[(bool, &[u8])], port: u16) -> Vec<L7Row> {
    let mut e = run_datagrams_on(dgrams, port, L7Engine::new(L7Config::default()));
    e.take_rows().collect()
}

/// Rows without their timing columns (which follow segment times).
pub fn untimed(mut rows: Vec<L7Row>) -> Vec<L7Row> {
    for r in &mut rows {
        r.time = Timestamp(0);
        r.end_time = Timestamp(0);
        r.response_time_us = r.response_time_us.map(|_| 0);
        r.duration_us = 0;
    }
    rows
}

/// Asserts that every split (whole, byte by byte, random, reordered, duplicated; several
/// seeds) gives the same rows; returns them (with their timing from the whole run).
pub fn segmentation_invariant(conv: &[(bool, &[u8])], port: u16) -> Vec<L7Row> {
    let whole = tcp_sessions(conv, Split::Whole, port);
    let want = untimed(whole.clone());
    for seed in 0..6 {
        for split in Split::all(seed) {
            assert_eq!(
                untimed(tcp_sessions(conv, split, port)),
                want,
                "rows differ when cut as {split:?}"
            );
        }
    }
    whole
}

/// A fixture's conversation: `> hex` lines from the client, `< hex` from the server (one
/// TCP segment or UDP datagram each, as captured); other lines are comments.
pub fn fixture(text: &str) -> Vec<(bool, Vec<u8>)> {
    text.lines()
        .filter_map(|l| {
            let (d, h) = l.split_once(' ')?;
            let fc = match d {
                ">" => true,
                "<" => false,
                _ => return None,
            };
            let bytes = (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("fixture hex"))
                .collect();
            Some((fc, bytes))
        })
        .collect()
}

/// A fixture's messages as borrowed slices.
pub fn borrow(c: &[(bool, Vec<u8>)]) -> Vec<(bool, &[u8])> {
    c.iter().map(|(fc, b)| (*fc, b.as_slice())).collect()
}

/// The value of a row's attribute `k`.
pub fn attr<'a>(r: &'a L7Row, k: &str) -> Option<&'a str> {
    r.attributes
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}
