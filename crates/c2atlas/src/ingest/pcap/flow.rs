//! The flow table: packets → bidirectional flows, plus the per-flow state of
//! the DNS, HTTP and TLS readers.
//!
//! A flow is keyed by its unordered 5-tuple (ICMP: addresses only, so echo
//! requests and replies pair). The originator is the sender of the flow's
//! first packet, except that a TCP flow first seen with a SYN-ACK belongs to
//! the SYN-ACK's receiver. Byte counts are transport payload bytes as claimed
//! by the IP header (like Zeek's `orig_bytes`/`resp_bytes`, but summed per
//! packet, so TCP retransmissions count twice); ICMP counts the bytes after
//! the 8-byte ICMP header, other protocols the whole IP payload.
//!
//! Flows end by idle timeout, by TCP RST or FIN from both sides (after a
//! short linger that absorbs the last ACKs), by active timeout (a record is
//! emitted and the flow goes on with fresh counters), by eviction when the
//! table is full, or at the end of the capture.
//!
//! A TCP flow's *exchanges* ([`Exchange`]: bursts of new payload separated by
//! at least [`EXCHANGE_IDLE`] without any) are emitted as they end, so the
//! heartbeats inside one long-lived connection are visible to the beacon
//! detector. New payload is a segment reaching beyond the highest sequence
//! number seen in its direction: retransmissions and keep-alive probes (one
//! byte, or none, below it) make no exchange.
//!
//! Ordering invariant: a flow's DNS, HTTP, TLS and exchange events are always
//! handed to the sink before that flow's `Flow` event (they are emitted as
//! soon as they are complete; pending ones are flushed just before the flow).
//! Flows ending together are emitted in order of their first packet, so the
//! output is deterministic.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::decode::{Packet, tcp_flags};
use super::{dns, http, tls};
use crate::ingest::Sink;
use crate::model::{Dns, Event, Exchange, Flow, Http, Micros, Proto, RecordRef, Tls};

const SECOND: Micros = 1_000_000;

/// Idle timeout of a TCP flow: Zeek's `tcp_inactivity_timeout` (5 min).
pub const TCP_IDLE: Micros = 300 * SECOND;
/// Idle timeout of a UDP flow: Zeek's `udp_inactivity_timeout` (1 min).
pub const UDP_IDLE: Micros = 60 * SECOND;
/// Idle timeout of ICMP and other protocols: Zeek's `icmp_inactivity_timeout` (1 min).
pub const OTHER_IDLE: Micros = 60 * SECOND;
/// Active timeout: a flow longer than this is reported in slices (30 min, as
/// common NetFlow exporters do), so that a week-long C2 session shows up
/// before the capture ends.
pub const ACTIVE_TIMEOUT: Micros = 1800 * SECOND;
/// How long a closed TCP flow stays in the table to absorb its last ACKs
/// (Zeek's `tcp_close_delay`, 5 s).
pub const CLOSE_LINGER: Micros = 5 * SECOND;
/// Capture time between two sweeps of the table for expired flows.
pub const SWEEP_INTERVAL: Micros = 10 * SECOND;
/// Flows held at once. At ≤ 256 bytes per flow (key, counters, exchange
/// state, hash-table overhead; `flow_entry_is_small`) this caps the table
/// near 256 MiB; on overflow the least
/// recently active sixteenth is emitted early and counted.
pub const MAX_FLOWS: usize = 1 << 20;
/// A TCP flow's exchange ends after this long without new payload. Well
/// below the beacon detector's burst gap (2 s), which merges closer ones; well
/// above a LAN or WAN round trip, so a request and its response are one.
pub const EXCHANGE_IDLE: Micros = SECOND;
/// DNS queries awaiting a response per flow; more emits the oldest unanswered.
pub const MAX_PENDING_DNS: usize = 32;
/// HTTP requests awaiting a status per flow (pipelining depth).
pub const MAX_PENDING_HTTP: usize = 16;

/// Tunable limits (the constants above by default; tests shrink them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_flows: usize,
    pub tcp_idle: Micros,
    pub udp_idle: Micros,
    pub other_idle: Micros,
    pub active_timeout: Micros,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: MAX_FLOWS,
            tcp_idle: TCP_IDLE,
            udp_idle: UDP_IDLE,
            other_idle: OTHER_IDLE,
            active_timeout: ACTIVE_TIMEOUT,
        }
    }
}

