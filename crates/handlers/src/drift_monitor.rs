//! drift-monitor (contracts §3): metric drift of each model's backtest runs between the
//! reference and current windows, with tradai's sample-size-honest PSI (`tradai-drift`).
//!
//! Windows: current = the last `current_period_days` before now; reference = the
//! `reference_period_days` immediately before it. Fewer than `MIN_SAMPLES` runs in either window
//! → `insufficient_data`, no alert. The result is stored as the model's drift state (and its
//! history); the drift alarms are evaluated; when a model's severity rises, the response policy
//! acts on it. One model's failure counts in `summary.errors` and never stops the others.

use crate::{Ctx, HandlerError, alarms, parse, policy, retraining_scheduler, to_json};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tradai_domain::decide::alarm::Band;
use tradai_domain::policy::Event;
use tradai_domain::{Actor, ModelName, Severity};
use tradai_drift::{
    Aggregate, Binning, CompareConfig, FeatureStatus, Thresholds, aggregate, compare_feature,
    compare_feature_dependent, current_numeric, profile_numeric,
};
use tradai_ports::RunFilter;
use tradai_runbook::DriftState;

/// The monitored backtest metrics.
pub const METRICS: [&str; 4] = ["profit_total", "win_rate", "sharpe_ratio", "max_drawdown"];

/// The contract's input (all optional).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Input {
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub experiment_prefix: Option<String>,
    #[serde(default)]
    pub reference_period_days: Option<u32>,
    #[serde(default)]
    pub current_period_days: Option<u32>,
}

/// A window of the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub start: String,
    pub end: String,
    pub samples: usize,
}

/// One metric's drift (contract keys first, then tradai's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDrift {
    pub metric: String,
    pub psi: f64,
    pub severity: Severity,
    pub reference_mean: Option<f64>,
    pub current_mean: Option<f64>,
    pub raw_severity: Severity,
    pub p_value: f64,
    pub significant: bool,
    pub noise_psi: f64,
    pub bins_used: usize,
}

/// One live feature's drift against the serving version's training reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDriftItem {
    pub feature: String,
    pub psi: f64,
    pub severity: Severity,
    pub raw_severity: Severity,
    pub p_value: f64,
    pub significant: bool,
    pub noise_psi: f64,
    pub reference_mean: Option<f64>,
    pub current_mean: Option<f64>,
    pub samples: u64,
    /// `samples` discounted for autocorrelation (consecutive candles are not independent
    /// draws): what the significance test counted.
    #[serde(default)]
    pub effective_samples: f64,
}

/// Feature drift of a model: live inputs (and predictions) logged by the strategy runner in the
/// current window against the reference profiles stored with the serving version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub version: String,
    pub samples: usize,
    pub overall_psi: f64,
    pub max_psi: f64,
    pub severity: Severity,
    /// Highest PSI first: the runbook's "which features have the highest PSI contribution?".
    pub features: Vec<FeatureDriftItem>,
}

