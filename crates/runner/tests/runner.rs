//! The runner on the real embedded adapters (SQLite file, local artifacts), a manual clock and
//! a tiny model trained on synthetic candles. Every assertion reads the store.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use tradai_domain::{Actor, ModelName, RollbackReason, StrategyConfig, StrategyId, TradingStatus};
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_market::synth::{SynthConfig, generate};
use tradai_market::{Candle, Timeframe};
use tradai_ml::TrainConfig;
use tradai_ports::{AuditQuery, Clock, Expect, Key, ManualClock, Table, Write};
use tradai_runbook::registry::NewVersion;
use tradai_runbook::{Config, Runbook};
use tradai_runner::{
    Action, CloseTarget, EndReason, ReplayFeed, Runner, RunnerError, RunnerOptions, Speed,
    StepReport,
};

const PAIR: &str = "BTC/USDT";
const WARMUP: usize = 50;

struct Env {
    tmp: tempfile::TempDir,
    rb: Runbook,
    clock: Arc<ManualClock>,
    candles: Vec<Candle>,
}

fn tf() -> Timeframe {
    Timeframe::from_secs(3600).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn model() -> ModelName {
    ModelName::new("PascalStrategy").unwrap()
}

fn sid() -> StrategyId {
    StrategyId::new("S1").unwrap()
}

fn alice() -> Actor {
    Actor::new("alice")
}

fn synth(start: DateTime<Utc>, days: u32, seed: u64) -> Vec<Candle> {
    generate(&SynthConfig::new(tf(), start, days, seed), 0).unwrap()
}

/// Trains a tiny model on `seed`'s market and registers it (Staging).
async fn register(rb: &Runbook, dir: PathBuf, seed: u64) -> u64 {
    let candles = synth(t0(), 40, seed);
    let mut cfg = TrainConfig::new(tf(), seed);
    cfg.train_period_days = 30;
    cfg.validation_days = 7;
    let out = tradai_ml::train(&candles, &cfg).unwrap();
    out.model.save(&dir).unwrap();
    rb.model_register(&model(), &dir, NewVersion::default(), &alice())
        .await
        .unwrap()
        .version
}

/// v1 (Production) and v2 (Staging) of the model, strategy S1 trading it, 30 days of live candles.
async fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("tradai.db"), "dev").unwrap();
    let artifacts = LocalArtifacts::open(&tmp.path().join("artifacts")).unwrap();
    let clock = Arc::new(ManualClock::new(t0() + Duration::days(41)));
    let rb = Runbook::new(
        Arc::new(store),
        Arc::new(artifacts),
        clock.clone(),
        Arc::new(Config::default()),
    );
    assert_eq!(register(&rb, tmp.path().join("m1"), 1).await, 1);
    assert_eq!(register(&rb, tmp.path().join("m2"), 2).await, 2);
    rb.model_promote(&model(), 1, &alice(), Some("first"))
        .await
        .unwrap();
    rb.strategy_add(
        StrategyConfig {
            strategy_id: sid(),
            model: model(),
            stake_amount: 100.0,
            max_open_trades: 1,
            pairs: vec![PAIR.into()],
            timeframe: "1h".into(),
        },
        &alice(),
    )
    .await
    .unwrap();
    let candles = synth(t0() + Duration::days(41), 30, 3);
    Env {
        tmp,
        rb,
        clock,
        candles,
    }
}

fn opts(e: &Env) -> RunnerOptions {
    let mut o = RunnerOptions::new(e.tmp.path().join("cache"));
    o.warmup_candles = WARMUP;
    o
}

fn runner(e: &Env) -> Runner {
    let feed = ReplayFeed::new(PAIR, Vec::new(), tf(), Speed::Max);
    Runner::new(e.rb.clone(), sid(), Box::new(feed), opts(e))
}

/// One candle, with the clock at the candle's close.
async fn step(e: &Env, r: &mut Runner, i: usize) -> StepReport {
    let c = e.candles[i];
    e.clock.set(c.ts + tf().duration());
    r.step(c).await.unwrap()
}

