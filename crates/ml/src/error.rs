//! Errors of the ML crate.

use std::path::PathBuf;

/// Everything that can go wrong computing features, training, saving/loading a model or
/// backtesting.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// Reading or describing market data failed.
    #[error(transparent)]
    Market(#[from] tradai_market::MarketError),
    /// A model file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A model file is not valid JSON of the expected shape.
    #[error("{}: {source}", path.display())]
    Json {
        /// File concerned.
        path: PathBuf,
        /// Underlying error (carries line and column).
        source: serde_json::Error,
    },
    /// The model artifact is inconsistent (unknown format version, feature set mismatch, ...).
    #[error("invalid model artifact: {0}")]
    Artifact(String),
    /// Unknown feature name or mismatched feature vector.
    #[error("feature set: {0}")]
    FeatureSet(String),
    /// Not enough usable rows to train or validate.
    #[error("insufficient data: {0}")]
    InsufficientData(String),
    /// Invalid training or backtest configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The regularised normal equations could not be solved (non-finite inputs).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

impl MlError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
