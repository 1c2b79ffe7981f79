//! Features: one implementation for training and serving.
//!
//! [`FeatureEngine`] is a streaming calculator: feed it candles in time order and it returns the
//! feature vector of the candle just fed, computed from that candle and earlier ones only. The
//! batch form [`compute_features`] is nothing but the engine run over a slice, so training and the
//! live runner cannot disagree, and no feature can look ahead.
//!
//! | name | definition |
//! |---|---|
//! | `ret_k` (k = 1, 3, 6, 12, 24) | `ln(close_t / close_{t-k})` |
//! | `vol_k` (k = 12, 24) | sample std of the last k one-period log returns |
//! | `rsi_14` | Wilder's RSI (0–100): SMA seed over the first 14 changes, then `(prev*13 + x)/14` |
//! | `macd` | `(EMA12(close) - EMA26(close)) / close`, EMAs seeded with the first close |
//! | `macd_signal` | EMA9 of `macd` |
//! | `macd_hist` | `macd - macd_signal` |
//! | `volume_z_24` | `(v_t - mean) / std` over the last 24 volumes (0 when std is 0) |
//! | `range` | `ln(high / low)` of the candle |
//! | `close_loc` | `(close - low) / (high - low)`, 0.5 when high == low |
//!
//! Values are `None` until [`WARMUP`] candles have been seen. EMA-based features (RSI, MACD)
//! remember their whole history with geometrically fading weight: a runner that starts from a
//! shorter history than training did sees slightly different values; after
//! [`RECOMMENDED_HISTORY`] candles the difference is below 1e-6 relative.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use tradai_market::Candle;

use crate::error::MlError;

/// Version of the feature definitions; stored with every model and checked at load.
pub const FEATURES_VERSION: &str = "tradai-features-v1";

/// Every feature the engine computes, in output order.
pub const ALL_FEATURES: [&str; 14] = [
    "ret_1",
    "ret_3",
    "ret_6",
    "ret_12",
    "ret_24",
    "vol_12",
    "vol_24",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "volume_z_24",
    "range",
    "close_loc",
];

/// Candles needed before the first feature vector (EMA26 + EMA9 settling for MACD).
pub const WARMUP: usize = 35;

/// History a live runner should replay before trusting EMA-based features (see module docs).
pub const RECOMMENDED_HISTORY: usize = 300;

const RSI_N: usize = 14;
const RET_WINDOWS: [usize; 5] = [1, 3, 6, 12, 24];
const MAX_LOOKBACK: usize = 24;

/// The feature list (and definitions version) a model was trained with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSet {
    /// Version of the definitions ([`FEATURES_VERSION`]).
    pub version: String,
    /// Feature names in the order the model consumes them.
    pub names: Vec<String>,
}

impl Default for FeatureSet {
    fn default() -> Self {
        Self::v1()
    }
}

