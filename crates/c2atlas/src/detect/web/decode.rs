//! Decoding as attackers encode: repeated URL-decoding to a fixpoint (capped),
//! `+` as space, `%uXXXX`, UTF-8 overlong sequences (`%c0%ae` → `.`), HTML
//! character references (numeric and the named ones used for evasion), and
//! JavaScript/CSS escapes (`\x3c`, `\u003c`). Base64 is decoded only where it
//! is expected ([`base64`] callers: `Authorization: Basic`, parameter values
//! that decode to printable text).
//!
//! Invariants: every function here is total (never panics) and
//! [`normalize`] is idempotent once it reaches its fixpoint (property-tested).

use std::borrow::Cow;

/// Most decoding rounds. Legitimate data is encoded once; attackers double-
/// and triple-encode to slip past single-decoding filters. Beyond four rounds
/// nothing real remains to find and the cap bounds the work on hostile input.
pub const MAX_ROUNDS: usize = 4;

/// Longest input decoded; the rest is cut (a request target is ≤ 8 KiB in
/// Apache's default; bodies in eval sets are small).
pub const MAX_DECODE: usize = 64 * 1024;

fn hexval(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// One round of percent-decoding (`%XX`, `%uXXXX`; `+` → space when
/// `plus` is set) to bytes, then bytes → text with overlong UTF-8 folded to
/// the ASCII it spells and invalid bytes replaced with U+FFFD.
pub fn url_decode_once(s: &str, plus: bool) -> Cow<'_, str> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus && c == b'+')) {
        return Cow::Borrowed(s);
    }
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'+' && plus {
            out.push(b' ');
            i += 1;
        } else if c == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|x| hexval(*x)),
                b.get(i + 2).and_then(|x| hexval(*x)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
            } else if matches!(b.get(i + 1), Some(b'u' | b'U'))
                && let Some(v) = b.get(i + 2..i + 6).and_then(|h| {
                    h.iter()
                        .try_fold(0u32, |a, x| hexval(*x).map(|d| a * 16 + d))
                })
            {
                let ch = char::from_u32(fold_fullwidth(v)).unwrap_or('\u{FFFD}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += 6;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    Cow::Owned(bytes_to_text(&out))
}

/// Fullwidth ASCII forms (U+FF01–U+FF5E, used by IIS `%u` evasion) → ASCII.
fn fold_fullwidth(v: u32) -> u32 {
    if (0xFF01..=0xFF5E).contains(&v) {
        v - 0xFEE0
    } else {
        v
    }
}

/// Bytes → text: valid UTF-8 kept, overlong 2- and 3-byte encodings of ASCII
/// folded to that ASCII, any other invalid byte → U+FFFD.
pub fn bytes_to_text(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match std::str::from_utf8(&b[i..]) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let good = e.valid_up_to();
                // Checked by from_utf8 just above.
                out.push_str(std::str::from_utf8(&b[i..i + good]).unwrap_or(""));
                i += good;
                let c0 = b[i];
                let cont = |k: usize| b.get(i + k).copied().filter(|x| x & 0xC0 == 0x80);
                if (c0 == 0xC0 || c0 == 0xC1)
                    && let Some(c1) = cont(1)
                {
                    out.push((((c0 as u32 & 0x1F) << 6) | (c1 as u32 & 0x3F)) as u8 as char);
                    i += 2;
                } else if c0 == 0xE0
                    && let (Some(c1), Some(c2)) = (cont(1), cont(2))
                    && c1 < 0xA0
                {
                    let v = ((c1 as u32 & 0x3F) << 6) | (c2 as u32 & 0x3F);
                    out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                    i += 3;
                } else {
                    out.push('\u{FFFD}');
                    i += 1;
                }
            }
        }
    }
    out
}

