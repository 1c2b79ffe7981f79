//! ONNX models trained elsewhere: real ONNX files (encoded protobufs) loaded and run by tract,
//! predictions checked against the same arithmetic done by hand, bad artifacts refused.
#![cfg(feature = "onnx")]

use std::path::Path;
use tradai_ml::onnx::{Dense, dense_graph};
use tradai_ml::{FeatureSet, ServedKind, ServedModel};

const FEATURES: [&str; 3] = ["ret_1", "vol_24", "rsi_14"];

fn write_artifact(dir: &Path, graph: &[u8], features: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("model.onnx"), graph).unwrap();
    let manifest = serde_json::json!({
        "format_version": 1,
        "kind": "onnx",
        "model_file": "model.onnx",
        "feature_set": {"version": FeatureSet::v1().version, "names": features},
        "timeframe": "1h",
        "signal": {"enter_above": 0.001, "exit_below": 0.0},
        "created_by": "tests"
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

fn linear() -> Dense {
    Dense {
        weights: vec![0.5, -0.25, 0.001],
        bias: vec![0.01],
        inputs: 3,
        relu: false,
    }
}

#[test]
fn a_linear_onnx_model_predicts_what_its_weights_say() {
    let dir = tempfile::tempdir().unwrap();
    write_artifact(dir.path(), &dense_graph(&[linear()]).unwrap(), &FEATURES);
    let m = ServedModel::load(dir.path()).unwrap();
    assert_eq!(m.kind(), ServedKind::Onnx);
    assert_eq!(m.feature_set().names, FEATURES);
    let x = [0.02, 0.01, 55.0];
    let expected = 0.5f32 * 0.02 - 0.25 * 0.01 + 0.001 * 55.0 + 0.01;
    let y = m.predict(&x);
    assert!((y - f64::from(expected)).abs() < 1e-6, "{y} vs {expected}");
    assert_eq!(m.signal(y), tradai_ml::Signal::Enter);
    // Wrong width or non-finite input: NaN, never a panic.
    assert!(m.predict(&[0.1, 0.2]).is_nan());
    assert!(m.predict(&[f64::NAN, 0.0, 0.0]).is_nan());
}

#[test]
fn a_neural_onnx_model_matches_its_forward_pass() {
    // 3 → 4 (ReLU) → 1.
    let hidden = Dense {
        weights: vec![
            0.2, -0.1, 0.4, 0.3, //
            -0.5, 0.6, 0.1, -0.2, //
            0.01, 0.02, -0.03, 0.04,
        ],
        bias: vec![0.1, -0.1, 0.0, 0.05],
        inputs: 3,
        relu: true,
    };
    let out = Dense {
        weights: vec![0.7, -0.3, 0.2, 0.9],
        bias: vec![-0.02],
        inputs: 4,
        relu: false,
    };
    let dir = tempfile::tempdir().unwrap();
    write_artifact(
        dir.path(),
        &dense_graph(&[hidden.clone(), out.clone()]).unwrap(),
        &FEATURES,
    );
    let m = ServedModel::load(dir.path()).unwrap();
    let x = [0.3f32, -1.2, 2.0];
    let h: Vec<f32> = (0..4)
        .map(|j| {
            let z: f32 = (0..3)
                .map(|i| x[i] * hidden.weights[i * 4 + j])
                .sum::<f32>()
                + hidden.bias[j];
            z.max(0.0)
        })
        .collect();
    let expected: f32 = (0..4).map(|j| h[j] * out.weights[j]).sum::<f32>() + out.bias[0];
    let y = m.predict(&x.map(f64::from));
    assert!((y - f64::from(expected)).abs() < 1e-5, "{y} vs {expected}");
}

#[test]
fn an_onnx_model_serves_candles_through_the_shared_features() {
    let dir = tempfile::tempdir().unwrap();
    write_artifact(dir.path(), &dense_graph(&[linear()]).unwrap(), &FEATURES);
    let m = ServedModel::load(dir.path()).unwrap();
    let tf: tradai_market::Timeframe = "1h".parse().unwrap();
    let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let candles = tradai_market::synth::generate(
        &tradai_market::synth::SynthConfig::new(tf, start, 10, 5),
        0,
    )
    .unwrap();
    let (preds, signals) = m.predict_candles(&candles).unwrap();
    assert_eq!((preds.len(), signals.len()), (candles.len(), candles.len()));
    // After warm-up every prediction is a number.
    assert!(preds[100..].iter().all(|p| p.is_finite()));
}

#[test]
fn bad_onnx_artifacts_are_refused_at_load_with_the_reason() {
    let graph = dense_graph(&[linear()]).unwrap();
    let err = |dir: &Path| ServedModel::load(dir).unwrap_err().to_string();

    // The manifest lists two features but the graph takes three.
    let d = tempfile::tempdir().unwrap();
    write_artifact(d.path(), &graph, &FEATURES[..2]);
    let e = err(d.path());
    assert!(e.contains("model.onnx") && e.contains("[1, 2]"), "{e}");

    // A feature this build does not compute.
    let d = tempfile::tempdir().unwrap();
    write_artifact(d.path(), &graph, &["ret_1", "vol_24", "astrology"]);
    assert!(err(d.path()).contains("astrology"));

    // Not an ONNX file.
    let d = tempfile::tempdir().unwrap();
    write_artifact(d.path(), b"definitely not protobuf", &FEATURES);
    let e = err(d.path());
    assert!(
        e.contains("model.onnx") && e.contains("not a readable ONNX model"),
        "{e}"
    );

    // Two outputs where one prediction is expected.
    let d = tempfile::tempdir().unwrap();
    let two = Dense {
        weights: vec![1.0; 6],
        bias: vec![0.0, 0.0],
        inputs: 3,
        relu: false,
    };
    write_artifact(d.path(), &dense_graph(&[two]).unwrap(), &FEATURES);
    assert!(err(d.path()).contains("expected one prediction"));

    // The model file the manifest names is missing; an unknown kind; a path as file name.
    let d = tempfile::tempdir().unwrap();
    write_artifact(d.path(), &graph, &FEATURES);
    std::fs::remove_file(d.path().join("model.onnx")).unwrap();
    assert!(err(d.path()).contains("does not exist"));
    std::fs::write(d.path().join("manifest.json"), r#"{"kind": "xgboost"}"#).unwrap();
    assert!(err(d.path()).contains("unknown model kind"));
    let mut m: serde_json::Value = serde_json::json!({
        "format_version": 1, "kind": "onnx", "model_file": "../model.onnx",
        "feature_set": {"version": FeatureSet::v1().version, "names": FEATURES},
        "timeframe": "1h", "signal": {"enter_above": 0.001, "exit_below": 0.0}
    });
    std::fs::write(d.path().join("manifest.json"), m.to_string()).unwrap();
    assert!(err(d.path()).contains("plain file name"));
    m["feature_set"]["names"] = serde_json::json!([]);
    m["model_file"] = serde_json::json!("model.onnx");
    std::fs::write(d.path().join("manifest.json"), m.to_string()).unwrap();
    assert!(err(d.path()).contains("names no features"));
}
