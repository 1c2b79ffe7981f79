//! The built-in trainer: ridge regression of the next period's log return.
//!
//! Why ridge: financial returns are mostly noise with fat tails and slowly changing structure.
//! A linear model on standardised, clipped features with an L2 penalty has few degrees of
//! freedom, cannot memorise noise the way deep trees do, trains in milliseconds and is easy to
//! inspect. Robustness measures:
//! - features are standardised with training statistics and clipped to ±`feature_clip` σ;
//! - the target is winsorised at ±`target_clip` σ of the training targets;
//! - the penalty λ is chosen on the last `inner_validation` fraction of the training window
//!   (time-ordered, never shuffled; rows whose target crosses the split are dropped), then the
//!   model is refitted on the whole training window;
//! - training rows whose target would need a close from the validation window are dropped
//!   (purging), so validation is truly out of sample.
//!
//! The fit is closed-form (Cholesky on `XᵀX + λnI`), so the result does not depend on the seed;
//! the seed is recorded in the manifest so a run can be repeated exactly and future stochastic
//! learners keep the same interface.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tradai_market::{Candle, Timeframe};

use crate::backtest::{BacktestConfig, PairInput, Signal, backtest};
use crate::error::MlError;
use crate::features::{FeatureMatrix, FeatureSet, compute_features};
use crate::model::{
    FORMAT_VERSION, LinearWeights, Manifest, Model, ModelKind, ModelMetrics, SignalRule, Target,
    TargetKind, WEIGHTS_FILE, Window,
};

/// Training configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Pair name recorded in the manifest.
    pub pair: Option<String>,
    /// Candle period of the data.
    pub timeframe: Timeframe,
    /// Features to use.
    pub feature_set: FeatureSet,
    /// Periods ahead to predict.
    pub horizon: usize,
    /// Length of the training window in days.
    pub train_period_days: u32,
    /// Length of the validation window (right after training) in days.
    pub validation_days: u32,
    /// End (exclusive) of the validation window; default: just after the last candle.
    pub end: Option<DateTime<Utc>>,
    /// Candidate penalties, relative to the number of rows (λ·n is added to XᵀX's diagonal).
    pub lambdas: Vec<f64>,
    /// Fraction of the training window used to choose λ.
    pub inner_validation: f64,
    /// Clip standardised features to ± this many σ.
    pub feature_clip: f64,
    /// Winsorise the target at ± this many σ.
    pub target_clip: f64,
    /// Entry threshold = this quantile of training predictions (at least 0).
    pub entry_quantile: f64,
    /// Exit threshold = this quantile of training predictions (at most the entry threshold).
    pub exit_quantile: f64,
    /// Seed (recorded; the closed-form fit is deterministic anyway).
    pub seed: u64,
    /// Backtest settings for the validation backtest.
    pub backtest: BacktestConfig,
}

impl TrainConfig {
    /// Defaults: all v1 features, horizon 1, 1 year train, 30 days validation.
    pub fn new(timeframe: Timeframe, seed: u64) -> Self {
        Self {
            pair: None,
            timeframe,
            feature_set: FeatureSet::v1(),
            horizon: 1,
            train_period_days: 365,
            validation_days: 30,
            end: None,
            lambdas: vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
            inner_validation: 0.2,
            feature_clip: 5.0,
            target_clip: 4.0,
            entry_quantile: 0.8,
            exit_quantile: 0.5,
            seed,
            backtest: BacktestConfig::new(timeframe),
        }
    }

    fn validate(&self) -> Result<(), MlError> {
        let ok = self.horizon >= 1
            && self.train_period_days >= 1
            && self.validation_days >= 1
            && !self.lambdas.is_empty()
            && self.lambdas.iter().all(|l| l.is_finite() && *l >= 0.0)
            && self.inner_validation > 0.0
            && self.inner_validation < 0.9
            && self.feature_clip > 0.0
            && self.target_clip > 0.0
            && (0.0..=1.0).contains(&self.entry_quantile)
            && (0.0..=1.0).contains(&self.exit_quantile)
            && self.backtest.timeframe == self.timeframe;
        if ok {
            Ok(())
        } else {
            Err(MlError::Config(
                "training needs horizon >= 1, positive windows, lambdas >= 0, 0 < inner_validation < 0.9, \
                 positive clips, quantiles in [0, 1] and the backtest timeframe equal to the data's"
                    .into(),
            ))
        }
    }
}

