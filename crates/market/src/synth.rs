//! A seedable synthetic market for demos and tests.
//!
//! # Model
//! Per-period log return of the close:
//!
//! ```text
//! r_t   = mu_k + phi * x_{t-1} + x_t                 (phi: "momentum", a short-lived predictable part)
//! x_t   = m_k * v_t * sqrt(h_t) * z_t                (z_t: Student-t with `tail_dof`, unit variance)
//! h_t   = omega + alpha * (sqrt(h_{t-1}) z_{t-1})^2 + beta * h_{t-1}     (GARCH(1,1))
//! omega = s^2 * (1 - alpha - beta),  s = annual_vol * sqrt(timeframe / 365d)
//! ```
//!
//! `k` is a two-state Markov regime (calm / turbulent) that switches with probability
//! `timeframe / mean_regime_days` per period; each regime has its own drift `mu_k` and volatility
//! multiplier `m_k`. After the optional [`RegimeShift`] date, `v_t = shift_vol` and
//! `shift_drift` is added to the per-period drift, so a model trained before the shift meets
//! genuinely different data after it (feature drift, worse metrics).
//!
//! Candles: `open_t = close_{t-1}`, `close_t = open_t * exp(r_t)`; high/low extend beyond
//! max/min(open, close) by half-normal wicks scaled by the period's volatility; volume is
//! log-normal and rises with the size of the shock (volume follows volatility, as in real markets).
//!
//! Every period draws the same number of random values in the same order from a ChaCha8 stream
//! seeded by `seed` (stream = pair index), so the output is a pure function of the configuration.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, StudentT};
use serde::{Deserialize, Serialize};

use crate::error::MarketError;
use crate::io::write_candles;
use crate::types::{Candle, DataFormat, Pair, Timeframe, freqtrade_file_name};

/// One market regime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Regime {
    /// Annualised drift of log returns in this regime.
    pub annual_drift: f64,
    /// Multiplier on the GARCH volatility in this regime.
    pub vol_mult: f64,
}

/// Generator parameters; the defaults look like a liquid crypto pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthParams {
    /// First open price.
    pub initial_price: f64,
    /// Long-run annualised volatility of log returns (before regime multipliers).
    pub annual_vol: f64,
    /// GARCH reaction to the last shock.
    pub garch_alpha: f64,
    /// GARCH persistence of variance.
    pub garch_beta: f64,
    /// Calm and turbulent regimes.
    pub regimes: [Regime; 2],
    /// Mean time spent in a regime, in days.
    pub mean_regime_days: f64,
    /// Fraction of the previous shock carried into the next return (the learnable signal).
    pub momentum: f64,
    /// Degrees of freedom of the Student-t shocks (fat tails); must be > 2.
    pub tail_dof: f64,
    /// Typical volume per period.
    pub base_volume: f64,
}

impl Default for SynthParams {
    fn default() -> Self {
        Self {
            initial_price: 30_000.0,
            annual_vol: 0.55,
            garch_alpha: 0.06,
            garch_beta: 0.92,
            regimes: [
                Regime {
                    annual_drift: 0.25,
                    vol_mult: 0.8,
                },
                Regime {
                    annual_drift: -0.35,
                    vol_mult: 1.5,
                },
            ],
            mean_regime_days: 30.0,
            momentum: 0.08,
            tail_dof: 5.0,
            base_volume: 1_000.0,
        }
    }
}

/// A change of market behaviour from a date on, to produce real drift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegimeShift {
    /// First candle (open time) affected.
    pub at: DateTime<Utc>,
    /// Volatility multiplier from `at` on (1 = unchanged).
    pub vol_mult: f64,
    /// Added to the per-period drift of log returns from `at` on (0 = unchanged).
    pub drift_add: f64,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Candle period.
    pub timeframe: Timeframe,
    /// Open time of the first candle (floored to the timeframe).
    pub start: DateTime<Utc>,
    /// Number of candles.
    pub candles: usize,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Model parameters.
    pub params: SynthParams,
    /// Optional regime shift.
    pub shift: Option<RegimeShift>,
}

impl SynthConfig {
    /// `days` days of `timeframe` candles from `start` with default parameters.
    pub fn new(timeframe: Timeframe, start: DateTime<Utc>, days: u32, seed: u64) -> Self {
        Self {
            timeframe,
            start,
            candles: timeframe.candles_in_days(days),
            seed,
            params: SynthParams::default(),
            shift: None,
        }
    }

