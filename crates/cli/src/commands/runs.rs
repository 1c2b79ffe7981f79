//! `tradai runs list`: experiment runs (training and backtests) on the store.

use crate::app::Global;
use crate::output::{emit, table, ts};
use clap::{Args, Subcommand};
use tradai_domain::time::parse_since;
use tradai_ports::RunFilter;

#[derive(Debug, Subcommand)]
pub enum RunsCmd {
    /// Runs oldest first (backtest runs are dated by the end of the window they cover).
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Experiment name (backtest-MODEL, train-MODEL), or a prefix ending in `*` (backtest-*).
    #[arg(long, value_name = "NAME")]
    pub experiment: Option<String>,
    /// Only runs tagged with this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Runs that started at or after this (a date, RFC 3339, or a duration before now: 7d).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

pub async fn run(cmd: RunsCmd, g: &Global) -> anyhow::Result<u8> {
    let RunsCmd::List(a) = cmd;
    let t = g.training()?;
    if let Some(m) = &a.model {
        super::name::<tradai_domain::ModelName>(m)?;
    }
    let (prefix, exact) = match &a.experiment {
        Some(e) => match e.strip_suffix('*') {
            Some(p) => (Some(p.to_string()), None),
            None => (Some(e.clone()), Some(e.clone())),
        },
        None => (None, None),
    };
    let since = match &a.since {
        Some(s) => Some(parse_since("--since", s, t.runbook.clock.now())?),
        None => None,
    };
    let mut runs = t
        .tracker
        .runs(&RunFilter {
            experiment_prefix: prefix,
            since,
            until: None,
            model: a.model.clone(),
        })
        .await?;
    if let Some(e) = exact {
        runs.retain(|r| r.experiment == e);
    }
    emit(g.json, &runs, || {
        if runs.is_empty() {
            return "no runs".into();
        }
        let metric = |r: &tradai_ports::Run, k: &str| {
            r.metrics.get(k).map_or("-".into(), |x| format!("{x:.4}"))
        };
        table(
            &[
                "experiment",
                "run",
                "status",
                "start",
                "version",
                "profit_total",
                "sharpe_ratio",
                "trades",
            ],
            runs.iter()
                .map(|r| {
                    vec![
                        r.experiment.clone(),
                        r.run_id.clone(),
                        r.status.clone(),
                        ts(&r.start_time),
                        r.tags.get("version").cloned().unwrap_or_else(|| "-".into()),
                        metric(r, "profit_total"),
                        metric(r, "sharpe_ratio"),
                        r.metrics
                            .get("trades")
                            .map_or("-".into(), |x| x.to_string()),
                    ]
                })
                .collect(),
        )
    })?;
    Ok(0)
}
