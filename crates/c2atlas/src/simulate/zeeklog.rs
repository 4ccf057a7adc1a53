//! Zeek TSV log writers (conn.log and dns.log) exactly as Zeek lays them
//! out: `#separator` … `#types` header, tab-separated rows, `#close` footer;
//! optionally gzip-compressed and rotated hourly (`conn.00.log` …).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::SimError;
use crate::model::Micros;
use crate::time::civil_from_days;

/// Output buffer per file: large enough that writes are rare syscalls.
const WRITE_BUFFER: usize = 1 << 16;
const HOUR_MICROS: Micros = 3_600_000_000;

/// Which Zeek log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogKind {
    Conn,
    Dns,
}

impl LogKind {
    fn path(self) -> &'static str {
        match self {
            LogKind::Conn => "conn",
            LogKind::Dns => "dns",
        }
    }
    fn fields(self) -> &'static str {
        match self {
            LogKind::Conn => {
                "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents"
            }
            LogKind::Dns => {
                "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected"
            }
        }
    }
    fn types(self) -> &'static str {
        match self {
            LogKind::Conn => {
                "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]"
            }
            LogKind::Dns => {
                "time\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool"
            }
        }
    }
    /// Number of tab-separated columns in a row.
    #[cfg(test)]
    pub(crate) fn columns(self) -> usize {
        self.fields().split('\t').count()
    }
}

enum Sink {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(buf),
            Sink::Gzip(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

struct OneFile {
    path: PathBuf,
    sink: Sink,
    /// End of the period this file covers (for `#close`).
    close_ts: Micros,
}

/// One Zeek log, as one file or as hourly files. Rows go to the file of their
/// hour (clamped to the window), so the files are the hourly rotation of a
/// sensor; rows inside a file are not time-sorted.
pub(crate) struct ZeekLog {
    files: Vec<OneFile>,
    start: Micros,
}

/// Zeek's `#open`/`#close` time format: `2012-06-01-00-00-00`.
fn zeek_stamp(ts: Micros) -> String {
    let secs = ts.div_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}-{:02}-{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl ZeekLog {
    /// Creates the file(s) in `dir` and writes their headers. With `hourly`,
    /// one file per hour of `[start, start + window)` named `<log>.HH.log`
    /// (HH counted from the window start); else one `<log>.log`.
    pub(crate) fn create(
        dir: &Path,
        kind: LogKind,
        start: Micros,
        window_secs: u64,
        hourly: bool,
        gzip: bool,
    ) -> Result<ZeekLog, SimError> {
        let window = (window_secs as Micros).saturating_mul(1_000_000).max(1);
        let hours = if hourly {
            (window + HOUR_MICROS - 1) / HOUR_MICROS
        } else {
            1
        };
        let ext = if gzip { ".log.gz" } else { ".log" };
        let mut files = Vec::new();
        for h in 0..hours {
            let name = if hourly {
                format!("{}.{h:02}{ext}", kind.path())
            } else {
                format!("{}{ext}", kind.path())
            };
            let path = dir.join(name);
            let f = File::create(&path).map_err(io_err(&path))?;
            let buf = BufWriter::with_capacity(WRITE_BUFFER, f);
            let sink = if gzip {
                Sink::Gzip(GzEncoder::new(buf, Compression::fast()))
            } else {
                Sink::Plain(buf)
            };
            let (open_ts, close_ts) = if hourly {
                let o = start + h * HOUR_MICROS;
                (o, (o + HOUR_MICROS).min(start + window))
            } else {
                (start, start + window)
            };
            let mut one = OneFile {
                path,
                sink,
                close_ts,
            };
            let header = format!(
                "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{}\n#open\t{}\n#fields\t{}\n#types\t{}\n",
                kind.path(),
                zeek_stamp(open_ts),
                kind.fields(),
                kind.types()
            );
            one.sink
                .write_all(header.as_bytes())
                .map_err(io_err(&one.path))?;
            files.push(one);
        }
        Ok(ZeekLog { files, start })
    }

    /// Appends one row (without its trailing newline) to the file of `ts`.
    pub(crate) fn row(&mut self, ts: Micros, line: &str) -> Result<(), SimError> {
        let last = self.files.len().saturating_sub(1);
        let h = usize::try_from((ts - self.start).max(0) / HOUR_MICROS).unwrap_or(last);
        let Some(f) = self.files.get_mut(h.min(last)) else {
            return Ok(());
        };
        f.sink
            .write_all(line.as_bytes())
            .and_then(|()| f.sink.write_all(b"\n"))
            .map_err(io_err(&f.path))
    }

    /// Writes the `#close` footers, finishes compression, returns the paths.
    pub(crate) fn finish(self) -> Result<Vec<PathBuf>, SimError> {
        let mut out = Vec::with_capacity(self.files.len());
        for mut f in self.files {
            let footer = format!("#close\t{}\n", zeek_stamp(f.close_ts));
            f.sink
                .write_all(footer.as_bytes())
                .map_err(io_err(&f.path))?;
            match f.sink {
                Sink::Plain(mut w) => w.flush().map_err(io_err(&f.path))?,
                Sink::Gzip(w) => {
                    let mut inner = w.finish().map_err(io_err(&f.path))?;
                    inner.flush().map_err(io_err(&f.path))?;
                }
            }
            out.push(f.path);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_format() {
        // 2012-06-01T00:00:00Z
        assert_eq!(zeek_stamp(1_338_508_800_000_000), "2012-06-01-00-00-00");
        assert_eq!(
            zeek_stamp(1_338_508_800_000_000 + 3_723_000_000),
            "2012-06-01-01-02-03"
        );
    }

    #[test]
    fn columns_match_types() {
        for k in [LogKind::Conn, LogKind::Dns] {
            assert_eq!(
                k.fields().split('\t').count(),
                k.types().split('\t').count()
            );
        }
        assert_eq!(LogKind::Conn.columns(), 21);
        assert_eq!(LogKind::Dns.columns(), 24);
    }
}
