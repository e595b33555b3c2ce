//! Flows: the direction-independent [`FlowKey`] and its symmetric hash, the [`FlowTable`]
//! that tracks per-direction counters, TCP flags and handshake RTT with timeouts driven
//! by packet time, and the `flows` table ([`FlowRow`]).
//!
//! Orientation: the client is the sender of a SYN (or the receiver of a SYN+ACK); for a
//! flow picked up without its handshake, the side using a service port (below 1024, or
//! below 32768 facing a port at or above 32768) is the server; otherwise the first sender
//! is the client.

pub mod defrag;
pub mod harness;
mod key;
pub mod reassembly;
mod row;
mod table;

pub use defrag::{DefragConfig, DefragStats, Defragmenter, Reassembled};
pub use key::{FlowKey, ShardHint, Side};
pub use reassembly::{HalfStats, HalfStream, ReassemblyConfig, StreamEvent};
pub use row::{FlowBuilder, FlowRow};
pub use table::{
    CloseReason, Flow, FlowConfig, FlowStats, FlowTable, NoStreams, PacketCount, ReassemblyTotals,
    StreamHandler,
};
