//! Cross-site scripting: a light HTML tag scanner (tag names, attribute
//! names, attribute values) plus checks for the contexts an injection lands
//! in (inside an attribute value, inside a script, inside a URL attribute).
//! Input is already decoded (entities, `%`, JS escapes).

/// Tags that run script or load active content by themselves.
const ACTIVE_TAGS: &[&str] = &[
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "meta",
    "xml",
    "import",
    "isindex",
    "svg",
    "math",
    "link",
    "style",
    "vmlframe",
    "xss",
    "template",
    "portal",
    "animate",
    "set",
    "handler",
    "listener",
    "layer",
    "ilayer",
    "bgsound",
    "xmp",
    "plaintext",
    "noscript",
    "keygen",
    "form",
    "param",
    "image",
    "img",
    "video",
    "audio",
    "source",
    "body",
    "html",
    "marquee",
    "details",
    "input",
    "button",
    "textarea",
    "select",
    "a",
    "div",
    "table",
    "td",
    "span",
    "br",
    "p",
    "b",
    "i",
    "u",
];

/// Tags dangerous even without attributes.
const SCRIPT_TAGS: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "xml",
    "import", "isindex", "svg", "math", "vmlframe", "xss", "portal", "handler", "listener",
    "layer", "ilayer", "bgsound", "style", "link",
];

fn strip_noise(s: &str) -> String {
    // Browsers ignore tabs/newlines/NUL inside URL schemes (`java\tscript:`).
    s.chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r' | '\0' | '\u{b}' | '\u{c}'))
        .collect::<String>()
        .to_ascii_lowercase()
}

fn script_url(v: &str) -> bool {
    let v = strip_noise(v);
    let v = v.trim_start_matches(|c: char| {
        c.is_whitespace() || c == '"' || c == '\'' || c == '`' || (c as u32) < 0x20
    });
    v.starts_with("javascript:")
        || v.starts_with("vbscript:")
        || v.starts_with("livescript:")
        || v.starts_with("data:text/html")
        || v.starts_with("data:image/svg")
        || v.starts_with("data:application/x")
}

const JS_SINKS: &[&str] = &[
    "alert",
    "prompt",
    "confirm",
    "eval",
    "settimeout",
    "setinterval",
    "fromcharcode",
    "atob",
    "document.cookie",
    "document.write",
    "document.domain",
    "document.location",
    "window.location",
    "location.href",
    "innerhtml",
    "outerhtml",
    "execscript",
    "msgbox",
    "import(",
    "constructor",
    "top[",
    "self[",
    "window[",
    "parent[",
    "this[",
    "fetch(",
    "xmlhttprequest",
    "onerror=",
    ".src=",
];

fn has_js_sink(l: &str) -> Option<&'static str> {
    JS_SINKS
        .iter()
        .find(|k| {
            l.match_indices(*k).any(|(i, m)| {
                let after = l[i + m.len()..].trim_start();
                m.ends_with(['(', '[', '='])
                    || after.starts_with(['(', '`', '=', '['])
                    || m.contains('.') && !after.starts_with(char::is_alphanumeric)
            })
        })
        .copied()
}

