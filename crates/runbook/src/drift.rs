//! Drift state: the latest result per model, its history, and the reset after resolution.

use crate::store_ext::{self, Change};
use crate::{DriftState, Runbook, RunbookError};
use serde_json::Value;
use tradai_domain::{Actor, ModelName, Severity};
use tradai_ports::{Key, Query, Table};

fn history_key(model: &ModelName, at: chrono::DateTime<chrono::Utc>) -> Key {
    let ts = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    Key::new(
        model.as_str(),
        format!("{ts}#{}", tradai_ports::state::new_id(at)),
    )
}

impl Runbook {
    /// The latest drift result of a model.
    pub async fn drift_show(&self, model: &ModelName) -> Result<DriftState, RunbookError> {
        store_ext::get(&*self.store, Table::DRIFT_STATE, &Key::pk(model.as_str()))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| {
                RunbookError::not_found(
                    "drift state of model",
                    model,
                    "no drift result recorded yet; run `tradai invoke drift-monitor`",
                )
            })
    }

    /// Every drift state the model went through, newest first (`limit` of them).
    pub async fn drift_history(
        &self,
        model: &ModelName,
        limit: Option<usize>,
    ) -> Result<Vec<DriftState>, RunbookError> {
        store_ext::query(
            &*self.store,
            Table::DRIFT_HISTORY,
            model.as_str(),
            Query {
                descending: true,
                limit,
                ..Default::default()
            },
        )
        .await
    }

    /// Stores a new drift result as the model's latest and appends it to the history.
    pub async fn drift_record(
        &self,
        state: DriftState,
        actor: &Actor,
    ) -> Result<DriftState, RunbookError> {
        let model = state.model_name.clone();
        let change = Change {
            actor: actor.as_str(),
            action: "drift.record",
            reason: state.reason.as_deref(),
            at: state.updated_at,
        };
        store_ext::update(
            &*self.store,
            Table::DRIFT_STATE,
            &Key::pk(model.as_str()),
            &change,
            |_| Ok(state.clone()),
        )
        .await?;
        let quiet = Change {
            action: "",
            ..change
        };
        store_ext::update(
            &*self.store,
            Table::DRIFT_HISTORY,
            &history_key(&model, state.updated_at),
            &quiet,
            |_| Ok(state.clone()),
        )
        .await?;
        Ok(state)
    }

    /// Resets a model's drift state after a resolution (the runbook's "reset drift state"):
    /// severity `none`, the cleared result kept in `result`.
    pub async fn drift_reset(
        &self,
        model: &ModelName,
        actor: &Actor,
        reason: &str,
    ) -> Result<DriftState, RunbookError> {
        let now = self.clock.now();
        let known = self
            .store
            .get(Table::DRIFT_STATE, &Key::pk(model.as_str()))
            .await?
            .is_some()
            || !self.model_versions(model).await?.is_empty();
        if !known {
            return Err(RunbookError::not_found(
                "model",
                model,
                "see `tradai model versions`",
            ));
        }
        let change = Change {
            actor: actor.as_str(),
            action: "drift.reset",
            reason: Some(reason),
            at: now,
        };
        let up = store_ext::update(
            &*self.store,
            Table::DRIFT_STATE,
            &Key::pk(model.as_str()),
            &change,
            |cur: Option<DriftState>| {
                Ok(DriftState {
                    model_name: model.clone(),
                    status: "reset".into(),
                    severity: Severity::None,
                    overall_psi: None,
                    max_psi: None,
                    psi: Default::default(),
                    requires_attention: false,
                    result: cur.map(|c| c.result).unwrap_or(Value::Null),
                    updated_at: now,
                    updated_by: actor.to_string(),
                    reason: Some(reason.to_string()),
                })
            },
        )
        .await?;
        let quiet = Change {
            action: "",
            ..change
        };
        store_ext::update(
            &*self.store,
            Table::DRIFT_HISTORY,
            &history_key(model, now),
            &quiet,
            |_| Ok(up.after.clone()),
        )
        .await?;
        Ok(up.after)
    }
}
