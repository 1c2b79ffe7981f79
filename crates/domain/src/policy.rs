//! The response policy: the runbook as configuration.
//!
//! For each kind of event the policy lists the runbook's actions and, per action, whether it
//! runs automatically (`auto`), waits for a person (`approve`: `tradai approve ID`), or is off.
//! The defaults follow the runbook: moderate drift notifies and schedules retraining; significant
//! drift opens an incident, pauses every strategy trading the model, retrains immediately and
//! alerts; a promoted retraining resets drift, resumes what the policy paused and mitigates the
//! incident; KEEP/INVESTIGATE keeps trading paused and waits for a person; a failed training
//! notifies ERROR and keeps the current model.

use crate::{DomainError, IncidentSeverity, Severity, wire_enum};
use serde::{Deserialize, Serialize};

/// How an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Auto,
    Approve,
    Off,
}

wire_enum!(Mode, "policy mode", {
    Auto => "auto",
    Approve => "approve",
    Off => "off",
});

/// The `[policy]` section of `tradai.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub moderate_notify: Mode,
    pub moderate_schedule_retraining: Mode,
    pub moderate_reduce_stake: Mode,
    /// Stake multiplier for `moderate_reduce_stake` (0 < f < 1).
    pub reduce_stake_factor: f64,
    pub significant_open_incident: Mode,
    pub significant_pause: Mode,
    pub significant_retrain: Mode,
    pub significant_alert: Mode,
    pub promoted_reset_drift: Mode,
    pub promoted_resume: Mode,
    pub promoted_mitigate_incident: Mode,
    /// The runbook's "monitor closely for 24–48 hours" after a promotion.
    pub watch_hours: u32,
    /// How often drift is checked for a watched model.
    pub watch_interval_minutes: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            moderate_notify: Mode::Auto,
            moderate_schedule_retraining: Mode::Auto,
            moderate_reduce_stake: Mode::Off,
            reduce_stake_factor: 0.5,
            significant_open_incident: Mode::Auto,
            significant_pause: Mode::Auto,
            significant_retrain: Mode::Auto,
            significant_alert: Mode::Auto,
            promoted_reset_drift: Mode::Auto,
            promoted_resume: Mode::Auto,
            promoted_mitigate_incident: Mode::Auto,
            watch_hours: 48,
            watch_interval_minutes: 15,
        }
    }
}

impl PolicyConfig {
    /// Range checks.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(self.reduce_stake_factor > 0.0 && self.reduce_stake_factor < 1.0) {
            return Err(DomainError::invalid(
                "policy.reduce_stake_factor",
                self.reduce_stake_factor,
                "must be between 0 and 1 (exclusive)",
            ));
        }
        if self.watch_interval_minutes == 0 {
            return Err(DomainError::invalid(
                "policy.watch_interval_minutes",
                0,
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// A drift result (severity already gated on significance).
    Drift { severity: Severity },
    /// A retraining run ended.
    RetrainingFinished { outcome: RetrainingOutcome },
}

/// How a retraining run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrainingOutcome {
    Promoted,
    Kept,
    Investigate,
    Failed,
}

/// A runbook action.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    Notify { severity: IncidentSeverity },
    ScheduleRetraining { force: bool },
    ReduceStake { factor: f64 },
    OpenIncident { severity: IncidentSeverity },
    PauseStrategies,
    ResetDrift,
    ResumePolicyPaused,
    MitigateIncident,
    WatchClosely { hours: u32, interval_minutes: u32 },
}

impl Action {
    /// A short name for logs, approvals and the incident timeline.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Notify { .. } => "notify",
            Action::ScheduleRetraining { force: false } => "schedule_retraining",
            Action::ScheduleRetraining { force: true } => "retrain_now",
            Action::ReduceStake { .. } => "reduce_stake",
            Action::OpenIncident { .. } => "open_incident",
            Action::PauseStrategies => "pause_strategies",
            Action::ResetDrift => "reset_drift",
            Action::ResumePolicyPaused => "resume_strategies",
            Action::MitigateIncident => "mitigate_incident",
            Action::WatchClosely { .. } => "watch_closely",
        }
    }
}

/// One planned step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub mode: Mode,
}

