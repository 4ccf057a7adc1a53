//! Web attack classification: one [`WebRequest`] → an optional [`Verdict`]
//! (classes, confidence, evidence), plus a stateful [`WebDetector`] over a
//! stream of requests (scanner bursts, credential brute force, suspected
//! backdoors).
//!
//! Pipeline of one request: the target is split into path and parameters;
//! each value (and the body, cookies, user agent, referer, other headers) is
//! decoded as attackers encode ([`decode`]); each decoded value goes through
//! the class detectors: a SQL tokenizer/grammar ([`sqli`]), an HTML tag
//! scanner ([`xss`]) and structural signatures ([`sigs`]). Evidence is the
//! decoded fragment that matched.
//!
//! Invariant: classification is total (any input, no panic) and
//! deterministic; confidences are in [0, 1].

use std::borrow::Cow;
/// The detector's maps are keyed by data from the log (sources, paths): a
/// fast hasher (foldhash, seeded per process) instead of SipHash, which was a
/// twentieth of the per-line cost. Nothing iterates them in output order.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::net::IpAddr;

use crate::ingest::weblog::WebRequest;
use crate::model::Micros;

pub mod body;
pub mod decode;
pub mod eval;
pub mod sigs;
pub mod sqli;
pub mod synth;
pub mod vocab;
pub mod xss;

/// A request is flagged when one of its hits has at least this confidence.
pub const FLAG_THRESHOLD: f32 = 0.5;

/// Longest evidence string kept (characters).
pub const MAX_EVIDENCE: usize = 200;

/// Attack classes. Names (`as_str`) are a contract (`by_class` keys, `web-scan` output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Sqli,
    Xss,
    Traversal,
    Rfi,
    Rce,
    Php,
    Java,
    Ssrf,
    Webshell,
    Scanner,
    Bruteforce,
    /// Suspected backdoor (stateful: a new script receiving POSTs from few foreign IPs).
    Backdoor,
}

impl Class {
    pub const ALL: [Class; 12] = [
        Class::Sqli,
        Class::Xss,
        Class::Traversal,
        Class::Rfi,
        Class::Rce,
        Class::Php,
        Class::Java,
        Class::Ssrf,
        Class::Webshell,
        Class::Scanner,
        Class::Bruteforce,
        Class::Backdoor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Sqli => "sqli",
            Class::Xss => "xss",
            Class::Traversal => "traversal",
            Class::Rfi => "rfi",
            Class::Rce => "rce",
            Class::Php => "php",
            Class::Java => "java",
            Class::Ssrf => "ssrf",
            Class::Webshell => "webshell",
            Class::Scanner => "scanner",
            Class::Bruteforce => "bruteforce",
            Class::Backdoor => "backdoor",
        }
    }
}

/// Where in the request a hit was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Path,
    Query(String),
    Body,
    Header(String),
    Request,
}

/// One class hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub class: Class,
    /// In [0, 1].
    pub confidence: f32,
    /// The rule that matched, e.g. `union select`.
    pub rule: &'static str,
    /// The decoded value that matched (cut to [`MAX_EVIDENCE`] characters).
    pub evidence: String,
    pub location: Location,
}

/// Everything flagged about one request; hits sorted by confidence desc, one per class.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub hits: Vec<Hit>,
}

impl Verdict {
    /// Flagged classes (hits at or above [`FLAG_THRESHOLD`]), strongest first.
    pub fn classes(&self) -> Vec<Class> {
        self.hits
            .iter()
            .filter(|h| h.confidence >= FLAG_THRESHOLD)
            .map(|h| h.class)
            .collect()
    }
    /// Whether `c` is among the flagged classes.
    pub fn has(&self, c: Class) -> bool {
        self.hits
            .iter()
            .any(|h| h.class == c && h.confidence >= FLAG_THRESHOLD)
    }
    /// Highest confidence.
    pub fn confidence(&self) -> f32 {
        self.hits.first().map(|h| h.confidence).unwrap_or(0.0)
    }
    /// Evidence of the strongest hit.
    pub fn evidence(&self) -> &str {
        self.hits.first().map(|h| h.evidence.as_str()).unwrap_or("")
    }
}

struct Acc {
    hits: Vec<Hit>,
}