/// Unordered 5-tuple: `(a, ap) <= (b, bp)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    a: IpAddr,
    b: IpAddr,
    ap: u16,
    bp: u16,
    proto: Proto,
}

impl Key {
    fn of(p: &Packet<'_>) -> Key {
        let (sp, dp) = if p.proto == Proto::Icmp {
            (0, 0)
        } else {
            (p.sport, p.dport)
        };
        let (x, y) = ((p.src, sp), (p.dst, dp));
        let ((a, ap), (b, bp)) = if x <= y { (x, y) } else { (y, x) };
        Key {
            a,
            b,
            ap,
            bp,
            proto: p.proto,
        }
    }
}

#[derive(Debug)]
struct FlowState {
    orig: IpAddr,
    orig_port: u16,
    resp: IpAddr,
    resp_port: u16,
    first_ts: Micros,
    last_ts: Micros,
    first_pkt: u64,
    orig_bytes: u64,
    resp_bytes: u64,
    packets: u64,
    fin_orig: bool,
    fin_resp: bool,
    closed_at: Option<Micros>,
    /// Whether the originator has sent payload yet (only its first segment may open TLS).
    orig_payload: bool,
    /// The exchange in progress (TCP only).
    xch: ExchangeState,
    /// Application state, only for flows with payload on a port we read.
    app: Option<Box<App>>,
}

/// Per-TCP-flow exchange tracking (see the module docs).
#[derive(Debug, Default)]
struct ExchangeState {
    /// Highest sequence number (exclusive end) seen from each side, once known.
    orig_hi: Option<u32>,
    resp_hi: Option<u32>,
    /// The exchange in progress: first and latest new-payload packet, bytes, packet number.
    start: Micros,
    last: Micros,
    orig_bytes: u64,
    resp_bytes: u64,
    pkt: u64,
    /// Exchanges emitted so far; `open` when one is in progress.
    emitted: u32,
    open: bool,
}

impl ExchangeState {
    /// Whether a segment of `len` bytes at `seq` carries new payload, and
    /// records it as seen. The first segment from a side always does.
    fn is_new(&mut self, from_orig: bool, seq: u32, len: u32) -> bool {
        let hi = if from_orig {
            &mut self.orig_hi
        } else {
            &mut self.resp_hi
        };
        let end = seq.wrapping_add(len);
        match *hi {
            // `end` after `hi` in sequence space (RFC 1982 comparison).
            Some(h) if end.wrapping_sub(h) == 0 || end.wrapping_sub(h) >= 1 << 31 => false,
            _ => {
                *hi = Some(end);
                true
            }
        }
    }
}

#[derive(Debug, Default)]
struct App {
    tls: TlsState,
    http: VecDeque<PendingHttp>,
    dns: VecDeque<PendingDns>,
}

#[derive(Debug, Default)]
enum TlsState {
    #[default]
    Idle,
    Collecting {
        buf: Vec<u8>,
        want: usize,
        next_seq: u32,
        pkt: u64,
        ts: Micros,
    },
    Done,
}

#[derive(Debug)]
struct PendingHttp {
    pkt: u64,
    ts: Micros,
    req: http::Request,
}

#[derive(Debug)]
struct PendingDns {
    pkt: u64,
    ts: Micros,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    msg: dns::Message,
}

/// Counts kept by the tracker for the input's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackerStats {
    pub flows: u64,
    pub dns: u64,
    pub http: u64,
    pub tls: u64,
    /// Exchanges inside TCP flows (see [`EXCHANGE_IDLE`]).
    pub exchanges: u64,
    /// Flows emitted early because the table was full.
    pub evicted: u64,
    /// DNS payloads on port 53 that could not be read, and the first one's packet and reason.
    pub dns_errors: u64,
    pub first_dns_error: Option<(u64, &'static str)>,
}

/// The flow table of one input.
pub struct Tracker {
    input: u32,
    limits: Limits,
    flows: HashMap<Key, FlowState, foldhash::fast::FixedState>,
    now: Micros,
    next_sweep: Micros,
    pub stats: TrackerStats,
}

