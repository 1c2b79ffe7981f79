//! Serving any model artifact: the built-in ridge model or an ONNX model trained elsewhere.
//!
//! `manifest.json` says which (`kind`). The runner and the backtester load a [`ServedModel`] and
//! only ever call [`ServedModel::predict`] with the feature vector the manifest's feature set
//! defines, so a model trained elsewhere is fed by the same feature code as the built-in one.
//! An ONNX manifest is smaller than the trainer's (a model from elsewhere has no tradai training
//! metrics):
//!
//! ```json
//! {"format_version": 1, "kind": "onnx", "model_file": "model.onnx", "timeframe": "1h",
//!  "feature_set": {"version": "v1", "names": ["ret_1", "vol_24"]},
//!  "signal": {"enter_above": 0.001, "exit_below": 0.0}}
//! ```
//!
//! The ONNX graph takes one `f32` input of shape `[1, n_features]` and gives one value (any
//! shape with a single element): the predicted log return. ONNX serving needs the `onnx`
//! feature of this crate (the `tradai` binary's `onnx` feature); without it an ONNX artifact is
//! refused with a message that says so.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tradai_market::{Candle, Timeframe};

use crate::backtest::Signal;
use crate::error::MlError;
use crate::features::{FeatureEngine, FeatureSet, compute_features};
use crate::model::{FORMAT_VERSION, MANIFEST_FILE, Model, SignalRule, Target, plain_file_name};

/// `manifest.json` of an ONNX model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxManifest {
    /// Artifact layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Always `onnx`.
    pub kind: String,
    /// The `.onnx` file inside the artifact directory.
    pub model_file: String,
    /// Feature names and definitions version, in the model's input order.
    pub feature_set: FeatureSet,
    /// Candle period the model was trained on.
    pub timeframe: Timeframe,
    /// How predictions become signals.
    pub signal: SignalRule,
    /// What is predicted (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Pair trained on, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// Who made it (e.g. `sklearn-onnx 1.17`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// The model kinds an artifact can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServedKind {
    /// The built-in trainer's ridge regression.
    RidgeRegression,
    /// An ONNX graph run by tract.
    Onnx,
}

/// A model ready to serve.
#[derive(Debug, Clone)]
pub enum ServedModel {
    /// The built-in ridge model (boxed: its manifest is large, the ONNX handle small).
    Ridge(Box<Model>),
    /// An ONNX model.
    #[cfg(feature = "onnx")]
    Onnx(crate::onnx::OnnxModel),
}

/// Reads just enough of `manifest.json` to know the kind.
#[derive(Deserialize)]
struct KindOnly {
    kind: Option<String>,
}

