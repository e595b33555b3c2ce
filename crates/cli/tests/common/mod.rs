//! Helpers for the end-to-end tests: run the real binary, read back its Parquet output,
//! and ask tshark for the same facts.
#![allow(dead_code)]

use arrow_array::{
    Array, Int64Array, MapArray, RecordBatch, StringArray, UInt8Array, UInt16Array, UInt64Array,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh output directory for one test.
pub fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wh-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The JSON a run wrote with `--stats-json`.
pub fn stats_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `wirehouse convert INPUTS -o parquet:DIR` (plus extra args).
pub fn convert(inputs: &[&Path], dir: &Path, extra: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wirehouse"));
    c.arg("convert")
        .args(inputs)
        .arg("-o")
        .arg(format!("parquet:{}", dir.display()))
        .args(extra);
    c.output().expect("run wirehouse")
}

/// The Parquet files of `table` under `dir`, sorted.
pub fn table_files(dir: &Path, table: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    fn walk(p: &Path, files: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, files);
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    files.push(p);
                }
            }
        }
    }
    walk(&dir.join(table), &mut files);
    files.sort();
    files
}

/// Every record batch of `table` under `dir`.
pub fn read_table(dir: &Path, table: &str) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for f in table_files(dir, table) {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            out.push(b.unwrap());
        }
    }
    out
}

pub fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

/// The text columns `names` of every row of `table` under `dir` (null as ""), sorted.
pub fn text_columns(dir: &Path, table: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in read_table(dir, table) {
        let cols: Vec<&StringArray> = names.iter().map(|n| col(&b, n)).collect();
        for i in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| if c.is_null(i) { "" } else { c.value(i) }.to_string())
                    .collect(),
            );
        }
    }
    out.sort();
    out
}

/// An endpoint: (address text, port).
pub type Ep = (String, u16);

/// The client and server endpoint columns of a flows batch.
struct Ends<'a> {
    cip: &'a StringArray,
    sip: &'a StringArray,
    cp: &'a UInt16Array,
    sp: &'a UInt16Array,
}

impl<'a> Ends<'a> {
    fn new(b: &'a RecordBatch) -> Self {
        Ends {
            cip: col(b, "client_ip"),
            sip: col(b, "server_ip"),
            cp: col(b, "client_port"),
            sp: col(b, "server_port"),
        }
    }
    /// (client, server) of row `i`.
    fn get(&self, i: usize) -> (Ep, Ep) {
        (
            (self.cip.value(i).to_string(), self.cp.value(i)),
            (self.sip.value(i).to_string(), self.sp.value(i)),
        )
    }
}

/// (source, destination, IP id) of a fragmented datagram.
type FragId = (String, String, String);
/// (protocol, source endpoint, destination endpoint).
type FlowId = (u8, Ep, Ep);

/// Per-flow facts keyed by (proto, lower endpoint, higher endpoint):
/// (packets lo→hi, bytes lo→hi, packets hi→lo, bytes hi→lo).
pub type FlowFacts = BTreeMap<(u8, Ep, Ep), [u64; 4]>;

fn add(m: &mut FlowFacts, proto: u8, src: Ep, dst: Ep, packets: u64, bytes: u64) {
    let (k, fwd) = if src <= dst {
        ((proto, src, dst), true)
    } else {
        ((proto, dst, src), false)
    };
    let e = m.entry(k).or_default();
    if fwd {
        e[0] += packets;
        e[1] += bytes;
    } else {
        e[2] += packets;
        e[3] += bytes;
    }
}

/// Our flows table as FlowFacts (only protocols in `protos`).
pub fn our_flows(dir: &Path, protos: &[u8]) -> FlowFacts {
    let mut m = FlowFacts::new();
    for b in read_table(dir, "flows") {
        let proto = col::<UInt8Array>(&b, "ip_proto");
        let ends = Ends::new(&b);
        let (cpk, spk) = (
            col::<UInt64Array>(&b, "client_packets"),
            col::<UInt64Array>(&b, "server_packets"),
        );
        let (cb, sb) = (
            col::<UInt64Array>(&b, "client_bytes"),
            col::<UInt64Array>(&b, "server_bytes"),
        );
        for i in 0..b.num_rows() {
            if !protos.contains(&proto.value(i)) {
                continue;
            }
            let (c, s) = ends.get(i);
            add(
                &mut m,
                proto.value(i),
                c.clone(),
                s.clone(),
                cpk.value(i),
                cb.value(i),
            );
            add(&mut m, proto.value(i), s, c, spk.value(i), sb.value(i));
        }
    }
    m
}

