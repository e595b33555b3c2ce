//! Pure Kafka wire decoder: request and response headers, API names and version ranges,
//! error names, and summaries of the bodies of the APIs this parser decodes (topics,
//! partitions, record counts, group ids, error codes). Works on a prefix of a message
//! (the first bytes of a large one): what lies past the prefix is reported as incomplete.

use std::fmt::Write as _;

/// Largest message (size prefix) accepted, bytes.
pub const MAX_MESSAGE: usize = 100 << 20;
/// Topics walked per message.
pub const MAX_TOPICS: usize = 1000;
/// Partitions walked per message (over all topics).
pub const MAX_PARTITIONS: usize = 10_000;
/// Bytes of topic names kept per message (enough for the resource column).
const MAX_TOPIC_TEXT: usize = 600;
/// Longest string kept from a field (client id, group id...), bytes.
pub const MAX_FIELD: usize = 256;

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The bytes end before the field does, but the message (as declared) goes on.
    Truncated,
    /// The field runs past the declared end of the message, or a length is invalid.
    Malformed,
}

/// One Kafka API: name, highest version known, first flexible version.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// Name as in the Kafka protocol guide (`Produce`, `Fetch`...).
    pub name: &'static str,
    /// Highest version known here.
    pub max_version: i16,
    /// First version with flexible encoding (compact strings, tagged fields); `None`: never.
    pub flexible_from: Option<i16>,
}

const fn api(name: &'static str, max_version: i16, flex: i16) -> Api {
    Api {
        name,
        max_version,
        flexible_from: if flex < 0 { None } else { Some(flex) },
    }
}

/// Every API key from 0, as of Apache Kafka 4.1.
pub static APIS: &[Api] = &[
    api("Produce", 13, 9),
    api("Fetch", 18, 12),
    api("ListOffsets", 10, 6),
    api("Metadata", 13, 9),
    api("LeaderAndIsr", 7, 4),
    api("StopReplica", 4, 2),
    api("UpdateMetadata", 8, 6),
    api("ControlledShutdown", 3, 3),
    api("OffsetCommit", 10, 8),
    api("OffsetFetch", 10, 6),
    api("FindCoordinator", 6, 3),
    api("JoinGroup", 9, 6),
    api("Heartbeat", 4, 4),
    api("LeaveGroup", 5, 4),
    api("SyncGroup", 5, 4),
    api("DescribeGroups", 6, 5),
    api("ListGroups", 5, 3),
    api("SaslHandshake", 1, -1),
    api("ApiVersions", 4, 3),
    api("CreateTopics", 7, 5),
    api("DeleteTopics", 6, 4),
    api("DeleteRecords", 2, 2),
    api("InitProducerId", 6, 2),
    api("OffsetForLeaderEpoch", 4, 4),
    api("AddPartitionsToTxn", 5, 3),
    api("AddOffsetsToTxn", 4, 3),
    api("EndTxn", 5, 3),
    api("WriteTxnMarkers", 2, 1),
    api("TxnOffsetCommit", 5, 3),
    api("DescribeAcls", 3, 2),
    api("CreateAcls", 3, 2),
    api("DeleteAcls", 3, 2),
    api("DescribeConfigs", 4, 4),
    api("AlterConfigs", 2, 2),
    api("AlterReplicaLogDirs", 2, 2),
    api("DescribeLogDirs", 4, 2),
    api("SaslAuthenticate", 2, 2),
    api("CreatePartitions", 3, 2),
    api("CreateDelegationToken", 3, 2),
    api("RenewDelegationToken", 2, 2),
    api("ExpireDelegationToken", 2, 2),
    api("DescribeDelegationToken", 3, 2),
    api("DeleteGroups", 2, 2),
    api("ElectLeaders", 2, 2),
    api("IncrementalAlterConfigs", 1, 1),
    api("AlterPartitionReassignments", 1, 0),
    api("ListPartitionReassignments", 0, 0),
    api("OffsetDelete", 0, -1),
    api("DescribeClientQuotas", 1, 1),
    api("AlterClientQuotas", 1, 1),
    api("DescribeUserScramCredentials", 0, 0),
    api("AlterUserScramCredentials", 0, 0),
    api("Vote", 2, 0),
    api("BeginQuorumEpoch", 1, 0),
    api("EndQuorumEpoch", 1, 0),
    api("DescribeQuorum", 2, 0),
    api("AlterPartition", 3, 0),
    api("UpdateFeatures", 2, 0),
    api("Envelope", 0, 0),
    api("FetchSnapshot", 1, 0),
    api("DescribeCluster", 2, 0),
    api("DescribeProducers", 0, 0),
    api("BrokerRegistration", 4, 0),
    api("BrokerHeartbeat", 1, 0),
    api("UnregisterBroker", 0, 0),
    api("DescribeTransactions", 0, 0),
    api("ListTransactions", 2, 0),
    api("AllocateProducerIds", 0, 0),
    api("ConsumerGroupHeartbeat", 1, 0),
    api("ConsumerGroupDescribe", 1, 0),
    api("ControllerRegistration", 0, 0),
    api("GetTelemetrySubscriptions", 0, 0),
    api("PushTelemetry", 0, 0),
    api("AssignReplicasToDirs", 0, 0),
    api("ListConfigResources", 1, 0),
    api("DescribeTopicPartitions", 0, 0),
    api("ShareGroupHeartbeat", 1, 0),
    api("ShareGroupDescribe", 1, 0),
    api("ShareFetch", 1, 0),
    api("ShareAcknowledge", 1, 0),
    api("AddRaftVoter", 0, 0),
    api("RemoveRaftVoter", 0, 0),
    api("UpdateRaftVoter", 0, 0),
    api("InitializeShareGroupState", 0, 0),
    api("ReadShareGroupState", 0, 0),
    api("WriteShareGroupState", 0, 0),
    api("DeleteShareGroupState", 0, 0),
    api("ReadShareGroupStateSummary", 0, 0),
    api("StreamsGroupHeartbeat", 0, 0),
    api("StreamsGroupDescribe", 0, 0),
    api("DescribeShareGroupOffsets", 0, 0),
    api("AlterShareGroupOffsets", 0, 0),
    api("DeleteShareGroupOffsets", 0, 0),
];

