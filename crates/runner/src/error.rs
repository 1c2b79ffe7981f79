//! Errors of the runner and of the position commands, sorted by whose fault they are.

use thiserror::Error;
use tradai_ml::MlError;
use tradai_ports::{ArtifactError, StoreError};
use tradai_runbook::RunbookError;

/// Why the runner (or a position command) could not do what was asked.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// The strategy is terminated: it never trades again (the guard of the trading state machine).
    #[error("strategy '{0}' is terminated and cannot run")]
    Terminated(String),
    /// Nothing to serve: no version of the model was ever promoted.
    #[error("model '{0}' has no serving version (promote one with `tradai model promote`)")]
    NoServingModel(String),
    /// The serving pointer names a version the runner cannot use.
    #[error("serving pointer of '{model}' names version '{version}': {message}")]
    BadPointer {
        model: String,
        version: String,
        message: String,
    },
    /// The fetched artifact is not the one the registry recorded.
    #[error(
        "artifact of {model} v{version}: checksum {found} differs from the registry's {expected}"
    )]
    Checksum {
        model: String,
        version: String,
        expected: String,
        found: String,
    },
    /// The feed's pair is not one the strategy trades.
    #[error("strategy '{strategy}' does not trade {pair} (its pairs: {pairs})")]
    PairNotTraded {
        strategy: String,
        pair: String,
        pairs: String,
    },
    /// No open position with this id.
    #[error("no open position '{id}' of strategy '{strategy}' (see `tradai positions {strategy}`)")]
    NoSuchPosition { strategy: String, id: String },
    /// Bad input (a speed such as `3600x`, an empty reason).
    #[error("{0}")]
    Invalid(String),
    /// The runner gave up after repeated failures of one step.
    #[error("runner stopped after {count} consecutive failed candles; last error: {last}")]
    TooManyErrors { count: usize, last: String },
    #[error(transparent)]
    Runbook(#[from] RunbookError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Ml(#[from] MlError),
    #[error(transparent)]
    Market(#[from] tradai_market::MarketError),
}

impl RunnerError {
    /// Whether the caller asked for something wrong (CLI exit code 2) rather than something failing.
    pub fn is_usage(&self) -> bool {
        match self {
            RunnerError::Terminated(_)
            | RunnerError::NoServingModel(_)
            | RunnerError::PairNotTraded { .. }
            | RunnerError::NoSuchPosition { .. }
            | RunnerError::Invalid(_) => true,
            RunnerError::Runbook(e) => e.is_usage(),
            _ => false,
        }
    }
}
