//! Integration tests: web access logs as run inputs, and the web census.

use std::io::Write;
use std::path::PathBuf;

use c2atlas::enrich::Home;
use c2atlas::ingest::weblog::WebRequest;
use c2atlas::ingest::{Detect, Format, PlannedInput, Sink, detect_bytes, read_input};
use c2atlas::model::{Event, RecordRef};
use c2atlas::pipeline::{Pipeline, Silent};
use sha2::{Digest, Sha256};

const CLF: &str = "203.0.113.9 - - [10/Oct/2025:13:55:36 +0000] \"GET /index.html HTTP/1.1\" 200 2326 \"-\" \"Mozilla/5.0\"\n\
203.0.113.9 - - [10/Oct/2025:13:55:37 +0000] \"GET /a?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0\"\n";

#[test]
fn web_formats_are_detected_after_the_telemetry_formats() {
    assert_eq!(detect_bytes(CLF.as_bytes()), Ok(Format::AccessLog));
    let w3c = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n\
#Fields: date time c-ip cs-method cs-uri-stem cs-host sc-status sc-bytes\n\
2024-01-02 03:04:06 203.0.113.6 GET /default.aspx www.ex.gov 200 42\n";
    assert_eq!(detect_bytes(w3c.as_bytes()), Ok(Format::IisW3c));
    let eve = r#"{"timestamp":"2021-12-10T10:00:00.123456+0000","flow_id":1,"event_type":"http","src_ip":"203.0.113.7","src_port":5555,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","http":{"hostname":"www.ex.cn","url":"/","http_method":"GET","status":200,"length":10}}
"#;
    assert_eq!(detect_bytes(eve.as_bytes()), Ok(Format::SuricataEveHttp));
    let nginx = r#"{"remote_addr":"203.0.113.8","time_local":"10/Oct/2025:13:55:36 +0000","request":"GET /x HTTP/1.1","status":200,"body_bytes_sent":5,"http_host":"shop.example"}
"#;
    assert_eq!(detect_bytes(nginx.as_bytes()), Ok(Format::AccessJson));
    // Zeek JSON stays Zeek; prose stays unknown.
    let zeek_http = r#"{"_path":"http","ts":1600000000.0,"uid":"C1","id.orig_h":"8.8.8.8","id.orig_p":5000,"id.resp_h":"10.0.0.2","id.resp_p":80,"method":"GET","host":"h","uri":"/","status_code":200}
"#;
    assert_eq!(detect_bytes(zeek_http.as_bytes()), Ok(Format::ZeekHttp));
    assert!(matches!(
        detect_bytes(b"This directory holds the logs.\nSee PROVENANCE.md\n"),
        Err(Detect::Unknown(_))
    ));
    for f in [
        Format::AccessLog,
        Format::AccessJson,
        Format::IisW3c,
        Format::SuricataEveHttp,
    ] {
        assert_eq!(Format::from_name(f.as_str()), Some(f));
        assert_eq!(Format::web(f).map(Format::from_web), Some(f));
    }
}

#[derive(Default)]
struct Collect {
    events: u64,
    web: Vec<(u32, u64, String)>,
}

impl Sink for Collect {
    fn event(&mut self, _rec: RecordRef, _ev: &Event<'_>) {
        self.events += 1;
    }
    fn web(&mut self, input: u32, req: &WebRequest<'_>) {
        self.web.push((input, req.rec, req.src.to_string()));
    }
}

/// A gzip access log with a bad line in the middle: the neighbours are kept, the bad
/// line is counted and named, the hash is over the stored (compressed) bytes.
#[test]
fn gzip_access_log_keeps_neighbours_of_a_bad_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("site.log.gz");
    let mut lines = CLF.lines();
    let (l1, l2) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let text = format!("{l1}\nnot an access log line at all\n{l2}\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    std::fs::write(&path, &bytes).expect("write");
    let planned = PlannedInput {
        path: path.clone(),
        format: Format::AccessLog,
    };
    let mut sink = Collect::default();
    let mut diags = Vec::new();
    let stats = read_input(3, &planned, &mut sink, &mut |d| diags.push(d)).expect("readable");
    assert_eq!((stats.records, stats.malformed, stats.gzip), (2, 1, true));
    assert_eq!(stats.format, Format::AccessLog);
    assert_eq!(stats.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(sink.events, 0);
    assert_eq!(
        sink.web,
        vec![
            (3, 1, "203.0.113.9".to_string()),
            (3, 3, "203.0.113.9".to_string())
        ]
    );
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].path.clone(), diags[0].line), (path, 2));
}

/// Zeek http.log rows go through the same web census as access logs.
#[test]
fn zeek_http_rows_feed_the_web_census() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let http = tmp.path().join("http.log");
    std::fs::write(
        &http,
        concat!(
            r#"{"_path":"http","ts":1600000000.0,"uid":"C1","id.orig_h":"203.0.113.5","id.orig_p":5000,"id.resp_h":"10.0.0.2","id.resp_p":80,"method":"GET","host":"Portal.example","uri":"/a.php?id=1%27%20UNION%20SELECT%20password%20FROM%20users--","status_code":200}"#,
            "\n",
            r#"{"_path":"http","ts":1600000001.0,"uid":"C2","id.orig_h":"203.0.113.6","id.orig_p":5001,"id.resp_h":"10.0.0.2","id.resp_p":80,"method":"GET","host":"portal.example","uri":"/index.html","status_code":200}"#,
            "\n"
        ),
    )
    .expect("write");
    let p = Pipeline {
        home: Home::new(&[], &["10.0.0.0/8".to_string()]).expect("home"),
        geo: None,
        asn: None,
        intel: Default::default(),
        feeds: Vec::new(),
        evidence_cap: 10,
        detection: Default::default(),
    };
    let planned = vec![PlannedInput {
        path: PathBuf::from(&http),
        format: Format::ZeekHttp,
    }];
    let run = p.run(&planned, &mut Silent).expect("run");
    let web = run.web.as_ref().expect("web census");
    assert_eq!((web.requests, web.attacks), (2, 1));
    let s = web.summary(&p.home, None);
    assert_eq!((s.attacking_ips, s.sites_attacked), (1, 1));
    assert_eq!(s.by_class["sqli"], 1);
    let hits = web.hits(|_| true);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].line, hits[0].site.as_str()), (1, "portal.example"));
}