/// API key numbers used below.
pub mod key {
    /// Produce.
    pub const PRODUCE: i16 = 0;
    /// Fetch.
    pub const FETCH: i16 = 1;
    /// ListOffsets.
    pub const LIST_OFFSETS: i16 = 2;
    /// Metadata.
    pub const METADATA: i16 = 3;
    /// ControlledShutdown (v0 uses request header v0, without client id).
    pub const CONTROLLED_SHUTDOWN: i16 = 7;
    /// OffsetCommit.
    pub const OFFSET_COMMIT: i16 = 8;
    /// OffsetFetch.
    pub const OFFSET_FETCH: i16 = 9;
    /// FindCoordinator.
    pub const FIND_COORDINATOR: i16 = 10;
    /// JoinGroup.
    pub const JOIN_GROUP: i16 = 11;
    /// Heartbeat.
    pub const HEARTBEAT: i16 = 12;
    /// LeaveGroup.
    pub const LEAVE_GROUP: i16 = 13;
    /// SyncGroup.
    pub const SYNC_GROUP: i16 = 14;
    /// ListGroups.
    pub const LIST_GROUPS: i16 = 16;
    /// SaslHandshake.
    pub const SASL_HANDSHAKE: i16 = 17;
    /// ApiVersions (its response header is always v0).
    pub const API_VERSIONS: i16 = 18;
    /// InitProducerId.
    pub const INIT_PRODUCER_ID: i16 = 22;
    /// AddOffsetsToTxn.
    pub const ADD_OFFSETS_TO_TXN: i16 = 25;
    /// EndTxn.
    pub const END_TXN: i16 = 26;
    /// SaslAuthenticate.
    pub const SASL_AUTHENTICATE: i16 = 36;
}

/// The API of key `k`, when known.
pub fn api_info(k: i16) -> Option<&'static Api> {
    usize::try_from(k).ok().and_then(|i| APIS.get(i))
}

/// API name (`ApiKey<n>` for an unknown key).
pub fn api_name(k: i16) -> String {
    api_info(k).map_or_else(|| format!("ApiKey{k}"), |a| a.name.to_string())
}

/// True when `version` of API `k` uses the flexible encoding (request header v2,
/// response header v1 except for ApiVersions). Unknown keys: never.
pub fn is_flexible(k: i16, version: i16) -> bool {
    api_info(k)
        .and_then(|a| a.flexible_from)
        .is_some_and(|f| version >= f)
}

