//! `tradai train` and `tradai backtest`: thin edges over `tradai-training`.

use super::name;
use crate::app::{Global, usage};
use crate::output::{emit, fields, table, ts};
use clap::Args;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use tradai_domain::ModelName;
use tradai_domain::time::{parse_duration, parse_ts};
use tradai_training::{BacktestReport, Progress, TrainOptions, Window};

#[derive(Debug, Args)]
pub struct TrainArgs {
    pub model: String,
    /// A candle file or directory instead of the configuration's data_dir.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Seed recorded with the version [default: the configuration's].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train even when the data-quality checks fail (gaps, duplicates, …).
    #[arg(long)]
    pub allow_gaps: bool,
    /// Passed through into the version's metadata (the retraining workflow's config_version_id).
    #[arg(long, value_name = "ID")]
    pub config_version_id: Option<String>,
}

#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub struct BacktestArgs {
    pub model: String,
    /// A version number, Production or Staging [default: Production, else the newest].
    #[arg(long)]
    pub version: Option<String>,
    /// Window start (date or RFC 3339) [default: the last validation_days of the data].
    #[arg(long, value_name = "DATE", requires = "to")]
    pub from: Option<String>,
    /// Window end, exclusive.
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,
    /// One backtest per STEP (e.g. 1d) over the window [default window: the last
    /// reference_period_days + current_period_days], each logged as a run in backtest-MODEL.
    #[arg(long, value_name = "STEP")]
    pub rolling: Option<String>,
    /// A candle file or directory instead of the configuration's data_dir.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
}

/// `--from/--to` as a window (both or neither).
pub fn window(from: &Option<String>, to: &Option<String>) -> anyhow::Result<Option<Window>> {
    match (from, to) {
        (Some(f), Some(t)) => {
            let w = Window {
                from: parse_ts("--from", f)?,
                to: parse_ts("--to", t)?,
            };
            if w.from >= w.to {
                return Err(usage(format!("--from {f} must be before --to {t}")));
            }
            Ok(Some(w))
        }
        (None, None) => Ok(None),
        _ => Err(usage("--from and --to go together")),
    }
}

fn pct(x: f64) -> String {
    format!("{x:.2}%")
}

pub async fn run_train(a: TrainArgs, g: &Global) -> anyhow::Result<u8> {
    let model: ModelName = name(&a.model)?;
    let t = g.training()?;
    let bar = if g.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(6)
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} [{bar:24}] {pos}/{len} {wide_msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let b = bar.clone();
    // Not a terminal (CI logs, a supervisor's log file): one plain line per step instead.
    let lines = !g.json && !std::io::stderr().is_terminal();
    let progress = move |p: &Progress| {
        if lines {
            eprintln!("[{}/{}] {}", p.step, p.total, p.message);
        }
        b.set_length(u64::from(p.total));
        b.set_position(u64::from(p.step));
        b.set_message(p.message.clone());
    };
    let opts = TrainOptions {
        data: a.data.clone(),
        seed: a.seed,
        allow_gaps: a.allow_gaps,
        config_version_id: a.config_version_id.clone(),
    };
    let r = t.train_version(&model, &opts, &g.actor(), &progress).await;
    bar.finish_and_clear();
    let r = r?;
    let v = &r.version;
    emit(g.json, &r, || {
        let m = |k: &str| v.metrics.get(k).map_or("-".into(), |x| x.to_string());
        let mut s = format!(
            "trained {} version {} -> {}\n\n",
            v.model_name, v.version, v.stage
        );
        s.push_str(&fields(&[
            (
                "pair",
                v.metadata.get("pair").map_or("-".into(), |x| x.to_string()),
            ),
            (
                "train window",
                v.metadata
                    .get("train_window")
                    .map_or("-".into(), |x| x.to_string()),
            ),
            (
                "validation window",
                v.metadata
                    .get("validation_window")
                    .map_or("-".into(), |x| x.to_string()),
            ),
            ("profit_total", m("profit_total")),
            ("sharpe_ratio", m("sharpe_ratio")),
            ("max_drawdown", m("max_drawdown")),
            ("win_rate", m("win_rate")),
            ("trades", m("trades")),
            ("validation_ic", m("validation_ic")),
            ("artifact", v.artifact_path.clone()),
            ("sha256", v.sha256.clone()),
            ("run", format!("{} in {}", r.run_id, r.experiment)),
        ]));
        s
    })?;
    Ok(0)
}

fn reports_table(rs: &[BacktestReport]) -> String {
    table(
        &[
            "window start",
            "window end",
            "trades",
            "profit",
            "sharpe",
            "max dd",
            "win rate",
            "run",
        ],
        rs.iter()
            .map(|r| {
                let m = &r.metrics;
                vec![
                    ts(&r.window.from),
                    ts(&r.window.to),
                    m.trades.to_string(),
                    pct(m.profit_total_pct),
                    format!("{:.2}", m.sharpe_ratio),
                    pct(m.max_drawdown * 100.0),
                    pct(m.win_rate * 100.0),
                    r.run_id.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    )
}

pub async fn run_backtest(a: BacktestArgs, g: &Global) -> anyhow::Result<u8> {
    let model: ModelName = name(&a.model)?;
    let w = window(&a.from, &a.to)?;
    let step = match &a.rolling {
        Some(s) => Some(parse_duration("--rolling", s)?),
        None => None,
    };
    if step.is_some_and(|d| d <= chrono::Duration::zero()) {
        return Err(usage("--rolling must be a positive duration such as 1d"));
    }
    let t = g.training()?;
    let version = t.resolve_version(&model, a.version.as_deref()).await?;
    match step {
        Some(step) => {
            let rs = t
                .backtest_rolling(&model, version, w, step, a.data.as_deref())
                .await?;
            let doc = json!({
                "model_name": model,
                "version": version,
                "experiment": tradai_training::backtest_experiment(&model),
                "runs": rs,
            });
            emit(g.json, &doc, || {
                format!(
                    "{model} version {version}: {} runs logged in {}\n{}",
                    rs.len(),
                    tradai_training::backtest_experiment(&model),
                    reports_table(&rs)
                )
            })?;
        }
        None => {
            let r = t
                .backtest_version(&model, version, w, a.data.as_deref())
                .await?;
            emit(g.json, &r, || {
                let m = &r.metrics;
                format!(
                    "{model} version {version} on {} .. {} ({})\n\n{}",
                    ts(&r.window.from),
                    ts(&r.window.to),
                    r.pairs.join(", "),
                    fields(&[
                        (
                            "profit_total",
                            format!("{:.6} ({})", m.profit_total, pct(m.profit_total_pct))
                        ),
                        ("sharpe_ratio", format!("{:.3}", m.sharpe_ratio)),
                        ("sortino", format!("{:.3}", m.sortino)),
                        ("max_drawdown", pct(m.max_drawdown * 100.0)),
                        ("win_rate", pct(m.win_rate * 100.0)),
                        ("trades", m.trades.to_string()),
                        ("profit_factor", format!("{:.3}", m.profit_factor)),
                        (
                            "avg_trade_duration",
                            format!("{:.0} s", m.avg_trade_duration)
                        ),
                        (
                            "strategy",
                            r.strategy
                                .clone()
                                .unwrap_or_else(|| "- (backtester defaults)".into())
                        ),
                    ])
                )
            })?;
        }
    }
    Ok(0)
}