impl Acc {
    fn add(
        &mut self,
        class: Class,
        (confidence, rule): (f32, &'static str),
        evidence: &str,
        loc: &Location,
    ) {
        if let Some(h) = self.hits.iter_mut().find(|h| h.class == class) {
            if h.confidence >= confidence {
                return;
            }
            *h = Hit {
                class,
                confidence,
                rule,
                evidence: ev(evidence),
                location: loc.clone(),
            };
            return;
        }
        self.hits.push(Hit {
            class,
            confidence,
            rule,
            evidence: ev(evidence),
            location: loc.clone(),
        });
    }
}

fn ev(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_EVIDENCE) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// Words that make a value worth the full analysis even without special
/// characters (class names, SQL verbs, shell and PHP function names, URL
/// schemes). Matched case-insensitively with one Aho-Corasick automaton.
pub const TRIGGERS: &[&str] = &[
    "java",
    "jndi",
    "org.apache.",
    "com.sun.",
    "org.omg.",
    "xwork",
    "runtime",
    "processbuilder",
    "classloader",
    "select",
    "union",
    "sleep",
    "benchmark",
    "waitfor",
    "exec",
    "eval",
    "system",
    "passthru",
    "phpinfo",
    "passwd",
    "cmd",
    "/bin/",
    "wget",
    "curl",
    "ognl",
    "ro0ab",
    "aced0005",
    "script",
    "alert",
    "onerror",
    "onload",
    "whoami",
    "information_schema",
    "xp_",
    "php",
    "file:",
    "http:",
    "https:",
    "ftp:",
    "ldap",
    "gopher",
    "dict:",
    "expect:",
    "phar:",
    "zip:",
    "data:",
    "constructor",
    "cnvudgltz",
    "hjvy2vzc2j1awxkzxi",
    "etc/",
    // OS secrets and kernel state named without any special byte (`.ssh/id_rsa`, `/sys/class/net`).
    "id_rsa",
    ".ssh/",
    "/sys/",
    "/proc/",
    "win.ini",
    "boot.ini",
    "proc/self",
    ".ht",
    "web-inf",
    "shell",
    "assert",
    "include",
    "require",
    "base64",
    "sysobjects",
    // Database system catalogs and databases (see `sqli::SQL_SYSTEM_NAMES`).
    "pg_",
    "sqlite_",
    "msys",
    "tempdb",
    "msdb",
    "drop",
    "insert",
    "delete",
    "update",
    "declare",
    "shutdown",
    "concat",
    "char",
    "version",
    "database",
    // DOM objects a script steals or redirects with (`window.location` alone is a payload).
    "document.",
    "window.",
    ".cookie",
    ".location",
];

static TRIGGER_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| {
        // Also the base64 forms of Java gadget names: those values have no
        // special character at all.
        let mut pats: Vec<String> = TRIGGERS.iter().map(|s| s.to_string()).collect();
        pats.extend(sigs::java_b64_patterns());
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            // A full DFA: a few hundred KiB, and about twice as fast as the default NFA here.
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(pats)
            .ok()
    });

/// Bytes that can start or shape an attack; a value with none of them (and
/// no trigger word) is only checked by the cheap path/UA rules.
fn suspicious(s: &str) -> bool {
    suspicious_bytes(s) || s.len() >= 3 && TRIGGER_AC.as_ref().is_none_or(|ac| ac.is_match(s))
}

/// Bytes that alone make a value worth the full analysis (see [`suspicious_bytes`]).
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let set = b"'\"<>();|`${}\\%&#*@!^[\n\r\0 =\t~?";
    let mut i = 0;
    while i < set.len() {
        t[set[i] as usize] = true;
        i += 1;
    }
    let mut c = 0x80;
    while c < 256 {
        t[c] = true;
        c += 1;
    }
    t
};

/// One pass over the bytes: a [`SPECIAL`] byte (decoded values: `1 OR 1=1`
/// has no other special byte than space and `=`), `..`, `://`, `--`, or
/// a value longer than 120 bytes. (This runs on every value of every line.)
fn suspicious_bytes(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() > 120 {
        return true;
    }
    for (i, &c) in b.iter().enumerate() {
        if SPECIAL[c as usize] {
            return true;
        }
        let next = b.get(i + 1).copied();
        match c {
            b'.' if next == Some(b'.') => return true,
            b'-' if next == Some(b'-') => return true,
            b':' if next == Some(b'/') && b.get(i + 2) == Some(&b'/') => return true,
            _ => {}
        }
    }
    false
}

/// A path segment that is only a dotted name with a DOM word in it
/// (`/javascript-manual/document.cookie`): a file name there, not code.
fn dom_file_name(seg: &str) -> bool {
    seg.bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        && ["document.", "window.", ".cookie", ".location"]
            .iter()
            .any(|w| seg.to_ascii_lowercase().contains(w))
}

/// For headers whose normal values contain `(`, `;` and spaces (user agents):
/// only characters that have no business there, or a trigger word.
fn header_suspicious(s: &str) -> bool {
    s.bytes().any(|c| {
        matches!(
            c,
            b'\''
                | b'"'
                | b'<'
                | b'>'
                | b'$'
                | b'`'
                | b'{'
                | b'}'
                | b'|'
                | b'\\'
                | b'%'
                | b'\0'
                | b'\n'
                | b'&'
                | b'@'
        )
    }) || s.contains("..")
        // An absolute path as an argument (`cat /root/.ssh/id_rsa`).
        || s.contains(" /")
        || s.starts_with('/')
        // A command separator first, or a program name as the first word
        // (`;env`, `time ifconfig`): user agents start with a product token.
        || s.starts_with([';', '|', '&'])
        || sigs::starts_with_command(s)
        || TRIGGER_AC.as_ref().is_none_or(|ac| ac.is_match(s))
}

