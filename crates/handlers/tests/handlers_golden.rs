//! Golden JSON for each handler's input and output, on the embedded adapters.

mod common;

use chrono::Duration;
use common::*;
use serde_json::{Value, json};
use tradai_domain::{Actor, Severity, StrategyConfig, StrategyId, TradingStatus};
use tradai_handlers::invoke;
use tradai_runbook::DriftState;

async fn call(e: &TestEnv, name: &str, payload: Value) -> Value {
    invoke(&e.ctx, name, payload)
        .await
        .unwrap_or_else(|err| panic!("{name}: {err}"))
}

#[tokio::test]
async fn notify_golden_and_throttling() {
    let e = env();
    let payload = json!({"notification_type": "DRIFT_DETECTED", "title": "Moderate drift", "message": "PSI=0.15",
                         "model_name": "PascalStrategy", "severity": "WARNING", "details": {"psi": 0.15}});
    let out = call(&e, "notify", payload.clone()).await;
    assert_eq!(
        out,
        json!({"sent": true, "sns": true, "slack": true, "notification_type": "DRIFT_DETECTED", "throttled": false,
                           "channels": {"log": "delivered", "slack": "delivered"}})
    );
    // Same WARNING within 5 minutes: throttled.
    e.clock.advance(Duration::minutes(4));
    let out = call(&e, "notify", payload.clone()).await;
    assert_eq!(
        out,
        json!({"sent": false, "sns": false, "slack": false, "notification_type": "DRIFT_DETECTED", "throttled": true, "channels": {}})
    );
    // After the window it goes out again.
    e.clock.advance(Duration::minutes(1));
    assert_eq!(call(&e, "notify", payload.clone()).await["sent"], true);
    // CRITICAL is never throttled.
    let mut crit = payload.clone();
    crit["severity"] = json!("CRITICAL");
    assert_eq!(call(&e, "notify", crit.clone()).await["throttled"], false);
    assert_eq!(call(&e, "notify", crit).await["throttled"], false);
    assert_eq!(e.slack.sent.lock().unwrap().len(), 4);
    // Bad input names the field.
    let err = invoke(
        &e.ctx,
        "notify",
        json!({"notification_type": "NOPE", "title": "t", "message": "m"}),
    )
    .await
    .unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("NOPE"), "{err}");
    let err = invoke(&e.ctx, "notify", json!({"title": "t", "message": "m"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("notification_type"), "{err}");
}

#[tokio::test]
async fn a_channel_that_is_down_loses_nothing() {
    let e = env();
    *e.slack.down.lock().unwrap() = true;
    let out = call(&e, "notify", json!({"notification_type": "RETRAINING_FAILED", "title": "Training failed", "message": "x", "severity": "ERROR"})).await;
    assert_eq!(
        out["channels"],
        json!({"log": "delivered", "slack": "queued"})
    );
    assert_eq!(out["slack"], false);
    assert_eq!(
        tradai_handlers::notify::pending(&e.ctx)
            .await
            .unwrap()
            .len(),
        1
    );
    // Still down: retried, still pending, backoff grows.
    e.clock.advance(Duration::seconds(30));
    assert_eq!(tradai_handlers::notify::pump(&e.ctx).await.unwrap(), 0);
    let p = tradai_handlers::notify::pending(&e.ctx).await.unwrap();
    assert_eq!(p[0].attempts, 2);
    // Not yet due: not attempted.
    *e.slack.down.lock().unwrap() = false;
    e.clock.advance(Duration::seconds(30));
    assert_eq!(tradai_handlers::notify::pump(&e.ctx).await.unwrap(), 0);
    e.clock.advance(Duration::seconds(31));
    assert_eq!(tradai_handlers::notify::pump(&e.ctx).await.unwrap(), 1);
    assert!(
        tradai_handlers::notify::pending(&e.ctx)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(e.slack.sent.lock().unwrap()[0].title, "Training failed");
}

#[tokio::test]
async fn check_retraining_needed_golden() {
    let e = env();
    register(&e, "PascalStrategy", 1).await;
    let m = tradai_domain::ModelName::new("PascalStrategy").unwrap();
    let now = e.ctx.rb.clock.now();
    e.ctx
        .rb
        .retrain_update(&m, &Actor::system(), "retrain.complete", None, |_| {
            Ok(tradai_runbook::RetrainingState {
                model_name: m.clone(),
                status: tradai_domain::RetrainingStatus::Completed,
                last_retrained: Some(now - Duration::minutes(168 * 60 + 30)),
                trigger: None,
                task_id: None,
                started_at: None,
                finished_at: None,
                error: None,
                version: None,
                execution_id: None,
                updated_at: now,
            })
        })
        .await
        .unwrap();
    let drift = DriftState {
        model_name: m.clone(),
        status: "analyzed".into(),
        severity: Severity::Significant,
        overall_psi: Some(0.35),
        max_psi: Some(0.45),
        psi: Default::default(),
        requires_attention: true,
        result: Value::Null,
        updated_at: now,
        updated_by: "drift-monitor".into(),
        reason: None,
    };
    e.ctx
        .rb
        .drift_record(drift, &Actor::system())
        .await
        .unwrap();
    let out = call(
        &e,
        "check-retraining-needed",
        json!({"model_name": "PascalStrategy", "force": false, "manual_trigger": false}),
    )
    .await;
    assert_eq!(
        out,
        json!({"model_name": "PascalStrategy", "decision": "needs_retraining", "trigger": "drift_detected",
        "reason": "Significant drift detected (PSI=0.350)", "hours_since_retrain": 168.5, "days_since_retrain": 7,
        "drift_severity": "significant", "drift_psi": 0.35})
    );
    let out = call(
        &e,
        "check-retraining-needed",
        json!({"model_name": "bad name"}),
    )
    .await;
    assert_eq!(out["decision"], "invalid_model");
}

#[tokio::test]
async fn promote_model_golden() {
    let e = env();
    let out = call(&e, "promote-model", json!({"model_name": "PascalStrategy"})).await;
    assert_eq!(
        out,
        json!({"promoted": false, "reason": "No Staging version found"})
    );
    register(&e, "PascalStrategy", 2).await;
    call(
        &e,
        "promote-model",
        json!({"model_name": "PascalStrategy", "new_version": "1"}),
    )
    .await;
    // Past the INFO throttle window of the first promotion's notification.
    e.clock.advance(Duration::minutes(5));
    let mut out = call(
        &e,
        "promote-model",
        json!({"model_name": "PascalStrategy", "confidence": 0.85}),
    )
    .await;
    assert!(
        out["model_path"]
            .as_str()
            .unwrap()
            .ends_with("/PascalStrategy/2/")
    );
    out.as_object_mut().unwrap().remove("model_path");
    assert_eq!(
        out,
        json!({"promoted": true, "new_version": "2", "new_stage": "Production", "archived_version": "1"})
    );
    let mut again = call(
        &e,
        "promote-model",
        json!({"model_name": "PascalStrategy", "new_version": 2}),
    )
    .await;
    again.as_object_mut().unwrap().remove("model_path");
    assert_eq!(
        again,
        json!({"promoted": true, "new_version": "2", "new_stage": "Production", "already_promoted": true})
    );
    assert!(
        e.log
            .sent
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.title == "PascalStrategy version 2 promoted to Production")
    );
}

#[tokio::test]
async fn model_rollback_golden_with_dry_run_and_cooldown() {
    let e = env();
    register(&e, "PascalStrategy", 3).await;
    for v in ["1", "2", "3"] {
        call(
            &e,
            "promote-model",
            json!({"model_name": "PascalStrategy", "new_version": v}),
        )
        .await;
        e.clock.advance(Duration::minutes(1));
    }
    let mut dry = call(
        &e,
        "model-rollback",
        json!({"model_name": "PascalStrategy", "dry_run": true}),
    )
    .await;
    dry.as_object_mut().unwrap().remove("to_path");
    assert_eq!(
        dry,
        json!({"rolled_back": false, "dry_run": true, "model_name": "PascalStrategy", "from_version": "3", "to_version": "2",
        "reason": "MANUAL_REQUEST", "alarm_name": null, "timestamp": "2024-02-07T12:03:00Z"})
    );
    let mut out = call(&e, "model-rollback", json!({"model_name": "PascalStrategy", "reason": "DRIFT_SEVERE", "alarm_name": "tradai-dev-drift-significant"})).await;
    out.as_object_mut().unwrap().remove("to_path");
    assert_eq!(
        out,
        json!({"rolled_back": true, "dry_run": false, "model_name": "PascalStrategy", "from_version": "3", "to_version": "2",
        "reason": "DRIFT_SEVERE", "alarm_name": "tradai-dev-drift-significant", "timestamp": "2024-02-07T12:03:00Z"})
    );
    let err = invoke(
        &e.ctx,
        "model-rollback",
        json!({"model_name": "PascalStrategy", "target_version": "1"}),
    )
    .await
    .unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("ROLLBACK_COOLDOWN_HOURS"),
        "{err}"
    );
    let err = invoke(
        &e.ctx,
        "model-rollback",
        json!({"model_name": "PascalStrategy", "reason": "BECAUSE"}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("BECAUSE"), "{err}");
}

#[tokio::test]
async fn heartbeat_check_alerts_after_two_stale_checks_and_resets() {
    let e = env();
    let actor = Actor::new("alice");
    for id in ["S1", "S2", "S3"] {
        let cfg = StrategyConfig {
            strategy_id: StrategyId::new(id).unwrap(),
            model: tradai_domain::ModelName::new("M").unwrap(),
            stake_amount: 10.0,
            max_open_trades: 1,
            pairs: vec!["BTC/USDT".into()],
            timeframe: "1h".into(),
        };
        e.ctx.rb.strategy_add(cfg, &actor).await.unwrap();
    }
    let s = |id: &str| StrategyId::new(id).unwrap();
    for id in ["S1", "S2"] {
        e.ctx
            .rb
            .trading_set_status(&s(id), TradingStatus::Warmup, &actor, "start")
            .await
            .unwrap();
        e.ctx
            .rb
            .trading_set_status(&s(id), TradingStatus::Running, &actor, "start")
            .await
            .unwrap();
    }
    // S3 stays stopped: not watched.
    e.ctx.rb.trading_heartbeat(&s("S1")).await.unwrap();
    let out = call(&e, "heartbeat-check", json!({})).await;
    let mut summary = out["summary"].clone();
    summary.as_object_mut().unwrap().remove("latency_ms");
    assert_eq!(
        summary,
        json!({"active_strategies": 2, "stale": 1, "healthy": 1, "alerts_sent": 0})
    );
    assert_eq!(out["stale_strategies"], json!(["S2"]));
    e.clock.advance(Duration::minutes(3));
    e.ctx.rb.trading_heartbeat(&s("S1")).await.unwrap();
    let out = call(&e, "heartbeat-check", json!({})).await;
    assert_eq!(out["summary"]["alerts_sent"], 1);
    // Third stale check: no repeated alert in the same streak.
    let out = call(&e, "heartbeat-check", json!({})).await;
    assert_eq!(out["summary"]["alerts_sent"], 0);
    let alarms = tradai_handlers::alarms::list(&e.ctx).await.unwrap();
    let hb = alarms
        .iter()
        .find(|a| a.name == "tradai-dev-heartbeat-stale")
        .unwrap();
    assert_eq!(hb.state.to_string(), "ALARM");
    // S2 comes back: count resets, alarm clears.
    e.ctx.rb.trading_heartbeat(&s("S2")).await.unwrap();
    let out = call(&e, "heartbeat-check", json!({})).await;
    assert_eq!(out["summary"]["stale"], 0);
    let alarms = tradai_handlers::alarms::list(&e.ctx).await.unwrap();
    assert_eq!(
        alarms
            .iter()
            .find(|a| a.name == "tradai-dev-heartbeat-stale")
            .unwrap()
            .state
            .to_string(),
        "OK"
    );
    assert_eq!(
        tradai_handlers::alarms::history(&e.ctx, "tradai-dev-heartbeat-stale", 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn unknown_handler_is_a_usage_error() {
    let e = env();
    let err = invoke(&e.ctx, "make-money", json!({})).await.unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("unknown handler 'make-money'"));
}
