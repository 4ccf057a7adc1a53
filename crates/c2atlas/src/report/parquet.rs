//! The census relationships, with their evidence, as Parquet files partitioned
//! by day — a columnar copy that DuckDB, pyarrow, Spark or Polars read
//! directly (`read_parquet('DIR/**/*.parquet', hive_partitioning = true)`).
//!
//! Layout: `DIR/day=YYYY-MM-DD/part-00000.parquet`, one file per UTC day of
//! the relationships' `last_seen` (Hive-style partitioning: readers add a
//! `day` column from the directory name, so the files do not repeat it).
//! One row per relationship, with the columns of
//! [`Relationship`](crate::census::document::Relationship) (see [`schema`]);
//! `methods` is a list of strings and `evidence` a list of `{file, line}`
//! structs. Compression: ZSTD.
//!
//! Invariants:
//! - [`write_relationships`] writes a complete snapshot: afterwards `DIR`
//!   holds exactly the given relationships. `part-*.parquet` files of days that
//!   are no longer present are removed; other files in `DIR` are left alone.
//! - Every file is written under a temporary name and renamed into place, so a
//!   reader never sees a half-written file (a collector calls this at every
//!   snapshot while analysts may be reading).
//! - Rows are written in the order given (the census order: victim, controller),
//!   so the same relationships give the same files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{
    Float64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray, UInt64Array};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::census::document::Relationship;
use crate::model::Micros;
use crate::time::days_from_civil;

/// Rows per record batch (and so the granularity of row groups): large enough
/// for good column compression, small enough that building one batch of
/// strings stays a few tens of MB even with long evidence lists.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Name of the one data file written per day partition.
pub const PART_FILE: &str = "part-00000.parquet";

/// Why the relationships could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParquetError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot encode Parquet: {source}")]
    Encode {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    #[error("cannot build the Arrow record batch: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("relationship {victim} -> {controller}: {field} {value:?} is not an RFC 3339 UTC time")]
    Time {
        victim: String,
        controller: String,
        field: &'static str,
        value: String,
    },
}

fn io_err(path: &Path, source: io::Error) -> ParquetError {
    ParquetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The Arrow schema of the relationship files. Column names are the census
/// JSON field names (a contract: add columns, never rename them); the
/// indicator is flattened into `indicator_*` columns.
pub fn schema() -> SchemaRef {
    let utc = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("victim", DataType::Utf8, false),
        Field::new("controller", DataType::Utf8, false),
        Field::new("controller_ip", DataType::Utf8, true),
        Field::new("controller_locale", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, true),
        Field::new("asn", DataType::UInt32, true),
        Field::new("org", DataType::Utf8, true),
        Field::new("method", DataType::Utf8, false),
        Field::new("methods", DataType::List(Arc::new(method_field())), false),
        Field::new("confidence", DataType::Float64, false),
        Field::new("explanation", DataType::Utf8, true),
        Field::new("indicator", DataType::Utf8, true),
        Field::new("indicator_kind", DataType::Utf8, true),
        Field::new("indicator_source", DataType::Utf8, true),
        Field::new("indicator_family", DataType::Utf8, true),
        Field::new("first_seen", utc(), false),
        Field::new("last_seen", utc(), false),
        Field::new("flows", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("events", DataType::UInt64, false),
        Field::new(
            "evidence",
            DataType::List(Arc::new(evidence_item_field())),
            false,
        ),
    ]))
}

fn method_field() -> Field {
    Field::new("item", DataType::Utf8, false)
}

fn evidence_fields() -> Fields {
    Fields::from(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::UInt64, false),
    ])
}

fn evidence_item_field() -> Field {
    Field::new("item", DataType::Struct(evidence_fields()), false)
}

/// Parses the RFC 3339 UTC times the census writes (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`,
/// see [`crate::time::rfc3339`]) back to microseconds.
pub fn parse_rfc3339(s: &str) -> Option<Micros> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let frac = match (b.get(19), b.last()) {
        (Some(b'Z'), _) if b.len() == 20 => 0,
        (Some(b'.'), Some(b'Z')) if (22..=27).contains(&b.len()) => {
            let digits = b.len() - 21;
            num(20..b.len() - 1)? * 10i64.pow((6 - digits) as u32)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + frac)
}

