//! tradai-training: trains, backtests and compares registered model versions.
//!
//! The glue between market data (`tradai-market`), the learner and backtester (`tradai-ml`),
//! the drift engine's reference profiles (`tradai-drift`) and the registry and experiment store
//! (`tradai-runbook` over the ports). What callers use:
//! - [`Training::model_config`] / [`Training::set_model_config`]: the model's configuration;
//! - [`Training::train_version`]: candles → checks → model + reference profiles → a new version
//!   in `Staging` and a run in experiment `train-{model}`;
//! - [`Training::backtest_version`] / [`Training::backtest_rolling`]: a version's metrics on a
//!   window, or one run per window step in experiment `backtest-{model}`;
//! - [`Training::evaluate_pair`]: champion and challenger on the same window, compared.
//!
//! Architecture invariant: state, artifacts, runs and time go through the ports; the only other
//! I/O is reading candle files and a temporary directory for the artifact being built or fetched.
#![forbid(unsafe_code)]

pub mod backtest;
pub mod data;
pub mod error;
pub mod evaluator;
pub mod model_config;
pub mod train;

pub use backtest::{BacktestReport, Evaluation, VersionMetrics, Window};
pub use error::TrainingError;
pub use model_config::{ConfigChange, ModelConfig, ModelConfigPatch, ModelConfigRecord};
pub use train::{Progress, TrainOptions, TrainReport};

use std::sync::Arc;
use tradai_domain::{Actor, ModelName};
use tradai_ports::ExperimentTracker;
use tradai_runbook::Runbook;
use tradai_runbook::experiments::StoreTracker;

/// Experiment of a model's training runs.
pub fn train_experiment(model: &ModelName) -> String {
    format!("train-{model}")
}

/// Experiment of a model's backtest runs (what drift-monitor reads).
pub fn backtest_experiment(model: &ModelName) -> String {
    format!("backtest-{model}")
}

/// Training and backtests bound to a runbook (store, artifacts, clock, config) and a tracker.
#[derive(Clone)]
pub struct Training {
    pub runbook: Runbook,
    pub tracker: Arc<dyn ExperimentTracker>,
}

impl Training {
    /// Runs recorded on the runbook's state store (the embedded tracker).
    pub fn new(runbook: Runbook) -> Self {
        let tracker = Arc::new(StoreTracker::new(runbook.store.clone()));
        Training { runbook, tracker }
    }

    /// Runs recorded elsewhere (an MLflow adapter).
    pub fn with_tracker(runbook: Runbook, tracker: Arc<dyn ExperimentTracker>) -> Self {
        Training { runbook, tracker }
    }

    /// A model's configuration; an error naming the fix when it has none.
    pub async fn model_config(
        &self,
        model: &ModelName,
    ) -> Result<ModelConfigRecord, TrainingError> {
        self.model_config_opt(model).await?.ok_or_else(|| {
            TrainingError::Invalid(format!(
                "model '{model}' has no configuration; set one with `tradai model config {model} --pairs BTC/USDT:USDT --timeframe 1h --data-dir DIR`"
            ))
        })
    }

    /// A model's configuration, if any.
    pub async fn model_config_opt(
        &self,
        model: &ModelName,
    ) -> Result<Option<ModelConfigRecord>, TrainingError> {
        model_config::get(&*self.runbook.store, model).await
    }

    /// Every configured model (the retraining scheduler's "all configured models").
    pub async fn model_configs(&self) -> Result<Vec<ModelConfigRecord>, TrainingError> {
        model_config::list(&*self.runbook.store).await
    }

    /// Creates or changes a model's configuration (validated, audited, versioned).
    pub async fn set_model_config(
        &self,
        model: &ModelName,
        patch: &ModelConfigPatch,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<ConfigChange, TrainingError> {
        if let Some(Some(s)) = &patch.strategy {
            self.runbook.strategy_show(s).await?;
        }
        let now = self.runbook.clock.now();
        model_config::set(&*self.runbook.store, model, patch, actor, reason, now).await
    }
}