impl Tracker {
    pub fn new(input: u32, limits: Limits) -> Tracker {
        Tracker {
            input,
            limits,
            flows: HashMap::default(),
            now: Micros::MIN,
            next_sweep: Micros::MIN,
            stats: TrackerStats::default(),
        }
    }

    fn rec(&self, pkt: u64) -> RecordRef {
        RecordRef {
            input: self.input,
            line: pkt,
        }
    }

    fn idle(&self, proto: Proto) -> Micros {
        match proto {
            Proto::Tcp => self.limits.tcp_idle,
            Proto::Udp => self.limits.udp_idle,
            _ => self.limits.other_idle,
        }
    }

    fn expired(&self, k: &Key, f: &FlowState, now: Micros) -> bool {
        match f.closed_at {
            Some(c) => now.saturating_sub(c) >= CLOSE_LINGER,
            None => now.saturating_sub(f.last_ts) >= self.idle(k.proto),
        }
    }

    /// Accounts packet number `no` (1-based) captured at `ts`.
    pub(crate) fn packet(&mut self, no: u64, ts: Micros, p: &Packet<'_>, sink: &mut dyn Sink) {
        self.now = self.now.max(ts);
        if self.now >= self.next_sweep {
            self.sweep(sink, false);
            self.next_sweep = self.now.saturating_add(SWEEP_INTERVAL);
        }
        let key = Key::of(p);
        let syn_only =
            p.proto == Proto::Tcp && p.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        let mut flow = match self.flows.remove(&key) {
            Some(f) => {
                let restart = (f.closed_at.is_some() && syn_only)
                    || ts.saturating_sub(f.last_ts) >= self.idle(key.proto);
                if restart {
                    self.emit(key, f, sink);
                    self.new_flow(no, ts, p, sink)
                } else if ts.saturating_sub(f.first_ts) >= self.limits.active_timeout {
                    self.slice(key, f, no, ts, sink)
                } else {
                    f
                }
            }
            None => self.new_flow(no, ts, p, sink),
        };
        self.update(&mut flow, no, ts, p, sink);
        self.flows.insert(key, flow);
    }

    /// A new flow for `p` (evicting first when the table is full).
    fn new_flow(&mut self, no: u64, ts: Micros, p: &Packet<'_>, sink: &mut dyn Sink) -> FlowState {
        if self.flows.len() >= self.limits.max_flows {
            self.evict(sink);
        }
        let synack = p.proto == Proto::Tcp
            && p.flags & (tcp_flags::SYN | tcp_flags::ACK) == (tcp_flags::SYN | tcp_flags::ACK);
        let ((orig, orig_port), (resp, resp_port)) = if synack {
            ((p.dst, p.dport), (p.src, p.sport))
        } else {
            ((p.src, p.sport), (p.dst, p.dport))
        };
        FlowState {
            orig,
            orig_port,
            resp,
            resp_port,
            first_ts: ts,
            last_ts: ts,
            first_pkt: no,
            orig_bytes: 0,
            resp_bytes: 0,
            packets: 0,
            fin_orig: false,
            fin_resp: false,
            closed_at: None,
            orig_payload: false,
            xch: ExchangeState::default(),
            app: None,
        }
    }

    /// Active timeout: emits the flow so far and returns it with fresh
    /// counters (its pending name events stay with the continuation).
    fn slice(
        &mut self,
        key: Key,
        mut f: FlowState,
        no: u64,
        ts: Micros,
        sink: &mut dyn Sink,
    ) -> FlowState {
        let app = f.app.take();
        self.emit_flow_only(key, &f, sink);
        FlowState {
            first_ts: ts,
            last_ts: ts,
            first_pkt: no,
            orig_bytes: 0,
            resp_bytes: 0,
            packets: 0,
            app,
            ..f
        }
    }

