//! Data, training, backtests, comparisons and runs over the real binary and a store on disk;
//! training killed midway never leaves a half-registered version.

mod common;
use common::*;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A home with `days` of 1h candles for BTC/USDT and ETH/USDT and model PascalStrategy configured.
fn setup(days: &str, train_days: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    market_and_model(
        tmp.path(),
        "PascalStrategy",
        "BTC/USDT,ETH/USDT",
        (days, "2024-01-01", "11"),
        &["--train-period-days", train_days],
    );
    tmp
}

fn versions(h: &Path) -> Vec<Value> {
    let out = tradai(h, &["model", "versions", "PascalStrategy", "--json"]);
    if out.status.code() == Some(2) {
        return Vec::new(); // no version yet
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn data_config_train_backtest_runs_and_compare_work_end_to_end() {
    let home = setup("200", "90");
    let h = home.path();
    let check = ok_json(
        h,
        &[
            "data",
            "check",
            h.join("data").to_str().unwrap(),
            "--timeframe",
            "1h",
        ],
    );
    assert_eq!(check["passed"], true);

    let cfg = ok_json(h, &["model", "config", "PascalStrategy"]);
    assert_eq!(cfg["config_version"], 1);
    assert_eq!(cfg["train_period_days"], 90);
    assert_eq!(cfg["pairs"], serde_json::json!(["BTC/USDT", "ETH/USDT"]));

    let t = ok_json(h, &["train", "PascalStrategy", "--seed", "5"]);
    assert_eq!(t["version"]["version"], 1);
    assert_eq!(t["version"]["stage"], "Staging");
    assert_eq!(t["version"]["metadata"]["seed"], 5);
    assert!(t["version"]["metrics"]["profit_total"].is_number());
    assert!(
        t["version"]["artifact_path"]
            .as_str()
            .unwrap()
            .ends_with("/PascalStrategy/1/")
    );
    // Without --json: the human summary names version, stage and artifact.
    let out = tradai(h, &["train", "PascalStrategy"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("version 2 -> Staging") && text.contains("artifact"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("[6/6] registered"));

    let bt = ok_json(
        h,
        &[
            "backtest",
            "PascalStrategy",
            "--version",
            "1",
            "--rolling",
            "1d",
            "--from",
            "2024-07-01",
            "--to",
            "2024-07-11",
        ],
    );
    assert_eq!(bt["runs"].as_array().unwrap().len(), 10);
    let one = ok_json(
        h,
        &[
            "backtest",
            "PascalStrategy",
            "--version",
            "1",
            "--from",
            "2024-07-01",
            "--to",
            "2024-07-02",
        ],
    );
    assert_eq!(one["metrics"], bt["runs"][0]["metrics"]);

    let runs = ok_json(
        h,
        &["runs", "list", "--experiment", "backtest-PascalStrategy"],
    );
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 10);
    assert_eq!(runs[0]["start_time"], "2024-07-02T00:00:00Z");
    assert_eq!(runs[0]["tags"]["window_start"], "2024-07-01T00:00:00Z");
    assert_eq!(runs[9]["tags"]["window_end"], "2024-07-11T00:00:00Z");
    let recent = ok_json(
        h,
        &[
            "runs",
            "list",
            "--experiment",
            "backtest-*",
            "--model",
            "PascalStrategy",
            "--since",
            "2024-07-09",
        ],
    );
    assert_eq!(recent.as_array().unwrap().len(), 3, "{recent}"); // windows ending 07-09, 07-10, 07-11
    let trains = ok_json(h, &["runs", "list", "--experiment", "train-*"]);
    assert_eq!(trains.as_array().unwrap().len(), 2);
    assert!(
        trains
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "finished")
    );

    ok_json(h, &["model", "promote", "PascalStrategy", "1"]);
    let cmp = ok_json(
        h,
        &[
            "model",
            "compare",
            "PascalStrategy",
            "--champion",
            "Production",
            "--challenger",
            "2",
        ],
    );
    assert_eq!(cmp["champion"]["version"], 1);
    assert_eq!(cmp["challenger"]["version"], 2);
    assert_eq!(cmp["window"]["to"], "2024-07-19T00:00:00Z");
    let d = cmp["comparison"]["decision"].as_str().unwrap();
    assert!(["PROMOTE", "KEEP", "INVESTIGATE"].contains(&d));
    assert!(cmp["champion"]["metrics"]["sharpe_ratio"].is_number());
}

#[test]
fn bad_input_names_the_problem_exits_2_and_changes_nothing() {
    let home = setup("60", "30");
    let h = home.path();
    let audit_before = ok_json(h, &["audit"]).as_array().unwrap().len();
    fails(
        h,
        &["train", "PascalStrategy", "--data", "/nonexistent/x.json"],
        2,
        "/nonexistent/x.json",
    );
    fails(
        h,
        &["model", "config", "PascalStrategy", "--pairs", "BTCUSDT"],
        2,
        "BTCUSDT",
    );
    fails(
        h,
        &["model", "config", "PascalStrategy", "--timeframe", "7x"],
        2,
        "7x",
    );
    fails(h, &["model", "config", "Nope"], 2, "has no configuration");
    fails(
        h,
        &["backtest", "PascalStrategy", "--version", "3"],
        2,
        "not found",
    );
    fails(
        h,
        &[
            "backtest",
            "PascalStrategy",
            "--from",
            "2024-13-01",
            "--to",
            "2024-02-01",
        ],
        2,
        "2024-13-01",
    );
    fails(h, &["runs", "list", "--since", "yesterday"], 2, "yesterday");

    // Malformed candles: file, line and column named; nothing registered.
    let bad = h.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("BTC_USDT-1h.csv"),
        "date,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T01:00:00Z,1,2,abc,1.5,10\n",
    )
    .unwrap();
    fails(
        h,
        &["train", "PascalStrategy", "--data", bad.to_str().unwrap()],
        2,
        "BTC_USDT-1h.csv:3 column low",
    );

    // Gaps: refused with the check's first failing row, unless --allow-gaps.
    let gap = h.join("gap.json");
    let text = std::fs::read_to_string(h.join("data/BTC_USDT-1h.json")).unwrap();
    let mut rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    rows.drain(100..102);
    std::fs::write(&gap, serde_json::to_string(&rows).unwrap()).unwrap();
    fails(
        h,
        &["train", "PascalStrategy", "--data", gap.to_str().unwrap()],
        2,
        "gaps 2",
    );
    assert!(versions(h).is_empty());
    assert_eq!(
        ok_json(h, &["audit"]).as_array().unwrap().len(),
        audit_before
    );

    let t = ok_json(
        h,
        &[
            "train",
            "PascalStrategy",
            "--data",
            gap.to_str().unwrap(),
            "--allow-gaps",
        ],
    );
    assert_eq!(t["version"]["metadata"]["data_check_passed"], false);
}

fn spawn_train(h: &Path) -> Child {
    cmd(h, &["train", "PascalStrategy"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tradai train")
}

/// Every registered version's artifact is complete: fetched, it hashes to the registered
/// checksum and loads as a model with its reference profiles.
fn assert_versions_complete(h: &Path) -> usize {
    let vs = versions(h);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let arts =
        tradai_embedded::LocalArtifacts::open(&h.join("artifacts/tradai-models-dev")).unwrap();
    for v in &vs {
        let n = v["version"].as_u64().unwrap();
        let dir = tempfile::tempdir().unwrap();
        use tradai_ports::ArtifactStore;
        let info = rt
            .block_on(arts.get_dir(&format!("PascalStrategy/{n}/"), dir.path()))
            .unwrap_or_else(|e| panic!("version {n}: artifact unreadable: {e}"));
        assert_eq!(
            info.sha256,
            v["sha256"].as_str().unwrap(),
            "version {n}: checksum"
        );
        assert_eq!(
            serde_json::json!(info.files),
            v["files"],
            "version {n}: files"
        );
        for f in [
            "manifest.json",
            "weights.json",
            "reference_features.json",
            "reference_predictions.json",
        ] {
            assert!(dir.path().join(f).is_file(), "version {n}: {f} missing");
        }
    }
    vs.len()
}

#[test]
fn training_killed_at_any_point_leaves_no_half_registered_version() {
    let home = setup("730", "365");
    let h = home.path();
    let mut killed = 0;
    // Kills while the process runs: start-up, loading, training, writing, uploading.
    for delay_ms in [0u64, 15, 40, 80, 150, 250, 400, 600] {
        let mut child = spawn_train(h);
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        assert_versions_complete(h);
    }
    // Kills during the upload: the process reports step 5 just before put_dir; the upload and
    // the version write take a few ms, so kills 0-6 ms later land before, inside (some files
    // stored) and after the upload.
    for delay_us in [0u64, 500, 1000, 1500, 2000, 3000, 4000, 6000] {
        let mut child = spawn_train(h);
        let stderr = child.stderr.take().unwrap();
        for line in BufReader::new(stderr).lines() {
            if line.unwrap().starts_with("[5/6]") {
                std::thread::sleep(Duration::from_micros(delay_us));
                if child.try_wait().unwrap().is_none() {
                    child.kill().unwrap();
                    killed += 1;
                }
                break;
            }
        }
        child.wait().unwrap();
        assert_versions_complete(h);
    }
    // Coverage note (not asserted, timing-dependent): prefixes without a version are uploads
    // that a kill interrupted.
    let registered: Vec<String> = versions(h)
        .iter()
        .map(|v| v["version"].to_string())
        .collect();
    let orphans: Vec<(String, usize)> =
        std::fs::read_dir(h.join("artifacts/tradai-models-dev/PascalStrategy"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            std::fs::read_dir(e.path()).map_or(0, |f| f.count()),
                        )
                    })
                    .filter(|(n, _)| !registered.contains(n))
                    .collect()
            })
            .unwrap_or_default();
    eprintln!("killed {killed} runs; interrupted uploads left (prefix, files): {orphans:?}");
    assert!(
        killed >= 4,
        "only {killed} runs were killed before they ended"
    );
    // The store is fine: a full run registers the next version and every version is complete.
    let before = versions(h).len();
    let t = ok_json(h, &["train", "PascalStrategy"]);
    assert_eq!(assert_versions_complete(h), before + 1);
    assert_eq!(
        t["version"]["version"].as_u64().unwrap() as usize,
        versions(h).last().unwrap()["version"].as_u64().unwrap() as usize
    );
    // Interrupted runs were closed as `killed` by the next training (their process is gone);
    // finished ones name their version; none is left `running`.
    let runs = ok_json(h, &["runs", "list", "--experiment", "train-PascalStrategy"]);
    let mut closed = 0;
    for r in runs.as_array().unwrap() {
        match r["status"].as_str() {
            Some("killed") => {
                closed += 1;
                assert!(
                    r["tags"]["error"]
                        .as_str()
                        .unwrap()
                        .contains("ended without"),
                    "{r}"
                );
                assert!(r["end_time"].is_string(), "{r}");
            }
            _ => assert!(r["tags"]["version"].is_string(), "{r}"),
        }
    }
    assert!(closed >= 1, "the killed runs were closed: {runs:#}");
}