/// Error code name (`NONE` for 0, `UNKNOWN_ERROR_<n>` when not known).
pub fn error_name(code: i16) -> String {
    const NAMES: &[&str] = &[
        "NONE",
        "OFFSET_OUT_OF_RANGE",
        "CORRUPT_MESSAGE",
        "UNKNOWN_TOPIC_OR_PARTITION",
        "INVALID_FETCH_SIZE",
        "LEADER_NOT_AVAILABLE",
        "NOT_LEADER_OR_FOLLOWER",
        "REQUEST_TIMED_OUT",
        "BROKER_NOT_AVAILABLE",
        "REPLICA_NOT_AVAILABLE",
        "MESSAGE_TOO_LARGE",
        "STALE_CONTROLLER_EPOCH",
        "OFFSET_METADATA_TOO_LARGE",
        "NETWORK_EXCEPTION",
        "COORDINATOR_LOAD_IN_PROGRESS",
        "COORDINATOR_NOT_AVAILABLE",
        "NOT_COORDINATOR",
        "INVALID_TOPIC_EXCEPTION",
        "RECORD_LIST_TOO_LARGE",
        "NOT_ENOUGH_REPLICAS",
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        "INVALID_REQUIRED_ACKS",
        "ILLEGAL_GENERATION",
        "INCONSISTENT_GROUP_PROTOCOL",
        "INVALID_GROUP_ID",
        "UNKNOWN_MEMBER_ID",
        "INVALID_SESSION_TIMEOUT",
        "REBALANCE_IN_PROGRESS",
        "INVALID_COMMIT_OFFSET_SIZE",
        "TOPIC_AUTHORIZATION_FAILED",
        "GROUP_AUTHORIZATION_FAILED",
        "CLUSTER_AUTHORIZATION_FAILED",
        "INVALID_TIMESTAMP",
        "UNSUPPORTED_SASL_MECHANISM",
        "ILLEGAL_SASL_STATE",
        "UNSUPPORTED_VERSION",
        "TOPIC_ALREADY_EXISTS",
        "INVALID_PARTITIONS",
        "INVALID_REPLICATION_FACTOR",
        "INVALID_REPLICA_ASSIGNMENT",
        "INVALID_CONFIG",
        "NOT_CONTROLLER",
        "INVALID_REQUEST",
        "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        "POLICY_VIOLATION",
        "OUT_OF_ORDER_SEQUENCE_NUMBER",
        "DUPLICATE_SEQUENCE_NUMBER",
        "INVALID_PRODUCER_EPOCH",
        "INVALID_TXN_STATE",
        "INVALID_PRODUCER_ID_MAPPING",
        "INVALID_TRANSACTION_TIMEOUT",
        "CONCURRENT_TRANSACTIONS",
        "TRANSACTION_COORDINATOR_FENCED",
        "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        "SECURITY_DISABLED",
        "OPERATION_NOT_ATTEMPTED",
        "KAFKA_STORAGE_ERROR",
        "LOG_DIR_NOT_FOUND",
        "SASL_AUTHENTICATION_FAILED",
        "UNKNOWN_PRODUCER_ID",
        "REASSIGNMENT_IN_PROGRESS",
        "DELEGATION_TOKEN_AUTH_DISABLED",
        "DELEGATION_TOKEN_NOT_FOUND",
        "DELEGATION_TOKEN_OWNER_MISMATCH",
        "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
        "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
        "DELEGATION_TOKEN_EXPIRED",
        "INVALID_PRINCIPAL_TYPE",
        "NON_EMPTY_GROUP",
        "GROUP_ID_NOT_FOUND",
        "FETCH_SESSION_ID_NOT_FOUND",
        "INVALID_FETCH_SESSION_EPOCH",
        "LISTENER_NOT_FOUND",
        "TOPIC_DELETION_DISABLED",
        "FENCED_LEADER_EPOCH",
        "UNKNOWN_LEADER_EPOCH",
        "UNSUPPORTED_COMPRESSION_TYPE",
        "STALE_BROKER_EPOCH",
        "OFFSET_NOT_AVAILABLE",
        "MEMBER_ID_REQUIRED",
        "PREFERRED_LEADER_NOT_AVAILABLE",
        "GROUP_MAX_SIZE_REACHED",
        "FENCED_INSTANCE_ID",
        "ELIGIBLE_LEADERS_NOT_AVAILABLE",
        "ELECTION_NOT_NEEDED",
        "NO_REASSIGNMENT_IN_PROGRESS",
        "GROUP_SUBSCRIBED_TO_TOPIC",
        "INVALID_RECORD",
        "UNSTABLE_OFFSET_COMMIT",
        "THROTTLING_QUOTA_EXCEEDED",
        "PRODUCER_FENCED",
        "RESOURCE_NOT_FOUND",
        "DUPLICATE_RESOURCE",
        "UNACCEPTABLE_CREDENTIAL",
        "INCONSISTENT_VOTER_SET",
        "INVALID_UPDATE_VERSION",
        "FEATURE_UPDATE_FAILED",
        "PRINCIPAL_DESERIALIZATION_FAILURE",
        "SNAPSHOT_NOT_FOUND",
        "POSITION_OUT_OF_RANGE",
        "UNKNOWN_TOPIC_ID",
        "DUPLICATE_BROKER_REGISTRATION",
        "BROKER_ID_NOT_REGISTERED",
        "INCONSISTENT_TOPIC_ID",
        "INCONSISTENT_CLUSTER_ID",
        "TRANSACTIONAL_ID_NOT_FOUND",
        "FETCH_SESSION_TOPIC_ID_ERROR",
        "INELIGIBLE_REPLICA",
        "NEW_LEADER_ELECTED",
        "OFFSET_MOVED_TO_TIERED_STORAGE",
        "FENCED_MEMBER_EPOCH",
        "UNRELEASED_INSTANCE_ID",
        "UNSUPPORTED_ASSIGNOR",
        "STALE_MEMBER_EPOCH",
        "MISMATCHED_ENDPOINT_TYPE",
        "UNSUPPORTED_ENDPOINT_TYPE",
        "UNKNOWN_CONTROLLER_ID",
        "UNKNOWN_SUBSCRIPTION_ID",
        "TELEMETRY_TOO_LARGE",
        "INVALID_REGISTRATION",
        "TRANSACTION_ABORTABLE",
        "INVALID_RECORD_STATE",
        "SHARE_SESSION_NOT_FOUND",
        "INVALID_SHARE_SESSION_EPOCH",
        "FENCED_STATE_EPOCH",
        "INVALID_VOTER_KEY",
        "DUPLICATE_VOTER",
        "VOTER_NOT_FOUND",
        "INVALID_REGULAR_EXPRESSION",
        "REBOOTSTRAP_REQUIRED",
        "STREAMS_INVALID_TOPOLOGY",
        "STREAMS_INVALID_TOPOLOGY_EPOCH",
        "STREAMS_TOPOLOGY_FENCED",
        "SHARE_SESSION_LIMIT_REACHED",
    ];
    if code == -1 {
        return "UNKNOWN_SERVER_ERROR".to_string();
    }
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("UNKNOWN_ERROR_{code}"), |n| n.to_string())
}

/// True for errors on the broker's side (retriable, unavailable leaders or coordinators,
/// storage, timeouts, unknown server errors, and codes not known here); every other
/// non-zero code is the request's fault (unknown topic, invalid request, authorization,
/// bad group membership...).
pub fn is_server_error(code: i16) -> bool {
    matches!(
        code,
        -1 | 5..=9
            | 11
            | 13..=16
            | 19
            | 20
            | 27
            | 41
            | 51
            | 52
            | 56
            | 57
            | 60
            | 72
            | 74
            | 75
            | 77
            | 78
            | 80
            | 83
            | 88
            | 89
            | 94
            | 96
            | 101
            | 102
            | 103
            | 104
            | 106
            | 107
            | 108
            | 109
            | 116
            | 120
            | 129
            | 133
    ) || !(-1..=133).contains(&code)
}

/// A request header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// API key.
    pub api_key: i16,
    /// API version.
    pub api_version: i16,
    /// Correlation id.
    pub correlation_id: i32,
    /// Client id (`None`: null, or absent in header v0).
    pub client_id: Option<String>,
    /// Header length (after the size prefix), bytes.
    pub len: usize,
}

/// Decodes a request header from `msg` (the bytes after the size prefix; `total` is the
/// declared size). Header v0 (ControlledShutdown v0) has no client id; v1 adds it
/// (a nullable int16-length string, also in v2); v2 (flexible versions) adds tagged
/// fields.
pub fn request_header(msg: &[u8], total: usize) -> Result<RequestHeader, Error> {
    let mut r = Reader::new(msg, total, false);
    let api_key = r.i16()?;
    let api_version = r.i16()?;
    let correlation_id = r.i32()?;
    let client_id = if api_key == key::CONTROLLED_SHUTDOWN && api_version == 0 {
        None
    } else {
        r.string()?.map(|s| text(s, MAX_FIELD))
    };
    if is_flexible(api_key, api_version) {
        r.flex = true;
        r.tagged()?;
    }
    Ok(RequestHeader {
        api_key,
        api_version,
        correlation_id,
        client_id,
        len: r.pos,
    })
}

/// Length of the response header of API `k` at `version`: the correlation id, plus
/// tagged fields (header v1) for flexible versions except ApiVersions.
pub fn response_header_len(msg: &[u8], total: usize, k: i16, version: i16) -> Result<usize, Error> {
    let mut r = Reader::new(msg, total, false);
    r.i32()?;
    if k != key::API_VERSIONS && is_flexible(k, version) {
        r.flex = true;
        r.tagged()?;
    }
    Ok(r.pos)
}

