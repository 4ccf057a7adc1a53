//! Report: the census document rendered for people (terminal summary,
//! Markdown report section). Pure functions of the document: same document,
//! same bytes.

use std::fmt::Write;

#[cfg(feature = "parquet")]
pub mod parquet;

use crate::census::document::CensusDoc;

/// Rows shown in the top-N tables.
pub const TOP_ROWS: usize = 20;

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn home_label(doc: &CensusDoc) -> String {
    let mut parts: Vec<String> = doc.home.countries.clone();
    parts.extend(doc.home.networks.iter().cloned());
    if parts.is_empty() {
        "(no home defined)".to_string()
    } else {
        parts.join(", ")
    }
}

/// A short plain-text summary for a terminal.
pub fn summary_text(doc: &CensusDoc) -> String {
    let c2 = &doc.c2;
    let mut s = String::new();
    let _ = writeln!(s, "c2atlas census — home: {}", home_label(doc));
    if let (Some(a), Some(b)) = (&doc.period.first_seen, &doc.period.last_seen) {
        let _ = writeln!(s, "period: {a} .. {b}");
    }
    let records: u64 = doc.inputs.iter().map(|i| i.records).sum();
    let malformed: u64 = doc.inputs.iter().map(|i| i.malformed).sum();
    let _ = writeln!(
        s,
        "inputs: {} files, {records} records, {malformed} malformed",
        doc.inputs.len()
    );
    let _ = writeln!(
        s,
        "controllers: {} ({} overseas, {} domestic, {} unknown); victims: {} ({} controlled from overseas); relationships: {}",
        c2.controllers.total,
        c2.controllers.overseas,
        c2.controllers.domestic,
        c2.controllers.unknown,
        c2.victims.total,
        c2.victims.controlled_from_overseas,
        c2.relationships
    );
    if !c2.overseas_by_country.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<8}{:>12}{:>9}{:>12}{:>9}",
            "country", "controllers", "share", "victims", "share"
        );
        for r in c2.overseas_by_country.iter().take(TOP_ROWS) {
            let _ = writeln!(
                s,
                "{:<8}{:>12}{:>9}{:>12}{:>9}",
                r.country,
                r.controllers,
                pct(r.controllers_share),
                r.victims,
                pct(r.victims_share)
            );
        }
    }
    s
}

/// The census as a report section, shaped like a national CERT's.
pub fn markdown(doc: &CensusDoc) -> String {
    let c2 = &doc.c2;
    let mut s = String::new();
    let _ = writeln!(s, "## Trojan and botnet control\n");
    let _ = writeln!(s, "Home: {}.", home_label(doc));
    if let (Some(a), Some(b)) = (&doc.period.first_seen, &doc.period.last_seen) {
        let _ = writeln!(s, "Period: {a} to {b}.");
    }
    let _ = writeln!(
        s,
        "\n{} controller (C2) IP addresses abroad controlled {} hosts at home; {} controllers at home controlled {} hosts. \
         In all {} control relationships were observed ({} controllers, {} victims).\n",
        c2.controllers.overseas,
        c2.victims.controlled_from_overseas,
        c2.controllers.domestic,
        c2.victims.controlled_from_home,
        c2.relationships,
        c2.controllers.total,
        c2.victims.total
    );
    if !c2.overseas_by_country.is_empty() {
        let _ = writeln!(s, "### Overseas controllers by country\n");
        let _ = writeln!(
            s,
            "| Rank | Country | Controller IPs | Share of controllers | Hosts controlled | Share of victims |"
        );
        let _ = writeln!(s, "|---:|:---|---:|---:|---:|---:|");
        for (i, r) in c2.overseas_by_country.iter().take(TOP_ROWS).enumerate() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                i + 1,
                r.country,
                r.controllers,
                pct(r.controllers_share),
                r.victims,
                pct(r.victims_share)
            );
        }
        let _ = writeln!(
            s,
            "\nA host controlled from several countries counts in each, so victim shares can add up to more than 100 %.\n"
        );
    }
    if !c2.overseas_by_asn.is_empty() {
        let _ = writeln!(s, "### Overseas controllers by network (ASN)\n");
        let _ = writeln!(
            s,
            "| ASN | Organisation | Country | Controller IPs | Hosts controlled |"
        );
        let _ = writeln!(s, "|---:|:---|:---|---:|---:|");
        for r in c2.overseas_by_asn.iter().take(TOP_ROWS) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.asn,
                r.org.replace('|', "\\|"),
                r.country,
                r.controllers,
                r.victims
            );
        }
        let _ = writeln!(s);
    }
    if let Some(w) = &doc.web {
        let _ = writeln!(s, "## Attacks on websites\n");
        let _ = writeln!(
            s,
            "{} attacks from {} IP addresses on {} sites ({} requests read); {} of the attacks came from {} overseas addresses.\n",
            w.attacks,
            w.attacking_ips,
            w.sites_attacked,
            w.requests,
            w.overseas_attacks,
            w.overseas_attacking_ips
        );
        if !w.overseas_by_country.is_empty() {
            let _ = writeln!(
                s,
                "| Rank | Country | Attacks | Share of attacks | Attacking IPs | Share of IPs | Sites |"
            );
            let _ = writeln!(s, "|---:|:---|---:|---:|---:|---:|---:|");
            for (i, r) in w.overseas_by_country.iter().take(TOP_ROWS).enumerate() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    i + 1,
                    r.country,
                    r.attacks,
                    pct(r.attacks_share),
                    r.attacking_ips,
                    pct(r.attacking_ips_share),
                    r.sites
                );
            }
            let _ = writeln!(s);
        }
        let classes: Vec<String> = w
            .by_class
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !classes.is_empty() {
            let _ = writeln!(s, "By class: {}.\n", classes.join(", "));
        }
        if !w.backdoors.is_empty() {
            let _ = writeln!(s, "Suspected backdoors:\n");
            for b in &w.backdoors {
                let _ = writeln!(
                    s,
                    "- `{}{}`: {} controlling IPs ({})",
                    b.site,
                    b.path,
                    b.controller_ips,
                    b.countries.join(", ")
                );
            }
            let _ = writeln!(s);
        }
        if !w.defacements.is_empty() {
            let _ = writeln!(s, "Suspected defacements:\n");
            for d in &w.defacements {
                let _ = writeln!(
                    s,
                    "- `{}{}`: served at {} bytes, was about {}",
                    d.site, d.path, d.new_bytes, d.baseline_bytes
                );
            }
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(s, "### Sources\n");
    for i in &doc.inputs {
        let _ = writeln!(
            s,
            "- `{}` ({}): {} records, {} malformed, sha256 `{}`",
            i.path, i.format, i.records, i.malformed, i.sha256
        );
    }
    if let Some(c) = &doc.databases.country {
        let _ = writeln!(
            s,
            "- country database `{}` ({}, field `{}`, built {}), sha256 `{}`",
            c.info.path,
            c.info.database_type,
            c.field,
            crate::time::rfc3339(c.info.build_epoch as i64 * 1_000_000),
            c.info.sha256
        );
    }
    if let Some(a) = &doc.databases.asn {
        let _ = writeln!(
            s,
            "- ASN database `{}` ({}), sha256 `{}`",
            a.path, a.database_type, a.sha256
        );
    }
    for f in &doc.intel {
        let _ = writeln!(
            s,
            "- intel feed `{}` ({}): {} indicators, sha256 `{}`",
            f.path, f.format, f.indicators, f.sha256
        );
    }
    s
}