    fn update(
        &mut self,
        f: &mut FlowState,
        no: u64,
        ts: Micros,
        p: &Packet<'_>,
        sink: &mut dyn Sink,
    ) {
        let from_orig = if p.proto == Proto::Icmp {
            p.src == f.orig
        } else {
            (p.src, p.sport) == (f.orig, f.orig_port)
        };
        f.last_ts = f.last_ts.max(ts);
        f.packets += 1;
        if from_orig {
            f.orig_bytes += p.payload_len;
        } else {
            f.resp_bytes += p.payload_len;
        }
        if p.proto == Proto::Tcp {
            if p.flags & tcp_flags::RST != 0 {
                f.closed_at.get_or_insert(ts);
            }
            if p.flags & tcp_flags::FIN != 0 {
                if from_orig {
                    f.fin_orig = true;
                } else {
                    f.fin_resp = true;
                }
                if f.fin_orig && f.fin_resp {
                    f.closed_at.get_or_insert(ts);
                }
            }
        }
        if p.proto == Proto::Tcp && p.payload_len > 0 {
            self.exchange(f, from_orig, no, ts, p, sink);
        }
        if p.payload.is_empty() {
            return;
        }
        match p.proto {
            Proto::Udp if p.sport == 53 || p.dport == 53 => self.dns(f, no, ts, p, sink),
            Proto::Tcp => self.tcp_payload(f, from_orig, no, ts, p, sink),
            _ => {}
        }
    }

    /// Accounts a TCP segment carrying payload to the flow's exchanges.
    fn exchange(
        &mut self,
        f: &mut FlowState,
        from_orig: bool,
        no: u64,
        ts: Micros,
        p: &Packet<'_>,
        sink: &mut dyn Sink,
    ) {
        let len = u32::try_from(p.payload_len).unwrap_or(u32::MAX);
        if !f.xch.is_new(from_orig, p.seq, len) {
            return;
        }
        if f.xch.open && ts.saturating_sub(f.xch.last) >= EXCHANGE_IDLE {
            self.emit_exchange(f, sink);
        }
        let x = &mut f.xch;
        if !x.open {
            x.open = true;
            x.start = ts;
            x.pkt = no;
            x.orig_bytes = 0;
            x.resp_bytes = 0;
        }
        x.last = x.last.max(ts);
        if from_orig {
            x.orig_bytes += p.payload_len;
        } else {
            x.resp_bytes += p.payload_len;
        }
    }

    /// Emits the flow's exchange in progress, if any.
    fn emit_exchange(&mut self, f: &mut FlowState, sink: &mut dyn Sink) {
        if !f.xch.open {
            return;
        }
        f.xch.open = false;
        self.stats.exchanges += 1;
        let ev = Event::Exchange(Exchange {
            ts: f.xch.start,
            src: f.orig,
            sport: f.orig_port,
            dst: f.resp,
            dport: f.resp_port,
            src_bytes: f.xch.orig_bytes,
            dst_bytes: f.xch.resp_bytes,
            index: f.xch.emitted,
        });
        f.xch.emitted = f.xch.emitted.saturating_add(1);
        sink.event(self.rec(f.xch.pkt), &ev);
    }

    fn dns(&mut self, f: &mut FlowState, no: u64, ts: Micros, p: &Packet<'_>, sink: &mut dyn Sink) {
        let msg = match dns::parse(p.payload) {
            Ok(m) => m,
            Err(reason) => {
                self.stats.dns_errors += 1;
                self.stats.first_dns_error.get_or_insert((no, reason));
                return;
            }
        };
        let app = f.app.get_or_insert_with(Box::default);
        if !msg.response {
            if app.dns.len() >= MAX_PENDING_DNS
                && let Some(old) = app.dns.pop_front()
            {
                self.emit_dns(old, None, sink);
            }
            app.dns.push_back(PendingDns {
                pkt: no,
                ts,
                client: (p.src, p.sport),
                server: (p.dst, p.dport),
                msg,
            });
            return;
        }
        let found = app
            .dns
            .iter()
            .position(|q| q.msg.id == msg.id && q.client == (p.dst, p.dport));
        match found.and_then(|i| app.dns.remove(i)) {
            Some(q) => self.emit_dns(q, Some(msg), sink),
            None => {
                // A response whose query was not captured: its question stands in.
                let q = PendingDns {
                    pkt: no,
                    ts,
                    client: (p.dst, p.dport),
                    server: (p.src, p.sport),
                    msg: msg.clone(),
                };
                self.emit_dns(q, Some(msg), sink);
            }
        }
    }