/// What a request or response body says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// Topic names (or topic ids as UUID text) in order, as far as kept.
    pub topics: Vec<String>,
    /// Topics walked.
    pub topic_count: u64,
    /// Partitions walked.
    pub partitions: u64,
    /// Records in the record sets seen (`None`: this body carries no records).
    pub records: Option<u64>,
    /// Bytes of record sets (as declared, also for those past the decoded prefix).
    pub record_bytes: u64,
    /// The record count misses records past the decoded prefix or past a cap.
    pub records_partial: bool,
    /// Produce acks.
    pub acks: Option<i16>,
    /// Group id (group APIs, OffsetCommit/OffsetFetch, AddOffsetsToTxn).
    pub group_id: Option<String>,
    /// Transactional id (Produce, InitProducerId, AddOffsetsToTxn, EndTxn).
    pub transactional_id: Option<String>,
    /// First non-zero error code, else 0 when any was seen.
    pub error_code: Option<i16>,
    /// Throttle time, ms.
    pub throttle_time_ms: Option<i32>,
    /// Other attributes (name, value).
    pub extra: Vec<(&'static str, String)>,
    /// Decoding stopped before the end of the message (decoded prefix or caps).
    pub incomplete: bool,
    /// The body does not have the shape its API and version call for.
    pub malformed: bool,
    /// The partition cap was reached.
    stop: bool,
}

impl Body {
    fn error(&mut self, code: i16) {
        if self.error_code.is_none_or(|c| c == 0) {
            self.error_code = Some(code);
        }
    }

    fn topic(&mut self, name: String) {
        self.topic_count += 1;
        let kept: usize = self.topics.iter().map(|t| t.len() + 1).sum();
        if kept < MAX_TOPIC_TEXT && self.topics.last() != Some(&name) {
            self.topics.push(name);
        }
    }

    fn finish(&mut self, res: Result<(), Error>) {
        match res {
            Ok(()) => {}
            Err(Error::Truncated) => self.incomplete = true,
            Err(Error::Malformed) => self.malformed = true,
        }
        if self.incomplete && self.records.is_some() {
            self.records_partial = true;
        }
    }
}

/// Bytes as text: lossy UTF-8, cut at `max` bytes (on a character boundary).
pub fn text(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(max + 4)]);
    cut(&s, max).to_string()
}

/// `s` cut to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// A UUID as text (8-4-4-4-12 lower-case hex).
pub fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A cursor over a message prefix `b` whose declared length is `total`.
struct Reader<'a> {
    b: &'a [u8],
    total: usize,
    pos: usize,
    flex: bool,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8], total: usize, flex: bool) -> Self {
        Self {
            b,
            total: total.max(b.len()),
            pos: 0,
            flex,
        }
    }

    /// Checks that `n` more bytes are within the message; Truncated when they are past
    /// the prefix only.
    fn need(&self, n: usize) -> Result<usize, Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Malformed)?;
        if end > self.total {
            Err(Error::Malformed)
        } else if end > self.b.len() {
            Err(Error::Truncated)
        } else {
            Ok(end)
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.need(n)?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Skips `n` bytes; past the prefix: moves to its end and fails Truncated.
    fn skip(&mut self, n: usize) -> Result<(), Error> {
        match self.need(n) {
            Ok(end) => {
                self.pos = end;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.take(N)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn i8(&mut self) -> Result<i8, Error> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    fn i16(&mut self) -> Result<i16, Error> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn uuid(&mut self) -> Result<[u8; 16], Error> {
        self.array()
    }

    /// Unsigned varint, at most 5 bytes (a 32-bit value).
    fn uvarint(&mut self) -> Result<u32, Error> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.array::<1>()?[0];
            if i == 4 && b > 0x0f {
                return Err(Error::Malformed);
            }
            v |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::Malformed)
    }

    /// A length: compact (unsigned varint, length + 1, 0 = null) in flexible versions,
    /// else `wide` (int32) or int16; -1 = null.
    fn len(&mut self, wide: bool) -> Result<Option<usize>, Error> {
        if self.flex {
            let n = self.uvarint()?;
            return Ok(n.checked_sub(1).map(|n| n as usize));
        }
        let n = if wide {
            self.i32()?
        } else {
            i32::from(self.i16()?)
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(Error::Malformed),
            n => Ok(Some(n as usize)),
        }
    }

    /// A (nullable) string.
    fn string(&mut self) -> Result<Option<&'a [u8]>, Error> {
        match self.len(false)? {
            Some(n) => self.take(n).map(Some),
            None => Ok(None),
        }
    }

    fn skip_string(&mut self) -> Result<(), Error> {
        match self.len(false)? {
            Some(n) => self.skip(n),
            None => Ok(()),
        }
    }

    /// A (nullable) array's element count; each element takes at least `min` bytes.
    fn count(&mut self, min: usize) -> Result<usize, Error> {
        let n = self.len(true)?.unwrap_or(0);
        if n.saturating_mul(min.max(1)) > self.total - self.pos.min(self.total) {
            return Err(Error::Malformed);
        }
        Ok(n)
    }

    /// Skips an array of fixed-size elements.
    fn skip_array(&mut self, elem: usize) -> Result<(), Error> {
        let n = self.count(elem)?;
        self.skip(n * elem)
    }

    /// Tagged fields (flexible versions only).
    fn tagged(&mut self) -> Result<(), Error> {
        if !self.flex {
            return Ok(());
        }
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.skip(size)?;
        }
        Ok(())
    }

    /// A topic name, or a topic id when `id`.
    fn topic(&mut self, id: bool) -> Result<String, Error> {
        if id {
            return Ok(uuid_text(&self.uuid()?));
        }
        Ok(self
            .string()?
            .map(|s| text(s, MAX_FIELD))
            .unwrap_or_default())
    }

    /// The bytes from here to the end of the prefix (at most `n`).
    fn visible(&self, n: usize) -> &'a [u8] {
        let end = self.pos.saturating_add(n).min(self.b.len());
        &self.b[self.pos.min(end)..end]
    }
}

