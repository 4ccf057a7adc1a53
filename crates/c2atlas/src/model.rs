//! The normalised event model: every ingest source produces these, every
//! detector consumes them. No detector ever sees a raw format.
//!
//! Events borrow from the line they were parsed from (`Cow<'a, str>`), so the
//! hot path (flows) allocates nothing. Timestamps are microseconds since the
//! Unix epoch, UTC (inputs without a zone are taken as UTC).

use std::borrow::Cow;
use std::net::IpAddr;

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

/// Where an event came from: the input's index in the run and the 1-based
/// line number (or record number for non-line formats). This is the unit of
/// evidence: every figure in a census can be traced back to these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordRef {
    /// Index into the run's list of inputs.
    pub input: u32,
    /// 1-based line (or record) number inside that input.
    pub line: u64,
}

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    /// Any other IP protocol, by number (0 when the input named one we do not know).
    Other(u8),
}

impl Proto {
    /// Lower-case name as Zeek and Argus write it.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Other(_) => "other",
        }
    }
}

/// One (bidirectional) connection or flow record. `src` is the originator.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow<'a> {
    pub ts: Micros,
    /// Duration in microseconds; 0 when unknown. Never negative (parsers clamp and count).
    pub duration: Micros,
    pub proto: Proto,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// Bytes sent by the originator (payload or IP bytes, whatever the source has).
    pub src_bytes: u64,
    /// Bytes sent by the responder.
    pub dst_bytes: u64,
    /// Packets in both directions; 0 when unknown.
    pub packets: u64,
    /// Ground-truth label carried by labelled datasets (CTU-13 `Label`, IoT-23 `label detailedlabel`).
    pub label: Option<Cow<'a, str>>,
}

/// A DNS query and its answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Dns<'a> {
    pub ts: Micros,
    /// The client that asked.
    pub src: IpAddr,
    pub sport: u16,
    /// The server that was asked.
    pub dst: IpAddr,
    pub dport: u16,
    /// Query name, as logged (not normalised).
    pub query: Cow<'a, str>,
    /// Query type name (`A`, `TXT`, …) when logged.
    pub qtype: Option<Cow<'a, str>>,
    /// Response code name (`NOERROR`, `NXDOMAIN`, …) when logged.
    pub rcode: Option<Cow<'a, str>>,
    /// Answers as logged: addresses and names mixed, in order.
    pub answers: Vec<Cow<'a, str>>,
    pub label: Option<Cow<'a, str>>,
}

/// One HTTP request (and its response status when known).
#[derive(Clone, Debug, PartialEq)]
pub struct Http<'a> {
    pub ts: Micros,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub method: Option<Cow<'a, str>>,
    /// The `Host` header.
    pub host: Option<Cow<'a, str>>,
    pub uri: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub status: Option<u16>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub label: Option<Cow<'a, str>>,
}

/// A TLS handshake (Zeek ssl.log).
#[derive(Clone, Debug, PartialEq)]
pub struct Tls<'a> {
    pub ts: Micros,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// Server Name Indication.
    pub server_name: Option<Cow<'a, str>>,
    pub label: Option<Cow<'a, str>>,
}

/// One exchange inside a TCP connection: a burst of new payload (either
/// direction) preceded by an idle gap, as the pcap reader sees it. A
/// connection kept open for an hour shows as one flow; its exchanges show the
/// heartbeats and tasks inside it. Only packet captures produce these (flow
/// and log sources cannot), always before the connection's `Flow` event.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    /// Time of the exchange's first payload packet.
    pub ts: Micros,
    /// The connection's originator and responder.
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// New payload bytes of the exchange (retransmissions and keep-alive
    /// probes not counted) from the originator and from the responder.
    pub src_bytes: u64,
    pub dst_bytes: u64,
    /// 0 for the connection's first exchange, then 1, 2, …
    pub index: u32,
}

/// Any normalised telemetry event.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<'a> {
    Flow(Flow<'a>),
    Dns(Dns<'a>),
    Http(Http<'a>),
    Tls(Tls<'a>),
    Exchange(Exchange),
}

impl Event<'_> {
    /// Timestamp of the event.
    pub fn ts(&self) -> Micros {
        match self {
            Event::Flow(e) => e.ts,
            Event::Dns(e) => e.ts,
            Event::Http(e) => e.ts,
            Event::Tls(e) => e.ts,
            Event::Exchange(e) => e.ts,
        }
    }
}
