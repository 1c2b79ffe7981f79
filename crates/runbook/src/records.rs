//! The records of the runbook's tables, as stored (JSON documents) and printed (`--json`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use tradai_domain::{
    IncidentSeverity, IncidentStatus, ModelName, ModelStage, RetrainingStatus, Severity,
    StrategyConfig, StrategyId, TradingStatus,
};

/// `tradai-trading-state-{env}` item. Other writers may set `status` alone (the runbook's
/// `aws dynamodb update-item`), so every other field is optional on read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradingState {
    pub strategy_id: StrategyId,
    pub status: TradingStatus,
    /// ISO-8601, written by the strategy runner. Kept as text: heartbeat-check must treat an
    /// unparseable value as stale, not fail.
    #[serde(default)]
    pub last_heartbeat: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub updated_by: Option<String>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `tradai-strategy-config-{env}` item: the configuration plus its version and last change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyConfigRecord {
    #[serde(flatten)]
    pub config: StrategyConfig,
    /// 1 for the first configuration, +1 for every change.
    pub config_version: u64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A model version (`tradai-model-versions-{env}`, pk model, sk `v#{version:010}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub model_name: ModelName,
    pub version: u64,
    pub stage: ModelStage,
    /// URL of the artifact prefix: `file://…/tradai-models-{env}/{MODEL}/{VERSION}/` or `s3://…`.
    pub artifact_path: String,
    pub sha256: String,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub bytes: u64,
    /// Training/validation metrics (`profit_total`, `sharpe_ratio`, …).
    #[serde(default)]
    pub metrics: BTreeMap<String, Value>,
    /// `register` (trained elsewhere) or `train`.
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub stage_changed_at: DateTime<Utc>,
    /// Free-form extras (feature list, training window, seed, config_version_id).
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
}

/// The runbook's serving pointer (`tradai-model-registry-{env}`, key `model_name`): the version
/// and path the strategy service loads. Always names the Production version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingPointer {
    pub model_name: ModelName,
    /// Text, as the runbook's `{"S": "PREVIOUS_VERSION"}`.
    pub model_version: String,
    pub model_path: String,
    #[serde(default)]
    pub updated_by: Option<String>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `tradai-drift-state-{env}` item: the latest drift result of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftState {
    pub model_name: ModelName,
    /// `analyzed`, `insufficient_data`, `error` (from drift-monitor) or `reset`.
    pub status: String,
    pub severity: Severity,
    pub overall_psi: Option<f64>,
    #[serde(default)]
    pub max_psi: Option<f64>,
    /// PSI per monitored quantity (metric or feature).
    #[serde(default)]
    pub psi: BTreeMap<String, f64>,
    pub requires_attention: bool,
    /// The drift-monitor result as produced (contract JSON); for a reset, the result it cleared.
    #[serde(default)]
    pub result: Value,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `tradai-retraining-state-{env}` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainingState {
    pub model_name: ModelName,
    pub status: RetrainingStatus,
    #[serde(default)]
    pub last_retrained: Option<DateTime<Utc>>,
    #[serde(default)]
    pub trigger: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub error: Option<String>,
    /// The version the last successful run registered.
    #[serde(default)]
    pub version: Option<u64>,
    /// The retraining workflow execution that owns the current run (its trace id).
    #[serde(default)]
    pub execution_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// `tradai-rollback-state-{env}` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackState {
    pub model_name: ModelName,
    pub last_rollback_at: DateTime<Utc>,
    pub count: u64,
    pub reason: String,
    pub from_version: String,
    pub to_version: String,
    #[serde(default)]
    pub alarm_name: Option<String>,
    pub actor: String,
}

/// An incident (`tradai-incidents-{env}`, key id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub model_name: Option<ModelName>,
    #[serde(default)]
    pub strategy_id: Option<StrategyId>,
    pub severity: IncidentSeverity,
    pub status: IncidentStatus,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resolution: Option<String>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub incident_id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `opened`, `note`, `status`, `action`.
    pub kind: String,
    pub text: String,
    #[serde(default)]
    pub data: Value,
}

/// An incident with its timeline, oldest entry first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentStory {
    #[serde(flatten)]
    pub incident: Incident,
    pub timeline: Vec<TimelineEntry>,
}

impl RetrainingState {
    /// The state of a model that was never retrained.
    pub fn idle(model_name: ModelName, now: DateTime<Utc>) -> Self {
        RetrainingState {
            model_name,
            status: RetrainingStatus::Idle,
            last_retrained: None,
            trigger: None,
            task_id: None,
            started_at: None,
            finished_at: None,
            error: None,
            version: None,
            execution_id: None,
            updated_at: now,
        }
    }
}
