//! Model evaluation for compare-models: both versions backtested on the same window.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metrics of champion and challenger on one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub champion: BTreeMap<String, f64>,
    pub challenger: BTreeMap<String, f64>,
}

/// Backtests two versions of a model on the same (most recent) window.
#[async_trait]
pub trait Evaluator: Send + Sync {
    /// Evaluates `champion` and `challenger` versions of `model`. An error means "cannot
    /// compare"; compare-models then keeps the champion.
    async fn evaluate(
        &self,
        model: &str,
        champion: u64,
        challenger: u64,
    ) -> Result<Evaluation, String>;
}
