//! `tradai drift show|history|reset`

use super::name;
use crate::app::Global;
use crate::output::{emit, fields, opt, table, ts};
use clap::{Args, Subcommand};
use tradai_domain::ModelName;
use tradai_runbook::DriftState;

#[derive(Debug, Subcommand)]
pub enum DriftCmd {
    /// The latest drift result of a model: severity, PSI per metric/feature, windows.
    Show { model: String },
    /// Every drift result of a model, newest first.
    History {
        model: String,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Reset a model's drift state after resolution (the runbook's "reset drift state").
    Reset(ResetArgs),
    /// PSI of current data against a reference profile (or reference data), per feature.
    Compare(super::psi::DriftCompareArgs),
    /// Simulated alert quality of the PSI thresholds at given sample sizes.
    Simulate(super::psi::DriftSimulateArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    pub model: String,
    #[arg(long)]
    pub reason: String,
}

fn psi(v: Option<f64>) -> String {
    v.map_or("-".into(), |p| format!("{p:.3}"))
}

fn human(s: &DriftState) -> String {
    let mut out = fields(&[
        ("model", s.model_name.to_string()),
        ("status", s.status.clone()),
        ("severity", s.severity.to_string()),
        ("overall_psi", psi(s.overall_psi)),
        ("max_psi", psi(s.max_psi)),
        ("requires_attention", s.requires_attention.to_string()),
        (
            "updated",
            format!("{} by {}", ts(&s.updated_at), s.updated_by),
        ),
        ("reason", opt(&s.reason)),
    ]);
    if !s.psi.is_empty() {
        let mut items: Vec<(&String, &f64)> = s.psi.iter().collect();
        items.sort_by(|a, b| b.1.total_cmp(a.1));
        out.push('\n');
        out.push_str(&table(
            &["quantity", "psi"],
            items
                .into_iter()
                .map(|(k, v)| vec![k.clone(), format!("{v:.3}")])
                .collect(),
        ));
    }
    out
}

pub async fn run(cmd: DriftCmd, g: &Global) -> anyhow::Result<u8> {
    match &cmd {
        DriftCmd::Compare(a) => return super::psi::run_drift_compare(a, g).map(|()| 0),
        DriftCmd::Simulate(a) => return super::psi::run_drift_simulate(a, g.json).map(|()| 0),
        _ => {}
    }
    let rb = g.runbook()?;
    match cmd {
        DriftCmd::Compare(_) | DriftCmd::Simulate(_) => {}
        DriftCmd::Show { model } => {
            let s = rb.drift_show(&name::<ModelName>(&model)?).await?;
            emit(g.json, &s, || human(&s))?;
        }
        DriftCmd::History { model, limit } => {
            let h = rb.drift_history(&name(&model)?, Some(limit)).await?;
            emit(g.json, &h, || {
                if h.is_empty() {
                    return format!("no drift results for {model}");
                }
                table(
                    &["time", "status", "severity", "overall_psi", "max_psi", "by"],
                    h.iter()
                        .map(|s| {
                            vec![
                                ts(&s.updated_at),
                                s.status.clone(),
                                s.severity.to_string(),
                                psi(s.overall_psi),
                                psi(s.max_psi),
                                s.updated_by.clone(),
                            ]
                        })
                        .collect(),
                )
            })?;
        }
        DriftCmd::Reset(a) => {
            if a.reason.trim().is_empty() {
                return Err(crate::app::usage("--reason must not be empty"));
            }
            let s = rb
                .drift_reset(&name(&a.model)?, &g.actor(), &a.reason)
                .await?;
            emit(g.json, &s, || {
                format!("drift state of {} reset ({})", s.model_name, a.reason)
            })?;
        }
    }
    Ok(0)
}
