//! The retraining workflow (contracts §3): 13 states, every transition persisted with the
//! execution's trace id, so a crash at any state is resumed when the daemon restarts.
//!
//! ```text
//! NormalizeInput → CheckRetrainingNeeded → EvaluateRetrainingNeed
//!   ├─ needs_retraining → RunRetraining → CompareModels → DecidePromotion
//!   │                       → PromoteModel | KeepCurrentModel → UpdateRetrainingState → NotifyCompletion
//!   ├─ invalid_model    → HandleInvalidModel → NotifyFailure
//!   └─ otherwise        → SkipRetraining
//! any failing task state → NotifyFailure
//! ```
//!
//! Every state's action is safe to run again after a crash: the retraining-state claim is a
//! conditional write owned by the execution id, a launched task carries the execution id (and is
//! adopted rather than launched twice), promotion is idempotent, and notifications are
//! at-least-once.

use crate::check_retraining_needed::{self, Input as CheckInput};
use crate::{Ctx, HandlerError, compare_models, notify, parse, policy, promote_model, to_json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tradai_domain::decide::retraining::{Decision, Outcome};
use tradai_domain::policy::{Event, RetrainingOutcome};
use tradai_domain::{Actor, IncidentSeverity, ModelName, RetrainingStatus, Transition};
use tradai_ports::state::new_id;
use tradai_ports::{Expect, Key, NotificationType, StoreError, Table, TaskSpec, TaskStatus, Write};
use tradai_runbook::{RetrainingState, RunbookError};

/// The 13 states, named as in the original Step Functions definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    NormalizeInput,
    CheckRetrainingNeeded,
    EvaluateRetrainingNeed,
    RunRetraining,
    CompareModels,
    DecidePromotion,
    PromoteModel,
    KeepCurrentModel,
    UpdateRetrainingState,
    NotifyCompletion,
    HandleInvalidModel,
    NotifyFailure,
    SkipRetraining,
}

impl State {
    /// All states, in definition order.
    pub const ALL: [State; 13] = [
        State::NormalizeInput,
        State::CheckRetrainingNeeded,
        State::EvaluateRetrainingNeed,
        State::RunRetraining,
        State::CompareModels,
        State::DecidePromotion,
        State::PromoteModel,
        State::KeepCurrentModel,
        State::UpdateRetrainingState,
        State::NotifyCompletion,
        State::HandleInvalidModel,
        State::NotifyFailure,
        State::SkipRetraining,
    ];
}

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// The workflow's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub model_name: String,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub manual_trigger: bool,
    /// Passed through untouched (the original's configuration version).
    #[serde(default)]
    pub config_version_id: Option<String>,
    /// Per-run overrides from the scheduler (`train_period_days`, `pairs`, `timeframe`, …).
    #[serde(default)]
    pub overrides: Value,
}

/// One persisted transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub state: State,
    pub at: DateTime<Utc>,
    pub note: String,
}

/// A workflow execution (`tradai-workflow-state-{env}`, key execution id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// The trace id, carried by the task, the logs and the notifications.
    pub execution_id: String,
    pub model_name: String,
    pub state: State,
    pub status: Status,
    pub input: Input,
    #[serde(default)]
    pub decision: Option<Outcome>,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub new_version: Option<u64>,
    #[serde(default)]
    pub champion_version: Option<u64>,
    #[serde(default)]
    pub comparison: Option<Value>,
    #[serde(default)]
    pub promotion: Option<Value>,
    #[serde(default)]
    pub outcome: Option<RetrainingOutcome>,
    #[serde(default)]
    pub error: Option<String>,
    pub history: Vec<Step>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who is running a state right now, until when. One advancer at a time (the scheduler,
    /// the daemon, `tradai invoke`); a lease left by a crashed process expires.
    #[serde(default)]
    pub lease: Option<Lease>,
}

/// An advancer's claim on an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    pub until: DateTime<Utc>,
}

/// How long a lease lasts: longer than any state's own work (a comparison backtest), short
/// enough that a crashed advancer's execution is picked up soon after a restart.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// A fresh advancer identity.
pub fn new_owner(now: DateTime<Utc>) -> String {
    format!("{}:{}", std::process::id(), new_id(now))
}

