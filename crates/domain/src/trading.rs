//! Trading state of a strategy (the `status` attribute of `tradai-trading-state-{env}`).

use crate::{Transition, wire_enum};
use serde::{Deserialize, Serialize};

/// What a strategy may do. Decision (contracts §1): `paused` means no new entries while open
/// positions are still managed; `stopped` means no trading at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TradingStatus {
    Warmup,
    Running,
    Paused,
    Stopped,
    Failed,
    Terminated,
}

wire_enum!(TradingStatus, "trading status", {
    Warmup => "warmup",
    Running => "running",
    Paused => "paused",
    Stopped => "stopped",
    Failed => "failed",
    Terminated => "terminated",
});

impl TradingStatus {
    /// Whether the heartbeat check watches this strategy (contracts: `warmup` or `running`).
    pub fn is_active(self) -> bool {
        matches!(self, TradingStatus::Warmup | TradingStatus::Running)
    }
    /// Whether the strategy may open new positions.
    pub fn allows_entries(self) -> bool {
        self == TradingStatus::Running
    }
    /// Whether the strategy still manages (exits) open positions.
    pub fn manages_positions(self) -> bool {
        matches!(
            self,
            TradingStatus::Running | TradingStatus::Paused | TradingStatus::Warmup
        )
    }
}

impl Transition for TradingStatus {
    const ALL: &'static [Self] = &[
        TradingStatus::Warmup,
        TradingStatus::Running,
        TradingStatus::Paused,
        TradingStatus::Stopped,
        TradingStatus::Failed,
        TradingStatus::Terminated,
    ];
    const MACHINE: &'static str = "trading status";

    fn allows(self, to: Self) -> bool {
        use TradingStatus::*;
        match (self, to) {
            // Terminated is final: a terminated strategy cannot resume.
            (Terminated, _) => false,
            (_, Terminated) => true,
            // A (re)start goes through warm-up.
            (Running | Paused | Stopped | Failed, Warmup) => true,
            (Warmup | Paused, Running) => true,
            // Resuming a stopped strategy is an explicit operator decision.
            (Stopped, Running) => true,
            // Only an active strategy can be paused.
            (Warmup | Running, Paused) => true,
            (Warmup | Running | Paused | Failed, Stopped) => true,
            (Warmup | Running | Paused, Failed) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TradingStatus::*;

    #[test]
    fn every_pair_is_decided_as_specified() {
        let legal = [
            (Warmup, Running),
            (Warmup, Paused),
            (Warmup, Stopped),
            (Warmup, Failed),
            (Warmup, Terminated),
            (Running, Warmup),
            (Running, Paused),
            (Running, Stopped),
            (Running, Failed),
            (Running, Terminated),
            (Paused, Warmup),
            (Paused, Running),
            (Paused, Stopped),
            (Paused, Failed),
            (Paused, Terminated),
            (Stopped, Warmup),
            (Stopped, Running),
            (Stopped, Terminated),
            (Failed, Warmup),
            (Failed, Stopped),
            (Failed, Terminated),
        ];
        for &from in TradingStatus::ALL {
            for &to in TradingStatus::ALL {
                let expected = from == to || legal.contains(&(from, to));
                assert_eq!(
                    from.check_transition(to).is_ok(),
                    expected,
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn terminated_cannot_resume_and_says_why() {
        let e = Terminated
            .check_transition(Running)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "illegal trading status transition: terminated -> running (allowed from terminated: none (terminal state))"
        );
    }

    #[test]
    fn wire_names_match_contract() {
        for s in [
            "warmup",
            "running",
            "paused",
            "stopped",
            "failed",
            "terminated",
        ] {
            let t: TradingStatus = s.parse().unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{s}\""));
        }
        assert!("PAUSED".parse::<TradingStatus>().is_err());
    }
}
