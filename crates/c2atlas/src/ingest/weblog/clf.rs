//! Apache/nginx common and combined log formats:
//!
//! ```text
//! [%v[:port]] %h %l %u [%t] "%r" %>s %b ["%{Referer}i" "%{User-agent}i"] [trailing fields…]
//! ```
//!
//! The optional leading vhost is recognised by position (the `[time]` field
//! is the 4th or 5th token). Trailing fields (`%D`, `$request_time`,
//! upstream times, extra quoted fields) are ignored. Quoted fields honour
//! Apache's and nginx's escapes (`\"`, `\\`, `\xhh`).

use std::borrow::Cow;

use super::{LineError, WebRequest, opt, parse_ip, short, split1, stamp, syntax};

/// Most fields a line may have before it is deemed something else.
const MAX_TOKENS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bare,
    Bracket,
    Quoted,
}

fn tokens(line: &str) -> Result<Vec<(Kind, &str)>, LineError> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(12);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match b.get(j) {
                        None => return Err(syntax(format!("unbalanced quote at byte {i}"))),
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                    }
                }
                out.push((Kind::Quoted, line.get(start..j).unwrap_or("")));
                i = j + 1;
            }
            b'[' => {
                let start = i + 1;
                let Some(len) = memchr::memchr(b']', &b[start..]) else {
                    return Err(syntax(format!("unbalanced '[' at byte {i}")));
                };
                out.push((Kind::Bracket, &line[start..start + len]));
                i = start + len + 1;
            }
            _ => {
                let start = i;
                while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                    i += 1;
                }
                out.push((Kind::Bare, &line[start..i]));
            }
        }
        if out.len() > MAX_TOKENS {
            return Err(syntax("too many fields for an access-log line"));
        }
    }
    Ok(out)
}

/// Undoes Apache/nginx escaping in a quoted field (`\"`, `\\`, `\xhh` for ASCII).
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.peek().map(|p| p.1) {
            Some('"') | Some('\\') => {
                out.push(it.next().map(|p| p.1).unwrap_or('\\'));
            }
            Some('x') => {
                let hex = s
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) if v < 0x80 => {
                        out.push(v as char);
                        it.next();
                        it.next();
                        it.next();
                    }
                    _ => out.push('\\'),
                }
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Parses one common/combined line. `rec` is its line number.
pub fn parse(line: &str, rec: u64) -> Result<WebRequest<'_>, LineError> {
    let t = tokens(line)?;
    let tpos = t
        .iter()
        .position(|(k, _)| *k == Kind::Bracket)
        .ok_or_else(|| syntax("no [time] field"))?;
    let (vhost, hpos) = match tpos {
        3 => (None, 0),
        4 => (Some(t[0].1), 1),
        _ => {
            return Err(syntax(format!(
                "[time] is field {} (expected 4 or 5)",
                tpos + 1
            )));
        }
    };
    if t[..tpos].iter().any(|(k, _)| *k != Kind::Bare) {
        return Err(syntax("quoted field before [time]"));
    }
    let src = parse_ip(t[hpos].1)?;
    let ts = stamp::clf(t[tpos].1)
        .ok_or_else(|| syntax(format!("invalid time {:?}", short(t[tpos].1))))?;
    let Some(&(Kind::Quoted, request)) = t.get(tpos + 1) else {
        return Err(syntax("missing \"request\" field (truncated line?)"));
    };
    let Some(&(Kind::Bare, status)) = t.get(tpos + 2) else {
        return Err(syntax("missing status field (truncated line?)"));
    };
    let status = if status == "-" {
        None
    } else {
        Some(
            status
                .parse::<u16>()
                .ok()
                .filter(|s| (100..1000).contains(s))
                .ok_or_else(|| syntax(format!("invalid status {:?}", short(status))))?,
        )
    };
    let bytes = match t.get(tpos + 3) {
        Some(&(Kind::Bare, "-")) => 0,
        Some(&(Kind::Bare, b)) => b
            .parse()
            .map_err(|_| syntax(format!("invalid size {:?}", short(b))))?,
        None => return Err(syntax("missing size field (truncated line?)")),
        Some(_) => return Err(syntax("size field is quoted")),
    };
    let (referer, user_agent) = match (t.get(tpos + 4), t.get(tpos + 5)) {
        (Some(&(Kind::Quoted, r)), Some(&(Kind::Quoted, u))) => (opt(r), opt(u)),
        (Some(&(Kind::Quoted, _)), _) => {
            return Err(syntax("referer without user-agent (truncated line?)"));
        }
        _ => (None, None),
    };
    let request = unescape(request);
    let (method, target) = split_request(request);
    let site = vhost.and_then(opt).map(|v| {
        // `%v:%p`: drop the port.
        let (h, _) = if v.starts_with('[') {
            (v, None)
        } else {
            split1(v, ':')
        };
        Cow::Borrowed(h)
    });
    Ok(WebRequest {
        ts,
        src,
        site,
        method,
        uri: target,
        status,
        bytes,
        referer: referer.map(unescape),
        user_agent: user_agent.map(unescape),
        body: None,
        headers: Vec::new(),
        rec,
    })
}

/// `GET /x HTTP/1.1` → (`GET`, `/x`). A request line that is not three
/// fields (garbage, `-`) gives an empty method and the whole line as target.
fn split_request(r: Cow<'_, str>) -> (Cow<'_, str>, Cow<'_, str>) {
    fn parts(s: &str) -> Option<(usize, usize, usize)> {
        let sp1 = s.find(' ')?;
        let rest = &s[sp1 + 1..];
        let end = match rest.rfind(" HTTP/") {
            Some(e) => e,
            None if !rest.contains(' ') => rest.len(),
            None => return None,
        };
        let m = &s[..sp1];
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        Some((sp1, sp1 + 1, sp1 + 1 + end))
    }
    match r {
        Cow::Borrowed(s) => match parts(s) {
            Some((a, b, c)) => (Cow::Borrowed(&s[..a]), Cow::Borrowed(&s[b..c])),
            None => (
                Cow::Borrowed(""),
                Cow::Borrowed(if s == "-" { "" } else { s }),
            ),
        },
        Cow::Owned(s) => match parts(&s) {
            Some((a, b, c)) => (
                Cow::Owned(s[..a].to_owned()),
                Cow::Owned(s[b..c].to_owned()),
            ),
            None => (Cow::Borrowed(""), Cow::Owned(s)),
        },
    }
}