const NAMED: &[(&str, char)] = &[
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("amp", '&'),
    ("colon", ':'),
    ("lpar", '('),
    ("rpar", ')'),
    ("tab", '\t'),
    ("newline", '\n'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("grave", '`'),
    ("lbrace", '{'),
    ("rbrace", '}'),
    ("equals", '='),
    ("plus", '+'),
    ("period", '.'),
    ("comma", ','),
    ("semi", ';'),
    ("excl", '!'),
    ("quest", '?'),
    ("nbsp", ' '),
    ("lsqb", '['),
    ("rsqb", ']'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("ast", '*'),
    ("lcub", '{'),
    ("rcub", '}'),
    ("lbrack", '['),
    ("rbrack", ']'),
    ("verbar", '|'),
    ("vert", '|'),
    ("lowbar", '_'),
    ("hyphen", '-'),
    ("dash", '-'),
    ("commat", '@'),
    ("bne", '='),
];

/// HTML character references: `&#60;`, `&#x3c;` (leading zeros, optional
/// `;` as browsers accept) and the named references used for evasion.
pub fn html_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'&' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut ch = None;
        if b.get(j) == Some(&b'#') {
            j += 1;
            let hex = matches!(b.get(j), Some(b'x' | b'X'));
            if hex {
                j += 1;
            }
            let start = j;
            let mut v: u32 = 0;
            while let Some(d) = b
                .get(j)
                .and_then(|c| (*c as char).to_digit(if hex { 16 } else { 10 }))
            {
                v = v
                    .saturating_mul(if hex { 16 } else { 10 })
                    .saturating_add(d);
                j += 1;
            }
            if j > start {
                ch = Some(char::from_u32(v).unwrap_or('\u{FFFD}'));
            }
        } else {
            let start = j;
            while j < b.len() && b[j].is_ascii_alphabetic() && j - start < 10 {
                j += 1;
            }
            let name = s[start..j].to_ascii_lowercase();
            if b.get(j) == Some(&b';') || matches!(name.as_str(), "lt" | "gt" | "quot" | "amp") {
                ch = NAMED.iter().find(|(n, _)| *n == name).map(|x| x.1);
            }
        }
        if let Some(c) = ch {
            if b.get(j) == Some(&b';') {
                j += 1;
            }
            out.push_str(&s[last..i]);
            out.push(c);
            last = j;
            i = j;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// JavaScript/CSS-style escapes `\xHH`, `\uHHHH`, `\u{H…}` → characters.
pub fn js_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let parsed = match b[i + 1] {
            b'x' => b.get(i + 2..i + 4).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .map(|v| (v, 4))
            }),
            b'u' if b.get(i + 2) == Some(&b'{') => s[i + 3..].find('}').and_then(|e| {
                u32::from_str_radix(&s[i + 3..i + 3 + e], 16)
                    .ok()
                    .map(|v| (v, e + 4))
            }),
            b'u' => b.get(i + 2..i + 6).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .map(|v| (v, 6))
            }),
            _ => None,
        };
        match parsed.and_then(|(v, n)| char::from_u32(v).map(|c| (c, n))) {
            Some((c, n)) if s.is_char_boundary(i + n) => {
                out.push_str(&s[last..i]);
                out.push(c);
                i += n;
                last = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// Full normalisation of one input value: URL-decoding, HTML and JS
/// decoding, repeated until nothing changes or [`MAX_ROUNDS`] rounds.
/// `plus`: whether `+` means space (query strings and form bodies).
pub fn normalize(s: &str, plus: bool) -> Cow<'_, str> {
    normalize_counted(s, plus).0
}

/// [`normalize`], also returning how many rounds changed the text (at most
/// [`MAX_ROUNDS`]; fewer means the result is a fixpoint).
pub fn normalize_counted(s: &str, plus: bool) -> (Cow<'_, str>, usize) {
    let s = cut(s, MAX_DECODE);
    let mut changed = 0;
    let mut cur: Cow<'_, str> = Cow::Borrowed(s);
    for round in 0..MAX_ROUNDS {
        let next = {
            let a = url_decode_once(&cur, plus && round == 0);
            let b = html_decode(&a);
            let c = js_decode(&b);
            match c {
                Cow::Borrowed(_)
                    if matches!(b, Cow::Borrowed(_)) && matches!(a, Cow::Borrowed(_)) =>
                {
                    None
                }
                other => Some(other.into_owned()),
            }
        };
        match next {
            Some(n) if n != *cur => {
                cur = Cow::Owned(n);
                changed += 1;
            }
            _ => break,
        }
    }
    (cur, changed)
}

/// `s` cut to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut e = max;
    while !s.is_char_boundary(e) {
        e -= 1;
    }
    &s[..e]
}

