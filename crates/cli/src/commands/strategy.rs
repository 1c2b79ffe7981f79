//! `tradai strategy …`

use super::name;
use crate::app::{Global, usage};
use crate::output::{emit, fields, table, ts};
use clap::{Args, Subcommand};
use tradai_domain::{StrategyConfig, StrategyId};
use tradai_runbook::StrategyConfigRecord;

#[derive(Debug, Subcommand)]
pub enum StrategyCmd {
    /// Add a strategy trading MODEL (starts `stopped`; a runner starts it).
    Add(AddArgs),
    /// Show a strategy's configuration.
    Show { strategy: String },
    /// List every strategy.
    List,
    /// Change the stake amount (the runbook's "reduce stake amount"); applies to the next entry.
    Set(SetArgs),
    /// Every configuration version of a strategy, oldest first.
    History { strategy: String },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub strategy: String,
    /// The model the strategy trades.
    #[arg(long)]
    pub model: String,
    #[arg(long, default_value_t = 100.0)]
    pub stake_amount: f64,
    #[arg(long, default_value_t = 3)]
    pub max_open_trades: u32,
    /// Comma-separated pairs.
    #[arg(long, value_delimiter = ',', default_value = "BTC/USDT:USDT")]
    pub pairs: Vec<String>,
    #[arg(long, default_value = "1h")]
    pub timeframe: String,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    pub strategy: String,
    /// New stake amount (> 0).
    #[arg(long, allow_negative_numbers = true)]
    pub stake_amount: f64,
    /// Why (recorded in the audit log and the config history).
    #[arg(long)]
    pub reason: Option<String>,
}

fn human(r: &StrategyConfigRecord) -> String {
    fields(&[
        ("strategy", r.config.strategy_id.to_string()),
        ("model", r.config.model.to_string()),
        ("stake_amount", r.config.stake_amount.to_string()),
        ("max_open_trades", r.config.max_open_trades.to_string()),
        ("pairs", r.config.pairs.join(",")),
        ("timeframe", r.config.timeframe.clone()),
        ("config_version", r.config_version.to_string()),
        (
            "updated",
            format!("{} by {}", ts(&r.updated_at), r.updated_by),
        ),
        ("reason", r.reason.clone().unwrap_or_else(|| "-".into())),
    ])
}

fn rows(list: &[StrategyConfigRecord]) -> String {
    table(
        &[
            "version", "strategy", "model", "stake", "max_open", "pairs", "tf", "updated", "by",
            "reason",
        ],
        list.iter()
            .map(|r| {
                vec![
                    r.config_version.to_string(),
                    r.config.strategy_id.to_string(),
                    r.config.model.to_string(),
                    r.config.stake_amount.to_string(),
                    r.config.max_open_trades.to_string(),
                    r.config.pairs.join(","),
                    r.config.timeframe.clone(),
                    ts(&r.updated_at),
                    r.updated_by.clone(),
                    r.reason.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    )
}

pub async fn run(cmd: StrategyCmd, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    match cmd {
        StrategyCmd::Add(a) => {
            let cfg = StrategyConfig {
                strategy_id: name(&a.strategy)?,
                model: name(&a.model)?,
                stake_amount: a.stake_amount,
                max_open_trades: a.max_open_trades,
                pairs: a.pairs,
                timeframe: a.timeframe,
            };
            let rec = rb.strategy_add(cfg, &g.actor()).await?;
            emit(g.json, &rec, || {
                format!("added strategy {}\n{}", rec.config.strategy_id, human(&rec))
            })?;
        }
        StrategyCmd::Show { strategy } => {
            let rec = rb.strategy_show(&name::<StrategyId>(&strategy)?).await?;
            emit(g.json, &rec, || human(&rec))?;
        }
        StrategyCmd::List => {
            let list = rb.strategy_list().await?;
            emit(g.json, &list, || {
                if list.is_empty() {
                    "no strategies (add one with `tradai strategy add`)".into()
                } else {
                    rows(&list)
                }
            })?;
        }
        StrategyCmd::Set(a) => {
            if !a.stake_amount.is_finite() {
                return Err(usage(format!(
                    "invalid stake amount '{}': must be a number greater than 0",
                    a.stake_amount
                )));
            }
            let (before, after) = rb
                .strategy_set_stake(
                    &name(&a.strategy)?,
                    a.stake_amount,
                    &g.actor(),
                    a.reason.as_deref(),
                )
                .await?;
            let out = serde_json::json!({"strategy_id": after.config.strategy_id, "before": before, "after": after});
            emit(g.json, &out, || {
                if before.config_version == after.config_version {
                    format!(
                        "stake of {} is already {} (nothing changed)",
                        after.config.strategy_id, after.config.stake_amount
                    )
                } else {
                    format!(
                        "stake of {}: {} -> {} (config version {})",
                        after.config.strategy_id,
                        before.config.stake_amount,
                        after.config.stake_amount,
                        after.config_version
                    )
                }
            })?;
        }
        StrategyCmd::History { strategy } => {
            let list = rb.strategy_history(&name(&strategy)?).await?;
            emit(g.json, &list, || rows(&list))?;
        }
    }
    Ok(0)
}
