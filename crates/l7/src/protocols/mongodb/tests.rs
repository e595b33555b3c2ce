//! Tests of the MongoDB session: real conversations from the corpus (hex in `fixtures/`),
//! pairing, error mapping, large and segmented messages, robustness.

use super::parser::{self, Crc32c, Header, MessageDecoder, OP_COMPRESSED};
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

// ---- BSON and message builders for constructed cases ----

enum V<'a> {
    S(&'a str),
    I(i32),
    L(i64),
    D(f64),
    Doc(Vec<u8>),
    Arr(Vec<Vec<u8>>),
}

fn bson(elems: &[(&str, V<'_>)]) -> Vec<u8> {
    let mut b = vec![0; 4];
    for (k, v) in elems {
        let (t, val): (u8, Vec<u8>) = match v {
            V::S(s) => {
                let mut x = ((s.len() + 1) as i32).to_le_bytes().to_vec();
                x.extend_from_slice(s.as_bytes());
                x.push(0);
                (2, x)
            }
            V::I(i) => (0x10, i.to_le_bytes().to_vec()),
            V::L(i) => (0x12, i.to_le_bytes().to_vec()),
            V::D(f) => (1, f.to_le_bytes().to_vec()),
            V::Doc(d) => (3, d.clone()),
            V::Arr(items) => {
                let keys: Vec<String> = (0..items.len()).map(|i| i.to_string()).collect();
                let e: Vec<(&str, V<'_>)> = keys
                    .iter()
                    .zip(items)
                    .map(|(k, d)| (k.as_str(), V::Doc(d.clone())))
                    .collect();
                (4, bson(&e))
            }
        };
        b.push(t);
        b.extend_from_slice(k.as_bytes());
        b.push(0);
        b.extend_from_slice(&val);
    }
    b.push(0);
    let n = b.len() as i32;
    b[..4].copy_from_slice(&n.to_le_bytes());
    b
}

fn header(len: usize, id: i32, to: i32, op: i32) -> Vec<u8> {
    let mut h = Vec::new();
    for v in [len as i32, id, to, op] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h
}

/// An OP_MSG: flags, a body, optional kind-1 sequences; the checksum when flag bit 0.
fn op_msg(id: i32, to: i32, flags: u32, body: &[u8], seqs: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
    let mut p = flags.to_le_bytes().to_vec();
    p.push(0);
    p.extend_from_slice(body);
    for (ident, docs) in seqs {
        p.push(1);
        let size = 4 + ident.len() + 1 + docs.iter().map(Vec::len).sum::<usize>();
        p.extend_from_slice(&(size as i32).to_le_bytes());
        p.extend_from_slice(ident.as_bytes());
        p.push(0);
        for d in docs {
            p.extend_from_slice(d);
        }
    }
    let sum = flags & 1 != 0;
    let len = 16 + p.len() + if sum { 4 } else { 0 };
    let mut m = header(len, id, to, 2013);
    m.extend_from_slice(&p);
    if sum {
        let mut c = Crc32c::default();
        c.update(&m);
        m.extend_from_slice(&c.value().to_le_bytes());
    }
    m
}

fn attrs(r: &crate::L7Row) -> std::collections::BTreeMap<&str, &str> {
    r.attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The messages of a fixture, one per element (segments of a direction joined, then cut
/// at each header's length).
fn messages(f: &[(bool, Vec<u8>)]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in [true, false] {
        let all: Vec<u8> = f
            .iter()
            .filter(|(c, _)| *c == dir)
            .flat_map(|(_, b)| b.clone())
            .collect();
        let mut at = 0;
        while let Some(h) = Header::parse(&all[at..]) {
            out.push((dir, all[at..at + h.len as usize].to_vec()));
            at += h.len as usize;
        }
        assert_eq!(at, all.len());
    }
    out
}

// ---- Decoder on real bytes ----

#[test]
fn crc32c_check_value() {
    // The CRC-32C check value (RFC 3720 / iSCSI): "123456789" -> 0xE3069283.
    let mut c = Crc32c::default();
    c.update(b"123456789");
    assert_eq!(c.value(), 0xE306_9283);
}

#[test]
fn op_msg_find_and_cursor_reply() {
    // deepflow mongo-msg.pcap: find on sky-test.query (DeepFlow: request_id 40, 230 and
    // 285 bytes, one document in firstBatch, ns "sky-test.query").
    let f = fixture(MONGO_MSG);
    let q = parser::decode(&f[0].1).expect("request");
    assert_eq!(
        q.header,
        Header {
            len: 230,
            request_id: 40,
            response_to: 0,
            opcode: 2013
        }
    );
    assert!(!q.malformed);
    let d = q.body.doc.as_ref().expect("body");
    assert_eq!(d.first_key.as_deref(), Some("find"));
    assert_eq!(d.first_str.as_deref(), Some("query"));
    assert_eq!(d.db.as_deref(), Some("sky-test"));
    let r = parser::decode(&f[1].1).expect("reply");
    assert_eq!((r.header.len, r.header.response_to), (285, 40));
    let d = r.body.doc.as_ref().expect("body");
    assert_eq!(d.ok, Some(1.0));
    assert_eq!(d.batch_len, Some(1));
    assert_eq!(d.cursor_id, Some(0));
    assert_eq!(d.cursor_ns.as_deref(), Some("sky-test.query"));
    assert_eq!(r.checksum_ok, None);
}

#[test]
fn op_query_and_op_reply_handshake() {
    // deepflow mongo.pcap: isMaster through OP_QUERY on admin.$cmd, answered by OP_REPLY
    // with one document holding ok: 1 (DeepFlow's result and tshark agree).
    let m = messages(&fixture(MONGO));
    let q = parser::decode(&m[0].1).expect("query");
    assert_eq!(q.opcode, parser::OP_QUERY);
    assert_eq!(q.body.namespace.as_deref(), Some("admin.$cmd"));
    assert_eq!(
        q.body.doc.as_ref().and_then(|d| d.first_key.as_deref()),
        Some("isMaster")
    );
    let r = m.iter().find(|(c, _)| !c).expect("reply");
    let r = parser::decode(&r.1).expect("reply");
    assert_eq!(r.opcode, parser::OP_REPLY);
    assert_eq!(r.header.len, 572);
    assert_eq!(r.body.number_returned, Some(1));
    assert_eq!(r.body.documents, 1);
    assert_eq!(r.body.doc.as_ref().and_then(|d| d.ok), Some(1.0));
    assert!(!r.malformed);
}

#[test]
fn op_compressed_snappy() {
    // mongo-tools compressed.pcap frame 8 (tshark): OP_COMPRESSED, original opcode 2010
    // (OP_COMMAND), uncompressed size 43, snappy; database admin, commandName whatsmyuri.
    let m = messages(&fixture(COMPRESSED));
    let (_, b) = m
        .iter()
        .find(|(c, b)| *c && b.len() == 62)
        .expect("frame 8");
    assert_eq!(Header::parse(b).map(|h| h.opcode), Some(OP_COMPRESSED));
    assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 43);
    let x = parser::decode(b).expect("decoded");
    assert!(!x.malformed, "{x:?}");
    assert_eq!(x.opcode, parser::OP_COMMAND);
    assert_eq!(x.compressor.as_deref(), Some("snappy"));
    assert_eq!(x.body.namespace.as_deref(), Some("admin"));
    assert_eq!(x.body.command_name.as_deref(), Some("whatsmyuri"));
    // Every message of the capture decodes cleanly.
    for (_, b) in &m {
        assert!(!parser::decode(b).expect("sane").malformed);
    }
}

#[test]
fn op_compressed_zlib_and_zstd() {
    use std::io::Write;
    let body = bson(&[("insert", V::S("users")), ("$db", V::S("shop"))]);
    let docs = vec![bson(&[("a", V::I(1))]), bson(&[("a", V::I(2))])];
    let plain = op_msg(7, 0, 0, &body, &[("documents", docs)]);
    let orig = &plain[16..];
    let zl = {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(orig).unwrap();
        e.finish().unwrap()
    };
    let zs = zstd::bulk::compress(orig, 3).unwrap();
    for (id, data, name) in [(2u8, zl, "zlib"), (3, zs, "zstd")] {
        let mut m = header(16 + 9 + data.len(), 7, 0, OP_COMPRESSED);
        m.extend_from_slice(&2013i32.to_le_bytes());
        m.extend_from_slice(&(orig.len() as i32).to_le_bytes());
        m.push(id);
        m.extend_from_slice(&data);
        let x = parser::decode(&m).expect("decoded");
        assert!(!x.malformed, "{name}");
        assert_eq!(x.compressor.as_deref(), Some(name));
        assert_eq!(x.opcode, 2013);
        let d = x.body.doc.as_ref().unwrap();
        assert_eq!(d.first_key.as_deref(), Some("insert"));
        assert_eq!(d.db.as_deref(), Some("shop"));
        assert_eq!(x.body.documents, 2);
        // Corrupt compressed data: malformed, no panic.
        let n = m.len();
        m[n - 3] ^= 0x55;
        m[30] ^= 0xff;
        let _ = parser::decode(&m);
    }
}

#[test]
fn kind1_sequences_and_checksum() {
    let body = bson(&[("insert", V::S("users")), ("$db", V::S("shop"))]);
    let docs: Vec<Vec<u8>> = (0..3).map(|i| bson(&[("x", V::I(i))])).collect();
    let good = op_msg(3, 0, 1, &body, &[("documents", docs)]);
    let x = parser::decode(&good).unwrap();
    assert!(!x.malformed);
    assert_eq!(x.checksum_ok, Some(true));
    assert_eq!(
        x.body.sequences,
        vec![parser::Sequence {
            identifier: "documents".into(),
            documents: 3
        }]
    );
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 9] ^= 1; // the last document's value, just before its NUL and the checksum
    assert_eq!(parser::decode(&bad).unwrap().checksum_ok, Some(false));
    let rows = tcp_sessions(
        &[
            (true, &bad[..]),
            (
                false,
                &op_msg(9, 3, 0, &bson(&[("n", V::I(3)), ("ok", V::D(1.0))]), &[]),
            ),
        ],
        Split::Whole,
        27017,
    );
    assert_eq!(rows.len(), 1);
    let a = attrs(&rows[0]);
    assert_eq!(a.get("checksum_mismatch"), Some(&"1"));
    assert_eq!(a.get("documents"), Some(&"3"));
    assert_eq!(a.get("n"), Some(&"3"));
    assert_eq!(rows[0].endpoint, "insert users");
}

// ---- Sessions ----

#[test]
fn real_conversation_rows() {
    // deepflow mongo.pcap: 15 exchanges; DeepFlow reports request ids 0..=14 and one
    // error, code 76 "not running with --replSet" on replSetGetStatus.
    let f = fixture(MONGO);
    let rows = segmentation_invariant(&conv(&f), 27017);
    assert_eq!(rows.len(), 15);
    let ids: Vec<_> = rows.iter().map(|r| r.request_id).collect();
    assert_eq!(ids, (0..15).map(Some).collect::<Vec<_>>());
    let types: Vec<_> = rows.iter().map(|r| r.request_type.as_str()).collect();
    assert_eq!(types[0], "isMaster");
    assert_eq!(types[3], "whatsmyuri");
    assert_eq!(types[5], "getLog");
    assert_eq!(types[14], "endSessions");
    let e = &rows[11];
    assert_eq!(e.request_type, "replSetGetStatus");
    assert_eq!(e.request_domain, "admin");
    assert_eq!(e.response_status, "server_error");
    assert_eq!(e.response_code, Some(76));
    assert!(e.response_exception.ends_with("not running with --replSet"));
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| i == 11 || r.response_status == "ok")
    );
    assert_eq!((rows[0].request_bytes, rows[0].response_bytes), (508, 572));
}

#[test]
fn compressed_conversation_rows() {
    let f = fixture(COMPRESSED);
    let rows = segmentation_invariant(&conv(&f), 27017);
    assert_eq!(rows.len(), 6);
    let r = &rows[3];
    assert_eq!(r.request_type, "insert");
    assert_eq!(r.request_resource, "mongotape.test");
    let a = attrs(r);
    assert_eq!(a.get("compressor"), Some(&"snappy"));
    assert_eq!(a.get("opcode"), Some(&"OP_COMMAND"));
    // The OP_QUERY handshake (requestID 0) is answered by a compressed OP_REPLY with
    // responseTo 0.
    assert_eq!(rows[0].request_type, "isMaster");
    assert_eq!(rows[0].response_status, "ok");
}

#[test]
fn find_row_mapping() {
    let f = fixture(MONGO_MSG);
    let rows = segmentation_invariant(&conv(&f), 3717);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.l7_protocol, "mongodb");
    assert_eq!(r.request_type, "find");
    assert_eq!(r.request_domain, "sky-test");
    assert_eq!(r.request_resource, "sky-test.query");
    assert_eq!(r.endpoint, "find query");
    assert_eq!(r.request_id, Some(40));
    assert_eq!(r.response_status, "ok");
    assert_eq!(attrs(r).get("returned"), Some(&"1"));
}

