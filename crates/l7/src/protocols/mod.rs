//! The registry: one folder per protocol, one line each in [`REGISTRY`].

use crate::Protocol;

pub mod dns;
pub mod dtls;
pub mod ftp;
pub mod ftp_data;
pub mod http;
pub mod kafka;
pub mod mongodb;
pub mod quic;
pub mod tls;

/// Every protocol, in the order probes run when no port hint applies.
pub static REGISTRY: &[&dyn Protocol] = &[
    // First: certain only of endpoints an FTP control session announced.
    &ftp_data::PROTOCOL,
    &http::PROTOCOL,
    &tls::PROTOCOL,
    &dns::PROTOCOL,
    &dtls::PROTOCOL,
    &quic::PROTOCOL,
    &mongodb::PROTOCOL,
    &kafka::PROTOCOL,
    &ftp::PROTOCOL,
];

/// The registered protocol called `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Protocol> {
    REGISTRY.iter().copied().find(|p| p.info().name == name)
}
