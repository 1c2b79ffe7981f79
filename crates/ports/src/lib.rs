//! tradai-ports