/// What one step did.
enum Next {
    /// Moved to a new state (persist and continue).
    Go(State, String),
    /// Waiting for the training task; try again later.
    Wait,
    /// Finished with a final status.
    Done(Status, String),
}

fn key(id: &str) -> Key {
    Key::pk(id)
}

/// Starts an execution (persisted in `NormalizeInput`, leased to the returned owner so nobody
/// else advances it before the caller does) and returns it.
pub async fn start(ctx: &Ctx, input: Input) -> Result<(Execution, String), HandlerError> {
    let now = ctx.rb.clock.now();
    let owner = new_owner(now);
    let exec = Execution {
        execution_id: format!("wf-{}", new_id(now).to_ascii_lowercase()),
        model_name: input.model_name.clone(),
        state: State::NormalizeInput,
        status: Status::Running,
        input,
        decision: None,
        task_id: None,
        new_version: None,
        champion_version: None,
        comparison: None,
        promotion: None,
        outcome: None,
        error: None,
        history: vec![Step {
            state: State::NormalizeInput,
            at: now,
            note: "started".into(),
        }],
        created_at: now,
        updated_at: now,
        lease: Some(Lease {
            owner: owner.clone(),
            until: now + LEASE,
        }),
    };
    let doc = serde_json::to_value(&exec).map_err(|e| HandlerError::Internal(e.to_string()))?;
    ctx.rb
        .store
        .write(Write {
            table: Table::WORKFLOW_STATE,
            key: key(&exec.execution_id),
            doc: Some(doc),
            expect: Expect::Absent,
            at: now,
            audit: None,
        })
        .await?;
    tracing::info!(trace_id = %exec.execution_id, model = %exec.model_name, "retraining workflow started");
    Ok((exec, owner))
}

/// One execution by id.
pub async fn get(ctx: &Ctx, id: &str) -> Result<(Execution, u64), HandlerError> {
    let item = ctx
        .rb
        .store
        .get(Table::WORKFLOW_STATE, &key(id))
        .await?
        .ok_or_else(|| HandlerError::BadInput(format!("workflow execution '{id}' not found")))?;
    let rev = item.rev;
    let e = serde_json::from_value(item.doc).map_err(|e| StoreError::Corrupt {
        table: Table::WORKFLOW_STATE.to_string(),
        key: id.to_string(),
        message: e.to_string(),
    })?;
    Ok((e, rev))
}

/// Every execution, newest first.
pub async fn list(ctx: &Ctx) -> Result<Vec<Execution>, HandlerError> {
    let mut out: Vec<Execution> = ctx
        .rb
        .store
        .scan(Table::WORKFLOW_STATE)
        .await?
        .into_iter()
        .filter_map(|i| serde_json::from_value(i.doc).ok())
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    Ok(out)
}

/// Runs states until the execution finishes or waits for its training task, as a new advancer.
pub async fn advance(ctx: &Ctx, id: &str) -> Result<Execution, HandlerError> {
    advance_as(ctx, id, &new_owner(ctx.rb.clock.now())).await
}

