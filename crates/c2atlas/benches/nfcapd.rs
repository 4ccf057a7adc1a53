//! nfcapd reading throughput (records/s), per block compression, over in-memory files built at
//! bench time with nfdump's own tools from the real nfdump file of the Slips dataset (its one
//! block repeated `COPIES` times). Two levels: the decoder (`read_flows`, records only) and the
//! ingest driver (`read_from`: SHA-256 of the bytes, events to a sink). Skips with a message when
//! the shared data or nfdump are absent.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use c2atlas::ingest::nfdump::block::BLOCK_HEADER_BYTES;
use c2atlas::ingest::nfdump::read_flows;
use c2atlas::ingest::{Format, PlannedInput, Sink, read_from};
use c2atlas::model::{Event, RecordRef};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Copies of the file's one block: 64 × 4593 = 293,952 records per file.
const COPIES: u32 = 64;
const REAL: &str = "../../../shared/data/slips/dataset/test1-malicious.nfdump";

struct Count(u64);

impl Sink for Count {
    fn event(&mut self, _rec: RecordRef, ev: &Event<'_>) {
        self.0 += black_box(ev).ts() as u64 & 1;
    }
}

/// The real file rewritten by nfdump (layout 2) with `flag`, its block repeated COPIES times.
fn file(flag: Option<&str>) -> Option<Vec<u8>> {
    let real = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(REAL);
    let tmp = tempfile::tempdir().ok()?;
    let out = tmp.path().join("f");
    let mut cmd = Command::new("nfdump");
    cmd.arg("-r").arg(&real).arg("-w").arg(&out);
    cmd.args(flag);
    if !cmd.output().ok()?.status.success() {
        return None;
    }
    let bytes = std::fs::read(&out).ok()?;
    let size = u32::from_le_bytes(bytes.get(44..48)?.try_into().ok()?) as usize;
    let block = bytes.get(40..40 + BLOCK_HEADER_BYTES + size)?;
    let mut f = bytes.get(..40)?.to_vec();
    f[18] = 0; // no appendix
    f[19] = 0;
    for _ in 0..COPIES {
        f.extend_from_slice(block);
    }
    Some(f)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("nfcapd");
    g.sample_size(10);
    for (name, flag) in [
        ("plain", None),
        ("lz4", Some("-y")),
        ("lzo", Some("-z")),
        ("bz2", Some("-j")),
    ] {
        let Some(buf) = file(flag) else {
            eprintln!("SKIP: nfcapd bench needs {REAL} and nfdump (scripts/setup.sh)");
            return;
        };
        let mut n = 0u64;
        let _ = read_flows(
            Path::new(name),
            &mut buf.as_slice(),
            &mut |_, _| n += 1,
            &mut |d| panic!("{d}"),
        );
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| {
                let mut bytes = 0u64;
                read_flows(
                    Path::new(name),
                    &mut buf.as_slice(),
                    &mut |_, f| bytes += f.in_bytes,
                    &mut |d| panic!("{d}"),
                )
                .expect("reads");
                bytes
            })
        });
        let planned = PlannedInput {
            path: PathBuf::from(name),
            format: Format::Nfcapd,
        };
        g.bench_function(format!("ingest_{name}"), |b| {
            b.iter(|| {
                let mut sink = Count(0);
                let stats = read_from(0, &planned, buf.as_slice(), &mut sink, &mut |d| {
                    panic!("{d}")
                })
                .expect("reads");
                assert_eq!(stats.records, n);
                sink.0
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