/// Writes `rels` as Parquet under `dir`, one file per UTC day of `last_seen`
/// (`dir/day=YYYY-MM-DD/part-00000.parquet`), creating `dir` if needed, and
/// removes the part files of days no longer present. Returns the files
/// written, in day order. An empty `rels` writes no file (and removes all
/// previous part files).
pub fn write_relationships(
    dir: &Path,
    rels: &[Relationship],
) -> Result<Vec<PathBuf>, ParquetError> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut by_day: BTreeMap<&str, Vec<&Relationship>> = BTreeMap::new();
    for r in rels {
        let day = r
            .last_seen
            .get(..10)
            .filter(|_| parse_rfc3339(&r.last_seen).is_some())
            .ok_or_else(|| time_err(r, "last_seen", &r.last_seen))?;
        by_day.entry(day).or_default().push(r);
    }
    let schema = schema();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(BATCH_ROWS * 16))
        .build();
    let mut written = Vec::with_capacity(by_day.len());
    for (day, rows) in &by_day {
        let part_dir = dir.join(format!("day={day}"));
        std::fs::create_dir_all(&part_dir).map_err(|e| io_err(&part_dir, e))?;
        let path = part_dir.join(PART_FILE);
        let tmp = part_dir.join(format!(".{PART_FILE}.tmp"));
        let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        let enc = |source| ParquetError::Encode {
            path: path.clone(),
            source,
        };
        let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props.clone())).map_err(enc)?;
        for chunk in rows.chunks(BATCH_ROWS) {
            let batch = batch(&schema, chunk)?;
            w.write(&batch).map_err(enc)?;
        }
        w.close().map_err(enc)?;
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        written.push(path);
    }
    remove_stale(dir, &written)?;
    Ok(written)
}

fn time_err(r: &Relationship, field: &'static str, value: &str) -> ParquetError {
    ParquetError::Time {
        victim: r.victim.to_string(),
        controller: r.controller.clone(),
        field,
        value: value.to_string(),
    }
}

/// Removes `dir/day=*/part-*.parquet` files not in `keep`, and day
/// directories left empty.
fn remove_stale(dir: &Path, keep: &[PathBuf]) -> Result<(), ParquetError> {
    let keep: BTreeSet<&Path> = keep.iter().map(PathBuf::as_path).collect();
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for e in entries {
        let e = e.map_err(|e| io_err(dir, e))?;
        let day_dir = e.path();
        let is_day = e.file_name().to_string_lossy().starts_with("day=");
        if !is_day || !day_dir.is_dir() {
            continue;
        }
        let files = std::fs::read_dir(&day_dir).map_err(|e| io_err(&day_dir, e))?;
        let mut left = 0usize;
        for f in files {
            let f = f.map_err(|e| io_err(&day_dir, e))?;
            let name = f.file_name().to_string_lossy().into_owned();
            let p = f.path();
            if name.starts_with("part-")
                && name.ends_with(".parquet")
                && !keep.contains(p.as_path())
            {
                std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
            } else {
                left += 1;
            }
        }
        if left == 0 {
            std::fs::remove_dir(&day_dir).map_err(|e| io_err(&day_dir, e))?;
        }
    }
    Ok(())
}

/// A list-of-strings column.
fn string_list(field: Field, lists: impl Iterator<Item = Vec<String>>) -> ListArray {
    let mut offsets = vec![0i32];
    let mut values = StringBuilder::new();
    for l in lists {
        for v in &l {
            values.append_value(v);
        }
        let last = offsets.last().copied().unwrap_or(0);
        offsets.push(last.saturating_add(l.len() as i32));
    }
    ListArray::new(
        Arc::new(field),
        arrow_buffer_offsets(offsets),
        Arc::new(values.finish()),
        None,
    )
}