/// Counts records in a record set of `declared` bytes of which `visible` were seen:
/// RecordBatch (magic 2) headers give their records count; legacy MessageSet entries
/// (magic 0/1) count one each (a compressed wrapper counts as one). Returns the count and
/// whether entries past `visible` were missed. A trailing partial entry (Fetch responses
/// may end with one) is not counted.
pub fn count_records(visible: &[u8], declared: usize) -> (u64, bool) {
    let mut pos = 0usize;
    let mut n = 0u64;
    while pos + 12 <= declared {
        let Some(h) = visible.get(pos..pos + 12) else {
            return (n, true);
        };
        let len = i32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        if len < 0 {
            break;
        }
        let end = pos + 12 + len as usize;
        if end > declared {
            break;
        }
        let Some(&magic) = visible.get(pos + 16) else {
            return (n, true);
        };
        if magic >= 2 {
            let Some(c) = visible.get(pos + 57..pos + 61) else {
                return (n, true);
            };
            n += u64::from(i32::from_be_bytes([c[0], c[1], c[2], c[3]]).max(0) as u32);
        } else {
            n += 1;
        }
        pos = end;
    }
    (n, false)
}

/// The partition walk budget of one message.
struct Budget {
    partitions: usize,
}

impl Budget {
    fn new() -> Self {
        Self { partitions: 0 }
    }
}

/// Caps the walk: how many of `n` topics to walk; marks the body incomplete when fewer.
fn topics_cap(body: &mut Body, n: usize) -> usize {
    let left = MAX_TOPICS.saturating_sub(body.topic_count as usize);
    if n > left {
        body.incomplete = true;
    }
    n.min(left)
}

/// How many of `n` partitions to walk.
fn partitions_cap(body: &mut Body, budget: &mut Budget, n: usize) -> usize {
    let left = MAX_PARTITIONS - budget.partitions;
    let take = n.min(left);
    budget.partitions += take;
    body.partitions += take as u64;
    if take < n {
        body.incomplete = true;
        body.stop = true;
    }
    take
}

/// The partition cap was reached: stop walking.
fn stopped(body: &Body) -> bool {
    body.stop
}

/// A cap was reached: the rest of the message is not decoded.
fn capped(body: &Body) -> bool {
    body.incomplete
}

/// A record set (`records` / `bytes` field): counted, then skipped.
fn records(r: &mut Reader<'_>, body: &mut Body) -> Result<(), Error> {
    let total = body.records.get_or_insert(0);
    let Some(len) = r.len(true)? else {
        return Ok(());
    };
    let vis = r.visible(len);
    let (n, partial) = count_records(vis, len);
    *total += n;
    body.record_bytes += len as u64;
    if partial {
        body.records_partial = true;
    }
    r.skip(len)
}

/// Decodes the body of a request (`b`: the bytes after the header, `total`: the body's
/// declared length).
pub fn decode_request(api_key: i16, v: i16, b: &[u8], total: usize) -> Body {
    let mut body = Body::default();
    let mut r = Reader::new(b, total, is_flexible(api_key, v));
    let res = match api_key {
        key::PRODUCE => produce_request(&mut r, v, &mut body),
        key::FETCH => fetch_request(&mut r, v, &mut body),
        key::LIST_OFFSETS => list_offsets_request(&mut r, v, &mut body),
        key::METADATA => metadata_request(&mut r, v, &mut body),
        key::OFFSET_COMMIT => offset_commit_request(&mut r, v, &mut body),
        key::OFFSET_FETCH => offset_fetch_request(&mut r, v, &mut body),
        key::JOIN_GROUP | key::HEARTBEAT | key::LEAVE_GROUP | key::SYNC_GROUP => r
            .string()
            .map(|g| body.group_id = g.map(|g| text(g, MAX_FIELD))),
        key::FIND_COORDINATOR => find_coordinator_request(&mut r, v, &mut body),
        key::API_VERSIONS => api_versions_request(&mut r, v, &mut body),
        key::SASL_HANDSHAKE => r.string().map(|m| {
            if let Some(m) = m {
                body.extra.push(("sasl_mechanism", text(m, MAX_FIELD)));
            }
        }),
        key::INIT_PRODUCER_ID | key::END_TXN => r
            .string()
            .map(|t| body.transactional_id = t.map(|t| text(t, MAX_FIELD))),
        key::ADD_OFFSETS_TO_TXN => add_offsets_to_txn_request(&mut r, &mut body),
        _ => Ok(()),
    };
    body.finish(res);
    body
}

fn produce_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    body.records = Some(0);
    if v >= 3 {
        body.transactional_id = r.string()?.map(|t| text(t, MAX_FIELD));
    }
    body.acks = Some(r.i16()?);
    r.i32()?;
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 13)?;
        body.topic(t);
        let np = r.count(5)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            records(r, body)?;
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    r.tagged()
}

fn fetch_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v <= 14 {
        r.i32()?; // replica id
    }
    r.i32()?; // max wait
    r.i32()?; // min bytes
    if v >= 3 {
        r.i32()?;
    }
    if v >= 4 {
        r.i8()?;
    }
    if v >= 7 {
        r.i32()?; // session id
        r.i32()?; // session epoch
    }
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 13)?;
        body.topic(t);
        let np = r.count(16)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            if v >= 9 {
                r.i32()?;
            }
            r.i64()?;
            if v >= 12 {
                r.i32()?;
            }
            if v >= 5 {
                r.i64()?;
            }
            r.i32()?;
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) || v < 7 {
        return Ok(());
    }
    let n = r.count(2)?;
    if n > 0 {
        body.extra.push(("forgotten_topics", n.to_string()));
    }
    for _ in 0..n.min(MAX_TOPICS) {
        r.topic(v >= 13)?;
        r.skip_array(4)?;
        r.tagged()?;
    }
    if n > MAX_TOPICS {
        body.incomplete = true;
        return Ok(());
    }
    if v >= 11 {
        r.skip_string()?;
    }
    r.tagged()
}