/// Runs the value detectors on one decoded value. `name` is the lower-cased
/// parameter name; `"\0"` marks a value decoded from base64 (no URL checks).
fn value(acc: &mut Acc, name: &str, dec: &str, raw: &str, loc: &Location, site: Option<&str>) {
    // Words and spaces only (`red shoes`), with no trigger word: nothing but
    // SQL keyword logic (`1 or 1`) or a bare command line can be in it; the
    // tag, path, URL, PHP and Java detectors all need a byte or word it lacks.
    // (Search boxes make these the commonest values that reach this point.)
    let plain = dec.bytes().all(|c| c.is_ascii_alphanumeric() || c == b' ')
        && TRIGGER_AC.as_ref().is_some_and(|ac| !ac.is_match(dec));
    if let Some(v) = sqli::detect(dec) {
        acc.add(Class::Sqli, v, dec, loc);
    } else if dec.contains("[$") && nosql_bracket(dec) {
        acc.add(Class::Sqli, (0.8, "NoSQL operator in brackets"), dec, loc);
    }
    if plain {
        if let Some(v) = sigs::rce(&dec.to_ascii_lowercase()) {
            acc.add(Class::Rce, v, dec, loc);
        }
        return;
    }
    let l = dec.to_lowercase();
    if let Some(v) = xss::detect(dec) {
        acc.add(Class::Xss, v, dec, loc);
    }
    if let Some(v) = sigs::traversal(&l) {
        acc.add(Class::Traversal, v, dec, loc);
    }
    if name != "\0" {
        for (c, conf, rule) in sigs::url_param(name, &l, site) {
            acc.add(c, (conf, rule), dec, loc);
        }
    }
    if let Some(v) = sigs::rce(&l) {
        acc.add(Class::Rce, v, dec, loc);
    }
    if let Some(v) = sigs::php(&l) {
        acc.add(Class::Php, v, dec, loc);
    }
    if let Some(v) = sigs::java(raw, &l) {
        acc.add(Class::Java, v, dec, loc);
    }
}

/// A decoded name or body that reads `name=value` although the raw text had
/// no `=` (`pay%3DAND+1%3D1`: the form was encoded twice): the SQL detector
/// also reads the part after the first `=`, the value a decoding
/// application hands to its query.
fn encoded_pair_sqli(acc: &mut Acc, dec: &str, loc: &Location) {
    if let Some((_, inner)) = dec.split_once('=')
        && !inner.is_empty()
        && let Some(v) = sqli::detect(inner)
    {
        acc.add(Class::Sqli, v, inner, loc);
    }
}

/// A file upload whose name a server would execute as a script.
fn upload(acc: &mut Acc, filename: &str, loc: &Location) {
    match body::script_upload(filename) {
        Some(body::Script::Php) => acc.add(Class::Php, (0.8, "PHP script upload"), filename, loc),
        Some(body::Script::Jsp) => acc.add(Class::Java, (0.8, "JSP script upload"), filename, loc),
        Some(body::Script::Other) => acc.add(
            Class::Webshell,
            (0.6, "server script upload"),
            filename,
            loc,
        ),
        None => {}
    }
    match body::restricted_upload(filename) {
        Some(body::Restricted::Session) => {
            acc.add(Class::Php, (0.75, "PHP session file upload"), filename, loc)
        }
        Some(body::Restricted::Config) => acc.add(
            Class::Rce,
            (0.7, "server configuration file upload"),
            filename,
            loc,
        ),
        None => {}
    }
}

/// Whether the `&` at the start of `rest` begins an HTML character
/// reference (`&#106;`, `&#x6a;`, `&lpar;`) rather than a new parameter:
/// attackers write entities into a value, and a browser or template decodes
/// them; splitting there would cut the payload apart. `&amp;` stays a
/// separator (links copied from HTML source).
fn entity_at(rest: &[u8]) -> bool {
    match rest.get(1) {
        Some(b'#') => rest
            .get(2)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'x' || *c == b'X'),
        Some(c) if c.is_ascii_alphabetic() => {
            let name = rest[1..]
                .iter()
                .take(10)
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            (2..=8).contains(&name)
                && rest.get(1 + name) == Some(&b';')
                && !rest[1..].starts_with(b"amp;")
        }
        _ => false,
    }
}

/// Splits `a=1&b=2` into raw (name, value) pairs; an `&` that starts an HTML
/// character reference does not split ([`entity_at`]).
fn pairs(q: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = q.as_bytes();
    let mut start = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while start <= b.len() {
            while i < b.len() && (b[i] != b'&' || entity_at(&b[i..])) {
                i += 1;
            }
            // `&` is ASCII: both ends are character boundaries.
            let p = q.get(start..i).unwrap_or("");
            i += 1;
            start = i;
            let p = p.strip_prefix("amp;").unwrap_or(p);
            if p.is_empty() {
                continue;
            }
            return Some(match p.split_once('=') {
                Some((k, v)) => (k, v),
                None => ("", p),
            });
        }
        None
    })
}

/// MongoDB query operators (from its manual): in a parameter name they make
/// a query object out of a form field.
const MONGO_OPERATORS: &[&str] = &[
    "ne",
    "eq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "nin",
    "regex",
    "where",
    "exists",
    "or",
    "and",
    "not",
    "nor",
    "expr",
    "elemmatch",
    "type",
    "mod",
    "all",
    "size",
    "text",
    "jsonschema",
    "function",
    "accumulator",
];

/// The length of the MongoDB query operator that `s` begins with (after its
/// `$`): the run of ASCII letters at its start, when that run names an
/// operator, case-insensitively.
fn mongo_operator(s: &str) -> Option<usize> {
    let len = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    let op = &s[..len];
    (len > 0 && MONGO_OPERATORS.iter().any(|o| o.eq_ignore_ascii_case(op))).then_some(len)
}

