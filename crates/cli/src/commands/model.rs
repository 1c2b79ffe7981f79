//! `tradai model …`

use super::name;
use crate::app::{Global, usage};
use crate::output::{emit, fields, opt, table, ts};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tradai_domain::{ModelName, RollbackReason, StrategyId};
use tradai_runbook::ModelVersion;
use tradai_runbook::registry::NewVersion;
use tradai_training::{ModelConfigPatch, ModelConfigRecord};

#[derive(Debug, Subcommand)]
pub enum ModelCmd {
    /// Register a model trained elsewhere: copies the artifact directory into the artifact store
    /// as a new version in Staging.
    Register(RegisterArgs),
    /// Every version of a model with stage, metrics and path.
    Versions { model: String },
    /// The serving pointer (version and path the strategy loads), versions and last rollback.
    Show { model: String },
    /// Promote VERSION to Production (archives the current Production version first).
    Promote(PromoteArgs),
    /// Roll the serving pointer back to the previous (or a given) version, version and path together.
    Rollback(RollbackArgs),
    /// Backtest two versions on the same window and apply the comparison rules.
    Compare(CompareArgs),
    /// Show (no flags) or change the model's configuration: pairs, timeframe, windows, data.
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub model: String,
    /// Champion: a version number, Production or Staging.
    #[arg(long, default_value = "Production")]
    pub champion: String,
    /// Challenger: a version number, Production or Staging.
    #[arg(long, default_value = "Staging")]
    pub challenger: String,
    /// Window start [default: the last validation_days of the data].
    #[arg(long, value_name = "DATE", requires = "to")]
    pub from: Option<String>,
    /// Window end, exclusive.
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,
    /// A candle file or directory instead of the configuration's data_dir.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    pub model: String,
    /// Pairs, comma-separated (BTC/USDT:USDT,ETH/USDT:USDT); the first is trained on.
    #[arg(long, value_delimiter = ',', value_name = "PAIRS")]
    pub pairs: Option<Vec<String>>,
    /// Candle timeframe (1h).
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Days of candles to train on.
    #[arg(long, value_name = "N")]
    pub train_period_days: Option<u32>,
    /// Days after the training window to validate on (and the default backtest window).
    #[arg(long, value_name = "N")]
    pub validation_days: Option<u32>,
    /// Directory of candle files (freqtrade layout); stored as an absolute path.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Seed recorded with trained versions.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Strategy whose stake and max_open_trades backtests use ("" clears it).
    #[arg(long)]
    pub strategy: Option<String>,
    /// Learner (only "ridge" is built in).
    #[arg(long)]
    pub freqai_model: Option<String>,
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    pub model: String,
    /// Directory with the model's files: a `manifest.json` naming its kind (`ridge_regression`
    /// from `tradai train`, or `onnx`) and its features, and the weights or `.onnx` file
    /// (see docs/ml.md). It is loaded and test-run before it is registered.
    #[arg(long)]
    pub artifact: PathBuf,
    /// JSON file with an object of metrics, e.g. {"profit_total": 1250.5, "sharpe_ratio": 1.2}.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    pub model: String,
    /// The version to promote.
    #[arg(value_name = "VERSION")]
    pub target: u64,
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub model: String,
    /// Version to serve [default: the most recently archived version].
    #[arg(long)]
    pub to: Option<u64>,
    /// MANUAL_REQUEST, PERFORMANCE_DEGRADATION, TEST_FAILURE or DRIFT_SEVERE.
    #[arg(long, default_value = "MANUAL_REQUEST")]
    pub reason: String,
    /// The alarm that prompted it, recorded with the rollback.
    #[arg(long)]
    pub alarm_name: Option<String>,
    /// Only show what would change.
    #[arg(long)]
    pub dry_run: bool,
}

fn read_metrics(path: &PathBuf) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read metrics file {}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "metrics file {}: invalid JSON: {e}",
            path.display()
        ))
    })?;
    let serde_json::Value::Object(map) = v else {
        return Err(usage(format!(
            "metrics file {}: expected a JSON object of metric names to numbers",
            path.display()
        )));
    };
    for (k, v) in &map {
        if !v.is_number() {
            return Err(usage(format!(
                "metrics file {}: metric '{k}' is {v}, expected a number",
                path.display()
            )));
        }
    }
    Ok(map.into_iter().collect())
}

/// The metrics a person compares versions by; `--json` has them all.
const KEY_METRICS: [&str; 5] = [
    "profit_total",
    "sharpe_ratio",
    "max_drawdown",
    "win_rate",
    "trades",
];

fn metrics_text(v: &ModelVersion) -> String {
    let fmt = |x: &serde_json::Value| {
        x.as_f64().map_or_else(
            || x.to_string(),
            |f| {
                if f.fract() == 0.0 {
                    format!("{f}")
                } else {
                    format!("{f:.4}")
                }
            },
        )
    };
    let key: Vec<String> = KEY_METRICS
        .iter()
        .filter_map(|k| v.metrics.get(*k).map(|x| format!("{k}={}", fmt(x))))
        .collect();
    if key.is_empty() {
        v.metrics
            .iter()
            .take(5)
            .map(|(k, x)| format!("{k}={}", fmt(x)))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        key.join(" ")
    }
}