    fn validate(&self) -> Result<(), MarketError> {
        let p = &self.params;
        let pos = |x: f64| x.is_finite() && x > 0.0;
        let checks = [
            (pos(p.initial_price), "initial_price must be > 0"),
            (pos(p.annual_vol), "annual_vol must be > 0"),
            (
                p.garch_alpha >= 0.0 && p.garch_beta >= 0.0 && p.garch_alpha + p.garch_beta < 1.0,
                "GARCH needs alpha >= 0, beta >= 0 and alpha + beta < 1",
            ),
            (
                pos(p.tail_dof - 2.0),
                "tail_dof must be > 2 (finite variance)",
            ),
            (pos(p.mean_regime_days), "mean_regime_days must be > 0"),
            (p.momentum.abs() < 1.0, "|momentum| must be < 1"),
            (
                p.regimes
                    .iter()
                    .all(|r| pos(r.vol_mult) && r.annual_drift.is_finite()),
                "regime vol_mult must be > 0 and drift finite",
            ),
            (
                self.shift
                    .is_none_or(|s| pos(s.vol_mult) && s.drift_add.is_finite()),
                "shift_vol must be > 0 and shift_drift finite",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err(MarketError::Config((*msg).to_string())),
            None => Ok(()),
        }
    }
}

/// Generate candles; `stream` separates independent series under one seed (use the pair index).
pub fn generate(cfg: &SynthConfig, stream: u64) -> Result<Vec<Candle>, MarketError> {
    cfg.validate()?;
    let p = &cfg.params;
    let tf = cfg.timeframe;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(stream);
    let t_dist =
        StudentT::new(p.tail_dof).map_err(|e| MarketError::Config(format!("tail_dof: {e}")))?;
    let t_scale = ((p.tail_dof - 2.0) / p.tail_dof).sqrt();

    let years_per_period = tf.secs() as f64 / (365.0 * 86_400.0);
    let s = p.annual_vol * years_per_period.sqrt();
    let omega = s * s * (1.0 - p.garch_alpha - p.garch_beta);
    let switch_p = (tf.secs() as f64 / (p.mean_regime_days * 86_400.0)).min(1.0);
    let mu = p.regimes.map(|r| r.annual_drift * years_per_period);

    let start_secs = cfg.start.timestamp().div_euclid(tf.secs()) * tf.secs();
    let mut h = s * s;
    let mut last_shock = 0.0_f64; // sqrt(h) * z of the previous period, feeds GARCH
    let mut last_x = 0.0_f64; // full shock of the previous period, feeds momentum
    let mut regime = 0usize;
    let mut price = p.initial_price;
    let mut out = Vec::with_capacity(cfg.candles);
    for i in 0..cfg.candles {
        let offset = i64::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(tf.secs()))
            .and_then(|o| o.checked_add(start_secs))
            .ok_or_else(|| MarketError::Config("too many candles".into()))?;
        let ts = DateTime::from_timestamp(offset, 0)
            .ok_or_else(|| MarketError::Config("timestamp out of range".into()))?;
        // Fixed draw order: regime switch, shock, two wicks, volume noise.
        let u: f64 = rng.random();
        let z: f64 = t_dist.sample(&mut rng) * t_scale;
        let w_hi: f64 = StandardNormal.sample(&mut rng);
        let w_lo: f64 = StandardNormal.sample(&mut rng);
        let v_n: f64 = StandardNormal.sample(&mut rng);
        if i > 0 && u < switch_p {
            regime = 1 - regime;
        }
        h = omega + p.garch_alpha * last_shock * last_shock + p.garch_beta * h;
        let (shift_vol, shift_drift) = match &cfg.shift {
            Some(sh) if ts >= sh.at => (sh.vol_mult, sh.drift_add),
            _ => (1.0, 0.0),
        };
        let sigma = p.regimes[regime].vol_mult * shift_vol * h.sqrt();
        let x = sigma * z;
        let r = mu[regime] + shift_drift + p.momentum * last_x + x;
        last_shock = h.sqrt() * z;
        last_x = x;

        let open = price;
        let close = open * r.exp();
        let high = open.max(close) * (0.5 * sigma * w_hi.abs()).exp();
        let low = open.min(close) * (-0.5 * sigma * w_lo.abs()).exp();
        let volume = p.base_volume * (0.3 * v_n).exp() * (1.0 + 2.0 * (x / s).abs());
        out.push(Candle {
            ts,
            open,
            high,
            low,
            close,
            volume,
        });
        price = close;
    }
    Ok(out)
}

