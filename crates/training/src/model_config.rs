//! A model's configuration (the contracts' "model's configuration"): pairs, timeframe, training
//! windows, where its candles live, seed, the strategy trading it. The retraining scheduler fills
//! missing payload fields from it and `tradai train` reads it.
//!
//! One item per model in `tradai-model-config-{env}` (key `model_name`), changed by conditional
//! single-item writes with an audit entry (before/after) and a `config_version` that grows by one
//! per change — the version a trained model records in its metadata.

use crate::TrainingError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tradai_domain::{Actor, ModelName, StrategyId};
use tradai_market::{Pair, Timeframe};
use tradai_ports::{AuditEntry, Expect, Key, StateStore, StoreError, Table, Write};

/// The only built-in learner (`tradai_ml::train`, ridge regression).
pub const RIDGE: &str = "ridge";

/// What a model is trained on and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub model_name: ModelName,
    /// The learner (`ridge`).
    pub freqai_model: String,
    /// Days of candles the model is fitted on.
    pub train_period_days: u32,
    /// Days right after the training window used for validation (and the default backtest window).
    pub validation_days: u32,
    /// Pairs in ccxt notation (`BTC/USDT:USDT`); the first is the one the model is fitted on.
    pub pairs: Vec<String>,
    /// Candle timeframe (`1h`).
    pub timeframe: String,
    /// Directory of candle files in freqtrade's layout (`BTC_USDT-1h.json`, `futures/…`).
    #[serde(default)]
    pub data_dir: Option<String>,
    /// Recorded with every trained version so a run can be repeated.
    pub seed: u64,
    /// The strategy whose stake and `max_open_trades` backtests use (default: any strategy
    /// trading the model, else the backtester's defaults).
    #[serde(default)]
    pub strategy: Option<StrategyId>,
}

impl ModelConfig {
    /// The defaults the contracts give (`ridge`, 30 days, `BTC/USDT:USDT`, `1h`).
    pub fn new(model_name: ModelName) -> Self {
        ModelConfig {
            model_name,
            freqai_model: RIDGE.into(),
            train_period_days: 30,
            validation_days: 7,
            pairs: vec!["BTC/USDT:USDT".into()],
            timeframe: "1h".into(),
            data_dir: None,
            seed: 42,
            strategy: None,
        }
    }

    /// Checks every field; the error names the field and value.
    pub fn validate(&self) -> Result<(), TrainingError> {
        if self.freqai_model != RIDGE {
            return Err(TrainingError::Invalid(format!(
                "freqai_model '{}': the built-in trainer is '{RIDGE}' (models trained elsewhere enter with `tradai model register`)",
                self.freqai_model
            )));
        }
        if self.train_period_days == 0 || self.validation_days == 0 {
            return Err(TrainingError::Invalid(format!(
                "train_period_days {} / validation_days {}: both must be at least 1",
                self.train_period_days, self.validation_days
            )));
        }
        self.timeframe()?;
        self.parsed_pairs()?;
        Ok(())
    }

    /// The timeframe, parsed.
    pub fn timeframe(&self) -> Result<Timeframe, TrainingError> {
        self.timeframe
            .parse()
            .map_err(|e: tradai_market::MarketError| {
                TrainingError::Invalid(format!("timeframe: {e}"))
            })
    }

    /// The pairs, parsed; at least one, no duplicates.
    pub fn parsed_pairs(&self) -> Result<Vec<Pair>, TrainingError> {
        let mut out: Vec<Pair> = Vec::new();
        for p in &self.pairs {
            let pair: Pair = p.parse().map_err(|e: tradai_market::MarketError| {
                TrainingError::Invalid(format!("pairs: {e}"))
            })?;
            if out.contains(&pair) {
                return Err(TrainingError::Invalid(format!(
                    "pairs: {pair} listed twice"
                )));
            }
            out.push(pair);
        }
        if out.is_empty() {
            return Err(TrainingError::Invalid(
                "pairs: give at least one pair, e.g. BTC/USDT:USDT".into(),
            ));
        }
        Ok(out)
    }
}

/// The stored item: the configuration plus its version and last change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfigRecord {
    #[serde(flatten)]
    pub config: ModelConfig,
    /// 1 for the first configuration, +1 for every change.
    pub config_version: u64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A change: every `Some` field replaces the stored one (or the default for a new model).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelConfigPatch {
    pub freqai_model: Option<String>,
    pub train_period_days: Option<u32>,
    pub validation_days: Option<u32>,
    pub pairs: Option<Vec<String>>,
    pub timeframe: Option<String>,
    /// `Some(None)` clears the data directory.
    pub data_dir: Option<Option<String>>,
    pub seed: Option<u64>,
    /// `Some(None)` clears the strategy.
    pub strategy: Option<Option<StrategyId>>,
}

