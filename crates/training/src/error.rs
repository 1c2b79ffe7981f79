//! Errors of training and backtests, sorted by whose fault they are (exit 2 vs exit 1).

use thiserror::Error;
use tradai_domain::DomainError;
use tradai_market::MarketError;
use tradai_ml::MlError;
use tradai_ports::{ArtifactError, StoreError};
use tradai_runbook::RunbookError;

/// Why a training run, backtest or configuration change did not happen. Nothing is registered
/// and no configuration is changed when one of these is returned.
#[derive(Debug, Error)]
pub enum TrainingError {
    /// Bad input: a missing option, an unknown pair, a window without data.
    #[error("{0}")]
    Invalid(String),
    /// Market data failed the data-quality checks (training without `allow_gaps`).
    #[error(
        "data check failed for {file}: {failures} (run `tradai data check {file}`; train anyway with --allow-gaps)"
    )]
    DataCheck { file: String, failures: String },
    /// A candle file could not be read; the message names file, line/row and column.
    #[error(transparent)]
    Market(#[from] MarketError),
    /// Training or backtesting failed (insufficient data, bad artifact, numerical failure).
    #[error(transparent)]
    Ml(#[from] MlError),
    /// Building the reference profiles failed.
    #[error("reference profile: {0}")]
    Drift(#[from] tradai_drift::DriftError),
    /// A registry or configuration operation failed.
    #[error(transparent)]
    Runbook(#[from] RunbookError),
    /// The experiment store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Fetching an artifact failed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// Local scratch space (temporary artifact directory) failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl From<DomainError> for TrainingError {
    fn from(e: DomainError) -> Self {
        TrainingError::Runbook(RunbookError::Invalid(e))
    }
}

impl TrainingError {
    /// Whether the caller asked for something wrong (exit code 2) rather than something failing.
    pub fn is_usage(&self) -> bool {
        match self {
            TrainingError::Invalid(_)
            | TrainingError::DataCheck { .. }
            | TrainingError::Market(_)
            | TrainingError::Artifact(ArtifactError::NotFound(_)) => true,
            TrainingError::Ml(e) => matches!(
                e,
                MlError::Market(_)
                    | MlError::InsufficientData(_)
                    | MlError::Config(_)
                    | MlError::FeatureSet(_)
            ),
            TrainingError::Runbook(e) => e.is_usage(),
            _ => false,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        TrainingError::Io {
            what: what.into(),
            source,
        }
    }
}
