//! The model registry: versions with stages, and the serving pointer the strategy loads.
//!
//! The pointer item (`tradai-model-registry-{env}`) is the commit point of promotion and
//! rollback: stages are written first (archive the old Production version, then promote the new
//! one), the pointer last. A crash in between, or a person editing the pointer by hand as the
//! runbook shows, leaves stages out of step with the pointer; [`Runbook::model_reconcile`] runs
//! before every registry change and brings them back in line (the pointer wins).

use crate::store_ext::{self, Change};
use crate::{ModelVersion, RollbackState, Runbook, RunbookError, ServingPointer};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use tradai_domain::registry::artifact_prefix;
use tradai_domain::{Actor, ModelName, ModelStage, RollbackReason, Transition};
use tradai_ports::{Key, Query, Table};

fn version_key(model: &ModelName, v: u64) -> Key {
    Key::new(model.as_str(), format!("v#{v:010}"))
}

fn counter_key(model: &ModelName) -> Key {
    Key::new(model.as_str(), "counter")
}

/// A model's registry entry: the serving pointer and every version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelOverview {
    pub model_name: ModelName,
    pub serving: Option<ServingPointer>,
    pub versions: Vec<ModelVersion>,
    pub last_rollback: Option<RollbackState>,
}

/// Outcome of a promotion (the promote-model contract's output).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromoteOutcome {
    pub promoted: bool,
    pub new_version: String,
    pub new_stage: ModelStage,
    pub archived_version: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_promoted: bool,
    pub model_path: String,
}

/// Outcome (or preview, when `dry_run`) of a rollback (the model-rollback contract's output).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackOutcome {
    pub rolled_back: bool,
    pub dry_run: bool,
    pub model_name: ModelName,
    pub from_version: String,
    pub to_version: String,
    pub to_path: String,
    pub reason: RollbackReason,
    pub alarm_name: Option<String>,
    pub timestamp: String,
}

/// What to register.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub metrics: BTreeMap<String, Value>,
    pub metadata: BTreeMap<String, Value>,
    /// `register` or `train`.
    pub source: String,
}

impl Runbook {
    /// Every version of a model, oldest first.
    pub async fn model_versions(
        &self,
        model: &ModelName,
    ) -> Result<Vec<ModelVersion>, RunbookError> {
        let q = Query {
            sk_prefix: Some("v#".into()),
            ..Default::default()
        };
        store_ext::query(&*self.store, Table::MODEL_VERSIONS, model.as_str(), q).await
    }

