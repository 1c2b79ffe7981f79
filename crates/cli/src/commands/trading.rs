//! `tradai trading …`

use super::name;
use crate::app::Global;
use crate::output::{emit, opt, table};
use clap::{Args, Subcommand};
use tradai_domain::{StrategyId, TradingStatus};
use tradai_runbook::TradingState;

#[derive(Debug, Subcommand)]
pub enum TradingCmd {
    /// Trading state of one strategy, or of all.
    Status { strategy: Option<String> },
    /// Pause: no new entries, open positions still managed.
    Pause(ChangeArgs),
    /// Resume trading (from paused or stopped).
    Resume(ChangeArgs),
    /// Stop: no trading at all.
    Stop(ChangeArgs),
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    pub strategy: String,
    /// Why (required: it goes into the audit log).
    #[arg(long)]
    pub reason: String,
}

fn row(s: &TradingState) -> Vec<String> {
    vec![
        s.strategy_id.to_string(),
        s.status.to_string(),
        opt(&s.reason),
        opt(&s.updated_by),
        s.updated_at.as_ref().map_or("-".into(), crate::output::ts),
        opt(&s.last_heartbeat),
    ]
}

const HEADER: [&str; 6] = [
    "strategy",
    "status",
    "reason",
    "updated_by",
    "updated_at",
    "last_heartbeat",
];

pub async fn run(cmd: TradingCmd, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    let (a, to) = match cmd {
        TradingCmd::Status { strategy: Some(s) } => {
            let st = rb.trading_status(&name::<StrategyId>(&s)?).await?;
            emit(g.json, &st, || table(&HEADER, vec![row(&st)]))?;
            return Ok(0);
        }
        TradingCmd::Status { strategy: None } => {
            let all = rb.trading_status_all().await?;
            emit(g.json, &all, || {
                if all.is_empty() {
                    "no strategies".into()
                } else {
                    table(&HEADER, all.iter().map(row).collect())
                }
            })?;
            return Ok(0);
        }
        TradingCmd::Pause(a) => (a, TradingStatus::Paused),
        TradingCmd::Resume(a) => (a, TradingStatus::Running),
        TradingCmd::Stop(a) => (a, TradingStatus::Stopped),
    };
    if a.reason.trim().is_empty() {
        return Err(crate::app::usage("--reason must not be empty"));
    }
    let change = rb
        .trading_set_status(&name(&a.strategy)?, to, &g.actor(), &a.reason)
        .await?;
    emit(g.json, &change.after, || {
        if change.changed {
            format!(
                "{}: {} -> {} ({})",
                change.after.strategy_id, change.before, change.after.status, a.reason
            )
        } else {
            format!(
                "{} is already {} (nothing changed)",
                change.after.strategy_id, change.after.status
            )
        }
    })?;
    Ok(0)
}
