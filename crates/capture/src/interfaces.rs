//! `wirehouse interfaces`: the capture devices, like libpcap's `pcap_findalldevs` —
//! name, a description, flags (up, running, loopback, wireless, connected) and every
//! address with its netmask and broadcast or point-to-point peer.

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;
use nix::sys::socket::SockaddrStorage;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// One address of an interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Address {
    /// The address.
    pub addr: IpAddr,
    /// Its netmask.
    pub netmask: Option<IpAddr>,
    /// Broadcast address.
    pub broadcast: Option<IpAddr>,
    /// Point-to-point peer.
    pub peer: Option<IpAddr>,
}

/// Whether the link has a carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Carrier present.
    Connected,
    /// No carrier.
    Disconnected,
    /// Loopback and pseudo-devices.
    NotApplicable,
    /// The kernel does not say.
    Unknown,
}

/// A capture device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interface {
    /// Name (`eth0`, `any`).
    pub name: String,
    /// Driver or kind, when known.
    pub description: String,
    /// Administratively up.
    pub up: bool,
    /// Operationally running.
    pub running: bool,
    /// Loopback.
    pub loopback: bool,
    /// A wireless device.
    pub wireless: bool,
    /// Carrier state.
    pub connection: Connection,
    /// Addresses, IPv4 first.
    pub addresses: Vec<Address>,
}

fn ip(s: Option<&SockaddrStorage>) -> Option<IpAddr> {
    let s = s?;
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

fn description(name: &str) -> String {
    let dev = Path::new("/sys/class/net").join(name);
    if let Ok(alias) = std::fs::read_to_string(dev.join("ifalias"))
        && !alias.trim().is_empty()
    {
        return alias.trim().to_string();
    }
    if let Ok(driver) = std::fs::read_link(dev.join("device/driver"))
        && let Some(d) = driver.file_name()
    {
        return d.to_string_lossy().into_owned();
    }
    // Virtual devices: the kind the kernel reports in uevent (veth, bridge, ...).
    std::fs::read_to_string(dev.join("uevent"))
        .ok()
        .and_then(|u| {
            u.lines()
                .find_map(|l| l.strip_prefix("DEVTYPE=").map(str::to_string))
        })
        .unwrap_or_default()
}

fn connection(name: &str, loopback: bool) -> Connection {
    if loopback {
        return Connection::NotApplicable;
    }
    match std::fs::read_to_string(Path::new("/sys/class/net").join(name).join("carrier")) {
        Ok(s) if s.trim() == "1" => Connection::Connected,
        Ok(s) if s.trim() == "0" => Connection::Disconnected,
        _ => Connection::Unknown,
    }
}

/// Every interface, in name order, then the `any` pseudo-device.
pub fn list() -> std::io::Result<Vec<Interface>> {
    let mut by_name: BTreeMap<String, Interface> = BTreeMap::new();
    for a in getifaddrs().map_err(std::io::Error::from)? {
        let flags = a.flags;
        let loopback = flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let e = by_name
            .entry(a.interface_name.clone())
            .or_insert_with(|| Interface {
                description: description(&a.interface_name),
                name: a.interface_name.clone(),
                up: flags.contains(InterfaceFlags::IFF_UP),
                running: flags.contains(InterfaceFlags::IFF_RUNNING),
                loopback,
                wireless: Path::new("/sys/class/net")
                    .join(&a.interface_name)
                    .join("wireless")
                    .exists(),
                connection: connection(&a.interface_name, loopback),
                addresses: Vec::new(),
            });
        if let Some(addr) = ip(a.address.as_ref()) {
            let other = ip(a.broadcast.as_ref().or(a.destination.as_ref()));
            let p2p = flags.contains(InterfaceFlags::IFF_POINTOPOINT);
            e.addresses.push(Address {
                addr,
                netmask: ip(a.netmask.as_ref()),
                broadcast: if p2p { None } else { other },
                peer: if p2p { other } else { None },
            });
        }
    }
    let mut out: Vec<Interface> = by_name.into_values().collect();
    for i in &mut out {
        i.addresses.sort_by_key(|a| (a.addr.is_ipv6(), a.addr));
        i.addresses.dedup();
    }
    out.push(Interface {
        name: "any".into(),
        description: "Pseudo-device that captures on all interfaces".into(),
        up: true,
        running: true,
        loopback: false,
        wireless: false,
        connection: Connection::NotApplicable,
        addresses: Vec::new(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_is_listed_with_its_addresses() {
        let all = super::list().unwrap();
        let lo = all.iter().find(|i| i.loopback).expect("a loopback device");
        assert!(lo.up && lo.running);
        assert!(
            lo.addresses
                .iter()
                .any(|a| a.addr == std::net::IpAddr::from([127, 0, 0, 1])
                    && a.netmask == Some([255, 0, 0, 0].into())),
            "{lo:?}"
        );
        assert_eq!(all.last().map(|i| i.name.as_str()), Some("any"));
    }
}