impl ServedModel {
    /// Loads and checks an artifact directory: the manifest, the feature set (names this build
    /// computes), the weights or the ONNX graph (which must take `[1, n_features]` and give one
    /// value). Nothing is served from an artifact that fails here.
    pub fn load(dir: &Path) -> Result<Self, MlError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read(&path).map_err(|e| MlError::io(&path, e))?;
        let kind: KindOnly = serde_json::from_slice(&text).map_err(|e| MlError::Json {
            path: path.clone(),
            source: e,
        })?;
        match kind.kind.as_deref() {
            Some("onnx") => {
                let manifest: OnnxManifest =
                    serde_json::from_slice(&text).map_err(|e| MlError::Json {
                        path: path.clone(),
                        source: e,
                    })?;
                if manifest.format_version != FORMAT_VERSION {
                    return Err(MlError::Artifact(format!(
                        "format_version {} is not supported (this build reads {FORMAT_VERSION})",
                        manifest.format_version
                    )));
                }
                if manifest.feature_set.is_empty() {
                    return Err(MlError::Artifact(
                        "feature_set names no features: the manifest must list the model's inputs"
                            .into(),
                    ));
                }
                manifest.feature_set.indices()?;
                plain_file_name("model_file", &manifest.model_file)?;
                Self::load_onnx(dir, manifest)
            }
            Some("ridge_regression") => Ok(ServedModel::Ridge(Box::new(Model::load(dir)?))),
            Some(other) => Err(MlError::Artifact(format!(
                "{}: unknown model kind {other:?} (expected \"ridge_regression\" or \"onnx\")",
                path.display()
            ))),
            None => Err(MlError::Artifact(format!(
                "{}: no \"kind\" (expected \"ridge_regression\" or \"onnx\")",
                path.display()
            ))),
        }
    }

    #[cfg(feature = "onnx")]
    fn load_onnx(dir: &Path, manifest: OnnxManifest) -> Result<Self, MlError> {
        Ok(ServedModel::Onnx(crate::onnx::OnnxModel::load(
            dir, manifest,
        )?))
    }

    #[cfg(not(feature = "onnx"))]
    fn load_onnx(_dir: &Path, _manifest: OnnxManifest) -> Result<Self, MlError> {
        Err(MlError::Artifact(
            "this is an ONNX model, and this tradai was built without ONNX support: rebuild with `--features onnx`".into(),
        ))
    }

    /// Which kind of model this is.
    pub fn kind(&self) -> ServedKind {
        match self {
            ServedModel::Ridge(_) => ServedKind::RidgeRegression,
            #[cfg(feature = "onnx")]
            ServedModel::Onnx(_) => ServedKind::Onnx,
        }
    }

    /// Features the model consumes, in order.
    pub fn feature_set(&self) -> &FeatureSet {
        match self {
            ServedModel::Ridge(m) => m.feature_set(),
            #[cfg(feature = "onnx")]
            ServedModel::Onnx(m) => &m.manifest().feature_set,
        }
    }

    /// Candle period the model was trained on.
    pub fn timeframe(&self) -> Timeframe {
        match self {
            ServedModel::Ridge(m) => m.manifest().timeframe,
            #[cfg(feature = "onnx")]
            ServedModel::Onnx(m) => m.manifest().timeframe,
        }
    }

    /// A fresh streaming feature engine for this model (for the live runner).
    pub fn feature_engine(&self) -> Result<FeatureEngine, MlError> {
        FeatureEngine::new(self.feature_set())
    }

    /// Predict from one feature vector in the feature set's order; NaN for non-finite or
    /// wrongly sized input (the signal rule turns NaN into `Hold`), never a panic.
    pub fn predict(&self, features: &[f64]) -> f64 {
        match self {
            ServedModel::Ridge(m) => m.predict(features),
            #[cfg(feature = "onnx")]
            ServedModel::Onnx(m) => m.predict(features),
        }
    }

    /// Signal for a prediction under the manifest's rule.
    pub fn signal(&self, prediction: f64) -> Signal {
        match self {
            ServedModel::Ridge(m) => m.signal(prediction),
            #[cfg(feature = "onnx")]
            ServedModel::Onnx(m) => m.manifest().signal.signal(prediction),
        }
    }

    /// Predictions (NaN during warm-up) and signals for every candle, batch form.
    pub fn predict_candles(&self, candles: &[Candle]) -> Result<(Vec<f64>, Vec<Signal>), MlError> {
        let m = compute_features(candles, self.feature_set())?;
        let preds: Vec<f64> = (0..m.rows).map(|i| self.predict(m.row(i))).collect();
        let sigs = preds.iter().map(|&p| self.signal(p)).collect();
        Ok((preds, sigs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "onnx"))]
    #[test]
    fn an_onnx_artifact_without_the_feature_says_how_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = serde_json::json!({
            "format_version": 1, "kind": "onnx", "model_file": "model.onnx",
            "feature_set": {"version": FeatureSet::v1().version, "names": ["ret_1"]},
            "timeframe": "1h", "signal": {"enter_above": 0.0, "exit_below": 0.0}
        });
        std::fs::write(dir.path().join(MANIFEST_FILE), manifest.to_string()).unwrap();
        let e = ServedModel::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("--features onnx"), "{e}");
    }

    #[test]
    fn a_manifest_without_a_kind_or_with_another_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), "{}").unwrap();
        let e = ServedModel::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no \"kind\""), "{e}");
        std::fs::write(dir.path().join(MANIFEST_FILE), r#"{"kind": "prophet"}"#).unwrap();
        let e = ServedModel::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("prophet"), "{e}");
        std::fs::write(dir.path().join(MANIFEST_FILE), "not json").unwrap();
        let e = ServedModel::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("manifest.json"), "{e}");
    }
}