    /// One version.
    pub async fn model_version(
        &self,
        model: &ModelName,
        v: u64,
    ) -> Result<ModelVersion, RunbookError> {
        store_ext::get(&*self.store, Table::MODEL_VERSIONS, &version_key(model, v))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| {
                RunbookError::not_found(
                    "model version",
                    format!("{model} v{v}"),
                    format!("see `tradai model versions {model}`"),
                )
            })
    }

    /// The serving pointer, if any version was ever promoted.
    pub async fn model_serving(
        &self,
        model: &ModelName,
    ) -> Result<Option<ServingPointer>, RunbookError> {
        Ok(store_ext::get(
            &*self.store,
            Table::MODEL_REGISTRY,
            &Key::pk(model.as_str()),
        )
        .await?
        .map(|(r, _)| r))
    }

    /// Names of every model with at least one version.
    pub async fn model_names(&self) -> Result<Vec<ModelName>, RunbookError> {
        let items = self.store.scan(Table::MODEL_VERSIONS).await?;
        let mut names: Vec<ModelName> = items
            .into_iter()
            .filter(|i| i.key.sk == "counter")
            .filter_map(|i| ModelName::new(i.key.pk).ok())
            .collect();
        names.dedup();
        Ok(names)
    }

    /// Pointer, versions and last rollback of a model; an error if the model has no version.
    pub async fn model_show(&self, model: &ModelName) -> Result<ModelOverview, RunbookError> {
        let versions = self.model_versions(model).await?;
        if versions.is_empty() {
            return Err(RunbookError::not_found(
                "model",
                model,
                "register a version with `tradai model register` or `tradai train`",
            ));
        }
        Ok(ModelOverview {
            model_name: model.clone(),
            serving: self.model_serving(model).await?,
            versions,
            last_rollback: store_ext::get(
                &*self.store,
                Table::ROLLBACK_STATE,
                &Key::pk(model.as_str()),
            )
            .await?
            .map(|(r, _)| r),
        })
    }

    /// Stores the artifact directory as a new version in `Staging`. The version item is written
    /// only after every artifact byte is stored; a failed upload is cleaned up and registers nothing.
    pub async fn model_register(
        &self,
        model: &ModelName,
        dir: &Path,
        new: NewVersion,
        actor: &Actor,
    ) -> Result<ModelVersion, RunbookError> {
        let meta = std::fs::metadata(dir).map_err(|e| {
            RunbookError::Invalid(tradai_domain::DomainError::invalid(
                "artifact directory",
                dir.display(),
                e.to_string(),
            ))
        })?;
        if !meta.is_dir() {
            return Err(tradai_domain::DomainError::invalid(
                "artifact directory",
                dir.display(),
                "not a directory",
            )
            .into());
        }
        let version = store_ext::next_counter(
            &*self.store,
            Table::MODEL_VERSIONS,
            &counter_key(model),
            self.clock.now(),
        )
        .await?;
        let prefix = artifact_prefix(model.as_str(), version);
        let info = match self.artifacts.put_dir(&prefix, dir).await {
            Ok(info) => info,
            Err(e) => {
                if let Err(cleanup) = self.artifacts.delete_prefix(&prefix).await {
                    tracing::warn!(%prefix, error = %cleanup, "could not clean up a failed artifact upload");
                }
                return Err(e.into());
            }
        };
        let now = self.clock.now();
        let rec = ModelVersion {
            model_name: model.clone(),
            version,
            stage: ModelStage::Staging,
            artifact_path: info.url,
            sha256: info.sha256,
            files: info.files,
            bytes: info.bytes,
            metrics: new.metrics,
            source: if new.source.is_empty() {
                "register".into()
            } else {
                new.source
            },
            created_at: now,
            created_by: actor.to_string(),
            stage_changed_at: now,
            metadata: new.metadata,
        };
        let change = Change {
            actor: actor.as_str(),
            action: "model.register",
            reason: None,
            at: now,
        };
        store_ext::insert(
            &*self.store,
            Table::MODEL_VERSIONS,
            version_key(model, version),
            &rec,
            &change,
        )
        .await?;
        Ok(rec)
    }

    async fn set_stage(
        &self,
        model: &ModelName,
        v: u64,
        to: ModelStage,
        change: &Change<'_>,
    ) -> Result<ModelVersion, RunbookError> {
        let up = store_ext::update(
            &*self.store,
            Table::MODEL_VERSIONS,
            &version_key(model, v),
            change,
            |cur: Option<ModelVersion>| {
                let cur = cur.ok_or_else(|| {
                    RunbookError::not_found("model version", format!("{model} v{v}"), "")
                })?;
                if cur.stage == to {
                    return Ok(cur);
                }
                cur.stage.check_transition(to)?;
                Ok(ModelVersion {
                    stage: to,
                    stage_changed_at: change.at,
                    ..cur
                })
            },
        )
        .await?;
        Ok(up.after)
    }

    /// Brings stages in line with the serving pointer: its version `Production`, any other
    /// `Production` version `Archived`. Returns how many versions it changed.
    pub async fn model_reconcile(&self, model: &ModelName) -> Result<usize, RunbookError> {
        let Some(ptr) = self.model_serving(model).await? else {
            return Ok(0);
        };
        let serving: Option<u64> = ptr.model_version.parse().ok();
        let now = self.clock.now();
        let change = Change {
            actor: Actor::SYSTEM,
            action: "model.reconcile",
            reason: Some("stage out of step with the serving pointer"),
            at: now,
        };
        let mut fixed = 0;
        for v in self.model_versions(model).await? {
            if Some(v.version) == serving && v.stage != ModelStage::Production {
                self.set_stage(model, v.version, ModelStage::Production, &change)
                    .await?;
                fixed += 1;
            } else if Some(v.version) != serving && v.stage == ModelStage::Production {
                self.set_stage(model, v.version, ModelStage::Archived, &change)
                    .await?;
                fixed += 1;
            }
        }
        if fixed > 0 {
            tracing::warn!(model = %model, fixed, "registry stages reconciled with the serving pointer");
        }
        Ok(fixed)
    }

    /// Promotes `version` to Production: archives the current Production version first, then
    /// promotes, then moves the serving pointer (version and path together).
    pub async fn model_promote(
        &self,
        model: &ModelName,
        version: u64,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<PromoteOutcome, RunbookError> {
        self.switch_serving(model, version, actor, reason, "model.promote")
            .await
    }

    async fn switch_serving(
        &self,
        model: &ModelName,
        version: u64,
        actor: &Actor,
        reason: Option<&str>,
        action: &str,
    ) -> Result<PromoteOutcome, RunbookError> {
        self.model_reconcile(model).await?;
        let target = self.model_version(model, version).await?;
        let ptr = self.model_serving(model).await?;
        let current: Option<u64> = ptr.as_ref().and_then(|p| p.model_version.parse().ok());
        if current == Some(version) && target.stage == ModelStage::Production {
            return Ok(PromoteOutcome {
                promoted: true,
                new_version: version.to_string(),
                new_stage: ModelStage::Production,
                archived_version: None,
                already_promoted: true,
                model_path: target.artifact_path,
            });
        }
        target.stage.check_transition(ModelStage::Production)?;
        let now = self.clock.now();
        let change = Change {
            actor: actor.as_str(),
            action,
            reason,
            at: now,
        };
        let mut archived = None;
        if let Some(cur) = current {
            self.set_stage(
                model,
                cur,
                ModelStage::Archived,
                &Change {
                    action: "model.archive",
                    ..change
                },
            )
            .await?;
            archived = Some(cur.to_string());
        }
        let promoted = self
            .set_stage(model, version, ModelStage::Production, &change)
            .await?;
        let pointer = ServingPointer {
            model_name: model.clone(),
            model_version: version.to_string(),
            model_path: promoted.artifact_path.clone(),
            updated_by: Some(actor.to_string()),
            updated_at: Some(now),
        };
        store_ext::update(
            &*self.store,
            Table::MODEL_REGISTRY,
            &Key::pk(model.as_str()),
            &Change {
                action: "model.serve",
                ..change
            },
            |_| Ok(pointer.clone()),
        )
        .await?;
        Ok(PromoteOutcome {
            promoted: true,
            new_version: version.to_string(),
            new_stage: ModelStage::Production,
            archived_version: archived,
            already_promoted: false,
            model_path: promoted.artifact_path,
        })
    }

    /// The newest `Staging` version, for promote-model's default.
    pub async fn model_latest_staging(
        &self,
        model: &ModelName,
    ) -> Result<Option<ModelVersion>, RunbookError> {
        Ok(self
            .model_versions(model)
            .await?
            .into_iter()
            .rev()
            .find(|v| v.stage == ModelStage::Staging))
    }

    /// The version a rollback goes to by default: the most recently archived one.
    pub async fn model_previous_version(
        &self,
        model: &ModelName,
    ) -> Result<Option<ModelVersion>, RunbookError> {
        let mut archived: Vec<ModelVersion> = self
            .model_versions(model)
            .await?
            .into_iter()
            .filter(|v| v.stage == ModelStage::Archived)
            .collect();
        archived.sort_by_key(|v| (v.stage_changed_at, v.version));
        Ok(archived.pop())
    }

    /// Rolls the serving pointer back to `to` (default: the previous version), unless within
    /// `ROLLBACK_COOLDOWN_HOURS` of the last rollback. `dry_run` only previews.
    pub async fn model_rollback(
        &self,
        model: &ModelName,
        to: Option<u64>,
        reason: RollbackReason,
        alarm_name: Option<&str>,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<RollbackOutcome, RunbookError> {
        self.model_show(model).await?;
        if !dry_run {
            self.model_reconcile(model).await?;
        }
        let ptr = self.model_serving(model).await?.ok_or_else(|| {
            RunbookError::Refused(format!(
                "model '{model}' has no Production version to roll back from (promote one first)"
            ))
        })?;
        let target = match to {
            Some(v) => self.model_version(model, v).await?,
            None => self.model_previous_version(model).await?.ok_or_else(|| {
                RunbookError::Refused(format!(
                    "model '{model}' has no Archived version to roll back to; name one with --to"
                ))
            })?,
        };
        if target.version.to_string() == ptr.model_version {
            return Err(RunbookError::Refused(format!(
                "model '{model}' is already serving version {}",
                target.version
            )));
        }
        target.stage.check_transition(ModelStage::Production)?;
        let now = self.clock.now();
        let last = store_ext::get::<RollbackState>(
            &*self.store,
            Table::ROLLBACK_STATE,
            &Key::pk(model.as_str()),
        )
        .await?;
        let outcome = RollbackOutcome {
            rolled_back: !dry_run,
            dry_run,
            model_name: model.clone(),
            from_version: ptr.model_version.clone(),
            to_version: target.version.to_string(),
            to_path: target.artifact_path.clone(),
            reason,
            alarm_name: alarm_name.map(str::to_string),
            timestamp: tradai_domain::time::fmt_ts(now),
        };
        if dry_run {
            return Ok(outcome);
        }
        if let Some((last, _)) = &last {
            let cooldown = Duration::hours(i64::from(self.config.rollback.rollback_cooldown_hours));
            if in_cooldown(last.last_rollback_at, now, cooldown) {
                return Err(RunbookError::Refused(format!(
                    "model '{model}' was rolled back at {} (less than ROLLBACK_COOLDOWN_HOURS={} ago); next rollback allowed after {}",
                    tradai_domain::time::fmt_ts(last.last_rollback_at),
                    self.config.rollback.rollback_cooldown_hours,
                    tradai_domain::time::fmt_ts(last.last_rollback_at + cooldown)
                )));
            }
        }
        let reason_text = reason.to_string();
        self.switch_serving(
            model,
            target.version,
            actor,
            Some(&reason_text),
            "model.rollback",
        )
        .await?;
        let change = Change {
            actor: actor.as_str(),
            action: "model.rollback_state",
            reason: Some(&reason_text),
            at: now,
        };
        store_ext::update(
            &*self.store,
            Table::ROLLBACK_STATE,
            &Key::pk(model.as_str()),
            &change,
            |cur: Option<RollbackState>| {
                Ok(RollbackState {
                    model_name: model.clone(),
                    last_rollback_at: now,
                    count: cur.map_or(0, |c| c.count) + 1,
                    reason: reason_text.clone(),
                    from_version: outcome.from_version.clone(),
                    to_version: outcome.to_version.clone(),
                    alarm_name: outcome.alarm_name.clone(),
                    actor: actor.to_string(),
                })
            },
        )
        .await?;
        Ok(outcome)
    }
}

/// Whether `now` is inside the cooldown after `last` (the boundary itself is outside).
pub fn in_cooldown(last: DateTime<Utc>, now: DateTime<Utc>, cooldown: Duration) -> bool {
    now < last + cooldown
}
