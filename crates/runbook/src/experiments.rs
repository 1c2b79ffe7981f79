//! Experiment runs on the state store: the embedded [`ExperimentTracker`].
//!
//! An experiment is an item in `experiments` (written once); its runs are items in
//! `experiment-runs` under the experiment's partition, sorted by start time — so "runs of
//! `backtest-*` in a window" is one query per experiment, no scan of runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tradai_ports::{
    Expect, ExperimentTracker, Key, Query, Run, RunFilter, StateStore, StoreError, Table, Write,
};

/// Experiment tracking over any [`StateStore`].
#[derive(Clone)]
pub struct StoreTracker {
    store: Arc<dyn StateStore>,
}

impl StoreTracker {
    /// Binds the tracker to a store.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        StoreTracker { store }
    }
}

fn sk_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn corrupt(table: Table, key: &Key, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        table: table.to_string(),
        key: key.to_string(),
        message: e.to_string(),
    }
}

#[async_trait]
impl ExperimentTracker for StoreTracker {
    async fn log_run(&self, run: &Run) -> Result<(), StoreError> {
        let exp_key = Key::pk(&run.experiment);
        if self
            .store
            .get(Table::EXPERIMENTS, &exp_key)
            .await?
            .is_none()
        {
            let doc = serde_json::json!({"name": run.experiment, "created_at": run.start_time});
            let w = Write {
                table: Table::EXPERIMENTS,
                key: exp_key,
                doc: Some(doc),
                expect: Expect::Absent,
                at: run.start_time,
                audit: None,
            };
            match self.store.write(w).await {
                Ok(_) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let key = Key::new(
            &run.experiment,
            format!("{}#{}", sk_time(run.start_time), run.run_id),
        );
        let doc =
            serde_json::to_value(run).map_err(|e| corrupt(Table::EXPERIMENT_RUNS, &key, e))?;
        let at = run.end_time.unwrap_or(run.start_time);
        self.store
            .write(Write {
                table: Table::EXPERIMENT_RUNS,
                key,
                doc: Some(doc),
                expect: Expect::Anything,
                at,
                audit: None,
            })
            .await?;
        Ok(())
    }

    async fn runs(&self, f: &RunFilter) -> Result<Vec<Run>, StoreError> {
        let mut experiments: Vec<String> = self
            .store
            .scan(Table::EXPERIMENTS)
            .await?
            .into_iter()
            .map(|i| i.key.pk)
            .collect();
        if let Some(p) = &f.experiment_prefix {
            experiments.retain(|e| e.starts_with(p.as_str()));
        }
        let mut out = Vec::new();
        for e in experiments {
            let q = Query {
                sk_from: f.since.map(sk_time),
                sk_before: f.until.map(sk_time),
                ..Default::default()
            };
            for item in self.store.query(Table::EXPERIMENT_RUNS, &e, q).await? {
                let run: Run = serde_json::from_value(item.doc)
                    .map_err(|err| corrupt(Table::EXPERIMENT_RUNS, &item.key, err))?;
                if f.model
                    .as_ref()
                    .is_none_or(|m| run.tags.get("model") == Some(m))
                {
                    out.push(run);
                }
            }
        }
        out.sort_by(|a, b| {
            a.start_time
                .cmp(&b.start_time)
                .then_with(|| a.run_id.cmp(&b.run_id))
        });
        Ok(out)
    }
}
