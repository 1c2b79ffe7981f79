//! Training, backtests and comparisons on the real SQLite store and local artifacts.

use chrono::{Duration, TimeZone, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tradai_domain::registry::artifact_prefix;
use tradai_domain::{Actor, ModelName, ModelStage};
use tradai_drift::Profile;
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_market::synth::{SynthConfig, write_dataset};
use tradai_market::{DataFormat, Pair, Timeframe};
use tradai_ports::{AuditQuery, ManualClock, RunFilter};
use tradai_runbook::{Config, Runbook};
use tradai_training::{ModelConfigPatch, TrainOptions, Training, TrainingError, Window};

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    data: PathBuf,
    t: Training,
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// 120 days of 1h BTC/USDT and ETH/USDT, a configured model, a store on disk.
fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let data = tmp.path().join("data");
    let cfg = SynthConfig::new(Timeframe::from_secs(3600).unwrap(), start(), 120, 7);
    let pairs: Vec<Pair> = vec!["BTC/USDT".parse().unwrap(), "ETH/USDT".parse().unwrap()];
    write_dataset(&data, &pairs, &cfg, DataFormat::Json).unwrap();
    let store = SqliteStore::open(&home.join("tradai.db"), "dev").unwrap();
    let artifacts = LocalArtifacts::open(&home.join("artifacts")).unwrap();
    let clock = ManualClock::new(start() + Duration::days(121));
    let rb = Runbook::new(
        Arc::new(store),
        Arc::new(artifacts),
        Arc::new(clock),
        Arc::new(Config::default()),
    );
    Env {
        _tmp: tmp,
        home,
        data,
        t: Training::new(rb),
    }
}

fn model() -> ModelName {
    ModelName::new("PascalStrategy").unwrap()
}

fn alice() -> Actor {
    Actor::new("alice")
}

async fn configure(e: &Env) {
    let patch = ModelConfigPatch {
        pairs: Some(vec!["BTC/USDT".into(), "ETH/USDT".into()]),
        data_dir: Some(Some(e.data.display().to_string())),
        ..Default::default()
    };
    e.t.set_model_config(&model(), &patch, &alice(), Some("setup"))
        .await
        .unwrap();
}

fn quiet(_: &tradai_training::Progress) {}

#[tokio::test]
async fn model_configuration_is_versioned_audited_and_validated() {
    let e = env();
    assert!(e.t.model_config_opt(&model()).await.unwrap().is_none());
    let err = e.t.model_config(&model()).await.unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("tradai model config"));
    configure(&e).await;
    let c = e.t.model_config(&model()).await.unwrap();
    assert_eq!(c.config_version, 1);
    assert_eq!(c.config.freqai_model, "ridge");
    assert_eq!(c.config.train_period_days, 30);
    assert_eq!(c.config.timeframe, "1h");

    // The same values again: nothing written.
    let same = ModelConfigPatch {
        timeframe: Some("1h".into()),
        ..Default::default()
    };
    let ch =
        e.t.set_model_config(&model(), &same, &alice(), None)
            .await
            .unwrap();
    assert!(!ch.changed);
    let ch =
        e.t.set_model_config(
            &model(),
            &ModelConfigPatch {
                train_period_days: Some(60),
                ..Default::default()
            },
            &alice(),
            Some("longer window"),
        )
        .await
        .unwrap();
    assert!(ch.changed);
    assert_eq!(ch.after.config_version, 2);
    assert_eq!(ch.before.unwrap().config.train_period_days, 30);

    // Bad values are refused, naming the value, and change nothing.
    for bad in [
        ModelConfigPatch {
            pairs: Some(vec!["BTCUSDT".into()]),
            ..Default::default()
        },
        ModelConfigPatch {
            timeframe: Some("1month".into()),
            ..Default::default()
        },
        ModelConfigPatch {
            freqai_model: Some("xgboost".into()),
            ..Default::default()
        },
        ModelConfigPatch {
            validation_days: Some(0),
            ..Default::default()
        },
    ] {
        let err =
            e.t.set_model_config(&model(), &bad, &alice(), None)
                .await
                .unwrap_err();
        assert!(err.is_usage(), "{err}");
    }
    assert_eq!(e.t.model_config(&model()).await.unwrap().config_version, 2);
    let audit =
        e.t.runbook
            .store
            .audit(AuditQuery::default())
            .await
            .unwrap();
    let cfg_changes: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "model.config")
        .collect();
    assert_eq!(cfg_changes.len(), 2);
    assert_eq!(cfg_changes[1].reason.as_deref(), Some("longer window"));
    assert!(cfg_changes[1].before.is_some());
    assert_eq!(e.t.model_configs().await.unwrap().len(), 1);
}