/// tshark's view of the TCP and UDP flows: innermost IP header of every frame that
/// carries TCP or UDP (ICMP errors quoting a header excluded), IP bytes from ip.len
/// or 40 + ipv6.plen. IP fragments are counted one by one (tshark's defragmentation is
/// off; a non-first fragment belongs to the flow of the first fragment with the same
/// addresses and IP id).
pub fn tshark_flows(pcap: &Path) -> FlowFacts {
    let fields = [
        "frame.protocols",
        "ip.src",
        "ip.dst",
        "ip.len",
        "ipv6.src",
        "ipv6.dst",
        "ipv6.plen",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "ip.id",
        "ip.frag_offset",
        "ip.flags.mf",
        "ipv6.fraghdr.ident",
        "ipv6.fraghdr.offset",
        "ipv6.fraghdr.more",
    ];
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-r"]).arg(pcap).args([
        "-Y",
        "((tcp or udp) and not icmp and not icmpv6) or ip.flags.mf==1 or ip.frag_offset>0 or ipv6.fraghdr",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=;",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = wirehouse_testkit::run(&mut cmd);
    let last = |s: &str| s.rsplit(';').next().unwrap_or("").to_string();
    let mut m = FlowFacts::new();
    // (src, dst, id) of first fragments -> (proto, src endpoint, dst endpoint).
    // With it, whether the key is a tunnel's outer datagram: its later fragments add a
    // packet each, the inner packet's length having been counted whole.
    let mut firsts: BTreeMap<FragId, Option<(FlowId, bool)>> = BTreeMap::new();
    let mut later: Vec<((String, String, String), u64)> = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < fields.len() {
            continue;
        }
        let mut layers: Vec<&str> = f[0].split(':').collect();
        // sFlow datagrams quote sampled headers, which are not traffic on this link: the
        // datagram itself is the outermost IP/UDP.
        let sflow = layers.contains(&"sflow");
        if let Some(p) = layers.iter().position(|l| *l == "sflow") {
            layers.truncate(p);
        }
        let last = |s: &str| {
            if sflow {
                s.split(';').next().unwrap_or("").to_string()
            } else {
                last(s)
            }
        };
        let Some(ip) = layers.iter().rposition(|l| *l == "ip" || *l == "ipv6") else {
            continue;
        };
        let v4 = layers[ip] == "ip";
        let (src, dst, bytes) = if v4 {
            (
                last(f[1]),
                last(f[2]),
                last(f[3]).parse::<u64>().unwrap_or(0),
            )
        } else {
            (
                last(f[4]),
                last(f[5]),
                40 + last(f[6]).parse::<u64>().unwrap_or(0),
            )
        };
        let (id, offset, more) = if v4 {
            (last(f[11]), last(f[12]), last(f[13]))
        } else {
            (last(f[14]), last(f[15]), last(f[16]))
        };
        let is_frag = (!offset.is_empty() && offset != "0") || more == "1" || more == "True";
        let first = offset.is_empty() || offset == "0";
        let fkey = (src.clone(), dst.clone(), id);
        // A tunnel whose outer IPv4 datagram is fragmented: the first fragment decodes to
        // the inner flow, the later ones stop at the outer header, keyed on it.
        let outer_firsts: Vec<FragId> = if sflow {
            Vec::new()
        } else {
            let col = |i: usize| f[i].split(';').collect::<Vec<_>>();
            let (s, d, i, o, m) = (col(1), col(2), col(11), col(12), col(13));
            let n = [s.len(), d.len(), i.len(), o.len(), m.len()]
                .into_iter()
                .min()
                .unwrap_or(0);
            let outer = if v4 { n.saturating_sub(1) } else { n };
            (0..outer)
                .filter(|&k| o[k] == "0" && (m[k] == "1" || m[k] == "True"))
                .map(|k| (s[k].to_string(), d[k].to_string(), i[k].to_string()))
                .collect()
        };
        if is_frag && !first {
            // IP ids get reused: a fragment belongs to the latest first fragment before it
            // (or, when it arrived ahead of its first fragment, the one found at the end).
            match firsts.get(&fkey) {
                Some(Some(((proto, s, d), outer))) => {
                    let bytes = if *outer { 0 } else { bytes };
                    add(&mut m, *proto, s.clone(), d.clone(), 1, bytes)
                }
                Some(None) => {}
                None => later.push((fkey, bytes)),
            }
            continue;
        }
        let l4 = layers
            .iter()
            .rposition(|l| *l == "tcp" || *l == "udp")
            .filter(|&l| l > ip);
        let Some(l4) = l4 else {
            // The first fragment of something else (ICMP, ...): its later fragments are not ours.
            if is_frag {
                firsts.insert(fkey, None);
            }
            continue;
        };
        let proto = if layers[l4] == "tcp" { 6 } else { 17 };
        let (sp, dp) = if proto == 6 {
            (last(f[7]), last(f[8]))
        } else {
            (last(f[9]), last(f[10]))
        };
        let (Ok(sp), Ok(dp)) = (sp.parse::<u16>(), dp.parse::<u16>()) else {
            continue;
        };
        let flow = (proto, (src.clone(), sp), (dst.clone(), dp));
        for k in outer_firsts {
            firsts.insert(k, Some((flow.clone(), true)));
        }
        if is_frag {
            firsts.insert(fkey, Some((flow, false)));
        }
        add(&mut m, proto, (src, sp), (dst, dp), 1, bytes);
    }
    for (k, bytes) in later {
        if let Some(Some(((proto, s, d), outer))) = firsts.get(&k) {
            let bytes = if *outer { 0 } else { bytes };
            add(&mut m, *proto, s.clone(), d.clone(), 1, bytes);
        }
    }
    m
}

