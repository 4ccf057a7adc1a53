//! Fuzz entry point for the detectors (`fuzz/fuzz_targets/detect.rs`): an
//! arbitrary sequence of events, decoded from the bytes, runs through every
//! detector of a [`DetectorSet`](super::select::DetectorSet). Timestamps,
//! sizes and durations take any value (negative, out of order, jumping,
//! `u64::MAX`), names are arbitrary bytes, hosts come from a small pool so
//! pairs repeat and state builds up. Nothing may panic.

use std::borrow::Cow;
use std::net::IpAddr;

use super::select::{ALL_METHODS, build};
use super::{Context, Detector};
use crate::detect::allowlist::Allowlist;
use crate::enrich::Home;
use crate::intel::IntelSet;
use crate::model::{Dns, Event, Exchange, Flow, Http, Micros, Proto, RecordRef, Tls};

/// Most events decoded from one input (keeps one fuzz run short).
const MAX_EVENTS: usize = 4096;

/// A cursor that yields zeros once the bytes run out.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |v, _| (v << 8) | u64::from(self.u8()))
    }
    /// A value that is usually small and sometimes absurd.
    fn amount(&mut self) -> u64 {
        match self.u8() % 4 {
            0 => u64::from(self.u8()),
            1 => u64::from(self.u8()) << 12,
            2 => self.u64(),
            _ => u64::MAX - u64::from(self.u8()),
        }
    }
    fn ip(&mut self, internal: bool) -> IpAddr {
        let x = self.u8();
        match (internal, x % 8) {
            (_, 7) => IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, u16::from(x)]),
            (true, _) => IpAddr::from([10, 0, 0, x % 5]),
            (false, 6) => IpAddr::from([192, 168, 1, x]),
            (false, _) => IpAddr::from([45, 33, x % 7, 1]),
        }
    }
    fn text(&mut self) -> Cow<'a, str> {
        let n = usize::from(self.u8() % 40).min(self.0.len());
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(s)
    }
    fn opt_text(&mut self) -> Option<Cow<'a, str>> {
        if self.u8().is_multiple_of(4) {
            None
        } else {
            Some(self.text())
        }
    }
}

/// Decodes `data` into events and runs them through all detectors.
pub fn fuzz(data: &[u8]) {
    let home = Home {
        countries: vec![],
        networks: "10.0.0.0/8".parse::<ipnet::IpNet>().into_iter().collect(),
        ..Default::default()
    };
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let intel = IntelSet::default();
    let Ok(mut set) = build(ALL_METHODS, &intel, 0.0, Allowlist::default()) else {
        return;
    };
    let mut b = Bytes(data);
    let mut ts: Micros = 0;
    let mut n = 0u64;
    let mut sink = |_f| {};
    while !b.0.is_empty() && n < MAX_EVENTS as u64 {
        let op = b.u8();
        // Time moves by small steps, backwards, or jumps anywhere.
        ts = match op >> 5 {
            0..=2 => ts.saturating_add(i64::from(b.u8()) * 1_000_000),
            3 | 4 => ts.saturating_add(i64::from(b.u8()) * 60_000_000),
            5 => ts.saturating_sub(i64::from(b.u8()) * 1_000_000),
            _ => b.u64() as i64,
        };
        let internal = b.0.first().is_some_and(|&x| x % 8 != 0);
        let src = b.ip(internal);
        let dst = b.ip(false);
        let ev = match op % 4 {
            // An exchange inside a TCP connection (packet captures).
            0 if op & 0x08 != 0 => Event::Exchange(Exchange {
                ts,
                src,
                sport: u16::from(b.u8()),
                dst,
                dport: [443, 80, 25, 7010][usize::from(b.u8() % 4)],
                src_bytes: b.amount(),
                dst_bytes: b.amount(),
                index: u32::from(b.u8()),
            }),
            0 => Event::Flow(Flow {
                ts,
                duration: b.amount() as i64,
                proto: if b.u8() % 2 == 0 {
                    Proto::Tcp
                } else {
                    Proto::Udp
                },
                src,
                sport: u16::from(b.u8()),
                dst,
                dport: [443, 80, 25, 53, 8080][usize::from(b.u8() % 5)],
                src_bytes: b.amount(),
                dst_bytes: b.amount(),
                packets: b.amount(),
                label: None,
            }),
            1 => Event::Dns(Dns {
                ts,
                src,
                sport: 53000,
                dst,
                dport: 53,
                query: b.text(),
                qtype: b.opt_text(),
                rcode: Some(Cow::Borrowed(
                    ["NOERROR", "NXDOMAIN", "3", "SERVFAIL"][usize::from(b.u8() % 4)],
                )),
                answers: (0..b.u8() % 4)
                    .map(|i| {
                        if i % 2 == 0 {
                            Cow::Owned(b.ip(false).to_string())
                        } else {
                            b.text()
                        }
                    })
                    .collect(),
                label: None,
            }),
            2 => Event::Http(Http {
                ts,
                src,
                sport: 40000,
                dst,
                dport: 80,
                method: b.opt_text(),
                host: b.opt_text(),
                uri: b.opt_text(),
                user_agent: None,
                status: None,
                request_bytes: b.amount(),
                response_bytes: b.amount(),
                label: None,
            }),
            _ => Event::Tls(Tls {
                ts,
                src,
                sport: 40000,
                dst,
                dport: 443,
                server_name: b.opt_text(),
                label: None,
            }),
        };
        n += 1;
        set.observe(RecordRef { input: 0, line: n }, &ev, &ctx, &mut sink);
        // Duplicates: the same record again.
        if op & 0x10 != 0 {
            set.observe(RecordRef { input: 0, line: n }, &ev, &ctx, &mut sink);
        }
    }
    set.finish(&ctx, &mut sink);
}
