//! What handlers work with: the runbook over the ports, and the outside channels.

use std::sync::Arc;
use tradai_ports::{Channel, Evaluator, ExperimentTracker, TaskExecutor};
use tradai_runbook::Runbook;

/// The handlers' dependencies.
#[derive(Clone)]
pub struct Ctx {
    /// State, artifacts, clock and configuration.
    pub rb: Runbook,
    /// Where notifications go (log by default; webhook and Slack when configured).
    pub channels: Vec<Arc<dyn Channel>>,
    pub tracker: Arc<dyn ExperimentTracker>,
    pub executor: Arc<dyn TaskExecutor>,
    /// Backtests champion and challenger for compare-models.
    pub evaluator: Arc<dyn Evaluator>,
    /// The command line prefix that runs `tradai` against the same home and environment
    /// (e.g. `[/usr/bin/tradai, --home, H, --env, dev]`): training tasks append `train MODEL`.
    pub tradai_command: Vec<String>,
    /// Whether [`crate::notify::send`] tries the channels before it returns (an operator's
    /// `tradai invoke notify` wants to know what was delivered) or only writes the persisted
    /// outbox for the pump (the daemon: a hanging webhook must not hold the control loop).
    pub deliver_inline: bool,
}

impl Ctx {
    /// The environment (`dev`, `prod`, …).
    pub fn env(&self) -> &str {
        self.rb.env()
    }

    /// Alarm name `tradai-{env}-{suffix}` (contracts §1).
    pub fn alarm_name(&self, suffix: &str) -> String {
        format!("tradai-{}-{suffix}", self.env())
    }
}
