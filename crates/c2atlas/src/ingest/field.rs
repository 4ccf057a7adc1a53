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

/// Positions of one separator byte in a line, in order.
///
/// Lines are short (~150 bytes) and fields shorter (~7 bytes), so a
/// `memchr` call per field spends more on setup than on searching. This scans
/// eight bytes at a time (SWAR: a word-wide exact "byte equals" test) and
/// hands out the separators of each word from a bit mask. Written by hand
/// because `memchr::memchr_iter` restarts its vectorised search (with its
/// setup) on every `next`.
pub(crate) struct Separators<'a> {
    bytes: &'a [u8],
    /// Broadcast separator.
    pattern: u64,
    /// Offset of the word `mask` was computed from.
    base: usize,
    /// High bit of each byte of the current word that equals the separator.
    mask: u64,
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

impl<'a> Separators<'a> {
    pub(crate) fn new(sep: u8, bytes: &'a [u8]) -> Self {
        let mut it = Separators {
            bytes,
            pattern: u64::from_ne_bytes([sep; 8]),
            base: 0,
            mask: 0,
        };
        it.mask = it.word_mask(0);
        it
    }

    /// Separator mask of the (zero-padded, little-endian) word at `at`.
    #[inline]
    fn word_mask(&self, at: usize) -> u64 {
        let (word, valid) = match self.bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
            Some(Ok(w)) => (w, u64::MAX),
            _ => {
                let mut w = [0u8; 8];
                let chunk = self.bytes.get(at..).unwrap_or(&[]);
                let n = chunk.len().min(8);
                w[..n].copy_from_slice(&chunk[..n]);
                // Padding bytes beyond the line are not separators.
                (w, (1u64 << (n * 8)) - 1)
            }
        };
        let x = u64::from_le_bytes(word) ^ self.pattern;
        // High bit set exactly in the zero bytes of `x` (no carries cross bytes).
        !(((x & LO7).wrapping_add(LO7)) | x | LO7) & valid
    }
}

impl Iterator for Separators<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.mask != 0 {
                let i = self.base + (self.mask.trailing_zeros() / 8) as usize;
                self.mask &= self.mask - 1;
                return Some(i);
            }
            self.base += 8;
            if self.base >= self.bytes.len() {
                return None;
            }
            self.mask = self.word_mask(self.base);
        }
    }
}

/// Number of `sep` bytes in `bytes`. Counted in byte-wide lanes over chunks
/// of at most 255 bytes (so a lane cannot overflow), which the compiler
/// vectorises 16 bytes at a time; `filter().count()` widens every byte to a
/// `usize` lane and runs four times slower.
pub(crate) fn count_byte(sep: u8, bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| {
            usize::from(
                c.iter()
                    .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == sep))),
            )
        })
        .sum()
}

/// A port: decimal (`443`) or Argus hex (`0x0303`); empty means 0.
pub(crate) fn port(s: &str) -> Option<u16> {
    if s.is_empty() {
        return Some(0);
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u16::from_str_radix(hex, 16).ok();
    }
    u16::try_from(decimal(s.as_bytes())?).ok()
}

/// An unsigned count; empty means 0.
pub(crate) fn count(s: &str) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    decimal(s.as_bytes())
}

/// Non-empty ASCII digits as a `u64` in one pass (the hot path's counts and
/// ports): `None` on any other byte, on overflow, or when empty. Same
/// result as checking every byte is a digit and then `str::parse::<u64>`.
#[inline]
fn decimal(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// An IP address (v4 or v6, no zone).
#[inline]
pub(crate) fn ip(s: &str) -> Option<IpAddr> {
    match ipv4_dotted(s.as_bytes()) {
        Some(a) => Some(IpAddr::V4(a)),
        None => s.parse().ok(),
    }
}

/// Strict dotted-quad IPv4 (`192.0.2.1`) without the generic parser's
/// machinery: four decimal octets of 1–3 digits, no leading zeros, each at
/// most 255 — exactly the IPv4 text `std` accepts. `None` for anything else
/// (the caller then falls back to `str::parse`, which also handles IPv6).
#[inline]
fn ipv4_dotted(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut i = 0usize;
    for (n, o) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v: u32 = 0;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 || i - start == 3 {
                break;
            }
            v = v * 10 + u32::from(d);
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *o = u8::try_from(v).ok()?;
    }
    (i == b.len()).then_some(std::net::Ipv4Addr::from(octets))
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

    proptest::proptest! {
        /// The fast IPv4 and count parsers agree with `std` on any text,
        /// including near-misses (leading zeros, 256, extra dots, signs).
        #[test]
        fn fast_parsers_equal_std(s in "[0-9.+:a-f]{0,18}|[0-9]{1,3}\\.[0-9]{1,4}\\.[0-9]{1,3}\\.[0-9]{1,4}") {
            proptest::prop_assert_eq!(ip(&s), s.parse::<IpAddr>().ok());
            let std_count = if s.is_empty() { Some(0) } else if s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None };
            proptest::prop_assert_eq!(count(&s), std_count);
            let std_port = if s.is_empty() { Some(0) } else if s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None };
            proptest::prop_assert_eq!(port(&s), std_port);
        }
    }

    proptest::proptest! {
        #[test]
        fn separators_equal_naive(bytes in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(b'\t'), proptest::prelude::any::<u8>()], 0..80)) {
            let naive: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'\t').map(|(i, _)| i).collect();
            let fast: Vec<usize> = Separators::new(b'\t', &bytes).collect();
            proptest::prop_assert_eq!(fast, naive);
        }
    }

    proptest::proptest! {
        #[test]
        fn count_byte_equals_naive(bytes in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(b','), proptest::prelude::any::<u8>()], 0..800)) {
            let naive = bytes.iter().filter(|b| **b == b',').count();
            proptest::prop_assert_eq!(count_byte(b',', &bytes), naive);
        }
    }

    #[test]
    fn fast_ipv4_edges() {
        for s in ["0.0.0.0", "255.255.255.255", "1.2.3.4", "10.0.0.1"] {
            assert_eq!(ip(s), s.parse().ok(), "{s}");
        }
        for s in [
            "01.2.3.4",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.",
            "1..2.3",
            "1.2.3.4 ",
            "1.2.3.0004",
        ] {
            assert_eq!(ip(s), None, "{s}");
        }
        assert_eq!(count("18446744073709551615"), Some(u64::MAX));
        assert_eq!(count("18446744073709551616"), None);
        assert_eq!(port("65535"), Some(65535));
    }

    #[test]
    fn quoting_is_bounded() {
        let long = "é".repeat(100);
        assert!(quoted(&long).len() < 80);
    }
}
