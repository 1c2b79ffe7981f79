//! End-to-end: synthetic data → features → training → artifact → serving → backtest.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use tradai_market::Candle;
use tradai_market::synth::{RegimeShift, SynthConfig, generate};
use tradai_ml::backtest::{BacktestConfig, PairInput, Signal, backtest};
use tradai_ml::features::{FeatureSet, compute_features};
use tradai_ml::model::Model;
use tradai_ml::train::{TrainConfig, train};

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap()
}

fn market(days: u32, seed: u64) -> Vec<Candle> {
    generate(
        &SynthConfig::new("1h".parse().unwrap(), start(), days, seed),
        0,
    )
    .unwrap()
}

fn cfg(seed: u64) -> TrainConfig {
    let mut c = TrainConfig::new("1h".parse().unwrap(), seed);
    c.pair = Some("BTC/USDT".into());
    c.train_period_days = 300;
    c.validation_days = 60;
    c
}

#[test]
fn training_is_deterministic_and_learns_the_momentum() {
    let candles = market(365, 11);
    let a = train(&candles, &cfg(1)).unwrap();
    let b = train(&candles, &cfg(1)).unwrap();
    assert_eq!(a.model, b.model);
    let m = a.model.manifest();
    // The generator carries 8% of each shock into the next return: the model must find a
    // positive out-of-sample correlation with next period's return.
    assert!(
        m.metrics.validation.ic > 0.02,
        "validation IC {}",
        m.metrics.validation.ic
    );
    assert!(m.metrics.validation.rows > 1000);
    assert_eq!(m.train_window.to, m.validation_window.from);
    assert_eq!(
        m.validation_window.to - m.validation_window.from,
        Duration::days(60)
    );
    assert!(m.signal.enter_above >= m.signal.exit_below);
    assert_eq!(a.train_predictions.len(), a.train_features.rows);
    // Training rows never use a close from the validation window.
    let last_train_target = m.train_window.to;
    assert!(candles.iter().filter(|c| c.ts < last_train_target).count() > a.train_features.rows);
}

#[test]
fn artifact_round_trip_and_serving_matches_batch() {
    let candles = market(200, 4);
    let mut c = cfg(3);
    c.train_period_days = 150;
    c.validation_days = 30;
    let out = train(&candles, &c).unwrap();
    let dir = tempfile::tempdir().unwrap();
    out.model.save(dir.path()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["kind"], "ridge_regression");
    assert_eq!(manifest["feature_set"]["version"], "tradai-features-v1");
    assert!(manifest["metrics"]["validation_backtest"]["sharpe_ratio"].is_number());
    let loaded = Model::load(dir.path()).unwrap();
    assert_eq!(loaded, out.model);

    // Live path: streaming engine + predict == batch predictions.
    let (batch_pred, batch_sig) = loaded.predict_candles(&candles).unwrap();
    let mut engine = loaded.feature_engine().unwrap();
    for (i, candle) in candles.iter().enumerate() {
        match engine.update(candle) {
            Some(f) => {
                let p = loaded.predict(&f);
                assert_eq!(p.to_bits(), batch_pred[i].to_bits());
                assert_eq!(loaded.signal(p), batch_sig[i]);
            }
            None => assert!(batch_pred[i].is_nan()),
        }
    }
    // Wrong or missing input never panics.
    assert!(loaded.predict(&[1.0]).is_nan());
    assert_eq!(loaded.signal(f64::NAN), Signal::Hold);
}

#[test]
fn damaged_artifacts_are_refused() {
    let candles = market(120, 2);
    let mut c = cfg(1);
    c.train_period_days = 90;
    c.validation_days = 20;
    let out = train(&candles, &c).unwrap();
    let dir = tempfile::tempdir().unwrap();
    out.model.save(dir.path()).unwrap();
    let path = dir.path().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    assert!(
        Model::load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("format_version 99")
    );
    std::fs::write(
        &path,
        text.replace("tradai-features-v1", "tradai-features-v0"),
    )
    .unwrap();
    assert!(Model::load(dir.path()).is_err());
    std::fs::write(&path, &text).unwrap();
    std::fs::write(dir.path().join("weights.json"), "{").unwrap();
    assert!(
        Model::load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("weights.json")
    );
}

#[test]
fn too_little_data_is_an_error_not_a_panic() {
    let candles = market(3, 1);
    assert!(train(&candles, &cfg(1)).is_err());
    assert!(train(&[], &cfg(1)).is_err());
    let mut unsorted = market(60, 1);
    unsorted.swap(10, 11);
    assert!(train(&unsorted, &cfg(1)).is_err());
}