/// `[$op]` in a value (`u_id[$ne]`, `[$lte]x`): a query-object key spelled
/// the way PHP and Express parse nested parameters.
fn nosql_bracket(s: &str) -> bool {
    s.match_indices("[$").any(|(i, _)| {
        let rest = &s[i + 2..];
        mongo_operator(rest).is_some_and(|len| rest.as_bytes().get(len) == Some(&b']'))
    })
}

/// A JSON object key that is a MongoDB query operator (`{"$where": …}`,
/// `{"user": {"$ne": null}}`): the key, quotes excluded.
fn nosql_json_key(body: &str) -> Option<&str> {
    let b = body.as_bytes();
    for (i, _) in body.match_indices("\"$") {
        let Some(len) = mongo_operator(&body[i + 2..]) else {
            continue;
        };
        if b.get(i + 2 + len) != Some(&b'"') {
            continue;
        }
        let after = b[i + 3 + len..].iter().find(|c| !c.is_ascii_whitespace());
        if after == Some(&b':') {
            return body.get(i + 1..i + 2 + len);
        }
    }
    None
}

/// User agents remembered as clean per thread (cleared when full; a cache
/// only: results are the same with or without it).
const MAX_UA_CACHE: usize = 4096;

thread_local! {
    static UA_CLEAN: std::cell::RefCell<std::collections::HashSet<Box<str>, foldhash::fast::RandomState>> =
        std::cell::RefCell::new(std::collections::HashSet::default());
}

/// Classifies one request on its own. `None` when nothing reaches [`FLAG_THRESHOLD`].
pub fn classify(r: &WebRequest<'_>) -> Option<Verdict> {
    let v = analyse(r);
    if v.hits.iter().any(|h| h.confidence >= FLAG_THRESHOLD) {
        Some(v)
    } else {
        None
    }
}

