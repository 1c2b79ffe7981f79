//! Retraining state machine (the `status` of `tradai-retraining-state-{env}`).
//!
//! ```text
//! idle ─┐            ┌─> completed ─┐
//! completed ─┼─> queued ─> running ─┼─> failed ────┼─> queued (next run)
//! failed ────┤      │               └─> cancelled ─┘
//! cancelled ─┘      └─> cancelled / failed (never started)
//! ```
//! Only one run per model can be `queued` or `running`: the scheduler's "never two at once"
//! rests on the conditional write of this item.

use crate::{Transition, wire_enum};
use serde::{Deserialize, Serialize};

/// Where a model's retraining is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrainingStatus {
    Idle,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

wire_enum!(RetrainingStatus, "retraining status", {
    Idle => "idle",
    Queued => "queued",
    Running => "running",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
});

impl RetrainingStatus {
    /// Whether a training task may be under way (a new one must not start).
    pub fn in_progress(self) -> bool {
        matches!(self, RetrainingStatus::Queued | RetrainingStatus::Running)
    }
}

impl Transition for RetrainingStatus {
    const ALL: &'static [Self] = &[
        RetrainingStatus::Idle,
        RetrainingStatus::Queued,
        RetrainingStatus::Running,
        RetrainingStatus::Completed,
        RetrainingStatus::Failed,
        RetrainingStatus::Cancelled,
    ];
    const MACHINE: &'static str = "retraining status";

    fn allows(self, to: Self) -> bool {
        use RetrainingStatus::*;
        matches!(
            (self, to),
            (Idle | Completed | Failed | Cancelled, Queued)
                | (Queued, Running | Failed | Cancelled)
                | (Running, Completed | Failed | Cancelled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RetrainingStatus::*;

    #[test]
    fn every_pair_is_decided_as_specified() {
        let legal = [
            (Idle, Queued),
            (Completed, Queued),
            (Failed, Queued),
            (Cancelled, Queued),
            (Queued, Running),
            (Queued, Failed),
            (Queued, Cancelled),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
        ];
        for &from in RetrainingStatus::ALL {
            for &to in RetrainingStatus::ALL {
                let expected = from == to || legal.contains(&(from, to));
                assert_eq!(
                    from.check_transition(to).is_ok(),
                    expected,
                    "{from} -> {to}"
                );
            }
        }
    }
}
