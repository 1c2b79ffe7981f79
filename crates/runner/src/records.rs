//! What the runner stores: predictions, open positions and closed trades (JSON items).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tradai_domain::TradingStatus;
use tradai_ml::Signal;
use tradai_ports::Key;

/// Sort-key form of a time: fixed width (milliseconds, `Z`) so text order is time order.
pub fn sk_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One prediction (`PREDICTIONS`, pk model, sk `{ts}#{strategy}`): the runbook's "verify
/// predictions are using the correct model version", and drift-monitor's live features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub strategy_id: String,
    pub pair: String,
    /// Open time of the candle the prediction was made on (market time).
    pub ts: DateTime<Utc>,
    pub model_name: String,
    /// The serving version that made it.
    pub model_version: String,
    /// `None` when the features were not finite (the model then holds).
    pub prediction: Option<f64>,
    pub signal: Signal,
    /// Feature name → value, in the model's feature set (non-finite values left out).
    pub features: BTreeMap<String, f64>,
    /// The trading status the runner acted under for this candle.
    pub status: TradingStatus,
    /// When it was logged (injected clock).
    pub logged_at: DateTime<Utc>,
}

impl PredictionRecord {
    /// Its key: one partition per model, so a model's window is one range query.
    pub fn key(&self) -> Key {
        Key::new(
            self.model_name.clone(),
            format!("{}#{}", sk_time(self.ts), self.strategy_id),
        )
    }
}

/// How a position was (or is being) closed. Setting it on the position item is the commit point
/// of a close; the trade item and the position's removal follow and are idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    /// Market time of the exit (the candle's open time, or the last marked candle for a manual close).
    pub ts: DateTime<Utc>,
    /// Quoted price the exit was filled against (before slippage).
    pub price: f64,
    /// Fill price after slippage.
    pub rate: f64,
    pub profit_abs: f64,
    pub profit_ratio: f64,
    /// `exit_signal`, or `manual` for `tradai positions close`.
    pub reason: String,
    /// Free text of a manual close (the operator's `--reason`).
    #[serde(default)]
    pub note: Option<String>,
    /// `system` for the runner, the operator's name for a manual close.
    pub actor: String,
    /// The serving version when it closed.
    #[serde(default)]
    pub model_version: Option<String>,
    pub closed_at: DateTime<Utc>,
}

/// A paper position (`POSITIONS`, pk strategy, sk id). Open while `exit` is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// ULID from the entry candle's time: ids sort in opening order.
    pub id: String,
    pub strategy_id: String,
    pub pair: String,
    pub model_name: String,
    /// The version whose signal opened it.
    pub model_version: String,
    /// Market time of the entry (the candle's open time).
    pub opened_at: DateTime<Utc>,
    /// Quoted price at entry (the candle's close) and the fill after slippage.
    pub entry_price: f64,
    pub open_rate: f64,
    /// Base amount held.
    pub amount: f64,
    /// Quote committed (before fees): the strategy's `stake_amount` at entry.
    pub stake_amount: f64,
    /// The strategy configuration version the stake came from.
    pub config_version: u64,
    /// Costs used at entry; the exit uses the same ones.
    pub fee: f64,
    pub slippage: f64,
    /// Last price the runner marked the position at, and the candle it came from.
    pub last_price: f64,
    pub last_ts: DateTime<Utc>,
    #[serde(default)]
    pub exit: Option<Exit>,
}

impl Position {
    /// Its key in `POSITIONS` (and of its trade in `TRADES`).
    pub fn key(&self) -> Key {
        Key::new(self.strategy_id.clone(), self.id.clone())
    }
}

/// A closed trade (`TRADES`, pk strategy, sk position id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeRecord {
    #[serde(flatten)]
    pub position: Position,
}

impl TradeRecord {
    /// The exit (always present on a stored trade).
    pub fn exit(&self) -> Option<&Exit> {
        self.position.exit.as_ref()
    }
}

/// An open position as `tradai positions STRATEGY` shows it: the runbook's "review open positions".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionView {
    #[serde(flatten)]
    pub position: Position,
    /// P&L if closed now at `last_price`, after both fees and slippage (same cost model as exits).
    pub unrealised_pnl: f64,
    /// `unrealised_pnl / stake_amount`.
    pub unrealised_ratio: f64,
}
