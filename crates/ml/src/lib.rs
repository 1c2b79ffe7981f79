//! tradai-ml: features, the built-in trainer, model artifacts and the backtester.
//!
//! What the CLI and runner call:
//! - training: [`train::train`] with a [`train::TrainConfig`] → [`train::TrainOutcome`]
//!   (model + reference data for drift profiles); then [`model::Model::save`] into a directory.
//! - serving: [`serving::ServedModel::load`] (the built-in ridge model, or ONNX with the `onnx`
//!   feature), [`serving::ServedModel::feature_engine`] (streaming features),
//!   [`serving::ServedModel::predict`] and [`serving::ServedModel::signal`].
//! - backtests: [`serving::ServedModel::predict_candles`] for signals, then [`backtest::backtest`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backtest;
pub mod error;
pub mod features;
pub mod model;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod serving;
pub mod train;

pub use backtest::{
    BacktestConfig, BacktestMetrics, BacktestResult, EntryFill, ExitFill, PairInput, Signal,
    StakeAmount, Trade, backtest, entry_fill, exit_fill,
};
pub use error::MlError;
pub use features::{FeatureEngine, FeatureMatrix, FeatureSet, compute_features};
pub use model::{Manifest, Model, SignalRule};
pub use serving::{OnnxManifest, ServedKind, ServedModel};
pub use train::{RegressionMetrics, TrainConfig, TrainOutcome, train};
