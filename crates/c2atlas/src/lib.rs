//! c2atlas: turns network telemetry into a census of hijacked hosts and their
//! controllers, by country and network, with the evidence behind each figure.
//!
//! The modules are the pipeline, and data flows one way:
//! [`ingest`] → [`enrich`] (+ [`intel`]) → [`detect`] → [`census`] → [`report`].
//! [`simulate`] produces synthetic telemetry with planted ground truth.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod census;
pub mod detect;
pub mod enrich;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod intel;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod simulate;
pub mod time;