/// The steps the policy takes for an event, in runbook order (incident first, so every later
/// step can be recorded on it). Steps whose mode is `off` are left out.
pub fn plan(event: Event, p: &PolicyConfig) -> Vec<Step> {
    let steps: Vec<(Action, Mode)> = match event {
        Event::Drift {
            severity: Severity::None,
        } => vec![],
        Event::Drift {
            severity: Severity::Moderate,
        } => vec![
            (
                Action::Notify {
                    severity: IncidentSeverity::Warning,
                },
                p.moderate_notify,
            ),
            (
                Action::ReduceStake {
                    factor: p.reduce_stake_factor,
                },
                p.moderate_reduce_stake,
            ),
            (
                Action::ScheduleRetraining { force: false },
                p.moderate_schedule_retraining,
            ),
        ],
        Event::Drift {
            severity: Severity::Significant,
        } => vec![
            (
                Action::OpenIncident {
                    severity: IncidentSeverity::Critical,
                },
                p.significant_open_incident,
            ),
            (Action::PauseStrategies, p.significant_pause),
            (
                Action::ScheduleRetraining { force: true },
                p.significant_retrain,
            ),
            (
                Action::Notify {
                    severity: IncidentSeverity::Critical,
                },
                p.significant_alert,
            ),
        ],
        Event::RetrainingFinished {
            outcome: RetrainingOutcome::Promoted,
        } => vec![
            (Action::ResetDrift, p.promoted_reset_drift),
            (Action::ResumePolicyPaused, p.promoted_resume),
            (Action::MitigateIncident, p.promoted_mitigate_incident),
            (
                Action::WatchClosely {
                    hours: p.watch_hours,
                    interval_minutes: p.watch_interval_minutes,
                },
                Mode::Auto,
            ),
            (
                Action::Notify {
                    severity: IncidentSeverity::Info,
                },
                Mode::Auto,
            ),
        ],
        // Trading stays paused; a person decides.
        Event::RetrainingFinished {
            outcome: RetrainingOutcome::Kept | RetrainingOutcome::Investigate,
        } => {
            vec![(
                Action::Notify {
                    severity: IncidentSeverity::Warning,
                },
                Mode::Auto,
            )]
        }
        Event::RetrainingFinished {
            outcome: RetrainingOutcome::Failed,
        } => {
            vec![(
                Action::Notify {
                    severity: IncidentSeverity::Error,
                },
                Mode::Auto,
            )]
        }
    };
    steps
        .into_iter()
        .filter(|(_, m)| *m != Mode::Off)
        .map(|(action, mode)| Step { action, mode })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(steps: &[Step]) -> Vec<&'static str> {
        steps.iter().map(|s| s.action.name()).collect()
    }

    #[test]
    fn defaults_follow_the_runbook() {
        let p = PolicyConfig::default();
        assert!(
            plan(
                Event::Drift {
                    severity: Severity::None
                },
                &p
            )
            .is_empty()
        );
        assert_eq!(
            names(&plan(
                Event::Drift {
                    severity: Severity::Moderate
                },
                &p
            )),
            vec!["notify", "schedule_retraining"]
        );
        let sig = plan(
            Event::Drift {
                severity: Severity::Significant,
            },
            &p,
        );
        assert_eq!(
            names(&sig),
            vec!["open_incident", "pause_strategies", "retrain_now", "notify"]
        );
        assert!(sig.iter().all(|s| s.mode == Mode::Auto));
        assert_eq!(
            sig[3].action,
            Action::Notify {
                severity: IncidentSeverity::Critical
            }
        );
        let promoted = plan(
            Event::RetrainingFinished {
                outcome: RetrainingOutcome::Promoted,
            },
            &p,
        );
        assert_eq!(
            names(&promoted),
            vec![
                "reset_drift",
                "resume_strategies",
                "mitigate_incident",
                "watch_closely",
                "notify"
            ]
        );
        let failed = plan(
            Event::RetrainingFinished {
                outcome: RetrainingOutcome::Failed,
            },
            &p,
        );
        assert_eq!(
            failed[0].action,
            Action::Notify {
                severity: IncidentSeverity::Error
            }
        );
        assert_eq!(
            names(&plan(
                Event::RetrainingFinished {
                    outcome: RetrainingOutcome::Kept
                },
                &p
            )),
            vec!["notify"]
        );
    }

    #[test]
    fn configuration_changes_modes() {
        let p = PolicyConfig {
            moderate_reduce_stake: Mode::Approve,
            significant_pause: Mode::Approve,
            significant_retrain: Mode::Off,
            ..Default::default()
        };
        let m = plan(
            Event::Drift {
                severity: Severity::Moderate,
            },
            &p,
        );
        assert_eq!(
            m[1],
            Step {
                action: Action::ReduceStake { factor: 0.5 },
                mode: Mode::Approve
            }
        );
        let s = plan(
            Event::Drift {
                severity: Severity::Significant,
            },
            &p,
        );
        assert_eq!(
            names(&s),
            vec!["open_incident", "pause_strategies", "notify"]
        );
        assert_eq!(s[1].mode, Mode::Approve);
        assert!(
            PolicyConfig {
                reduce_stake_factor: 1.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