impl FeatureSet {
    /// All v1 features.
    pub fn v1() -> Self {
        Self {
            version: FEATURES_VERSION.to_string(),
            names: ALL_FEATURES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A subset of the v1 features, in the given order; unknown or repeated names are errors.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Result<Self, MlError> {
        let set = Self {
            version: FEATURES_VERSION.to_string(),
            names: names.iter().map(|s| s.as_ref().to_string()).collect(),
        };
        set.indices()?;
        Ok(set)
    }

    /// Positions of the names in [`ALL_FEATURES`]; fails on an unknown version or name.
    pub fn indices(&self) -> Result<Vec<usize>, MlError> {
        if self.version != FEATURES_VERSION {
            return Err(MlError::FeatureSet(format!(
                "version {:?} is not supported (this build computes {FEATURES_VERSION:?})",
                self.version
            )));
        }
        if self.names.is_empty() {
            return Err(MlError::FeatureSet("no features".into()));
        }
        let mut out = Vec::with_capacity(self.names.len());
        for n in &self.names {
            let i = ALL_FEATURES
                .iter()
                .position(|f| f == n)
                .ok_or_else(|| MlError::FeatureSet(format!("unknown feature {n:?}")))?;
            if out.contains(&i) {
                return Err(MlError::FeatureSet(format!("feature {n:?} listed twice")));
            }
            out.push(i);
        }
        Ok(out)
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when the set has no features.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
struct Ema {
    alpha: f64,
    value: Option<f64>,
}

impl Ema {
    fn new(span: usize) -> Self {
        Self {
            alpha: 2.0 / (span as f64 + 1.0),
            value: None,
        }
    }

    fn update(&mut self, x: f64) -> f64 {
        let v = match self.value {
            None => x,
            Some(prev) => prev + self.alpha * (x - prev),
        };
        self.value = Some(v);
        v
    }
}

/// Streaming feature calculator (see the module docs for definitions).
#[derive(Debug, Clone)]
pub struct FeatureEngine {
    idx: Vec<usize>,
    seen: usize,
    closes: VecDeque<f64>,
    rets: VecDeque<f64>,
    volumes: VecDeque<f64>,
    rsi_gain: f64,
    rsi_loss: f64,
    ema_fast: Ema,
    ema_slow: Ema,
    ema_signal: Ema,
    all: [f64; ALL_FEATURES.len()],
}

impl FeatureEngine {
    /// An engine producing `set`'s features in `set`'s order.
    pub fn new(set: &FeatureSet) -> Result<Self, MlError> {
        Ok(Self {
            idx: set.indices()?,
            seen: 0,
            closes: VecDeque::with_capacity(MAX_LOOKBACK + 1),
            rets: VecDeque::with_capacity(MAX_LOOKBACK),
            volumes: VecDeque::with_capacity(MAX_LOOKBACK),
            rsi_gain: 0.0,
            rsi_loss: 0.0,
            ema_fast: Ema::new(12),
            ema_slow: Ema::new(26),
            ema_signal: Ema::new(9),
            all: [f64::NAN; ALL_FEATURES.len()],
        })
    }

    /// Number of features per vector.
    pub fn width(&self) -> usize {
        self.idx.len()
    }

    /// Candles fed so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Feed the next candle; writes its features into `out` (length [`Self::width`]) and returns
    /// true once warmed up. Before that `out` is filled with NaN.
    pub fn update_into(&mut self, c: &Candle, out: &mut [f64]) -> bool {
        self.step(c);
        let ready = self.seen >= WARMUP;
        for (o, &i) in out.iter_mut().zip(&self.idx) {
            *o = if ready { self.all[i] } else { f64::NAN };
        }
        ready
    }

    /// Feed the next candle; its feature vector once warmed up.
    pub fn update(&mut self, c: &Candle) -> Option<Vec<f64>> {
        let mut out = vec![0.0; self.width()];
        self.update_into(c, &mut out).then_some(out)
    }

    fn step(&mut self, c: &Candle) {
        self.seen += 1;
        let prev_close = self.closes.back().copied();
        push_bounded(&mut self.closes, c.close, MAX_LOOKBACK + 1);
        push_bounded(&mut self.volumes, c.volume, MAX_LOOKBACK);
        if let Some(p) = prev_close {
            push_bounded(&mut self.rets, (c.close / p).ln(), MAX_LOOKBACK);
            // Wilder RSI: seed with the mean of the first 14 changes, then smooth.
            let d = c.close - p;
            let (g, l) = (d.max(0.0), (-d).max(0.0));
            let changes = self.seen - 1;
            if changes <= RSI_N {
                self.rsi_gain += g / RSI_N as f64;
                self.rsi_loss += l / RSI_N as f64;
            } else {
                let n = RSI_N as f64;
                self.rsi_gain = (self.rsi_gain * (n - 1.0) + g) / n;
                self.rsi_loss = (self.rsi_loss * (n - 1.0) + l) / n;
            }
        }
        let fast = self.ema_fast.update(c.close);
        let slow = self.ema_slow.update(c.close);
        let macd = (fast - slow) / c.close;
        let signal = self.ema_signal.update(macd);

        let a = &mut self.all;
        let n = self.closes.len();
        for (k, w) in RET_WINDOWS.iter().enumerate() {
            a[k] = if n > *w {
                (c.close / self.closes[n - 1 - w]).ln()
            } else {
                f64::NAN
            };
        }
        a[5] = tail_std(&self.rets, 12);
        a[6] = tail_std(&self.rets, 24);
        a[7] = if self.seen > RSI_N {
            if self.rsi_loss == 0.0 {
                if self.rsi_gain == 0.0 { 50.0 } else { 100.0 }
            } else {
                100.0 - 100.0 / (1.0 + self.rsi_gain / self.rsi_loss)
            }
        } else {
            f64::NAN
        };
        a[8] = macd;
        a[9] = signal;
        a[10] = macd - signal;
        a[11] = if self.volumes.len() == MAX_LOOKBACK {
            let (m, s) = mean_std(self.volumes.iter().copied());
            if s > 0.0 { (c.volume - m) / s } else { 0.0 }
        } else {
            f64::NAN
        };
        a[12] = (c.high / c.low).ln();
        let span = c.high - c.low;
        a[13] = if span > 0.0 {
            (c.close - c.low) / span
        } else {
            0.5
        };
    }
}

fn push_bounded(q: &mut VecDeque<f64>, x: f64, cap: usize) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(x);
}

/// Sample std of the last `k` values, NaN if fewer than `k`.
fn tail_std(q: &VecDeque<f64>, k: usize) -> f64 {
    if q.len() < k {
        return f64::NAN;
    }
    let (_, s) = mean_std(q.iter().skip(q.len() - k).copied());
    s
}

/// Mean and sample standard deviation (two-pass, so the result depends only on the values).
fn mean_std(it: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (mut n, mut sum) = (0usize, 0.0);
    for x in it.clone() {
        n += 1;
        sum += x;
    }
    if n < 2 {
        return (sum, 0.0);
    }
    let m = sum / n as f64;
    let ss: f64 = it.map(|x| (x - m) * (x - m)).sum();
    (m, (ss / (n - 1) as f64).sqrt())
}

/// Features of every candle, row-major; rows before warm-up are NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMatrix {
    /// Column names (the feature set's order).
    pub names: Vec<String>,
    /// Number of rows (= candles).
    pub rows: usize,
    /// `rows * names.len()` values, row-major.
    pub data: Vec<f64>,
}

impl FeatureMatrix {
    /// Features of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.names.len();
        &self.data[i * w..(i + 1) * w]
    }

    /// True when every value of row `i` is finite (warmed up, no NaN input).
    pub fn row_ok(&self, i: usize) -> bool {
        self.row(i).iter().all(|v| v.is_finite())
    }

    /// One column as a vector (for drift reference profiles).
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let j = self.names.iter().position(|n| n == name)?;
        let w = self.names.len();
        Some((0..self.rows).map(|i| self.data[i * w + j]).collect())
    }
}

