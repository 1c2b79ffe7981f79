//! Benchmarks (no timing assertions): `cargo bench -p tradai-ml --bench ml_bench`.
//!
//! 1. Training + validation backtest on 2 years of 1h candles for one pair (target ≤ 10 s).
//! 2. Backtester throughput in candles per second (target ≥ 1 M/s).
//! 3. Feature engine throughput, for reference.

use std::hint::black_box;
use std::time::Instant;

use chrono::DateTime;
use tradai_market::synth::{SynthConfig, generate};
use tradai_ml::backtest::{BacktestConfig, PairInput, Signal, backtest};
use tradai_ml::features::{FeatureSet, compute_features};
use tradai_ml::train::{TrainConfig, train};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = DateTime::from_timestamp(1_672_531_200, 0).ok_or("bad start")?;
    let h1 = "1h".parse()?;

    // 1. Train + validate on 730 days of 1h candles (670 train, 60 validation).
    let candles = generate(&SynthConfig::new(h1, start, 730, 42), 0)?;
    let mut cfg = TrainConfig::new(h1, 42);
    cfg.train_period_days = 670;
    cfg.validation_days = 60;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        last = Some(black_box(train(&candles, &cfg)?));
        times.push(t.elapsed().as_secs_f64());
    }
    let out = last.ok_or("no run")?;
    let m = out.model.manifest();
    println!(
        "train+validate: {} candles, {} train rows, median {:.1} ms (min {:.1} ms); validation IC {:.3}, backtest trades {}",
        candles.len(),
        m.metrics.train.rows,
        median(times.clone()) * 1e3,
        times.iter().cloned().fold(f64::INFINITY, f64::min) * 1e3,
        m.metrics.validation.ic,
        m.metrics.validation_backtest.trades,
    );

    // 2. Backtester throughput: 2 M 1m candles, signals flipping every few candles.
    let m1 = "1m".parse()?;
    let big = generate(&SynthConfig::new(m1, start, 1389, 7), 0)?;
    let signals: Vec<Signal> = big
        .iter()
        .map(|c| {
            if c.close > c.open * 1.0005 {
                Signal::Enter
            } else if c.close < c.open * 0.9995 {
                Signal::Exit
            } else {
                Signal::Hold
            }
        })
        .collect();
    let bcfg = BacktestConfig::new(m1);
    let mut rates = Vec::new();
    let mut trades = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = black_box(backtest(
            &bcfg,
            &[PairInput {
                pair: "BTC/USDT",
                candles: &big,
                signals: &signals,
            }],
        )?);
        rates.push(big.len() as f64 / t.elapsed().as_secs_f64());
        trades = r.metrics.trades;
    }
    println!(
        "backtest: {} candles, {} trades, median {:.2} M candles/s",
        big.len(),
        trades,
        median(rates) / 1e6
    );

    // 3. Features.
    let t = Instant::now();
    let f = black_box(compute_features(&big, &FeatureSet::v1())?);
    println!(
        "features: {} candles x {} features in {:.0} ms ({:.2} M candles/s)",
        f.rows,
        f.names.len(),
        t.elapsed().as_secs_f64() * 1e3,
        f.rows as f64 / t.elapsed().as_secs_f64() / 1e6
    );
    Ok(())
}
