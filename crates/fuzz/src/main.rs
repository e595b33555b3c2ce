//! `wirehouse-fuzz SECONDS CAPTURE...`: mutation fuzzing that runs on a stable toolchain.
//! Seeds are the frames and TCP/UDP payloads of real captures; each round mutates a few
//! (bit flips, random bytes, inserted/deleted/duplicated ranges, truncation, splices,
//! boundary values), then feeds them to the frame decoder and, as a conversation cut into
//! random TCP segments or as UDP datagrams, through a flow table running every
//! application-protocol parser. A panic writes the input to `wirehouse-fuzz-crash.bin`
//! and aborts, so a run that ends normally ran that many rounds without one.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wirehouse_flow::harness::{Split, run_datagrams_on, run_on, segments};
use wirehouse_l7::{L7Config, L7Engine};
use wirehouse_wire::{L4, LinkType, decode};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// A seed payload: its bytes, TCP or UDP, the server port it was seen on, the sender.
struct Seed {
    bytes: Vec<u8>,
    tcp: bool,
    port: u16,
}

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let dup = v[i..i + n].to_vec();
                v.splice(i..i, dup);
            }
            5 => v.truncate(rng.below(len + 1)),
            6 if !other.is_empty() => {
                let i = rng.below(len + 1);
                let j = rng.below(other.len());
                v.truncate(i);
                v.extend_from_slice(&other[j..]);
            }
            7 if len >= 2 => {
                // Boundary values where lengths and counts live.
                let i = rng.below(len - 1);
                let val: [u8; 2] = match rng.below(5) {
                    0 => [0, 0],
                    1 => [0xff, 0xff],
                    2 => [0x7f, 0xff],
                    3 => [0x80, 0x00],
                    _ => [0, 1],
                };
                v[i..i + 2].copy_from_slice(&val);
            }
            _ => {}
        }
    }
    v.truncate(1 << 16);
    v
}

fn udp_round(dgrams: &[(bool, Vec<u8>)], port: u16) -> usize {
    let refs: Vec<(bool, &[u8])> = dgrams.iter().map(|(f, b)| (*f, b.as_slice())).collect();
    let mut e = run_datagrams_on(&refs, port, L7Engine::new(L7Config::default()));
    e.take_rows().count()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(secs) = args.first().and_then(|s| s.parse::<u64>().ok()) else {
        eprintln!("usage: wirehouse-fuzz SECONDS CAPTURE...");
        std::process::exit(2);
    };
    let mut seeds: Vec<Seed> = Vec::new();
    let mut frames: Vec<(LinkType, Vec<u8>)> = Vec::new();
    for path in &args[1..] {
        let Ok(mut src) = wirehouse_capture::open(Path::new(path)) else {
            continue;
        };
        while let Ok(Some(p)) = src.next_packet() {
            if frames.len() < 50_000 {
                frames.push((p.linktype, p.data.to_vec()));
            }
            let Ok(d) = decode(p.linktype, p.data) else {
                continue;
            };
            let (tcp, sp, dp) = match d.l4 {
                L4::Tcp(t) => (true, t.src_port, t.dst_port),
                L4::Udp { src_port, dst_port } => (false, src_port, dst_port),
                _ => continue,
            };
            if !d.payload.is_empty() && seeds.len() < 50_000 {
                seeds.push(Seed {
                    bytes: d.payload.to_vec(),
                    tcp,
                    port: sp.min(dp),
                });
            }
        }
    }
    if seeds.is_empty() {
        eprintln!("no TCP/UDP payloads in the given captures");
        std::process::exit(2);
    }
    eprintln!(
        "{} payload seeds, {} frames; fuzzing for {secs} s",
        seeds.len(),
        frames.len()
    );
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    let hook_input = current.clone();
    std::panic::set_hook(Box::new(move |info| {
        let bytes = hook_input.lock().map(|g| g.clone()).unwrap_or_default();
        let _ = std::fs::write("wirehouse-fuzz-crash.bin", &bytes);
        eprintln!("PANIC: {info}\ninput written to wirehouse-fuzz-crash.bin");
        std::process::abort();
    }));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut rounds, mut rows) = (0u64, 0usize);
    let ports = [80u16, 443, 53, 8080, 5353];
    while Instant::now() < deadline {
        for _ in 0..64 {
            rounds += 1;
            // The frame decoder.
            if !frames.is_empty() {
                let (lt, f) = &frames[rng.below(frames.len())];
                let other = &frames[rng.below(frames.len())].1;
                let m = mutate(&mut rng, f, other);
                if let Ok(mut g) = current.lock() {
                    g.clone_from(&m);
                }
                let _ = decode(*lt, &m);
            }
            // A conversation through the parsers.
            let first = &seeds[rng.below(seeds.len())];
            let port = if rng.below(4) == 0 {
                ports[rng.below(ports.len())]
            } else {
                first.port
            };
            let mut conv: Vec<(bool, Vec<u8>)> = Vec::new();
            for k in 0..1 + rng.below(4) {
                let s = if k == 0 {
                    first
                } else {
                    &seeds[rng.below(seeds.len())]
                };
                let other = &seeds[rng.below(seeds.len())].bytes;
                let bytes = if rng.below(3) == 0 {
                    s.bytes.clone()
                } else {
                    mutate(&mut rng, &s.bytes, other)
                };
                conv.push((k % 2 == 0, bytes));
            }
            if let Ok(mut g) = current.lock() {
                g.clear();
                for (_, b) in &conv {
                    g.extend_from_slice(b);
                }
            }
            if first.tcp {
                let refs: Vec<(bool, &[u8])> =
                    conv.iter().map(|(f, b)| (*f, b.as_slice())).collect();
                let split = match rng.below(3) {
                    0 => Split::Random(rng.next()),
                    1 => Split::Reordered(rng.next()),
                    _ => Split::Whole,
                };
                let mut e = run_on(
                    &segments(&refs, split),
                    port,
                    L7Engine::new(L7Config::default()),
                );
                rows += e.take_rows().count();
            } else {
                rows += udp_round(&conv, port);
            }
        }
    }
    println!("{rounds} rounds, {rows} session rows, no panic");
}
