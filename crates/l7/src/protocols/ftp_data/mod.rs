//! FTP data connections (`ftp-data`): recognised by the endpoint an FTP control session
//! announced in the run's [`Shared`](crate::Shared) registry (whatever worker saw it),
//! counted, and published there when the stream ends, for the control session to put on
//! its transfer command's row. A data connection writes no `l7_sessions` rows; its flow's
//! `l7_protocol` is `ftp-data`. See `../ftp/README.md`.

use crate::Shared;
use crate::shared::{Announcement, Transfer};
use crate::{Cx, Parse, Probe, ProbeInput, Protocol, ProtocolInfo, Session, Span, Transport};

/// The FTP data-connection protocol.
pub struct FtpData;

/// Registry entry.
pub static PROTOCOL: FtpData = FtpData;

static INFO: ProtocolInfo = ProtocolInfo {
    name: "ftp-data",
    id: 51,
    transport: Transport::Tcp,
    default_ports: &[],
};

impl Protocol for FtpData {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    /// Certain when the flow's server endpoint was announced by an FTP control session.
    /// While FTP runs somewhere in this run, a flow to a port above 1023 is Unsure (the
    /// control session's worker may not have announced the endpoint yet; detection is
    /// retried as bytes arrive, up to `detect_bytes`); any other protocol certain of the
    /// bytes wins over that.
    fn probe(&self, input: &ProbeInput<'_>) -> Probe {
        let Some(shared) = input.shared.filter(|_| input.tcp) else {
            return Probe::NotMine;
        };
        // The dispatcher sends a data connection to its control connection's worker, so
        // the announcement is always processed before the data flow's first byte.
        if shared.is_announced(input.server) {
            Probe::Certain
        } else {
            Probe::NotMine
        }
    }

    fn session(&self) -> Box<dyn Session> {
        Box::<DataSession>::default()
    }
}

/// Per-connection state: the claimed announcement and what moved.
#[derive(Debug, Default)]
pub struct DataSession {
    claimed: bool,
    announcement: Option<Announcement>,
    bytes: u64,
    first_ns: Option<i64>,
    last_ns: i64,
    /// Bytes at the last publication.
    published: Option<u64>,
}

impl DataSession {
    fn claim(&mut self, cx: &mut Cx<'_>) {
        if self.claimed {
            return;
        }
        self.claimed = true;
        let (c, s) = cx.endpoints();
        self.announcement = cx.shared().claim(s).or_else(|| cx.shared().claim(c));
    }

    fn count(&mut self, n: u64, start_ns: i64, end_ns: i64) {
        self.bytes += n;
        self.first_ns.get_or_insert(start_ns);
        self.last_ns = self.last_ns.max(end_ns);
    }
}

impl Session for DataSession {
    fn parse(&mut self, cx: &mut Cx<'_>, _fc: bool, buf: &[u8], span: Span) -> Parse {
        self.claim(cx);
        self.count(buf.len() as u64, span.start_ns, span.end_ns);
        Parse::Consumed(buf.len())
    }

    fn gap(&mut self, cx: &mut Cx<'_>, _fc: bool, len: u64, ts_ns: i64) -> bool {
        self.claim(cx);
        self.count(len, ts_ns, ts_ns);
        true
    }

    /// Publishes the transfer (again only if more bytes came since: the first direction
    /// to end is the one that carried the data).
    fn end(&mut self, cx: &mut Cx<'_>, _fc: bool, buf: &[u8], span: Span) {
        let ts_ns = span.end_ns;
        self.claim(cx);
        if !buf.is_empty() {
            self.count(buf.len() as u64, span.start_ns, ts_ns);
        }
        let Some(a) = self.announcement else {
            return;
        };
        if self.published == Some(self.bytes) {
            return;
        }
        self.published = Some(self.bytes);
        let first_ns = self.first_ns.unwrap_or(ts_ns);
        cx.shared().publish(
            &a,
            Transfer {
                data_flow_id: cx.flow_id(),
                bytes: self.bytes,
                first_ns,
                last_ns: self.last_ns.max(first_ns),
            },
        );
    }
}

/// A TCP flow no protocol claimed is ending: if its endpoint was announced by an FTP
/// control session in the meantime (the control connection's worker was behind when this
/// flow's bytes were probed, or the connection carried no bytes: an empty listing), the
/// transfer is published from the flow's counters. Returns true when it was.
pub(crate) fn adopt_at_close(shared: &Shared, flow: &wirehouse_flow::Flow) -> bool {
    if flow.key.proto != 6 || !shared.ftp_seen() {
        return false;
    }
    let (c, s) = (
        flow.key.endpoint(flow.client),
        flow.key.endpoint(flow.client.other()),
    );
    let Some(a) = shared.claim(s).or_else(|| shared.claim(c)) else {
        return false;
    };
    shared.publish(
        &a,
        Transfer {
            data_flow_id: flow.id,
            bytes: flow.dir[0].payload_bytes + flow.dir[1].payload_bytes,
            first_ns: flow.start_ns,
            last_ns: flow.last_ns.max(flow.start_ns),
        },
    );
    true
}