fn versions_table(vs: &[ModelVersion]) -> String {
    table(
        &["version", "stage", "created", "source", "metrics", "path"],
        vs.iter()
            .map(|v| {
                vec![
                    v.version.to_string(),
                    v.stage.to_string(),
                    ts(&v.created_at),
                    v.source.clone(),
                    metrics_text(v),
                    v.artifact_path.clone(),
                ]
            })
            .collect(),
    )
}

fn config_text(c: &ModelConfigRecord) -> String {
    let k = &c.config;
    fields(&[
        ("model", k.model_name.to_string()),
        ("freqai_model", k.freqai_model.clone()),
        ("pairs", k.pairs.join(", ")),
        ("timeframe", k.timeframe.clone()),
        ("train_period_days", k.train_period_days.to_string()),
        ("validation_days", k.validation_days.to_string()),
        ("data_dir", opt(&k.data_dir)),
        ("seed", k.seed.to_string()),
        ("strategy", opt(&k.strategy)),
        (
            "config_version",
            format!(
                "{} ({} by {})",
                c.config_version,
                ts(&c.updated_at),
                c.updated_by
            ),
        ),
    ])
}

async fn run_config(a: ConfigArgs, g: &Global) -> anyhow::Result<u8> {
    let model: ModelName = name(&a.model)?;
    let t = g.training()?;
    let data_dir = match &a.data_dir {
        Some(d) => Some(Some(
            std::path::absolute(d)
                .map_err(|e| usage(format!("--data-dir {}: {e}", d.display())))?
                .display()
                .to_string(),
        )),
        None => None,
    };
    let strategy = match a.strategy.as_deref().map(str::trim) {
        Some("") => Some(None),
        Some(s) => Some(Some(name::<StrategyId>(s)?)),
        None => None,
    };
    let patch = ModelConfigPatch {
        freqai_model: a.freqai_model.clone(),
        train_period_days: a.train_period_days,
        validation_days: a.validation_days,
        pairs: a.pairs.clone(),
        timeframe: a.timeframe.clone(),
        data_dir,
        seed: a.seed,
        strategy,
    };
    if patch.is_empty() {
        let c = t.model_config(&model).await?;
        emit(g.json, &c, || config_text(&c))?;
        return Ok(0);
    }
    let ch = t
        .set_model_config(&model, &patch, &g.actor(), a.reason.as_deref())
        .await?;
    emit(g.json, &ch, || {
        let head = if ch.changed {
            format!(
                "configuration of {model} is now version {}\n",
                ch.after.config_version
            )
        } else {
            format!("configuration of {model} unchanged\n")
        };
        format!("{head}{}", config_text(&ch.after))
    })?;
    Ok(0)
}

async fn run_compare(a: CompareArgs, g: &Global) -> anyhow::Result<u8> {
    let model: ModelName = name(&a.model)?;
    let w = super::train::window(&a.from, &a.to)?;
    let t = g.training()?;
    let champion = t.resolve_version(&model, Some(&a.champion)).await?;
    let challenger = t.resolve_version(&model, Some(&a.challenger)).await?;
    let ev = t
        .evaluate_pair(&model, champion, challenger, w, a.data.as_deref())
        .await?;
    emit(g.json, &ev, || {
        let c = &ev.comparison;
        let mut s = format!(
            "{model}: champion v{} ({}) vs challenger v{} ({}) on {} .. {}\n",
            ev.champion.version,
            ev.champion.stage,
            ev.challenger.version,
            ev.challenger.stage,
            ts(&ev.window.from),
            ts(&ev.window.to)
        );
        let keys: Vec<&String> = ev.champion.metrics.keys().collect();
        s.push_str(&table(
            &["metric", "champion", "challenger"],
            keys.iter()
                .map(|k| {
                    let f = |m: &BTreeMap<String, f64>| {
                        m.get(*k).map_or("-".into(), |x| format!("{x:.4}"))
                    };
                    vec![
                        (*k).clone(),
                        f(&ev.champion.metrics),
                        f(&ev.challenger.metrics),
                    ]
                })
                .collect(),
        ));
        s.push('\n');
        s.push_str(&table(
            &["rule", "weight", "passed"],
            c.rules
                .iter()
                .map(|r| {
                    vec![
                        format!("{} {}", r.metric, r.rule),
                        r.weight.to_string(),
                        r.passed.to_string(),
                    ]
                })
                .collect(),
        ));
        s.push('\n');
        s.push_str(&fields(&[
            ("decision", c.decision.to_string()),
            ("confidence", format!("{:.2}", c.confidence)),
            (
                "profit_improvement",
                c.profit_improvement
                    .map_or("-".into(), |p| format!("{p:.1}%")),
            ),
            ("recommendation", c.recommendation.clone()),
        ]));
        s
    })?;
    Ok(0)
}

