//! Pure decisions of the control plane: given facts and "now", what should happen.
//!
//! Each module is one rule of the contracts, written so that every boundary can be tested
//! without a store or a clock.

pub mod alarm;
pub mod compare;
pub mod heartbeat;
pub mod retraining;
pub mod throttle;
