//! Integration tests: enrich.
