//! Tests of the MongoDB session: real conversations from the corpus (hex in `fixtures/`),
//! pairing, error mapping, large and segmented messages, robustness.

use super::*;
use crate::testutil::{segmentation_invariant, tcp_sessions};
use wirehouse_flow::harness::Split;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// A fixture: one line per TCP segment, `c` (client) or `s` (server) then the payload.
fn fixture(text: &str) -> Vec<(bool, Vec<u8>)> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(d, h)| (d == "c", unhex(h.trim())))
        .collect()
}

fn conv(f: &[(bool, Vec<u8>)]) -> Vec<(bool, &[u8])> {
    f.iter().map(|(c, b)| (*c, b.as_slice())).collect()
}

const MONGO: &str = include_str!("fixtures/mongo.hex");
const MONGO_MSG: &str = include_str!("fixtures/mongo-msg.hex");
const COMPRESSED: &str = include_str!("fixtures/compressed.hex");

#[test]
fn debug_print() {
    for f in [MONGO, MONGO_MSG, COMPRESSED] {
        let f = fixture(f);
        for r in tcp_sessions(&conv(&f), Split::Whole, 27017) {
            println!(
                "{} | {} | {} | {} | id={:?} {} {:?} {} | {}/{} {:?}",
                r.request_type,
                r.request_domain,
                r.request_resource,
                r.endpoint,
                r.request_id,
                r.response_status,
                r.response_code,
                r.response_exception,
                r.request_bytes,
                r.response_bytes,
                r.attributes
            );
        }
        println!("----");
    }
}