/// All hits of one request, flagged or not.
pub fn analyse(r: &WebRequest<'_>) -> Verdict {
    let mut acc = Acc { hits: Vec::new() };
    let site = r.site.as_deref();
    let uri = decode::cut(&r.uri, decode::MAX_DECODE);
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    // Path.
    let path_dec = decode::normalize(path, false);
    let path_l = path_dec.to_lowercase();
    let path_suspicious = suspicious(&path_dec) || path_dec.contains(char::is_whitespace);
    if !path_suspicious && let Some(v) = sigs::restricted(&path_l) {
        acc.add(Class::Traversal, v, &path_dec, &Location::Path);
    }
    if path_suspicious {
        let loc = Location::Path;
        if let Some(v) = sigs::traversal(&path_l) {
            acc.add(Class::Traversal, v, &path_dec, &loc);
        }
        // Path segments can carry injections too (`/item/1' or 1=1`, `/${jndi:…}`).
        for seg in path_dec
            .split('/')
            .filter(|x| suspicious(x) && !dom_file_name(x))
        {
            let seg = seg.replace('+', " ");
            value(&mut acc, "", &seg, &seg, &loc, site);
        }
        if path_dec.matches('/').count() > 1 {
            for (c, v) in [
                (Class::Java, sigs::java(path, &path_l)),
                (Class::Rce, sigs::rce(&path_l)),
                (Class::Php, sigs::php(&path_l)),
                (Class::Xss, xss::detect(&path_dec)),
            ] {
                if let Some(v) = v {
                    acc.add(c, v, &path_dec, &loc);
                }
            }
        }
    }
    // Query parameters.
    let mut params: Vec<(String, String)> = Vec::new();
    let mut do_params = |acc: &mut Acc, q: &str, body: bool| {
        for (k, v) in pairs(q) {
            let kd = decode::normalize(k, true);
            let vd = decode::normalize(v, true);
            let loc = if body {
                Location::Body
            } else {
                Location::Query(ev(&kd))
            };
            let kl = kd.to_lowercase();
            // NoSQL (MongoDB) operator smuggled in through a parameter name:
            // `user[$ne]=x`, `q[$regex]=.*` turn a value into a query object.
            if let Some(p) = kl.find("[$")
                && mongo_operator(&kl[p + 2..]).is_some()
            {
                acc.add(
                    Class::Sqli,
                    (0.85, "NoSQL operator in parameter name"),
                    &kd,
                    &loc,
                );
            }
            if suspicious(&vd) {
                value(acc, &kl, &vd, v, &loc, site);
            } else if let Some(t) = decode::base64_text(v) {
                // No URL checks on decoded base64: an encoded URL is a
                // redirect target, and no include() decodes base64 first.
                value(acc, "\0", &t, v, &loc, site);
            }
            if suspicious(k) {
                value(acc, "", &kd, k, &loc, site);
                // A name holding an encoded `=` (`pay%3DAND+1%3D1`: the form
                // was encoded twice): the part after it is the value a
                // decoding application reads.
                encoded_pair_sqli(acc, &kd, &loc);
            }
            params.push((kl, vd.to_lowercase()));
        }
    };
    if let Some(q) = query {
        do_params(&mut acc, q, false);
        // Whole query too: payloads that span `&` (`&&`, `a=1&b=' or 1=1`).
        if q.contains("&&") || q.contains("&;") || !q.contains('=') {
            let qd = decode::normalize(q, true);
            value(&mut acc, "", &qd, q, &Location::Query(String::new()), site);
        }
    }
    // Body, split the way the application reads it (see [`body`]).
    if let Some(b) = r.body.as_deref() {
        let b = decode::cut(b, decode::MAX_DECODE);
        let ctype = r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_ref());
        match body::kind(b, ctype) {
            body::BodyKind::Form => {
                do_params(&mut acc, b, true);
                if b.contains("&&") || b.contains("&;") {
                    let bd = decode::normalize(b, true);
                    value(&mut acc, "", &bd, b, &Location::Body, site);
                }
            }
            body::BodyKind::Text => {
                if suspicious(b) {
                    let bd = decode::normalize(b, true);
                    value(&mut acc, "", &bd, b, &Location::Body, site);
                    encoded_pair_sqli(&mut acc, &bd, &Location::Body);
                }
            }
            body::BodyKind::Json => {
                if let Some(op) = nosql_json_key(b) {
                    acc.add(
                        Class::Sqli,
                        (0.85, "NoSQL operator as a JSON key"),
                        op,
                        &Location::Body,
                    );
                }
                for v in body::json_values(b) {
                    if suspicious(&v) {
                        let d = decode::normalize(&v, false);
                        value(&mut acc, "", &d, &v, &Location::Body, site);
                    }
                }
            }
            body::BodyKind::Xml => {
                for v in body::xml_values(b) {
                    if suspicious(v) {
                        let d = decode::normalize(v, false);
                        value(&mut acc, "", &d, v, &Location::Body, site);
                    }
                }
            }
            body::BodyKind::Multipart(bd) => {
                for p in body::multipart(b, &bd) {
                    let loc = Location::Body;
                    if let Some(f) = p.filename {
                        upload(&mut acc, f, &loc);
                        if suspicious(f) {
                            let d = decode::normalize(f, false);
                            value(&mut acc, "", &d, f, &loc, site);
                        }
                    }
                    if let Some(n) = p.name.filter(|n| suspicious(n)) {
                        let d = decode::normalize(n, false);
                        value(&mut acc, "", &d, n, &loc, site);
                    }
                    // File contents are data (images, documents), except text parts.
                    let text = p.filename.is_none()
                        || p.content_type
                            .is_none_or(|t| t.to_ascii_lowercase().starts_with("text/"));
                    if text && suspicious(p.content) {
                        let name = p.name.unwrap_or("").to_ascii_lowercase();
                        let d = decode::normalize(p.content, false);
                        value(&mut acc, &name, &d, p.content, &loc, site);
                    }
                }
            }
        }
    }
    // Headers.
    let hdr = |acc: &mut Acc, name: &str, v: &str| {
        let loc = Location::Header(name.to_owned());
        let n = name.to_ascii_lowercase();
        if n == "authorization"
            && let Some(b) = v
                .trim()
                .strip_prefix("Basic ")
                .or_else(|| v.trim().strip_prefix("basic "))
            && let Some(t) = decode::base64_text(b.trim())
        {
            let pw = t.split_once(':').map(|x| x.1).unwrap_or(&t);
            value(acc, "", pw, pw, &loc, site);
            if let Some(user) = t.split_once(':').map(|x| x.0) {
                value(acc, "", user, user, &loc, site);
            }
        }
        if n == "cookie" {
            for c in v.split(';') {
                let (cn, cv) = c.split_once('=').unwrap_or(("", c));
                if suspicious(cv) {
                    let d = decode::normalize(cv.trim(), true);
                    value(acc, "", &d, cv, &loc, site);
                }
                // Cookie names are read by frameworks too (`java.lang.Runtime=x`).
                if suspicious(cn) {
                    let d = decode::normalize(cn.trim(), true);
                    value(acc, "", &d, cn, &loc, site);
                }
            }
            return;
        }
        if n.contains("file") && n.contains("name") {
            upload(acc, v, &loc);
        }
        if header_suspicious(v) {
            let d = decode::normalize(v, false);
            value(acc, &n, &d, v, &loc, site);
        }
    };
    // A site sees the same few hundred user agents all day: one found clean
    // (no hit, not a tool's) is remembered and not scanned again.
    let ua = r.user_agent.as_deref();
    let ua_known_clean = ua.is_some_and(|ua| UA_CLEAN.with(|c| c.borrow().contains(ua)));
    if let Some(ua) = ua
        && !ua_known_clean
    {
        let mut sub = Acc { hits: Vec::new() };
        hdr(&mut sub, "User-Agent", ua);
        if sub.hits.is_empty() && !sigs::scanner_ua(ua) {
            UA_CLEAN.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() >= MAX_UA_CACHE {
                    c.clear();
                }
                c.insert(ua.into());
            });
        }
        for h in sub.hits {
            acc.add(h.class, (h.confidence, h.rule), &h.evidence, &h.location);
        }
    }
    if let Some(rf) = r.referer.as_deref() {
        // A referer is a URL: check its query only (URLs in it are normal).
        // Anything else in a Referer was put there by hand: scan it as any header.
        let url = rf
            .get(..8)
            .is_some_and(|p| p.to_ascii_lowercase().starts_with("http"))
            && rf.contains("://");
        // A quote, bracket or blank is no URL character (browsers encode them).
        if !url || rf.contains("${") || rf.contains(['"', '\'', '<', '>', '`', ' ']) {
            hdr(&mut acc, "Referer", rf);
        } else if let Some((_, q)) = rf.split_once('?') {
            for (_, v) in pairs(q) {
                if suspicious(v) {
                    let d = decode::normalize(v, true);
                    let loc = Location::Header("Referer".into());
                    for (c, x) in [
                        (Class::Sqli, sqli::detect(&d)),
                        (Class::Xss, xss::detect(&d)),
                        (Class::Rce, sigs::rce(&d.to_lowercase())),
                        (Class::Java, sigs::java(v, &d.to_lowercase())),
                    ] {
                        if let Some(x) = x {
                            acc.add(c, x, &d, &loc);
                        }
                    }
                }
            }
        }
    }
    for (k, v) in &r.headers {
        hdr(&mut acc, k, v);
    }
    // Webshell and scanner.
    if let Some(v) = sigs::webshell(&path_l, &params) {
        acc.add(Class::Webshell, v, &path_dec, &Location::Path);
    }
    if let Some(v) = sigs::scanner(ua.filter(|_| !ua_known_clean), &path_l) {
        let e = if v.1 == "scanner user agent" {
            r.user_agent.as_deref().unwrap_or("")
        } else {
            &path_dec
        };
        let loc = if v.1 == "scanner user agent" {
            Location::Header("User-Agent".into())
        } else {
            Location::Path
        };
        acc.add(Class::Scanner, v, e, &loc);
    }
    if !r.method.is_empty() && !r.method.bytes().all(|c| c.is_ascii_uppercase())
        || r.method.is_empty() && !r.uri.is_empty() && !r.uri.starts_with('/')
    {
        acc.add(
            Class::Scanner,
            (0.5, "malformed request line"),
            &r.uri,
            &Location::Request,
        );
    }
    let mut hits = acc.hits;
    hits.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.class.cmp(&b.class))
    });
    Verdict { hits }
}

