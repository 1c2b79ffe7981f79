//! Model artifacts and serving.
//!
//! An artifact is a directory with `manifest.json` (what the model is, what it was trained on,
//! how it did) and a weights file. The directory is self-contained so the registry can copy it
//! into the object store as is; [`Model::load`] refuses artifacts whose format version or feature
//! definitions this build does not know, instead of serving wrong predictions.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tradai_market::{Candle, Timeframe};

use crate::backtest::{BacktestMetrics, Signal};
use crate::error::MlError;
use crate::features::{FeatureEngine, FeatureSet, compute_features};
use crate::train::RegressionMetrics;

/// Version of the artifact layout written by this build.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest file in an artifact directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Name of the weights file of a linear model.
pub const WEIGHTS_FILE: &str = "weights.json";

/// Kind of model in an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Ridge regression on standardised, clipped features (the built-in trainer).
    RidgeRegression,
}

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `log_return`: `ln(close_{t+horizon} / close_t)`.
    pub kind: TargetKind,
    /// Periods ahead.
    pub horizon: usize,
}

/// Target variable kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Log return of the close over the horizon.
    LogReturn,
}

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First candle open time included.
    pub from: DateTime<Utc>,
    /// First candle open time excluded.
    pub to: DateTime<Utc>,
}

/// How predictions become signals: enter long above `enter_above`, exit below `exit_below`
/// (hysteresis between the two avoids paying fees on every wiggle).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalRule {
    /// Enter when the prediction is strictly above this.
    pub enter_above: f64,
    /// Exit when the prediction is strictly below this.
    pub exit_below: f64,
}

impl SignalRule {
    /// The signal for one prediction (NaN → hold).
    pub fn signal(&self, prediction: f64) -> Signal {
        if prediction > self.enter_above {
            Signal::Enter
        } else if prediction < self.exit_below {
            Signal::Exit
        } else {
            Signal::Hold
        }
    }
}

/// Metrics recorded with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    /// Fit quality on the training window.
    pub train: RegressionMetrics,
    /// Fit quality on the validation window (the period after training).
    pub validation: RegressionMetrics,
    /// Backtest of the signal rule on the validation window.
    pub validation_backtest: BacktestMetrics,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Artifact layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Model kind.
    pub kind: ModelKind,
    /// Feature names and definitions version, in input order.
    pub feature_set: FeatureSet,
    /// What is predicted.
    pub target: Target,
    /// Pair trained on, if known.
    pub pair: Option<String>,
    /// Candle period.
    pub timeframe: Timeframe,
    /// Training window.
    pub train_window: Window,
    /// Validation window.
    pub validation_window: Window,
    /// Seed given to the trainer.
    pub seed: u64,
    /// Chosen hyper-parameters (e.g. `lambda`).
    pub hyperparameters: serde_json::Map<String, serde_json::Value>,
    /// Training and validation metrics.
    pub metrics: ModelMetrics,
    /// Signal rule for serving.
    pub signal: SignalRule,
    /// Weights file name inside the artifact directory.
    pub weights_file: String,
    /// Library that wrote it (`tradai-ml <version>`).
    pub created_by: String,
}

/// Weights of a ridge model: `y = intercept + coef · clip((x - mean) / scale, ±clip)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearWeights {
    /// Per-feature training mean.
    pub mean: Vec<f64>,
    /// Per-feature training std (1 where it was 0).
    pub scale: Vec<f64>,
    /// Standardised features are clipped to ±this (outlier robustness).
    pub clip: f64,
    /// Coefficients on standardised features.
    pub coef: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl LinearWeights {
    pub(crate) fn predict(&self, x: &[f64]) -> f64 {
        let mut y = self.intercept;
        for (((x, m), s), c) in x.iter().zip(&self.mean).zip(&self.scale).zip(&self.coef) {
            y += c * ((x - m) / s).clamp(-self.clip, self.clip);
        }
        y
    }

    fn validate(&self, width: usize) -> Result<(), MlError> {
        let lens = [self.mean.len(), self.scale.len(), self.coef.len()];
        if lens.iter().any(|&l| l != width) {
            return Err(MlError::Artifact(format!(
                "weights have lengths {lens:?} but the feature set has {width} features"
            )));
        }
        let finite = self
            .mean
            .iter()
            .chain(&self.scale)
            .chain(&self.coef)
            .all(|v| v.is_finite())
            && self.intercept.is_finite()
            && self.clip > 0.0
            && self.scale.iter().all(|s| *s > 0.0);
        if !finite {
            return Err(MlError::Artifact(
                "weights contain non-finite or non-positive scale values".into(),
            ));
        }
        Ok(())
    }
}