#[test]
fn data_check_against_a_model_configuration() {
    let tmp = setup("120", "60");
    let h = tmp.path();
    let data = h.join("data");
    let d = data.to_str().unwrap();
    // A file of another timeframe beside them is not this model's data.
    ok_json(
        h,
        &[
            "data",
            "synth",
            "--out",
            d,
            "--pairs",
            "BTC/USDT",
            "--timeframe",
            "5m",
            "--days",
            "2",
            "--start",
            "2024-01-01",
            "--seed",
            "1",
        ],
    );
    let v = ok_json(h, &["data", "check", d, "--model", "PascalStrategy"]);
    assert_eq!(v["passed"], true, "{v:#}");
    assert_eq!(v["files"].as_array().unwrap().len(), 2);

    // A configured pair without data fails, naming pair and model.
    ok_json(
        h,
        &[
            "model",
            "config",
            "Sol",
            "--pairs",
            "SOL/USDT",
            "--timeframe",
            "1h",
        ],
    );
    let out = tradai(h, &["data", "check", d, "--model", "Sol"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no 1h candle file for SOL/USDT (configured for model Sol)"),
        "{text}"
    );

    // A file of another pair than the model trades fails the source check.
    let eth = data.join("ETH_USDT-1h.json");
    ok_json(
        h,
        &[
            "model",
            "config",
            "Btc",
            "--pairs",
            "BTC/USDT",
            "--timeframe",
            "1h",
        ],
    );
    let out = tradai(
        h,
        &[
            "data",
            "check",
            eth.to_str().unwrap(),
            "--model",
            "Btc",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false, "{v:#}");

    fails(
        h,
        &["data", "check", d, "--model", "Nope"],
        2,
        "model 'Nope' has no configuration",
    );
    fails(
        h,
        &["data", "check", d, "--model", "Btc", "--pair", "BTC/USDT"],
        2,
        "cannot be used with",
    );
}
