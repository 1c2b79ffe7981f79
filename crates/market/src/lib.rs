//! tradai-market
