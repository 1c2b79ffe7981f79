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
