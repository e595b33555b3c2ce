//! Throughput of the hot stages on a real capture held in memory.
//!
//! The capture is `WIREHOUSE_BENCH_PCAP` (any pcap/pcapng, e.g. one recorded by
//! `../shared/tools/make-traffic.sh`), else `testdata/http-dns-icmp.pcap`. Throughput is
//! reported in captured bytes, and for the `tables` group (Arrow append and Parquet
//! encode of the `flows` and `l7_sessions` rows the capture gives) in rows and bytes of
//! the Arrow batch.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use wirehouse_capture::LinkType;
use wirehouse_flow::{CloseReason, FlowBuilder, FlowConfig, FlowRow, FlowTable};
use wirehouse_l7::{L7Builder, L7Config, L7Engine, L7Row};
use wirehouse_schema::TableDef;
use wirehouse_schema::arrow_array::{Array, RecordBatch};
use wirehouse_sinks::Sink;
use wirehouse_sinks::parquet::{ParquetOptions, ParquetSink};

struct Loaded {
    packets: Vec<(i64, LinkType, Vec<u8>)>,
    bytes: u64,
}

fn bench_path() -> String {
    std::env::var("WIREHOUSE_BENCH_PCAP").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/http-dns-icmp.pcap"
        )
        .into()
    })
}

fn load() -> Loaded {
    let path = bench_path();
    let mut src = wirehouse_capture::open(std::path::Path::new(&path)).expect("open bench capture");
    let mut packets = Vec::new();
    let mut bytes = 0;
    while let Ok(Some(p)) = src.next_packet() {
        bytes += p.data.len() as u64;
        packets.push((p.ts_ns, p.linktype, p.data.to_vec()));
        if bytes > 512 << 20 {
            break;
        }
    }
    Loaded { packets, bytes }
}

fn read_file(c: &mut Criterion) {
    let path = bench_path();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(size));
    // One packet per call, and the readers' own loop over the records lying whole in
    // the buffer (what `convert` uses).
    g.bench_function("read_next_packet", |b| {
        b.iter(|| {
            let mut src = wirehouse_capture::open(std::path::Path::new(&path)).unwrap();
            let mut n = 0usize;
            while let Ok(Some(p)) = src.next_packet() {
                n += p.data.len();
            }
            black_box(n)
        })
    });
    g.bench_function("read_for_each", |b| {
        b.iter(|| {
            let mut src = wirehouse_capture::open(std::path::Path::new(&path)).unwrap();
            let mut n = 0usize;
            src.for_each(&mut |p, _| {
                n += p.data.len();
                true
            })
            .unwrap();
            black_box(n)
        })
    });
    g.finish();
}

fn stages(c: &mut Criterion) {
    let l = load();
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Bytes(l.bytes));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut ok = 0u32;
            for (_, lt, data) in &l.packets {
                ok += u32::from(wirehouse_wire::decode(*lt, data).is_ok());
            }
            black_box(ok)
        })
    });
    let source: Arc<str> = "bench".into();
    g.bench_function("decode+flow_table", |b| {
        b.iter(|| {
            let mut t = FlowTable::new(FlowConfig::default());
            let mut rows = 0u32;
            for (ts, lt, data) in &l.packets {
                if let Ok(d) = wirehouse_wire::decode(*lt, data) {
                    t.process(*ts, &d, &source, &mut |_| rows += 1);
                }
            }
            t.drain(CloseReason::EndOfInput, &mut |_| rows += 1);
            black_box(rows)
        })
    });
    g.bench_function("decode+flow_table+l7", |b| {
        b.iter(|| {
            let mut t =
                FlowTable::with_handler(FlowConfig::default(), L7Engine::new(L7Config::default()));
            let (mut flows, mut sessions) = (0u32, 0usize);
            for (i, (ts, lt, data)) in l.packets.iter().enumerate() {
                if let Ok(d) = wirehouse_wire::decode(*lt, data) {
                    t.process(*ts, &d, &source, &mut |_| flows += 1);
                }
                // Rows taken in batches, as a worker takes them.
                if i % 1024 == 0 {
                    sessions += t.handler_mut().take_rows().count();
                }
            }
            t.drain(CloseReason::EndOfInput, &mut |_| flows += 1);
            sessions += t.handler_mut().take_rows().count();
            black_box((flows, sessions))
        })
    });
    g.finish();

    // The rows of both tables this capture produces.
    let mut flows: Vec<FlowRow> = Vec::new();
    let mut t = FlowTable::with_handler(FlowConfig::default(), L7Engine::new(L7Config::default()));
    for (ts, lt, data) in &l.packets {
        if let Ok(d) = wirehouse_wire::decode(*lt, data) {
            t.process(*ts, &d, &source, &mut |r| flows.push(r));
        }
    }
    t.drain(CloseReason::EndOfInput, &mut |r| flows.push(r));
    let sessions: Vec<L7Row> = t.handler_mut().take_rows().collect();
    tables(c, &FlowRow::TABLE, &flows, |rows| {
        let mut b = FlowBuilder::with_capacity(rows.len());
        rows.iter().for_each(|r| b.append(r));
        b.finish()
    });
    tables(c, &L7Row::TABLE, &sessions, |rows| {
        let mut b = L7Builder::with_capacity(rows.len());
        rows.iter().for_each(|r| b.append(r));
        b.finish()
    });
}