/// One model's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    pub model_name: String,
    /// `analyzed`, `insufficient_data` or `error`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overall_psi: Option<f64>,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_period: Option<Period>,
    pub metric_drifts: Vec<MetricDrift>,
    pub requires_attention: bool,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_psi: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Live feature drift (when the strategy runner logged features for the serving version).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub feature_drift: Option<FeatureDrift>,
    /// Actions the response policy took because the severity rose.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub policy: Vec<policy::StepOutcome>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn compare_config(ctx: &Ctx) -> CompareConfig {
    let d = &ctx.rb.config.drift;
    CompareConfig {
        thresholds: Thresholds {
            moderate: d.psi_moderate_threshold,
            significant: d.psi_significant_threshold,
        },
        alpha: if d.alpha > 0.0 { d.alpha } else { 0.01 },
        gate: d.alpha > 0.0,
        aggregate: if d.aggregate == "max" {
            Aggregate::Max
        } else {
            Aggregate::Mean
        },
        min_samples: d.min_samples,
        ..CompareConfig::default()
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Analyses one model (no side effects).
pub async fn analyse(
    ctx: &Ctx,
    model: &str,
    prefix: &str,
    ref_days: u32,
    cur_days: u32,
) -> Result<ModelResult, HandlerError> {
    let now = ctx.rb.clock.now();
    let cur_start = now - Duration::days(i64::from(cur_days));
    let ref_start = cur_start - Duration::days(i64::from(ref_days));
    let filter = RunFilter {
        experiment_prefix: Some(prefix.to_string()),
        since: Some(ref_start),
        until: Some(now),
        model: Some(model.to_string()),
    };
    let runs = ctx.tracker.runs(&filter).await?;
    let (reference, current): (Vec<_>, Vec<_>) = runs
        .into_iter()
        .filter(|r| r.status != "failed")
        .partition(|r| r.start_time < cur_start);
    let mut out = ModelResult {
        model_name: model.to_string(),
        status: "analyzed".into(),
        overall_psi: None,
        severity: Severity::None,
        reference_period: Some(Period {
            start: ts(ref_start),
            end: ts(cur_start),
            samples: reference.len(),
        }),
        current_period: Some(Period {
            start: ts(cur_start),
            end: ts(now),
            samples: current.len(),
        }),
        metric_drifts: vec![],
        requires_attention: false,
        timestamp: ts(now),
        max_psi: None,
        error: None,
        feature_drift: None,
        policy: vec![],
    };
    out.feature_drift = feature_drift(ctx, model, cur_start, now).await?;
    let min = ctx.rb.config.drift.min_samples as usize;
    if reference.len() < min || current.len() < min {
        out.status = "insufficient_data".into();
        combine_feature_drift(&mut out);
        return Ok(out);
    }
    let cfg = compare_config(ctx);
    let bins = ctx.rb.config.drift.bins as usize;
    let mut features = Vec::new();
    for metric in METRICS {
        let r: Vec<f64> = reference
            .iter()
            .filter_map(|x| x.metrics.get(metric).copied())
            .collect();
        let c: Vec<f64> = current
            .iter()
            .filter_map(|x| x.metrics.get(metric).copied())
            .collect();
        if r.is_empty() && c.is_empty() {
            continue;
        }
        let rp = profile_numeric(metric, &r, bins, &Binning::Quantile);
        let cp = current_numeric(&rp, &c);
        let f = compare_feature(&rp, &cp, &cfg);
        out.metric_drifts.push(MetricDrift {
            metric: metric.to_string(),
            psi: f.psi,
            severity: if f.status == FeatureStatus::InsufficientData {
                Severity::None
            } else {
                f.severity
            },
            reference_mean: mean(&r),
            current_mean: mean(&c),
            raw_severity: f.raw_severity,
            p_value: f.p_value,
            significant: f.significant,
            noise_psi: f.noise_psi,
            bins_used: f.bins_used,
        });
        features.push(f);
    }
    if features.is_empty() {
        out.status = "insufficient_data".into();
        combine_feature_drift(&mut out);
        return Ok(out);
    }
    let report = aggregate(features, &cfg);
    out.overall_psi = Some(report.overall_psi);
    out.max_psi = Some(report.max_psi);
    out.severity = report.severity;
    combine_feature_drift(&mut out);
    Ok(out)
}

/// The model's severity is the worse of metric and feature drift; without enough backtest runs
/// feature drift alone decides (status `analyzed`, `overall_psi` the features').
fn combine_feature_drift(out: &mut ModelResult) {
    if let Some(f) = &out.feature_drift {
        if out.status == "insufficient_data" {
            out.status = "analyzed".into();
            out.overall_psi = Some(f.overall_psi);
            out.max_psi = Some(f.max_psi);
        } else {
            out.max_psi = out.max_psi.map(|m| m.max(f.max_psi));
        }
        out.severity = out.severity.max(f.severity);
    }
    out.requires_attention = out.severity != Severity::None;
}

/// Feature drift of the serving version over `[from, to)`; None when there is no serving
/// version, no stored reference profile, or too few logged rows.
async fn feature_drift(
    ctx: &Ctx,
    model: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<FeatureDrift>, HandlerError> {
    let Ok(name) = ModelName::new(model.to_string()) else {
        return Ok(None);
    };
    let Some(ptr) = ctx.rb.model_serving(&name).await? else {
        return Ok(None);
    };
    let log =
        tradai_runner::logged_features(&*ctx.rb.store, &name, from, to, Some(&ptr.model_version))
            .await
            .map_err(|e| {
                HandlerError::Internal(format!("reading logged features of {model}: {e}"))
            })?;
    if (log.rows as u64) < ctx.rb.config.drift.min_samples {
        return Ok(None);
    }
    let Ok(v) = ptr.model_version.parse::<u64>() else {
        return Ok(None);
    };
    let dir = tempfile_dir()?;
    let prefix = tradai_domain::registry::artifact_prefix(model, v);
    if ctx.rb.artifacts.get_dir(&prefix, dir.path()).await.is_err() {
        return Ok(None);
    }
    let mut profiles = Vec::new();
    for file in ["reference_features.json", "reference_predictions.json"] {
        let path = dir.path().join(file);
        if path.exists() {
            profiles.push(
                tradai_drift::Profile::read(&path)
                    .map_err(|e| HandlerError::Internal(format!("{model} v{v} {file}: {e}")))?,
            );
        }
    }
    if profiles.is_empty() {
        return Ok(None);
    }
    // The profiled quantities that were logged in the window: these are the ones tested.
    let tested: Vec<(&tradai_drift::FeatureProfile, &Vec<f64>)> = profiles
        .iter()
        .flat_map(|p| p.features.iter())
        .filter_map(|fp| {
            let values = if fp.name == "prediction" {
                Some(&log.predictions)
            } else {
                log.features.get(&fp.name)
            };
            values.map(|v| (fp, v))
        })
        .collect();
    let mut cfg = compare_config(ctx);
    // One model, many features, each tested every run: at a per-feature alpha one of them
    // would cross it by chance all the time. Bonferroni over the features tested keeps the
    // model's false-alarm rate per run at `alpha`.
    cfg.alpha /= tested.len().max(1) as f64;
    let mut drifts = Vec::new();
    for (fp, values) in tested {
        let cur = current_numeric(fp, values);
        // Logged rows are consecutive candles: discount the sample size for autocorrelation,
        // as persistent as the feature was over the training window (measured there on
        // thousands of rows) or as this window shows, whichever is more.
        let deff = fp
            .design_effect
            .unwrap_or(1.0)
            .max(tradai_drift::stats::design_effect(values));
        drifts.push(compare_feature_dependent(fp, &cur, &cfg, deff));
    }
    if drifts.is_empty() {
        return Ok(None);
    }
    let report = aggregate(drifts, &cfg);
    let features = report
        .features
        .iter()
        .map(|f| FeatureDriftItem {
            feature: f.name.clone(),
            psi: f.psi,
            severity: if f.status == FeatureStatus::InsufficientData {
                Severity::None
            } else {
                f.severity
            },
            raw_severity: f.raw_severity,
            p_value: f.p_value,
            significant: f.significant,
            noise_psi: f.noise_psi,
            reference_mean: f.reference.as_ref().map(|s| s.mean),
            current_mean: f.current.as_ref().map(|s| s.mean),
            samples: f.n_cur,
            effective_samples: f.n_cur as f64 / f.design_effect,
        })
        .collect();
    Ok(Some(FeatureDrift {
        version: ptr.model_version,
        samples: log.rows,
        overall_psi: report.overall_psi,
        max_psi: report.max_psi,
        severity: report.severity,
        features,
    }))
}

fn tempfile_dir() -> Result<tempfile::TempDir, HandlerError> {
    tempfile::tempdir()
        .map_err(|e| HandlerError::Internal(format!("cannot create a temporary directory: {e}")))
}

/// Analyses, records, raises alarms and applies the policy for one model.
async fn monitor_one(ctx: &Ctx, model: &str, input: &Input) -> Result<ModelResult, HandlerError> {
    let d = &ctx.rb.config.drift;
    let prefix = input
        .experiment_prefix
        .clone()
        .unwrap_or_else(|| d.experiment_prefix.clone());
    let name = ModelName::new(model.to_string())?;
    let mut r = analyse(
        ctx,
        model,
        &prefix,
        input
            .reference_period_days
            .unwrap_or(d.reference_period_days),
        input.current_period_days.unwrap_or(d.current_period_days),
    )
    .await?;
    let previous = match ctx.rb.drift_show(&name).await {
        Ok(s) => s.severity,
        Err(tradai_runbook::RunbookError::NotFound { .. }) => Severity::None,
        Err(e) => return Err(e.into()),
    };
    // PSI per quantity: backtest metrics by name, live features as `feature:NAME` (the model's
    // prediction is `feature:prediction`), so one map answers "what drifts most".
    let psi: BTreeMap<String, f64> = r
        .metric_drifts
        .iter()
        .map(|m| (m.metric.clone(), m.psi))
        .chain(
            r.feature_drift
                .iter()
                .flat_map(|f| f.features.iter())
                .map(|f| (format!("feature:{}", f.feature), f.psi)),
        )
        .collect();
    let state = DriftState {
        model_name: name.clone(),
        status: r.status.clone(),
        severity: r.severity,
        overall_psi: r.overall_psi,
        max_psi: r.max_psi,
        psi,
        requires_attention: r.requires_attention,
        result: to_json(&r)?,
        updated_at: ctx.rb.clock.now(),
        updated_by: "drift-monitor".into(),
        reason: None,
    };
    ctx.rb.drift_record(state, &Actor::system()).await?;
    if r.severity > previous {
        let cause = format!(
            "drift-monitor {} PSI={:.3}",
            r.timestamp,
            r.overall_psi.unwrap_or(f64::NAN)
        );
        r.policy = policy::on_event(
            ctx,
            &name,
            Event::Drift {
                severity: r.severity,
            },
            &cause,
        )
        .await?;
    }
    Ok(r)
}

/// The handler.
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("drift-monitor", payload)?;
    let models = match &input.models {
        Some(m) => m.clone(),
        None => retraining_scheduler::configured_models(ctx).await?,
    };
    let mut results = Vec::new();
    let (mut analysed, mut drifted, mut errors) = (0, 0, 0);
    for m in &models {
        match monitor_one(ctx, m, &input).await {
            Ok(r) => {
                if r.status == "analyzed" {
                    analysed += 1;
                }
                if r.severity != Severity::None {
                    drifted += 1;
                }
                results.push(r);
            }
            Err(e) => {
                tracing::error!(model = %m, error = %e, "drift-monitor failed for one model");
                errors += 1;
                results.push(ModelResult {
                    model_name: m.clone(),
                    status: "error".into(),
                    overall_psi: None,
                    severity: Severity::None,
                    reference_period: None,
                    current_period: None,
                    metric_drifts: vec![],
                    requires_attention: false,
                    timestamp: ts(ctx.rb.clock.now()),
                    max_psi: None,
                    error: Some(e.to_string()),
                    feature_drift: None,
                    policy: vec![],
                });
            }
        }
    }
    evaluate_alarms(ctx, &results).await?;
    to_json(
        &json!({"summary": {"models_analyzed": analysed, "drifted": drifted, "errors": errors}, "results": results}),
    )
}

/// `tradai-{env}-drift-moderate` / `-drift-significant`: the largest PSI among models at that
/// severity, with hysteresis.
async fn evaluate_alarms(ctx: &Ctx, results: &[ModelResult]) -> Result<(), HandlerError> {
    let d = &ctx.rb.config.drift;
    let worst = |min: Severity| {
        results
            .iter()
            .filter(|r| r.severity >= min)
            .filter_map(|r| r.overall_psi.map(|p| (p, r.model_name.clone())))
            .fold(None, |acc: Option<(f64, String)>, x| match acc {
                Some(a) if a.0 >= x.0 => Some(a),
                _ => Some(x),
            })
    };
    for (suffix, min, threshold) in [
        (
            "drift-moderate",
            Severity::Moderate,
            d.psi_moderate_threshold,
        ),
        (
            "drift-significant",
            Severity::Significant,
            d.psi_significant_threshold,
        ),
    ] {
        let (value, reason) = match worst(min) {
            Some((p, m)) => (p, format!("{m}: PSI {p:.3} ({min} or worse)")),
            None => (0.0, format!("no model at {min} drift")),
        };
        alarms::evaluate(
            ctx,
            &ctx.alarm_name(suffix),
            value,
            Band::with_hysteresis(threshold, d.alarm_hysteresis),
            &reason,
        )
        .await?;
    }
    Ok(())
}