#[tokio::test]
async fn training_registers_a_staging_version_with_reference_profiles_and_a_run() {
    let e = env();
    configure(&e).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let progress = move |p: &tradai_training::Progress| s2.lock().unwrap().push(p.step);
    let r =
        e.t.train_version(&model(), &TrainOptions::default(), &alice(), &progress)
            .await
            .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3, 4, 5, 6]);
    let v = &r.version;
    assert_eq!(
        (v.version, v.stage, v.source.as_str()),
        (1, ModelStage::Staging, "train")
    );
    for k in [
        "profit_total",
        "sharpe_ratio",
        "max_drawdown",
        "win_rate",
        "train_ic",
        "validation_r2",
    ] {
        assert!(
            v.metrics.get(k).is_some_and(|x| x.is_number()),
            "metric {k} missing: {:?}",
            v.metrics
        );
    }
    assert_eq!(v.metadata["config_version"], 1);
    assert_eq!(v.metadata["pair"], "BTC/USDT");
    assert_eq!(v.metadata["feature_set"]["version"], "tradai-features-v1");
    for f in [
        "manifest.json",
        "weights.json",
        "reference_features.json",
        "reference_predictions.json",
        "training.json",
    ] {
        assert!(v.files.iter().any(|x| x == f), "{f} not in {:?}", v.files);
    }

    // The stored artifact carries loadable profiles: features of the model and its predictions.
    let out = tempfile::tempdir().unwrap();
    let info =
        e.t.runbook
            .artifacts
            .get_dir(&artifact_prefix("PascalStrategy", 1), out.path())
            .await
            .unwrap();
    assert_eq!(info.sha256, v.sha256);
    let feats = Profile::read(&out.path().join("reference_features.json")).unwrap();
    let names: Vec<String> = v.metadata["feature_set"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        feats
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>(),
        names
    );
    let preds = Profile::read(&out.path().join("reference_predictions.json")).unwrap();
    assert_eq!(preds.features.len(), 1);
    assert_eq!(preds.features[0].name, "prediction");

    let runs =
        e.t.tracker
            .runs(&RunFilter {
                experiment_prefix: Some("train-PascalStrategy".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "finished");
    assert_eq!(runs[0].tags["version"], "1");
    assert_eq!(runs[0].run_id, r.run_id);
    assert!(runs[0].metrics.contains_key("profit_total"));
}

fn drop_rows(file: &Path, from: usize, n: usize) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    rows.drain(from..from + n);
    std::fs::write(file, serde_json::to_string(&rows).unwrap()).unwrap();
}