#[test]
fn pairing_out_of_order_and_errors() {
    let q1 = op_msg(
        1,
        0,
        0,
        &bson(&[("insert", V::S("a")), ("$db", V::S("d"))]),
        &[],
    );
    let q2 = op_msg(
        2,
        0,
        0,
        &bson(&[("findAndModify", V::S("b")), ("$db", V::S("d"))]),
        &[],
    );
    let we = bson(&[
        ("index", V::I(0)),
        ("code", V::I(11000)),
        ("errmsg", V::S("E11000 duplicate key error")),
    ]);
    let r1 = op_msg(
        10,
        1,
        0,
        &bson(&[
            ("n", V::I(0)),
            ("writeErrors", V::Arr(vec![we])),
            ("ok", V::D(1.0)),
        ]),
        &[],
    );
    let r2 = op_msg(
        11,
        2,
        0,
        &bson(&[
            ("ok", V::D(0.0)),
            ("errmsg", V::S("boom")),
            ("code", V::I(8000)),
            ("codeName", V::S("AtlasError")),
        ]),
        &[],
    );
    let rows = segmentation_invariant(
        &[(true, &q1), (true, &q2), (false, &r2), (false, &r1)],
        27017,
    );
    assert_eq!(rows.len(), 2);
    let by = |t: &str| rows.iter().find(|r| r.request_type == t).unwrap();
    let a = by("insert");
    assert_eq!((a.request_id, a.response_status), (Some(1), "client_error"));
    assert_eq!(a.response_code, Some(11000));
    assert_eq!(a.response_exception, "E11000 duplicate key error");
    assert_eq!(attrs(a).get("write_errors"), Some(&"1"));
    let b = by("findAndModify");
    assert_eq!((b.request_id, b.response_status), (Some(2), "server_error"));
    assert_eq!(b.response_code, Some(8000));
    assert_eq!(b.response_exception, "AtlasError: boom");
}

