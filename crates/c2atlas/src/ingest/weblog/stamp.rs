//! Timestamps of web logs: CLF `10/Oct/2000:13:55:36 -0700`, ISO 8601 /
//! RFC 3339 (`2021-12-10T10:00:00.123456+0000`, `…Z`, `…+01:00`), W3C
//! `date time` (UTC) and Unix epoch seconds with a fraction.

use crate::model::Micros;
use crate::time::days_from_civil;

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 9 {
        return None;
    }
    s.parse().ok()
}

fn month(s: &str) -> Option<u32> {
    const M: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    M.iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + 1)
}

fn civil(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> Option<Micros> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400) + h * 3600 + mi * 60 + s) * 1_000_000)
}

/// `+hhmm`, `-hh:mm` or `Z` → offset in seconds.
fn offset(s: &str) -> Option<i64> {
    if s.is_empty() || s == "Z" || s == "z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes()[0] {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    // `hhmm` or `hh:mm`, without allocating (this runs once per log line).
    let (hh, mm) = match rest.len() {
        4 => (rest.get(..2)?, rest.get(2..)?),
        5 if rest.as_bytes().get(2) == Some(&b':') => (rest.get(..2)?, rest.get(3..)?),
        _ => return None,
    };
    let h = num(hh)?;
    let m = num(mm)?;
    Some(sign * (h * 3600 + m * 60))
}

/// Fractional seconds `.123456` → micros (extra digits truncated).
fn frac(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v = 0i64;
    for i in 0..6 {
        v = v * 10 + s.as_bytes().get(i).map(|b| (b - b'0') as i64).unwrap_or(0);
    }
    Some(v)
}

/// `10/Oct/2000:13:55:36 -0700` (the brackets already removed).
pub fn clf(s: &str) -> Option<Micros> {
    let (dt, off) = match s.split_once(' ') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let mut it = dt.splitn(3, '/');
    let d = num(it.next()?)? as u32;
    let mo = month(it.next()?)?;
    let rest = it.next()?;
    let mut it = rest.splitn(4, ':');
    let y = num(it.next()?)?;
    let h = num(it.next()?)?;
    let mi = num(it.next()?)?;
    let sec = it.next()?;
    let (sec, fr) = sec.split_once('.').unwrap_or((sec, ""));
    let t = civil(y, mo, d, h, mi, num(sec)?)? + frac(fr)?;
    Some(t - offset(off.trim())? * 1_000_000)
}

/// ISO 8601 / RFC 3339 date-time, `T` or space separated, optional fraction and offset.
pub fn iso(s: &str) -> Option<Micros> {
    let s = s.trim();
    if s.len() < 19
        || !s.is_char_boundary(10)
        || !matches!(s.as_bytes()[10], b'T' | b' ' | b't')
        || !s.is_char_boundary(19)
    {
        return None;
    }
    let (date, rest) = (&s[..10], &s[11..]);
    let mut it = date.splitn(3, '-');
    let y = num(it.next()?)?;
    let mo = num(it.next()?)? as u32;
    let d = num(it.next()?)? as u32;
    let time = rest.get(..8)?;
    let mut it = time.splitn(3, ':');
    let h = num(it.next()?)?;
    let mi = num(it.next()?)?;
    let sec = num(it.next()?)?;
    let mut tail = rest.get(8..)?;
    let mut f = 0;
    if let Some(t) = tail.strip_prefix('.') {
        let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        f = frac(&t[..end])?;
        tail = &t[end..];
    }
    Some(civil(y, mo, d, h, mi, sec)? + f - offset(tail)? * 1_000_000)
}

/// Unix epoch seconds, possibly fractional (`1646861401.5241024`).
pub fn epoch(s: &str) -> Option<Micros> {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let i: i64 = if i.len() <= 12 {
        i.parse().ok()?
    } else {
        return None;
    };
    Some(i * 1_000_000 + frac(f)?)
}

/// W3C `date` and `time` fields (UTC by definition).
pub fn w3c(date: &str, time: &str) -> Option<Micros> {
    iso(&format!("{date}T{time}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_agree() {
        let a = clf("10/Oct/2000:13:55:36 -0700");
        assert_eq!(a, iso("2000-10-10T20:55:36Z"));
        assert_eq!(a, iso("2000-10-10T13:55:36-07:00"));
        assert_eq!(a, w3c("2000-10-10", "20:55:36"));
        assert_eq!(a, epoch("971211336"));
        assert_eq!(
            iso("2021-12-10T10:00:00.123456+0000"),
            Some(1_639_130_400_123_456)
        );
        assert_eq!(clf("99/Oct/2000:13:55:36 -0700"), None);
        assert_eq!(clf("10/Foo/2000:13:55:36 -0700"), None);
        assert_eq!(iso("2021-12-10é10:00:00"), None);
    }
}
