//! Argus binetflow CSV.
