//! Per-host traffic: background connections (web to benign servers, DNS to
//! the domestic resolver, some to neighbours of controllers) and, for
//! victims, DNS lookups of C2 domains and periodic-ish beacons to their
//! controllers. Rows are formatted straight into the Zeek writers.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::SimError;
use super::ipfix::{FlowRecord, IpfixLog};
use super::names;
use super::plan::{Controller, Plan};
use super::zeeklog::ZeekLog;
use crate::enrich::Locale;
use crate::model::Micros;

/// A C2 domain is looked up again once its answer's TTL has expired.
const C2_TTL_SECS: u64 = 300;
/// Share of background visits preceded by a DNS lookup of the server's name.
const BACKGROUND_DNS_SHARE: f64 = 0.4;
/// Share of background visits that go to a neighbour of a controller (when any).
const NEIGHBOR_VISIT_SHARE: f64 = 0.03;
/// Share of beacons after the first that fail (`S0`, no answer).
const BEACON_FAILURE_SHARE: f64 = 0.04;
/// IPFIX has no connection state: an unanswered attempt is one SYN (or datagram).
const UNANSWERED_PACKETS: u64 = 1;

/// The IPFIX flows of a connection: the originator's, and the responder's
/// when it answered; packets and IP bytes as in the conn.log row.
fn ipfix_flows(out: &mut IpfixLog, c: &Conn, sport: u16) -> Result<(), SimError> {
    let hdr = if c.udp { 28 } else { 40 };
    let start_ms = u64::try_from(c.ts.div_euclid(1000)).unwrap_or(0);
    let proto = if c.udp { 17 } else { 6 };
    if !c.answered {
        return out.push(&FlowRecord {
            src: c.orig,
            dst: c.resp,
            sport,
            dport: c.resp_p,
            proto,
            packets: UNANSWERED_PACKETS,
            octets: hdr + 20,
            start_ms,
            end_ms: start_ms,
        });
    }
    let end_ms = u64::try_from((c.ts + c.duration).div_euclid(1000)).unwrap_or(start_ms);
    let opk = 1 + c.orig_bytes / 1400 + u64::from(!c.udp) * 2;
    let rpk = 1 + c.resp_bytes / 1400 + u64::from(!c.udp) * 2;
    out.push(&FlowRecord {
        src: c.orig,
        dst: c.resp,
        sport,
        dport: c.resp_p,
        proto,
        packets: opk,
        octets: c.orig_bytes + opk * hdr,
        start_ms,
        end_ms,
    })?;
    out.push(&FlowRecord {
        src: c.resp,
        dst: c.orig,
        sport: c.resp_p,
        dport: sport,
        proto,
        packets: rpk,
        octets: c.resp_bytes + rpk * hdr,
        start_ms,
        end_ms,
    })
}

/// Beacon period jitter (± this fraction).
const BEACON_JITTER: f64 = 0.1;

/// Row counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub conn_rows: u64,
    pub dns_rows: u64,
    pub beacons: u64,
    pub background: u64,
    /// IPFIX flow records (0 for Zeek output).
    pub flow_records: u64,
}

/// Where connections go.
pub(crate) enum FlowOut {
    /// Zeek conn.log rows.
    Zeek(ZeekLog),
    /// IPFIX flows (one per direction). The dns.log then holds only the
    /// lookups of C2 names: the resolver traffic is in the flows, and no
    /// other name is needed by a census.
    Ipfix(IpfixLog),
}

/// Everything needed to write one host's rows.
pub(crate) struct Writer<'a> {
    pub plan: &'a Plan,
    pub start: Micros,
    pub window: Micros,
    pub max_beacons: u32,
    pub background_mean: f64,
    pub conn: FlowOut,
    pub dns: ZeekLog,
    pub counts: Counts,
    line: String,
    uid: String,
}

/// One connection row's variable parts.
struct Conn {
    ts: Micros,
    orig: u32,
    resp: u32,
    resp_p: u16,
    udp: bool,
    service: &'static str,
    duration: Micros,
    orig_bytes: u64,
    resp_bytes: u64,
    /// `false`: an unanswered attempt (`S0`).
    answered: bool,
    local_resp: bool,
}

fn secs(us: Micros) -> (i64, i64) {
    (us.div_euclid(1_000_000), us.rem_euclid(1_000_000))
}

/// Appends `n` in decimal (the hot path avoids `core::fmt`).
fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// Appends `secs.micros` with 6 fractional digits, as Zeek writes times and intervals.
fn push_micros(out: &mut String, secs: i64, micros: i64) {
    if secs < 0 {
        out.push('-');
    }
    push_u64(out, secs.unsigned_abs());
    out.push('.');
    let m = micros.unsigned_abs() % 1_000_000;
    let mut div = 100_000;
    while div > 0 {
        out.push(char::from(b'0' + ((m / div) % 10) as u8));
        div /= 10;
    }
}

fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> u64 {
    (lo * (hi / lo).powf(rng.random::<f64>())) as u64
}

