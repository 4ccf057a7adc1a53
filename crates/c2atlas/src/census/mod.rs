//! Census: control relationships → the figures of a national report.
//!
//! [`summary`] holds the figures and the pure function computing them;
//! [`state`] accumulates relationships from events (mergeable, shardable by
//! victim); [`document`] is the census JSON document (a contract).

pub mod document;
pub mod resume;
pub mod shard;
pub mod state;
pub mod summary;
pub mod web;

pub use summary::{C2Summary, RelView, summarize};
