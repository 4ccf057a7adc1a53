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

/// Event names of the HTML and DOM specifications (the `on…` attributes a
/// browser runs): a closed vocabulary, so `online=`/`onion=` are not events.
const DOM_EVENTS: &[&str] = &[
    "load",
    "unload",
    "error",
    "abort",
    "click",
    "dblclick",
    "auxclick",
    "contextmenu",
    "mouseover",
    "mouseout",
    "mouseenter",
    "mouseleave",
    "mousemove",
    "mousedown",
    "mouseup",
    "mousewheel",
    "wheel",
    "focus",
    "blur",
    "focusin",
    "focusout",
    "keydown",
    "keyup",
    "keypress",
    "input",
    "change",
    "submit",
    "reset",
    "select",
    "selectstart",
    "selectionchange",
    "scroll",
    "scrollend",
    "resize",
    "toggle",
    "beforetoggle",
    "show",
    "search",
    "invalid",
    "copy",
    "cut",
    "paste",
    "beforecopy",
    "beforecut",
    "beforepaste",
    "drag",
    "dragstart",
    "dragend",
    "dragenter",
    "dragleave",
    "dragover",
    "drop",
    "animationstart",
    "animationend",
    "animationiteration",
    "animationcancel",
    "transitionstart",
    "transitionend",
    "transitionrun",
    "transitioncancel",
    "pointerover",
    "pointerenter",
    "pointerdown",
    "pointermove",
    "pointerup",
    "pointercancel",
    "pointerout",
    "pointerleave",
    "pointerrawupdate",
    "gotpointercapture",
    "lostpointercapture",
    "touchstart",
    "touchend",
    "touchmove",
    "touchcancel",
    "play",
    "playing",
    "pause",
    "ended",
    "canplay",
    "canplaythrough",
    "loadstart",
    "loadeddata",
    "loadedmetadata",
    "progress",
    "seeked",
    "seeking",
    "stalled",
    "suspend",
    "timeupdate",
    "volumechange",
    "waiting",
    "durationchange",
    "emptied",
    "ratechange",
    "hashchange",
    "popstate",
    "pageshow",
    "pagehide",
    "message",
    "messageerror",
    "storage",
    "online",
    "offline",
    "beforeunload",
    "beforeprint",
    "afterprint",
    "begin",
    "end",
    "repeat",
    "readystatechange",
    "filterchange",
    "cuechange",
    "formdata",
    "securitypolicyviolation",
    "slotchange",
    "webkitanimationstart",
    "webkitanimationend",
    "webkitanimationiteration",
    "webkittransitionend",
    "webkitplaybacktargetavailabilitychanged",
    "zoom",
    "activate",
    "beforeactivate",
    "afteractivate",
    "deactivate",
    "beforedeactivate",
    "beforeinput",
    "beforematch",
    "close",
    "cancel",
    "command",
    "contentvisibilityautostatechange",
    "fullscreenchange",
    "fullscreenerror",
    "help",
    "move",
    "moveend",
    "movestart",
    "propertychange",
    "rowenter",
    "rowexit",
    "start",
    "finish",
    "bounce",
    "datasetchanged",
    "errorupdate",
    "losecapture",
    "layoutcomplete",
];

