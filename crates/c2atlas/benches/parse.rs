//! Parser throughput: binetflow and Zeek conn TSV, over synthetic in-memory
//! files of `LINES` lines (no disk, no gzip), events sent to a counting sink.

use std::hint::black_box;
use std::path::PathBuf;

use c2atlas::ingest::{Format, PlannedInput, Sink, read_from};
use c2atlas::model::{Event, RecordRef};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LINES: usize = 200_000;

struct Count(u64);

impl Sink for Count {
    fn event(&mut self, _rec: RecordRef, ev: &Event<'_>) {
        self.0 += black_box(ev).ts() as u64 & 1;
    }
}

fn binetflow_buf() -> Vec<u8> {
    let mut s = String::from(
        "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n",
    );
    for i in 0..LINES {
        s.push_str(&format!(
            "2011/08/16 10:{:02}:{:02}.{:06},{}.{:06},{},147.32.{}.{},{},   ->,{}.{}.{}.{},{},SRPA_FSPA,0,0,{},{},{},flow=Background-TCP-Established\n",
            (i / 60) % 60, i % 60, i * 7 % 1_000_000, i % 100, i * 13 % 1_000_000,
            if i % 3 == 0 { "udp" } else { "tcp" },
            i % 256, (i * 7) % 256, 1024 + i % 60000,
            20 + i % 200, (i * 3) % 256, (i * 11) % 256, 1 + i % 250, 80 + i % 1000,
            2 + i % 100, 1000 + i * 3 % 100_000, 100 + i % 900,
        ));
    }
    s.into_bytes()
}

fn zeek_conn_buf() -> Vec<u8> {
    let mut s = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2019-02-28-12-07-01\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n",
    );
    for i in 0..LINES {
        s.push_str(&format!(
            "{}.{:06}\tC{:017}\t10.55.{}.{}\t{}\t{}.{}.{}.{}\t{}\t{}\t{}\t{}.{:06}\t{}\t{}\tSF\tT\tF\t0\tShADadfF\t{}\t{}\t{}\t{}\t(empty)\n",
            1_517_336_042 + i, i * 7 % 1_000_000, i,
            i % 256, (i * 7) % 256, 1024 + i % 60000,
            20 + i % 200, (i * 3) % 256, (i * 11) % 256, 1 + i % 250, 80 + i % 1000,
            if i % 3 == 0 { "udp" } else { "tcp" },
            if i % 2 == 0 { "dns" } else { "-" },
            i % 100, i * 13 % 1_000_000,
            i % 5000, i * 3 % 50_000, 2 + i % 30, 100 + i % 9000, 1 + i % 40, 200 + i % 70_000,
        ));
    }
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(20);
    for (name, format, buf) in [
        ("binetflow", Format::Binetflow, binetflow_buf()),
        ("zeek_conn_tsv", Format::ZeekConn, zeek_conn_buf()),
    ] {
        let planned = PlannedInput {
            path: PathBuf::from(name),
            format,
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut sink = Count(0);
                let stats = read_from(0, &planned, buf.as_slice(), &mut sink, &mut |d| {
                    panic!("bench data is malformed: {d}")
                })
                .expect("bench data reads");
                assert_eq!(stats.records, LINES as u64);
                sink.0
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
