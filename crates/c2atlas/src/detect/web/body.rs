//! Request bodies split the way the application will read them, so each
//! detector sees the values an attacker controls and not the syntax around
//! them: form fields, JSON strings (keys and values), XML text and attribute
//! values (never element or attribute names: `<java.lang.Runtime>` as a tag
//! is data, not a call), and multipart parts (field name, file name,
//! content).
//!
//! The kind comes from the `Content-Type` header when the request has one,
//! otherwise from the body's first bytes. All splitters are tolerant: a
//! truncated or invalid body still yields the values seen before the damage.
//!
//! Invariant: total (any input, no panic), output values borrow from the body
//! unless escapes had to be decoded.

use std::borrow::Cow;

/// Most values taken from one body (a body is at most
/// [`super::decode::MAX_DECODE`] bytes; this bounds work on pathological JSON).
pub const MAX_VALUES: usize = 512;

/// How a body is encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyKind<'a> {
    /// `application/x-www-form-urlencoded` (also the default for `k=v&…` bodies).
    Form,
    Json,
    Xml,
    /// `multipart/form-data` with its boundary.
    Multipart(Cow<'a, str>),
    /// Anything else (a bare value, text): analysed as one form-decoded value.
    Text,
}

/// The body's kind from its `Content-Type` (when given) or its first bytes.
pub fn kind<'a>(body: &'a str, content_type: Option<&'a str>) -> BodyKind<'a> {
    if let Some(ct) = content_type {
        let l = ct.to_ascii_lowercase();
        if l.contains("multipart/") {
            if let Some(b) = boundary(ct) {
                return BodyKind::Multipart(b);
            }
        } else if l.contains("json") {
            return BodyKind::Json;
        } else if l.contains("xml") {
            return BodyKind::Xml;
        }
    }
    let t = body.trim_start();
    if t.starts_with(['{', '[']) {
        BodyKind::Json
    } else if t.starts_with('<') {
        BodyKind::Xml
    } else if let Some(b) = t
        .strip_prefix("--")
        .and_then(|r| r.lines().next())
        .map(str::trim_end)
        .filter(|b| !b.is_empty() && !b.contains(' '))
    {
        BodyKind::Multipart(Cow::Borrowed(b))
    } else if t.contains('=') {
        BodyKind::Form
    } else {
        BodyKind::Text
    }
}

/// `boundary=` parameter of a multipart content type (quotes removed).
fn boundary(ct: &str) -> Option<Cow<'_, str>> {
    let i = ct.to_ascii_lowercase().find("boundary=")?;
    let b = ct[i + "boundary=".len()..]
        .split(';')
        .next()?
        .trim()
        .trim_matches('"');
    (!b.is_empty()).then_some(Cow::Borrowed(b))
}

/// Every JSON string (object keys and values), escapes decoded, plus bare
/// scalars that are not plain numbers, `true`, `false` or `null` (an
/// injected `1 or 1=1` in place of a number).
pub fn json_values(body: &str) -> Vec<Cow<'_, str>> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < MAX_VALUES {
        match b[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut esc = false;
                while j < b.len() && b[j] != b'"' {
                    esc |= b[j] == b'\\';
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                let s = body.get(start..end).unwrap_or("");
                out.push(if esc {
                    Cow::Owned(json_unescape(s))
                } else {
                    Cow::Borrowed(s)
                });
                i = end + 1;
            }
            b'{' | b'}' | b'[' | b']' | b',' | b':' => i += 1,
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b',' | b'}' | b']' | b':' | b'"') {
                    i += 1;
                }
                let s = body.get(start..i).unwrap_or("").trim();
                let plain = matches!(s, "true" | "false" | "null")
                    || s.parse::<f64>().is_ok()
                    || s.is_empty();
                if !plain {
                    out.push(Cow::Borrowed(s));
                }
            }
        }
    }
    out
}

fn json_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') | Some('f') => {}
            Some('u') => {
                let h: String = it.by_ref().take(4).collect();
                match u32::from_str_radix(&h, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&h),
                }
            }
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// XML text nodes, attribute values, CDATA contents, and the bodies of
/// declarations (`<!ENTITY … SYSTEM "file:…">`) and processing instructions
/// other than `<?xml …?>` (`<?php …?>`). Element and attribute names are
/// not returned.
pub fn xml_values(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() && out.len() < MAX_VALUES {
        let Some(lt) = rest.find('<') else {
            push_text(&mut out, rest);
            break;
        };
        push_text(&mut out, &rest[..lt]);
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r.find("]]>").unwrap_or(r.len());
            push_text(&mut out, &r[..end]);
            rest = r.get(end + 3..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").unwrap_or(r.len());
            rest = r.get(end + 3..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<?") {
            let end = r.find("?>").unwrap_or(r.len());
            let pi = &r[..end];
            if !pi.get(..3).is_some_and(|x| x.eq_ignore_ascii_case("xml")) {
                push_text(&mut out, rest.get(..end + 4).unwrap_or(rest));
            } else {
                attr_values(&mut out, pi);
            }
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<!") {
            let end = r.find('>').unwrap_or(r.len());
            push_text(&mut out, &r[..end]);
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let r = &rest[1..];
            let end = tag_end(r);
            attr_values(&mut out, &r[..end]);
            rest = r.get(end + 1..).unwrap_or("");
        }
    }
    out
}

/// End of a tag (`>` outside quoted attribute values), or the end of input.
fn tag_end(r: &str) -> usize {
    let mut q: Option<u8> = None;
    for (i, c) in r.bytes().enumerate() {
        match (q, c) {
            (None, b'"' | b'\'') => q = Some(c),
            (Some(x), _) if x == c => q = None,
            (None, b'>') => return i,
            _ => {}
        }
    }
    r.len()
}

/// Quoted attribute values inside one tag.
fn attr_values<'a>(out: &mut Vec<&'a str>, tag: &'a str) {
    let mut rest = tag;
    while let Some(i) = rest.find(['"', '\'']) {
        let q = rest.as_bytes()[i] as char;
        let r = &rest[i + 1..];
        let end = r.find(q).unwrap_or(r.len());
        push_text(out, &r[..end]);
        rest = r.get(end + 1..).unwrap_or("");
    }
}

