//! tradai-domain
