//! The runner's books on the state port: positions, trades and the prediction log, plus the
//! manual-intervention commands (`tradai positions …`) and the feature reader for drift-monitor.
//!
//! Every change is one conditional write of one item. A close is committed by writing its
//! [`Exit`] onto the position item (conditional on the revision read); writing the trade and
//! removing the position follow and are idempotent, so a crash in between is finished by whoever
//! reads the position next, and a manual close racing the runner's exit closes it exactly once.

use crate::error::RunnerError;
use crate::records::{Exit, Position, PositionView, PredictionRecord, TradeRecord, sk_time};
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::collections::BTreeMap;
use tradai_domain::{Actor, ModelName, StrategyId};
use tradai_ports::state::new_id;
use tradai_ports::{AuditEntry, Expect, Item, Query, StateStore, StoreError, Table, Write};
use tradai_runbook::Runbook;

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Value, RunnerError> {
    serde_json::to_value(v).map_err(|e| RunnerError::Invalid(format!("cannot encode record: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(table: Table, item: Item) -> Result<T, RunnerError> {
    serde_json::from_value(item.doc).map_err(|e| {
        RunnerError::Store(StoreError::Corrupt {
            table: table.to_string(),
            key: item.key.to_string(),
            message: e.to_string(),
        })
    })
}

/// Positions of a strategy as stored (open or mid-close), with their revisions.
pub(crate) async fn stored_positions(
    store: &dyn StateStore,
    strategy: &str,
) -> Result<Vec<(Position, u64)>, RunnerError> {
    let items = store
        .query(Table::POSITIONS, strategy, Query::default())
        .await?;
    items
        .into_iter()
        .map(|i| {
            let rev = i.rev;
            decode::<Position>(Table::POSITIONS, i).map(|p| (p, rev))
        })
        .collect()
}

/// Stores a new position; it must not exist yet.
pub(crate) async fn insert_position(
    store: &dyn StateStore,
    pos: &Position,
    at: DateTime<Utc>,
) -> Result<(), RunnerError> {
    store
        .write(Write {
            table: Table::POSITIONS,
            key: pos.key(),
            doc: Some(encode(pos)?),
            expect: Expect::Absent,
            at,
            audit: None,
        })
        .await?;
    Ok(())
}

/// Marks a position at a new price. False when someone changed it first (a manual close): the
/// caller re-reads next candle.
pub(crate) async fn mark_position(
    store: &dyn StateStore,
    pos: &Position,
    rev: u64,
    at: DateTime<Utc>,
) -> Result<bool, RunnerError> {
    let w = Write {
        table: Table::POSITIONS,
        key: pos.key(),
        doc: Some(encode(pos)?),
        expect: Expect::Rev(rev),
        at,
        audit: None,
    };
    match store.write(w).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The exit of `pos` at the quoted `price`, under the backtester's cost model (callers add the
/// operator's note or the serving version).
pub(crate) fn exit_at(
    pos: &Position,
    price: f64,
    ts: DateTime<Utc>,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Exit {
    let fill = tradai_ml::exit_fill(price, pos.amount, pos.stake_amount, pos.fee, pos.slippage);
    Exit {
        ts,
        price,
        rate: fill.rate,
        profit_abs: fill.profit_abs,
        profit_ratio: fill.profit_ratio,
        reason: reason.to_string(),
        note: None,
        actor: actor.to_string(),
        model_version: None,
        closed_at: now,
    }
}

/// Commits a close: writes `exit` onto the position at revision `rev` (with `audit` when a person
/// did it), then finishes it. `None` when the position changed or went first (nothing written).
pub(crate) async fn close(
    store: &dyn StateStore,
    pos: &Position,
    rev: u64,
    exit: Exit,
    audit: Option<(&str, &str)>,
) -> Result<Option<TradeRecord>, RunnerError> {
    let now = exit.closed_at;
    let mut closed = pos.clone();
    closed.exit = Some(exit);
    let before = encode(pos)?;
    let after = encode(&closed)?;
    let key = pos.key();
    let audit = audit.map(|(actor, reason)| AuditEntry {
        id: new_id(now),
        at: now,
        actor: actor.to_string(),
        action: "position.close".into(),
        entity: format!("{}/{}", Table::POSITIONS, key),
        before: Some(before),
        after: Some(after.clone()),
        reason: Some(reason.to_string()),
    });
    let w = Write {
        table: Table::POSITIONS,
        key,
        doc: Some(after),
        expect: Expect::Rev(rev),
        at: now,
        audit,
    };
    match store.write(w).await {
        Ok(_) => {}
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    finish_close(store, &closed, now).await.map(Some)
}

/// Second half of a committed close: the trade item, then the position's removal. Idempotent.
pub(crate) async fn finish_close(
    store: &dyn StateStore,
    closed: &Position,
    at: DateTime<Utc>,
) -> Result<TradeRecord, RunnerError> {
    let trade = TradeRecord {
        position: closed.clone(),
    };
    store
        .write(Write {
            table: Table::TRADES,
            key: closed.key(),
            doc: Some(encode(&trade)?),
            expect: Expect::Anything,
            at,
            audit: None,
        })
        .await?;
    store
        .write(Write {
            table: Table::POSITIONS,
            key: closed.key(),
            doc: None,
            expect: Expect::Anything,
            at,
            audit: None,
        })
        .await?;
    Ok(trade)
}

/// Unrealised P&L of an open position at its last marked price.
pub fn view(position: Position) -> PositionView {
    let fill = tradai_ml::exit_fill(
        position.last_price,
        position.amount,
        position.stake_amount,
        position.fee,
        position.slippage,
    );
    PositionView {
        unrealised_pnl: fill.profit_abs,
        unrealised_ratio: fill.profit_ratio,
        position,
    }
}

/// Open positions of a strategy with entry, size and unrealised P&L at the last price, oldest
/// first: `tradai positions STRATEGY`, the runbook's "review open positions".
pub async fn positions(
    rb: &Runbook,
    strategy: &StrategyId,
) -> Result<Vec<PositionView>, RunnerError> {
    rb.strategy_show(strategy).await?;
    Ok(stored_positions(&*rb.store, strategy.as_str())
        .await?
        .into_iter()
        .filter(|(p, _)| p.exit.is_none())
        .map(|(p, _)| view(p))
        .collect())
}

/// Which positions `tradai positions close` closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseTarget {
    /// One position by id.
    Id(String),
    /// Every open position of the strategy.
    All,
}

/// Closes positions by hand (`tradai positions close STRATEGY (--all | ID) --reason`) at their
/// last marked price, with an audit entry naming the actor and reason. Safe against a running
/// runner: each close is one conditional write, retried on a concurrent mark, and a position the
/// runner exited first is simply not in the result.
pub async fn close_positions(
    rb: &Runbook,
    strategy: &StrategyId,
    target: CloseTarget,
    reason: &str,
    actor: &Actor,
) -> Result<Vec<TradeRecord>, RunnerError> {
    if reason.trim().is_empty() {
        return Err(RunnerError::Invalid(
            "a manual close needs a reason (--reason)".into(),
        ));
    }
    rb.strategy_show(strategy).await?;
    let mut out = Vec::new();
    let mut found = false;
    for _attempt in 0..32 {
        let open: Vec<(Position, u64)> = stored_positions(&*rb.store, strategy.as_str())
            .await?
            .into_iter()
            .filter(|(p, _)| match &target {
                CloseTarget::Id(id) => &p.id == id,
                CloseTarget::All => true,
            })
            .collect();
        let mut conflicted = false;
        for (p, rev) in open {
            found = true;
            if p.exit.is_some() {
                // Committed by someone else and not yet finished: finish it, it is not ours.
                finish_close(&*rb.store, &p, rb.clock.now()).await?;
                continue;
            }
            let now = rb.clock.now();
            let mut exit = exit_at(&p, p.last_price, p.last_ts, "manual", actor.as_str(), now);
            exit.note = Some(reason.to_string());
            match close(&*rb.store, &p, rev, exit, Some((actor.as_str(), reason))).await? {
                Some(t) => out.push(t),
                None => conflicted = true,
            }
        }
        if !conflicted {
            break;
        }
    }
    if let (CloseTarget::Id(id), false) = (&target, found) {
        return Err(RunnerError::NoSuchPosition {
            strategy: strategy.to_string(),
            id: id.clone(),
        });
    }
    Ok(out)
}

/// Closed trades of a strategy, in opening order.
pub async fn trades(rb: &Runbook, strategy: &StrategyId) -> Result<Vec<TradeRecord>, RunnerError> {
    rb.store
        .query(Table::TRADES, strategy.as_str(), Query::default())
        .await?
        .into_iter()
        .map(|i| decode(Table::TRADES, i))
        .collect()
}

/// Logged predictions of a model with candle time in `[from, to)`, oldest first (every strategy
/// trading the model).
pub async fn predictions(
    store: &dyn StateStore,
    model: &ModelName,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PredictionRecord>, RunnerError> {
    let q = Query {
        sk_from: Some(sk_time(from)),
        sk_before: Some(sk_time(to)),
        ..Default::default()
    };
    store
        .query(Table::PREDICTIONS, model.as_str(), q)
        .await?
        .into_iter()
        .map(|i| decode(Table::PREDICTIONS, i))
        .collect()
}

/// The live inputs and outputs of a model over a window, by column: what drift-monitor compares
/// with the training reference profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeatureLog {
    /// Predictions logged (rows).
    pub rows: usize,
    /// Feature name → values, in time order (a row missing a feature is left out of its column).
    pub features: BTreeMap<String, Vec<f64>>,
    /// The model's predictions, in time order (non-finite ones left out).
    pub predictions: Vec<f64>,
    /// Versions seen, with how many rows each.
    pub versions: BTreeMap<String, usize>,
}

/// The logged features of a model with candle time in `[from, to)`, optionally of one version.
pub async fn logged_features(
    store: &dyn StateStore,
    model: &ModelName,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    version: Option<&str>,
) -> Result<FeatureLog, RunnerError> {
    let mut log = FeatureLog::default();
    for r in predictions(store, model, from, to).await? {
        if version.is_some_and(|v| v != r.model_version) {
            continue;
        }
        log.rows += 1;
        *log.versions.entry(r.model_version).or_default() += 1;
        if let Some(p) = r.prediction {
            log.predictions.push(p);
        }
        for (k, v) in r.features {
            log.features.entry(k).or_default().push(v);
        }
    }
    Ok(log)
}

/// Writes one prediction (overwriting a replay of the same candle: idempotent on restart).
pub(crate) async fn log_prediction(
    store: &dyn StateStore,
    rec: &PredictionRecord,
) -> Result<(), RunnerError> {
    store
        .write(Write {
            table: Table::PREDICTIONS,
            key: rec.key(),
            doc: Some(encode(rec)?),
            expect: Expect::Anything,
            at: rec.logged_at,
            audit: None,
        })
        .await?;
    Ok(())
}