/// Login endpoints (lower-cased path suffixes / substrings).
const LOGIN_PATHS: &[&str] = &[
    "wp-login.php",
    "xmlrpc.php",
    "/login",
    "/signin",
    "/sign-in",
    "/logon",
    "/auth",
    "/user/login",
    "/admin",
    "/administrator/index.php",
    "/j_security_check",
    "/session",
    "/account/login",
    "/owa/auth",
    "/phpmyadmin/index.php",
];

/// Tunables of the stateful detectors (defaults with their reasons).
#[derive(Clone, Debug)]
pub struct WebDetectorConfig {
    /// Window for counting per-source events.
    pub window: Micros,
    /// POSTs to login endpoints by one source within `window` that make a brute force
    /// (humans retry a handful of times; tools hundreds).
    pub bruteforce_posts: u32,
    /// 404s on probe paths by one source within `window` that make a scan.
    pub scan_404s: u32,
    /// A script is "new" when first seen after this many requests to its site (warm-up).
    pub backdoor_warmup: u64,
    /// At most this many distinct sources POST to a suspected backdoor.
    pub backdoor_max_controllers: usize,
    /// Successful GETs of a page that make its size baseline (a page's size
    /// varies with ads, dates, sessions: one day of a busy page, not one view).
    pub deface_baseline: u32,
    /// Consecutive successful GETs at a new size that make a suspected
    /// defacement (one odd response is an error page or a truncated transfer).
    pub deface_run: u32,
}

impl Default for WebDetectorConfig {
    fn default() -> Self {
        WebDetectorConfig {
            window: 10 * 60 * 1_000_000,
            bruteforce_posts: 20,
            scan_404s: 10,
            backdoor_warmup: 1000,
            backdoor_max_controllers: 3,
            deface_baseline: 20,
            deface_run: 5,
        }
    }
}

#[derive(Default)]
struct SrcState {
    start: Micros,
    login_posts: u32,
    probe_404s: u32,
    flagged_bf: bool,
    flagged_scan: bool,
}

#[derive(Default)]
struct SiteState {
    seen: u64,
    sources: HashMap<IpAddr, SrcState>,
}

#[derive(Default)]
struct ScriptState {
    first_seen_at: u64,
    gets: u64,
    posts_ok: u64,
    controllers: Vec<IpAddr>,
}

/// A suspected backdoor: a script path, new on its site, receiving successful POSTs from few sources.
#[derive(Clone, Debug, PartialEq)]
pub struct Backdoor {
    pub site: String,
    pub path: String,
    pub controller_ips: Vec<IpAddr>,
    pub posts: u64,
}

/// Pages whose size is tracked per detector (memory bound: beyond it new
/// pages are not tracked; a site's pages are far fewer than its requests).
pub const MAX_TRACKED_PAGES: usize = 100_000;

/// Size history of one page (successful GETs only).
#[derive(Default)]
struct PageState {
    /// Responses in the baseline, their mean and sum of squared deviations (Welford).
    n: u32,
    mean: f64,
    m2: f64,
    /// Current run of responses far from the baseline, and their byte sum.
    run: u32,
    run_bytes: u64,
    /// Line and time of the first response of the run.
    run_rec: u64,
    run_ts: Micros,
    /// Reported once.
    flagged: bool,
}