    fn emit_dns(&mut self, q: PendingDns, resp: Option<dns::Message>, sink: &mut dyn Sink) {
        self.stats.dns += 1;
        let (rcode, answers) = match resp {
            Some(r) => (
                Some(Cow::Owned(dns::rcode_name(r.rcode))),
                r.answers.into_iter().map(Cow::Owned).collect(),
            ),
            None => (None, Vec::new()),
        };
        let ev = Event::Dns(Dns {
            ts: q.ts,
            src: q.client.0,
            sport: q.client.1,
            dst: q.server.0,
            dport: q.server.1,
            qtype: Some(Cow::Owned(dns::qtype_name(q.msg.qtype))),
            query: Cow::Owned(q.msg.qname),
            rcode,
            answers,
            label: None,
        });
        sink.event(self.rec(q.pkt), &ev);
    }

    fn tcp_payload(
        &mut self,
        f: &mut FlowState,
        from_orig: bool,
        no: u64,
        ts: Micros,
        p: &Packet<'_>,
        sink: &mut dyn Sink,
    ) {
        let seg = p.payload;
        if !from_orig {
            if let Some(app) = f.app.as_mut()
                && !app.http.is_empty()
                && let Some(status) = http::parse_status(seg)
                && let Some(req) = app.http.pop_front()
            {
                self.emit_http(f, req, Some(status), sink);
            }
            return;
        }
        let first = !f.orig_payload;
        f.orig_payload = true;
        let is_req = http::is_request(seg);
        if f.app.is_none() && !is_req && !(first && tls::is_handshake(seg)) {
            return;
        }
        if is_req {
            let app = f.app.get_or_insert_with(Box::default);
            let old = if app.http.len() >= MAX_PENDING_HTTP {
                app.http.pop_front()
            } else {
                None
            };
            app.http.push_back(PendingHttp {
                pkt: no,
                ts,
                req: http::parse_request(seg),
            });
            if let Some(old) = old {
                self.emit_http(f, old, None, sink);
            }
            return;
        }
        let app = f.app.get_or_insert_with(Box::default);
        let next_seq = p.seq.wrapping_add(seg.len() as u32);
        let cut = (seg.len() as u64) < p.payload_len;
        let mut parse_now = false;
        let mut finish = false;
        match &mut app.tls {
            TlsState::Idle if first && tls::is_handshake(seg) => {
                let want = tls::record_len(seg)
                    .unwrap_or(seg.len())
                    .min(tls::MAX_HELLO_BYTES);
                if seg.len() >= want || cut {
                    app.tls = TlsState::Done;
                    parse_now = true;
                } else {
                    app.tls = TlsState::Collecting {
                        buf: seg.to_vec(),
                        want,
                        next_seq,
                        pkt: no,
                        ts,
                    };
                }
            }
            TlsState::Idle => app.tls = TlsState::Done,
            TlsState::Collecting {
                buf,
                want,
                next_seq: expect,
                ..
            } => {
                if p.seq == *expect {
                    let take = seg.len().min(want.saturating_sub(buf.len()));
                    buf.extend_from_slice(&seg[..take]);
                    *expect = next_seq;
                    finish = buf.len() >= *want || cut;
                } else if p.seq.wrapping_sub(*expect) < (1 << 31) {
                    // A gap (lost or reordered segment): read what we have.
                    finish = true;
                }
                // Else a retransmission of bytes already held: ignore.
            }
            TlsState::Done => {}
        }
        if parse_now {
            self.hello(f, seg, no, ts, sink);
        } else if finish {
            self.finish_tls(f, sink);
        }
    }

    /// Parses a buffered ClientHello (if any) and marks TLS done.
    fn finish_tls(&mut self, f: &mut FlowState, sink: &mut dyn Sink) {
        let Some(app) = f.app.as_mut() else { return };
        if let TlsState::Collecting { buf, pkt, ts, .. } =
            std::mem::replace(&mut app.tls, TlsState::Done)
        {
            self.hello(f, &buf, pkt, ts, sink);
        }
    }

    fn hello(&mut self, f: &FlowState, rec: &[u8], pkt: u64, ts: Micros, sink: &mut dyn Sink) {
        if let tls::Hello::ClientHello(sni) = tls::client_hello(rec) {
            self.stats.tls += 1;
            let ev = Event::Tls(Tls {
                ts,
                src: f.orig,
                sport: f.orig_port,
                dst: f.resp,
                dport: f.resp_port,
                server_name: sni.map(Cow::Owned),
                label: None,
            });
            sink.event(self.rec(pkt), &ev);
        }
    }

