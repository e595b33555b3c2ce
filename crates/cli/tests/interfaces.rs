//! `wirehouse interfaces` inside a network namespace this test creates: a veth pair whose
//! flags, carrier and addresses the test sets with `ip`, then reads back as JSON.

use std::process::Command;

fn ip(ns: &str, args: &[&str]) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ip"])
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn interfaces(ns: &str) -> serde_json::Value {
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_wirehouse"),
            "interfaces",
            "--json",
        ])
        .output()
        .expect("run wirehouse in the namespace");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn find<'a>(all: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    all.as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {all}"))
}

#[test]
fn flags_carrier_and_addresses_of_a_veth_pair() {
    let ns = format!("whif{}", std::process::id());
    let created = Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .is_ok_and(|s| s.success());
    if !created {
        wirehouse_testkit::missing("network namespaces (ip netns add; needs root and iproute2)");
        return;
    }
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _cleanup = Cleanup(ns.clone());
    assert!(ip(
        &ns,
        &["link", "add", "wa0", "type", "veth", "peer", "name", "wb0"]
    ));
    assert!(ip(
        &ns,
        &["addr", "add", "10.123.0.1/24", "brd", "+", "dev", "wa0"]
    ));
    assert!(ip(
        &ns,
        &["-6", "addr", "add", "fd12::1/64", "dev", "wa0", "nodad"]
    ));
    assert!(ip(&ns, &["link", "set", "wa0", "up"]));

    // The peer is down: wa0 is up but has no carrier.
    let all = interfaces(&ns);
    let wa = find(&all, "wa0");
    assert_eq!(
        (wa["up"].as_bool(), wa["running"].as_bool()),
        (Some(true), Some(false)),
        "{wa}"
    );
    assert_eq!(wa["connection"], "disconnected", "{wa}");
    assert_eq!(find(&all, "wb0")["up"], false);
    let addrs = wa["addresses"].as_array().unwrap();
    assert_eq!(addrs[0]["addr"], "10.123.0.1", "{wa}");
    assert_eq!(addrs[0]["netmask"], "255.255.255.0");
    assert_eq!(addrs[0]["broadcast"], "10.123.0.255");
    assert!(
        addrs
            .iter()
            .any(|a| a["addr"] == "fd12::1" && a["netmask"] == "ffff:ffff:ffff:ffff::"),
        "{wa}"
    );
    assert_eq!(find(&all, "lo")["loopback"], true);
    assert_eq!(find(&all, "any")["connection"], "not_applicable");

    // Both ends up: running and connected.
    assert!(ip(&ns, &["link", "set", "wb0", "up"]));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let all = interfaces(&ns);
    let wa = find(&all, "wa0");
    assert_eq!(
        (wa["running"].as_bool(), &wa["connection"]),
        (Some(true), &serde_json::json!("connected")),
        "{wa}"
    );
}
