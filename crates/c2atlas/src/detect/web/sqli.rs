//! SQL-injection detection by tokenising the input as SQL, in the spirit of
//! libinjection: the input is read in four contexts (as-is, as if it
//! followed a `'`, a `"` or a `` ` ``), each read is tokenised and the
//! token sequence is checked against a small grammar of what an injection
//! must do to change a query (break out of a string and continue with SQL,
//! `UNION SELECT`, stacked statements, boolean tautologies, SQL-specific
//! functions, comment truncation).
//!
//! Why not the `libinjection` crate: its build script clones the C sources
//! from the internet at build time (fails offline, and pulls a C library we
//! would not vet); the grammar below is ours, small and explainable.

/// Most tokens examined per context (injections show themselves early).
pub const MAX_TOKENS: usize = 64;

/// Token kinds (libinjection-like letters in comments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tk {
    /// `s` string literal; `closed` when its closing quote was seen.
    Str {
        closed: bool,
    },
    /// `1` number (decimal, hex `0x..`, float).
    Num,
    /// `n` bare word (identifier, unknown word).
    Word,
    /// `k` SQL keyword (from, where, into, like, …).
    Kw,
    /// `U` union / intersect / except.
    Union,
    /// `E` statement verb (select, insert, drop, exec, …).
    Stmt,
    /// `B` order by / group by.
    By,
    /// `f` a word followed by `(`; `true` when it is a known SQL function.
    Func(bool),
    /// `&` and / or / xor / && / ||.
    Logic,
    /// `o` operator (comparison, arithmetic, like, in, is…); `true` for comparisons.
    Op(bool),
    /// `v` @variable / @@variable.
    Var,
    /// `c` comment.
    Comment,
    Open,
    Close,
    Comma,
    Semi,
    Dot,
    /// Anything else (a lone backtick, braces, unicode).
    Other,
}

const KEYWORDS: &[&str] = &[
    "from",
    "where",
    "into",
    "like",
    "is",
    "not",
    "null",
    "between",
    "as",
    "case",
    "when",
    "then",
    "else",
    "end",
    "limit",
    "offset",
    "having",
    "values",
    "set",
    "table",
    "database",
    "procedure",
    "exists",
    "all",
    "distinct",
    "outfile",
    "dumpfile",
    "top",
    "delay",
    "collate",
    "escape",
    "join",
    "on",
    "regexp",
    "rlike",
    "sounds",
    "true",
    "false",
    "in",
    "div",
    "mod",
    "binary",
    "analyse",
    "information_schema",
    "sysobjects",
    "mysql",
    "char",
    "nvarchar",
    "varchar",
    "int",
    "columns",
    "tables",
    "schema",
];
const STMTS: &[&str] = &[
    "select",
    "insert",
    "update",
    "delete",
    "drop",
    "create",
    "alter",
    "truncate",
    "exec",
    "execute",
    "declare",
    "shutdown",
    "waitfor",
    "grant",
    "revoke",
    "load",
    "handler",
    "rename",
    "merge",
    "dbcc",
    "backup",
    "restore",
    "bulk",
    "openrowset",
    "kill",
    "use",
];
/// Functions that have little business in ordinary input.
const SQL_FUNCS: &[&str] = &[
    "sleep",
    "benchmark",
    "pg_sleep",
    "extractvalue",
    "updatexml",
    "load_file",
    "group_concat",
    "concat",
    "concat_ws",
    "char",
    "chr",
    "ascii",
    "substring",
    "substr",
    "mid",
    "version",
    "database",
    "user",
    "current_user",
    "system_user",
    "session_user",
    "schema",
    "hex",
    "unhex",
    "md5",
    "sha1",
    "if",
    "ifnull",
    "iif",
    "isnull",
    "nullif",
    "coalesce",
    "count",
    "length",
    "len",
    "cast",
    "convert",
    "ord",
    "exp",
    "floor",
    "rand",
    "randomblob",
    "sqlite_version",
    "xp_cmdshell",
    "sp_executesql",
    "sp_password",
    "utl_inaddr",
    "utl_http",
    "receive_message",
    "dbms_pipe",
    "sysdate",
    "now",
    "waitfor",
    "elt",
    "make_set",
    "json_keys",
    "name_const",
    "row",
    "gtid_subset",
    "polygon",
    "multipoint",
    "geometrycollection",
    "linestring",
    "exists",
    "not",
    "in",
    "select",
    "case",
    "instr",
    "locate",
    "position",
    "reverse",
    "lower",
    "upper",
    "trim",
    "replace",
    "left",
    "right",
    "least",
    "greatest",
    "db_name",
    "host_name",
    "suser_name",
    "user_name",
    "object_id",
    "table_name",
    "column_name",
    "dbms_xmlgen",
    "xmltype",
    "to_char",
    "tochar",
    "bitand",
    "lpad",
    "rpad",
    "sum",
    "avg",
    "min",
    "max",
    "abs",
    "sqrt",
    "pi",
    "power",
    "round",
    "strcmp",
    "soundex",
    "crc32",
    "uuid",
    "last_insert_id",
    "connection_id",
    "found_rows",
    "row_count",
    "charset",
    "collation",
    "coercibility",
    "current_database",
    "pg_read_file",
    "lo_import",
    "generate_series",
    "string_agg",
    "array_agg",
    "dump",
    "ctxsys",
    "openquery",
    "getdate",
    // Further functions of the MySQL, PostgreSQL, SQL Server, Oracle and
    // SQLite manuals (math, string, date, JSON, compression).
    "cos",
    "sin",
    "tan",
    "atan",
    "log",
    "ln",
    "ceil",
    "ceiling",
    "sign",
    "conv",
    "oct",
    "bin",
    "date",
    "datediff",
    "dateadd",
    "date_format",
    "str_to_date",
    "from_unixtime",
    "unix_timestamp",
    "current_timestamp",
    "format",
    "compress",
    "uncompress",
    "encode",
    "decode",
    "find_in_set",
    "field",
    "char_length",
    "character_length",
    "octet_length",
    "lcase",
    "ucase",
    "ltrim",
    "rtrim",
    "repeat",
    "space",
    "nvl",
    "to_number",
    "to_date",
    "json_extract",
    "json_object",
    "json_build_object",
    "jsonb_pretty",
    "starts_with",
    "unistr",
    "typeof",
    "zeroblob",
    "likelihood",
    "load_extension",
    "pg_typeof",
    "query_to_xml",
    "regexp_replace",
    "regexp_substr",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Tk,
    pub text: &'a str,
}

