//! The drift-response runbook as types and pure functions.
//!
//! Architecture invariant: this crate does no I/O and never reads a clock or a random number
//! generator. Every function that needs "now" takes it as an argument, so every decision can be
//! replayed in a test.
#![forbid(unsafe_code)]

pub mod decide;
pub mod error;
pub mod incident;
pub mod names;
pub mod policy;
pub mod registry;
pub mod retraining;
pub mod schedule;
pub mod severity;
pub mod strategy;
pub mod time;
pub mod trading;

pub use error::DomainError;
pub use incident::{IncidentSeverity, IncidentStatus};
pub use names::{Actor, Env, ModelName, StrategyId};
pub use registry::{ModelStage, RollbackReason};
pub use retraining::RetrainingStatus;
pub use severity::{Severity, Thresholds};
pub use strategy::StrategyConfig;
pub use trading::TradingStatus;

/// A state machine whose moves are guarded: `check_transition` says whether `self -> to` is legal.
///
/// Staying in the same state is not a transition; callers treat it as an idempotent no-op.
pub trait Transition: Sized + Copy + PartialEq + std::fmt::Display + 'static {
    /// Every state, for exhaustive tests and help texts.
    const ALL: &'static [Self];
    /// The machine's name, used in error messages ("trading status", "model stage", …).
    const MACHINE: &'static str;

    /// Whether the machine may move from `self` to `to` (`self != to`).
    fn allows(self, to: Self) -> bool;

    /// `Ok(())` when the move is legal or a no-op, otherwise an error naming both states.
    fn check_transition(self, to: Self) -> Result<(), DomainError> {
        if self == to || self.allows(to) {
            Ok(())
        } else {
            let allowed: Vec<String> = Self::ALL
                .iter()
                .filter(|s| **s != self && self.allows(**s))
                .map(|s| s.to_string())
                .collect();
            Err(DomainError::IllegalTransition {
                machine: Self::MACHINE,
                from: self.to_string(),
                to: to.to_string(),
                allowed: if allowed.is_empty() {
                    "none (terminal state)".into()
                } else {
                    allowed.join(", ")
                },
            })
        }
    }
}

/// Implements `Display`/`FromStr` for a fieldless enum from a list of (variant, text) pairs, so
/// the wire spelling lives in one place next to serde's.
macro_rules! wire_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The wire spelling, as in the contracts.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = $crate::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    other => Err($crate::DomainError::UnknownValue {
                        what: $what,
                        value: other.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}
pub(crate) use wire_enum;