fn list_offsets_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    r.i32()?;
    if v >= 2 {
        r.i8()?;
    }
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(false)?;
        body.topic(t);
        let np = r.count(12)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            if v >= 4 {
                r.i32()?;
            }
            r.i64()?;
            if v == 0 {
                r.i32()?;
            }
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    if v >= 10 {
        r.i32()?;
    }
    r.tagged()
}

fn metadata_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    let n = r.len(true)?;
    if n.is_none() || (v == 0 && n == Some(0)) {
        body.extra.push(("all_topics", "1".to_string()));
    }
    let n = n.unwrap_or(0);
    if n > r.total {
        return Err(Error::Malformed);
    }
    for _ in 0..topics_cap(body, n) {
        let id = if v >= 10 { Some(r.uuid()?) } else { None };
        let name = r.string()?;
        let t = match (name, id) {
            (Some(s), _) => text(s, MAX_FIELD),
            (None, Some(id)) => uuid_text(&id),
            (None, None) => String::new(),
        };
        body.topic(t);
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    if v >= 4 {
        r.i8()?;
    }
    if (8..=10).contains(&v) {
        r.i8()?;
    }
    if v >= 8 {
        r.i8()?;
    }
    r.tagged()
}

fn offset_commit_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    body.group_id = r.string()?.map(|g| text(g, MAX_FIELD));
    if v >= 1 {
        r.i32()?;
        r.skip_string()?;
    }
    if v >= 7 {
        r.skip_string()?;
    }
    if (2..=4).contains(&v) {
        r.i64()?;
    }
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 10)?;
        body.topic(t);
        let np = r.count(13)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            r.i64()?;
            if v >= 6 {
                r.i32()?;
            }
            if v == 1 {
                r.i64()?;
            }
            r.skip_string()?;
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    r.tagged()
}

/// Topics of an OffsetFetch request: name (or id), partition indexes.
fn offset_fetch_topics(
    r: &mut Reader<'_>,
    v: i16,
    body: &mut Body,
    budget: &mut Budget,
) -> Result<(), Error> {
    let n = r.len(true)?;
    let n = n.unwrap_or(0);
    if n > r.total {
        return Err(Error::Malformed);
    }
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 10)?;
        body.topic(t);
        let np = r.count(4)?;
        let take = partitions_cap(body, budget, np);
        r.skip(np * 4)?;
        if take < np {
            return Ok(());
        }
        r.tagged()?;
    }
    Ok(())
}

fn offset_fetch_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    let mut budget = Budget::new();
    if v <= 7 {
        body.group_id = r.string()?.map(|g| text(g, MAX_FIELD));
        offset_fetch_topics(r, v, body, &mut budget)?;
        if capped(body) {
            return Ok(());
        }
        if v >= 7 {
            r.i8()?;
        }
        return r.tagged();
    }
    let n = r.count(2)?;
    if n > 1 {
        body.extra.push(("groups", n.to_string()));
    }
    for i in 0..n.min(MAX_TOPICS) {
        let g = r.string()?.map(|g| text(g, MAX_FIELD));
        if i == 0 {
            body.group_id = g;
        }
        if v >= 9 {
            r.skip_string()?;
            r.i32()?;
        }
        offset_fetch_topics(r, v, body, &mut budget)?;
        if capped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if n > MAX_TOPICS {
        body.incomplete = true;
        return Ok(());
    }
    r.i8()?;
    r.tagged()
}

fn find_coordinator_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v <= 3 {
        if let Some(k) = r.string()? {
            body.extra.push(("coordinator_key", text(k, MAX_FIELD)));
        }
        return Ok(());
    }
    let key_type = r.i8()?;
    let n = r.count(1)?;
    if n > 0
        && let Some(k) = r.string()?
    {
        let k = text(k, MAX_FIELD);
        if key_type == 0 {
            body.group_id = Some(k.clone());
        }
        body.extra.push(("coordinator_key", k));
    }
    Ok(())
}

fn api_versions_request(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v >= 3 {
        if let Some(n) = r.string()? {
            body.extra
                .push(("client_software_name", text(n, MAX_FIELD)));
        }
        if let Some(n) = r.string()? {
            body.extra
                .push(("client_software_version", text(n, MAX_FIELD)));
        }
        r.tagged()?;
    }
    Ok(())
}

fn add_offsets_to_txn_request(r: &mut Reader<'_>, body: &mut Body) -> Result<(), Error> {
    body.transactional_id = r.string()?.map(|t| text(t, MAX_FIELD));
    r.i64()?;
    r.i16()?;
    body.group_id = r.string()?.map(|g| text(g, MAX_FIELD));
    Ok(())
}

/// Decodes the body of a response (`b`: the bytes after the response header, `total`:
/// the body's declared length) to a request of API `api_key` at version `v`.
pub fn decode_response(api_key: i16, v: i16, b: &[u8], total: usize) -> Body {
    let mut body = Body::default();
    let mut r = Reader::new(b, total, is_flexible(api_key, v));
    let res = match api_key {
        key::PRODUCE => produce_response(&mut r, v, &mut body),
        key::FETCH => fetch_response(&mut r, v, &mut body),
        key::LIST_OFFSETS => list_offsets_response(&mut r, v, &mut body),
        key::METADATA => metadata_response(&mut r, v, &mut body),
        key::OFFSET_COMMIT => offset_commit_response(&mut r, v, &mut body),
        key::OFFSET_FETCH => offset_fetch_response(&mut r, v, &mut body),
        key::JOIN_GROUP => throttle_error(&mut r, v >= 2, &mut body),
        key::HEARTBEAT | key::SYNC_GROUP => throttle_error(&mut r, v >= 1, &mut body),
        key::LEAVE_GROUP => leave_group_response(&mut r, v, &mut body),
        key::FIND_COORDINATOR => find_coordinator_response(&mut r, v, &mut body),
        key::LIST_GROUPS => throttle_error(&mut r, v >= 1, &mut body),
        key::SASL_HANDSHAKE | key::SASL_AUTHENTICATE => throttle_error(&mut r, false, &mut body),
        key::INIT_PRODUCER_ID | key::ADD_OFFSETS_TO_TXN | key::END_TXN => {
            throttle_error(&mut r, true, &mut body)
        }
        key::API_VERSIONS => api_versions_response(&mut r, v, &mut body),
        _ => Ok(()),
    };
    body.finish(res);
    body
}