    fn emit_http(
        &mut self,
        f: &FlowState,
        r: PendingHttp,
        status: Option<u16>,
        sink: &mut dyn Sink,
    ) {
        self.stats.http += 1;
        let ev = Event::Http(Http {
            ts: r.ts,
            src: f.orig,
            sport: f.orig_port,
            dst: f.resp,
            dport: f.resp_port,
            method: Some(Cow::Owned(r.req.method)),
            host: r.req.host.map(Cow::Owned),
            uri: r.req.uri.map(Cow::Owned),
            user_agent: r.req.user_agent.map(Cow::Owned),
            status,
            request_bytes: 0,
            response_bytes: 0,
            label: None,
        });
        sink.event(self.rec(r.pkt), &ev);
    }

    /// Flushes the flow's pending name events, then emits the flow.
    fn emit(&mut self, key: Key, mut f: FlowState, sink: &mut dyn Sink) {
        self.finish_tls(&mut f, sink);
        self.emit_exchange(&mut f, sink);
        if let Some(mut app) = f.app.take() {
            while let Some(q) = app.dns.pop_front() {
                self.emit_dns(q, None, sink);
            }
            while let Some(r) = app.http.pop_front() {
                self.emit_http(&f, r, None, sink);
            }
        }
        self.emit_flow_only(key, &f, sink);
    }

    fn emit_flow_only(&mut self, key: Key, f: &FlowState, sink: &mut dyn Sink) {
        self.stats.flows += 1;
        let ev = Event::Flow(Flow {
            ts: f.first_ts,
            duration: f.last_ts.saturating_sub(f.first_ts).max(0),
            proto: key.proto,
            src: f.orig,
            sport: f.orig_port,
            dst: f.resp,
            dport: f.resp_port,
            src_bytes: f.orig_bytes,
            dst_bytes: f.resp_bytes,
            packets: f.packets,
            label: None,
        });
        sink.event(self.rec(f.first_pkt), &ev);
    }

    /// Emits expired flows (all flows when `all`), in first-packet order.
    fn sweep(&mut self, sink: &mut dyn Sink, all: bool) {
        let now = self.now;
        let mut done: Vec<(u64, Key)> = self
            .flows
            .iter()
            .filter(|(k, f)| all || self.expired(k, f, now))
            .map(|(k, f)| (f.first_pkt, *k))
            .collect();
        done.sort_unstable();
        for (_, k) in done {
            if let Some(f) = self.flows.remove(&k) {
                self.emit(k, f, sink);
            }
        }
    }

    /// Table full: emits the least recently active sixteenth of the flows.
    fn evict(&mut self, sink: &mut dyn Sink) {
        let n = (self.flows.len() / 16).max(1);
        let mut all: Vec<(Micros, u64, Key)> = self
            .flows
            .iter()
            .map(|(k, f)| (f.last_ts, f.first_pkt, *k))
            .collect();
        if n < all.len() {
            all.select_nth_unstable(n);
            all.truncate(n);
        }
        all.sort_unstable_by_key(|&(_, pkt, _)| pkt);
        for (_, _, k) in all {
            if let Some(f) = self.flows.remove(&k) {
                self.stats.evicted += 1;
                self.emit(k, f, sink);
            }
        }
    }

    /// End of capture: emits every remaining flow.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        self.sweep(sink, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_entry_is_small() {
        let entry = std::mem::size_of::<(Key, FlowState)>() + 1; // + the table's control byte
        assert!(entry <= 256, "{entry}");
    }

    #[test]
    fn retransmissions_and_keepalives_are_not_new_payload() {
        let mut x = ExchangeState::default();
        assert!(x.is_new(true, 1000, 100)); // first segment
        assert!(!x.is_new(true, 1000, 100)); // retransmitted
        assert!(!x.is_new(true, 1099, 1)); // keep-alive probe: one byte below the edge
        assert!(x.is_new(true, 1100, 10));
        assert!(x.is_new(false, 5, 1)); // the other side is tracked apart
        // sequence numbers wrap
        let mut w = ExchangeState::default();
        assert!(w.is_new(true, u32::MAX - 4, 10));
        assert!(!w.is_new(true, u32::MAX - 4, 10));
        assert!(w.is_new(true, 5, 3));
    }
}
