//! Retraining state: what the scheduler and the training task record about a model.

use crate::store_ext::{self, Change};
use crate::{RetrainingState, Runbook, RunbookError};
use tradai_domain::{Actor, ModelName};
use tradai_ports::{Key, Table};

impl Runbook {
    /// A model's retraining state, if it was ever retrained or scheduled.
    pub async fn retrain_state(
        &self,
        model: &ModelName,
    ) -> Result<Option<RetrainingState>, RunbookError> {
        Ok(store_ext::get(
            &*self.store,
            Table::RETRAINING_STATE,
            &Key::pk(model.as_str()),
        )
        .await?
        .map(|(r, _)| r))
    }

    /// Read-modify-write of a model's retraining state; `f` enforces the transition it needs.
    /// This conditional write is what keeps two trainings of one model from starting at once.
    pub async fn retrain_update(
        &self,
        model: &ModelName,
        actor: &Actor,
        action: &str,
        reason: Option<&str>,
        f: impl FnMut(Option<RetrainingState>) -> Result<RetrainingState, RunbookError>,
    ) -> Result<RetrainingState, RunbookError> {
        let change = Change {
            actor: actor.as_str(),
            action,
            reason,
            at: self.clock.now(),
        };
        Ok(store_ext::update(
            &*self.store,
            Table::RETRAINING_STATE,
            &Key::pk(model.as_str()),
            &change,
            f,
        )
        .await?
        .after)
    }
}
