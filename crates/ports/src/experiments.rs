//! Experiment tracking: runs with params, metrics and tags, grouped in named experiments
//! (`backtest-{model}`, `train-{model}`) — what drift-monitor reads for metric drift.
//! The embedded implementation keeps runs in the state store; an MLflow adapter maps the same
//! calls onto MLflow's REST API.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: String,
    pub experiment: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    pub start_time: DateTime<Utc>,
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Which runs to read.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Experiments whose name starts with this (`backtest-`), or all.
    pub experiment_prefix: Option<String>,
    /// Runs that started at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Runs that started before this.
    pub until: Option<DateTime<Utc>>,
    /// Only runs with this `model` tag.
    pub model: Option<String>,
}

/// Records and reads experiment runs.
#[async_trait]
pub trait ExperimentTracker: Send + Sync {
    /// Stores a run (new, or an update of the same run id and start time).
    async fn log_run(&self, run: &Run) -> Result<(), StoreError>;
    /// Runs matching the filter, oldest first.
    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>, StoreError>;
}
