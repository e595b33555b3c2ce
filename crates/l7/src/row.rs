//! The `l7_sessions` table: one row per request/response exchange (DESIGN.md §4).

use std::net::IpAddr;
use std::sync::Arc;
use wirehouse_schema::{Attributes, Text, Timestamp};

wirehouse_schema::table! {
    /// One row per application request/response exchange, or per unpaired message (a request whose response never came has response_status = timeout). Joins flows on flow_id.
    table "l7_sessions" as L7Row, L7Builder;
    time_column time;
    order_by [l7_protocol, server_ip, endpoint, time];
    search [request_domain, request_resource, endpoint];
    columns {
        /// Arrival of the request's first byte (UTC, microseconds); of the response's when there is no request.
        time: Timestamp,
        /// Arrival of the response's last byte (of the request's when unanswered).
        end_time: Timestamp,
        /// Request start to response start, microseconds; null without both.
        response_time_us: Option<u64>,
        /// Request start to response end, microseconds.
        duration_us: u64,
        /// The flow this exchange belongs to (flows.flow_id).
        flow_id: u64,
        /// Capture interface or input file.
        source: Arc<str>,
        /// Outermost VLAN id of the flow's first packet (0 = untagged).
        vlan_id: u16,
        /// IP protocol number (6 TCP, 17 UDP).
        ip_proto: u8,
        /// Address of the flow's client.
        client_ip: IpAddr,
        /// Address of the flow's server.
        server_ip: IpAddr,
        /// Client port.
        client_port: u16,
        /// Server port.
        server_port: u16,
        /// Application protocol (registry name: http, dns, tls, ...).
        l7_protocol: &'static str,
        /// Protocol version (HTTP/1.1, TLS 1.3, ...).
        version: Text,
        /// Method, query type, command... (per protocol, see DESIGN.md §4).
        request_type: Text,
        /// Host, SNI, database, client id... (per protocol).
        request_domain: Text,
        /// Path and query, query name, SQL text, topic... (per protocol).
        request_resource: Text,
        /// Low-cardinality form of the resource (ids templated), for grouping.
        endpoint: Text,
        /// Protocol-level request id (DNS txid, Kafka correlation id, stream id); null when none.
        request_id: Option<u64>,
        /// ok, client_error, server_error, timeout or unknown.
        response_status: &'static str,
        /// Numeric status (HTTP status, DNS rcode, ...); null when none.
        response_code: Option<i64>,
        /// Result summary (DNS answers, TLS negotiated parameters, ...).
        response_result: Text,
        /// Error text (reason phrase of an error status, rcode name, ...).
        response_exception: Text,
        /// Request bytes on the wire (headers and body).
        request_bytes: u64,
        /// Response bytes on the wire.
        response_bytes: u64,
        /// Protocol extras (user agent, trace ids, TLS fingerprints, ...). Each key once:
        /// a response's key that its request already has is left out when the value is
        /// the same and written as `response_<key>` when not.
        attributes: Attributes,
    }
}