fn push_text<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s);
    }
}

/// One part of a multipart body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: Option<&'a str>,
    pub filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub content: &'a str,
}

/// The parts between `--boundary` lines. A body without the boundary yields no part.
pub fn multipart<'a>(body: &'a str, boundary: &str) -> Vec<Part<'a>> {
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    for chunk in body.split(delim.as_str()).skip(1) {
        if chunk.starts_with("--") || out.len() >= MAX_VALUES {
            break;
        }
        let chunk = chunk
            .strip_prefix("\r\n")
            .or_else(|| chunk.strip_prefix('\n'));
        let Some(chunk) = chunk else { continue };
        let (head, content) = chunk
            .split_once("\r\n\r\n")
            .or_else(|| chunk.split_once("\n\n"))
            .unwrap_or((chunk, ""));
        let content = content
            .strip_suffix("\r\n")
            .or_else(|| content.strip_suffix('\n'))
            .unwrap_or(content);
        let mut p = Part {
            content,
            ..Part::default()
        };
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-disposition") {
                p.name = disposition_param(v, "name");
                p.filename = disposition_param(v, "filename");
            } else if k.eq_ignore_ascii_case("content-type") {
                p.content_type = Some(v.trim());
            }
        }
        out.push(p);
    }
    out
}

/// `name="…"` (or unquoted) in a `Content-Disposition` value.
fn disposition_param<'a>(v: &'a str, key: &str) -> Option<&'a str> {
    for p in v.split(';') {
        let Some((k, val)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(key) {
            let val = val.trim();
            return Some(
                val.strip_prefix('"')
                    .map(|x| x.strip_suffix('"').unwrap_or(x))
                    .unwrap_or(val),
            );
        }
    }
    None
}

/// Language of an uploaded server script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Php,
    Jsp,
    Other,
}

/// Server-side script extensions: an upload named like this can be executed
/// by the server (PHP handlers also run `.phtml`, `.pht`, `.phar`, `.php3`…).
/// Returns the language. Spaces and trailing dots are ignored
/// (`shell. php`, `shell.php.` are served as PHP by lenient setups).
pub fn script_upload(filename: &str) -> Option<Script> {
    let f: String = filename
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_end_matches(['.', '/', '\\', '\0'])
        .to_ascii_lowercase();
    // Double extensions (`a.php.jpg`, `a.php5.gif`) are run by misconfigured
    // handlers (Apache `AddHandler`): check every dotted component after the first.
    let mut comps = f.split('.');
    comps.next();
    let mut found = None;
    for e in comps {
        // Apache's usual `AddHandler`/`FilesMatch` patterns match `\.php`
        // followed by anything (`.php5`, `.phpt`, `.php907`).
        // (`.phpinfo` is a word, not a handler's extension: at most one letter or digits after `php`.)
        let tail = e.strip_prefix("php");
        let php = tail.is_some_and(|t| {
            t.len() <= 1 && t.bytes().all(|c| c.is_ascii_alphanumeric())
                || t.bytes().all(|c| c.is_ascii_digit())
        }) || matches!(e, "pht" | "phtml" | "phar");
        if php {
            return Some(Script::Php);
        }
        if matches!(e, "jsp" | "jspx" | "jspf" | "jsw" | "jsv") {
            found = Some(Script::Jsp);
        } else if matches!(
            e,
            "asp" | "aspx" | "ashx" | "asmx" | "cer" | "asa" | "cgi" | "shtml"
        ) && found.is_none()
        {
            found = Some(Script::Other);
        }
    }
    found
}

/// What an uploaded file's name overwrites when it is not a script ([`restricted_upload`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restricted {
    /// A PHP session file (`sess_<id>`): planting one forges a session.
    Session,
    /// A server or application configuration file a web server or
    /// framework reads (`.htaccess`, `wp-config.php`, `web.config`).
    Config,
}