#[test]
fn op_reply_query_failure() {
    let mut q = header(0, 5, 0, 2004);
    q.extend_from_slice(&0u32.to_le_bytes());
    q.extend_from_slice(b"shop.users\0");
    q.extend_from_slice(&0i32.to_le_bytes());
    q.extend_from_slice(&1i32.to_le_bytes());
    q.extend_from_slice(&bson(&[("name", V::S("x"))]));
    let n = q.len() as i32;
    q[..4].copy_from_slice(&n.to_le_bytes());
    let doc = bson(&[("$err", V::S("bad query")), ("code", V::I(2))]);
    let mut r = header(16 + 20 + doc.len(), 6, 5, 1);
    r.extend_from_slice(&2u32.to_le_bytes());
    r.extend_from_slice(&0i64.to_le_bytes());
    r.extend_from_slice(&0i32.to_le_bytes());
    r.extend_from_slice(&1i32.to_le_bytes());
    r.extend_from_slice(&doc);
    let rows = segmentation_invariant(&[(true, &q), (false, &r)], 27017);
    assert_eq!(rows.len(), 1);
    let x = &rows[0];
    assert_eq!(x.request_type, "query");
    assert_eq!(x.request_resource, "shop.users");
    assert_eq!(x.endpoint, "query users");
    assert_eq!(x.response_status, "server_error");
    assert_eq!(x.response_code, Some(2));
    assert_eq!(x.response_exception, "bad query");
}

