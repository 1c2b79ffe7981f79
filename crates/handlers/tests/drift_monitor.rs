//! drift-monitor over backtest runs on the embedded store.

mod common;

use chrono::Duration;
use common::*;
use serde_json::json;
use tradai_domain::{Actor, ModelName, StrategyConfig, StrategyId, TradingStatus};
use tradai_handlers::invoke;
use tradai_ports::{Clock, Run};

/// Logs one backtest run per `spacing` ending now, oldest first, with the given profits.
async fn runs(e: &TestEnv, model: &str, end_days_ago: i64, spacing: Duration, profits: &[f64]) {
    let end = e.clock.now() - Duration::days(end_days_ago);
    for (i, p) in profits.iter().enumerate() {
        let t = end - spacing * (profits.len() - i) as i32;
        let run = Run {
            run_id: format!("{model}-{}", t.timestamp()),
            experiment: format!("backtest-{model}"),
            status: "finished".into(),
            start_time: t,
            end_time: Some(t),
            params: Default::default(),
            metrics: [
                ("profit_total".to_string(), *p),
                ("win_rate".to_string(), 0.5 + p / 10_000.0),
            ]
            .into_iter()
            .collect(),
            tags: [("model".to_string(), model.to_string())]
                .into_iter()
                .collect(),
        };
        e.ctx.tracker.log_run(&run).await.unwrap();
    }
}

fn spread(n: usize, lo: f64, hi: f64) -> Vec<f64> {
    // A fixed, shuffled-looking order so time and value are not aligned.
    let mut v: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n as f64)
        .collect();
    let k = 7 % n.max(1);
    v.rotate_left(k);
    v
}