/// Configuration files that change what a server runs or allows when an
/// upload replaces them (our list: Apache, IIS, PHP, common PHP
/// frameworks and CMSs, cloud tool credentials).
const CONFIG_FILES: &[&str] = &[
    ".htaccess",
    ".htpasswd",
    ".user.ini",
    "php.ini",
    "web.config",
    "global.asa",
    "global.asax",
    "settings.php",
    "config.php",
    "configuration.php",
    "localsettings.php",
    "local.xml",
    "env.php",
    "config.yml",
    "config.yaml",
    "parameters.yml",
    "database.yml",
    "secrets.yml",
    "settings.py",
    ".env",
    ".boto",
    ".npmrc",
    ".bashrc",
    ".profile",
    "authorized_keys",
    "crontab",
];

/// Whether an upload's file name (any directory dropped, blanks removed)
/// names a PHP session file or a configuration file ([`CONFIG_FILES`], or a
/// `wp-config` copy such as `wp-config.php.bak`).
pub fn restricted_upload(filename: &str) -> Option<Restricted> {
    let f: String = filename
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let base = f.rsplit(['/', '\\']).next().unwrap_or(&f);
    // PHP's session ids: 22 to 256 characters of [a-z0-9,-] (session.sid_length).
    if let Some(id) = base.strip_prefix("sess_")
        && id.len() >= 20
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b',' || c == b'-')
    {
        return Some(Restricted::Session);
    }
    (CONFIG_FILES.contains(&base) || base.starts_with("wp-config")).then_some(Restricted::Config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind("a=1", None), BodyKind::Form);
        assert_eq!(kind(" {\"a\":1}", None), BodyKind::Json);
        assert_eq!(kind("<a/>", None), BodyKind::Xml);
        assert_eq!(kind("IS NULL", None), BodyKind::Text);
        assert_eq!(
            kind("x", Some("multipart/form-data; boundary=\"abc\"")),
            BodyKind::Multipart(Cow::Borrowed("abc"))
        );
        assert_eq!(
            kind(
                "--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--xyz--",
                None
            ),
            BodyKind::Multipart(Cow::Borrowed("xyz"))
        );
        assert_eq!(kind("a=1", Some("application/json")), BodyKind::Json);
    }

    #[test]
    fn json_strings_and_bare_scalars() {
        let v = json_values(r#"{"a\"b": "x\u0027y", "n": 1.5, "o": 1 or 1=1, "t": true}"#);
        assert_eq!(v, vec!["a\"b", "x'y", "n", "o", "1 or 1=1", "t"]);
        // Truncated input keeps what was seen.
        assert_eq!(
            json_values(r#"{"k": "unterminated"#),
            vec!["k", "unterminated"]
        );
    }

    #[test]
    fn xml_names_are_not_values() {
        let v = xml_values(
            r#"<?xml version="1.0"?><java.lang.Runtime a="v1">t1<b c='v2'/><![CDATA[cd]]></java.lang.Runtime><!ENTITY x SYSTEM "file:///etc/passwd"><?php system('id'); ?>"#,
        );
        assert_eq!(
            v,
            vec![
                "1.0",
                "v1",
                "t1",
                "v2",
                "cd",
                r#"ENTITY x SYSTEM "file:///etc/passwd""#,
                "<?php system('id'); ?>"
            ]
        );
    }

    #[test]
    fn multipart_parts() {
        let b = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n--B\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--B--\r\n";
        let p = multipart(b, "B");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, Some("f"));
        assert_eq!(p[0].filename, Some("a.php"));
        assert_eq!(p[0].content_type, Some("image/gif"));
        assert_eq!(p[0].content, "GIF89a");
        assert_eq!(p[1].name, Some("x"));
        assert_eq!(p[1].content, "1");
        assert!(multipart("no boundary here", "B").is_empty());
    }

    #[test]
    fn upload_extensions() {
        assert_eq!(script_upload("shell.php"), Some(Script::Php));
        assert_eq!(script_upload("shell. phtml"), Some(Script::Php));
        assert_eq!(script_upload("a.php5.gif"), Some(Script::Php));
        assert_eq!(script_upload("cmd.aspx"), Some(Script::Other));
        assert_eq!(script_upload("shell.jsp "), Some(Script::Jsp));
        assert_eq!(script_upload("holiday.jpg"), None);
        assert_eq!(script_upload("php"), None);
        assert_eq!(script_upload("dangerous.phpt"), Some(Script::Php));
        assert_eq!(script_upload("x.php907..."), Some(Script::Php));
        assert_eq!(script_upload("photo.phone.jpg"), None);
    }

    #[test]
    fn restricted_uploads() {
        assert_eq!(
            restricted_upload("/tmp/sess_d8ew88tqmabdcokhumchy8htqm"),
            Some(Restricted::Session)
        );
        assert_eq!(restricted_upload("sess_short"), None);
        assert_eq!(
            restricted_upload("wp-config. php"),
            Some(Restricted::Config)
        );
        assert_eq!(
            restricted_upload("C:\\site\\.htaccess"),
            Some(Restricted::Config)
        );
        assert_eq!(restricted_upload("holiday.jpg"), None);
        assert_eq!(restricted_upload("my-config.php.txt"), None);
    }
}