/// Generate one series per pair (stream = pair index) and write each under freqtrade's name in
/// `dir` (futures pairs in `dir/futures/`, as freqtrade lays them out). Returns the paths written.
pub fn write_dataset(
    dir: &Path,
    pairs: &[Pair],
    cfg: &SynthConfig,
    format: DataFormat,
) -> Result<Vec<PathBuf>, MarketError> {
    let mut written = Vec::with_capacity(pairs.len());
    for (i, pair) in pairs.iter().enumerate() {
        let candles = generate(cfg, i as u64)?;
        let target = if pair.is_futures() {
            dir.join("futures")
        } else {
            dir.to_path_buf()
        };
        std::fs::create_dir_all(&target).map_err(|e| MarketError::io(&target, e))?;
        let path = target.join(freqtrade_file_name(pair, cfg.timeframe, format));
        write_candles(&path, format, &candles)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckConfig, check_candles};

    fn cfg(days: u32, seed: u64) -> SynthConfig {
        let start = DateTime::from_timestamp(1_704_067_200, 0).unwrap();
        SynthConfig::new("1h".parse().unwrap(), start, days, seed)
    }

    fn log_returns(c: &[Candle]) -> Vec<f64> {
        c.iter().map(|c| (c.close / c.open).ln()).collect()
    }

    fn std(x: &[f64]) -> f64 {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = generate(&cfg(30, 7), 0).unwrap();
        assert_eq!(a, generate(&cfg(30, 7), 0).unwrap());
        assert_ne!(a, generate(&cfg(30, 8), 0).unwrap());
        assert_ne!(a, generate(&cfg(30, 7), 1).unwrap());
        assert_eq!(a.len(), 720);
    }

    #[test]
    fn output_passes_every_quality_check() {
        let c = generate(&cfg(365, 1), 0).unwrap();
        let r = check_candles(&c, &CheckConfig::new("1h".parse().unwrap()));
        assert!(r.passed(), "{r:#?}");
    }

    #[test]
    fn volatility_is_near_target_and_clusters() {
        let c = generate(&cfg(730, 3), 0).unwrap();
        let r = log_returns(&c);
        let annual = std(&r) * (365.0_f64 * 24.0).sqrt();
        assert!(annual > 0.35 && annual < 1.0, "annualised vol {annual}");
        // Volatility clustering: |r| is positively autocorrelated.
        let a: Vec<f64> = r.iter().map(|v| v.abs()).collect();
        let m = a.iter().sum::<f64>() / a.len() as f64;
        let num: f64 = a.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
        let den: f64 = a.iter().map(|v| (v - m).powi(2)).sum();
        assert!(num / den > 0.05, "abs-return autocorrelation {}", num / den);
    }

    #[test]
    fn regime_shift_changes_volatility_after_the_date_only() {
        let base = cfg(120, 5);
        let mut shifted = base.clone();
        let at = base.start + chrono::Duration::days(60);
        shifted.shift = Some(RegimeShift {
            at,
            vol_mult: 3.0,
            drift_add: 0.0,
        });
        let a = generate(&base, 0).unwrap();
        let b = generate(&shifted, 0).unwrap();
        let k = a.iter().position(|c| c.ts >= at).unwrap();
        assert_eq!(a[..k], b[..k]);
        let ratio = std(&log_returns(&b[k..])) / std(&log_returns(&a[k..]));
        assert!(ratio > 2.0, "vol ratio after shift {ratio}");
    }

    #[test]
    fn bad_parameters_are_errors() {
        let mut c = cfg(1, 1);
        c.params.garch_alpha = 0.5;
        c.params.garch_beta = 0.6;
        assert!(generate(&c, 0).is_err());
        let mut c = cfg(1, 1);
        c.shift = Some(RegimeShift {
            at: c.start,
            vol_mult: 0.0,
            drift_add: 0.0,
        });
        assert!(generate(&c, 0).is_err());
    }

    #[test]
    fn dataset_uses_freqtrade_layout() {
        let dir = tempfile::tempdir().unwrap();
        let pairs = [
            "BTC/USDT".parse().unwrap(),
            "ETH/USDT:USDT".parse().unwrap(),
        ];
        let paths = write_dataset(dir.path(), &pairs, &cfg(2, 1), DataFormat::Feather).unwrap();
        assert!(paths[0].ends_with("BTC_USDT-1h.feather"));
        assert!(paths[1].ends_with("futures/ETH_USDT_USDT-1h-futures.feather"));
        assert_eq!(crate::io::load_candles(&paths[1]).unwrap().len(), 48);
    }
}