/// Runs states as `owner`. Each state runs under a lease taken by conditional write, and each
/// transition is persisted before the next state runs; an execution leased by another live
/// advancer is left alone (returned as it is).
pub async fn advance_as(ctx: &Ctx, id: &str, owner: &str) -> Result<Execution, HandlerError> {
    loop {
        let (mut exec, rev) = get(ctx, id).await?;
        if exec.status != Status::Running {
            return Ok(exec);
        }
        let now = ctx.rb.clock.now();
        if let Some(l) = &exec.lease
            && l.owner != owner
            && l.until > now
        {
            return Ok(exec);
        }
        exec.lease = Some(Lease {
            owner: owner.to_string(),
            until: now + LEASE,
        });
        match save(ctx, &mut exec, rev, now).await {
            Ok(()) => {}
            Err(HandlerError::Store(StoreError::Conflict { .. })) => continue, // lost the race: re-read
            Err(e) => return Err(e),
        }
        let rev = rev + 1;
        let state = exec.state;
        let next = match run_state(ctx, &mut exec).await {
            Ok(n) => n,
            // A failing task state goes to NotifyFailure (contracts §3).
            Err(e) if !matches!(state, State::NotifyFailure) => {
                tracing::warn!(trace_id = %exec.execution_id, ?state, error = %e, "workflow state failed");
                exec.error = Some(format!("{state:?}: {e}"));
                Next::Go(State::NotifyFailure, format!("{state:?} failed: {e}"))
            }
            Err(e) => return Err(e),
        };
        let now = ctx.rb.clock.now();
        exec.lease = None;
        match next {
            Next::Wait => {
                // Persist what the state learned (task id) without moving, and let go.
                save(ctx, &mut exec, rev, now).await?;
                return get(ctx, id).await.map(|(e, _)| e);
            }
            Next::Go(s, note) => {
                exec.state = s;
                exec.history.push(Step {
                    state: s,
                    at: now,
                    note,
                });
            }
            Next::Done(status, note) => {
                exec.status = status;
                exec.history.push(Step {
                    state: exec.state,
                    at: now,
                    note,
                });
            }
        }
        save(ctx, &mut exec, rev, now).await?;
        if exec.status != Status::Running {
            tracing::info!(trace_id = %exec.execution_id, status = ?exec.status, "retraining workflow finished");
            if let Some(outcome) = exec.outcome
                && let Ok(model) = ModelName::new(exec.model_name.clone())
            {
                policy::on_event(
                    ctx,
                    &model,
                    Event::RetrainingFinished { outcome },
                    &exec.execution_id,
                )
                .await?;
            }
            return Ok(exec);
        }
    }
}

async fn save(
    ctx: &Ctx,
    exec: &mut Execution,
    rev: u64,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    exec.updated_at = now;
    let doc = serde_json::to_value(&*exec).map_err(|e| HandlerError::Internal(e.to_string()))?;
    ctx.rb
        .store
        .write(Write {
            table: Table::WORKFLOW_STATE,
            key: key(&exec.execution_id),
            doc: Some(doc),
            expect: Expect::Rev(rev),
            at: now,
            audit: None,
        })
        .await?;
    Ok(())
}

/// Advances every running execution: the daemon's tick, and its recovery after a restart.
pub async fn resume_all(ctx: &Ctx) -> Result<Vec<Execution>, HandlerError> {
    let mut out = Vec::new();
    for e in list(ctx).await? {
        if e.status == Status::Running {
            match advance(ctx, &e.execution_id).await {
                Ok(e) => out.push(e),
                Err(HandlerError::Store(StoreError::Conflict { .. })) => {} // another process advanced it
                Err(err) => {
                    tracing::error!(trace_id = %e.execution_id, error = %err, "cannot advance workflow")
                }
            }
        }
    }
    Ok(out)
}