/// Standard or URL-safe base64 (padding optional) → bytes; `None` if the
/// input is not base64 (wrong alphabet or length).
pub fn base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.len() < 4 || s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A base64 value that decodes to printable text (≥ 90 % printable ASCII):
/// the decoded text, else `None`. Only tried on values of ≥ 8 characters that
/// look like base64 (random tokens rarely decode to text).
pub fn base64_text(s: &str) -> Option<String> {
    if s.len() < 8 || s.len() > MAX_DECODE {
        return None;
    }
    let b = base64(s)?;
    let printable = b
        .iter()
        .filter(|c| (0x20..0x7f).contains(*c) || matches!(c, b'\n' | b'\r' | b'\t'))
        .count();
    if printable * 10 >= b.len() * 9 && !b.is_empty() {
        Some(String::from_utf8_lossy(&b).into_owned())
    } else {
        None
    }
}

/// SQL normalisation for matching: comments `/*…*/` become a space (but the
/// body of MySQL versioned comments `/*!50000 … */` is kept), `--`/`#`
/// line comments are cut, whitespace runs collapse, letters lower-cased.
pub fn sql_fold(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut space = false;
    let push_space = |out: &mut String, space: &mut bool| {
        if !*space && !out.is_empty() {
            out.push(' ');
        }
        *space = true;
    };
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let body_start = i + 2;
            let end = s[body_start..].find("*/").map(|e| body_start + e);
            if b.get(body_start) == Some(&b'!') {
                let mut k = body_start + 1;
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                push_space(&mut out, &mut space);
                let e = end.unwrap_or(b.len());
                let inner = s.get(k..e).unwrap_or("");
                let folded = sql_fold(inner);
                if !folded.is_empty() {
                    out.push_str(&folded);
                    space = false;
                }
                push_space(&mut out, &mut space);
                i = (e + 2).min(b.len());
            } else {
                push_space(&mut out, &mut space);
                i = end.map(|e| e + 2).unwrap_or(b.len());
            }
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() || c == '\u{b}' || c == '\u{a0}' {
            push_space(&mut out, &mut space);
        } else {
            out.extend(c.to_lowercase());
            space = false;
        }
        i += c.len_utf8();
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers() {
        assert_eq!(normalize("%2527%2520or%25201=1", true), "' or 1=1");
        assert_eq!(normalize("a+b%20c", true), "a b c");
        assert_eq!(normalize("a+b", false), "a+b");
        assert_eq!(normalize("%u003cscript%u003e", true), "<script>");
        assert_eq!(normalize("%uff1cscript%uff1e", true), "<script>");
        assert_eq!(normalize("%c0%ae%c0%ae%c0%af", true), "../");
        assert_eq!(normalize("%e0%80%ae", true), ".");
        assert_eq!(normalize("&#x3C;svg&#62;&lt;&colon;", true), "<svg><:");
        assert_eq!(normalize("&#0000060script", true), "<script");
        assert_eq!(normalize("\\x3cimg\\u003e\\u{2f}", true), "<img>/");
        assert_eq!(
            normalize("%252525252e", true),
            "%2e",
            "capped at MAX_ROUNDS"
        );
        assert_eq!(normalize("%zz%", true), "%zz%");
        assert_eq!(normalize("%ff", true), "\u{FFFD}");
    }

    #[test]
    fn base64_and_sql() {
        assert_eq!(
            base64_text("YWRtaW46cGFzc3dvcmQ=").as_deref(),
            Some("admin:password")
        );
        assert_eq!(base64_text("short"), None);
        assert_eq!(base64_text("////////////"), None);
        assert_eq!(
            sql_fold("UnIoN/**/SeLeCt/*!50000cOnCaT*/(1)--x"),
            "union select concat (1)--x"
        );
        assert_eq!(sql_fold("a \t\n b"), "a b");
    }

    proptest::proptest! {
        #[test]
        fn decoding_is_total_and_idempotent_at_fixpoint(s in "\\PC{0,40}|[%+&#;xu0-9a-fA-F<>\\\\]{0,60}") {
            let (once, rounds) = normalize_counted(&s, true);
            if rounds < MAX_ROUNDS {
                let again = normalize(&once, false).into_owned();
                proptest::prop_assert_eq!(again.as_str(), once.as_ref());
            }
            let _ = sql_fold(&s);
            let _ = base64_text(&s);
        }

        #[test]
        fn fixpoint_of_plain_text(s in "[a-zA-Z0-9 /._-]{0,60}") {
            let n = normalize(&s, false).into_owned();
            proptest::prop_assert_eq!(n.as_str(), s.as_str());
        }
    }
}