/// Fit quality of predictions against realised targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Rows scored.
    pub rows: usize,
    /// Mean squared error.
    pub mse: f64,
    /// `1 - mse / var(target)` (can be negative out of sample).
    pub r2: f64,
    /// Pearson correlation of prediction and target (information coefficient).
    pub ic: f64,
    /// Share of rows where the sign of the prediction matches the sign of the target.
    pub hit_rate: f64,
}

/// What training returns: the model plus what the registry and drift monitor need.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The trained model (manifest filled in, ready to [`Model::save`]).
    pub model: Model,
    /// Features of the training rows (for the drift reference profile).
    pub train_features: FeatureMatrix,
    /// Model predictions on the training rows (for the prediction reference profile).
    pub train_predictions: Vec<f64>,
    /// Validation-window predictions, one per validation candle (NaN where unavailable).
    pub validation_predictions: Vec<f64>,
}

/// Train on the configured window of `candles` (time-ordered, one pair) and validate on the
/// period after it.
pub fn train(candles: &[Candle], cfg: &TrainConfig) -> Result<TrainOutcome, MlError> {
    cfg.validate()?;
    let last = candles
        .last()
        .ok_or_else(|| MlError::InsufficientData("no candles".into()))?;
    if candles.windows(2).any(|w| w[1].ts <= w[0].ts) {
        return Err(MlError::InsufficientData(
            "candles are not strictly increasing in time; run `tradai data check`".into(),
        ));
    }
    let valid_end = cfg.end.unwrap_or(last.ts + cfg.timeframe.duration());
    let valid_start = valid_end - Duration::days(i64::from(cfg.validation_days));
    let train_start = valid_start - Duration::days(i64::from(cfg.train_period_days));

    let feats = compute_features(candles, &cfg.feature_set)?;
    let h = cfg.horizon;
    let target = |i: usize| -> f64 {
        match candles.get(i + h) {
            Some(next) => (next.close / candles[i].close).ln(),
            None => f64::NAN,
        }
    };
    // Rows usable in a window: features finite, target finite and inside the window.
    let rows_in = |from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<usize> {
        (0..candles.len())
            .filter(|&i| candles[i].ts >= from && candles[i].ts < to)
            .filter(|&i| candles.get(i + h).is_some_and(|n| n.ts < to))
            .filter(|&i| feats.row_ok(i) && target(i).is_finite())
            .collect()
    };
    let train_rows = rows_in(train_start, valid_start);
    let valid_rows = rows_in(valid_start, valid_end);
    let p = cfg.feature_set.len();
    if train_rows.len() < 10 * (p + 1) {
        return Err(MlError::InsufficientData(format!(
            "{} usable training rows in [{train_start}, {valid_start}); need at least {}",
            train_rows.len(),
            10 * (p + 1)
        )));
    }
    if valid_rows.is_empty() {
        return Err(MlError::InsufficientData(format!(
            "no usable validation rows in [{valid_start}, {valid_end})"
        )));
    }

    // Standardisation from the training rows only.
    let (mean, scale) = column_stats(&feats, &train_rows);
    let y_all: Vec<f64> = train_rows.iter().map(|&i| target(i)).collect();
    let (y_mean, y_sd) = mean_sd(&y_all);
    let y_lim = cfg.target_clip * y_sd.max(1e-12);
    let clip_y = |y: f64| y.clamp(y_mean - y_lim, y_mean + y_lim);
    let design = |rows: &[usize]| -> Vec<f64> {
        let mut x = Vec::with_capacity(rows.len() * p);
        for &i in rows {
            for (j, v) in feats.row(i).iter().enumerate() {
                x.push(((v - mean[j]) / scale[j]).clamp(-cfg.feature_clip, cfg.feature_clip));
            }
        }
        x
    };

    // Choose λ on the tail of the training window (purged at the split).
    let split = ((1.0 - cfg.inner_validation) * train_rows.len() as f64) as usize;
    let (fit_rows, hold_rows) = train_rows.split_at(split);
    let fit_rows: Vec<usize> = fit_rows
        .iter()
        .copied()
        .filter(|&i| hold_rows.first().is_none_or(|&first| i + h < first))
        .collect();
    let mut best = (f64::INFINITY, cfg.lambdas[0]);
    if fit_rows.len() > p + 1 && !hold_rows.is_empty() {
        let xf = design(&fit_rows);
        let yf: Vec<f64> = fit_rows.iter().map(|&i| clip_y(target(i))).collect();
        let xh = design(hold_rows);
        let yh: Vec<f64> = hold_rows.iter().map(|&i| target(i)).collect();
        for &lambda in &cfg.lambdas {
            let (coef, b) = ridge(&xf, &yf, p, lambda)?;
            let mse = yh
                .iter()
                .enumerate()
                .map(|(r, y)| (dot(&coef, &xh[r * p..(r + 1) * p]) + b - y).powi(2))
                .sum::<f64>()
                / yh.len() as f64;
            if mse < best.0 {
                best = (mse, lambda);
            }
        }
    }
    let lambda = best.1;

    let x = design(&train_rows);
    let y: Vec<f64> = y_all.iter().map(|&v| clip_y(v)).collect();
    let (coef, intercept) = ridge(&x, &y, p, lambda)?;
    let weights = LinearWeights {
        mean,
        scale,
        clip: cfg.feature_clip,
        coef,
        intercept,
    };

    let predict = |i: usize| -> f64 {
        let r = feats.row(i);
        if r.iter().all(|v| v.is_finite()) {
            weights.predict(r)
        } else {
            f64::NAN
        }
    };
    let train_pred: Vec<f64> = train_rows.iter().map(|&i| predict(i)).collect();
    let valid_pred: Vec<f64> = valid_rows.iter().map(|&i| predict(i)).collect();
    let train_metrics = regression_metrics(&train_pred, &y_all);
    let valid_y: Vec<f64> = valid_rows.iter().map(|&i| target(i)).collect();
    let valid_metrics = regression_metrics(&valid_pred, &valid_y);

    let mut sorted = train_pred.clone();
    sorted.sort_by(f64::total_cmp);
    let enter_above = quantile(&sorted, cfg.entry_quantile).max(0.0);
    let exit_below = quantile(&sorted, cfg.exit_quantile).min(enter_above);
    let rule = SignalRule {
        enter_above,
        exit_below,
    };

    // Validation backtest over every candle of the validation window.
    let v_from = candles.partition_point(|c| c.ts < valid_start);
    let v_to = candles.partition_point(|c| c.ts < valid_end);
    let v_candles = &candles[v_from..v_to];
    let v_preds: Vec<f64> = (v_from..v_to).map(predict).collect();
    let v_signals: Vec<Signal> = v_preds.iter().map(|&x| rule.signal(x)).collect();
    let bt = backtest(
        &cfg.backtest,
        &[PairInput {
            pair: cfg.pair.as_deref().unwrap_or("pair"),
            candles: v_candles,
            signals: &v_signals,
        }],
    )?;

    let mut hyper = serde_json::Map::new();
    hyper.insert("lambda".into(), serde_json::json!(lambda));
    hyper.insert(
        "inner_validation_mse".into(),
        serde_json::json!(if best.0.is_finite() { best.0 } else { 0.0 }),
    );
    hyper.insert("feature_clip".into(), serde_json::json!(cfg.feature_clip));
    hyper.insert("target_clip".into(), serde_json::json!(cfg.target_clip));
    hyper.insert(
        "entry_quantile".into(),
        serde_json::json!(cfg.entry_quantile),
    );
    hyper.insert("exit_quantile".into(), serde_json::json!(cfg.exit_quantile));
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        kind: ModelKind::RidgeRegression,
        feature_set: cfg.feature_set.clone(),
        target: Target {
            kind: TargetKind::LogReturn,
            horizon: h,
        },
        pair: cfg.pair.clone(),
        timeframe: cfg.timeframe,
        train_window: Window {
            from: train_start,
            to: valid_start,
        },
        validation_window: Window {
            from: valid_start,
            to: valid_end,
        },
        seed: cfg.seed,
        hyperparameters: hyper,
        metrics: ModelMetrics {
            train: train_metrics,
            validation: valid_metrics,
            validation_backtest: bt.metrics,
        },
        signal: rule,
        weights_file: WEIGHTS_FILE.to_string(),
        created_by: format!("tradai-ml {}", env!("CARGO_PKG_VERSION")),
    };
    let w = p;
    let mut tf_data = Vec::with_capacity(train_rows.len() * w);
    for &i in &train_rows {
        tf_data.extend_from_slice(feats.row(i));
    }
    Ok(TrainOutcome {
        model: Model::new(manifest, weights)?,
        train_features: FeatureMatrix {
            names: feats.names.clone(),
            rows: train_rows.len(),
            data: tf_data,
        },
        train_predictions: train_pred,
        validation_predictions: v_preds,
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.len() < 2 {
        return (v.iter().sum::<f64>() / n.max(1.0), 0.0);
    }
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

fn column_stats(m: &FeatureMatrix, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let p = m.names.len();
    let mut mean = vec![0.0; p];
    let mut scale = vec![1.0; p];
    for j in 0..p {
        let col: Vec<f64> = rows.iter().map(|&i| m.row(i)[j]).collect();
        let (mu, sd) = mean_sd(&col);
        mean[j] = mu;
        scale[j] = if sd > 1e-12 { sd } else { 1.0 };
    }
    (mean, scale)
}

/// Ridge with an unpenalised intercept: centre X and y, solve `(XᵀX + λ n I) w = Xᵀy`.
pub(crate) fn ridge(
    x: &[f64],
    y: &[f64],
    p: usize,
    lambda: f64,
) -> Result<(Vec<f64>, f64), MlError> {
    let n = y.len();
    let mut xm = vec![0.0; p];
    for r in 0..n {
        for j in 0..p {
            xm[j] += x[r * p + j];
        }
    }
    xm.iter_mut().for_each(|v| *v /= n as f64);
    let ym = y.iter().sum::<f64>() / n as f64;
    let mut a = vec![0.0; p * p];
    let mut b = vec![0.0; p];
    let mut row = vec![0.0; p];
    for r in 0..n {
        for j in 0..p {
            row[j] = x[r * p + j] - xm[j];
        }
        let yr = y[r] - ym;
        for j in 0..p {
            b[j] += row[j] * yr;
            for k in 0..=j {
                a[j * p + k] += row[j] * row[k];
            }
        }
    }
    for j in 0..p {
        for k in 0..j {
            a[k * p + j] = a[j * p + k];
        }
        a[j * p + j] += lambda * n as f64 + 1e-12;
    }
    let w = cholesky_solve(&mut a, &b, p)?;
    let intercept = ym - dot(&w, &xm);
    Ok((w, intercept))
}

/// Solve `A w = b` for symmetric positive definite `A` (overwritten by its Cholesky factor).
fn cholesky_solve(a: &mut [f64], b: &[f64], p: usize) -> Result<Vec<f64>, MlError> {
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= a[j * p + k] * a[j * p + k];
        }
        if !(d.is_finite() && d > 0.0) {
            return Err(MlError::Numerical(
                "normal equations are not positive definite (non-finite features?)".into(),
            ));
        }
        let d = d.sqrt();
        a[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= a[i * p + k] * a[j * p + k];
            }
            a[i * p + j] = s / d;
        }
    }
    let mut z = vec![0.0; p];
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * p + k] * z[k];
        }
        z[i] = s / a[i * p + i];
    }
    let mut w = vec![0.0; p];
    for i in (0..p).rev() {
        let mut s = z[i];
        for k in i + 1..p {
            s -= a[k * p + i] * w[k];
        }
        w[i] = s / a[i * p + i];
    }
    Ok(w)
}

