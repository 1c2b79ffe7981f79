//! tradai-embedded
