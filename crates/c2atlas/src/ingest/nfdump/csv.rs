//! nfdump CSV (step 3).
