//! `census --parquet DIR`: the relationships with their evidence as day-partitioned Parquet,
//! read back with the `parquet` crate's own reader (and with pyarrow when it is installed) and
//! compared, row by row and field by field, with the same run's state file (`--state-out`,
//! one relationship per JSON line, written by serde — an independent path).
#![cfg(feature = "parquet")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{Value, json};

mod common;
use common::{bin, db_dir, run_ok};

/// A Parquet field as JSON, timestamps formatted with the census's own RFC 3339 formatter.
fn to_json(f: &Field) -> Value {
    match f {
        Field::Null => Value::Null,
        Field::Bool(b) => json!(b),
        Field::Str(s) => json!(s),
        Field::UInt(v) => json!(v),
        Field::ULong(v) => json!(v),
        Field::Int(v) => json!(v),
        Field::Long(v) => json!(v),
        Field::Double(v) => json!(v),
        Field::TimestampMicros(us) => json!(c2atlas::time::rfc3339(*us)),
        Field::ListInternal(l) => Value::Array(l.elements().iter().map(to_json).collect()),
        Field::Group(row) => Value::Object(
            row.get_column_iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        other => panic!("unexpected Parquet field {other:?}"),
    }
}

/// Every `part-*.parquet` under `dir`, by day.
fn parts(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for day in std::fs::read_dir(dir).expect("parquet dir") {
        let day = day.expect("entry").path();
        let name = day
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let d = name
            .strip_prefix("day=")
            .expect("day= partition")
            .to_string();
        let files: Vec<PathBuf> = std::fs::read_dir(&day)
            .expect("day dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "one part file per day: {files:?}");
        assert!(files[0].ends_with("part-00000.parquet"), "{files:?}");
        out.insert(d, files[0].clone());
    }
    out
}

#[test]
fn simulated_census_relationships_round_trip_through_parquet() {
    if db_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let sim = tmp.path().join("sim");
    run_ok(
        bin()
            .args([
                "simulate",
                "--scale",
                "day",
                "--hosts",
                "20000",
                "--background-flows-per-host",
                "1",
                "--seed",
                "11",
                "-q",
                "--out",
            ])
            .arg(&sim),
    );
    let pq = tmp.path().join("rels");
    let state = tmp.path().join("state.jsonl");
    run_ok(
        bin()
            .args(["census", "--home-country", "CN", "--format", "json", "-q"])
            .arg("--intel")
            .arg(sim.join("intel/c2-feed.csv"))
            .arg("--intel")
            .arg(sim.join("intel/c2-domains.txt"))
            .arg("--parquet")
            .arg(&pq)
            .arg("--state-out")
            .arg(&state)
            .arg(sim.join("telemetry")),
    );
    let text = std::fs::read_to_string(&state).expect("state file");
    let expected: Vec<Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("relationship line"))
        .collect();
    assert!(expected.len() > 100, "{} relationships", expected.len());

    let mut got: Vec<(String, Value)> = Vec::new();
    for (day, file) in parts(&pq) {
        let reader = SerializedFileReader::new(std::fs::File::open(&file).expect("open"))
            .expect("a Parquet file");
        for row in reader.get_row_iter(None).expect("rows") {
            let row = row.expect("row");
            let obj: serde_json::Map<String, Value> = row
                .get_column_iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect();
            got.push((day.clone(), Value::Object(obj)));
        }
    }
    assert_eq!(got.len(), expected.len(), "one row per relationship");
    // Rows come in census order within a day; compare by (victim, controller).
    let key = |v: &Value| (v["victim"].to_string(), v["controller"].to_string());
    let by_key: BTreeMap<_, _> = expected.iter().map(|v| (key(v), v)).collect();
    for (day, row) in &got {
        let want = by_key
            .get(&key(row))
            .expect("row is a relationship of the run");
        let last = want["last_seen"].as_str().expect("last_seen");
        assert_eq!(&last[..10], day, "partitioned by the day of last_seen");
        for col in [
            "victim",
            "controller",
            "controller_ip",
            "controller_locale",
            "country",
            "asn",
            "org",
            "method",
            "methods",
            "explanation",
            "first_seen",
            "last_seen",
            "flows",
            "bytes",
            "events",
            "evidence",
        ] {
            assert_eq!(row[col], want[col], "column {col} of {row}");
        }
        // The state file and the Parquet column may differ in the last bit of the f64.
        let (c, w) = (row["confidence"].as_f64(), want["confidence"].as_f64());
        assert!(
            matches!((c, w), (Some(c), Some(w)) if (c - w).abs() < 1e-12),
            "confidence {c:?} vs {w:?}"
        );
        let ind = &want["indicator"];
        for (col, field) in [
            ("indicator", "value"),
            ("indicator_kind", "kind"),
            ("indicator_source", "source"),
            ("indicator_family", "family"),
        ] {
            assert_eq!(row[col], ind[field], "column {col} of {row}");
        }
    }
    // Evidence is a real list of {file, line} structs pointing at input records.
    assert!(
        got.iter()
            .any(|(_, r)| r["evidence"].as_array().is_some_and(|e| !e.is_empty()))
    );

    // pyarrow (when installed by scripts/setup.sh) reads the partitioned dataset too.
    let py = "import sys, pyarrow.dataset as ds\n\
              t = ds.dataset(sys.argv[1], format='parquet', partitioning='hive').to_table()\n\
              print(t.num_rows, len(set(t.column('day').to_pylist())), t.schema.field('evidence').type)";
    match std::process::Command::new("python3")
        .args(["-c", py])
        .arg(&pq)
        .output()
    {
        Ok(out) if out.status.success() => {
            let s = String::from_utf8_lossy(&out.stdout);
            let mut it = s.split_whitespace();
            assert_eq!(
                it.next(),
                Some(expected.len().to_string().as_str()),
                "pyarrow: {s}"
            );
            assert!(s.contains("list<"), "evidence is a list column: {s}");
        }
        Ok(out) => eprintln!(
            "SKIP: pyarrow check ({})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => eprintln!("SKIP: pyarrow check (no python3: {e})"),
    }
}
