//! Suricata eve.json: `http` events become requests; other event types are
//! skipped (not malformed: an eve file mixes them).

use std::borrow::Cow;

use serde_json::Value;

use super::{LineError, Parsed, WebRequest, parse_ip, stamp, syntax};

/// Whether a JSON object is a Suricata eve record.
pub fn looks_like_eve(v: &Value) -> bool {
    v.get("event_type").is_some_and(|e| e.is_string()) && v.get("src_ip").is_some()
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(|x| x.as_str())
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
}

/// Parses one eve line.
pub fn parse(line: &str, rec: u64) -> Result<Parsed<'static>, LineError> {
    if !line.starts_with('{') {
        return Err(LineError::OtherFormat {
            expected: "Suricata eve.json",
        });
    }
    let v: Value = serde_json::from_str(line).map_err(|e| syntax(format!("invalid JSON: {e}")))?;
    if !looks_like_eve(&v) {
        return Err(LineError::OtherFormat {
            expected: "Suricata eve.json",
        });
    }
    if v.get("event_type").and_then(|e| e.as_str()) != Some("http") {
        return Ok(Parsed::Skip);
    }
    let http = v
        .get("http")
        .ok_or_else(|| syntax("http event without \"http\" object"))?;
    let src = parse_ip(v.get("src_ip").and_then(|x| x.as_str()).unwrap_or(""))?;
    let ts = v
        .get("timestamp")
        .and_then(|t| t.as_str())
        .and_then(stamp::iso)
        .ok_or_else(|| syntax("invalid or missing timestamp"))?;
    let status = match http.get("status") {
        None | Some(Value::Null) => None,
        Some(x) => Some(
            x.as_u64()
                .or_else(|| x.as_str().and_then(|t| t.parse().ok()))
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| syntax("invalid http.status"))?,
        ),
    };
    Ok(Parsed::Request(WebRequest {
        ts,
        src,
        site: s(http.get("hostname")).map(Cow::Owned),
        method: Cow::Owned(s(http.get("http_method")).unwrap_or_default()),
        uri: Cow::Owned(s(http.get("url")).ok_or_else(|| syntax("http event without http.url"))?),
        status,
        bytes: http.get("length").and_then(|x| x.as_u64()).unwrap_or(0),
        referer: s(http.get("http_refer")).map(Cow::Owned),
        user_agent: s(http.get("http_user_agent")).map(Cow::Owned),
        body: None,
        headers: Vec::new(),
        rec,
    }))
}