/// A find reply with `n` documents of about 100 bytes each.
fn big_reply(n: usize, to: i32) -> Vec<u8> {
    let pad = "p".repeat(80);
    let docs: Vec<Vec<u8>> = (0..n)
        .map(|i| bson(&[("_id", V::I(i as i32)), ("pad", V::S(&pad))]))
        .collect();
    let cursor = bson(&[
        ("firstBatch", V::Arr(docs)),
        ("id", V::L(1234567)),
        ("ns", V::S("shop.big")),
    ]);
    op_msg(
        100,
        to,
        0,
        &bson(&[("cursor", V::Doc(cursor)), ("ok", V::D(1.0))]),
        &[],
    )
}

#[test]
fn large_reply_over_many_segments() {
    let q = op_msg(
        9,
        0,
        0,
        &bson(&[("find", V::S("big")), ("$db", V::S("shop"))]),
        &[],
    );
    let r = big_reply(5000, 9); // ~0.5 MB, four times the engine's buffer
    assert!(r.len() > 400_000);
    let q2 = op_msg(
        10,
        0,
        0,
        &bson(&[
            ("getMore", V::L(1234567)),
            ("collection", V::S("big")),
            ("$db", V::S("shop")),
        ]),
        &[],
    );
    let r2 = op_msg(
        101,
        10,
        0,
        &bson(&[
            (
                "cursor",
                V::Doc(bson(&[("nextBatch", V::Arr(vec![])), ("id", V::L(0))])),
            ),
            ("ok", V::I(1)),
        ]),
        &[],
    );
    for split in [Split::Whole, Split::Random(3), Split::Reordered(4)] {
        let rows = tcp_sessions(
            &[(true, &q), (false, &r), (true, &q2), (false, &r2)],
            split,
            27017,
        );
        assert_eq!(rows.len(), 2, "{split:?}");
        let x = &rows[0];
        assert_eq!(x.response_status, "ok");
        assert_eq!(x.response_bytes, r.len() as u64);
        let a = attrs(x);
        assert_eq!(a.get("returned"), Some(&"5000"));
        assert_eq!(a.get("cursor_id"), Some(&"1234567"));
        assert!(!a.contains_key("malformed"));
        let y = &rows[1];
        assert_eq!(y.request_type, "getMore");
        assert_eq!(y.endpoint, "getMore big");
        assert_eq!(attrs(y).get("request_cursor_id"), Some(&"1234567"));
        assert_eq!(attrs(y).get("returned"), Some(&"0"));
    }
    // A smaller one through every split.
    let r = big_reply(300, 9);
    let rows = segmentation_invariant(&[(true, &q), (false, &r)], 27017);
    assert_eq!(attrs(&rows[0]).get("returned"), Some(&"300"));
}