/// `on<event>` then `=` after an attribute boundary (start, quote, space, `/`),
/// in a value that breaks out of an attribute (a quote before it) or starts
/// with it: `" onfocus=x autofocus`, `  onload= `.
fn handler_injection(l: &str) -> bool {
    let lb = l.as_bytes();
    for (i, _) in l.match_indices("on") {
        let before = if i == 0 { None } else { lb.get(i - 1) };
        if !matches!(
            before,
            None | Some(b'"' | b'\'' | b' ' | b'/' | b'`' | b'\t' | b'\n')
        ) {
            continue;
        }
        let name_len = lb[i + 2..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let name = &l[i + 2..i + 2 + name_len];
        if !l[i + 2 + name_len..].trim_start().starts_with('=') || !DOM_EVENTS.contains(&name) {
            continue;
        }
        let head = &l[..i];
        if head.contains(['"', '\'', '`']) || head.trim().is_empty() {
            return true;
        }
    }
    false
}

/// JavaScript with comments and blanks removed (`document /*x*/ . cookie`
/// → `document.cookie`), for sink names.
fn js_squeeze(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let mut rest = l;
    while let Some(p) = rest.find("/*") {
        out.push_str(&rest[..p]);
        rest = match rest[p + 2..].find("*/") {
            Some(e) => &rest[p + 2 + e + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    out.retain(|c| !c.is_whitespace());
    out
}

/// DOM properties a script reads or writes to steal or redirect.
const DOM_SINKS: &[&str] = &[
    "document.cookie",
    "document.write",
    "document.domain",
    "document.location",
    "window.location",
    "location.href",
    ".innerhtml",
    ".outerhtml",
    "document[\"cookie\"]",
    "document['cookie']",
    "document)[\"cookie\"]",
    "self[\"",
    "window[\"",
    "top[\"",
    "this[\"",
    "globalthis[",
    ".textcontent=",
];

/// Execution sinks that take code as their first argument.
const EXEC_CALLS: &[&str] = &[
    "eval(",
    "settimeout(",
    "setinterval(",
    "execscript(",
    "newfunction(",
    "function(",
    "import(",
    "reflect.apply",
    ".call`",
    ".apply`",
];

/// Server-side include directives (`<!--#echo var=…-->`, `<!--#exec …`),
/// which a server expands in the page it returns, and IE's
/// `<?import implementation=…>` behaviour import.
fn ssi_or_pi(l: &str) -> Option<(f32, &'static str)> {
    const SSI: &[&str] = &[
        "exec", "include", "echo", "set", "config", "fsize", "flastmod", "printenv", "if", "elif",
    ];
    for (i, m) in l.match_indices("<!--#") {
        let d: String = l[i + m.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if SSI.contains(&d.as_str()) && l[i + m.len() + d.len()..].trim_start().contains('=') {
            return Some((0.85, "server-side include directive"));
        }
    }
    if l.contains("<?import") && l.contains("implementation") {
        return Some((0.8, "behaviour import"));
    }
    None
}

/// Classifies one decoded value as XSS: `(confidence, rule)`.
/// JavaScript written with the six characters `[]()!+` alone (the JSFuck
/// encoding: `+!![]` is 1, `(![]+[])[+!+[]]` is "a"): no text is spelled so,
/// and every such string is an expression a browser evaluates.
fn jsfuck(b: &[u8]) -> bool {
    b.len() >= 4
        && b.iter()
            .all(|c| matches!(c, b'[' | b']' | b'(' | b')' | b'!' | b'+' | b' '))
        && memchr::memchr(b'!', b).is_some()
        && memchr::memmem::find(b, b"[]").is_some()
}

pub fn detect(s: &str) -> Option<(f32, &'static str)> {
    let b = s.as_bytes();
    let lt = memchr::memchr(b'<', b).is_some();
    let has_eq_or_colon = memchr::memchr2(b'=', b':', b).is_some();
    let has_paren = memchr::memchr3(b'(', b'`', b'{', b).is_some();
    let has_dot_or_bracket = memchr::memchr3(b'.', b'[', b'+', b).is_some();
    if !lt && !has_eq_or_colon && !has_paren && !has_dot_or_bracket {
        return None;
    }
    if has_dot_or_bracket && jsfuck(b) {
        return Some((0.8, "JavaScript written in []()!+ only"));
    }
    let l = strip_noise(s);
    if lt && let Some(v) = ssi_or_pi(&l) {
        return Some(v);
    }
    if lt && let Some(v) = tags(&l) {
        return Some(v);
    }
    // CSS `url(javascript:…)` (old IE and some sanitizers' CSS contexts run it).
    if has_paren
        && l.match_indices("url(").any(|(i, m)| {
            let a = l[i + m.len()..].trim_start_matches([' ', '"', '\'']);
            a.starts_with("javascript") || a.starts_with("vbscript")
        })
    {
        return Some((0.8, "CSS url() with script scheme"));
    }
    // UTF-7 (`+ADw-script+AD4-`): `<` and `>` for browsers that sniff UTF-7.
    if l.contains("+adw-") && (l.contains("+ad4-") || l.contains("script")) {
        return Some((0.8, "UTF-7 encoded tag"));
    }
    if has_eq_or_colon && handler_injection(&l) {
        return Some((0.75, "event handler injection"));
    }
    if has_dot_or_bracket || has_paren {
        // JSFuck-style code: only `[]()!+` (`(![]+[])[+!+[]]`).
        if l.matches("![]").count() + l.matches("+[]").count() >= 3 {
            return Some((0.85, "JSFuck-style code"));
        }
        let sq = js_squeeze(&l);
        // A sink in code: the whole value, or with a code character beside it
        // (`/javascript-manual/document.cookie` in prose is not code).
        let code = sq.contains(['(', '=', ';', '\'', '"', '`', '[', '+']);
        if DOM_SINKS
            .iter()
            .any(|k| sq.contains(k) && (code || sq.len() == k.len()))
        {
            return Some((0.7, "DOM sink"));
        }
        // An execution sink at the start of the value or of a statement.
        let exec_at = |p: usize| {
            p == 0
                || matches!(
                    sq.as_bytes().get(p - 1),
                    Some(b';' | b'"' | b'\'' | b'(' | b'=')
                )
        };
        if EXEC_CALLS
            .iter()
            .any(|k| sq.match_indices(k).any(|(p, _)| exec_at(p)))
        {
            return Some((0.7, "code execution call"));
        }
        // Tagged template calls: ``[].sort.call`${alert}1337` ``.
        if let Some(p) = sq.find("`${")
            && p > 0
            && sq[..p].ends_with(|c: char| c.is_ascii_alphanumeric() || c == ']' || c == ')')
            && sq[..p].contains('.')
        {
            return Some((0.75, "tagged template call"));
        }
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
    fn ssi_css_and_imports() {
        assert!(detect("<!--#echo var=\"document_name\"-->").is_some());
        assert!(detect("<!--#exec cmd=\"/bin/cat /etc/shadow\"-->").is_some());
        assert!(detect("style=x:url(javascript:alert(1))").is_some());
        assert!(detect("<?import implementation=\"#default#time2\">").is_some());
        assert!(detect("<!-- a comment -->").is_none());
        assert!(detect("background: url(/img/a.png)").is_none());
    }

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
            "\" onfocus=x autofocus=\"",
            "  onload= ",
            "document /*x*/ . cookie",
            "(![]+[])[+!+[]]+(![]+[])[+[]]",
            "+ADw-script+AD4-alert(1)",
            "setInterval(code, 1)",
            "[].sort.call`${alert}1337`",
        ] {
            assert!(detect(a).is_some(), "missed {a:?}");
        }
        for b in [
            "a < b",
            "x=1 & y=2",
            "<b>bold</b>",
            "money (in dollars)",
            "one onion=3",
            "online=true",
            "john.doe@example.com",
            "v1.2.3",
            "c++ [programming]",
            "setup function",
            "http://ex.com/a?b=c",
        ] {
            assert_eq!(detect(b), None, "flagged {b:?}");
        }
    }

    #[test]
    fn jsfuck_only_when_all_six() {
        assert!(detect("(![]+[])[+!+[]]").is_some());
        assert!(detect("+!![]+!![]").is_some());
        assert!(detect("+!![]").is_some());
        assert!(!jsfuck(b"[1]+(2)!"));
        assert!(!jsfuck(b"[]"));
        assert!(!jsfuck(b"(!!)"));
    }
}
