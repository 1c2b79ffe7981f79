//! Trading state: pause, resume, stop (the runbook's "update trading state to paused").

use crate::store_ext::{self, Change};
use crate::{Runbook, RunbookError, TradingState};
use tradai_domain::{Actor, StrategyId, TradingStatus, Transition};
use tradai_ports::{Key, Table};

/// The result of a status change.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusChange {
    pub before: TradingStatus,
    pub after: TradingState,
    /// False when the strategy already had the status (nothing written).
    pub changed: bool,
}

impl Runbook {
    /// A strategy's trading state.
    pub async fn trading_status(&self, id: &StrategyId) -> Result<TradingState, RunbookError> {
        store_ext::get(&*self.store, Table::TRADING_STATE, &Key::pk(id.as_str()))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| RunbookError::not_found("strategy", id, "see `tradai trading status`"))
    }

    /// Every strategy's trading state.
    pub async fn trading_status_all(&self) -> Result<Vec<TradingState>, RunbookError> {
        store_ext::scan(&*self.store, Table::TRADING_STATE, |_| true).await
    }

    /// Moves a strategy to `to` if the transition guard allows it. A no-op when it is there
    /// already (the first pauser's reason and actor are kept).
    pub async fn trading_set_status(
        &self,
        id: &StrategyId,
        to: TradingStatus,
        actor: &Actor,
        reason: &str,
    ) -> Result<StatusChange, RunbookError> {
        let now = self.clock.now();
        let key = Key::pk(id.as_str());
        let action = format!("trading.{}", verb(to));
        let change = Change {
            actor: actor.as_str(),
            action: &action,
            reason: Some(reason),
            at: now,
        };
        let up = store_ext::update(
            &*self.store,
            Table::TRADING_STATE,
            &key,
            &change,
            |cur: Option<TradingState>| {
                let cur = cur.ok_or_else(|| {
                    RunbookError::not_found("strategy", id, "see `tradai trading status`")
                })?;
                if cur.status == to {
                    return Ok(cur);
                }
                cur.status.check_transition(to)?;
                Ok(TradingState {
                    status: to,
                    reason: Some(reason.to_string()),
                    updated_by: Some(actor.to_string()),
                    updated_at: Some(now),
                    ..cur
                })
            },
        )
        .await?;
        let before = up.before.map(|b| b.status).unwrap_or(to);
        Ok(StatusChange {
            before,
            after: up.after,
            changed: up.changed,
        })
    }

    /// Records a heartbeat from the strategy runner (not audited: it is liveness, not a change).
    pub async fn trading_heartbeat(&self, id: &StrategyId) -> Result<TradingState, RunbookError> {
        let now = self.clock.now();
        let change = Change {
            actor: Actor::SYSTEM,
            action: "",
            reason: None,
            at: now,
        };
        let up = store_ext::update(
            &*self.store,
            Table::TRADING_STATE,
            &Key::pk(id.as_str()),
            &change,
            |cur: Option<TradingState>| {
                let cur = cur.ok_or_else(|| RunbookError::not_found("strategy", id, ""))?;
                Ok(TradingState {
                    last_heartbeat: Some(tradai_domain::time::fmt_ts(now)),
                    ..cur
                })
            },
        )
        .await?;
        Ok(up.after)
    }
}

fn verb(to: TradingStatus) -> &'static str {
    match to {
        TradingStatus::Paused => "pause",
        TradingStatus::Running => "resume",
        TradingStatus::Stopped => "stop",
        TradingStatus::Warmup => "start",
        TradingStatus::Failed => "fail",
        TradingStatus::Terminated => "terminate",
    }
}