fn arrow_buffer_offsets(offsets: Vec<i32>) -> arrow_buffer::OffsetBuffer<i32> {
    arrow_buffer::OffsetBuffer::new(offsets.into())
}

/// One record batch of `rows`.
fn batch(schema: &SchemaRef, rows: &[&Relationship]) -> Result<RecordBatch, ParquetError> {
    let n = rows.len();
    let mut victim = StringBuilder::new();
    let mut controller = StringBuilder::new();
    let mut controller_ip = StringBuilder::new();
    let mut locale = StringBuilder::new();
    let mut country = StringBuilder::new();
    let mut asn = UInt32Builder::with_capacity(n);
    let mut org = StringBuilder::new();
    let mut method = StringBuilder::new();
    let mut confidence = Float64Builder::with_capacity(n);
    let mut explanation = StringBuilder::new();
    let mut ind = StringBuilder::new();
    let mut ind_kind = StringBuilder::new();
    let mut ind_source = StringBuilder::new();
    let mut ind_family = StringBuilder::new();
    let mut first = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut last = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut flows = UInt64Builder::with_capacity(n);
    let mut bytes = UInt64Builder::with_capacity(n);
    let mut events = UInt64Builder::with_capacity(n);
    let mut ev_offsets = vec![0i32];
    let mut ev_file = StringBuilder::new();
    let mut ev_line = Vec::new();
    for r in rows {
        victim.append_value(r.victim.to_string());
        controller.append_value(&r.controller);
        controller_ip.append_option(r.controller_ip.map(|ip| ip.to_string()));
        locale.append_value(r.controller_locale);
        country.append_option(r.country.as_deref());
        asn.append_option(r.asn);
        org.append_option(r.org.as_deref());
        method.append_value(r.method);
        confidence.append_value(r.confidence);
        explanation.append_option(r.explanation.as_deref());
        let i = r.indicator.as_ref();
        ind.append_option(i.map(|i| i.value.as_str()));
        ind_kind.append_option(i.map(|i| kind_name(i.kind)));
        ind_source.append_option(i.map(|i| i.source.as_str()));
        ind_family.append_option(i.and_then(|i| i.family.as_deref()));
        first.append_value(
            parse_rfc3339(&r.first_seen).ok_or_else(|| time_err(r, "first_seen", &r.first_seen))?,
        );
        last.append_value(
            parse_rfc3339(&r.last_seen).ok_or_else(|| time_err(r, "last_seen", &r.last_seen))?,
        );
        flows.append_value(r.flows);
        bytes.append_value(r.bytes);
        events.append_value(r.events);
        for e in &r.evidence {
            ev_file.append_value(&e.file);
            ev_line.push(e.line);
        }
        let prev = ev_offsets.last().copied().unwrap_or(0);
        ev_offsets.push(prev.saturating_add(r.evidence.len() as i32));
    }
    let evidence_struct = StructArray::try_new(
        evidence_fields(),
        vec![
            Arc::new(ev_file.finish()) as ArrayRef,
            Arc::new(UInt64Array::from(ev_line)),
        ],
        None,
    )?;
    let evidence = ListArray::try_new(
        Arc::new(evidence_item_field()),
        arrow_buffer_offsets(ev_offsets),
        Arc::new(evidence_struct),
        None,
    )?;
    let methods = string_list(
        method_field(),
        rows.iter()
            .map(|r| r.methods.iter().map(|m| m.to_string()).collect()),
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(victim.finish()),
        Arc::new(controller.finish()),
        Arc::new(controller_ip.finish()),
        Arc::new(locale.finish()),
        Arc::new(country.finish()),
        Arc::new(asn.finish()),
        Arc::new(org.finish()),
        Arc::new(method.finish()),
        Arc::new(methods),
        Arc::new(confidence.finish()),
        Arc::new(explanation.finish()),
        Arc::new(ind.finish()),
        Arc::new(ind_kind.finish()),
        Arc::new(ind_source.finish()),
        Arc::new(ind_family.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(flows.finish()),
        Arc::new(bytes.finish()),
        Arc::new(events.finish()),
        Arc::new(evidence),
    ];
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The census JSON's name of an indicator kind (its serde form).
fn kind_name(k: crate::intel::IndicatorKind) -> &'static str {
    use crate::intel::IndicatorKind as K;
    match k {
        K::Ip => "ip",
        K::Cidr => "cidr",
        K::Domain => "domain",
        K::Url => "url",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::document::EvidenceRef;
    use crate::time::rfc3339;
    use ::parquet::file::reader::{FileReader, SerializedFileReader};

    fn rel(victim: &str, last: &str, evidence: usize) -> Relationship {
        Relationship {
            victim: victim.parse().expect("ip"),
            controller: "203.0.113.9".into(),
            controller_ip: Some("203.0.113.9".parse().expect("ip")),
            controller_locale: "overseas",
            country: Some("US".into()),
            asn: None,
            org: None,
            method: "intel",
            methods: vec!["intel", "beacon"],
            confidence: 0.9,
            explanation: None,
            indicator: None,
            first_seen: "2011-08-16T10:01:46Z".into(),
            last_seen: last.into(),
            flows: 3,
            bytes: 300,
            events: 3,
            evidence: (0..evidence)
                .map(|i| EvidenceRef {
                    file: "conn.log".into(),
                    line: i as u64 + 1,
                })
                .collect(),
        }
    }

    fn rows(p: &Path) -> i64 {
        let r = SerializedFileReader::new(File::open(p).expect("open")).expect("parquet");
        r.metadata().file_metadata().num_rows()
    }

    #[test]
    fn rfc3339_round_trips() {
        for us in [
            0,
            1,
            999_999,
            1_313_488_906_972_101,
            -1,
            4_102_444_800_000_000,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(us)), Some(us), "{}", rfc3339(us));
        }
        assert_eq!(
            parse_rfc3339("2011-08-16T10:01:46.5Z"),
            Some(1_313_488_906_500_000)
        );
        for bad in [
            "",
            "2011-08-16",
            "2011-08-16T10:01:46",
            "2011-13-16T10:01:46Z",
            "2011-08-16T10:01:46.Z",
            "2011-08-16T10:01:46+01:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn partitions_by_day_and_replaces_the_previous_snapshot() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("rels");
        let first = vec![
            rel("10.0.0.1", "2011-08-16T23:59:59.999999Z", 2),
            rel("10.0.0.2", "2011-08-17T00:00:00Z", 0),
            rel("10.0.0.3", "2011-08-16T01:00:00Z", 1),
        ];
        let files = write_relationships(&dir, &first).expect("write");
        assert_eq!(
            files,
            vec![
                dir.join("day=2011-08-16").join(PART_FILE),
                dir.join("day=2011-08-17").join(PART_FILE)
            ]
        );
        assert_eq!(rows(&files[0]), 2);
        assert_eq!(rows(&files[1]), 1);
        // Next snapshot: 10.0.0.2 is gone, the 17th has no relationship left.
        std::fs::write(dir.join("README"), "kept").expect("write");
        let files = write_relationships(&dir, &first[..1]).expect("write");
        assert_eq!(files, vec![dir.join("day=2011-08-16").join(PART_FILE)]);
        assert_eq!(rows(&files[0]), 1);
        assert!(!dir.join("day=2011-08-17").exists());
        assert!(dir.join("README").exists(), "foreign files are left alone");
        assert!(write_relationships(&dir, &[]).expect("write").is_empty());
        assert!(!dir.join("day=2011-08-16").exists());
    }

    #[test]
    fn a_bad_time_is_an_error_naming_the_relationship() {
        let tmp = tempfile::tempdir().expect("tmp");
        let e = write_relationships(tmp.path(), &[rel("10.0.0.1", "yesterday", 0)])
            .expect_err("bad time");
        assert!(e.to_string().contains("10.0.0.1"), "{e}");
        assert!(e.to_string().contains("last_seen"), "{e}");
    }
}
