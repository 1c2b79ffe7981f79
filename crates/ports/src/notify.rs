//! Notifications: what the notify contract sends, and the channels that deliver it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use tradai_domain::IncidentSeverity;

/// The notify contract's types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    RetrainingSuccess,
    RetrainingFailed,
    BacktestComplete,
    DeploymentSuccess,
    DeploymentFailed,
    DataCollection,
    ModelPromoted,
    DriftDetected,
    Generic,
}

impl NotificationType {
    /// Every type, for validation messages.
    pub const ALL: [NotificationType; 9] = [
        NotificationType::RetrainingSuccess,
        NotificationType::RetrainingFailed,
        NotificationType::BacktestComplete,
        NotificationType::DeploymentSuccess,
        NotificationType::DeploymentFailed,
        NotificationType::DataCollection,
        NotificationType::ModelPromoted,
        NotificationType::DriftDetected,
        NotificationType::Generic,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::RetrainingSuccess => "RETRAINING_SUCCESS",
            NotificationType::RetrainingFailed => "RETRAINING_FAILED",
            NotificationType::BacktestComplete => "BACKTEST_COMPLETE",
            NotificationType::DeploymentSuccess => "DEPLOYMENT_SUCCESS",
            NotificationType::DeploymentFailed => "DEPLOYMENT_FAILED",
            NotificationType::DataCollection => "DATA_COLLECTION",
            NotificationType::ModelPromoted => "MODEL_PROMOTED",
            NotificationType::DriftDetected => "DRIFT_DETECTED",
            NotificationType::Generic => "GENERIC",
        }
    }
}

/// One notification (the notify contract's input, plus when it was made).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub notification_type: NotificationType,
    pub title: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    pub severity: IncidentSeverity,
    pub created_at: DateTime<Utc>,
}

/// A delivery failure; the outbox retries it.
#[derive(Debug, Error)]
#[error("channel {channel}: {message}")]
pub struct DeliveryError {
    pub channel: String,
    pub message: String,
}

/// A way to reach people: a log line, a JSON webhook, a Slack webhook, SNS.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Stable name, used as the outbox partition (`log`, `webhook`, `slack`).
    fn name(&self) -> &str;
    /// Delivers one notification; an error means "try again later".
    async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError>;
}
