//! IPFIX decode throughput (issue 5: ≥ 10 M records/s per core from files).
//!
//! A synthetic IPFIX stream of `RECORDS` records is built in memory: one
//! template (src/dst IPv4, ports, protocol, tcpControlBits, packet and octet
//! delta counts, flowStart/EndMilliseconds — the usual export layout, 46-byte
//! records) and data sets of `PER_MESSAGE` records per message (a 1,400-byte
//! UDP export and a 64 KiB file message). Measured: the decoder alone
//! (`Decoder::datagram`, records to a counting callback) and the full file
//! path (`ingest::read_from` with Format::Ipfix: SHA-256 of the input, events
//! to a counting sink).

use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;

use c2atlas::ingest::netflow::Decoder;
use c2atlas::ingest::{Format, PlannedInput, Sink, read_from};
use c2atlas::model::{Event, RecordRef};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RECORDS: usize = 1_000_000;

const TEMPLATE: [(u16, u16); 10] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (2, 8),
    (1, 8),
    (152, 8),
    (153, 8),
];

fn message(seq: u32, sets: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let len: usize = 16 + sets.iter().map(|(_, b)| 4 + b.len()).sum::<usize>();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&10u16.to_be_bytes());
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&0u32.to_be_bytes());
    for (id, b) in sets {
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&((4 + b.len()) as u16).to_be_bytes());
        m.extend_from_slice(b);
    }
    m
}

/// The messages of the stream, `per` records each.
fn stream(per: usize) -> Vec<Vec<u8>> {
    let mut t = Vec::new();
    t.extend_from_slice(&256u16.to_be_bytes());
    t.extend_from_slice(&(TEMPLATE.len() as u16).to_be_bytes());
    for (ie, len) in TEMPLATE {
        t.extend_from_slice(&ie.to_be_bytes());
        t.extend_from_slice(&len.to_be_bytes());
    }
    let mut out = vec![message(0, &[(2, t)])];
    let mut i = 0usize;
    while i < RECORDS {
        let mut b = Vec::with_capacity(per * 46);
        for _ in 0..per.min(RECORDS - i) {
            let x = i as u32;
            b.extend_from_slice(&(0x0a00_0000 | (x & 0xffffff)).to_be_bytes());
            b.extend_from_slice(&(0xc633_0000 | (x.wrapping_mul(7919) & 0xffff)).to_be_bytes());
            b.extend_from_slice(&((1024 + x % 60000) as u16).to_be_bytes());
            b.extend_from_slice(&((x % 1000) as u16).to_be_bytes());
            b.push(if x % 3 == 0 { 17 } else { 6 });
            b.push(0x1b);
            b.extend_from_slice(&u64::from(1 + x % 50).to_be_bytes());
            b.extend_from_slice(&u64::from(60 + x % 9000).to_be_bytes());
            b.extend_from_slice(&(1_700_000_000_000 + u64::from(x)).to_be_bytes());
            b.extend_from_slice(&(1_700_000_000_500 + u64::from(x)).to_be_bytes());
            i += 1;
        }
        out.push(message(i as u32, &[(256, b)]));
    }
    out
}

struct Count(u64);

impl Sink for Count {
    fn event(&mut self, _rec: RecordRef, ev: &Event<'_>) {
        self.0 += black_box(ev).ts() as u64 & 1;
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ipfix");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));
    let exporter = IpAddr::from([192, 0, 2, 1]);
    for (name, per) in [("udp_30", 30usize), ("file_1400", 1400)] {
        let msgs = stream(per);
        g.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| {
                let mut d = Decoder::new();
                let mut n = 0u64;
                for m in &msgs {
                    d.datagram(exporter, 0, m, &mut |r| n += r.bytes & 1);
                }
                black_box(n)
            })
        });
    }
    let file: Vec<u8> = stream(1400).concat();
    let planned = PlannedInput {
        path: PathBuf::from("bench.ipfix"),
        format: Format::Ipfix,
    };
    g.bench_function("read_file_1400", |b| {
        b.iter(|| {
            let mut sink = Count(0);
            let st = read_from(0, &planned, &file[..], &mut sink, &mut |_| {}).expect("read");
            black_box((st.records, sink.0))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