/// Steps from `*i` until `pred` holds for a report (panics if the candles run out).
async fn step_until(
    e: &Env,
    r: &mut Runner,
    i: &mut usize,
    pred: impl Fn(&StepReport) -> bool,
) -> StepReport {
    while *i < e.candles.len() {
        let rep = step(e, r, *i).await;
        *i += 1;
        if pred(&rep) {
            return rep;
        }
    }
    panic!("condition never met in {} candles", e.candles.len());
}

fn entered(r: &StepReport) -> bool {
    matches!(r.action, Action::Entered { .. })
}

/// Sets the status the way another process would: a raw conditional write of the item.
async fn raw_status(e: &Env, status: &str) {
    let key = Key::pk("S1");
    let item =
        e.rb.store
            .get(Table::TRADING_STATE, &key)
            .await
            .unwrap()
            .unwrap();
    let mut doc = item.doc;
    doc["status"] = json!(status);
    e.rb.store
        .write(Write {
            table: Table::TRADING_STATE,
            key,
            doc: Some(doc),
            expect: Expect::Rev(item.rev),
            at: e.clock.now(),
            audit: None,
        })
        .await
        .unwrap();
}

async fn open_positions(e: &Env) -> Vec<tradai_runner::PositionView> {
    tradai_runner::positions(&e.rb, &sid()).await.unwrap()
}

async fn preds(e: &Env) -> Vec<tradai_runner::PredictionRecord> {
    tradai_runner::predictions(&*e.rb.store, &model(), t0(), t0() + Duration::days(400))
        .await
        .unwrap()
}