#[tokio::test]
async fn failing_data_is_refused_unless_gaps_are_allowed() {
    let e = env();
    configure(&e).await;
    let file = e.data.join("BTC_USDT-1h.json");
    drop_rows(&file, 500, 3);
    let err =
        e.t.train_version(&model(), &TrainOptions::default(), &alice(), &quiet)
            .await
            .unwrap_err();
    assert!(matches!(err, TrainingError::DataCheck { .. }), "{err}");
    assert!(err.is_usage());
    let msg = err.to_string();
    assert!(
        msg.contains("BTC_USDT-1h.json") && msg.contains("gaps 3") && msg.contains("row 501"),
        "{msg}"
    );
    assert!(
        e.t.runbook
            .model_versions(&model())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!e.home.join("artifacts/PascalStrategy").exists());

    let opts = TrainOptions {
        allow_gaps: true,
        ..Default::default()
    };
    let r =
        e.t.train_version(&model(), &opts, &alice(), &quiet)
            .await
            .unwrap();
    assert_eq!(r.version.metadata["data_check_passed"], false);

    // Malformed candles: the error names file, line and column; nothing registered.
    std::fs::write(&file, "[[1704067200000, 1, 2, 0.5, \"x\", 10]]").unwrap();
    let err =
        e.t.train_version(&model(), &opts, &alice(), &quiet)
            .await
            .unwrap_err();
    assert!(err.is_usage(), "{err}");
    assert!(err.to_string().contains("BTC_USDT-1h.json"), "{err}");
    assert_eq!(e.t.runbook.model_versions(&model()).await.unwrap().len(), 1);

    // A missing data path.
    let err =
        e.t.train_version(
            &model(),
            &TrainOptions {
                data: Some(e.data.join("nope")),
                ..Default::default()
            },
            &alice(),
            &quiet,
        )
        .await
        .unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn rolling_backtests_log_one_run_per_window_dated_by_the_window_end() {
    let e = env();
    configure(&e).await;
    e.t.train_version(&model(), &TrainOptions::default(), &alice(), &quiet)
        .await
        .unwrap();
    let end = start() + Duration::days(120);
    let range = Window {
        from: end - Duration::days(7),
        to: end,
    };
    let reports =
        e.t.backtest_rolling(&model(), 1, Some(range), Duration::days(1), None)
            .await
            .unwrap();
    assert_eq!(reports.len(), 7);
    // Twice: the same windows replace their runs.
    e.t.backtest_rolling(&model(), 1, Some(range), Duration::days(1), None)
        .await
        .unwrap();
    let runs =
        e.t.tracker
            .runs(&RunFilter {
                experiment_prefix: Some("backtest-".into()),
                model: Some("PascalStrategy".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(runs.len(), 7);
    for (i, r) in runs.iter().enumerate() {
        let w_end = range.from + Duration::days(i as i64 + 1);
        assert_eq!(r.start_time, w_end);
        assert_eq!(r.tags["window_end"], tradai_domain::time::fmt_ts(w_end));
        assert_eq!(
            r.tags["window_start"],
            tradai_domain::time::fmt_ts(w_end - Duration::days(1))
        );
        assert_eq!(r.tags["version"], "1");
        assert_eq!(r.metrics["profit_total"], reports[i].metrics.profit_total);
    }
    // drift-monitor's current period (the last 3 days by market time) selects exactly 3 runs.
    let cur =
        e.t.tracker
            .runs(&RunFilter {
                experiment_prefix: Some("backtest-".into()),
                since: Some(end - Duration::days(3) + Duration::seconds(1)),
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(cur.len(), 3);

    // A single window equals the rolling window's metrics (same candles, same signals).
    let one =
        e.t.backtest_version(
            &model(),
            1,
            Some(Window {
                from: range.from,
                to: range.from + Duration::days(1),
            }),
            None,
        )
        .await
        .unwrap();
    assert_eq!(one.metrics, reports[0].metrics);
    assert_eq!(one.pairs, vec!["BTC/USDT", "ETH/USDT"]);

    // A window without data logs nothing and names the file.
    let before = runs.len();
    let err =
        e.t.backtest_rolling(
            &model(),
            1,
            Some(Window {
                from: end,
                to: end + Duration::days(2),
            }),
            Duration::days(1),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("no BTC/USDT candles"),
        "{err}"
    );
    let after = e.t.tracker.runs(&RunFilter::default()).await.unwrap();
    assert_eq!(
        after
            .iter()
            .filter(|r| r.experiment.starts_with("backtest-"))
            .count(),
        before
    );
}

#[tokio::test]
async fn champion_and_challenger_are_compared_on_the_same_window() {
    let e = env();
    configure(&e).await;
    e.t.train_version(&model(), &TrainOptions::default(), &alice(), &quiet)
        .await
        .unwrap();
    e.t.set_model_config(
        &model(),
        &ModelConfigPatch {
            train_period_days: Some(80),
            ..Default::default()
        },
        &alice(),
        None,
    )
    .await
    .unwrap();
    e.t.train_version(&model(), &TrainOptions::default(), &alice(), &quiet)
        .await
        .unwrap();
    e.t.runbook
        .model_promote(&model(), 1, &alice(), None)
        .await
        .unwrap();
    assert_eq!(
        e.t.resolve_version(&model(), Some("Production"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        e.t.resolve_version(&model(), Some("staging"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(e.t.resolve_version(&model(), None).await.unwrap(), 1);
    assert!(
        e.t.resolve_version(&model(), Some("9"))
            .await
            .unwrap_err()
            .is_usage()
    );
    assert!(
        e.t.resolve_version(&model(), Some("latest"))
            .await
            .unwrap_err()
            .is_usage()
    );

    let ev = e.t.evaluate_pair(&model(), 1, 2, None, None).await.unwrap();
    let end = start() + Duration::days(120);
    assert_eq!(
        ev.window,
        Window {
            from: end - Duration::days(7),
            to: end
        }
    );
    assert_eq!((ev.champion.version, ev.challenger.version), (1, 2));
    assert_eq!(ev.champion.stage, ModelStage::Production);
    // Each side equals its own backtest on that window.
    for side in [&ev.champion, &ev.challenger] {
        let b =
            e.t.backtest_version(&model(), side.version, Some(ev.window), None)
                .await
                .unwrap();
        assert_eq!(side.metrics["profit_total"], b.metrics.profit_total);
    }
    let expected =
        tradai_domain::decide::compare::compare(&ev.champion.metrics, &ev.challenger.metrics, 0.7);
    assert_eq!(ev.comparison, expected);
    // A version against itself is never promoted.
    let same = e.t.evaluate_pair(&model(), 1, 1, None, None).await.unwrap();
    assert_ne!(same.comparison.decision.to_string(), "PROMOTE");
}
