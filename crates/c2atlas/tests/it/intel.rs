//! Integration tests: intel.