#[tokio::test]
async fn predictions_carry_the_serving_version_and_warmup_ends_running() {
    let e = env().await;
    let mut r = runner(&e);
    for i in 0..100 {
        let rep = step(&e, &mut r, i).await;
        if i + 1 < WARMUP {
            assert_eq!(rep.action, Action::WarmingUp);
            assert_eq!(rep.status, TradingStatus::Warmup);
        } else {
            assert_eq!(rep.model_version.as_deref(), Some("1"));
        }
    }
    let st = e.rb.trading_status(&sid()).await.unwrap();
    assert_eq!(st.status, TradingStatus::Running);
    assert!(st.last_heartbeat.is_some());
    let p = preds(&e).await;
    assert_eq!(p.len(), 100 - WARMUP + 1);
    assert!(
        p.iter()
            .all(|x| x.model_version == "1" && x.strategy_id == "S1")
    );
    assert_eq!(p[0].ts, e.candles[WARMUP - 1].ts);
    assert_eq!(p[0].features.len(), 14);
    // The drift reader: a window of the log, by column.
    let from = e.candles[60].ts;
    let to = e.candles[70].ts;
    let log = tradai_runner::logged_features(&*e.rb.store, &model(), from, to, Some("1"))
        .await
        .unwrap();
    assert_eq!(log.rows, 10);
    assert_eq!(log.features["ret_1"].len(), 10);
    assert_eq!(log.versions["1"], 10);
    let none = tradai_runner::logged_features(&*e.rb.store, &model(), from, to, Some("2"))
        .await
        .unwrap();
    assert_eq!(none.rows, 0);
    // warmup -> running was written by the runner and audited.
    let audit =
        e.rb.store
            .audit(AuditQuery {
                entity: Some("trading-state/S1".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.ends_with(&["trading.start", "trading.resume"]),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_pause_written_directly_stops_entries_at_the_next_candle_but_exits_still_happen() {
    let e = env().await;
    let mut r = runner(&e);
    let mut i = 0;
    step_until(&e, &mut r, &mut i, entered).await;
    assert_eq!(open_positions(&e).await.len(), 1);
    raw_status(&e, "paused").await;
    let paused_from = e.candles[i].ts;
    // The very next candle runs under the pause; exits still happen, entries never.
    let first = step(&e, &mut r, i).await;
    i += 1;
    assert_eq!(first.status, TradingStatus::Paused);
    let mut exited = false;
    let mut refused_after_exit = 0;
    while i < e.candles.len() {
        let rep = step(&e, &mut r, i).await;
        i += 1;
        assert!(!entered(&rep), "entered while paused at {}", rep.ts);
        match rep.action {
            Action::Exited { .. } => exited = true,
            Action::EntrySkipped { why: "paused" } if exited => refused_after_exit += 1,
            _ => {}
        }
    }
    assert!(exited, "the open position was never exited");
    assert!(
        refused_after_exit > 0,
        "no entry signal arrived while paused and flat"
    );
    assert!(open_positions(&e).await.is_empty());
    let trades = tradai_runner::trades(&e.rb, &sid()).await.unwrap();
    assert_eq!(trades.len(), 1);
    assert!(trades[0].position.opened_at < paused_from);
    assert!(trades[0].exit().unwrap().ts >= paused_from);
    // Every prediction after the pause was made under it.
    assert!(
        preds(&e)
            .await
            .iter()
            .filter(|p| p.ts >= paused_from)
            .all(|p| p.status == TradingStatus::Paused)
    );
}

#[tokio::test]
async fn stopped_means_no_trading_at_all() {
    let e = env().await;
    let mut r = runner(&e);
    let mut i = 0;
    step_until(&e, &mut r, &mut i, entered).await;
    e.rb.trading_set_status(&sid(), TradingStatus::Stopped, &alice(), "halt")
        .await
        .unwrap();
    let mut exits_refused = 0;
    while i < e.candles.len() {
        let rep = step(&e, &mut r, i).await;
        i += 1;
        match rep.action {
            Action::Entered { .. } | Action::Exited { .. } => panic!("traded while stopped"),
            Action::ExitSkipped { why } => {
                assert_eq!(why, "stopped");
                exits_refused += 1;
            }
            _ => {}
        }
    }
    assert!(exits_refused > 0);
    assert_eq!(open_positions(&e).await.len(), 1);
    assert!(
        tradai_runner::trades(&e.rb, &sid())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_stake_change_applies_to_the_next_entry() {
    let e = env().await;
    let mut r = runner(&e);
    let mut i = 0;
    let first = step_until(&e, &mut r, &mut i, entered).await;
    assert!(matches!(first.action, Action::Entered { stake, .. } if stake == 100.0));
    e.rb.strategy_set_stake(&sid(), 40.0, &alice(), Some("moderate drift"))
        .await
        .unwrap();
    // The open position keeps its stake; the next entry uses the new one.
    assert_eq!(open_positions(&e).await[0].position.stake_amount, 100.0);
    let next = step_until(&e, &mut r, &mut i, entered).await;
    assert!(matches!(next.action, Action::Entered { stake, .. } if stake == 40.0));
    let open = open_positions(&e).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].position.stake_amount, 40.0);
    assert_eq!(open[0].position.config_version, 2);
    let trades = tradai_runner::trades(&e.rb, &sid()).await.unwrap();
    assert_eq!(trades[0].position.stake_amount, 100.0);
}

#[tokio::test]
async fn a_promotion_switches_the_model_within_one_candle_keeping_positions() {
    let e = env().await;
    let mut r = runner(&e);
    let mut i = 0;
    step_until(&e, &mut r, &mut i, entered).await;
    let before = open_positions(&e).await;
    assert_eq!(before[0].position.model_version, "1");
    e.rb.model_promote(&model(), 2, &alice(), Some("better"))
        .await
        .unwrap();
    let switched_at = e.candles[i].ts;
    let rep = step(&e, &mut r, i).await;
    i += 1;
    assert_eq!(rep.model_version.as_deref(), Some("2"));
    // The v1 position is still there (or was just exited by v2's signal, into a trade).
    let still_open = open_positions(&e).await;
    let traded = tradai_runner::trades(&e.rb, &sid()).await.unwrap();
    assert!(
        still_open
            .iter()
            .any(|p| p.position.id == before[0].position.id)
            || traded
                .iter()
                .any(|t| t.position.id == before[0].position.id)
    );
    for _ in 0..100 {
        step(&e, &mut r, i).await;
        i += 1;
    }
    let p = preds(&e).await;
    assert!(
        p.iter()
            .filter(|x| x.ts < switched_at)
            .all(|x| x.model_version == "1")
    );
    let after: Vec<_> = p.iter().filter(|x| x.ts >= switched_at).collect();
    assert_eq!(after.len(), 101);
    assert!(after.iter().all(|x| x.model_version == "2"));
}

#[tokio::test]
async fn a_rollback_serves_the_old_version_again_within_one_candle() {
    let e = env().await;
    let mut r = runner(&e);
    let mut i = 0;
    for _ in 0..60 {
        step(&e, &mut r, i).await;
        i += 1;
    }
    e.rb.model_promote(&model(), 2, &alice(), None)
        .await
        .unwrap();
    assert_eq!(
        step(&e, &mut r, i).await.model_version.as_deref(),
        Some("2")
    );
    i += 1;
    e.rb.model_rollback(
        &model(),
        Some(1),
        RollbackReason::PerformanceDegradation,
        None,
        false,
        &alice(),
    )
    .await
    .unwrap();
    let rolled_at = e.candles[i].ts;
    assert_eq!(
        step(&e, &mut r, i).await.model_version.as_deref(),
        Some("1")
    );
    i += 1;
    step(&e, &mut r, i).await;
    assert!(
        preds(&e)
            .await
            .iter()
            .filter(|x| x.ts >= rolled_at)
            .all(|x| x.model_version == "1")
    );
}

#[tokio::test]
async fn a_restart_keeps_positions_and_a_paused_strategy_stays_paused() {
    let e = env().await;
    let mut i = 0;
    let id = {
        let mut r = runner(&e);
        match step_until(&e, &mut r, &mut i, entered).await.action {
            Action::Entered { position_id, .. } => position_id,
            _ => unreachable!(),
        }
    };
    e.rb.trading_set_status(&sid(), TradingStatus::Paused, &alice(), "significant drift")
        .await
        .unwrap();
    // A new process on the same store.
    let mut r = runner(&e);
    r.start().await.unwrap();
    assert_eq!(r.status(), Some(TradingStatus::Paused));
    assert_eq!(r.model_version(), Some("1"));
    let kept = open_positions(&e).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].position.id, id);
    // Warm-up (replaying older candles) does not resume it; the old position is managed.
    let mut exited = false;
    for k in i.saturating_sub(WARMUP)..e.candles.len() {
        let rep = step(&e, &mut r, k).await;
        assert_eq!(rep.status, TradingStatus::Paused);
        assert!(!entered(&rep));
        if let Action::Exited { position_ids } = &rep.action {
            assert_eq!(position_ids, &vec![id.clone()]);
            exited = true;
        }
    }
    assert!(exited);
    assert_eq!(
        e.rb.trading_status(&sid()).await.unwrap().status,
        TradingStatus::Paused
    );
}

#[tokio::test]
async fn a_restart_of_a_running_strategy_warms_up_again_and_keeps_positions() {
    let e = env().await;
    let mut i = 0;
    {
        let mut r = runner(&e);
        step_until(&e, &mut r, &mut i, entered).await;
    }
    let mut r = runner(&e);
    r.start().await.unwrap();
    assert_eq!(r.status(), Some(TradingStatus::Warmup));
    assert_eq!(open_positions(&e).await.len(), 1);
    for k in i..i + WARMUP {
        step(&e, &mut r, k).await;
    }
    assert_eq!(r.status(), Some(TradingStatus::Running));
}

#[tokio::test]
async fn a_terminated_strategy_never_runs() {
    let e = env().await;
    e.rb.trading_set_status(&sid(), TradingStatus::Terminated, &alice(), "retired")
        .await
        .unwrap();
    let mut r = runner(&e);
    let err = r.start().await.unwrap_err();
    assert!(matches!(err, RunnerError::Terminated(_)) && err.is_usage());
    assert_eq!(
        e.rb.trading_status(&sid()).await.unwrap().status,
        TradingStatus::Terminated
    );
}

#[tokio::test]
async fn manual_close_is_audited_and_unrealised_pnl_is_shown() {
    let e = env().await;
    let mut r = runner(&e);
    let mut i = 0;
    step_until(&e, &mut r, &mut i, entered).await;
    // Mark it a few candles on (pause so that the position stays open).
    e.rb.trading_set_status(&sid(), TradingStatus::Stopped, &alice(), "hold")
        .await
        .unwrap();
    for _ in 0..3 {
        step(&e, &mut r, i).await;
        i += 1;
    }
    let open = open_positions(&e).await;
    let p = &open[0];
    assert_eq!(p.position.last_ts, e.candles[i - 1].ts);
    let fill = tradai_ml::exit_fill(
        e.candles[i - 1].close,
        p.position.amount,
        p.position.stake_amount,
        p.position.fee,
        p.position.slippage,
    );
    assert_eq!(p.unrealised_pnl, fill.profit_abs);
    let err = tradai_runner::close_positions(&e.rb, &sid(), CloseTarget::All, " ", &alice())
        .await
        .unwrap_err();
    assert!(err.is_usage());
    let err = tradai_runner::close_positions(
        &e.rb,
        &sid(),
        CloseTarget::Id("nope".into()),
        "x",
        &alice(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RunnerError::NoSuchPosition { .. }));
    let closed = tradai_runner::close_positions(
        &e.rb,
        &sid(),
        CloseTarget::Id(p.position.id.clone()),
        "risk limit",
        &alice(),
    )
    .await
    .unwrap();
    assert_eq!(closed.len(), 1);
    let x = closed[0].exit().unwrap();
    assert_eq!((x.reason.as_str(), x.actor.as_str()), ("manual", "alice"));
    assert_eq!(x.profit_abs, fill.profit_abs);
    assert!(open_positions(&e).await.is_empty());
    assert_eq!(tradai_runner::trades(&e.rb, &sid()).await.unwrap().len(), 1);
    let audit =
        e.rb.audit(None, Some(format!("positions/S1/{}", p.position.id)), None)
            .await
            .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "position.close");
    assert_eq!(audit[0].actor, "alice");
    assert_eq!(audit[0].reason.as_deref(), Some("risk limit"));
    // The runner carries on without it.
    step(&e, &mut r, i).await;
    assert!(open_positions(&e).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn run_paces_a_replay_writes_heartbeats_and_ends_with_the_feed() {
    let e = env().await;
    let candles: Vec<Candle> = e.candles[..WARMUP + 120].to_vec();
    let feed = ReplayFeed::new(PAIR, candles, tf(), "3600x".parse().unwrap()).with_history(WARMUP);
    let mut r = Runner::new(e.rb.clone(), sid(), Box::new(feed), opts(&e));
    let started = tokio::time::Instant::now();
    let summary = r.run(std::future::pending()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(summary.ended, EndReason::EndOfFeed);
    assert_eq!(summary.candles, WARMUP + 120);
    assert_eq!(summary.predictions, 121);
    assert_eq!(summary.errors, 0);
    // 120 paced candles at one per second: the last is due 119 s after the first.
    assert!(took >= std::time::Duration::from_secs(119), "{took:?}");
    assert!(took < std::time::Duration::from_secs(125), "{took:?}");
    assert_eq!(preds(&e).await.len(), 121);
    assert!(
        e.rb.trading_status(&sid())
            .await
            .unwrap()
            .last_heartbeat
            .is_some()
    );
}

#[tokio::test(start_paused = true)]
async fn run_ends_when_the_strategy_is_terminated_and_reloads_on_request() {
    let e = env().await;
    let feed = ReplayFeed::new(PAIR, e.candles.clone(), tf(), "3600x".parse().unwrap())
        .with_history(WARMUP);
    let mut r = Runner::new(e.rb.clone(), sid(), Box::new(feed), opts(&e));
    let reload = r.reload_handle();
    let rb = e.rb.clone();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        reload.reload();
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        rb.trading_set_status(&sid(), TradingStatus::Terminated, &alice(), "retired")
            .await
            .unwrap();
    });
    let summary = r.run(std::future::pending()).await.unwrap();
    killer.await.unwrap();
    assert_eq!(summary.ended, EndReason::Terminated);
    assert!(summary.candles < e.candles.len());
}
