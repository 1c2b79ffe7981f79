//! tradai-ml