/// Tokenises `s` as SQL. `quote`: the context (`None`, `'`, `"` or `` ` ``); in a
/// quoted context the input starts inside a string that `quote` closes.
pub fn tokenize(s: &str, quote: Option<u8>) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut out: Vec<Token<'_>> = Vec::with_capacity(16);
    let mut i = 0;
    if let Some(q) = quote {
        let (end, closed) = string_end(b, 0, q);
        out.push(Token {
            kind: Tk::Str { closed },
            text: &s[..end.min(s.len())],
        });
        i = if closed { end + 1 } else { b.len() };
    }
    while i < b.len() && out.len() < MAX_TOKENS {
        let c = b[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0xa0 => {
                i += 1;
                continue;
            }
            b'\'' | b'"' | b'`' => {
                let (end, closed) = string_end(b, i + 1, c);
                i = if closed { end + 1 } else { b.len() };
                if c == b'`' {
                    Tk::Word
                } else {
                    Tk::Str { closed }
                }
            }
            b'[' => {
                // MSSQL [identifier]
                match memchr::memchr(b']', &b[i..]) {
                    Some(e) => {
                        i += e + 1;
                        Tk::Word
                    }
                    None => {
                        i += 1;
                        Tk::Other
                    }
                }
            }
            b'0'..=b'9' => {
                i = number_end(b, i);
                Tk::Num
            }
            b'.' if b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                i = number_end(b, i);
                Tk::Num
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if b.get(i + 2) == Some(&b'!') {
                    // MySQL versioned comment: its body is SQL; skip the marker.
                    i += 3;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    continue;
                }
                i = s[i + 2..]
                    .find("*/")
                    .map(|e| i + 2 + e + 2)
                    .unwrap_or(b.len());
                Tk::Comment
            }
            b'*' if b.get(i + 1) == Some(&b'/') => {
                i += 2;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = memchr::memchr(b'\n', &b[i..])
                    .map(|e| i + e)
                    .unwrap_or(b.len());
                Tk::Comment
            }
            // PostgreSQL JSON path operators `#>`, `#>>`, `#-` (not comments).
            b'#' if matches!(b.get(i + 1), Some(b'>' | b'-')) => {
                i += 2;
                if b.get(i) == Some(&b'>') {
                    i += 1;
                }
                Tk::Op(false)
            }
            b'#' => {
                i = memchr::memchr(b'\n', &b[i..])
                    .map(|e| i + e)
                    .unwrap_or(b.len());
                Tk::Comment
            }
            // PostgreSQL JSON containment `@>` (before `@variable`).
            b'@' if b.get(i + 1) == Some(&b'>') => {
                i += 2;
                Tk::Op(true)
            }
            b'@' => {
                i += 1;
                if b.get(i) == Some(&b'@') {
                    i += 1;
                }
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'.'
                        || b[i] == b'$')
                {
                    i += 1;
                }
                Tk::Var
            }
            b'(' => {
                i += 1;
                Tk::Open
            }
            b')' => {
                i += 1;
                Tk::Close
            }
            b',' => {
                i += 1;
                Tk::Comma
            }
            b';' => {
                i += 1;
                Tk::Semi
            }
            b'.' => {
                i += 1;
                Tk::Dot
            }
            b'&' if b.get(i + 1) == Some(&b'&') => {
                i += 2;
                Tk::Logic
            }
            b'|' if b.get(i + 1) == Some(&b'|') => {
                i += 2;
                Tk::Logic
            }
            b'=' | b'<' | b'>' | b'!' => {
                i += 1;
                while i < b.len() && matches!(b[i], b'=' | b'<' | b'>') {
                    i += 1;
                }
                // PostgreSQL `<@` (is contained by).
                if c == b'<' && i == start + 1 && b.get(i) == Some(&b'@') {
                    i += 1;
                }
                Tk::Op(true)
            }
            // PostgreSQL cast `expr::type`: the cast keeps the operand what it
            // is, so `::type` yields no token of its own.
            b':' if b.get(i + 1) == Some(&b':') => {
                i += 2;
                while i < b.len() && matches!(b[i], b' ' | b'\t') {
                    i += 1;
                }
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                continue;
            }
            // JSON path operators `->`, `->>` (MySQL, PostgreSQL, SQLite).
            b'-' if b.get(i + 1) == Some(&b'>') => {
                i += 2;
                if b.get(i) == Some(&b'>') {
                    i += 1;
                }
                Tk::Op(false)
            }
            // PostgreSQL key-existence `?`, `?|`, `?&`: an operator only after a
            // string (`'{"a":1}' ? 'a'`); elsewhere a question mark is text.
            b'?' if out
                .last()
                .is_some_and(|t| matches!(t.kind, Tk::Str { closed: true })) =>
            {
                i += 1;
                if matches!(b.get(i), Some(b'|' | b'&')) {
                    i += 1;
                }
                Tk::Op(true)
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'|' | b'&' | b'~' | b':' => {
                i += 1;
                if b.get(i) == Some(&b'=') {
                    i += 1;
                }
                Tk::Op(false)
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'$') || b[i] >= 0x80)
                {
                    i += 1;
                }
                word_kind(&s[start..i], b, i)
            }
            _ => {
                i += 1;
                Tk::Other
            }
        };
        // Stay on char boundaries (bytes ≥ 0x80 are consumed whole above).
        while i < b.len() && !s.is_char_boundary(i) {
            i += 1;
        }
        out.push(Token {
            kind,
            text: &s[start..i.min(s.len())],
        });
    }
    fold(out)
}

fn string_end(b: &[u8], from: usize, q: u8) -> (usize, bool) {
    let mut j = from;
    while j < b.len() {
        if b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            // SQL doubles the quote to escape it.
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return (j, true);
        }
        j += 1;
    }
    (b.len(), false)
}

