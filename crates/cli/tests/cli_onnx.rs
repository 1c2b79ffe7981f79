//! A model trained elsewhere, as ONNX: registered through the binary, backtested and served by
//! the strategy runner — the same path as the built-in model. Needs the `onnx` feature
//! (`cargo test -p tradai --features onnx`, which `.ci/run` runs).
#![cfg(feature = "onnx")]

mod common;
use common::*;

use std::path::Path;
use tradai_ml::onnx::{Dense, dense_graph};

fn onnx_artifact(dir: &Path, features: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let n = features.len();
    let graph = dense_graph(&[
        Dense {
            weights: (0..n * 4).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect(),
            bias: vec![0.0; 4],
            inputs: n,
            relu: true,
        },
        Dense {
            weights: vec![0.5, -0.5, 0.25, 0.1],
            bias: vec![0.0],
            inputs: 4,
            relu: false,
        },
    ])
    .unwrap();
    std::fs::write(dir.join("model.onnx"), graph).unwrap();
    let manifest = serde_json::json!({
        "format_version": 1, "kind": "onnx", "model_file": "model.onnx",
        "feature_set": {"version": tradai_ml::FeatureSet::v1().version, "names": features},
        "timeframe": "1h", "signal": {"enter_above": 0.0, "exit_below": -0.0005},
        "created_by": "an MLP exported elsewhere"
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

#[test]
fn an_onnx_model_registers_backtests_and_trades_on_paper() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path();
    market_and_model(h, "Mlp", "BTC/USDT", ("60", "2024-01-01", "5"), &[]);
    let art = h.join("mlp");
    onnx_artifact(&art, &["ret_1", "ret_6", "vol_24", "rsi_14", "macd_hist"]);
    let v = ok_json(
        h,
        &[
            "model",
            "register",
            "Mlp",
            "--artifact",
            art.to_str().unwrap(),
        ],
    );
    assert_eq!(v["version"], 1);
    assert_eq!(v["metadata"]["kind"], "onnx", "{v:#}");
    assert_eq!(v["metadata"]["feature_set"]["names"][2], "vol_24");

    let bt = ok_json(
        h,
        &[
            "backtest",
            "Mlp",
            "--version",
            "1",
            "--from",
            "2024-02-01",
            "--to",
            "2024-02-20",
        ],
    );
    assert!(bt.to_string().contains("profit_total"), "{bt:#}");

    ok_json(h, &["model", "promote", "Mlp", "1"]);
    ok_json(
        h,
        &[
            "strategy", "add", "S1", "--model", "Mlp", "--pairs", "BTC/USDT",
        ],
    );
    let run = ok_json(h, &["run", "S1", "--speed", "max", "--from", "2024-02-25"]);
    assert!(run["predictions"].as_u64().unwrap() > 0, "{run:#}");
    assert_eq!(run["errors"], 0, "{run:#}");

    // A graph whose input does not match the manifest's features is refused, nothing stored.
    let bad = h.join("bad");
    onnx_artifact(&bad, &["ret_1", "ret_6", "vol_24", "rsi_14", "macd_hist"]);
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bad.join("manifest.json")).unwrap()).unwrap();
    m["feature_set"]["names"] = serde_json::json!(["ret_1", "ret_6"]);
    std::fs::write(bad.join("manifest.json"), m.to_string()).unwrap();
    fails(
        h,
        &[
            "model",
            "register",
            "Mlp",
            "--artifact",
            bad.to_str().unwrap(),
        ],
        2,
        "model.onnx",
    );
    assert_eq!(
        ok_json(h, &["model", "versions", "Mlp"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
