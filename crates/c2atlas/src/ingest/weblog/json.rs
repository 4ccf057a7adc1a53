//! nginx and Caddy JSON access logs (one object per line).
//!
//! nginx JSON logs are user-defined (`log_format … escape=json '{…}'`), so
//! fields are looked up under the names people use: the variable names
//! (`remote_addr`, `request`, `request_uri`, `status`, `body_bytes_sent`,
//! `http_referer`, `http_user_agent`, `host`, `time_iso8601`, `request_body`)
//! and common aliases (`client_ip`, `@timestamp`, `ua`, …). Caddy's
//! structured access log nests the request under `request` (`remote_ip`,
//! `method`, `host`, `uri`, `headers`) with `ts` in epoch seconds.

use std::borrow::Cow;

use serde_json::Value;

use super::{LineError, Parsed, WebRequest, parse_ip, short, stamp, syntax};

const ADDR: &[&str] = &[
    "remote_addr",
    "client_ip",
    "remote_ip",
    "clientip",
    "ip",
    "client",
    "src_ip",
];
const TIME: &[&str] = &[
    "time_iso8601",
    "@timestamp",
    "timestamp",
    "time",
    "time_local",
    "ts",
    "msec",
];
const HOST: &[&str] = &["host", "http_host", "server_name", "vhost", "hostname"];
const UA: &[&str] = &["http_user_agent", "user_agent", "useragent", "ua", "agent"];
const REF: &[&str] = &["http_referer", "referer", "referrer"];
const URI: &[&str] = &["request_uri", "uri", "url", "path"];
const METHOD: &[&str] = &["request_method", "method", "verb"];
const STATUS: &[&str] = &["status", "status_code", "response"];
const BYTES: &[&str] = &["body_bytes_sent", "bytes_sent", "size", "bytes"];

fn get<'v>(o: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().find_map(|k| o.get(*k)).filter(|v| !v.is_null())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.is_empty() || s == "-" => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        // Caddy headers: {"User-Agent": ["curl/8"]}.
        Value::Array(a) => a.first().and_then(text),
        _ => None,
    }
}

fn time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => stamp::epoch(&n.to_string()),
        Value::String(s) => stamp::iso(s)
            .or_else(|| stamp::clf(s))
            .or_else(|| stamp::epoch(s)),
        _ => None,
    }
}

/// Whether a JSON object looks like a web access-log record.
pub fn looks_like_access(v: &Value) -> bool {
    let r = v.get("request").filter(|r| r.is_object()).unwrap_or(v);
    get(r, ADDR).is_some()
        && (get(r, URI).is_some() || v.get("request").is_some_and(|x| x.is_string()))
}

/// Parses one JSON access-log line.
pub fn parse(line: &str, rec: u64) -> Result<Parsed<'static>, LineError> {
    if !line.starts_with('{') {
        return Err(LineError::OtherFormat {
            expected: "JSON access-log",
        });
    }
    let v: Value = serde_json::from_str(line).map_err(|e| syntax(format!("invalid JSON: {e}")))?;
    // Caddy: the request is an object; nginx: `request` is the request line.
    let caddy = v.get("request").filter(|r| r.is_object());
    let r = caddy.unwrap_or(&v);
    let addr = get(r, ADDR)
        .and_then(text)
        .ok_or_else(|| syntax("no client address field"))?;
    let src = parse_ip(&addr)?;
    let ts = get(&v, TIME)
        .and_then(time)
        .ok_or_else(|| syntax("no valid time field"))?;
    let (mut method, mut uri) = (get(r, METHOD).and_then(text), get(r, URI).and_then(text));
    if caddy.is_none()
        && let Some(line) = v.get("request").and_then(|x| x.as_str())
    {
        {
            let mut it = line.splitn(3, ' ');
            let m = it.next().unwrap_or("");
            let u = it.next();
            if method.is_none() {
                method = Some(m.to_owned());
            }
            if uri.is_none() {
                uri = Some(u.unwrap_or(m).to_owned());
            }
        }
    }
    let uri = uri.ok_or_else(|| syntax("no request URI field"))?;
    let status = match get(&v, STATUS) {
        None => None,
        Some(s) => Some(
            text(s)
                .and_then(|s| s.parse::<u16>().ok())
                .ok_or_else(|| syntax(format!("invalid status {:?}", short(&s.to_string()))))?,
        ),
    };
    let bytes = get(&v, BYTES)
        .and_then(text)
        .and_then(|b| b.parse::<u64>().ok())
        .unwrap_or(0);
    let headers = r.get("headers");
    let hdr = |names: &[&str], caddy_name: &str| {
        get(r, names)
            .or_else(|| get(&v, names))
            .and_then(text)
            .or_else(|| headers.and_then(|h| h.get(caddy_name)).and_then(text))
    };
    Ok(Parsed::Request(WebRequest {
        ts,
        src,
        site: get(r, HOST).and_then(text).map(Cow::Owned),
        method: Cow::Owned(method.unwrap_or_default()),
        uri: Cow::Owned(uri),
        status,
        bytes,
        referer: hdr(REF, "Referer").map(Cow::Owned),
        user_agent: hdr(UA, "User-Agent").map(Cow::Owned),
        body: v.get("request_body").and_then(text).map(Cow::Owned),
        headers: Vec::new(),
        rec,
    }))
}