/// Regression metrics of `pred` against `y` (rows where either is non-finite are skipped).
pub fn regression_metrics(pred: &[f64], y: &[f64]) -> RegressionMetrics {
    let pairs: Vec<(f64, f64)> = pred
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    let n = pairs.len();
    if n == 0 {
        return RegressionMetrics {
            rows: 0,
            mse: 0.0,
            r2: 0.0,
            ic: 0.0,
            hit_rate: 0.0,
        };
    }
    let nf = n as f64;
    let mse = pairs.iter().map(|(p, t)| (p - t).powi(2)).sum::<f64>() / nf;
    let my = pairs.iter().map(|(_, t)| t).sum::<f64>() / nf;
    let mp = pairs.iter().map(|(p, _)| p).sum::<f64>() / nf;
    let vy = pairs.iter().map(|(_, t)| (t - my).powi(2)).sum::<f64>() / nf;
    let vp = pairs.iter().map(|(p, _)| (p - mp).powi(2)).sum::<f64>() / nf;
    let cov = pairs.iter().map(|(p, t)| (p - mp) * (t - my)).sum::<f64>() / nf;
    let hits = pairs
        .iter()
        .filter(|(p, t)| *t != 0.0 && p.signum() == t.signum())
        .count();
    let nonzero = pairs.iter().filter(|(_, t)| *t != 0.0).count();
    RegressionMetrics {
        rows: n,
        mse,
        r2: if vy > 0.0 { 1.0 - mse / vy } else { 0.0 },
        ic: if vy > 0.0 && vp > 0.0 {
            cov / (vy * vp).sqrt()
        } else {
            0.0
        },
        hit_rate: if nonzero > 0 {
            hits as f64 / nonzero as f64
        } else {
            0.0
        },
    }
}