/// Classifies one decoded value as XSS: `(confidence, rule)`.
pub fn detect(s: &str) -> Option<(f32, &'static str)> {
    let b = s.as_bytes();
    let lt = memchr::memchr(b'<', b).is_some();
    let has_eq_or_colon = memchr::memchr2(b'=', b':', b).is_some();
    let has_paren = memchr::memchr3(b'(', b'`', b'{', b).is_some();
    if !lt && !has_eq_or_colon && !has_paren {
        return None;
    }
    let l = strip_noise(s);
    if lt && let Some(v) = tags(&l) {
        return Some(v);
    }
    // Attribute context: `" onmouseover="…`, `' autofocus onfocus=…`, `/onload=…`.
    if has_eq_or_colon {
        let lb = l.as_bytes();
        for (i, _) in l.match_indices("on") {
            let before_ok = i == 0 || matches!(lb[i - 1], b'"' | b'\'' | b' ' | b'/' | b'`' | b';');
            if !before_ok {
                continue;
            }
            let name_end = i
                + 2
                + lb[i + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count();
            if name_end - i < 5 {
                continue;
            }
            let rest = l[name_end..].trim_start();
            if let Some(v) = rest.strip_prefix('=') {
                let quoted_break = l[..i].contains(['"', '\'']) || i == 0;
                if quoted_break
                    && (has_js_sink(v).is_some()
                        || v.trim_start().starts_with(['"', '\'']) && v.contains('('))
                {
                    return Some((0.85, "event handler attribute"));
                }
            }
        }
        if script_url(&l) {
            return Some((0.85, "script URL"));
        }
        for pat in ["javascript:", "vbscript:", "livescript:"] {
            if let Some(p) = l.find(pat) {
                let tail = &l[p + pat.len()..];
                if has_js_sink(tail).is_some() || tail.contains('(') || tail.contains('`') {
                    return Some((0.8, "script URL"));
                }
            }
        }
    }
    // Script context: `";alert(1)//`, `'-alert(1)-'`, `</script>`.
    if has_paren {
        if let Some(sink) = has_js_sink(&l) {
            let breaks = l.contains(['"', '\'', ';', '}', ')', '`']) || l.starts_with(sink);
            if breaks
                && (l.contains("alert")
                    || l.contains("prompt")
                    || l.contains("confirm")
                    || l.contains("eval")
                    || l.contains("fromcharcode")
                    || l.contains("document.")
                    || l.contains("constructor")
                    || l.contains("atob")
                    || l.contains("import("))
            {
                return Some((0.75, "script sink call"));
            }
        }
        if l.contains("expression(") && (l.contains("style") || l.contains(':')) {
            return Some((0.8, "CSS expression"));
        }
        if l.contains("{{")
            && (l.contains("constructor") || l.contains("$eval") || l.contains("$on"))
        {
            return Some((0.8, "template injection"));
        }
    }
    if l.contains("-moz-binding") || l.contains("behavior:") && l.contains("url(") {
        return Some((0.8, "CSS behaviour"));
    }
    None
}

/// Scans tags in lower-cased input.
fn tags(l: &str) -> Option<(f32, &'static str)> {
    let b = l.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let p = i + off;
        i = p + 1;
        let mut j = p + 1;
        if b.get(j) == Some(&b'/') {
            j += 1;
        }
        if b.get(j) == Some(&b'!') && l[j..].starts_with("![cdata[") {
            return Some((0.6, "CDATA section"));
        }
        if b.get(j) == Some(&b'?')
            && l[j..].starts_with("?xml")
            && (l.contains("<!entity") || l.contains("stylesheet"))
        {
            return Some((0.6, "XML processing instruction"));
        }
        let ns = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'-' | b':' | b'_')) {
            j += 1;
        }
        if j == ns || !b[ns].is_ascii_alphabetic() {
            continue;
        }
        let name = &l[ns..j];
        let name = name.rsplit(':').next().unwrap_or(name);
        // Attributes up to `>` (or end of input: a truncated tag still runs).
        let end = memchr::memchr(b'>', &b[j..])
            .map(|e| j + e)
            .unwrap_or(b.len());
        let attrs = &l[j..end];
        if SCRIPT_TAGS.contains(&name) && (end < b.len() || !attrs.is_empty() || p + 1 < ns) {
            return Some((0.9, "script-capable tag"));
        }
        let known = ACTIVE_TAGS.contains(&name);
        // on* attribute: `<x onclick=…>`, `<svg/onload=…>`.
        let ab = attrs.as_bytes();
        for (k, _) in attrs.match_indices("on") {
            let before_ok =
                k == 0 || matches!(ab[k - 1], b' ' | b'/' | b'"' | b'\'' | b'\n' | b'\t' | b'`');
            let name_len = ab[k + 2..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            if before_ok && name_len >= 3 && attrs[k + 2 + name_len..].trim_start().starts_with('=')
            {
                return Some((0.95, "event handler attribute"));
            }
        }
        for (k, _) in attrs.match_indices('=') {
            if script_url(&attrs[k + 1..]) {
                return Some((0.9, "script URL attribute"));
            }
        }
        if attrs.contains("style")
            && (attrs.contains("expression(")
                || attrs.contains("javascript:")
                || attrs.contains("-moz-binding")
                || attrs.contains("behavior"))
        {
            return Some((0.85, "script in style"));
        }
        if known
            && (attrs.contains("src=")
                || attrs.contains("href=")
                || attrs.contains("action=")
                || attrs.contains("formaction"))
            && has_js_sink(attrs).is_some()
        {
            return Some((0.8, "active tag with script"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacks_and_benign() {
        for a in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "\"><iframe src=javascript:alert(1)>",
            "\" onmouseover=\"alert(1)",
            "javascript:alert(document.cookie)",
            "';alert(String.fromCharCode(88))//",
            "<a href=\"jav\tascript:alert(1)\">x</a>",
            "<div style=\"width:expression(alert(1))\">",
        ] {
            assert!(detect(a).is_some(), "missed {a:?}");
        }
        for b in [
            "a < b",
            "x=1 & y=2",
            "<b>bold</b>",
            "money (in dollars)",
            "one onion=3",
            "http://ex.com/a?b=c",
        ] {
            assert_eq!(detect(b), None, "flagged {b:?}");
        }
    }
}
