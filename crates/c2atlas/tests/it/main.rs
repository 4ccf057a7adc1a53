//! The one integration-test binary (one link, not one per file).
//! Tests that read `../shared/data` skip with a message when it is absent.

mod behave;
mod census;
mod common;
mod enrich;
mod fuzz_corpus;
mod ingest;
mod intel;
mod netflow;
mod pcap;
mod web;
mod web_census;