fn throttle(r: &mut Reader<'_>, body: &mut Body) -> Result<(), Error> {
    body.throttle_time_ms = Some(r.i32()?);
    Ok(())
}

fn throttle_error(r: &mut Reader<'_>, has_throttle: bool, body: &mut Body) -> Result<(), Error> {
    if has_throttle {
        throttle(r, body)?;
    }
    let e = r.i16()?;
    body.error(e);
    Ok(())
}

fn produce_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 13)?;
        body.topic(t);
        let np = r.count(14)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            let e = r.i16()?;
            body.error(e);
            r.i64()?;
            if v >= 2 {
                r.i64()?;
            }
            if v >= 5 {
                r.i64()?;
            }
            if v >= 8 {
                let ne = r.count(5)?;
                for _ in 0..ne {
                    r.i32()?;
                    r.skip_string()?;
                    r.tagged()?;
                }
                r.skip_string()?;
            }
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    if v >= 1 {
        throttle(r, body)?;
    }
    r.tagged()
}

fn fetch_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    body.records = Some(0);
    if v >= 1 {
        throttle(r, body)?;
    }
    if v >= 7 {
        let e = r.i16()?;
        body.error(e);
        r.i32()?;
    }
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 13)?;
        body.topic(t);
        let np = r.count(18)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            let e = r.i16()?;
            body.error(e);
            r.i64()?;
            if v >= 4 {
                r.i64()?;
            }
            if v >= 5 {
                r.i64()?;
            }
            if v >= 4 {
                let na = r.count(16)?;
                for _ in 0..na {
                    r.i64()?;
                    r.i64()?;
                    r.tagged()?;
                }
            }
            if v >= 11 {
                r.i32()?;
            }
            records(r, body)?;
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    r.tagged()
}

fn list_offsets_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v >= 2 {
        throttle(r, body)?;
    }
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(false)?;
        body.topic(t);
        let np = r.count(6)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            let e = r.i16()?;
            body.error(e);
            if v == 0 {
                r.skip_array(8)?;
            } else {
                r.i64()?;
                r.i64()?;
            }
            if v >= 4 {
                r.i32()?;
            }
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    r.tagged()
}

fn metadata_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v >= 3 {
        throttle(r, body)?;
    }
    let nb = r.count(10)?;
    body.extra.push(("brokers", nb.to_string()));
    for _ in 0..nb {
        r.i32()?;
        r.skip_string()?;
        r.i32()?;
        if v >= 1 {
            r.skip_string()?;
        }
        r.tagged()?;
    }
    if v >= 2 {
        r.skip_string()?;
    }
    if v >= 1 {
        r.i32()?;
    }
    let mut budget = Budget::new();
    let n = r.count(4)?;
    for _ in 0..topics_cap(body, n) {
        let e = r.i16()?;
        body.error(e);
        let name = r.string()?;
        let id = if v >= 10 { Some(r.uuid()?) } else { None };
        let t = match (name, id) {
            (Some(s), _) => text(s, MAX_FIELD),
            (None, Some(id)) => uuid_text(&id),
            (None, None) => String::new(),
        };
        body.topic(t);
        if v >= 1 {
            r.i8()?;
        }
        let np = r.count(18)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            let e = r.i16()?;
            body.error(e);
            r.i32()?;
            r.i32()?;
            if v >= 7 {
                r.i32()?;
            }
            r.skip_array(4)?;
            r.skip_array(4)?;
            if v >= 5 {
                r.skip_array(4)?;
            }
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        if v >= 8 {
            r.i32()?;
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    if (8..=10).contains(&v) {
        r.i32()?;
    }
    if v >= 13 {
        let e = r.i16()?;
        body.error(e);
    }
    r.tagged()
}

fn offset_commit_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v >= 3 {
        throttle(r, body)?;
    }
    let mut budget = Budget::new();
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 10)?;
        body.topic(t);
        let np = r.count(6)?;
        for _ in 0..partitions_cap(body, &mut budget, np) {
            r.i32()?;
            let e = r.i16()?;
            body.error(e);
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    if capped(body) {
        return Ok(());
    }
    r.tagged()
}

/// Topics of an OffsetFetch response (partitions with offset, metadata, error code).
fn offset_fetch_response_topics(
    r: &mut Reader<'_>,
    v: i16,
    body: &mut Body,
    budget: &mut Budget,
) -> Result<(), Error> {
    let n = r.count(2)?;
    for _ in 0..topics_cap(body, n) {
        let t = r.topic(v >= 10)?;
        body.topic(t);
        let np = r.count(16)?;
        for _ in 0..partitions_cap(body, budget, np) {
            r.i32()?;
            r.i64()?;
            if v >= 5 {
                r.i32()?;
            }
            r.skip_string()?;
            let e = r.i16()?;
            body.error(e);
            r.tagged()?;
        }
        if stopped(body) {
            return Ok(());
        }
        r.tagged()?;
    }
    Ok(())
}

fn offset_fetch_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v >= 3 {
        throttle(r, body)?;
    }
    let mut budget = Budget::new();
    if v <= 7 {
        offset_fetch_response_topics(r, v, body, &mut budget)?;
        if capped(body) {
            return Ok(());
        }
        if v >= 2 {
            let e = r.i16()?;
            body.error(e);
        }
        return r.tagged();
    }
    let n = r.count(2)?;
    for _ in 0..n.min(MAX_TOPICS) {
        r.skip_string()?;
        offset_fetch_response_topics(r, v, body, &mut budget)?;
        if capped(body) {
            return Ok(());
        }
        let e = r.i16()?;
        body.error(e);
        r.tagged()?;
    }
    if n > MAX_TOPICS {
        body.incomplete = true;
        return Ok(());
    }
    r.tagged()
}

