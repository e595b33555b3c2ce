//! The `flows` table: one row per L4 flow (DESIGN.md §4).

use std::net::IpAddr;
use std::sync::Arc;
use wirehouse_schema::Timestamp;

wirehouse_schema::table! {
    /// One row per L4 flow (TCP connection, UDP or ICMP conversation). Live capture also writes periodic rows for long flows (close_reason = active) carrying the counters since the previous row, so sums over rows are totals.
    table "flows" as FlowRow, FlowBuilder;
    time_column start_time;
    order_by [l7_protocol, server_ip, server_port, start_time];
    columns {
        /// Flow identifier; the same value appears in l7_sessions.flow_id.
        flow_id: u64,
        /// Time of the flow's first packet (UTC, microseconds).
        start_time: Timestamp,
        /// Time of the flow's last packet (UTC, microseconds).
        end_time: Timestamp,
        /// end_time - start_time in microseconds.
        duration_us: u64,
        /// Capture interface or input file the flow was read from.
        source: Arc<str>,
        /// Outermost 802.1Q/802.1ad VLAN id of the first packet (0 = untagged).
        vlan_id: u16,
        /// 4 or 6 (of the innermost IP header when tunnelled).
        ip_version: u8,
        /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
        ip_proto: u8,
        /// Address of the side that opened the flow.
        client_ip: IpAddr,
        /// Address of the side that accepted the flow.
        server_ip: IpAddr,
        /// Client port (ICMP: echo id, or type).
        client_port: u16,
        /// Server port (ICMP: echo id, or code).
        server_port: u16,
        /// Application protocol recognised on the flow (empty when none).
        l7_protocol: &'static str,
        /// Packets sent by the client (each IP fragment counts once).
        client_packets: u64,
        /// Packets sent by the server.
        server_packets: u64,
        /// IP bytes sent by the client (IP total lengths, as on the wire).
        client_bytes: u64,
        /// IP bytes sent by the server.
        server_bytes: u64,
        /// Transport payload bytes sent by the client (retransmissions included).
        client_payload_bytes: u64,
        /// Transport payload bytes sent by the server.
        server_payload_bytes: u64,
        /// OR of the TCP flags the client sent (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128).
        tcp_flags_client: u8,
        /// OR of the TCP flags the server sent.
        tcp_flags_server: u8,
        /// Client SYN to the client's ACK of the SYN+ACK, in microseconds, as seen at the capture point; null when the handshake was not captured.
        handshake_rtt_us: Option<u64>,
        /// TCP segments the client sent again.
        client_retransmits: u64,
        /// TCP segments the server sent again.
        server_retransmits: u64,
        /// Client segments that arrived ahead of a missing one.
        client_out_of_order: u64,
        /// Server segments that arrived ahead of a missing one.
        server_out_of_order: u64,
        /// Client stream bytes never captured (gaps).
        client_missing_bytes: u64,
        /// Server stream bytes never captured (gaps).
        server_missing_bytes: u64,
        /// IP fragments that made up the flow's packets.
        ip_fragments: u64,
        /// Why the row was written: fin, rst, timeout, end_of_input, evicted, active or shutdown.
        close_reason: &'static str,
    }
}
