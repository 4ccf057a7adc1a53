//! The intel the simulated CERT holds: an abuse.ch Feodo Tracker CSV of C2
//! IPs (planted IP controllers + decoys) and a plain list of C2 domains
//! (planted domain controllers + decoys).

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::SimError;
use super::plan::{Controller, Plan};
use crate::model::Micros;
use crate::time::civil_from_days;

/// `2012-06-01 00:00:00` (the feed's `first_seen_utc` format).
fn feed_time(ts: Micros) -> String {
    let secs = ts.div_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `c2-feed.csv` and `c2-domains.txt` into `dir`; returns their paths.
pub(crate) fn write(plan: &Plan, dir: &Path, now: Micros) -> Result<Vec<PathBuf>, SimError> {
    let mut entries: Vec<&Controller> = plan
        .controllers
        .iter()
        .filter(|c| c.domain.is_none())
        .chain(plan.decoys.iter())
        .collect();
    entries.sort_by_key(|c| (c.first_seen, c.ip));
    let now_s = feed_time(now);
    let mut s = String::new();
    s.push_str("################################################################\n");
    s.push_str("# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #\n");
    s.push_str(&format!(
        "# Last updated: {now_s} UTC                        #\n"
    ));
    s.push_str("#                                                              #\n");
    s.push_str("# SIMULATED by c2atlas: not real indicators                    #\n");
    s.push_str("################################################################\n");
    s.push_str("#\n");
    s.push_str(
        "\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n",
    );
    let day = &now_s[..10];
    for c in &entries {
        s.push_str(&format!(
            "\"{}\",\"{}\",\"{}\",\"{}\",\"{day}\",\"{}\"\n",
            feed_time(c.first_seen),
            Ipv4Addr::from(c.ip),
            c.port,
            if c.online { "online" } else { "offline" },
            c.family
        ));
    }
    s.push_str(&format!("# END {} entries\n", entries.len()));
    let csv = dir.join("c2-feed.csv");
    std::fs::File::create(&csv)
        .and_then(|mut f| f.write_all(s.as_bytes()))
        .map_err(io(&csv))?;

    let mut domains: Vec<&str> = plan
        .controllers
        .iter()
        .filter_map(|c| c.domain.as_deref())
        .chain(plan.decoy_domains.iter().map(String::as_str))
        .collect();
    domains.sort_unstable();
    let mut t = String::from("# C2 domains (SIMULATED by c2atlas: not real indicators)\n");
    for d in domains {
        t.push_str(d);
        t.push('\n');
    }
    let txt = dir.join("c2-domains.txt");
    std::fs::File::create(&txt)
        .and_then(|mut f| f.write_all(t.as_bytes()))
        .map_err(io(&txt))?;
    Ok(vec![csv, txt])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(feed_time(1_338_508_800_000_000), "2012-06-01 00:00:00");
    }
}