fn leave_group_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    throttle_error(r, v >= 1, body)?;
    if v >= 3 {
        let n = r.count(3)?;
        for _ in 0..n.min(MAX_PARTITIONS) {
            r.skip_string()?;
            r.skip_string()?;
            let e = r.i16()?;
            body.error(e);
            r.tagged()?;
        }
        if n > MAX_PARTITIONS {
            body.incomplete = true;
            return Ok(());
        }
    }
    r.tagged()
}

fn find_coordinator_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    if v <= 3 {
        return throttle_error(r, v >= 1, body);
    }
    throttle(r, body)?;
    let n = r.count(13)?;
    for _ in 0..n.min(MAX_TOPICS) {
        r.skip_string()?;
        r.i32()?;
        r.skip_string()?;
        r.i32()?;
        let e = r.i16()?;
        body.error(e);
        r.skip_string()?;
        r.tagged()?;
    }
    Ok(())
}

fn api_versions_response(r: &mut Reader<'_>, v: i16, body: &mut Body) -> Result<(), Error> {
    let e = r.i16()?;
    body.error(e);
    if e == 35 {
        // UNSUPPORTED_VERSION: the broker answers in v0, with the versions it supports.
        r.flex = false;
        let n = r.count(6)?;
        body.extra.push(("api_keys", n.to_string()));
        return Ok(());
    }
    let n = r.count(6)?;
    body.extra.push(("api_keys", n.to_string()));
    for _ in 0..n {
        r.i16()?;
        r.i16()?;
        r.i16()?;
        r.tagged()?;
    }
    if v >= 1 {
        throttle(r, body)?;
    }
    r.tagged()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Bytes from a hex string (whitespace ignored).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    #[test]
    fn request_headers_v0_v1_v2() {
        // v0 (ControlledShutdown v0, built per the guide): no client id.
        let m = hex("000700000000002a000003e9");
        let h = request_header(&m, m.len()).unwrap();
        assert_eq!((h.api_key, h.api_version, h.correlation_id), (7, 0, 42));
        assert_eq!((h.client_id, h.len), (None, 8));
        // v1: nDPI kafka.pcapng #1, ApiVersions v0, correlation 129, client rdkafka.
        let m = hex("0012000000000081000772646b61666b61");
        let h = request_header(&m, m.len()).unwrap();
        assert_eq!((h.api_key, h.api_version, h.correlation_id), (18, 0, 129));
        assert_eq!((h.client_id.as_deref(), h.len), (Some("rdkafka"), 17));
        // v1 with an empty client id: arkime kafka.pcap, ListOffsets v0.
        let m = hex("00020000000000000000ffffffff");
        let h = request_header(&m, m.len()).unwrap();
        assert_eq!(
            (h.api_key, h.client_id.as_deref(), h.len),
            (2, Some(""), 10)
        );
        // v2: deepflow 18-api-versions-v3 #1, client id adminclient-1, empty tagged fields.
        let m = hex(
            "0012000300000002000d61646d696e636c69656e742d3100126170616368652d6b61666b61\
             06332e302e3000",
        );
        let h = request_header(&m, m.len()).unwrap();
        assert_eq!((h.api_key, h.api_version, h.correlation_id), (18, 3, 2));
        assert_eq!((h.client_id.as_deref(), h.len), (Some("adminclient-1"), 24));
        // A null client id (-1), and a tagged field carrying data (tag 0, 2 bytes).
        let m = hex("0003000900000005ffff010002616200");
        let h = request_header(&m, m.len()).unwrap();
        assert_eq!((h.client_id, h.len), (None, 15));
        // Cut: truncated when the declared size goes on, malformed when it does not.
        assert_eq!(request_header(&m[..5], m.len()), Err(Error::Truncated));
        assert_eq!(request_header(&m[..5], 5), Err(Error::Malformed));
    }

    #[test]
    fn names_and_ranges() {
        assert_eq!(APIS.len(), 93);
        assert_eq!(api_name(0), "Produce");
        assert_eq!(api_name(1), "Fetch");
        assert_eq!(api_name(18), "ApiVersions");
        assert_eq!(api_name(22), "InitProducerId");
        assert_eq!(api_name(68), "ConsumerGroupHeartbeat");
        assert_eq!(api_name(500), "ApiKey500");
        assert_eq!(api_name(-3), "ApiKey-3");
        assert!(is_flexible(0, 9) && !is_flexible(0, 8));
        assert!(is_flexible(1, 12) && !is_flexible(1, 11));
        assert!(!is_flexible(17, 1));
    }

    #[test]
    fn record_counts_of_legacy_and_v2_sets() {
        // deepflow 00-produce-v2 #1: one magic-1 message (size 49), a 61-byte set.
        let set = hex(
            "000000000000000000000031dfa8ca66010000000158741cd909ffffffff0000001b\
             4d65737361676520776974686f757420636f6d7072657373696f6e",
        );
        assert_eq!(set.len(), 61);
        assert_eq!(count_records(&set, 61), (1, false));
        // Two legacy entries, the second cut by the end of the set (a Fetch may do that).
        let two = [&set[..], &set[..30]].concat();
        assert_eq!(count_records(&two, two.len()), (1, false));
        // Only a prefix of a 122-byte set seen: partial.
        let full = [&set[..], &set[..]].concat();
        assert_eq!(count_records(&full[..20], 122), (1, true));
        assert_eq!(count_records(&full[..10], 122), (0, true));
        // A negative length ends the walk.
        let mut bad = set.clone();
        bad[8] = 0xff;
        assert_eq!(count_records(&bad, 61), (0, false));
    }

    #[test]
    fn varints_are_bounded() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f], 5, true);
        assert_eq!(r.uvarint(), Ok(u32::MAX));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f], 5, true);
        assert_eq!(r.uvarint(), Err(Error::Malformed));
        let mut r = Reader::new(&[0x80, 0x80], 9, true);
        assert_eq!(r.uvarint(), Err(Error::Truncated));
        // A compact array announcing more elements than bytes left.
        let mut r = Reader::new(&[0x7f, 0, 0], 3, true);
        assert_eq!(r.count(1), Err(Error::Malformed));
        assert_eq!(
            uuid_text(&[0xab; 16]),
            "abababab-abab-abab-abab-abababababab"
        );
        assert_eq!(cut("héllo", 2), "h");
    }
}