/// Arrow append and Parquet encode of one table's rows. Throughput is in rows and in
/// bytes of the Arrow batch (its buffers' lengths, not their capacity).
fn tables<R>(
    c: &mut Criterion,
    table: &'static TableDef,
    rows: &[R],
    build: impl Fn(&[R]) -> RecordBatch,
) {
    let batch = build(rows);
    let arrow_bytes: usize = batch
        .columns()
        .iter()
        .map(|a| a.to_data().get_slice_memory_size().unwrap_or(0))
        .sum();
    let mut g = c.benchmark_group("tables");
    g.throughput(Throughput::ElementsAndBytes {
        elements: rows.len() as u64,
        bytes: arrow_bytes as u64,
    });
    g.bench_function(format!("arrow_append_{}", table.name), |b| {
        b.iter(|| black_box(build(rows)))
    });
    let dir = std::env::temp_dir().join(format!("wh-bench-{}", std::process::id()));
    // Encoding a batch into an open file (no file created or synced per iteration): on
    // the sink's own thread, and on one thread per core (the default).
    for (suffix, encode_threads) in [("", 1), ("_parallel", 0)] {
        let opts = ParquetOptions {
            encode_threads,
            ..ParquetOptions::default()
        };
        let mut sink = ParquetSink::new(&dir, opts).unwrap();
        g.bench_function(format!("parquet_encode_{}{suffix}", table.name), |b| {
            b.iter(|| sink.write(table, batch.clone()).unwrap())
        });
        black_box(sink.close().unwrap());
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reassembly of one 4 MiB conversation cut into random segments (reordered and
/// duplicated), and defragmentation of 200 UDP datagrams of 30 kB in 1480-byte fragments.
fn reassembly_and_defrag(c: &mut Criterion) {
    use wirehouse_flow::harness::{Split, decoded, segments};
    let body: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let conv: Vec<(bool, &[u8])> = vec![(true, b"GET /big HTTP/1.1\r\n\r\n"), (false, &body)];
    let source: Arc<str> = "bench".into();
    let mut g = c.benchmark_group("reassembly");
    for (name, split) in [
        ("in_order_64B_avg", Split::Random(1)),
        ("reordered_dups", Split::Duplicated(2)),
    ] {
        let segs = segments(&conv, split);
        let bytes: u64 = segs.iter().map(|s| s.payload.len() as u64).sum();
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut t = FlowTable::new(FlowConfig::default());
                for (i, s) in segs.iter().enumerate() {
                    t.process(i as i64 * 1000, &decoded(s), &source, &mut |_| {});
                }
                let mut n = 0;
                t.drain(CloseReason::EndOfInput, &mut |r| {
                    n += r.server_payload_bytes
                });
                black_box(n)
            })
        });
    }
    g.finish();

    // Fragments of 200 datagrams, 30 kB of UDP payload each.
    let mut frags: Vec<Vec<u8>> = Vec::new();
    for id in 0..200u16 {
        let payload = 30_000usize;
        let data: Vec<u8> = (0..8 + payload).map(|i| (i % 253) as u8).collect();
        for (k, chunk) in data.chunks(1480).enumerate() {
            let more = (k + 1) * 1480 < data.len();
            let tl = (20 + chunk.len()) as u16;
            let fo = ((k * 1480 / 8) as u16) | if more { 0x2000 } else { 0 };
            let mut f = vec![
                0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ];
            f[2..4].copy_from_slice(&tl.to_be_bytes());
            f[4..6].copy_from_slice(&id.to_be_bytes());
            f[6..8].copy_from_slice(&fo.to_be_bytes());
            f.extend_from_slice(chunk);
            frags.push(f);
        }
    }
    let total: u64 = frags.iter().map(|f| f.len() as u64).sum();
    let mut g = c.benchmark_group("defrag");
    g.throughput(Throughput::Bytes(total));
    g.bench_function("ipv4_30kB_datagrams", |b| {
        b.iter(|| {
            let mut d = wirehouse_flow::Defragmenter::new(wirehouse_flow::DefragConfig::default());
            let mut done = 0;
            for f in &frags {
                let dec = wirehouse_wire::decode_ip(f).unwrap();
                if let Some(r) = d.push(
                    0,
                    f,
                    &dec.frag.unwrap(),
                    dec.ip.src,
                    dec.ip.dst,
                    dec.ip.wire_len,
                ) {
                    done += r.datagram.len();
                }
            }
            black_box(done)
        })
    });
    g.finish();
}

criterion_group!(benches, read_file, stages, reassembly_and_defrag);
criterion_main!(benches);