/// Batch form: the streaming engine run over `candles` (identical values by construction).
pub fn compute_features(candles: &[Candle], set: &FeatureSet) -> Result<FeatureMatrix, MlError> {
    let mut engine = FeatureEngine::new(set)?;
    let w = engine.width();
    let mut data = vec![0.0; candles.len() * w];
    for (c, out) in candles.iter().zip(data.chunks_exact_mut(w)) {
        engine.update_into(c, out);
    }
    Ok(FeatureMatrix {
        names: set.names.clone(),
        rows: candles.len(),
        data,
    })
}

/// Features of the last candle of a trailing window (for a runner without engine state); `None`
/// if the window is shorter than [`WARMUP`]. Use at least [`RECOMMENDED_HISTORY`] candles.
pub fn features_at_end(window: &[Candle], set: &FeatureSet) -> Result<Option<Vec<f64>>, MlError> {
    let mut engine = FeatureEngine::new(set)?;
    let mut last = None;
    for c in window {
        last = engine.update(c);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn candles(closes: &[f64]) -> Vec<Candle> {
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| Candle {
                ts: DateTime::from_timestamp(1_704_067_200 + i as i64 * 3600, 0).unwrap(),
                open: c,
                high: c * 1.01,
                low: c * 0.99,
                close: c,
                volume: 100.0 + (i % 5) as f64,
            })
            .collect()
    }

    fn feature(m: &FeatureMatrix, name: &str, row: usize) -> f64 {
        m.column(name).unwrap()[row]
    }

    #[test]
    fn returns_are_log_ratios() {
        let c: Vec<f64> = (0..40).map(|i| 100.0 * 1.01_f64.powi(i)).collect();
        let m = compute_features(&candles(&c), &FeatureSet::v1()).unwrap();
        let r = WARMUP - 1;
        assert!(!m.row_ok(r - 1));
        assert!(m.row_ok(r));
        for (name, k) in [("ret_1", 1.0), ("ret_3", 3.0), ("ret_24", 24.0)] {
            assert!(
                (feature(&m, name, r) - k * 1.01_f64.ln()).abs() < 1e-12,
                "{name}"
            );
        }
        // Constant growth: zero volatility, RSI 100 (no losses).
        assert!(feature(&m, "vol_24", r).abs() < 1e-12);
        assert_eq!(feature(&m, "rsi_14", r), 100.0);
    }

    #[test]
    fn rsi_golden_value() {
        // Changes alternate +2, -1 from 100. First 14 changes: 7 gains of 2, 7 losses of 1:
        // avg gain 1.0, avg loss 0.5 -> RSI = 100 - 100/3 = 66.666...
        // 15th change +2: gain (1.0*13+2)/14 = 15/14, loss 0.5*13/14 = 6.5/14 -> RS = 15/6.5,
        // RSI = 100 - 100/(1 + 15/6.5) = 69.767441860...
        let mut c = vec![100.0];
        for i in 0..40 {
            let last = c[c.len() - 1];
            c.push(if i % 2 == 0 { last + 2.0 } else { last - 1.0 });
        }
        let mut e = FeatureEngine::new(&FeatureSet::new(&["rsi_14"]).unwrap()).unwrap();
        let cs = candles(&c);
        let mut vals = Vec::new();
        for x in &cs {
            e.step(x);
            vals.push(e.all[7]);
        }
        assert!(vals[13].is_nan());
        assert!((vals[14] - 200.0 / 3.0).abs() < 1e-12, "{}", vals[14]);
        assert!(
            (vals[15] - (100.0 - 100.0 / (1.0 + 15.0 / 6.5))).abs() < 1e-12,
            "{}",
            vals[15]
        );
    }

    #[test]
    fn macd_and_volume_z_golden_values() {
        // Closes 10, 11: EMA12 = 10 + (2/13)*1, EMA26 = 10 + (2/27)*1,
        // macd = (2/13 - 2/27)/11, signal = 0 + (2/10)*macd... after seeding with macd_0 = 0.
        let cs = candles(&[10.0, 11.0]);
        let mut e = FeatureEngine::new(&FeatureSet::v1()).unwrap();
        e.step(&cs[0]);
        assert_eq!(e.all[8], 0.0);
        e.step(&cs[1]);
        let macd = (2.0 / 13.0 - 2.0 / 27.0) / 11.0;
        assert!((e.all[8] - macd).abs() < 1e-15);
        assert!((e.all[9] - 0.2 * macd).abs() < 1e-15);
        assert!((e.all[10] - 0.8 * macd).abs() < 1e-15);
        // Volumes 100..104 repeating: last 24 volumes of 35 candles are i = 11..34,
        // v = 100 + i%5. The last one (i = 34) is 104.
        let cs = candles(&[50.0; 35]);
        let m = compute_features(
            &cs,
            &FeatureSet::new(&["volume_z_24", "range", "close_loc"]).unwrap(),
        )
        .unwrap();
        let v: Vec<f64> = (11..35).map(|i| 100.0 + (i % 5) as f64).collect();
        let mean = v.iter().sum::<f64>() / 24.0;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 23.0).sqrt();
        let row = m.row(34);
        assert!((row[0] - (104.0 - mean) / sd).abs() < 1e-12);
        assert!((row[1] - (1.01_f64 / 0.99).ln()).abs() < 1e-12);
        assert!((row[2] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn feature_set_validation() {
        assert!(FeatureSet::new(&["ret_1", "nope"]).is_err());
        assert!(FeatureSet::new(&["ret_1", "ret_1"]).is_err());
        let empty: [&str; 0] = [];
        assert!(FeatureSet::new(&empty).is_err());
        let mut s = FeatureSet::v1();
        s.version = "other".into();
        assert!(FeatureEngine::new(&s).is_err());
    }

    #[test]
    fn streaming_equals_batch_and_trailing_window_converges() {
        let cfg = tradai_market::synth::SynthConfig::new(
            "1h".parse().unwrap(),
            DateTime::from_timestamp(1_704_067_200, 0).unwrap(),
            60,
            9,
        );
        let cs = tradai_market::synth::generate(&cfg, 0).unwrap();
        let set = FeatureSet::v1();
        let batch = compute_features(&cs, &set).unwrap();
        let mut e = FeatureEngine::new(&set).unwrap();
        for (i, c) in cs.iter().enumerate() {
            match e.update(c) {
                Some(v) => assert_eq!(v.as_slice(), batch.row(i)),
                None => assert!(i < WARMUP - 1),
            }
        }
        let last = cs.len() - 1;
        let tail = features_at_end(&cs[cs.len() - RECOMMENDED_HISTORY..], &set)
            .unwrap()
            .unwrap();
        for (a, b) in tail.iter().zip(batch.row(last)) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-3), "{a} vs {b}");
        }
    }
}
