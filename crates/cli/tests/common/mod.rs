//! Running the real `tradai` binary against a store on disk.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// `tradai --home HOME ARGS…` with a clean environment and actor `alice`.
pub fn cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradai"));
    c.arg("--home")
        .arg(home)
        .args(args)
        .env_remove("TRADAI_ENV")
        .env_remove("TRADAI_CONFIG")
        .env("TRADAI_ACTOR", "alice");
    c
}

/// Runs to completion.
pub fn tradai(home: &Path, args: &[&str]) -> Output {
    cmd(home, args).output().expect("run tradai")
}

/// Runs with `--json`, asserts success and parses the one JSON document.
pub fn ok_json(home: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = tradai(home, &a);
    assert!(
        out.status.success(),
        "tradai {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tradai {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Asserts the exit code and that stderr names `needle`.
pub fn fails(home: &Path, args: &[&str], code: i32, needle: &str) {
    let out = tradai(home, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "tradai {args:?}: {err}");
    assert!(
        err.contains(needle),
        "tradai {args:?}: expected '{needle}' in: {err}"
    );
}

/// A real model artifact — the built-in trainer on a synthetic market — in `dir`, as
/// `tradai model register` expects one (it refuses directories it could not serve).
pub fn trained_artifact(dir: &Path) -> std::path::PathBuf {
    let tf: tradai_market::Timeframe = "1h".parse().unwrap();
    let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let candles = tradai_market::synth::generate(
        &tradai_market::synth::SynthConfig::new(tf, start, 200, 7),
        0,
    )
    .unwrap();
    let out = tradai_ml::train(&candles, &tradai_ml::TrainConfig::new(tf, 7)).unwrap();
    out.model.save(dir).unwrap();
    dir.to_path_buf()
}

/// A synthetic 1h market of `pairs` (comma-separated) in `home/data` — `days` from `start`,
/// seeded — and model `model` configured on it with any `extra` `model config` flags.
pub fn market_and_model(
    home: &Path,
    model: &str,
    pairs: &str,
    (days, start, seed): (&str, &str, &str),
    extra: &[&str],
) -> std::path::PathBuf {
    let data = home.join("data");
    let d = data.to_str().unwrap();
    ok_json(
        home,
        &[
            "data",
            "synth",
            "--out",
            d,
            "--pairs",
            pairs,
            "--timeframe",
            "1h",
            "--days",
            days,
            "--start",
            start,
            "--seed",
            seed,
        ],
    );
    let mut args = vec![
        "model",
        "config",
        model,
        "--pairs",
        pairs,
        "--timeframe",
        "1h",
        "--data-dir",
        d,
    ];
    args.extend_from_slice(extra);
    ok_json(home, &args);
    data
}