/// A loaded or freshly trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    manifest: Manifest,
    weights: LinearWeights,
}

impl Model {
    /// Assemble a model, checking weights against the manifest's feature set.
    pub fn new(manifest: Manifest, weights: LinearWeights) -> Result<Self, MlError> {
        let width = manifest.feature_set.indices()?.len();
        weights.validate(width)?;
        Ok(Self { manifest, weights })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The weights.
    pub fn weights(&self) -> &LinearWeights {
        &self.weights
    }

    /// Features the model consumes, in order.
    pub fn feature_set(&self) -> &FeatureSet {
        &self.manifest.feature_set
    }

    /// A fresh streaming feature engine for this model (for the live runner).
    pub fn feature_engine(&self) -> Result<FeatureEngine, MlError> {
        FeatureEngine::new(&self.manifest.feature_set)
    }

    /// Predict from one feature vector in the feature set's order. Non-finite input gives NaN
    /// (which the signal rule turns into `Hold`); a wrong length is also NaN, never a panic.
    pub fn predict(&self, features: &[f64]) -> f64 {
        if features.len() != self.weights.coef.len() || features.iter().any(|v| !v.is_finite()) {
            return f64::NAN;
        }
        self.weights.predict(features)
    }

    /// Signal for a prediction under the manifest's rule.
    pub fn signal(&self, prediction: f64) -> Signal {
        self.manifest.signal.signal(prediction)
    }

    /// Predictions (NaN during warm-up) and signals for every candle, batch form.
    pub fn predict_candles(&self, candles: &[Candle]) -> Result<(Vec<f64>, Vec<Signal>), MlError> {
        let m = compute_features(candles, &self.manifest.feature_set)?;
        let preds: Vec<f64> = (0..m.rows).map(|i| self.predict(m.row(i))).collect();
        let sigs = preds.iter().map(|&p| self.signal(p)).collect();
        Ok((preds, sigs))
    }

    /// Write `manifest.json` and the weights file into `dir` (created if missing). Each file is
    /// written to a temporary name and renamed, so a crash never leaves a truncated file.
    pub fn save(&self, dir: &Path) -> Result<(), MlError> {
        std::fs::create_dir_all(dir).map_err(|e| MlError::io(dir, e))?;
        write_json(&dir.join(&self.manifest.weights_file), &self.weights)?;
        write_json(&dir.join(MANIFEST_FILE), &self.manifest)
    }

    /// Read an artifact directory written by [`Model::save`].
    pub fn load(dir: &Path) -> Result<Self, MlError> {
        let manifest: Manifest = read_json(&dir.join(MANIFEST_FILE))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(MlError::Artifact(format!(
                "format_version {} is not supported (this build reads {FORMAT_VERSION})",
                manifest.format_version
            )));
        }
        plain_file_name("weights_file", &manifest.weights_file)?;
        let weights: LinearWeights = read_json(&dir.join(&manifest.weights_file))?;
        Self::new(manifest, weights)
    }
}

/// A file an artifact's manifest names must stay inside the artifact directory.
pub(crate) fn plain_file_name(field: &str, name: &str) -> Result<(), MlError> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(MlError::Artifact(format!(
            "{field} {name:?} must be a plain file name inside the artifact directory"
        )));
    }
    Ok(())
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), MlError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| MlError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, text).map_err(|e| MlError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| MlError::io(path, e))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, MlError> {
    let text = std::fs::read(path).map_err(|e| MlError::io(path, e))?;
    serde_json::from_slice(&text).map_err(|e| MlError::Json {
        path: path.to_path_buf(),
        source: e,
    })
}
