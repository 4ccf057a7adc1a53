//! Entry points for the cargo-fuzz targets in `fuzz/` (each target is a
//! one-liner calling [`run`]) and for the corpus replay test. Every entry
//! point must accept any bytes without panicking.

/// Runs fuzz target `target` on `data`. Returns `false` for an unknown target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        // Each parser module adds its arm here, e.g.:
        // "binetflow" => crate::ingest::binetflow::fuzz(data),
        "binetflow" => crate::ingest::binetflow::fuzz(data),
        "zeek" => crate::ingest::zeek::fuzz(data),
        "asn_csv" => crate::enrich::asn::fuzz(data),
        "intel_feed" => crate::intel::fuzz(data),
        "weblog" => crate::ingest::weblog::fuzz(data),
        "web_decode" => crate::detect::web::fuzz(data),
        "pcap" => crate::ingest::pcap::fuzz(data),
        "netflow" => crate::ingest::netflow::fuzz(data),
        "sflow" => crate::ingest::netflow::sflow::fuzz(data),
        "ipfix_file" => crate::ingest::fuzz_format(crate::ingest::Format::Ipfix, data),
        _ => return false,
    }
    #[allow(unreachable_code)]
    true
}