async fn run_state(ctx: &Ctx, exec: &mut Execution) -> Result<Next, HandlerError> {
    let model = || ModelName::new(exec.model_name.clone());
    match exec.state {
        State::NormalizeInput => {
            exec.input.model_name = exec.input.model_name.trim().to_string();
            exec.model_name = exec.input.model_name.clone();
            Ok(Next::Go(
                State::CheckRetrainingNeeded,
                "input normalised".into(),
            ))
        }
        State::CheckRetrainingNeeded => {
            let input = CheckInput {
                model_name: exec.model_name.clone(),
                force: exec.input.force,
                manual_trigger: exec.input.manual_trigger,
            };
            let d = check_retraining_needed::check(ctx, &input).await?;
            let note = format!("{:?}: {}", d.decision, d.reason);
            exec.decision = Some(d);
            Ok(Next::Go(State::EvaluateRetrainingNeed, note))
        }
        State::EvaluateRetrainingNeed => match exec.decision.as_ref().map(|d| d.decision) {
            Some(Decision::NeedsRetraining) => {
                Ok(Next::Go(State::RunRetraining, "retraining needed".into()))
            }
            Some(Decision::InvalidModel) => {
                Ok(Next::Go(State::HandleInvalidModel, "invalid model".into()))
            }
            _ => Ok(Next::Go(
                State::SkipRetraining,
                "no retraining needed".into(),
            )),
        },
        State::SkipRetraining => Ok(Next::Done(
            Status::Skipped,
            exec.decision
                .as_ref()
                .map_or(String::new(), |d| d.reason.clone()),
        )),
        State::HandleInvalidModel => {
            exec.error = Some(
                exec.decision
                    .as_ref()
                    .map_or("invalid model".into(), |d| d.reason.clone()),
            );
            Ok(Next::Go(State::NotifyFailure, "invalid model".into()))
        }
        State::RunRetraining => run_retraining(ctx, exec, &model()?).await,
        State::CompareModels => {
            let m = model()?;
            let challenger = exec
                .new_version
                .ok_or_else(|| HandlerError::Internal("no new version recorded".into()))?;
            let champion: Option<u64> = ctx
                .rb
                .model_serving(&m)
                .await?
                .and_then(|p| p.model_version.parse().ok());
            exec.champion_version = champion;
            let cmp = match champion {
                None => {
                    json!({"decision": "PROMOTE", "confidence": 1.0, "profit_improvement": null,
                               "recommendation": "No Production version yet: promote the first trained version",
                               "champion_version": null, "challenger_version": challenger.to_string()})
                }
                Some(c) => to_json(&compare_models::compare(ctx, &m, c, challenger).await)?,
            };
            let note = format!(
                "{} (confidence {})",
                cmp["decision"].as_str().unwrap_or("?"),
                cmp["confidence"]
            );
            note_on_incident(
                ctx,
                &m,
                "compare",
                format!(
                    "champion v{} vs challenger v{challenger}: {note}; {}",
                    champion.map_or("-".into(), |c| c.to_string()),
                    cmp["recommendation"].as_str().unwrap_or("")
                ),
                cmp.clone(),
            )
            .await;
            exec.comparison = Some(cmp);
            Ok(Next::Go(State::DecidePromotion, note))
        }
        State::DecidePromotion => match exec
            .comparison
            .as_ref()
            .and_then(|c| c["decision"].as_str())
        {
            Some("PROMOTE") => Ok(Next::Go(State::PromoteModel, "challenger wins".into())),
            Some(d) => {
                exec.outcome = Some(if d == "INVESTIGATE" {
                    RetrainingOutcome::Investigate
                } else {
                    RetrainingOutcome::Kept
                });
                Ok(Next::Go(
                    State::KeepCurrentModel,
                    format!("{d}: keep the champion"),
                ))
            }
            None => Ok(Next::Go(
                State::KeepCurrentModel,
                "no comparison: keep the champion".into(),
            )),
        },
        State::PromoteModel => {
            let v = exec
                .new_version
                .ok_or_else(|| HandlerError::Internal("no new version recorded".into()))?;
            let input = promote_model::Input {
                model_name: exec.model_name.clone(),
                new_version: Some(json!(v.to_string())),
                confidence: exec
                    .comparison
                    .as_ref()
                    .and_then(|c| c["confidence"].as_f64()),
                reason: Some(format!("retraining workflow {}", exec.execution_id)),
            };
            let out = promote_model::promote(ctx, &input, &Actor::policy()).await?;
            exec.promotion = Some(to_json(&out)?);
            exec.outcome = Some(RetrainingOutcome::Promoted);
            Ok(Next::Go(
                State::UpdateRetrainingState,
                format!("version {v} promoted"),
            ))
        }
        State::KeepCurrentModel => {
            if exec.outcome.is_none() {
                exec.outcome = Some(RetrainingOutcome::Kept);
            }
            Ok(Next::Go(
                State::UpdateRetrainingState,
                format!(
                    "version {} stays in Staging",
                    exec.new_version.map_or("-".into(), |v| v.to_string())
                ),
            ))
        }
        State::UpdateRetrainingState => {
            let m = model()?;
            let now = ctx.rb.clock.now();
            let id = exec.execution_id.clone();
            let version = exec.new_version;
            ctx.rb
                .retrain_update(&m, &Actor::policy(), "retrain.complete", Some(&id), |cur| {
                    let cur = cur
                        .ok_or_else(|| RunbookError::Refused("retraining state vanished".into()))?;
                    if cur.execution_id.as_deref() != Some(id.as_str())
                        || cur.status == RetrainingStatus::Completed
                    {
                        return Ok(cur);
                    }
                    cur.status.check_transition(RetrainingStatus::Completed)?;
                    Ok(RetrainingState {
                        status: RetrainingStatus::Completed,
                        last_retrained: Some(now),
                        finished_at: Some(now),
                        version,
                        error: None,
                        updated_at: now,
                        ..cur
                    })
                })
                .await?;
            Ok(Next::Go(
                State::NotifyCompletion,
                "last_retrained updated".into(),
            ))
        }
        State::NotifyCompletion => {
            let outcome = exec
                .outcome
                .map_or("kept".to_string(), |o| format!("{o:?}").to_lowercase());
            let n = notify::note(
                ctx,
                NotificationType::RetrainingSuccess,
                IncidentSeverity::Info,
                format!(
                    "{} retrained: version {} {outcome}",
                    exec.model_name,
                    exec.new_version.map_or("-".into(), |v| v.to_string())
                ),
                exec.comparison
                    .as_ref()
                    .and_then(|c| c["recommendation"].as_str())
                    .unwrap_or("")
                    .to_string(),
                Some(&exec.model_name),
                json!({"trace_id": exec.execution_id, "comparison": exec.comparison, "config_version_id": exec.input.config_version_id}),
            );
            notify::send(ctx, n).await?;
            Ok(Next::Done(Status::Succeeded, "notified".into()))
        }
        State::NotifyFailure => {
            let error = exec
                .error
                .clone()
                .unwrap_or_else(|| "unknown failure".into());
            if let Ok(m) = model() {
                release_claim(ctx, &m, &exec.execution_id, &error).await?;
                if exec
                    .decision
                    .as_ref()
                    .is_some_and(|d| d.decision == Decision::NeedsRetraining)
                {
                    exec.outcome = Some(RetrainingOutcome::Failed);
                }
            }
            let n = notify::note(
                ctx,
                NotificationType::RetrainingFailed,
                IncidentSeverity::Error,
                format!("Retraining of {} failed", exec.model_name),
                error.clone(),
                Some(&exec.model_name),
                json!({"trace_id": exec.execution_id, "task_id": exec.task_id, "config_version_id": exec.input.config_version_id}),
            );
            notify::send(ctx, n).await?;
            Ok(Next::Done(Status::Failed, error))
        }
    }
}