#[test]
fn regime_shift_degrades_validation() {
    // Vol x3 and a negative drift from the validation window on: the fit gets worse.
    let base = SynthConfig::new("1h".parse().unwrap(), start(), 365, 21);
    let mut shifted = base.clone();
    shifted.shift = Some(RegimeShift {
        at: start() + Duration::days(305),
        vol_mult: 3.0,
        drift_add: -0.002,
    });
    let a = train(&generate(&base, 0).unwrap(), &cfg(1)).unwrap();
    let b = train(&generate(&shifted, 0).unwrap(), &cfg(1)).unwrap();
    let (ma, mb) = (&a.model.manifest().metrics, &b.model.manifest().metrics);
    assert!(
        mb.validation.mse > 3.0 * ma.validation.mse,
        "{} vs {}",
        mb.validation.mse,
        ma.validation.mse
    );
}

fn signals_and_trades(candles: &[Candle], model: &Model) -> (Vec<Signal>, Vec<tradai_ml::Trade>) {
    let (_, sig) = model.predict_candles(candles).unwrap();
    let cfg = BacktestConfig::new("1h".parse().unwrap());
    let r = backtest(
        &cfg,
        &[PairInput {
            pair: "BTC/USDT",
            candles,
            signals: &sig,
        }],
    )
    .unwrap();
    (sig, r.trades)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Changing candles after index k never changes signals up to k, nor trades closed by then.
    #[test]
    fn no_look_ahead(seed in 0u64..1000, other in 0u64..1000, k in 60usize..700) {
        let candles = market(30, seed);
        let model = {
            let train_on = market(120, 5);
            let mut c = cfg(1);
            c.train_period_days = 90;
            c.validation_days = 20;
            let mut m = train(&train_on, &c).unwrap().model;
            // Tight thresholds so that the property is exercised with many trades.
            let mut manifest = m.manifest().clone();
            manifest.signal.enter_above = 0.0;
            manifest.signal.exit_below = 0.0;
            m = Model::new(manifest, m.weights().clone()).unwrap();
            m
        };
        let mut changed = candles.clone();
        let replacement = market(30, other + 1000);
        let scale = candles[k].close / replacement[k].open;
        for i in k + 1..changed.len() {
            let r = replacement[i];
            changed[i] = Candle { ts: candles[i].ts, open: r.open * scale, high: r.high * scale, low: r.low * scale, close: r.close * scale, volume: r.volume };
        }
        let (s1, t1) = signals_and_trades(&candles, &model);
        let (s2, t2) = signals_and_trades(&changed, &model);
        prop_assert_eq!(&s1[..=k], &s2[..=k]);
        let cutoff = candles[k].ts;
        let closed = |t: &[tradai_ml::Trade]| t.iter().filter(|t| t.close_date <= cutoff).cloned().collect::<Vec<_>>();
        prop_assert_eq!(closed(&t1), closed(&t2));
        // Features too.
        let f1 = compute_features(&candles, &FeatureSet::v1()).unwrap();
        let f2 = compute_features(&changed, &FeatureSet::v1()).unwrap();
        let w = f1.names.len();
        prop_assert_eq!(
            f1.data[..(k + 1) * w].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            f2.data[..(k + 1) * w].iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    /// Metrics are consistent with the trades: profit adds up, ratios in range.
    #[test]
    fn backtest_accounting(seed in 0u64..1000, pattern in proptest::collection::vec(0u8..3, 50..400)) {
        let candles = market(20, seed);
        let n = pattern.len().min(candles.len());
        let candles = &candles[..n];
        let sig: Vec<Signal> = pattern[..n].iter().map(|p| match p { 0 => Signal::Hold, 1 => Signal::Enter, _ => Signal::Exit }).collect();
        let cfg = BacktestConfig::new("1h".parse().unwrap());
        let r = backtest(&cfg, &[PairInput { pair: "X", candles, signals: &sig }]).unwrap();
        let m = &r.metrics;
        let sum: f64 = r.trades.iter().map(|t| t.profit_abs).sum();
        prop_assert!((sum - m.profit_total_abs).abs() < 1e-6 * cfg.starting_balance);
        prop_assert!((m.profit_total * 100.0 - m.profit_total_pct).abs() < 1e-9);
        prop_assert!((0.0..=1.0).contains(&m.win_rate));
        prop_assert!((0.0..=1.0).contains(&m.max_drawdown));
        prop_assert!(m.profit_factor >= 0.0 && m.sharpe_ratio.is_finite() && m.sortino.is_finite());
        prop_assert_eq!(m.trades, r.trades.len());
        for t in &r.trades {
            prop_assert!(t.close_date > t.open_date);
        }
    }
}
