//! `wirehouse capture` on real traffic: two network namespaces joined by a veth pair,
//! nginx and unbound in one, curl and dig in the other. The client side is captured at
//! the same time by tcpdump and by wirehouse with both engines (af-packet with two
//! workers in a kernel fanout group, and libpcap), plus a BPF-filtered capture; the
//! live rows must equal those of an offline conversion of tcpdump's file: same flows
//! (summing the `active` rows of long flows), same sessions.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Netns(Vec<String>, Vec<Child>);

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.1 {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.0 {
            // Every process left in the namespace (nginx's workers outlive a killed master).
            if let Ok(o) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn sh(args: &[&str]) {
    let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(st.success(), "{args:?}");
}

fn in_ns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

fn interrupt(c: &mut Child) {
    sh(&["kill", "-INT", &c.id().to_string()]);
}

fn wait_ok(mut c: Child, what: &str) -> String {
    let t0 = Instant::now();
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = c.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            assert!(st.success(), "{what} failed ({st}): {err}");
            return err;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = c.kill();
            let o = c.wait_with_output().unwrap();
            panic!(
                "{what} did not stop: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Per flow id: the key columns, and the counters summed over the flow's rows.
type Flows = BTreeMap<String, (Vec<String>, Vec<u64>)>;

fn column_text(b: &arrow_array::RecordBatch, name: &str, i: usize) -> String {
    let c = b
        .column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"));
    format!("{:?}", c.slice(i, 1))
        .lines()
        .skip(1)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("")
}

fn column_u64(b: &arrow_array::RecordBatch, name: &str, i: usize) -> u64 {
    column_text(b, name, i)
        .trim_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap()
}

fn flows(dir: &Path) -> (Flows, usize) {
    const KEY: [&str; 9] = [
        "start_time",
        "ip_proto",
        "client_ip",
        "server_ip",
        "client_port",
        "server_port",
        "l7_protocol",
        "tcp_flags_client",
        "tcp_flags_server",
    ];
    const SUM: [&str; 7] = [
        "client_packets",
        "server_packets",
        "client_bytes",
        "server_bytes",
        "client_payload_bytes",
        "server_payload_bytes",
        "ip_fragments",
    ];
    let mut out = Flows::new();
    let mut active = 0;
    for b in common::read_table(dir, "flows") {
        for i in 0..b.num_rows() {
            let id = column_text(&b, "flow_id", i);
            let reason = column_text(&b, "close_reason", i);
            active += usize::from(reason.contains("active"));
            let key: Vec<String> = KEY.iter().map(|k| column_text(&b, k, i)).collect();
            let e = out
                .entry(id)
                .or_insert_with(|| (key.clone(), vec![0; SUM.len()]));
            // Every row of a flow has the same identity; the final one has all the flags.
            if !reason.contains("active") {
                e.0 = key;
            }
            for (j, s) in SUM.iter().enumerate() {
                e.1[j] += column_u64(&b, s, i);
            }
        }
    }
    (out, active)
}

fn sessions(dir: &Path) -> Vec<String> {
    // Not response_time_us: each socket may stamp a packet a few hundred ns apart.
    const COLS: [&str; 11] = [
        "flow_id",
        "time",
        "l7_protocol",
        "request_type",
        "request_domain",
        "request_resource",
        "response_code",
        "response_status",
        "response_result",
        "request_bytes",
        "response_bytes",
    ];
    let mut rows = Vec::new();
    for b in common::read_table(dir, "l7_sessions") {
        for i in 0..b.num_rows() {
            let r: Vec<String> = COLS.iter().map(|k| column_text(&b, k, i)).collect();
            rows.push(r.join("|"));
        }
    }
    rows.sort();
    rows
}

fn capture(ns: &str, args: &[&str], out: &Path, stats: &Path) -> Child {
    let mut a = vec![
        env!("CARGO_BIN_EXE_wirehouse").to_string(),
        "capture".into(),
        "-i".into(),
        "whc0".into(),
        "-o".into(),
        format!("parquet:{}", out.display()),
        "--stats-json".into(),
        stats.display().to_string(),
    ];
    a.extend(args.iter().map(|s| s.to_string()));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    in_ns(ns, &a)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn live_rows_equal_an_offline_conversion_of_the_same_traffic() {
    let pid = std::process::id();
    let (srv, cli) = (format!("whsrv{pid}"), format!("whcli{pid}"));
    if !Command::new("ip")
        .args(["netns", "add", &srv])
        .status()
        .is_ok_and(|s| s.success())
    {
        wirehouse_testkit::missing("network namespaces (ip netns add; needs root and iproute2)");
        return;
    }
    let mut env = Netns(vec![srv.clone()], Vec::new());
    for tool in ["nginx", "unbound", "curl", "dig", "tcpdump"] {
        if !wirehouse_testkit::have_program(tool) {
            return;
        }
    }
    sh(&["ip", "netns", "add", &cli]);
    env.0.push(cli.clone());
    sh(&[
        "ip", "link", "add", "whs0", "netns", &srv, "type", "veth", "peer", "name", "whc0",
        "netns", &cli,
    ]);
    for (ns, dev, addr) in [
        (&srv, "whs0", "10.77.0.1/24"),
        (&cli, "whc0", "10.77.0.2/24"),
    ] {
        // IPv4 only: IPv6 router solicitations and MLD reports would come and go at
        // times that differ between the captures.
        sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
        ]);
        sh(&[
            "ip", "netns", "exec", ns, "ip", "addr", "add", addr, "dev", dev,
        ]);
        sh(&["ip", "netns", "exec", ns, "ip", "link", "set", dev, "up"]);
        sh(&["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
    }

    let work = common::out_dir("live");
    std::fs::create_dir_all(work.join("www")).unwrap();
    // 400 kB served at 100 kB/s: a flow that lives 4 s, long enough for `active` rows.
    std::fs::write(work.join("www/big"), vec![b'x'; 400_000]).unwrap();
    std::fs::write(work.join("www/index.html"), "hello\n").unwrap();
    std::fs::write(
        work.join("nginx.conf"),
        format!(
            "daemon off; worker_processes 1; pid {w}/nginx.pid; error_log {w}/nginx.err;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp;\n\
             fastcgi_temp_path {w}/tmp; uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp;\n\
             server {{ listen 10.77.0.1:80; root {w}/www; }} }}\n",
            w = work.display()
        ),
    )
    .unwrap();
    std::fs::write(
        work.join("unbound.conf"),
        "server:\n  interface: 10.77.0.1\n  access-control: 10.77.0.0/24 allow\n  \
         do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  pidfile: \"\"\n  use-syslog: no\n  \
         module-config: \"iterator\"\n  local-zone: \"test.\" static\n  \
         local-data: \"www.test. IN A 10.77.0.1\"\n  local-data: \"www.test. IN TXT \\\"wirehouse\\\"\"\n",
    )
    .unwrap();
    // The web files must be readable by nginx's worker user.
    sh(&["chmod", "-R", "a+rX", &work.display().to_string()]);
    env.1.push(
        in_ns(
            &srv,
            &[
                "nginx",
                "-c",
                &work.join("nginx.conf").display().to_string(),
            ],
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    env.1.push(
        in_ns(
            &srv,
            &[
                "unbound",
                "-d",
                "-c",
                &work.join("unbound.conf").display().to_string(),
            ],
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );

    let cfg = work.join("live.toml");
    std::fs::write(
        &cfg,
        "[capture]\nactive_interval_s = 1\nflush_interval_s = 1\n",
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    let (af, pc, dns_only, offline) = (
        work.join("af"),
        work.join("pcap"),
        work.join("dns"),
        work.join("offline"),
    );
    let saved = work.join("saved");
    let tcpdump_file = work.join("tcpdump.pcap");
    let mut tcpdump = in_ns(
        &cli,
        &[
            "tcpdump",
            "-i",
            "whc0",
            "-n",
            "-U",
            "--time-stamp-precision=nano",
            "-w",
            &tcpdump_file.display().to_string(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let saved_arg = saved.display().to_string();
    let mut w_af = capture(
        &cli,
        &[
            "--engine",
            "af-packet",
            "-w",
            "2",
            "-c",
            &cfg,
            "--save-pcap",
            &saved_arg,
        ],
        &af,
        &work.join("af.json"),
    );
    let mut w_pc = capture(
        &cli,
        &[
            "--engine", "pcap", "-w", "2", "-c", &cfg, "--user", "nobody",
        ],
        &pc,
        &work.join("pcap.json"),
    );
    let mut w_dns = capture(
        &cli,
        &["--engine", "af-packet", "-w", "1", "--bpf", "udp port 53"],
        &dns_only,
        &work.join("dns.json"),
    );
    // Servers up, every capture listening.
    std::thread::sleep(Duration::from_secs(3));

    let curl = |args: &[&str]| {
        let mut a = vec!["curl", "-s", "-o", "/dev/null"];
        a.extend_from_slice(args);
        let st = in_ns(&cli, &a).stdout(Stdio::null()).status().unwrap();
        assert!(st.success(), "curl {args:?}");
    };
    // Keep-alive: three requests on one connection, one of them a 404.
    curl(&[
        "http://10.77.0.1/",
        "http://10.77.0.1/index.html",
        "http://10.77.0.1/missing",
    ]);
    curl(&["-H", "X-Request-Id: live-1", "http://10.77.0.1/?q=1"]);
    curl(&["--limit-rate", "100k", "http://10.77.0.1/big"]);
    for q in [
        &["www.test", "A"][..],
        &["www.test", "TXT"],
        &["nope.test", "A"],
    ] {
        let mut a = vec!["dig", "+short", "+tries=1", "@10.77.0.1"];
        a.extend_from_slice(q);
        let st = in_ns(&cli, &a).stdout(Stdio::null()).status().unwrap();
        assert!(st.success(), "dig {q:?}");
    }
    std::thread::sleep(Duration::from_secs(2));
    for c in [&mut w_af, &mut w_pc, &mut w_dns, &mut tcpdump] {
        interrupt(c);
    }
    let err_af = wait_ok(w_af, "af-packet capture");
    let err_pc = wait_ok(w_pc, "pcap capture");
    wait_ok(w_dns, "filtered capture");
    wait_ok(tcpdump, "tcpdump");

    let out = common::convert(&[&tcpdump_file], &offline, &["-w", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (want, want_active) = flows(&offline);
    assert_eq!(want_active, 0);
    let want_sessions = sessions(&offline);
    // The traffic is what the test made: 5 HTTP flows' worth of requests and 3 queries.
    let protos: Vec<&str> = want_sessions
        .iter()
        .map(|s| s.split('|').nth(2).unwrap())
        .collect();
    assert_eq!(
        protos.iter().filter(|p| p.contains("http")).count(),
        5,
        "{want_sessions:#?}"
    );
    assert_eq!(
        protos.iter().filter(|p| p.contains("dns")).count(),
        3,
        "{want_sessions:#?}"
    );

    for (name, dir, err) in [("af-packet", &af, &err_af), ("pcap", &pc, &err_pc)] {
        let (got, active) = flows(dir);
        assert_eq!(
            got, want,
            "{name}: flows differ from the offline conversion\n{err}"
        );
        assert_eq!(
            sessions(dir),
            want_sessions,
            "{name}: sessions differ\n{err}"
        );
        // The 4 s download got `active` rows (1 s interval), and the sums still match.
        assert!(active >= 2, "{name}: {active} active rows\n{err}");
    }
    let st = json(&work.join("af.json"));
    let caps = st["capture"].as_array().unwrap();
    assert_eq!(caps.len(), 2, "one ring per worker: {st}");
    let read: u64 = caps.iter().map(|c| c["packets"].as_u64().unwrap()).sum();
    assert_eq!(read, st["packets"].as_u64().unwrap());
    for c in caps {
        assert_eq!(c["kernel_drops"], 0, "{c}");
    }
    // The kernel's fanout spread the flows over both rings... or not: with a handful of
    // flows both may hash to one. Either way every packet was read once.
    let tcpdump_packets = wirehouse_testkit::run(Command::new("tcpdump").args([
        "-n",
        "-r",
        &tcpdump_file.display().to_string(),
    ]))
    .lines()
    .count() as u64;
    assert_eq!(read, tcpdump_packets);

    // --bpf "udp port 53": the DNS flows and sessions only.
    let (dns_flows, _) = flows(&dns_only);
    let want_dns: Flows = want
        .iter()
        .filter(|(_, (k, _))| k[1].contains("17"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(dns_flows, want_dns);
    assert_eq!(
        sessions(&dns_only),
        want_sessions
            .iter()
            .filter(|s| s.contains("dns"))
            .cloned()
            .collect::<Vec<_>>()
    );

    // --save-pcap: the forensic copy converts to the same rows.
    let files: Vec<PathBuf> = std::fs::read_dir(&saved)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        !files.is_empty()
            && files
                .iter()
                .all(|f| f.extension().is_some_and(|e| e == "pcap")),
        "{files:?}"
    );
    let from_saved = work.join("from-saved");
    let inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = common::convert(&inputs, &from_saved, &["-w", "1"]);
    assert!(out.status.success());
    assert_eq!(flows(&from_saved).0, want);
    assert_eq!(sessions(&from_saved), want_sessions);

    // --user nobody: the files were written after root was dropped.
    let nobody = wirehouse_testkit::run(Command::new("id").args(["-u", "nobody"]));
    let f = walk(&pc)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&f).unwrap().uid().to_string(),
        nobody.trim()
    );
    let _ = std::fs::remove_dir_all(&work);
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Per (vlan, protocol, endpoints): packets and bytes, from a `flows` table.
fn flow_counts(dir: &Path) -> BTreeMap<String, (u64, u64, u64, u64)> {
    let mut out = BTreeMap::new();
    for b in common::read_table(dir, "flows") {
        for i in 0..b.num_rows() {
            let key = [
                "vlan_id",
                "ip_proto",
                "client_ip",
                "server_ip",
                "client_port",
                "server_port",
            ]
            .map(|k| column_text(&b, k, i))
            .join("|");
            let n = |k: &str| column_u64(&b, k, i);
            let e = out.entry(key).or_insert((0, 0, 0, 0));
            e.0 += n("client_packets");
            e.1 += n("server_packets");
            e.2 += n("client_bytes");
            e.3 += n("server_bytes");
        }
    }
    out
}

/// Corpus captures with 802.1Q and QinQ tags replayed into a veth pair: the kernel takes
/// the outer tag off received frames, and the af-packet engine must put it back — the
/// live flows (VLAN ids included) equal those of converting the file.
#[test]
fn replayed_vlan_captures_keep_their_tags() {
    let Some(corpus) = wirehouse_testkit::corpus() else {
        return;
    };
    let pid = std::process::id();
    let (tx, rx) = (format!("whrtx{pid}"), format!("whrrx{pid}"));
    if !Command::new("ip")
        .args(["netns", "add", &tx])
        .status()
        .is_ok_and(|s| s.success())
    {
        wirehouse_testkit::missing("network namespaces (ip netns add; needs root and iproute2)");
        return;
    }
    let mut env = Netns(vec![tx.clone()], Vec::new());
    if !wirehouse_testkit::have_program("tcpreplay") {
        return;
    }
    sh(&["ip", "netns", "add", &rx]);
    env.0.push(rx.clone());
    // No IPv6 on the new links: their router solicitations would be flows of their own.
    for ns in [&tx, &rx] {
        for k in ["all", "default"] {
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
            ]);
        }
    }
    sh(&[
        "ip", "link", "add", "wrt0", "netns", &tx, "type", "veth", "peer", "name", "wrr0", "netns",
        &rx,
    ]);
    sh(&["ip", "-n", &tx, "link", "set", "wrt0", "up"]);
    sh(&["ip", "-n", &rx, "link", "set", "wrr0", "up"]);
    let work = common::out_dir("replay-vlan");
    std::fs::create_dir_all(&work).unwrap();
    for (i, file) in [
        "zeek/Traces/q-in-q.pcap",
        "packetbeat/pcaps/icmp/icmp4_ping_over_vlan.pcap",
        "zeek/Traces/http-vlan-0.pcap",
    ]
    .iter()
    .enumerate()
    {
        let cap = corpus.join(file);
        let (live, offline) = (work.join(format!("live{i}")), work.join(format!("off{i}")));
        let mut c = in_ns(
            &rx,
            &[
                env!("CARGO_BIN_EXE_wirehouse"),
                "capture",
                "-i",
                "wrr0",
                "-w",
                "2",
                "-o",
                &format!("parquet:{}", live.display()),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let st = in_ns(
            &tx,
            &["tcpreplay", "-q", "-i", "wrt0", &cap.display().to_string()],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
        assert!(st.success(), "tcpreplay {file}");
        std::thread::sleep(Duration::from_millis(500));
        interrupt(&mut c);
        let err = wait_ok(c, file);
        let out = common::convert(&[&cap], &offline, &["-w", "1"]);
        assert!(out.status.success());
        let want = flow_counts(&offline);
        assert!(!want.is_empty(), "{file}");
        assert_eq!(flow_counts(&live), want, "{file}\n{err}");
    }
    // The QinQ capture's outer tag is VLAN 13: it came back.
    assert!(
        flow_counts(&work.join("off0"))
            .keys()
            .all(|k| k.starts_with("[13")),
        "{:?}",
        flow_counts(&work.join("off0"))
    );
    let _ = std::fs::remove_dir_all(&work);
}