/// Linear-interpolated quantile of sorted values (0 for an empty slice).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantile_and_metrics_golden() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&s, 0.5), 3.0);
        assert_eq!(quantile(&s, 0.8), 4.2);
        let m = regression_metrics(&[1.0, -1.0, 2.0], &[2.0, -1.0, -2.0]);
        assert_eq!(m.rows, 3);
        assert!((m.mse - 17.0 / 3.0).abs() < 1e-12);
        assert!((m.hit_rate - 2.0 / 3.0).abs() < 1e-12);
    }

    proptest! {
        /// With no noise and a tiny penalty, ridge recovers the generating coefficients.
        #[test]
        fn ridge_recovers_known_coefficients(
            coef in proptest::collection::vec(-3.0f64..3.0, 1..6),
            intercept in -2.0f64..2.0,
            seed in 0u64..1000,
        ) {
            use rand::{Rng, SeedableRng};
            let p = coef.len();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let n = 200;
            let x: Vec<f64> = (0..n * p).map(|_| rng.random_range(-1.0..1.0)).collect();
            let y: Vec<f64> = (0..n).map(|r| intercept + dot(&coef, &x[r * p..(r + 1) * p])).collect();
            let (w, b) = ridge(&x, &y, p, 1e-10).unwrap();
            for (a, e) in w.iter().zip(&coef) {
                prop_assert!((a - e).abs() < 1e-6, "{a} vs {e}");
            }
            prop_assert!((b - intercept).abs() < 1e-6);
            // A large penalty shrinks towards zero.
            let (ws, _) = ridge(&x, &y, p, 1e3).unwrap();
            prop_assert!(ws.iter().map(|v| v.abs()).sum::<f64>() < coef.iter().map(|v| v.abs()).sum::<f64>() + 1e-9);
        }
    }
}