pub async fn run(cmd: ModelCmd, g: &Global) -> anyhow::Result<u8> {
    let cmd = match cmd {
        ModelCmd::Compare(a) => return run_compare(a, g).await,
        ModelCmd::Config(a) => return run_config(a, g).await,
        other => other,
    };
    let rb = g.runbook()?;
    match cmd {
        ModelCmd::Compare(_) | ModelCmd::Config(_) => {}
        ModelCmd::Register(a) => {
            let model: ModelName = name(&a.model)?;
            let metrics = match &a.metrics {
                Some(p) => read_metrics(p)?,
                None => BTreeMap::new(),
            };
            // Only what the runner and backtester can serve enters the registry: the manifest
            // must name a known kind and its features, and the weights or ONNX graph must load
            // and run. (A missing directory is reported by the registry itself.)
            let mut metadata = BTreeMap::new();
            if a.artifact.is_dir() {
                let served = tradai_ml::ServedModel::load(&a.artifact).map_err(|e| {
                    usage(format!(
                        "{}: not a model tradai can serve: {e}",
                        a.artifact.display()
                    ))
                })?;
                metadata.insert("kind".to_string(), serde_json::json!(served.kind()));
                metadata.insert(
                    "feature_set".to_string(),
                    serde_json::json!(served.feature_set()),
                );
                metadata.insert(
                    "timeframe".to_string(),
                    serde_json::json!(served.timeframe().to_string()),
                );
            }
            let v = rb
                .model_register(
                    &model,
                    &a.artifact,
                    NewVersion {
                        metrics,
                        metadata,
                        source: "register".into(),
                    },
                    &g.actor(),
                )
                .await?;
            emit(g.json, &v, || {
                format!(
                    "registered {} version {} in {} ({} files, {} bytes, sha256 {})\n{}",
                    v.model_name,
                    v.version,
                    v.stage,
                    v.files.len(),
                    v.bytes,
                    &v.sha256[..12],
                    v.artifact_path
                )
            })?;
        }
        ModelCmd::Versions { model } => {
            let model: ModelName = name(&model)?;
            let vs = rb.model_versions(&model).await?;
            if vs.is_empty() {
                return Err(usage(format!(
                    "model '{model}' has no versions (register one with `tradai model register`)"
                )));
            }
            emit(g.json, &vs, || versions_table(&vs))?;
        }
        ModelCmd::Show { model } => {
            let o = rb.model_show(&name(&model)?).await?;
            emit(g.json, &o, || {
                let mut s = match &o.serving {
                    Some(p) => fields(&[
                        ("model", o.model_name.to_string()),
                        ("serving version", p.model_version.clone()),
                        ("serving path", p.model_path.clone()),
                        (
                            "pointer updated",
                            format!(
                                "{} by {}",
                                p.updated_at.as_ref().map_or("-".into(), ts),
                                opt(&p.updated_by)
                            ),
                        ),
                    ]),
                    None => format!("model {}: no version in Production yet\n", o.model_name),
                };
                if let Some(r) = &o.last_rollback {
                    s.push_str(&fields(&[(
                        "last rollback",
                        format!(
                            "{} {} -> {} ({}, {} in total)",
                            ts(&r.last_rollback_at),
                            r.from_version,
                            r.to_version,
                            r.reason,
                            r.count
                        ),
                    )]));
                }
                s.push('\n');
                s.push_str(&versions_table(&o.versions));
                s
            })?;
        }
        ModelCmd::Promote(a) => {
            let out = rb
                .model_promote(&name(&a.model)?, a.target, &g.actor(), a.reason.as_deref())
                .await?;
            emit(g.json, &out, || {
                if out.already_promoted {
                    format!(
                        "{} version {} is already in Production",
                        a.model, out.new_version
                    )
                } else {
                    format!(
                        "{} version {} -> Production{}\nserving {}",
                        a.model,
                        out.new_version,
                        out.archived_version
                            .as_ref()
                            .map_or(String::new(), |v| format!(" (version {v} archived)")),
                        out.model_path
                    )
                }
            })?;
        }
        ModelCmd::Rollback(a) => {
            let reason: RollbackReason = name(&a.reason)?;
            let out = rb
                .model_rollback(
                    &name(&a.model)?,
                    a.to,
                    reason,
                    a.alarm_name.as_deref(),
                    a.dry_run,
                    &g.actor(),
                )
                .await?;
            emit(g.json, &out, || {
                let verb = if out.dry_run {
                    "would roll back"
                } else {
                    "rolled back"
                };
                format!(
                    "{verb} {} from version {} to version {} ({})\nserving path {}{}",
                    out.model_name,
                    out.from_version,
                    out.to_version,
                    out.reason,
                    out.to_path,
                    if out.dry_run {
                        "\n(dry run: nothing changed)"
                    } else {
                        "\nstrategies pick up the new version on their next candle"
                    }
                )
            })?;
        }
    }
    Ok(0)
}
