//! Runner measurements (not a test): `cargo bench -p tradai-runner --bench runner`.
//!
//! 1. Candle-to-decision latency of `Runner::step` on the embedded SQLite store: status read,
//!    pointer check, features, prediction, prediction log, position marks, entry/exit writes.
//! 2. How long a pause written straight into the store (as another process would) takes to be
//!    seen by a running runner, at two feed speeds; and the window between the status read and
//!    an entry write inside one step (the longest a pause can go unseen by an entry).
//!
//! Real time on purpose (this is a measurement): wall clock, real sleeps, a real SQLite file.

use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tradai_domain::{Actor, ModelName, StrategyConfig, StrategyId, TradingStatus};
use tradai_embedded::{LocalArtifacts, SqliteStore};
use tradai_market::synth::{SynthConfig, generate};
use tradai_market::{Candle, Timeframe};
use tradai_ml::TrainConfig;
use tradai_ports::{Expect, Key, SystemClock, Table, Write};
use tradai_runbook::registry::NewVersion;
use tradai_runbook::{Config, Runbook};
use tradai_runner::{ReplayFeed, Runner, RunnerOptions, Speed, synthetic_live};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn tf() -> Res<Timeframe> {
    Timeframe::from_secs(3600).ok_or_else(|| "timeframe".into())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn show(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<44} n={:<5} p50={:>9.3?} p99={:>9.3?} max={:>9.3?}",
        v.len(),
        pct(&v, 0.5),
        pct(&v, 0.99),
        v.last().copied().unwrap_or_default()
    );
}

async fn setup(dir: &std::path::Path, strategy: &str) -> Res<Runbook> {
    let store = SqliteStore::open(&dir.join("tradai.db"), "bench")?;
    let artifacts = LocalArtifacts::open(&dir.join("artifacts"))?;
    let rb = Runbook::new(
        Arc::new(store),
        Arc::new(artifacts),
        Arc::new(SystemClock),
        Arc::new(Config::default()),
    );
    let model = ModelName::new("BenchModel")?;
    let actor = Actor::new("bench");
    let mut cfg = TrainConfig::new(tf()?, 1);
    cfg.train_period_days = 60;
    cfg.validation_days = 14;
    let candles = generate(&SynthConfig::new(tf()?, t0(), 80, 1), 0)?;
    let out = tradai_ml::train(&candles, &cfg)?;
    let mdir = dir.join("model");
    out.model.save(&mdir)?;
    let v = rb
        .model_register(&model, &mdir, NewVersion::default(), &actor)
        .await?;
    rb.model_promote(&model, v.version, &actor, None).await?;
    rb.strategy_add(
        StrategyConfig {
            strategy_id: StrategyId::new(strategy)?,
            model,
            stake_amount: 100.0,
            max_open_trades: 1,
            pairs: vec!["BTC/USDT".into()],
            timeframe: "1h".into(),
        },
        &actor,
    )
    .await?;
    Ok(rb)
}

async fn raw_status(rb: &Runbook, strategy: &str, status: &str) -> Res<()> {
    let key = Key::pk(strategy);
    let item = rb
        .store
        .get(Table::TRADING_STATE, &key)
        .await?
        .ok_or("no trading state")?;
    let mut doc = item.doc;
    doc["status"] = json!(status);
    rb.store
        .write(Write {
            table: Table::TRADING_STATE,
            key,
            doc: Some(doc),
            expect: Expect::Rev(item.rev),
            at: rb.clock.now(),
            audit: None,
        })
        .await?;
    Ok(())
}

async fn latency(dir: &std::path::Path) -> Res<()> {
    let rb = setup(dir, "LAT").await?;
    let candles: Vec<Candle> = generate(
        &SynthConfig::new(tf()?, t0() + CDuration::days(81), 100, 9),
        0,
    )?;
    let feed = ReplayFeed::new("BTC/USDT", Vec::new(), tf()?, Speed::Max);
    let mut r = Runner::new(
        rb.clone(),
        StrategyId::new("LAT")?,
        Box::new(feed),
        RunnerOptions::new(dir.join("cache")),
    );
    let (mut all, mut entries, mut exits, mut windows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    for c in &candles {
        let rep = r.step(*c).await?;
        if rep.model_version.is_none() {
            continue;
        }
        all.push(rep.latency);
        match rep.action {
            tradai_runner::Action::Entered { .. } => entries.push(rep.latency),
            tradai_runner::Action::Exited { .. } => exits.push(rep.latency),
            _ => {}
        }
        if let Some(w) = rep.entry_window {
            windows.push(w);
        }
    }
    println!(
        "{} candles (300 warm-up) in {:.2?}",
        candles.len(),
        start.elapsed()
    );
    show("candle-to-decision, every candle", all);
    show("candle-to-decision, candles with an entry", entries);
    show("candle-to-decision, candles with an exit", exits);
    show("status read -> entry written (pause blind spot)", windows);
    Ok(())
}

async fn pause_reaction(dir: &std::path::Path, speed: &str, trials: usize) -> Res<()> {
    let id = format!("P{}", speed.replace('x', ""));
    let rb = setup(dir, &id).await?;
    let feed = synthetic_live(
        "BTC/USDT",
        tf()?,
        Utc::now(),
        300,
        1_000_000,
        5,
        speed.parse()?,
    )?;
    let mut r = Runner::new(
        rb.clone(),
        StrategyId::new(id.as_str())?,
        Box::new(feed),
        RunnerOptions::new(dir.join("cache")),
    );
    let mut watch = r.status_watch();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        r.run(async {
            let _ = stop_rx.await;
        })
        .await
    });
    // Wait for warm-up to end.
    while *watch.borrow_and_update() != Some(TradingStatus::Running) {
        watch.changed().await?;
    }
    let mut seen = Vec::new();
    for k in 0..trials {
        // Spread the writes over the candle interval (offsets 0, 1/trials, 2/trials, … of it).
        let iv = speed.parse::<Speed>()?.interval(tf()?).unwrap_or_default();
        tokio::time::sleep(iv.mul_f64(k as f64 / trials as f64) + Duration::from_millis(50)).await;
        let t = Instant::now();
        raw_status(&rb, &id, "paused").await?;
        while *watch.borrow_and_update() != Some(TradingStatus::Paused) {
            watch.changed().await?;
        }
        seen.push(t.elapsed());
        raw_status(&rb, &id, "running").await?;
        while *watch.borrow_and_update() != Some(TradingStatus::Running) {
            watch.changed().await?;
        }
    }
    let _ = stop_tx.send(());
    let summary = task.await??;
    show(
        &format!("pause written -> seen by runner, feed {speed}"),
        seen,
    );
    println!(
        "  (run: {} candles, {} entries, {} errors)",
        summary.candles, summary.entries, summary.errors
    );
    Ok(())
}

fn main() -> Res<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tmp = tempfile::tempdir()?;
    rt.block_on(async {
        latency(&tmp.path().join("lat")).await?;
        pause_reaction(&tmp.path().join("p1"), "3600x", 10).await?;
        pause_reaction(&tmp.path().join("p2"), "36000x", 10).await?;
        Ok(())
    })
}