#[tokio::test]
async fn no_drift_then_significant_drift_with_the_contract_shape() {
    let e = env();
    // 45 daily-ish reference runs over the 30 reference days, 12 over the 7 current days.
    runs(
        &e,
        "PascalStrategy",
        7,
        Duration::minutes(30 * 24 * 60 / 45),
        &spread(45, 50.0, 150.0),
    )
    .await;
    runs(
        &e,
        "PascalStrategy",
        0,
        Duration::minutes(7 * 24 * 60 / 12),
        &spread(12, 52.0, 148.0),
    )
    .await;
    let out = invoke(
        &e.ctx,
        "drift-monitor",
        json!({"models": ["PascalStrategy"]}),
    )
    .await
    .unwrap();
    assert_eq!(
        out["summary"],
        json!({"models_analyzed": 1, "drifted": 0, "errors": 0})
    );
    let r = &out["results"][0];
    golden("drift_monitor_none", &out);
    assert_eq!(r["status"], "analyzed");
    assert_eq!(r["severity"], "none");
    assert_eq!(r["reference_period"]["samples"], 45);
    assert_eq!(r["current_period"]["samples"], 12);
    assert_eq!(r["reference_period"]["end"], r["current_period"]["start"]);
    assert_eq!(r["current_period"]["end"], "2024-02-07T12:00:00Z");
    let md = &r["metric_drifts"][0];
    for k in [
        "metric",
        "psi",
        "severity",
        "reference_mean",
        "current_mean",
        "p_value",
        "significant",
        "noise_psi",
    ] {
        assert!(md.get(k).is_some(), "metric_drifts lacks {k}: {md}");
    }
    assert_eq!(r["requires_attention"], false);

    // A week later the strategy makes far less money: significant, policy acts once.
    e.clock.advance(Duration::days(7));
    let alice = Actor::new("alice");
    let cfg = StrategyConfig {
        strategy_id: StrategyId::new("S1").unwrap(),
        model: ModelName::new("PascalStrategy").unwrap(),
        stake_amount: 10.0,
        max_open_trades: 1,
        pairs: vec!["BTC/USDT".into()],
        timeframe: "1h".into(),
    };
    e.ctx.rb.strategy_add(cfg, &alice).await.unwrap();
    e.ctx
        .rb
        .trading_set_status(
            &StrategyId::new("S1").unwrap(),
            TradingStatus::Running,
            &alice,
            "live",
        )
        .await
        .unwrap();
    runs(
        &e,
        "PascalStrategy",
        0,
        Duration::minutes(7 * 24 * 60 / 12),
        &spread(12, -80.0, -20.0),
    )
    .await;
    let out = invoke(&e.ctx, "drift-monitor", json!({})).await.unwrap();
    golden("drift_monitor_significant", &out);
    let r = &out["results"][0];
    assert_eq!(r["severity"], "significant", "{r:#}");
    assert!(r["overall_psi"].as_f64().unwrap() > 0.25);
    assert!(r["current_mean"].is_null());
    assert!(r["metric_drifts"][0]["current_mean"].as_f64().unwrap() < 0.0);
    assert_eq!(r["requires_attention"], true);
    let actions: Vec<&str> = r["policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["open_incident", "pause_strategies", "retrain_now", "notify"]
    );
    assert_eq!(
        e.ctx
            .rb
            .trading_status(&StrategyId::new("S1").unwrap())
            .await
            .unwrap()
            .status,
        TradingStatus::Paused
    );
    let state = e
        .ctx
        .rb
        .drift_show(&ModelName::new("PascalStrategy").unwrap())
        .await
        .unwrap();
    assert_eq!(state.result["overall_psi"], r["overall_psi"]);
    let alarms = tradai_handlers::alarms::list(&e.ctx).await.unwrap();
    for name in ["tradai-dev-drift-moderate", "tradai-dev-drift-significant"] {
        assert_eq!(
            alarms
                .iter()
                .find(|a| a.name == name)
                .unwrap()
                .state
                .to_string(),
            "ALARM",
            "{name}"
        );
    }
    // Still significant an hour later: no second incident, no second training.
    e.clock.advance(Duration::hours(1));
    let out = invoke(&e.ctx, "drift-monitor", json!({})).await.unwrap();
    assert!(out["results"][0].get("policy").is_none());
    assert_eq!(e.ctx.rb.incident_list(None).await.unwrap().len(), 1);
    assert_eq!(e.fake_exec.launched().len(), 1);
    assert_eq!(
        e.ctx
            .rb
            .drift_history(&ModelName::new("PascalStrategy").unwrap(), None)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn too_few_samples_is_insufficient_data_and_one_bad_model_does_not_stop_others() {
    let e = env();
    runs(&e, "A", 7, Duration::days(3), &spread(9, 0.0, 10.0)).await;
    runs(&e, "A", 0, Duration::hours(12), &spread(12, 100.0, 110.0)).await;
    let out = invoke(
        &e.ctx,
        "drift-monitor",
        json!({"models": ["A", "bad name"], "reference_period_days": 30, "current_period_days": 7}),
    )
    .await
    .unwrap();
    assert_eq!(
        out["summary"],
        json!({"models_analyzed": 0, "drifted": 0, "errors": 1})
    );
    assert_eq!(out["results"][0]["status"], "insufficient_data");
    assert_eq!(out["results"][0]["severity"], "none");
    assert_eq!(out["results"][1]["status"], "error");
    assert!(
        out["results"][1]["error"]
            .as_str()
            .unwrap()
            .contains("bad name")
    );
}

/// Registers and promotes a version whose artifact carries a training reference profile of one
/// feature (`ret_1`, values spread over [-1, 1]).
async fn serving_with_reference(e: &TestEnv, model: &str) {
    let dir = e.tmp.path().join(format!("art-{model}"));
    std::fs::create_dir_all(&dir).unwrap();
    let reference: Vec<f64> = (0..500)
        .map(|i| -1.0 + 2.0 * (i as f64 + 0.5) / 500.0)
        .collect();
    let fp =
        tradai_drift::profile_numeric("ret_1", &reference, 10, &tradai_drift::Binning::Quantile);
    let profile = tradai_drift::Profile {
        format_version: tradai_drift::profile::PROFILE_FORMAT_VERSION,
        source: "training".into(),
        features: vec![fp],
    };
    std::fs::write(
        dir.join("reference_features.json"),
        serde_json::to_string(&profile).unwrap(),
    )
    .unwrap();
    let m = ModelName::new(model).unwrap();
    let v = e
        .ctx
        .rb
        .model_register(&m, &dir, Default::default(), &Actor::new("alice"))
        .await
        .unwrap();
    e.ctx
        .rb
        .model_promote(&m, v.version, &Actor::new("alice"), None)
        .await
        .unwrap();
}

/// Logs what the strategy runner logs: one prediction per hour over the last `hours`, with the
/// feature drawn from `values` in turn.
async fn live_features(e: &TestEnv, model: &str, hours: usize, values: impl Fn(usize) -> f64) {
    for i in 0..hours {
        let ts = e.clock.now() - Duration::hours((hours - i) as i64);
        let rec = tradai_runner::PredictionRecord {
            strategy_id: "S1".into(),
            pair: "BTC/USDT".into(),
            ts,
            model_name: model.into(),
            model_version: "1".into(),
            prediction: Some(0.0),
            signal: tradai_ml::Signal::Hold,
            features: [("ret_1".to_string(), values(i))].into_iter().collect(),
            status: TradingStatus::Running,
            logged_at: ts,
        };
        let w = tradai_ports::Write {
            table: tradai_ports::Table::PREDICTIONS,
            key: rec.key(),
            doc: Some(serde_json::to_value(&rec).unwrap()),
            expect: tradai_ports::Expect::Anything,
            at: ts,
            audit: None,
        };
        tradai_ports::StateStore::write(&*e.ctx.rb.store, w)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn live_features_are_compared_with_the_training_reference() {
    let e = env();
    serving_with_reference(&e, "Calm").await;
    serving_with_reference(&e, "Shifted").await;
    // The same distribution live, for a week of hourly candles: no feature drift.
    live_features(&e, "Calm", 168, |i| {
        -1.0 + 2.0 * ((i * 37) % 168) as f64 / 168.0
    })
    .await;
    // The inputs moved far to the right: significant, and alone enough to act (no backtest runs).
    live_features(&e, "Shifted", 168, |i| {
        0.5 + ((i * 37) % 168) as f64 / 168.0
    })
    .await;
    let out = invoke(
        &e.ctx,
        "drift-monitor",
        json!({"models": ["Calm", "Shifted"]}),
    )
    .await
    .unwrap();
    let calm = &out["results"][0];
    assert_eq!(calm["feature_drift"]["severity"], "none", "{calm:#}");
    assert_eq!(calm["feature_drift"]["samples"], 168);
    assert_eq!(calm["severity"], "none");
    let shifted = &out["results"][1];
    let fd = &shifted["feature_drift"];
    assert_eq!(fd["severity"], "significant", "{fd:#}");
    assert_eq!(fd["features"][0]["feature"], "ret_1");
    assert!(fd["features"][0]["current_mean"].as_f64().unwrap() > 0.9);
    assert_eq!(shifted["status"], "analyzed");
    assert_eq!(shifted["severity"], "significant");
    assert_eq!(shifted["requires_attention"], true);
    assert_eq!(out["summary"]["drifted"], 1);
}
