//! Strategy configuration: add, show, change the stake (the runbook's "reduce stake amount").

use crate::store_ext::{self, Change};
use crate::{Runbook, RunbookError, StrategyConfigRecord, TradingState};
use tradai_domain::strategy::validate_stake;
use tradai_domain::{Actor, StrategyConfig, StrategyId, TradingStatus};
use tradai_ports::{Key, Query, Table};

fn history_key(id: &StrategyId, version: u64) -> Key {
    Key::new(id.as_str(), format!("{version:010}"))
}

impl Runbook {
    /// Creates a strategy's configuration (version 1) and its trading state (`stopped` until a
    /// runner starts it).
    pub async fn strategy_add(
        &self,
        config: StrategyConfig,
        actor: &Actor,
    ) -> Result<StrategyConfigRecord, RunbookError> {
        config.validate()?;
        let now = self.clock.now();
        let key = Key::pk(config.strategy_id.as_str());
        if self
            .store
            .get(Table::STRATEGY_CONFIG, &key)
            .await?
            .is_some()
        {
            return Err(RunbookError::Exists {
                what: "strategy",
                name: config.strategy_id.to_string(),
            });
        }
        let rec = StrategyConfigRecord {
            config: config.clone(),
            config_version: 1,
            updated_by: actor.to_string(),
            updated_at: now,
            reason: Some("strategy added".into()),
        };
        let change = Change {
            actor: actor.as_str(),
            action: "strategy.add",
            reason: None,
            at: now,
        };
        store_ext::insert(
            &*self.store,
            Table::STRATEGY_CONFIG,
            key.clone(),
            &rec,
            &change,
        )
        .await
        .map_err(|e| match e {
            RunbookError::Store(tradai_ports::StoreError::Conflict { .. }) => {
                RunbookError::Exists {
                    what: "strategy",
                    name: config.strategy_id.to_string(),
                }
            }
            e => e,
        })?;
        store_ext::insert(
            &*self.store,
            Table::STRATEGY_CONFIG_HISTORY,
            history_key(&config.strategy_id, 1),
            &rec,
            &Change {
                action: "strategy.config_version",
                ..change
            },
        )
        .await?;
        let ts = TradingState {
            strategy_id: config.strategy_id.clone(),
            status: TradingStatus::Stopped,
            last_heartbeat: None,
            reason: Some("strategy added".into()),
            updated_by: Some(actor.to_string()),
            updated_at: Some(now),
        };
        let change = Change {
            actor: actor.as_str(),
            action: "trading.init",
            reason: None,
            at: now,
        };
        store_ext::update(
            &*self.store,
            Table::TRADING_STATE,
            &key,
            &change,
            |cur: Option<TradingState>| Ok(cur.unwrap_or_else(|| ts.clone())),
        )
        .await?;
        Ok(rec)
    }

    /// A strategy's current configuration.
    pub async fn strategy_show(
        &self,
        id: &StrategyId,
    ) -> Result<StrategyConfigRecord, RunbookError> {
        store_ext::get(&*self.store, Table::STRATEGY_CONFIG, &Key::pk(id.as_str()))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| {
                RunbookError::not_found(
                    "strategy",
                    id,
                    "see `tradai strategy list`; add one with `tradai strategy add`",
                )
            })
    }

    /// Every strategy's configuration, by id.
    pub async fn strategy_list(&self) -> Result<Vec<StrategyConfigRecord>, RunbookError> {
        store_ext::scan(&*self.store, Table::STRATEGY_CONFIG, |_| true).await
    }

    /// Strategies trading a model (the policy pauses or reduces these).
    pub async fn strategies_for_model(
        &self,
        model: &str,
    ) -> Result<Vec<StrategyConfigRecord>, RunbookError> {
        Ok(self
            .strategy_list()
            .await?
            .into_iter()
            .filter(|s| s.config.model.as_str() == model)
            .collect())
    }

    /// Changes a strategy's configuration with `f` (stake, pairs, …): a new config version, the
    /// old one kept in the history. Returns (before, after); unchanged when `f` changes nothing.
    pub async fn strategy_update(
        &self,
        id: &StrategyId,
        actor: &Actor,
        reason: Option<&str>,
        action: &str,
        f: impl Fn(&mut StrategyConfig) -> Result<(), RunbookError>,
    ) -> Result<(StrategyConfigRecord, StrategyConfigRecord), RunbookError> {
        self.strategy_show(id).await?;
        let now = self.clock.now();
        let key = Key::pk(id.as_str());
        let change = Change {
            actor: actor.as_str(),
            action,
            reason,
            at: now,
        };
        let up = store_ext::update(
            &*self.store,
            Table::STRATEGY_CONFIG,
            &key,
            &change,
            |cur: Option<StrategyConfigRecord>| {
                let cur = cur.ok_or_else(|| RunbookError::not_found("strategy", id, ""))?;
                let mut cfg = cur.config.clone();
                f(&mut cfg)?;
                cfg.validate()?;
                if cfg == cur.config {
                    return Ok(cur);
                }
                Ok(StrategyConfigRecord {
                    config: cfg,
                    config_version: cur.config_version + 1,
                    updated_by: actor.to_string(),
                    updated_at: now,
                    reason: reason.map(str::to_string),
                })
            },
        )
        .await?;
        let before = up
            .before
            .ok_or_else(|| RunbookError::not_found("strategy", id, ""))?;
        if up.changed {
            // Each version number is written once, by the writer that won that version.
            store_ext::insert(
                &*self.store,
                Table::STRATEGY_CONFIG_HISTORY,
                history_key(id, up.after.config_version),
                &up.after,
                &Change {
                    action: "strategy.config_version",
                    ..change
                },
            )
            .await?;
        }
        Ok((before, up.after))
    }

    /// Sets the stake amount (the runbook's "reduce stake amount"). Applies to the next entry.
    pub async fn strategy_set_stake(
        &self,
        id: &StrategyId,
        stake: f64,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<(StrategyConfigRecord, StrategyConfigRecord), RunbookError> {
        validate_stake(stake)?;
        self.strategy_update(id, actor, reason, "strategy.set_stake", |c| {
            c.stake_amount = stake;
            Ok(())
        })
        .await
    }

    /// Every configuration version of a strategy, oldest first.
    pub async fn strategy_history(
        &self,
        id: &StrategyId,
    ) -> Result<Vec<StrategyConfigRecord>, RunbookError> {
        self.strategy_show(id).await?;
        store_ext::query(
            &*self.store,
            Table::STRATEGY_CONFIG_HISTORY,
            id.as_str(),
            Query::default(),
        )
        .await
    }
}