#[test]
fn request_with_response_to_minus_one() {
    // packetbeat mongo_one_row.pcap (tshark): OP_QUERY on test.restaurants, requestID 10,
    // responseTo -1 (0xffffffff), answered by an OP_REPLY with responseTo 10.
    let mut q = header(0, 10, -1, 2004);
    q.extend_from_slice(&0u32.to_le_bytes());
    q.extend_from_slice(b"test.restaurants\0");
    q.extend_from_slice(&0i32.to_le_bytes());
    q.extend_from_slice(&1i32.to_le_bytes());
    q.extend_from_slice(&bson(&[]));
    let n = q.len() as i32;
    q[..4].copy_from_slice(&n.to_le_bytes());
    assert_eq!(probe(&q, true), Probe::Certain);
    let mut r = header(16 + 20, 74, 10, 1);
    r.extend_from_slice(&[0; 20]);
    let rows = tcp_sessions(&[(true, &q), (false, &r)], Split::Whole, 27017);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].request_resource, "test.restaurants");
    assert_eq!(rows[0].response_status, "ok");
}

#[test]
fn more_to_come_request_is_written_without_reply() {
    let q = op_msg(
        4,
        0,
        2,
        &bson(&[("insert", V::S("c")), ("$db", V::S("d"))]),
        &[],
    );
    let rows = tcp_sessions(&[(true, &q)], Split::Whole, 27017);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].response_status, "unknown");
    assert_eq!(attrs(&rows[0]).get("more_to_come"), Some(&"1"));
}