impl<'a> Writer<'a> {
    pub(crate) fn new(
        plan: &'a Plan,
        start: Micros,
        window_secs: u64,
        max_beacons: u32,
        background_mean: f64,
        conn: FlowOut,
        dns: ZeekLog,
    ) -> Writer<'a> {
        Writer {
            plan,
            start,
            window: window_secs as Micros * 1_000_000,
            max_beacons,
            background_mean,
            conn,
            dns,
            counts: Counts::default(),
            line: String::with_capacity(256),
            uid: String::with_capacity(20),
        }
    }

    fn conn_row(&mut self, rng: &mut ChaCha8Rng, c: &Conn) -> Result<(), SimError> {
        names::uid(rng, &mut self.uid);
        let sport: u16 = rng.random_range(49152..=65535);
        if let FlowOut::Ipfix(out) = &mut self.conn {
            self.counts.conn_rows += 1;
            return ipfix_flows(out, c, sport);
        }
        let (s, us) = secs(c.ts);
        let (ds, dus) = secs(c.duration);
        let proto = if c.udp { "udp" } else { "tcp" };
        let hdr = if c.udp { 28 } else { 40 };
        let l = &mut self.line;
        l.clear();
        push_micros(l, s, us);
        l.push('\t');
        l.push_str(&self.uid);
        l.push('\t');
        names::push_ipv4(l, c.orig);
        l.push('\t');
        push_u64(l, u64::from(sport));
        l.push('\t');
        names::push_ipv4(l, c.resp);
        l.push('\t');
        push_u64(l, u64::from(c.resp_p));
        l.push('\t');
        l.push_str(proto);
        l.push('\t');
        l.push_str(c.service);
        l.push('\t');
        let local_resp = if c.local_resp { "T" } else { "F" };
        if c.answered {
            let opk = 1 + c.orig_bytes / 1400 + u64::from(!c.udp) * 2;
            let rpk = 1 + c.resp_bytes / 1400 + u64::from(!c.udp) * 2;
            let history = if c.udp { "Dd" } else { "ShADadFf" };
            push_micros(l, ds, dus);
            for v in [c.orig_bytes, c.resp_bytes] {
                l.push('\t');
                push_u64(l, v);
            }
            l.push_str("\tSF\tT\t");
            l.push_str(local_resp);
            l.push_str("\t0\t");
            l.push_str(history);
            for v in [opk, c.orig_bytes + opk * hdr, rpk, c.resp_bytes + rpk * hdr] {
                l.push('\t');
                push_u64(l, v);
            }
            l.push_str("\t-");
        } else {
            l.push_str("-\t-\t-\tS0\tT\t");
            l.push_str(local_resp);
            l.push_str("\t0\tS\t1\t");
            push_u64(l, hdr + 20);
            l.push_str("\t0\t0\t-");
        }
        self.counts.conn_rows += 1;
        match &mut self.conn {
            FlowOut::Zeek(log) => log.row(c.ts, &self.line),
            FlowOut::Ipfix(_) => Ok(()),
        }
    }

    /// A DNS lookup from `host` to the resolver: its conn.log row and its dns.log row.
    #[allow(clippy::too_many_arguments)]
    fn lookup(
        &mut self,
        rng: &mut ChaCha8Rng,
        ts: Micros,
        host: u32,
        query: &str,
        answer: u32,
        ttl: u64,
        c2: bool,
    ) -> Result<(), SimError> {
        let rtt: Micros = rng.random_range(2_000..120_000);
        let q = query.len() as u64;
        self.conn_row(
            rng,
            &Conn {
                ts,
                orig: host,
                resp: self.plan.resolver,
                resp_p: 53,
                udp: true,
                service: "dns",
                duration: rtt,
                orig_bytes: 18 + q,
                resp_bytes: 34 + q,
                answered: true,
                local_resp: true,
            },
        )?;
        let sport: u16 = rng.random_range(1024..=65535);
        let trans: u16 = rng.random();
        if !c2 && matches!(self.conn, FlowOut::Ipfix(_)) {
            return Ok(());
        }
        let (s, us) = secs(ts);
        let (rs, rus) = secs(rtt);
        let l = &mut self.line;
        l.clear();
        let _ = write!(
            l,
            "{s}.{us:06}\t{}\t{}\t{sport}\t{}\t53\tudp\t{trans}\t{rs}.{rus:06}\t{query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{}\t{ttl}.000000\tF",
            self.uid,
            Ipv4Addr::from(host),
            Ipv4Addr::from(self.plan.resolver),
            Ipv4Addr::from(answer),
        );
        self.counts.dns_rows += 1;
        self.dns.row(ts, &self.line)
    }

    /// Background traffic of one host (every host, infected or not).
    pub(crate) fn background(&mut self, rng: &mut ChaCha8Rng, host: u32) -> Result<(), SimError> {
        let plan = self.plan;
        // Activity varies per host: 0.2× to 1.8× the mean.
        let mean = self.background_mean * rng.random_range(0.2..1.8);
        let n = mean.floor() as u64 + u64::from(rng.random::<f64>() < mean.fract());
        for _ in 0..n {
            let ts = self.start + rng.random_range(0..self.window);
            let https = rng.random_bool(0.6);
            let (port, service) = if https { (443, "ssl") } else { (80, "http") };
            let (resp, local) =
                if !plan.neighbors.is_empty() && rng.random::<f64>() < NEIGHBOR_VISIT_SHARE {
                    (
                        plan.neighbors[rng.random_range(0..plan.neighbors.len())],
                        false,
                    )
                } else if !plan.benign.is_empty() {
                    // Popularity skew: low indices are visited most.
                    let u: f64 = rng.random();
                    let i = ((u * u * u) * plan.benign.len() as f64) as usize;
                    let i = i.min(plan.benign.len() - 1);
                    let (ip, dom) = plan.benign[i];
                    let mut t = ts;
                    if rng.random_bool(BACKGROUND_DNS_SHARE) {
                        let name = names::benign_domain(i);
                        self.lookup(rng, ts, host, &name, ip, 3600, false)?;
                        t += rng.random_range(130_000..400_000);
                    }
                    self.web(rng, t, host, ip, port, service, dom)?;
                    continue;
                } else {
                    (plan.resolver, true)
                };
            self.web(rng, ts, host, resp, port, service, local)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn web(
        &mut self,
        rng: &mut ChaCha8Rng,
        ts: Micros,
        host: u32,
        resp: u32,
        port: u16,
        service: &'static str,
        local_resp: bool,
    ) -> Result<(), SimError> {
        self.counts.background += 1;
        let answered = rng.random::<f64>() > 0.02;
        let conn = Conn {
            ts,
            orig: host,
            resp,
            resp_p: port,
            udp: false,
            service: if answered { service } else { "-" },
            duration: log_uniform(rng, 20_000.0, 60_000_000.0) as Micros,
            orig_bytes: log_uniform(rng, 200.0, 5_000.0),
            resp_bytes: log_uniform(rng, 400.0, 2_000_000.0),
            answered,
            local_resp,
        };
        self.conn_row(rng, &conn)
    }

    /// Beacons from victim `host` to `c` (and the DNS lookups before them when
    /// `c` is reached by name). The first beacon always succeeds.
    pub(crate) fn beacons(
        &mut self,
        rng: &mut ChaCha8Rng,
        host: u32,
        c: &Controller,
    ) -> Result<(), SimError> {
        let period = (c.interval_secs as Micros * 1_000_000).max(1);
        let full = self.window / period;
        let t0 = if full <= i64::from(self.max_beacons) {
            rng.random_range(0..period.min(self.window))
        } else {
            let span = period * i64::from(self.max_beacons);
            rng.random_range(0..(self.window - span).max(1))
        };
        let mut t = t0;
        let mut last_lookup: Option<Micros> = None;
        let mut k = 0u32;
        let service = match (c.port, &c.domain) {
            (80, Some(_)) => "http",
            (443, _) => "ssl",
            _ => "-",
        };
        while t < self.window && k < self.max_beacons {
            let ts = self.start + t;
            if let Some(name) = &c.domain
                && last_lookup.is_none_or(|l| ts - l >= C2_TTL_SECS as Micros * 1_000_000)
            {
                let lt = (ts - rng.random_range(5_000..500_000)).max(self.start);
                self.lookup(rng, lt, host, name, c.ip, C2_TTL_SECS, true)?;
                last_lookup = Some(lt);
            }
            let answered = k == 0 || rng.random::<f64>() > BEACON_FAILURE_SHARE;
            let req = c.request_bytes as f64 * rng.random_range(0.9..1.1);
            let conn = Conn {
                ts,
                orig: host,
                resp: c.ip,
                resp_p: c.port,
                udp: false,
                service: if answered { service } else { "-" },
                duration: rng.random_range(50_000..2_500_000),
                orig_bytes: req as u64,
                resp_bytes: rng.random_range(0..4_000),
                answered,
                local_resp: c.locale == Locale::Domestic,
            };
            self.conn_row(rng, &conn)?;
            self.counts.beacons += 1;
            k += 1;
            let jitter = rng.random_range(1.0 - BEACON_JITTER..1.0 + BEACON_JITTER);
            t += ((period as f64 * jitter) as Micros).max(1);
        }
        Ok(())
    }

    /// Closes the logs; returns their paths (conn files, then dns files).
    pub(crate) fn finish(mut self) -> Result<(Vec<std::path::PathBuf>, Counts), SimError> {
        let mut files = match self.conn {
            FlowOut::Zeek(log) => log.finish()?,
            FlowOut::Ipfix(log) => {
                self.counts.flow_records = log.records;
                log.finish()?
            }
        };
        files.extend(self.dns.finish()?);
        Ok((files, self.counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_text() {
        let mut s = String::new();
        push_u64(&mut s, 0);
        s.push(' ');
        push_u64(&mut s, u64::MAX);
        s.push(' ');
        push_micros(&mut s, 1_338_508_800, 7);
        s.push(' ');
        push_micros(&mut s, 0, 999_999);
        assert_eq!(s, "0 18446744073709551615 1338508800.000007 0.999999");
    }
}
