//! Backtests of registered versions: one window, rolling windows logged as experiment runs, and
//! the champion/challenger evaluation compare-models uses.
//!
//! # Rolling runs and market time
//! Each rolling window `[start, end)` is logged in `backtest-{model}` with tags `model`,
//! `version`, `window_start`, `window_end` and **`start_time = end_time = end`**: the run is dated
//! by the market time it covers, not by when the backtest ran (that is tag `executed_at`). So
//! drift-monitor's reference/current periods, which select runs by start time, select the
//! windows of those periods even when a month of windows is backfilled in one command. The run id
//! is `bt-v{version}-{end}`, so re-running the same windows replaces runs instead of adding
//! duplicates.

use crate::{Training, TrainingError, backtest_experiment, data};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tradai_domain::decide::compare::{Comparison, compare};
use tradai_domain::registry::artifact_prefix;
use tradai_domain::{ModelName, ModelStage};
use tradai_market::{Candle, Timeframe};
use tradai_ml::backtest::UnlimitedStake;
use tradai_ml::{BacktestConfig, BacktestMetrics, PairInput, ServedModel, Signal, StakeAmount};
use tradai_ports::Run;
use tradai_runbook::{ModelVersion, Runbook};

/// A half-open market-time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A version's backtest on one window.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestReport {
    pub model_name: ModelName,
    pub version: u64,
    pub window: Window,
    pub pairs: Vec<String>,
    pub metrics: BacktestMetrics,
    /// The strategy whose stake and `max_open_trades` were used, if any.
    pub strategy: Option<String>,
    /// The run logged for this window (rolling mode only).
    pub run_id: Option<String>,
}

/// One side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct VersionMetrics {
    pub version: u64,
    pub stage: ModelStage,
    pub metrics: BTreeMap<String, f64>,
}

/// Champion and challenger backtested on the same window, and the comparison rules' verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub model_name: ModelName,
    pub window: Window,
    pub pairs: Vec<String>,
    pub champion: VersionMetrics,
    pub challenger: VersionMetrics,
    pub comparison: Comparison,
}

/// Backtest settings: the strategy trading the model (the configured one, else the first by id)
/// gives stake and `max_open_trades`; the wallet is at least 1000 and at least enough for every
/// slot's stake. Without a strategy: the backtester's defaults.
pub(crate) async fn strategy_backtest_config(
    rb: &Runbook,
    cfg: &crate::ModelConfig,
    tf: Timeframe,
) -> Result<(BacktestConfig, Option<String>), TrainingError> {
    let mut bt = BacktestConfig::new(tf);
    let strategy = match &cfg.strategy {
        Some(id) => Some(rb.strategy_show(id).await?),
        None => {
            let mut all = rb.strategies_for_model(cfg.model_name.as_str()).await?;
            all.sort_by(|a, b| a.config.strategy_id.cmp(&b.config.strategy_id));
            all.into_iter().next()
        }
    };
    let Some(s) = strategy else {
        return Ok((bt, None));
    };
    let slots = s.config.max_open_trades.max(1) as usize;
    bt.max_open_trades = slots;
    bt.stake_amount = StakeAmount::Fixed(s.config.stake_amount);
    bt.starting_balance = bt
        .starting_balance
        .max(s.config.stake_amount * slots as f64 * 1.01);
    Ok((bt, Some(s.config.strategy_id.to_string())))
}

/// A fetched version with predictions and signals over every loaded candle.
struct Prepared {
    version: ModelVersion,
    signals: Vec<Vec<Signal>>,
}

/// Loaded candles of the model's pairs.
struct Market {
    pairs: Vec<data::PairData>,
    tf: Timeframe,
}

impl Market {
    /// The end shared by every pair's data (the earliest last candle's close).
    fn end(&self) -> Option<DateTime<Utc>> {
        self.pairs
            .iter()
            .filter_map(|p| p.candles.last().map(|c| c.ts + self.tf.duration()))
            .min()
    }

    fn names(&self) -> Vec<String> {
        self.pairs.iter().map(|p| p.pair.to_string()).collect()
    }
}