/// Marks the model's retraining failed if this execution owns it.
async fn release_claim(
    ctx: &Ctx,
    m: &ModelName,
    id: &str,
    error: &str,
) -> Result<(), HandlerError> {
    let now = ctx.rb.clock.now();
    ctx.rb
        .retrain_update(m, &Actor::policy(), "retrain.fail", Some(error), |cur| {
            let Some(cur) = cur else {
                return Ok(RetrainingState::idle(m.clone(), now));
            };
            if cur.execution_id.as_deref() != Some(id) || !cur.status.in_progress() {
                return Ok(cur);
            }
            Ok(RetrainingState {
                status: RetrainingStatus::Failed,
                finished_at: Some(now),
                error: Some(error.to_string()),
                updated_at: now,
                ..cur
            })
        })
        .await?;
    Ok(())
}

/// RunRetraining: claim the model, launch (or adopt) the training task, wait for it.
async fn run_retraining(
    ctx: &Ctx,
    exec: &mut Execution,
    m: &ModelName,
) -> Result<Next, HandlerError> {
    let id = exec.execution_id.clone();
    let now = ctx.rb.clock.now();
    if exec.task_id.is_none() {
        // Claim: only one run per model may be queued or running.
        let trigger = exec
            .decision
            .as_ref()
            .and_then(|d| d.trigger)
            .map(|t| t.to_string());
        let claimed = ctx
            .rb
            .retrain_update(m, &Actor::policy(), "retrain.queue", Some(&id), |cur| {
                let cur = cur.unwrap_or_else(|| RetrainingState::idle(m.clone(), now));
                if cur.execution_id.as_deref() == Some(id.as_str()) {
                    return Ok(cur); // resumed after a crash: already ours
                }
                if cur.status.in_progress() {
                    return Err(RunbookError::Refused(format!(
                        "{m} is already being retrained (task {}, workflow {})",
                        cur.task_id.as_deref().unwrap_or("-"),
                        cur.execution_id.as_deref().unwrap_or("-")
                    )));
                }
                cur.status.check_transition(RetrainingStatus::Queued)?;
                Ok(RetrainingState {
                    status: RetrainingStatus::Queued,
                    trigger: trigger.clone(),
                    task_id: None,
                    started_at: Some(now),
                    finished_at: None,
                    error: None,
                    execution_id: Some(id.clone()),
                    updated_at: now,
                    ..cur
                })
            })
            .await;
        if let Err(RunbookError::Refused(why)) = &claimed {
            // Someone else is on it: this execution skips instead of launching a second task.
            exec.error = Some(why.clone());
            exec.state = State::SkipRetraining;
            return Ok(Next::Done(Status::Skipped, why.clone()));
        }
        claimed?;
        // Adopt a task this execution launched before a crash, else launch one.
        let existing = ctx
            .executor
            .list(Some(tradai_ports::RETRAINING_STARTED_BY))
            .await?
            .into_iter()
            .find(|t| t.spec.note == id);
        let task = match existing {
            Some(t) => t,
            None => {
                let mut command = ctx.tradai_command.clone();
                command.extend(["train".to_string(), m.to_string()]);
                if let Some(c) = &exec.input.config_version_id {
                    command.extend(["--config-version-id".to_string(), c.clone()]);
                }
                let timeout_secs =
                    (ctx.rb.config.retraining.max_task_runtime_hours * 3600.0).round() as u64;
                let spec = TaskSpec {
                    model: m.to_string(),
                    started_by: tradai_ports::RETRAINING_STARTED_BY.into(),
                    command,
                    timeout_secs,
                    note: id.clone(),
                };
                ctx.executor.launch(spec).await?
            }
        };
        let task_id = task.task_id.clone();
        ctx.rb
            .retrain_update(m, &Actor::policy(), "retrain.start", Some(&id), |cur| {
                let cur =
                    cur.ok_or_else(|| RunbookError::Refused("retraining state vanished".into()))?;
                if cur.status == RetrainingStatus::Queued {
                    return Ok(RetrainingState {
                        status: RetrainingStatus::Running,
                        task_id: Some(task_id.clone()),
                        updated_at: now,
                        ..cur
                    });
                }
                Ok(cur)
            })
            .await?;
        note_on_incident(
            ctx,
            m,
            "retrain",
            format!("retraining workflow {id} launched training task {task_id}"),
            json!({"execution_id": id, "task_id": task_id}),
        )
        .await;
        exec.task_id = Some(task.task_id);
        exec.history.push(Step {
            state: State::RunRetraining,
            at: now,
            note: format!("task {} launched", exec.task_id.as_deref().unwrap_or("-")),
        });
        return Ok(Next::Wait);
    }
    let task_id = exec.task_id.clone().unwrap_or_default();
    let task = ctx.executor.describe(&task_id).await?;
    match task.status {
        TaskStatus::Pending | TaskStatus::Running => Ok(Next::Wait),
        TaskStatus::Succeeded => {
            let since = task.created_at;
            let v =
                ctx.rb.model_versions(m).await?.into_iter().rev().find(|v| {
                    v.stage == tradai_domain::ModelStage::Staging && v.created_at >= since
                });
            match v {
                Some(v) => {
                    exec.new_version = Some(v.version);
                    Ok(Next::Go(
                        State::CompareModels,
                        format!("task {task_id} registered version {}", v.version),
                    ))
                }
                None => Err(HandlerError::Internal(format!(
                    "task {task_id} succeeded but registered no Staging version of {m}"
                ))),
            }
        }
        other => Err(HandlerError::Internal(format!(
            "training task {task_id} ended {other:?}: {}",
            task.error.unwrap_or_default()
        ))),
    }
}

/// Adds a step to the timeline of the model's active incident, if it has one. Best effort: the
/// workflow's own history already holds the step, so a failed note is logged, not fatal.
async fn note_on_incident(ctx: &Ctx, m: &ModelName, kind: &str, text: String, data: Value) {
    let res = match ctx.rb.incident_active_for_model(m).await {
        Ok(Some(inc)) => ctx
            .rb
            .incident_note(&inc.id, &Actor::policy(), kind, &text, data)
            .await
            .map(|_| ()),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = res {
        tracing::warn!(model = %m, kind, error = %e, "could not note the step on the incident");
    }
}

/// `tradai invoke retraining-workflow`: starts an execution and runs it as far as it goes now
/// (to the end, or to the running training task; the daemon continues it).
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("retraining-workflow", payload)?;
    let (exec, owner) = start(ctx, input).await?;
    to_json(&advance_as(ctx, &exec.execution_id, &owner).await?)
}
