//! Zeek logs (TSV and JSON).
