//! Detectors.
