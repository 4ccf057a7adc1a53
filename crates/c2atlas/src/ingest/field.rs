//! Field-level parsers shared by the formats. All are allocation-free on
//! success, return `None` on bad input, and never panic.

use std::net::IpAddr;

use crate::model::{Micros, Proto};
use crate::time::days_from_civil;

/// Longest value quoted back in a diagnostic, in bytes, so that a garbage
/// megabyte-long field does not become a megabyte-long message.
pub(crate) const MAX_QUOTED: usize = 64;

/// `value` shortened to at most [`MAX_QUOTED`] bytes (on a char boundary), for diagnostics.
pub(crate) fn quoted(value: &str) -> String {
    if value.len() <= MAX_QUOTED {
        return format!("{value:?}");
    }
    let mut end = MAX_QUOTED;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &value[..end])
}

/// A port: decimal (`443`) or Argus hex (`0x0303`); empty means 0.
pub(crate) fn port(s: &str) -> Option<u16> {
    if s.is_empty() {
        return Some(0);
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u16::from_str_radix(hex, 16).ok();
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An unsigned count; empty means 0.
pub(crate) fn count(s: &str) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An IP address (v4 or v6, no zone).
pub(crate) fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Whether `s` is a MAC address (`00:0c:29:97:a3:eb`), as Argus writes for
/// non-IP records.
pub(crate) fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A decimal number of seconds (`1655071198.444458`, `-0.5`, `12`) as
/// microseconds, digits beyond the sixth decimal truncated. Exponent
/// notation (`1.5e9`) is accepted through `f64`.
pub(crate) fn seconds_micros(s: &str) -> Option<Micros> {
    let b = s.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut whole: i64 = 0;
    let mut i = 0;
    while i < digits.len() && digits[i].is_ascii_digit() {
        whole = whole
            .checked_mul(10)?
            .checked_add(i64::from(digits[i] - b'0'))?;
        i += 1;
    }
    let int_digits = i;
    let mut frac: i64 = 0;
    let mut frac_digits = 0;
    if i < digits.len() && digits[i] == b'.' {
        i += 1;
        while i < digits.len() && digits[i].is_ascii_digit() {
            if frac_digits < 6 {
                frac = frac * 10 + i64::from(digits[i] - b'0');
                frac_digits += 1;
            }
            i += 1;
        }
    }
    if i != digits.len() {
        return if digits[i] == b'e' || digits[i] == b'E' {
            float_seconds_micros(s.parse().ok()?)
        } else {
            None
        };
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    for _ in frac_digits..6 {
        frac *= 10;
    }
    let v = whole.checked_mul(1_000_000)?.checked_add(frac)?;
    Some(if neg { -v } else { v })
}

/// Largest magnitude of seconds accepted from a float (year ~ 2^35): keeps the
/// conversion to microseconds inside `i64`.
const MAX_FLOAT_SECONDS: f64 = 9.0e12;

/// Float seconds (JSON numbers) as microseconds, rounded.
pub(crate) fn float_seconds_micros(f: f64) -> Option<Micros> {
    if !f.is_finite() || f.abs() > MAX_FLOAT_SECONDS {
        return None;
    }
    Some((f * 1e6).round() as i64)
}

fn digits_n(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A calendar timestamp `YYYY/MM/DD HH:MM:SS[.ffffff]` (Argus) or
/// `YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|±HH:MM|±HHMM]` (ISO 8601) as microseconds.
/// Without a zone the time is taken as UTC.
pub(crate) fn datetime_micros(s: &str) -> Option<Micros> {
    let b = s.as_bytes();
    let y = digits_n(b, 0, 4)?;
    let sep = *b.get(4)?;
    if (sep != b'/' && sep != b'-') || b.get(7) != Some(&sep) {
        return None;
    }
    let mo = digits_n(b, 5, 2)?;
    let d = digits_n(b, 8, 2)?;
    if !matches!(b.get(10), Some(b' ' | b'T' | b't')) || b.get(13) != Some(&b':') {
        return None;
    }
    let h = digits_n(b, 11, 2)?;
    let mi = digits_n(b, 14, 2)?;
    if b.get(16) != Some(&b':') {
        return None;
    }
    let sec = digits_n(b, 17, 2)?;
    let y = i64::from(y);
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                frac = frac * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n.min(6)..6 {
            frac *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) => {
            let oh = digits_n(b, i + 1, 2)?;
            let om = match b.len() - (i + 3) {
                0 => 0,
                2 => digits_n(b, i + 3, 2)?,
                3 if b[i + 3] == b':' => digits_n(b, i + 4, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if c == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec) - offset_secs;
    Some(secs * 1_000_000 + frac)
}

/// A timestamp as either a calendar date-time or epoch seconds.
pub(crate) fn timestamp_micros(s: &str) -> Option<Micros> {
    let b = s.as_bytes();
    if b.len() >= 19 && matches!(b.get(4), Some(b'/' | b'-')) {
        datetime_micros(s)
    } else {
        seconds_micros(s)
    }
}

/// What a protocol name says about a record.
pub(crate) enum ProtoName {
    /// An IP protocol.
    Ip(Proto),
    /// A link-layer or management record that is not IP traffic (Argus `arp`, `llc`, `man`, …).
    NotIp,
}

/// Maps Argus/Zeek protocol names (or IP protocol numbers) to [`Proto`].
/// Unknown names are `Other(0)`.
pub(crate) fn proto(s: &str) -> ProtoName {
    let p = match s {
        "tcp" | "TCP" => Proto::Tcp,
        "udp" | "UDP" => Proto::Udp,
        "icmp" | "ICMP" => Proto::Icmp,
        "igmp" => Proto::Other(2),
        "ipnip" | "ipip" => Proto::Other(4),
        "ipv6" => Proto::Other(41),
        "rsvp" => Proto::Other(46),
        "gre" => Proto::Other(47),
        "esp" => Proto::Other(50),
        "ah" => Proto::Other(51),
        "ipv6-icmp" | "icmp6" | "ipv6icmp" => Proto::Other(58),
        "ospf" | "ospfigp" => Proto::Other(89),
        "pim" => Proto::Other(103),
        "sctp" => Proto::Other(132),
        "udt" | "rtp" | "rtcp" => Proto::Udp,
        "arp" | "rarp" | "llc" | "man" | "ipx" | "ipx/spx" | "stp" | "lldp" | "802.1q" => {
            return ProtoName::NotIp;
        }
        _ => match s.parse::<u8>() {
            Ok(6) => Proto::Tcp,
            Ok(17) => Proto::Udp,
            Ok(1) => Proto::Icmp,
            Ok(n) => Proto::Other(n),
            Err(_) => Proto::Other(0),
        },
    };
    ProtoName::Ip(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(port("443"), Some(443));
        assert_eq!(port("0x0303"), Some(771));
        assert_eq!(port(""), Some(0));
        assert_eq!(port("65536"), None);
        assert_eq!(port("+1"), None);
        assert_eq!(port("0xZZ"), None);
    }

    #[test]
    fn seconds() {
        assert_eq!(
            seconds_micros("1655071198.444458"),
            Some(1_655_071_198_444_458)
        );
        assert_eq!(seconds_micros("0.5"), Some(500_000));
        assert_eq!(seconds_micros("12"), Some(12_000_000));
        assert_eq!(seconds_micros("1.1234567"), Some(1_123_456));
        assert_eq!(seconds_micros("-0.25"), Some(-250_000));
        assert_eq!(seconds_micros(".5"), Some(500_000));
        assert_eq!(seconds_micros("1.5e3"), Some(1_500_000_000));
        assert_eq!(seconds_micros("."), None);
        assert_eq!(seconds_micros("1x"), None);
        assert_eq!(seconds_micros("99999999999999999999"), None);
    }

    #[test]
    fn datetimes() {
        assert_eq!(
            datetime_micros("2011/08/16 10:01:46.972101"),
            Some(1_313_488_906_972_101)
        );
        assert_eq!(
            datetime_micros("2011-08-16T10:01:46.972101Z"),
            Some(1_313_488_906_972_101)
        );
        assert_eq!(
            datetime_micros("2011-08-16T12:01:46+02:00"),
            Some(1_313_488_906_000_000)
        );
        assert_eq!(
            datetime_micros("2011-08-16 10:01:46.9"),
            Some(1_313_488_906_900_000)
        );
        assert_eq!(datetime_micros("2011/02/30 10:01:46"), None);
        assert_eq!(datetime_micros("2011/08/16 24:01:46"), None);
        assert_eq!(datetime_micros("2011/08/16 10:01:46."), None);
        assert_eq!(datetime_micros("2011/08/16 10:01:46Q"), None);
        assert_eq!(
            timestamp_micros("1313488906.5"),
            Some(1_313_488_906_500_000)
        );
    }

    #[test]
    fn quoting_is_bounded() {
        let long = "é".repeat(100);
        assert!(quoted(&long).len() < 80);
    }
}