#[test]
fn probe_verdicts() {
    let f = fixture(MONGO_MSG);
    assert_eq!(probe(&f[0].1, true), Probe::Certain);
    assert_eq!(probe(&f[1].1, false), Probe::Certain);
    assert_eq!(probe(&f[0].1[..10], true), Probe::Unsure);
    assert_eq!(
        probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
        Probe::NotMine
    );
    assert_eq!(probe(&f[1].1, true), Probe::NotMine); // responseTo set

    // An OP_REPLY without documents is 36 bytes long.
    let mut empty = header(36, 7, 1, OP_REPLY);
    empty.extend_from_slice(&[0; 20]);
    assert_eq!(probe(&empty, false), Probe::Certain);
    // tcpdump `pptp.pcap` frame 5 (its first 48 bytes), a PPTP Start-Control-Connection
    // -Reply from port 1723: read as a MongoDB header it is an OP_REPLY of 16,817,152
    // bytes that returns no document. It was taken for one.
    let pptp = unhex(
        "009c00011a2b3c4d00010000010000000000000100000001000008700000000000000000000000000000000000000000",
    );
    assert_eq!(probe(&pptp, false), Probe::NotMine);
}

// ---- Robustness ----

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn all_messages() -> Vec<(bool, Vec<u8>)> {
    let mut m = Vec::new();
    for f in [MONGO, MONGO_MSG, COMPRESSED] {
        m.extend(messages(&fixture(f)));
    }
    m
}

#[test]
fn no_panic_on_truncations_and_mutations() {
    let msgs = all_messages();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for (_, m) in &msgs {
        for cut in 0..m.len() {
            let mut t = m[..cut].to_vec();
            let _ = parser::decode(&t);
            let _ = probe(&t, true);
            // Announce the cut length so the decoder sees a short body.
            if t.len() >= 16 {
                let n = t.len() as u32;
                t[..4].copy_from_slice(&n.to_le_bytes());
                let _ = parser::decode(&t);
            }
        }
        for _ in 0..150 {
            let mut t = m.clone();
            for _ in 0..1 + xorshift(&mut seed) % 4 {
                let i = (xorshift(&mut seed) % t.len() as u64) as usize;
                t[i] = xorshift(&mut seed) as u8;
            }
            let _ = parser::decode(&t);
            // Piecewise as well.
            if let Some(h) = Header::parse(&t).filter(Header::sane)
                && t.len() >= h.len as usize
            {
                let raw: [u8; 16] = t[..16].try_into().unwrap();
                let mut d = MessageDecoder::new(h, &raw);
                for c in t[16..h.len as usize].chunks(1 + (xorshift(&mut seed) % 7) as usize) {
                    d.feed(c);
                }
                let _ = d.finish();
            }
        }
    }
    // Sessions over mutated conversations.
    for f in [MONGO, COMPRESSED] {
        let f = fixture(f);
        for k in 0..150 {
            let mut g = f.clone();
            for _ in 0..1 + k % 5 {
                let s = (xorshift(&mut seed) % g.len() as u64) as usize;
                let seg = &mut g[s].1;
                let i = (xorshift(&mut seed) % seg.len() as u64) as usize;
                seg[i] = xorshift(&mut seed) as u8;
            }
            let _ = tcp_sessions(&conv(&g), Split::Random(k as u64), 27017);
        }
    }
}