fn number_end(b: &[u8], mut i: usize) -> usize {
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
        i += 2;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i < b.len()
        && matches!(b[i], b'e' | b'E')
        && b.get(i + 1)
            .is_some_and(|d| d.is_ascii_digit() || *d == b'-' || *d == b'+')
    {
        i += 2;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

fn word_kind(w: &str, b: &[u8], end: usize) -> Tk {
    let l = w.to_ascii_lowercase();
    let mut j = end;
    while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r') {
        j += 1;
    }
    let call = b.get(j) == Some(&b'(');
    match l.as_str() {
        "and" | "or" | "xor" => Tk::Logic,
        "union" | "intersect" | "except" | "minus" => Tk::Union,
        // `ilike`/`similar` (PostgreSQL), `glob` (SQLite); `notnull`/`isnull`
        // are the postfix null tests of PostgreSQL and SQLite.
        "like" | "rlike" | "regexp" | "is" | "between" | "sounds" | "ilike" | "glob"
        | "similar" | "notnull" => Tk::Op(true),
        "isnull" if !call => Tk::Op(true),
        "div" | "mod" => Tk::Op(false),
        "in" if call => Tk::Op(true),
        _ if call
            && (SQL_FUNCS.contains(&l.as_str())
                || l.starts_with("xp_")
                || l.starts_with("sp_")) =>
        {
            Tk::Func(true)
        }
        _ if STMTS.contains(&l.as_str()) => Tk::Stmt,
        _ if call => Tk::Func(false),
        "order" | "group" => Tk::By,
        _ if KEYWORDS.contains(&l.as_str()) => Tk::Kw,
        _ => Tk::Word,
    }
}

/// Folding: `order by`/`group by` stay one `B`, `not` before a comparison is dropped.
fn fold(v: Vec<Token<'_>>) -> Vec<Token<'_>> {
    let mut out: Vec<Token<'_>> = Vec::with_capacity(v.len());
    for t in v {
        if let Some(prev) = out.last()
            && prev.kind == Tk::By
            && t.text.eq_ignore_ascii_case("by")
        {
            continue;
        }
        out.push(t);
    }
    // A bare `order`/`group` without `by` is just a word.
    out
}

fn is_operand(k: Tk) -> bool {
    matches!(
        k,
        Tk::Str { .. } | Tk::Num | Tk::Word | Tk::Var | Tk::Func(_) | Tk::Open | Tk::Kw
    )
}

fn is_value(k: Tk) -> bool {
    matches!(
        k,
        Tk::Str { .. } | Tk::Num | Tk::Var | Tk::Func(_) | Tk::Open
    )
}

/// Whether a token run reads as prose: two values side by side (word, number
/// or string next to word, number or string) before any comment.
fn prose(t: &[Token<'_>]) -> bool {
    let val = |k: Tk| matches!(k, Tk::Word | Tk::Num | Tk::Str { .. });
    t.iter()
        .take_while(|x| x.kind != Tk::Comment)
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| val(w[0].kind) && val(w[1].kind))
}

/// A comment that ends an injection: `/*`, `--` (then a space or the end
/// after a phrase, as MySQL needs), or `#` then a space or the end (`#2` is
/// a number sign in text). After a phrase `#` is too common in text to count.
fn real_comment(c: &str, phrase: bool) -> bool {
    let after = |p: &str| {
        c.strip_prefix(p)
            .is_some_and(|r| r.is_empty() || r.starts_with(char::is_whitespace))
    };
    if phrase {
        after("--") || c.starts_with("/*")
    } else {
        c.starts_with("--") || after("#") || c.starts_with("/*")
    }
}

/// Verdict of the grammar on one context: confidence and the rule's name.
fn judge(t: &[Token<'_>], quoted: bool) -> Option<(f32, &'static str)> {
    let k: Vec<Tk> = t.iter().map(|x| x.kind).collect();
    let n = k.len();
    let at = |i: usize| k.get(i).copied();
    // UNION [ALL|DISTINCT] [(] SELECT
    for (i, _) in k.iter().enumerate().filter(|(_, x)| **x == Tk::Union) {
        {
            let mut j = i + 1;
            while matches!(at(j), Some(Tk::Kw | Tk::Comment | Tk::Open)) {
                j += 1;
            }
            if at(j).is_some_and(|x| x == Tk::Stmt) && t[j].text.eq_ignore_ascii_case("select") {
                return Some((0.95, "union select"));
            }
        }
    }
    // Stacked statement: `; verb …`
    for i in 0..n {
        if k[i] == Tk::Semi
            && let Some(Tk::Stmt | Tk::Func(true)) = at(i + 1)
        {
            let verb = t[i + 1].text.to_ascii_lowercase();
            let rest_sql = k[i + 2..].iter().any(|x| {
                matches!(
                    x,
                    Tk::Kw
                        | Tk::Func(_)
                        | Tk::Var
                        | Tk::Num
                        | Tk::Str { closed: true }
                        | Tk::Stmt
                        | Tk::Comment
                )
            });
            if rest_sql
                || matches!(
                    verb.as_str(),
                    "shutdown" | "waitfor" | "drop" | "exec" | "declare" | "truncate"
                )
            {
                return Some((0.9, "stacked statement"));
            }
        }
    }
    // (SELECT … / SELECT x FROM
    for i in 0..n {
        // `select (1),(2)` tokenises `select` as a call.
        if matches!(k[i], Tk::Stmt | Tk::Func(_)) && t[i].text.eq_ignore_ascii_case("select") {
            let prev_ok = i == 0
                || matches!(
                    k[i - 1],
                    Tk::Open
                        | Tk::Semi
                        | Tk::Str { closed: true }
                        | Tk::Logic
                        | Tk::Op(_)
                        | Tk::Comma
                );
            let from = k[i + 1..]
                .iter()
                .zip(&t[i + 1..])
                .any(|(kk, tt)| *kk == Tk::Kw && tt.text.eq_ignore_ascii_case("from"));
            // `select *`, `select -1`; not `select-quote` (a slug).
            let op_val = at(i + 1) == Some(Tk::Op(false))
                && (t[i + 1].text == "*" || at(i + 2) == Some(Tk::Num));
            let val = op_val
                || at(i + 1)
                    .is_some_and(|x| matches!(x, Tk::Func(_) | Tk::Var | Tk::Num | Tk::Str { .. }));
            if prev_ok && (from || val) && (i > 0 || from) {
                return Some((0.9, "subquery select"));
            }
        }
    }
    // Breaking out of a string (quoted context, first token is the closed
    // string), unless what follows reads as prose: SQL never puts two values
    // side by side (`'S WOMEN'S COATS`, `" AND WHITE"`), text does.
    let broke = quoted && matches!(at(0), Some(Tk::Str { closed: true })) && !prose(&t[1..]);
    // Several words before the quote: a phrase with an apostrophe or inch mark
    // (`16" or 18"`); only strong tails count then, not the short forms
    // (`admin'#`, `1' or '1`) that follow a single token.
    let phrase = broke && t[0].text.trim().contains(char::is_whitespace);
    let mut s = if broke { 1 } else { 0 };
    if broke {
        // `')` closing a paren too.
        while at(s) == Some(Tk::Close) {
            s += 1;
        }
        match at(s) {
            Some(Tk::Comment) if real_comment(t[s].text, phrase) => {
                return Some((0.85, "string break + comment"));
            }
            Some(Tk::Semi)
                if matches!(at(s + 1), Some(Tk::Comment)) || (!phrase && at(s + 1).is_none()) =>
            {
                return Some((0.8, "string break + statement end"));
            }
            // `'; select p`: a second statement after the broken string.
            Some(Tk::Semi)
                if !phrase
                    && at(s + 1) == Some(Tk::Stmt)
                    && matches!(
                        t[s + 1].text.to_ascii_lowercase().as_str(),
                        "select" | "insert" | "update" | "delete" | "drop" | "exec" | "execute"
                    )
                    && at(s + 2).is_some() =>
            {
                return Some((0.8, "string break + stacked statement"));
            }
            // `x'|email--`, `id'is not-id--`: an expression on the broken
            // string, the rest of the query commented out.
            Some(Tk::Op(_) | Tk::Kw)
                if !phrase
                    // (`~` is unary outside PostgreSQL: `x'~y` is no expression there.)
                    && (matches!(at(s), Some(Tk::Op(_))) && t[s].text != "~"
                        || kw(&t[s], "not") && matches!(at(s + 1), Some(Tk::Op(_))))
                    && n >= s + 3
                    && n <= s + 6
                    && k[n - 1] == Tk::Comment
                    && real_comment(t[n - 1].text, false)
                    && k[s + 1..n - 1].iter().all(|x| {
                        matches!(x, Tk::Word | Tk::Kw | Tk::Op(_) | Tk::Num | Tk::Str { closed: true })
                    })
                    && k[s + 1..n - 1].iter().any(|x| matches!(x, Tk::Word | Tk::Num | Tk::Kw)) =>
            {
                return Some((0.8, "string break + expression + comment"));
            }
            Some(Tk::By)
                if at(s + 1).is_some_and(|x| matches!(x, Tk::Num | Tk::Word | Tk::Func(_))) =>
            {
                return Some((0.85, "string break + order/group by"));
            }
            Some(Tk::Kw)
                if matches!(
                    t[s].text.to_ascii_lowercase().as_str(),
                    "into" | "having" | "limit" | "procedure" | "where" | "collate"
                ) && at(s + 1).is_some_and(|x| x != Tk::Str { closed: false }) =>
            {
                return Some((0.8, "string break + clause"));
            }
            Some(Tk::Logic) => {
                if at(s + 1).is_some_and(|x| is_operand(x) || x == Tk::Op(false))
                    && (n > s + 2 || matches!(at(s + 1), Some(Tk::Num | Tk::Var | Tk::Func(_))))
                {
                    return Some((0.9, "string break + boolean logic"));
                }
                if !phrase
                    && n <= s + 2
                    && at(s + 1).is_some_and(|x| matches!(x, Tk::Str { .. }))
                    && t[s + 1].text.len() > 1
                {
                    return Some((0.8, "string break + boolean logic"));
                }
            }
            Some(Tk::Op(_)) if !phrase => {
                if let Some(x) = at(s + 1)
                    && !(matches!(x, Tk::Str { .. })
                        && t[s + 1].text.trim_matches(['\'', '"', ' ']).is_empty())
                    && is_value(x)
                    && (n > s + 2
                        || !matches!(x, Tk::Str { closed: false })
                        || t[s].text == "="
                        || t[s].text == "||")
                    && t[s].text != "-"
                    && t[s].text != "/"
                    && t[s].text != ":"
                {
                    let closed_tail = matches!(
                        at(s + 2),
                        None | Some(Tk::Comment | Tk::Logic | Tk::Op(_) | Tk::Semi)
                    ) || matches!(x, Tk::Str { closed: false });
                    if closed_tail {
                        return Some((0.75, "string break + operator"));
                    }
                }
            }
            Some(Tk::Stmt)
                if at(s + 1).is_some_and(|x| x != Tk::Str { closed: false })
                    && matches!(
                        t[s].text.to_ascii_lowercase().as_str(),
                        "select"
                            | "insert"
                            | "update"
                            | "delete"
                            | "drop"
                            | "exec"
                            | "execute"
                            | "declare"
                            | "waitfor"
                            | "shutdown"
                    ) =>
            {
                return Some((0.85, "string break + statement"));
            }
            _ => {}
        }
    }
    // Boolean tautology / blind condition: `X & Y (o Z)` after a number, `)` or string break.
    for i in 0..n {
        if k[i] != Tk::Logic || t[i].text == "||" && !broke {
            continue;
        }
        let lhs_ok = i > 0
            && matches!(
                k[i - 1],
                Tk::Num | Tk::Close | Tk::Str { closed: true } | Tk::Var
            )
            || (broke && i == s);
        if !lhs_ok {
            continue;
        }
        let mut j = i + 1;
        if at(j).is_some_and(|x| x == Tk::Kw) && t[j].text.eq_ignore_ascii_case("not") {
            j += 1;
        }
        while at(j) == Some(Tk::Open) {
            j += 1;
        }
        match at(j) {
            Some(Tk::Func(true)) => return Some((0.85, "boolean + SQL function")),
            Some(Tk::Stmt) => return Some((0.85, "boolean + statement")),
            Some(x) if is_operand(x) && x != Tk::Kw => {
                if let Some(Tk::Op(true)) = at(j + 1)
                    && at(j + 2).is_some_and(|y| is_operand(y) || y == Tk::Op(false))
                {
                    return Some((0.85, "boolean tautology"));
                }
                if matches!(x, Tk::Num | Tk::Var)
                    && matches!(at(j + 1), None | Some(Tk::Comment | Tk::Semi | Tk::Close))
                    && (i > 0 && k[i - 1] != Tk::Num || at(j + 1).is_some())
                {
                    return Some((0.7, "boolean constant"));
                }
            }
            _ => {}
        }
    }
    // A boolean joined to a comparison of constants, whatever precedes it
    // (`HOPE AND 8=3`, `and 2771=1709)`, `PI() AND COS(PI())=-1`): the shape of
    // blind injection appended to a number or word the query already holds.
    for i in 0..n {
        // `||` is string concatenation in standard SQL: a boolean only after a number.
        let concat = t[i].text == "||" && !(i > 0 && k[i - 1] == Tk::Num);
        if k[i] != Tk::Logic || concat || t[i].text == "&&" && i == 0 {
            continue;
        }
        let konst = |j: usize| matches!(at(j), Some(Tk::Num | Tk::Func(_) | Tk::Var));
        let mut j = i + 1;
        while matches!(at(j), Some(Tk::Open)) || at(j) == Some(Tk::Op(false)) && t[j].text == "-" {
            j += 1;
        }
        if !konst(j) {
            continue;
        }
        // Skip the operand (a function call's arguments too).
        let mut depth = 0i32;
        j += 1;
        while let Some(x) = at(j) {
            match x {
                Tk::Open => depth += 1,
                Tk::Close if depth > 0 => depth -= 1,
                Tk::Close => {}
                _ if depth > 0 => {}
                _ => break,
            }
            j += 1;
        }
        if at(j) == Some(Tk::Op(true)) && t[j].text != "is" {
            let mut m = j + 1;
            while matches!(at(m), Some(Tk::Open))
                || at(m) == Some(Tk::Op(false)) && t[m].text == "-"
            {
                m += 1;
            }
            if konst(m) || matches!(at(m), Some(Tk::Str { closed: true })) {
                return Some((0.8, "boolean comparison of constants"));
            }
        }
    }
    // Nested SQL functions pulling data out: `ascii(substring(version(),1,1))`,
    // `conv(hex(substr(user(),1,2)),16,10)`: a known SQL function called inside
    // another, one of them reading the server's data.
    {
        let extract = |x: &Token<'_>| {
            matches!(
                x.text.to_ascii_lowercase().as_str(),
                "version"
                    | "database"
                    | "user"
                    | "current_user"
                    | "system_user"
                    | "session_user"
                    | "schema"
                    | "db_name"
                    | "host_name"
                    | "suser_name"
                    | "user_name"
                    | "substring"
                    | "substr"
                    | "mid"
                    | "load_file"
                    | "sqlite_version"
                    | "current_database"
                    | "connection_id"
                    | "last_insert_id"
            )
        };
        let mut depth = 0usize;
        let mut outer_at: Vec<usize> = Vec::new();
        for i in 0..n {
            match k[i] {
                Tk::Open => depth += 1,
                Tk::Close => {
                    depth = depth.saturating_sub(1);
                    outer_at.retain(|d| *d <= depth);
                }
                Tk::Func(true) => {
                    if !outer_at.is_empty() && (extract(&t[i]) || outer_at.len() >= 2) {
                        return Some((0.8, "nested SQL functions"));
                    }
                    outer_at.push(depth + 1);
                    if outer_at.len() >= 2 && extract(&t[i]) {
                        return Some((0.8, "nested SQL functions"));
                    }
                }
                _ => {}
            }
        }
    }
    // Dangerous SQL function calls anywhere: sleep(…), benchmark(…), extractvalue(…)…
    for i in 0..n {
        if k[i] == Tk::Func(true) {
            let name = t[i].text.to_ascii_lowercase();
            if matches!(
                name.as_str(),
                "sleep"
                    | "benchmark"
                    | "pg_sleep"
                    | "extractvalue"
                    | "updatexml"
                    | "load_file"
                    | "group_concat"
                    | "xp_cmdshell"
                    | "sp_executesql"
                    | "utl_inaddr"
                    | "utl_http"
                    | "receive_message"
                    | "randomblob"
                    | "name_const"
                    | "make_set"
                    | "gtid_subset"
                    | "dbms_xmlgen"
                    | "pg_read_file"
                    | "lo_import"
                    | "openquery"
                    | "concat_ws"
            ) || (name.starts_with("xp_") && name.len() > 3)
            {
                return Some((0.85, "SQL function call"));
            }
        }
    }
    // WAITFOR DELAY '…'
    for i in 0..n.saturating_sub(1) {
        if k[i] == Tk::Stmt
            && t[i].text.eq_ignore_ascii_case("waitfor")
            && t[i + 1].text.eq_ignore_ascii_case("delay")
        {
            return Some((0.9, "waitfor delay"));
        }
    }
    // Number context: `1 order by 3--`, `1) or (…`, `-1 /*comment*/ union`.
    if matches!(at(0), Some(Tk::Num)) {
        let mut s = 1;
        while at(s) == Some(Tk::Close) {
            s += 1;
        }
        if at(s) == Some(Tk::By) && at(s + 1).is_some_and(|x| matches!(x, Tk::Num | Tk::Word)) {
            return Some((0.8, "number + order/group by"));
        }
        if s > 1 && matches!(at(s), Some(Tk::Comment | Tk::Semi)) {
            return Some((0.7, "number + paren close + comment"));
        }
    }
    // A parenthesised SQL expression closed and commented out, the way an
    // injection balances the query's own parentheses: `( 'a' OR @a ) --`,
    // `( (SELECT ( 1)) ) --`. It must hold SQL (a variable, a statement, a
    // known function, a boolean, an operator or a string), not just words.
    if matches!(at(0), Some(Tk::Open))
        && n >= 4
        && k[n - 1] == Tk::Comment
        && real_comment(t[n - 1].text, false)
        && k[n - 2] == Tk::Close
        && k[..n - 1].iter().zip(t).any(|(x, tt)| {
            matches!(
                x,
                Tk::Var
                    | Tk::Stmt
                    | Tk::Func(true)
                    | Tk::Logic
                    | Tk::Op(_)
                    | Tk::Str { closed: true }
            ) || *x == Tk::Kw && tt.text.eq_ignore_ascii_case("binary")
        })
        && !prose(&t[..n - 1])
    {
        return Some((0.75, "parenthesised expression + comment"));
    }
    // MySQL writing a file: `… into outfile '…'` / `into dumpfile`.
    for i in 0..n.saturating_sub(1) {
        if k[i] == Tk::Kw
            && t[i].text.eq_ignore_ascii_case("into")
            && matches!(
                t[i + 1].text.to_ascii_lowercase().as_str(),
                "outfile" | "dumpfile"
            )
        {
            return Some((0.9, "into outfile"));
        }
    }
    // A statement as the whole value, ended by a comment or `;`:
    // `DROP sampletable;--`, `delete from x#`.
    if matches!(at(0), Some(Tk::Stmt))
        && matches!(
            t[0].text.to_ascii_lowercase().as_str(),
            "drop"
                | "delete"
                | "insert"
                | "update"
                | "truncate"
                | "alter"
                | "create"
                | "select"
                | "exec"
                | "execute"
                | "declare"
                | "shutdown"
        )
        && n >= 3
        && matches!(k[n - 1], Tk::Comment | Tk::Semi)
        && k[1..n - 1]
            .iter()
            .any(|x| matches!(x, Tk::Word | Tk::Kw | Tk::Num | Tk::Var | Tk::Func(_)))
        && !prose(&t[1..])
    {
        return Some((0.8, "statement + terminator"));
    }
    // T-SQL variables and procedures: `declare @x`, `exec (@q)`, `exec @p`.
    for i in 0..n.saturating_sub(1) {
        if k[i] == Tk::Stmt
            && matches!(
                t[i].text.to_ascii_lowercase().as_str(),
                "declare" | "exec" | "execute"
            )
        {
            let mut j = i + 1;
            while matches!(at(j), Some(Tk::Open | Tk::Comment)) {
                j += 1;
            }
            if at(j) == Some(Tk::Var) {
                return Some((0.8, "T-SQL variable statement"));
            }
        }
    }
    if let Some(v) = fragments(t, &k) {
        return Some(v);
    }
    if let Some(v) = statement_shapes(t, &k) {
        return Some(v);
    }
    // @@version, information_schema and friends.
    for x in t {
        let l = x.text.to_ascii_lowercase();
        if (x.kind == Tk::Var
            && matches!(
                l.as_str(),
                "@@version" | "@@datadir" | "@@hostname" | "@@basedir" | "@@servername"
            ))
            || l == "information_schema"
            || (l == "sysobjects" || l == "syscolumns" || l == "pg_shadow" || l == "mysql.user")
        {
            return Some((0.85, "catalog reference"));
        }
    }
    None
}

/// Whether token `x` is a MySQL backtick-quoted identifier (`` `tbl` ``):
/// that quoting exists only in SQL.
fn backticked(x: &Token<'_>) -> bool {
    x.kind == Tk::Word && x.text.len() > 2 && x.text.starts_with('`') && x.text.ends_with('`')
}

fn kw(x: &Token<'_>, w: &str) -> bool {
    x.kind == Tk::Kw && x.text.eq_ignore_ascii_case(w)
}

/// Pieces of SQL that an injection places into the middle of the query
/// (the value holds a fragment, not a statement). Each needs a shape that
/// SQL has and prose does not:
/// - a leading boolean joined to a comparison (`AND 7639=(`, `|| c == '`,
///   `OR '{"b":2}'::jsonb <@ '{…}'`), the tail of a `WHERE`;
/// - a call of a known SQL function left open at the end (`COUNT(`,
///   `database (`, `select Char(`): the value opens an expression the query
///   closes;
/// - a select-list tail `) AS alias FROM`, `` ` AS `x` from ``;
/// - a table reference followed by a clause (`FROM t WHERE a="b"`,
///   `FROM t GROUP BY c`, `` from `db`.`t` limit ``);
/// - `SELECT` opening an expression (`SELECT CHAR(113)+…`, `SELECT (CASE`).
fn fragments(t: &[Token<'_>], k: &[Tk]) -> Option<(f32, &'static str)> {
    let n = k.len();
    let at = |i: usize| k.get(i).copied();
    // Leading boolean + comparison.
    if at(0) == Some(Tk::Logic) {
        let mut j = 1;
        while at(j) == Some(Tk::Open) {
            j += 1;
        }
        let operand = at(j).is_some_and(|x| {
            matches!(
                x,
                Tk::Word | Tk::Num | Tk::Var | Tk::Str { closed: true } | Tk::Func(_)
            )
        });
        if operand {
            // A call's arguments belong to the operand.
            j += 1;
            if k[j - 1] == Tk::Func(true) || k[j - 1] == Tk::Func(false) {
                let mut depth = 0i32;
                while let Some(x) = at(j) {
                    match x {
                        Tk::Open => depth += 1,
                        Tk::Close => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                    if depth <= 0 {
                        break;
                    }
                }
            }
            // Arithmetic or JSON path on the operand (`'{…}' -> '$.a'`).
            let word_lhs = k[j - 1] == Tk::Word;
            while at(j) == Some(Tk::Op(false))
                && at(j + 1).is_some_and(|x| matches!(x, Tk::Str { closed: true } | Tk::Num))
            {
                j += 2;
            }
            // `or more = better` is prose: a bare word compared to a bare word.
            if at(j) == Some(Tk::Op(true))
                && !t[j].text.eq_ignore_ascii_case("is")
                && at(j + 1).is_none_or(|x| {
                    matches!(
                        x,
                        Tk::Str { .. } | Tk::Num | Tk::Open | Tk::Var | Tk::Func(_)
                    ) || x == Tk::Word && !word_lhs
                        || x == Tk::Op(true)
                })
                && !prose(t)
            {
                return Some((0.8, "boolean comparison fragment"));
            }
        }
    }
    // A known SQL function called and left open at the end.
    if n >= 2 && k[n - 1] == Tk::Open {
        let mut f = n - 2;
        while f > 0 && k[f] == Tk::Comment {
            f -= 1;
        }
        let callee = &t[f];
        let sql_call = k[f] == Tk::Func(true)
            || k[f] == Tk::Op(true) && callee.text.eq_ignore_ascii_case("in")
            || k[f] == Tk::Stmt
                && matches!(
                    callee.text.to_ascii_lowercase().as_str(),
                    "exec" | "execute" | "select"
                );
        // Alone, or after an operator or statement (`select Char(`, `x=sleep(`).
        let lead_ok = f == 0
            || matches!(
                k[f - 1],
                Tk::Stmt | Tk::Op(_) | Tk::Logic | Tk::Comma | Tk::Semi | Tk::Open
            ) && !prose(&t[..f]);
        if sql_call && lead_ok {
            return Some((0.75, "open SQL function call"));
        }
    }
    for i in 0..n {
        // `) AS alias FROM`
        if kw(&t[i], "as")
            && i > 0
            && (matches!(k[i - 1], Tk::Close | Tk::Num | Tk::Str { closed: true })
                || backticked(&t[i - 1]))
            && matches!(at(i + 1), Some(Tk::Word | Tk::Str { closed: true }))
            && t.get(i + 2).is_some_and(|x| kw(x, "from"))
        {
            return Some((0.75, "select-list alias + from"));
        }
        // `FROM table[.table] <clause>`
        if kw(&t[i], "from") && at(i + 1) == Some(Tk::Word) {
            let quoted = backticked(&t[i + 1]);
            let mut j = i + 2;
            while at(j) == Some(Tk::Dot) && at(j + 1) == Some(Tk::Word) {
                j += 2;
            }
            let clause = match t.get(j) {
                Some(x) if x.kind == Tk::By => at(j + 1) == Some(Tk::Word),
                Some(x) if kw(x, "where") => {
                    matches!(at(j + 1), Some(Tk::Word | Tk::Func(_)))
                        && matches!(at(j + 2), Some(Tk::Op(true)))
                }
                Some(x) if kw(x, "limit") => {
                    at(j + 1).is_none_or(|y| y == Tk::Num) && (quoted || j > i + 2)
                }
                Some(x) if kw(x, "join") || kw(x, "as") => quoted,
                None => quoted && j > i + 2,
                _ => false,
            };
            if clause {
                return Some((0.75, "table reference + clause"));
            }
        }
    }
    // MySQL user variables set as a statement: `SET @OLD_SQL_MODE`, `;set @a=1`.
    for i in 0..n.saturating_sub(1) {
        if kw(&t[i], "set")
            && k[i + 1] == Tk::Var
            && t[i + 1].text.len() > 1
            // After `;`, or assigning (`set @home` alone is text).
            && (i > 0 && k[i - 1] == Tk::Semi
                || i == 0 && matches!(at(i + 2), Some(Tk::Op(_))) && t[i + 2].text.ends_with('='))
        {
            return Some((0.75, "set user variable"));
        }
    }
    // `SELECT` opening an expression at the start.
    // (`select (` reads as a call.)
    if matches!(at(0), Some(Tk::Stmt | Tk::Func(_))) && t[0].text.eq_ignore_ascii_case("select") {
        let expr = at(1) == Some(Tk::Func(true))
            || at(1) == Some(Tk::Open)
                && t.get(2)
                    .is_some_and(|x| kw(x, "case") || x.text.eq_ignore_ascii_case("select"));
        if expr {
            return Some((0.75, "select expression"));
        }
    }
    None
}

/// Objects that data-definition statements name (`CREATE TABLE`, `ALTER
/// FUNCTION`, …), from the SQL standard and the MySQL, PostgreSQL, SQL Server
/// and Oracle grammars.
const DDL_OBJECTS: &[&str] = &[
    "table",
    "function",
    "procedure",
    "database",
    "schema",
    "view",
    "index",
    "trigger",
    "user",
    "login",
    "role",
    "sequence",
    "event",
    "extension",
    "tablespace",
];

/// Statement shapes that are whole SQL statements or clauses by their syntax
/// alone, not fragments of text: data definition (`ALTER TABLE t …`,
/// `CREATE FUNCTION f … RETURNS`), dynamic SQL (`EXECUTE IMMEDIATE '…`),
/// `PROCEDURE ANALYSE (`, grouped aggregates
/// (`GROUP BY x HAVING COUNT(`), `CASE WHEN … THEN`, a parenthesised `LIKE`
/// (`) like (`) and MySQL's `IF(x=` conditional.
fn statement_shapes(t: &[Token<'_>], k: &[Tk]) -> Option<(f32, &'static str)> {
    let n = k.len();
    let at = |i: usize| k.get(i).copied();
    let word = |i: usize| t.get(i).map_or("", |x| x.text);
    for i in 0..n {
        let lead_ok = i == 0
            || matches!(
                k[i - 1],
                Tk::Semi
                    | Tk::Open
                    | Tk::Close
                    | Tk::Comment
                    | Tk::Str { closed: true }
                    | Tk::Logic
            )
            || backticked(&t[i - 1]);
        match k[i] {
            // `CREATE TABLE Persons`, `ALTER TABLE `t` ADD`, `DROP FUNCTION f`.
            Tk::Stmt
                if matches!(
                    word(i).to_ascii_lowercase().as_str(),
                    "create" | "alter" | "drop" | "truncate"
                ) && lead_ok =>
            {
                let mut j = i + 1;
                // `CREATE OR REPLACE FUNCTION`, `CREATE TEMPORARY TABLE`, `IF NOT EXISTS`.
                while j < n
                    && j <= i + 3
                    && matches!(
                        word(j).to_ascii_lowercase().as_str(),
                        "or" | "replace" | "temporary" | "temp" | "unique" | "global" | "definer"
                    )
                {
                    j += 1;
                }
                let object = t
                    .get(j)
                    .is_some_and(|x| DDL_OBJECTS.iter().any(|o| x.text.eq_ignore_ascii_case(o)));
                let quoted_name = t.get(j + 1).is_some_and(backticked);
                let name = matches!(at(j + 1), Some(Tk::Word | Tk::Func(_)))
                    || quoted_name
                    || t.get(j + 1).is_some_and(|x| kw(x, "if"));
                // A routine's definition: `… RETURNS type`, `… AS $$`, `… BEGIN`.
                let routine = t.get(j).is_some_and(|x| {
                    x.text.eq_ignore_ascii_case("function")
                        || x.text.eq_ignore_ascii_case("procedure")
                }) && t[j + 1..].iter().any(|x| {
                    x.text.eq_ignore_ascii_case("returns") || x.text.eq_ignore_ascii_case("begin")
                });
                if object && name && (quoted_name || routine || !prose(&t[j + 1..])) {
                    return Some((0.8, "data definition statement"));
                }
            }
            // `EXECUTE IMMEDIATE '…'` (Oracle, PostgreSQL PL/pgSQL dynamic SQL).
            Tk::Stmt
                if word(i).eq_ignore_ascii_case("execute")
                    && word(i + 1).eq_ignore_ascii_case("immediate")
                    && matches!(at(i + 2), Some(Tk::Str { .. } | Tk::Var | Tk::Word)) =>
            {
                return Some((0.85, "dynamic SQL"));
            }
            // `PROCEDURE ANALYSE (` (MySQL).
            Tk::Kw
                if word(i).eq_ignore_ascii_case("procedure")
                    && word(i + 1).eq_ignore_ascii_case("analyse")
                    && at(i + 2) == Some(Tk::Open) =>
            {
                return Some((0.8, "procedure analyse"));
            }
            // `GROUP BY x HAVING COUNT(…)`.
            Tk::By
                if matches!(at(i + 1), Some(Tk::Word | Tk::Num))
                    && t.get(i + 2).is_some_and(|x| kw(x, "having"))
                    && matches!(at(i + 3), Some(Tk::Func(_) | Tk::Word | Tk::Num | Tk::Open)) =>
            {
                return Some((0.8, "group by + having"));
            }
            // `CASE WHEN c THEN r` opening an expression.
            Tk::Kw
                if kw(&t[i], "case")
                    && t.get(i + 1).is_some_and(|x| kw(x, "when"))
                    && (i == 0
                        || matches!(
                            k[i - 1],
                            Tk::Open
                                | Tk::Op(_)
                                | Tk::Comma
                                | Tk::Stmt
                                | Tk::Logic
                                | Tk::Semi
                                | Tk::Close
                        ))
                    && (i + 3..n.min(i + 8)).any(|j| kw(&t[j], "then"))
                    && !prose(&t[i + 2..]) =>
            {
                return Some((0.75, "case expression"));
            }
            // `) like (`: a LIKE between two parenthesised expressions.
            Tk::Close
                if t.get(i + 1)
                    .is_some_and(|x| x.text.eq_ignore_ascii_case("like"))
                    && at(i + 2) == Some(Tk::Open) =>
            {
                return Some((0.75, "parenthesised like"));
            }
            // MySQL `IF(2=…`: a conditional function on a comparison.
            Tk::Func(_)
                if word(i).eq_ignore_ascii_case("if")
                    && at(i + 1) == Some(Tk::Open)
                    && matches!(
                        at(i + 2),
                        Some(Tk::Num | Tk::Word | Tk::Str { closed: true } | Tk::Func(_))
                    )
                    && matches!(at(i + 3), Some(Tk::Op(true)))
                    && word(i + 3) != "=>" =>
            {
                return Some((0.75, "conditional function"));
            }
            _ => {}
        }
    }
    None
}

/// Whether `s` is worth tokenising (cheap prefilter: SQL needs one of these).
fn candidate(s: &str) -> bool {
    s.bytes().any(|c| {
        matches!(
            c,
            b'\''
                | b'"'
                | b'('
                | b')'
                | b';'
                | b'#'
                | b'='
                | b'<'
                | b'>'
                | b'@'
                | b'`'
                | b'|'
                | b'&'
                | b'-'
                | b'/'
                | b'*'
        )
    }) || s.len() > 8
}

/// Classifies one decoded value: `Some((confidence, rule, evidence))` when it
/// reads as SQL injection in any context.
/// Names that exist only inside database servers: system catalogs and the
/// extended/system procedures of SQL Server (the ones that run commands, read
/// the registry or files). From the products' documentation.
const SQL_SYSTEM_NAMES: &[&str] = &[
    "information_schema",
    "pg_catalog",
    "pg_shadow",
    "pg_user",
    "pg_database",
    "pg_tables",
    "pg_proc",
    "sqlite_master",
    "sqlite_schema",
    "sqlite_temp_master",
    "sysobjects",
    "syscolumns",
    "sysdatabases",
    "syslogins",
    "sysusers",
    "msysobjects",
    "msysaccessobjects",
    "msysqueries",
    "all_tables",
    "all_tab_columns",
    "user_tables",
    "user_tab_columns",
    "dba_users",
    "dba_tables",
    "v$version",
    "mysql.user",
    "mysql.db",
    "performance_schema",
    "xp_cmdshell",
    "xp_dirtree",
    "xp_subdirs",
    "xp_fileexist",
    "xp_regread",
    "xp_regwrite",
    "xp_regdeletekey",
    "xp_regdeletevalue",
    "xp_regenumvalues",
    "xp_servicecontrol",
    "xp_availablemedia",
    "xp_loginconfig",
    "xp_makecab",
    "xp_ntsec_enumdomains",
    "xp_terminate_process",
    "xp_enumgroups",
    "xp_execresultset",
    "xp_sendmail",
    "sp_oacreate",
    "sp_oamethod",
    "sp_addextendedproc",
    "sp_configure",
    "sp_makewebtask",
    "sp_execute_external_script",
    "sp_addlogin",
    "sp_addsrvrolemember",
    "sp_password",
    "sp_executesql",
    "sp_replwritetovarbin",
    "openrowset",
    "opendatasource",
    "tempdb",
    "msdb",
    // Server-side delays and out-of-band channels that exist only in the
    // servers (PostgreSQL, Oracle's PL/SQL packages).
    "pg_sleep",
    "pg_read_file",
    "pg_ls_dir",
    "lo_import",
    "lo_export",
    "dbms_pipe",
    "dbms_lock",
    "utl_http",
    "utl_inaddr",
    "dbms_xmlgen",
];

static SQL_SYSTEM_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SQL_SYSTEM_NAMES)
            .ok()
    });

/// A database system name as a whole word (`pg_catalog`, `xp_cmdshell`).
fn system_name(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    SQL_SYSTEM_AC.as_ref().is_some_and(|a| {
        a.find_iter(s).any(|m| {
            !word(m.start().checked_sub(1).and_then(|i| b.get(i))) && !word(b.get(m.end()))
        })
    })
}

/// SQL type names a PostgreSQL cast `::type` converts to (from its manual).
const PG_CAST_TYPES: &[&str] = &[
    "int",
    "int2",
    "int4",
    "int8",
    "integer",
    "bigint",
    "smallint",
    "numeric",
    "decimal",
    "real",
    "float",
    "float4",
    "float8",
    "text",
    "varchar",
    "char",
    "bpchar",
    "bool",
    "boolean",
    "json",
    "jsonb",
    "bytea",
    "date",
    "timestamp",
    "timestamptz",
    "interval",
    "uuid",
    "oid",
    "regclass",
    "regproc",
    "xml",
    "inet",
    "cidr",
    "money",
    "name",
];

/// A PostgreSQL cast of a literal or a call's result: `'{"a":1}'::jsonb`,
/// `starts_with(password,'a')::int`. The `::` must follow a quote or a `)`
/// (so IPv6 `::1` and `std::string` do not count) and name a SQL type.
fn pg_cast(s: &str) -> bool {
    let b = s.as_bytes();
    memchr::memmem::find_iter(b, b"::").any(|i| {
        let before = b[..i].iter().rev().find(|c| **c != b' ');
        if !matches!(before, Some(b'\'' | b')')) {
            return false;
        }
        let rest = &s[i + 2..];
        let rest = rest.trim_start();
        let w: &str = &rest[..rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len())];
        PG_CAST_TYPES.iter().any(|t| t.eq_ignore_ascii_case(w))
    })
}

pub fn detect(s: &str) -> Option<(f32, &'static str)> {
    if s.len() < 2 {
        return None;
    }
    if s.len() >= 6 && s.contains("::") && pg_cast(s) {
        return Some((0.8, "PostgreSQL cast"));
    }
    if s.len() >= 4 && system_name(s) {
        return Some((0.85, "database system name"));
    }
    if !candidate(s) {
        return None;
    }
    let mut best: Option<(f32, &'static str)> = None;
    // The backtick context: the value closes a MySQL quoted identifier.
    for q in [None, Some(b'\''), Some(b'"'), Some(b'`')] {
        if let Some(qc) = q
            && !s.as_bytes().contains(&qc)
        {
            continue;
        }
        let toks = tokenize(s, q);
        // A broken identifier is not a broken string: no string-break rules.
        if let Some(v) = judge(&toks, q.is_some_and(|c| c != b'`'))
            && best.is_none_or(|b| v.0 > b.0)
        {
            best = Some(v);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacks() {
        for a in [
            "1' or '1'='1",
            "1 OR 1=1",
            "admin'--",
            "x' AND SLEEP(5)#",
            "-1 UNION ALL SELECT NULL,NULL--",
            "1;DROP TABLE users",
            "1' uNiOn/**/sElEcT 1,2,3--",
            "1 and (select count(*) from users)>0",
            "';waitfor delay '0:0:5'--",
            "1) or (1=1",
            "1 order by 3--",
            "' or ''='",
            "1 AND extractvalue(1,concat(0x7e,version()))",
            "x\" or \"a\"=\"a",
            "HOPE AND 8=3",
            "and 2771=1709)",
            "PI() AND COS(PI())=-1",
            "ascii(substring(version() from 1 for 1))",
            "DROP sampletable;--",
            "declare @b",
            "xp_cmdshell",
            "pg_catalog",
            "1 || 1 = 1",
            "select (1),(2),3 from bar where",
            "1 into outfile 'asd'",
            " ( 'a' OR @a )  -- ",
        ] {
            assert!(
                detect(a).is_some(),
                "missed {a:?}: {:?}",
                tokenize(a, Some(b'\''))
            );
        }
    }

    /// Dialect syntax: PostgreSQL casts and JSON operators, SQLite/PostgreSQL
    /// postfix null tests and `ilike`/`glob`, and SQL fragments that an
    /// injection places mid-query.
    #[test]
    fn dialects_and_fragments() {
        for a in [
            // boolean comparison fragments
            "AND 4521=(",
            "or 2=' ",
            "|| userRole == '",
            "&& pathname != ",
            "XOR x>=3",
            // PostgreSQL casts and JSON operators
            "OR '{\"k\":9}'::jsonb @> '{\"k\":9,\"m\":1}'::jsonb",
            "or '[3,4]' ? '4'",
            "or '{\"p\":[1,{\"q\":5}]}' -> '$.p[1].q' = 5",
            // postfix null tests, ilike, glob
            "q'or name notnull--",
            "q' and name ilike name--",
            // string break + expression + comment
            "k'|title--",
            "n' mod rowid--",
            "v'not glob-v--",
            // open SQL function calls
            "SUBSTR(",
            "coalesce (",
            "select chr(",
            "Execute(",
            "x=sleep(",
            // select-list alias and table references
            ") AS total FROM",
            "` AS `uid` from",
            "FROM orders WHERE status=\"open\"",
            "from accounts GROUP BY region",
            "from `shop`.`carts` limit",
            // select opening an expression
            "SELECT CHAR(65)+CHAR(66)",
            "SELECT (CASE WHEN 1",
            // stacked statement after a broken string
            "';select pwd",
            // system databases
            "tempdb",
            // PostgreSQL casts and JSON path operators
            "lower(email)::int",
            "'[1,2]'::jsonb #- '{1}'",
            "OR '{\"u\":1}' #> '{u}' = '1'",
            // MySQL user variables
            ";SET @OLD_CHARSET",
            "; set @v:=2",
            "SET @x=1",
        ] {
            assert!(
                detect(a).is_some(),
                "missed {a:?}: {:?}",
                tokenize(a, Some(b'\''))
            );
        }
    }

    #[test]
    fn benign() {
        for b in [
            "O'Reilly and sons",
            "rock and roll",
            "select a size",
            "1-800-GOT-JUNK",
            "it's a dog's life",
            "john.doe@example.com",
            "2024-01-01",
            "hello; world",
            "Tom & Jerry",
            "price < 100 and > 50",
            "Size 10 and 12",
            "lower(trim(name))",
            "Windows 7 or 8",
            "(see the note) -- thanks",
            // prose around the new fragment shapes
            "or more = better",
            "and the winner is",
            "rock and roll (live)",
            "shoes (",
            "call me (",
            "known as Bob from Leeds",
            "I came from home where it was warm",
            "from here to there",
            "select-quote",
            "/select-quote",
            "what? 'yes'",
            "a::b",
            "x -> y",
            "the date (today)",
            "it's -- great",
            "fe80::1",
            "std::string",
            "(a)::b",
            "set @home",
            ";set @",
            "game set @ 5",
            "#>",
            "`!1",
            "x'~y--",
            // prose around the statement shapes
            "create a table for the kids",
            "drop me a line",
            "drop table tennis lessons on monday",
            "just in case when it rains then stay in",
            "execute the plan",
            "if (you can)",
            "I like (really) like it",
            "group by name",
        ] {
            assert_eq!(detect(b), None, "flagged {b:?}");
        }
    }

    #[test]
    fn statement_shapes() {
        for (a, rule) in [
            ("CREATE TABLE persons (id int)", "data definition statement"),
            (
                "ALTER TABLE `mails` CHANGE `to` `to` TEXT",
                "data definition statement",
            ),
            (
                "CREATE FUNCTION hello (s CHAR(20)) RETURNS CHAR(50) DETERMINISTIC",
                "data definition statement",
            ),
            ("drop function f", "data definition statement"),
            ("EXECUTE IMMEDIATE v_sql", "dynamic SQL"),
            ("1 procedure analyse (", "procedure analyse"),
            (
                "select x group by id having count(id) >= 9",
                "group by + having",
            ),
            (" case when 1=1 then 2 end", "case expression"),
            (") like (", "parenthesised like"),
            ("if(2=", "conditional function"),
        ] {
            assert_eq!(detect(a).map(|v| v.1), Some(rule), "{a:?}");
        }
        // Server-only names flag alone.
        assert!(detect("select pg_sleep").is_some());
        assert!(detect("x utl_http.request").is_some());
    }
}