impl ModelConfigPatch {
    /// Whether the patch changes nothing (the CLI then shows the configuration).
    pub fn is_empty(&self) -> bool {
        self == &ModelConfigPatch::default()
    }

    fn apply(&self, c: &mut ModelConfig) {
        if let Some(v) = &self.freqai_model {
            c.freqai_model = v.clone();
        }
        if let Some(v) = self.train_period_days {
            c.train_period_days = v;
        }
        if let Some(v) = self.validation_days {
            c.validation_days = v;
        }
        if let Some(v) = &self.pairs {
            c.pairs = v.clone();
        }
        if let Some(v) = &self.timeframe {
            c.timeframe = v.clone();
        }
        if let Some(v) = &self.data_dir {
            c.data_dir = v.clone();
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = &self.strategy {
            c.strategy = v.clone();
        }
    }
}

/// What a configuration change did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigChange {
    pub before: Option<ModelConfigRecord>,
    pub after: ModelConfigRecord,
    /// False when the patch matched the stored configuration: nothing was written.
    pub changed: bool,
}

const MAX_ATTEMPTS: usize = 32;

fn corrupt(key: &Key, e: serde_json::Error) -> TrainingError {
    TrainingError::Store(StoreError::Corrupt {
        table: Table::MODEL_CONFIG.to_string(),
        key: key.to_string(),
        message: e.to_string(),
    })
}

/// Reads a model's configuration, if it has one.
pub async fn get(
    store: &dyn StateStore,
    model: &ModelName,
) -> Result<Option<ModelConfigRecord>, TrainingError> {
    let key = Key::pk(model.as_str());
    match store.get(Table::MODEL_CONFIG, &key).await? {
        Some(item) => Ok(Some(
            serde_json::from_value(item.doc).map_err(|e| corrupt(&key, e))?,
        )),
        None => Ok(None),
    }
}

/// Every configured model, by name.
pub async fn list(store: &dyn StateStore) -> Result<Vec<ModelConfigRecord>, TrainingError> {
    let mut out: Vec<ModelConfigRecord> = store
        .scan(Table::MODEL_CONFIG)
        .await?
        .into_iter()
        .map(|i| serde_json::from_value(i.doc).map_err(|e| corrupt(&i.key, e)))
        .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| a.config.model_name.cmp(&b.config.model_name));
    Ok(out)
}

/// Creates or changes a model's configuration: validated, one conditional write with its audit
/// entry (`model.config`), retried on a concurrent change.
pub async fn set(
    store: &dyn StateStore,
    model: &ModelName,
    patch: &ModelConfigPatch,
    actor: &Actor,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ConfigChange, TrainingError> {
    let key = Key::pk(model.as_str());
    let mut last_conflict = None;
    for _ in 0..MAX_ATTEMPTS {
        let current = store.get(Table::MODEL_CONFIG, &key).await?;
        let (before_doc, before, expect) = match current {
            Some(item) => {
                let rec: ModelConfigRecord =
                    serde_json::from_value(item.doc.clone()).map_err(|e| corrupt(&key, e))?;
                (Some(item.doc), Some(rec), Expect::Rev(item.rev))
            }
            None => (None, None, Expect::Absent),
        };
        let mut cfg = before
            .as_ref()
            .map_or_else(|| ModelConfig::new(model.clone()), |b| b.config.clone());
        patch.apply(&mut cfg);
        cfg.validate()?;
        if let Some(b) = &before
            && b.config == cfg
        {
            return Ok(ConfigChange {
                before: before.clone(),
                after: b.clone(),
                changed: false,
            });
        }
        let after = ModelConfigRecord {
            config: cfg,
            config_version: before.as_ref().map_or(0, |b| b.config_version) + 1,
            updated_by: actor.to_string(),
            updated_at: now,
            reason: reason.map(str::to_string),
        };
        let after_doc = serde_json::to_value(&after).map_err(|e| corrupt(&key, e))?;
        let audit = AuditEntry {
            id: tradai_ports::state::new_id(now),
            at: now,
            actor: actor.to_string(),
            action: "model.config".into(),
            entity: format!("{}/{key}", Table::MODEL_CONFIG),
            before: before_doc,
            after: Some(after_doc.clone()),
            reason: reason.map(str::to_string),
        };
        let w = Write {
            table: Table::MODEL_CONFIG,
            key: key.clone(),
            doc: Some(after_doc),
            expect,
            at: now,
            audit: Some(audit),
        };
        match store.write(w).await {
            Ok(_) => {
                return Ok(ConfigChange {
                    before,
                    after,
                    changed: true,
                });
            }
            Err(e @ StoreError::Conflict { .. }) => last_conflict = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(TrainingError::Store(last_conflict.unwrap_or(
        StoreError::Backend {
            location: Table::MODEL_CONFIG.to_string(),
            message: "no attempt made".into(),
        },
    )))
}

/// The configuration as JSON for run params and version metadata.
pub(crate) fn as_params(c: &ModelConfigRecord) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}
