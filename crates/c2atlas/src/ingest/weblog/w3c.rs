//! IIS W3C extended log format. Columns are named by the last `#Fields:`
//! directive, which may change mid-file (IIS rewrites it on restart or
//! configuration change). Fields are space-separated, `-` is empty, and
//! spaces inside the user agent are logged as `+`.

use std::borrow::Cow;

use super::{LineError, Parsed, WebRequest, parse_ip, short, stamp, syntax};

/// A column we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Date,
    Time,
    Method,
    Stem,
    Query,
    ClientIp,
    Host,
    ServerName,
    Ua,
    Referer,
    Status,
    Bytes,
    Other,
}

fn col(name: &str) -> Col {
    match name.to_ascii_lowercase().as_str() {
        "date" => Col::Date,
        "time" => Col::Time,
        "cs-method" => Col::Method,
        "cs-uri-stem" => Col::Stem,
        "cs-uri-query" => Col::Query,
        "c-ip" => Col::ClientIp,
        "cs-host" => Col::Host,
        "s-sitename" | "s-computername" => Col::ServerName,
        "cs(user-agent)" => Col::Ua,
        "cs(referer)" => Col::Referer,
        "sc-status" => Col::Status,
        "sc-bytes" => Col::Bytes,
        _ => Col::Other,
    }
}

/// Whether a `#Fields:` line is W3C's (IIS names), not another tool's.
pub fn is_w3c_fields(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.contains("c-ip") || l.contains("cs-uri-stem") || l.contains("cs-method")
}

/// The current column layout.
#[derive(Clone, Debug, Default)]
pub struct W3cState {
    cols: Vec<Col>,
}

impl W3cState {
    pub fn parse<'a>(&mut self, line: &'a str, rec: u64) -> Result<Parsed<'a>, LineError> {
        if let Some(rest) = line.strip_prefix("#Fields:") {
            if !is_w3c_fields(line) {
                return Err(syntax("#Fields: directive without W3C client fields"));
            }
            self.cols = rest.split_whitespace().map(col).collect();
            return Ok(Parsed::Skip);
        }
        if line.starts_with('#') {
            return Ok(Parsed::Skip);
        }
        if line.starts_with('{') || line.contains('"') && line.contains('[') {
            return Err(LineError::OtherFormat {
                expected: "IIS W3C",
            });
        }
        if self.cols.is_empty() {
            return Err(syntax("data line before any #Fields: directive"));
        }
        let vals: Vec<&str> = line.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
        if vals.len() != self.cols.len() {
            return Err(syntax(format!(
                "{} fields, #Fields: names {} (truncated line?)",
                vals.len(),
                self.cols.len()
            )));
        }
        let mut r = WebRequest {
            rec,
            ..WebRequest::default()
        };
        let (mut date, mut time, mut stem, mut query, mut ip) = (None, None, None, None, None);
        for (c, v) in self.cols.iter().zip(&vals) {
            let v = if *v == "-" { None } else { Some(*v) };
            match c {
                Col::Date => date = v,
                Col::Time => time = v,
                Col::Method => r.method = Cow::Borrowed(v.unwrap_or("")),
                Col::Stem => stem = v,
                Col::Query => query = v,
                Col::ClientIp => ip = v,
                Col::Host => r.site = v.map(Cow::Borrowed),
                Col::ServerName => {
                    if r.site.is_none() {
                        r.site = v.map(Cow::Borrowed)
                    }
                }
                Col::Ua => r.user_agent = v.map(|u| Cow::Owned(u.replace('+', " "))),
                Col::Referer => r.referer = v.map(Cow::Borrowed),
                Col::Status => {
                    r.status = match v {
                        None => None,
                        Some(s) => Some(
                            s.parse()
                                .map_err(|_| syntax(format!("invalid sc-status {:?}", short(s))))?,
                        ),
                    }
                }
                Col::Bytes => r.bytes = v.and_then(|b| b.parse().ok()).unwrap_or(0),
                Col::Other => {}
            }
        }
        r.src = parse_ip(ip.ok_or_else(|| syntax("empty c-ip"))?)?;
        r.ts = match (date, time) {
            (Some(d), Some(t)) => {
                stamp::w3c(d, t).ok_or_else(|| syntax(format!("invalid date/time {d:?} {t:?}")))?
            }
            _ => return Err(syntax("no date/time fields")),
        };
        let stem = stem.ok_or_else(|| syntax("no cs-uri-stem"))?;
        r.uri = match query {
            Some(q) => Cow::Owned(format!("{stem}?{q}")),
            None => Cow::Borrowed(stem),
        };
        Ok(Parsed::Request(r))
    }
}