fn slice(candles: &[Candle], w: &Window) -> std::ops::Range<usize> {
    candles.partition_point(|c| c.ts < w.from)..candles.partition_point(|c| c.ts < w.to)
}

/// Backtest metrics as the comparison rules read them.
pub fn metric_values(m: &BacktestMetrics) -> BTreeMap<String, f64> {
    match serde_json::to_value(m) {
        Ok(serde_json::Value::Object(o)) => o
            .into_iter()
            .filter_map(|(k, v)| v.as_f64().map(|x| (k, x)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

impl Training {
    /// Resolves a version given as a number, `Production` (the serving pointer) or `Staging`
    /// (the newest Staging version); `None` = the Production version, else the newest version.
    pub async fn resolve_version(
        &self,
        model: &ModelName,
        spec: Option<&str>,
    ) -> Result<u64, TrainingError> {
        let rb = &self.runbook;
        let none = |what: &str| {
            TrainingError::Invalid(format!(
                "model '{model}' has no {what} version (see `tradai model versions {model}`)"
            ))
        };
        match spec.map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("production") => rb
                .model_serving(model)
                .await?
                .and_then(|p| p.model_version.parse().ok())
                .ok_or_else(|| none("Production")),
            Some(s) if s.eq_ignore_ascii_case("staging") => rb
                .model_latest_staging(model)
                .await?
                .map(|v| v.version)
                .ok_or_else(|| none("Staging")),
            Some(s) => {
                let v: u64 = s.parse().map_err(|_| {
                    TrainingError::Invalid(format!(
                        "version '{s}': expected a number, Production or Staging"
                    ))
                })?;
                Ok(rb.model_version(model, v).await?.version)
            }
            None => match rb
                .model_serving(model)
                .await?
                .and_then(|p| p.model_version.parse().ok())
            {
                Some(v) => Ok(v),
                None => rb
                    .model_versions(model)
                    .await?
                    .last()
                    .map(|v| v.version)
                    .ok_or_else(|| none("registered")),
            },
        }
    }

    async fn market(
        &self,
        cfg: &crate::ModelConfig,
        data_override: Option<&Path>,
    ) -> Result<Market, TrainingError> {
        let tf = cfg.timeframe()?;
        let path = match (data_override, &cfg.data_dir) {
            (Some(p), _) => p.to_path_buf(),
            (None, Some(d)) => PathBuf::from(d),
            (None, None) => {
                return Err(TrainingError::Invalid(format!(
                    "model '{}' has no data_dir; pass --data PATH or set it with `tradai model config`",
                    cfg.model_name
                )));
            }
        };
        let pairs = data::load(&path, &cfg.parsed_pairs()?, tf)?;
        for p in &pairs {
            if p.candles.windows(2).any(|w| w[1].ts <= w[0].ts) {
                return Err(TrainingError::Invalid(format!(
                    "{}: timestamps are not strictly increasing (run `tradai data check {}`)",
                    p.file.display(),
                    p.file.display()
                )));
            }
        }
        Ok(Market { pairs, tf })
    }

    async fn prepare(
        &self,
        model: &ModelName,
        version: u64,
        market: &Market,
    ) -> Result<Prepared, TrainingError> {
        let v = self.runbook.model_version(model, version).await?;
        let dir = tempfile::Builder::new()
            .prefix("tradai-model-")
            .tempdir()
            .map_err(|e| TrainingError::io("temporary model directory", e))?;
        let info = self
            .runbook
            .artifacts
            .get_dir(&artifact_prefix(model.as_str(), version), dir.path())
            .await?;
        if info.sha256 != v.sha256 {
            return Err(TrainingError::Invalid(format!(
                "{model} version {version}: the artifact at {} does not match its registered checksum (sha256 {} != {}); it was changed after registration",
                info.url, info.sha256, v.sha256
            )));
        }
        let m = ServedModel::load(dir.path())?;
        if m.timeframe() != market.tf {
            return Err(TrainingError::Invalid(format!(
                "{model} version {version} was trained on {} candles, the data is {}",
                m.timeframe(),
                market.tf
            )));
        }
        let signals = market
            .pairs
            .iter()
            .map(|p| m.predict_candles(&p.candles).map(|(_, s)| s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Prepared {
            version: v,
            signals,
        })
    }

    fn run_window(
        &self,
        p: &Prepared,
        market: &Market,
        bt: &BacktestConfig,
        w: &Window,
    ) -> Result<BacktestMetrics, TrainingError> {
        let names = market.names();
        let mut inputs = Vec::with_capacity(market.pairs.len());
        for ((d, sig), name) in market.pairs.iter().zip(&p.signals).zip(&names) {
            let r = slice(&d.candles, w);
            if r.is_empty() {
                return Err(TrainingError::Invalid(format!(
                    "{}: no {} candles in [{}, {})",
                    d.file.display(),
                    d.pair,
                    tradai_domain::time::fmt_ts(w.from),
                    tradai_domain::time::fmt_ts(w.to)
                )));
            }
            inputs.push(PairInput {
                pair: name,
                candles: &d.candles[r.clone()],
                signals: &sig[r],
            });
        }
        Ok(tradai_ml::backtest(bt, &inputs)?.metrics)
    }

    /// The default window: the last `validation_days` of the data every pair covers.
    fn default_window(cfg: &crate::ModelConfig, market: &Market) -> Result<Window, TrainingError> {
        let to = market
            .end()
            .ok_or_else(|| TrainingError::Invalid("the data has no candles".into()))?;
        Ok(Window {
            from: to - Duration::days(i64::from(cfg.validation_days)),
            to,
        })
    }

    /// Backtests one version on `window` (default: the most recent `validation_days` of the
    /// data) over the model's pairs, with the strategy's stake and `max_open_trades`.
    pub async fn backtest_version(
        &self,
        model: &ModelName,
        version: u64,
        window: Option<Window>,
        data_override: Option<&Path>,
    ) -> Result<BacktestReport, TrainingError> {
        let cfg = self.model_config(model).await?.config;
        let market = self.market(&cfg, data_override).await?;
        let (bt, strategy) = strategy_backtest_config(&self.runbook, &cfg, market.tf).await?;
        let w = match window {
            Some(w) => w,
            None => Self::default_window(&cfg, &market)?,
        };
        check_window(&w)?;
        let p = self.prepare(model, version, &market).await?;
        let metrics = self.run_window(&p, &market, &bt, &w)?;
        Ok(BacktestReport {
            model_name: model.clone(),
            version,
            window: w,
            pairs: market.names(),
            metrics,
            strategy,
            run_id: None,
        })
    }

    /// Backtests one version on consecutive windows of length `step` covering `range` (default:
    /// the last `reference_period_days + current_period_days` of the data) and logs one run per
    /// window in `backtest-{model}` (see the module docs for how runs are dated).
    pub async fn backtest_rolling(
        &self,
        model: &ModelName,
        version: u64,
        range: Option<Window>,
        step: Duration,
        data_override: Option<&Path>,
    ) -> Result<Vec<BacktestReport>, TrainingError> {
        if step <= Duration::zero() {
            return Err(TrainingError::Invalid(
                "rolling step must be positive".into(),
            ));
        }
        let cfg = self.model_config(model).await?.config;
        let market = self.market(&cfg, data_override).await?;
        let (bt, strategy) = strategy_backtest_config(&self.runbook, &cfg, market.tf).await?;
        let range = match range {
            Some(r) => r,
            None => {
                let to = market
                    .end()
                    .ok_or_else(|| TrainingError::Invalid("the data has no candles".into()))?;
                let d = &self.runbook.config.drift;
                let days = i64::from(d.reference_period_days + d.current_period_days);
                Window {
                    from: to - Duration::days(days),
                    to,
                }
            }
        };
        check_window(&range)?;
        if range.from + step > range.to {
            return Err(TrainingError::Invalid(format!(
                "window {} .. {} is shorter than one rolling step",
                tradai_domain::time::fmt_ts(range.from),
                tradai_domain::time::fmt_ts(range.to)
            )));
        }
        let p = self.prepare(model, version, &market).await?;
        // Every window is computed before any run is logged: bad input logs nothing.
        let mut windows = Vec::new();
        let mut from = range.from;
        while from + step <= range.to {
            let w = Window {
                from,
                to: from + step,
            };
            windows.push((w, self.run_window(&p, &market, &bt, &w)?));
            from += step;
        }
        let executed_at = self.runbook.clock.now();
        let mut out = Vec::with_capacity(windows.len());
        for (w, metrics) in windows {
            let end = tradai_domain::time::fmt_ts(w.to);
            let run = Run {
                run_id: format!("bt-v{version}-{}", w.to.format("%Y%m%dT%H%M%SZ")),
                experiment: backtest_experiment(model),
                status: "finished".into(),
                start_time: w.to,
                end_time: Some(w.to),
                params: BTreeMap::from([
                    ("step_seconds".into(), step.num_seconds().to_string()),
                    ("pairs".into(), market.names().join(",")),
                    ("timeframe".into(), market.tf.to_string()),
                    ("fee".into(), bt.fee.to_string()),
                    ("slippage".into(), bt.slippage.to_string()),
                    ("max_open_trades".into(), bt.max_open_trades.to_string()),
                    (
                        "stake_amount".into(),
                        match bt.stake_amount {
                            StakeAmount::Fixed(s) => s.to_string(),
                            StakeAmount::Unlimited(UnlimitedStake::Unlimited) => "unlimited".into(),
                        },
                    ),
                ]),
                metrics: metric_values(&metrics),
                tags: BTreeMap::from([
                    ("model".into(), model.to_string()),
                    ("version".into(), version.to_string()),
                    ("window_start".into(), tradai_domain::time::fmt_ts(w.from)),
                    ("window_end".into(), end),
                    ("kind".into(), "rolling_backtest".into()),
                    (
                        "executed_at".into(),
                        tradai_domain::time::fmt_ts(executed_at),
                    ),
                ]),
            };
            self.tracker.log_run(&run).await?;
            out.push(BacktestReport {
                model_name: model.clone(),
                version: p.version.version,
                window: w,
                pairs: market.names(),
                metrics,
                strategy: strategy.clone(),
                run_id: Some(run.run_id),
            });
        }
        Ok(out)
    }

    /// Backtests champion and challenger on the same window (default: the most recent
    /// `validation_days` of the data) and applies the comparison rules with
    /// `MIN_CONFIDENCE_THRESHOLD`. What compare-models calls.
    pub async fn evaluate_pair(
        &self,
        model: &ModelName,
        champion: u64,
        challenger: u64,
        window: Option<Window>,
        data_override: Option<&Path>,
    ) -> Result<Evaluation, TrainingError> {
        let cfg = self.model_config(model).await?.config;
        let market = self.market(&cfg, data_override).await?;
        let (bt, _) = strategy_backtest_config(&self.runbook, &cfg, market.tf).await?;
        let w = match window {
            Some(w) => w,
            None => Self::default_window(&cfg, &market)?,
        };
        check_window(&w)?;
        let a = self.prepare(model, champion, &market).await?;
        let b = self.prepare(model, challenger, &market).await?;
        let ma = metric_values(&self.run_window(&a, &market, &bt, &w)?);
        let mb = metric_values(&self.run_window(&b, &market, &bt, &w)?);
        let comparison = compare(
            &ma,
            &mb,
            self.runbook.config.retraining.min_confidence_threshold,
        );
        Ok(Evaluation {
            model_name: model.clone(),
            window: w,
            pairs: market.names(),
            champion: VersionMetrics {
                version: champion,
                stage: a.version.stage,
                metrics: ma,
            },
            challenger: VersionMetrics {
                version: challenger,
                stage: b.version.stage,
                metrics: mb,
            },
            comparison,
        })
    }
}

fn check_window(w: &Window) -> Result<(), TrainingError> {
    if w.from >= w.to {
        return Err(TrainingError::Invalid(format!(
            "window from {} is not before to {}",
            tradai_domain::time::fmt_ts(w.from),
            tradai_domain::time::fmt_ts(w.to)
        )));
    }
    Ok(())
}
