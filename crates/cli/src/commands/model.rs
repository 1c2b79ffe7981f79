//! `tradai model …`

use super::name;
use crate::app::{Global, usage};
use crate::output::{emit, fields, opt, table, ts};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tradai_domain::{ModelName, RollbackReason};
use tradai_runbook::ModelVersion;
use tradai_runbook::registry::NewVersion;

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
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    pub model: String,
    /// Directory with the model's files (a manifest.json naming its features, weights, …).
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

fn metrics_text(v: &ModelVersion) -> String {
    v.metrics
        .iter()
        .map(|(k, x)| format!("{k}={x}"))
        .collect::<Vec<_>>()
        .join(" ")
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

pub async fn run(cmd: ModelCmd, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    match cmd {
        ModelCmd::Register(a) => {
            let model: ModelName = name(&a.model)?;
            let metrics = match &a.metrics {
                Some(p) => read_metrics(p)?,
                None => BTreeMap::new(),
            };
            let v = rb
                .model_register(
                    &model,
                    &a.artifact,
                    NewVersion {
                        metrics,
                        metadata: BTreeMap::new(),
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