/// Lines describing differences between two FlowFacts (empty when equal).
pub fn diff(ours: &FlowFacts, theirs: &FlowFacts) -> Vec<String> {
    let mut d = Vec::new();
    for (k, v) in theirs {
        match ours.get(k) {
            None => d.push(format!("missing {k:?} {v:?}")),
            Some(o) if o != v => d.push(format!("differs {k:?}: tshark {v:?}, ours {o:?}")),
            _ => {}
        }
    }
    for k in ours.keys() {
        if !theirs.contains_key(k) {
            d.push(format!("extra {k:?} {:?}", ours[k]));
        }
    }
    d
}

/// Our retransmission counters per (src endpoint, dst endpoint), non-zero only.
pub fn our_retransmits(dir: &Path) -> BTreeMap<(Ep, Ep), u64> {
    let mut m = BTreeMap::new();
    for b in read_table(dir, "flows") {
        let ends = Ends::new(&b);
        let (cr, sr) = (
            col::<UInt64Array>(&b, "client_retransmits"),
            col::<UInt64Array>(&b, "server_retransmits"),
        );
        let proto = col::<UInt8Array>(&b, "ip_proto");
        for i in 0..b.num_rows() {
            if proto.value(i) != 6 {
                continue;
            }
            let (c, s) = ends.get(i);
            if cr.value(i) > 0 {
                *m.entry((c.clone(), s.clone())).or_default() += cr.value(i);
            }
            if sr.value(i) > 0 {
                *m.entry((s, c)).or_default() += sr.value(i);
            }
        }
    }
    m
}

/// Every row of `table` under `dir`, each as text (all columns), sorted.
pub fn rows_as_text(dir: &Path, table: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for b in read_table(dir, table) {
        for i in 0..b.num_rows() {
            let cols: Vec<String> = b
                .columns()
                .iter()
                .map(|c| format!("{:?}", c.slice(i, 1)))
                .collect();
            rows.push(cols.join("|").replace('\n', ""));
        }
    }
    rows.sort();
    rows
}

/// One l7_sessions row, the columns the end-to-end tests look at.
#[derive(Debug, Clone)]
pub struct Row {
    pub l7_protocol: String,
    pub version: String,
    pub request_type: String,
    pub request_domain: String,
    pub request_resource: String,
    pub endpoint: String,
    pub client_port: u16,
    pub server_port: u16,
    pub response_code: Option<i64>,
    pub response_status: String,
    pub response_result: String,
    pub response_exception: String,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub attributes: BTreeMap<String, String>,
}

impl Row {
    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attributes.get(k).map(String::as_str)
    }
}

/// Every l7_sessions row under `dir`.
pub fn l7_rows(dir: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for b in read_table(dir, "l7_sessions") {
        let code = col::<Int64Array>(&b, "response_code");
        let attrs = col::<MapArray>(&b, "attributes");
        for i in 0..b.num_rows() {
            let m = attrs.value(i);
            let keys: &StringArray = m.column(0).as_any().downcast_ref().unwrap();
            let vals: &StringArray = m.column(1).as_any().downcast_ref().unwrap();
            let attributes = (0..keys.len())
                .map(|j| (keys.value(j).to_string(), vals.value(j).to_string()))
                .collect();
            let s = |n: &str| col::<StringArray>(&b, n).value(i).to_string();
            let n = |n: &str| col::<UInt64Array>(&b, n).value(i);
            rows.push(Row {
                l7_protocol: s("l7_protocol"),
                version: s("version"),
                request_type: s("request_type"),
                request_domain: s("request_domain"),
                request_resource: s("request_resource"),
                endpoint: s("endpoint"),
                client_port: col::<UInt16Array>(&b, "client_port").value(i),
                server_port: col::<UInt16Array>(&b, "server_port").value(i),
                response_code: (!code.is_null(i)).then(|| code.value(i)),
                response_status: s("response_status"),
                response_result: s("response_result"),
                response_exception: s("response_exception"),
                request_bytes: n("request_bytes"),
                response_bytes: n("response_bytes"),
                attributes,
            });
        }
    }
    rows
}

/// tshark's `fields` (tab-separated, several values of one field joined by `,`) of each
/// frame of `pcap` that matches `filter`.
pub fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = std::process::Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    wirehouse_testkit::run(&mut cmd)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// tshark's `udp.srcport`, `udp.dstport` and `fields` of the first frame matching `filter`
/// in each UDP conversation, keyed by `key(source port, destination port)` (the side's port
/// that tells the conversations of the capture apart).
pub fn tshark_first_udp(
    pcap: &Path,
    filter: &str,
    fields: &[&str],
    key: impl Fn(u16, u16) -> u16,
) -> BTreeMap<u16, Vec<String>> {
    let mut all = vec!["udp.srcport", "udp.dstport"];
    all.extend(fields);
    let mut out = BTreeMap::new();
    for v in tshark_fields(pcap, filter, &all) {
        let port = |i: usize| v[i].parse::<u16>().expect("port");
        out.entry(key(port(0), port(1))).or_insert(v);
    }
    out
}
