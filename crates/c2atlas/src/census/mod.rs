//! Census.
