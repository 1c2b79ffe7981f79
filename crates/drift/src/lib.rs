//! tradai-drift