impl PageState {
    /// Whether `bytes` is far from an established, stable baseline: more
    /// than half the mean away and beyond 4 standard deviations (and 512 B).
    fn far(&self, bytes: f64, baseline: u32) -> Option<bool> {
        if self.n < baseline {
            return None;
        }
        let sd = (self.m2 / f64::from(self.n.max(1))).sqrt();
        // A page whose size varies by more than a third is dynamic: no baseline.
        if self.mean <= 0.0 || sd > self.mean / 3.0 {
            return None;
        }
        let d = (bytes - self.mean).abs();
        Some(d > self.mean * 0.5 && d > 4.0 * sd && d > 512.0)
    }
    fn learn(&mut self, bytes: f64) {
        self.n = self.n.saturating_add(1);
        let delta = bytes - self.mean;
        self.mean += delta / f64::from(self.n);
        self.m2 += delta * (bytes - self.mean);
    }
}

/// A suspected defacement: a page with a stable size served, several times
/// in a row, with a very different size (a replaced page).
#[derive(Clone, Debug, PartialEq)]
pub struct Defacement {
    pub site: String,
    pub path: String,
    /// Mean size of the page before the change (bytes).
    pub baseline_bytes: u64,
    /// Mean size of the changed responses (bytes).
    pub new_bytes: u64,
    /// Line (in the input) and time of the first changed response.
    pub first_rec: u64,
    pub since: Micros,
}

/// Whether a (lower-cased) path names a page rather than an asset.
fn is_page(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or("");
    file.is_empty()
        || !file.contains('.')
        || [
            ".html", ".htm", ".php", ".asp", ".aspx", ".jsp", ".shtml", ".cfm",
        ]
        .iter()
        .any(|e| file.ends_with(e))
}

/// Stateful detection over a stream of requests (per site, per source).
/// Feed requests in time order with [`WebDetector::observe`]; call
/// [`WebDetector::backdoors`] at the end.
pub struct WebDetector {
    cfg: WebDetectorConfig,
    /// Per site: requests seen and per-source state (nested so that a
    /// request looks its site up by `&str`, without allocating a key).
    sites: HashMap<String, SiteState>,
    scripts: HashMap<(String, String), ScriptState>,
    /// Page sizes per site, then per path (looked up by `&str`: no key allocation).
    pages: HashMap<String, HashMap<String, PageState>>,
    /// Pages tracked in `pages`, bounded by [`MAX_TRACKED_PAGES`].
    page_count: usize,
    defacements: Vec<Defacement>,
}

impl WebDetector {
    pub fn new(cfg: WebDetectorConfig) -> Self {
        WebDetector {
            cfg,
            sites: HashMap::default(),
            scripts: HashMap::default(),
            pages: HashMap::default(),
            page_count: 0,
            defacements: Vec::new(),
        }
    }

    /// Classifies `r` (per-request classes plus the stateful ones). `fallback_site`
    /// names the site when the request does not (the log file's name).
    pub fn observe(&mut self, r: &WebRequest<'_>, fallback_site: &str) -> Option<Verdict> {
        let mut v = analyse(r);
        let site: Cow<'_, str> = match r.site.as_deref() {
            Some(s) if s.bytes().any(|c| c.is_ascii_uppercase()) => {
                Cow::Owned(s.to_ascii_lowercase())
            }
            Some(s) => Cow::Borrowed(s),
            None => Cow::Borrowed(fallback_site),
        };
        let path = r.uri.split('?').next().unwrap_or("").to_ascii_lowercase();
        if !self.sites.contains_key(site.as_ref()) {
            self.sites.insert(site.to_string(), SiteState::default());
        }
        // Inserted just above: the lookup cannot fail.
        let site_st = self.sites.get_mut(site.as_ref())?;
        site_st.seen += 1;
        let seen_now = site_st.seen;
        let st = site_st.sources.entry(r.src).or_default();
        if r.ts - st.start > self.cfg.window {
            *st = SrcState {
                start: r.ts,
                ..SrcState::default()
            };
        }
        let post = r.method.eq_ignore_ascii_case("POST");
        if post && LOGIN_PATHS.iter().any(|p| path.contains(p)) {
            st.login_posts += 1;
            if st.login_posts >= self.cfg.bruteforce_posts {
                let conf = if st.flagged_bf { 0.9 } else { 0.8 };
                st.flagged_bf = true;
                v.hits.push(Hit {
                    class: Class::Bruteforce,
                    confidence: conf,
                    rule: "repeated login POSTs",
                    evidence: format!("{} POSTs to {path}", st.login_posts),
                    location: Location::Request,
                });
            }
        }
        if r.status == Some(404)
            && (sigs::probe_path(&path)
                || v.hits
                    .iter()
                    .any(|h| h.class != Class::Scanner && h.confidence >= FLAG_THRESHOLD))
        {
            st.probe_404s += 1;
            if st.probe_404s >= self.cfg.scan_404s {
                st.flagged_scan = true;
                v.hits.retain(|h| h.class != Class::Scanner);
                v.hits.push(Hit {
                    class: Class::Scanner,
                    confidence: 0.9,
                    rule: "burst of 404s on sensitive paths",
                    evidence: format!("{} 404s; {path}", st.probe_404s),
                    location: Location::Request,
                });
            }
        }
        // Defacement: a stable page suddenly served at another size.
        if r.status == Some(200)
            && r.bytes > 0
            && r.method.eq_ignore_ascii_case("GET")
            && is_page(&path)
        {
            self.page_size(&site, &path, r);
        }
        // Backdoor: scripts first seen after warm-up, receiving 2xx POSTs.
        let script = [
            ".php", ".asp", ".aspx", ".jsp", ".jspx", ".cgi", ".pl", ".ashx", ".phtml",
        ]
        .iter()
        .any(|e| path.ends_with(e));
        if script {
            let s = self
                .scripts
                .entry((site.to_string(), path.clone()))
                .or_insert_with(|| ScriptState {
                    first_seen_at: seen_now,
                    ..ScriptState::default()
                });
            if post && r.status.is_some_and(|c| (200..300).contains(&c)) {
                s.posts_ok += 1;
                if !s.controllers.contains(&r.src)
                    && s.controllers.len() <= self.cfg.backdoor_max_controllers
                {
                    s.controllers.push(r.src);
                }
            } else {
                s.gets += 1;
            }
        }
        v.hits.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.class.cmp(&b.class))
        });
        if v.hits.iter().any(|h| h.confidence >= FLAG_THRESHOLD) {
            Some(v)
        } else {
            None
        }
    }

    fn page_size(&mut self, site: &str, path: &str, r: &WebRequest<'_>) {
        let known = self.pages.get(site).is_some_and(|m| m.contains_key(path));
        if !known {
            if self.page_count >= MAX_TRACKED_PAGES {
                return;
            }
            self.page_count += 1;
            self.pages
                .entry(site.to_owned())
                .or_default()
                .insert(path.to_owned(), PageState::default());
        }
        let Some(p) = self.pages.get_mut(site).and_then(|m| m.get_mut(path)) else {
            return;
        };
        let b = r.bytes as f64;
        match p.far(b, self.cfg.deface_baseline) {
            Some(true) => {
                if p.run == 0 {
                    p.run_rec = r.rec;
                    p.run_ts = r.ts;
                    p.run_bytes = 0;
                }
                p.run += 1;
                p.run_bytes = p.run_bytes.saturating_add(r.bytes);
                if p.run >= self.cfg.deface_run && !p.flagged {
                    p.flagged = true;
                    self.defacements.push(Defacement {
                        site: site.to_owned(),
                        path: path.to_owned(),
                        baseline_bytes: p.mean.round() as u64,
                        new_bytes: p.run_bytes / u64::from(p.run.max(1)),
                        first_rec: p.run_rec,
                        since: p.run_ts,
                    });
                }
            }
            Some(false) => {
                p.run = 0;
                p.learn(b);
            }
            None => p.learn(b),
        }
    }

    /// Suspected defacements, in the order they were detected.
    pub fn defacements(&self) -> &[Defacement] {
        &self.defacements
    }

    /// Scripts that appeared after the warm-up, got successful POSTs from at
    /// most `backdoor_max_controllers` sources and (almost) no GETs from others.
    pub fn backdoors(&self) -> Vec<Backdoor> {
        let mut out: Vec<Backdoor> = self
            .scripts
            .iter()
            .filter(|(_, s)| {
                s.first_seen_at > self.cfg.backdoor_warmup
                    && s.posts_ok >= 3
                    && !s.controllers.is_empty()
                    && s.controllers.len() <= self.cfg.backdoor_max_controllers
                    && s.gets <= s.posts_ok / 4
            })
            .map(|((site, path), s)| Backdoor {
                site: site.clone(),
                path: path.clone(),
                controller_ips: s.controllers.clone(),
                posts: s.posts_ok,
            })
            .collect();
        out.sort_by(|a, b| (&a.site, &a.path).cmp(&(&b.site, &b.path)));
        out
    }
}

/// Fuzz entry point: decoding and classification of arbitrary bytes as a URI, body and UA.
pub fn fuzz(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let (n, _) = decode::normalize_counted(&s, true);
    let _ = decode::sql_fold(&n);
    let r = WebRequest {
        uri: Cow::Borrowed(&s),
        body: Some(Cow::Borrowed(&s)),
        user_agent: Some(Cow::Borrowed(&s)),
        headers: vec![(Cow::Borrowed("Cookie"), Cow::Borrowed(&s))],
        ..WebRequest::default()
    };
    let v = analyse(&r);
    for h in &v.hits {
        assert!((0.0..=1.0).contains(&h.confidence));
    }
    let mut d = WebDetector::new(WebDetectorConfig::default());
    let _ = d.observe(&r, "fuzz");
}

#[cfg(test)]
mod nosql_tests {
    use super::*;

    #[test]
    fn operators_in_json_keys_and_brackets() {
        assert_eq!(nosql_json_key(r#"{"$where": "foo"}"#), Some("$where"));
        assert_eq!(
            nosql_json_key(r#"{"user": {"$exists" : true}}"#),
            Some("$exists")
        );
        assert_eq!(nosql_json_key(r#"{"$elemMatch": "x"}"#), Some("$elemMatch"));
        // Values, unknown operators and prices are not keys of a query object.
        assert_eq!(nosql_json_key(r#"{"price": "$where"}"#), None);
        assert_eq!(nosql_json_key(r#"{"$wherever": 1}"#), None);
        assert_eq!(nosql_json_key(r#"{"$100": 1}"#), None);
        assert_eq!(nosql_json_key(r#"{"$ne"#), None);
        assert!(nosql_bracket("u_id[$ne]"));
        assert!(nosql_bracket("[$lte]asdfsd"));
        assert!(!nosql_bracket("[$lte"));
        assert!(!nosql_bracket("a[$100]"));
        assert!(!nosql_bracket("[$nex]"));
    }
}
