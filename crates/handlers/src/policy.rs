//! Executes the response policy (`tradai_domain::policy`): automatic steps run now with actor
//! `policy`; `approve` steps wait as approvals for `tradai approve ID` / `tradai reject ID`.
//! Every step lands in the incident timeline (when the model has an active incident) and, through
//! the runbook operations, in the audit log.

use crate::{Ctx, HandlerError, notify, retraining_scheduler};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tradai_domain::policy::{Action, Event, Mode, RetrainingOutcome, plan};
use tradai_domain::{Actor, IncidentSeverity, IncidentStatus, ModelName, Severity, TradingStatus};
use tradai_ports::{Expect, Key, NotificationType, Table, Write};
use tradai_runbook::incidents::NewIncident;

/// What the policy did with one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub action: String,
    pub mode: Mode,
    /// `done`, `awaiting_approval`, `failed`.
    pub status: String,
    pub detail: Value,
}

/// An action waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub model_name: ModelName,
    pub action: Action,
    pub event: Event,
    /// What caused it (a drift result timestamp, a workflow trace id).
    pub cause: String,
    /// `pending`, `approved`, `rejected`, `failed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub result: Value,
}

/// A model watched closely after a promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub model_name: ModelName,
    pub until: DateTime<Utc>,
    pub interval_minutes: u32,
    pub since: DateTime<Utc>,
}

/// Applies the policy to an event about `model`.
pub async fn on_event(
    ctx: &Ctx,
    model: &ModelName,
    event: Event,
    cause: &str,
) -> Result<Vec<StepOutcome>, HandlerError> {
    let steps = plan(event, &ctx.rb.config.policy);
    let mut out = Vec::new();
    for step in steps {
        let outcome = match step.mode {
            Mode::Auto => {
                match execute(ctx, model, step.action, event, &Actor::policy(), cause).await {
                    Ok(detail) => StepOutcome {
                        action: step.action.name().into(),
                        mode: step.mode,
                        status: "done".into(),
                        detail,
                    },
                    Err(e) => {
                        tracing::error!(model = %model, action = step.action.name(), error = %e, "policy step failed");
                        StepOutcome {
                            action: step.action.name().into(),
                            mode: step.mode,
                            status: "failed".into(),
                            detail: json!({"error": e.to_string()}),
                        }
                    }
                }
            }
            Mode::Approve => {
                let a = request_approval(ctx, model, step.action, event, cause).await?;
                StepOutcome {
                    action: step.action.name().into(),
                    mode: step.mode,
                    status: "awaiting_approval".into(),
                    detail: json!({"approval_id": a.id}),
                }
            }
            Mode::Off => continue,
        };
        record_on_incident(ctx, model, &outcome).await?;
        out.push(outcome);
    }
    Ok(out)
}

async fn record_on_incident(
    ctx: &Ctx,
    model: &ModelName,
    o: &StepOutcome,
) -> Result<(), HandlerError> {
    if let Some(inc) = ctx.rb.incident_active_for_model(model).await? {
        let text = match o.status.as_str() {
            "awaiting_approval" => format!(
                "{} awaits approval ({})",
                o.action,
                o.detail["approval_id"].as_str().unwrap_or("-")
            ),
            "failed" => format!(
                "{} failed: {}",
                o.action,
                o.detail["error"].as_str().unwrap_or("")
            ),
            _ => format!(
                "{}: {}",
                o.action,
                o.detail["summary"].as_str().unwrap_or("done")
            ),
        };
        ctx.rb
            .incident_note(&inc.id, &Actor::policy(), "action", &text, o.detail.clone())
            .await?;
    }
    Ok(())
}

async fn request_approval(
    ctx: &Ctx,
    model: &ModelName,
    action: Action,
    event: Event,
    cause: &str,
) -> Result<Approval, HandlerError> {
    let now = ctx.rb.clock.now();
    let a = Approval {
        id: format!(
            "APR-{}",
            tradai_ports::state::new_id(now).to_ascii_lowercase()
        ),
        model_name: model.clone(),
        action,
        event,
        cause: cause.to_string(),
        status: "pending".into(),
        created_at: now,
        decided_by: None,
        decided_at: None,
        note: None,
        result: Value::Null,
    };
    write_approval(ctx, &a, Expect::Absent).await?;
    let n = notify::note(
        ctx,
        NotificationType::Generic,
        IncidentSeverity::Warning,
        format!("Approval needed: {} for {model}", action.name()),
        format!(
            "run `tradai approve {}` or `tradai reject {} --reason …`",
            a.id, a.id
        ),
        Some(model.as_str()),
        json!({"approval_id": a.id, "action": action}),
    );
    notify::send(ctx, n).await?;
    Ok(a)
}

async fn write_approval(ctx: &Ctx, a: &Approval, expect: Expect) -> Result<(), HandlerError> {
    let doc = serde_json::to_value(a).map_err(|e| HandlerError::Internal(e.to_string()))?;
    let audit = tradai_ports::AuditEntry {
        id: tradai_ports::state::new_id(ctx.rb.clock.now()),
        at: ctx.rb.clock.now(),
        actor: a.decided_by.clone().unwrap_or_else(|| Actor::POLICY.into()),
        action: format!("approval.{}", a.status),
        entity: format!("approvals/{}", a.id),
        before: None,
        after: Some(doc.clone()),
        reason: a.note.clone(),
    };
    ctx.rb
        .store
        .write(Write {
            table: Table::APPROVALS,
            key: Key::pk(&a.id),
            doc: Some(doc),
            expect,
            at: ctx.rb.clock.now(),
            audit: Some(audit),
        })
        .await?;
    Ok(())
}

/// Approvals, newest first, optionally only pending ones.
pub async fn approvals(ctx: &Ctx, pending_only: bool) -> Result<Vec<Approval>, HandlerError> {
    let mut all: Vec<Approval> = ctx
        .rb
        .store
        .scan(Table::APPROVALS)
        .await?
        .into_iter()
        .filter_map(|i| serde_json::from_value(i.doc).ok())
        .collect();
    all.retain(|a| !pending_only || a.status == "pending");
    all.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    Ok(all)
}

async fn load_pending(ctx: &Ctx, id: &str) -> Result<(Approval, u64), HandlerError> {
    let item = ctx
        .rb
        .store
        .get(Table::APPROVALS, &Key::pk(id))
        .await?
        .ok_or_else(|| {
            HandlerError::BadInput(format!(
                "approval '{id}' not found (see `tradai approvals`)"
            ))
        })?;
    let rev = item.rev;
    let a: Approval =
        serde_json::from_value(item.doc).map_err(|e| HandlerError::Internal(e.to_string()))?;
    if a.status != "pending" {
        return Err(HandlerError::BadInput(format!(
            "approval '{id}' is already {}",
            a.status
        )));
    }
    Ok((a, rev))
}

/// A person approves: the action runs now, as that person.
pub async fn approve(
    ctx: &Ctx,
    id: &str,
    actor: &Actor,
    note: Option<&str>,
) -> Result<Approval, HandlerError> {
    let (mut a, rev) = load_pending(ctx, id).await?;
    let now = ctx.rb.clock.now();
    a.decided_by = Some(actor.to_string());
    a.decided_at = Some(now);
    a.note = note.map(str::to_string);
    a.status = "approved".into();
    // Claim first, so two approvers cannot both run it.
    write_approval(ctx, &a, Expect::Rev(rev)).await?;
    let rev = rev + 1;
    let result = execute(ctx, &a.model_name, a.action, a.event, actor, &a.cause).await;
    let outcome = match &result {
        Ok(detail) => StepOutcome {
            action: a.action.name().into(),
            mode: Mode::Approve,
            status: "done".into(),
            detail: detail.clone(),
        },
        Err(e) => StepOutcome {
            action: a.action.name().into(),
            mode: Mode::Approve,
            status: "failed".into(),
            detail: json!({"error": e.to_string()}),
        },
    };
    a.result = outcome.detail.clone();
    if result.is_err() {
        a.status = "failed".into();
    }
    write_approval(ctx, &a, Expect::Rev(rev)).await?;
    record_on_incident(
        ctx,
        &a.model_name,
        &StepOutcome {
            detail: json!({"summary": format!("approved by {actor}"), "result": outcome.detail}),
            ..outcome
        },
    )
    .await?;
    Ok(a)
}

/// A person rejects: nothing runs.
pub async fn reject(
    ctx: &Ctx,
    id: &str,
    actor: &Actor,
    reason: &str,
) -> Result<Approval, HandlerError> {
    let (mut a, rev) = load_pending(ctx, id).await?;
    a.status = "rejected".into();
    a.decided_by = Some(actor.to_string());
    a.decided_at = Some(ctx.rb.clock.now());
    a.note = Some(reason.to_string());
    write_approval(ctx, &a, Expect::Rev(rev)).await?;
    if let Some(inc) = ctx.rb.incident_active_for_model(&a.model_name).await? {
        ctx.rb
            .incident_note(
                &inc.id,
                actor,
                "action",
                &format!("{} rejected: {reason}", a.action.name()),
                json!({"approval_id": a.id}),
            )
            .await?;
    }
    Ok(a)
}

/// Models being watched closely now.
pub async fn watches(ctx: &Ctx) -> Result<Vec<Watch>, HandlerError> {
    let now = ctx.rb.clock.now();
    Ok(ctx
        .rb
        .store
        .scan(Table::WATCHES)
        .await?
        .into_iter()
        .filter_map(|i| serde_json::from_value::<Watch>(i.doc).ok())
        .filter(|w| w.until > now)
        .collect())
}

fn reason_for(event: Event, cause: &str) -> String {
    match event {
        Event::Drift { severity } => format!("{severity} drift ({cause})"),
        Event::RetrainingFinished { outcome } => format!(
            "retraining {} ({cause})",
            format!("{outcome:?}").to_lowercase()
        ),
    }
}

/// Runs one action as `actor`; returns what it did (`summary` plus details).
pub async fn execute(
    ctx: &Ctx,
    model: &ModelName,
    action: Action,
    event: Event,
    actor: &Actor,
    cause: &str,
) -> Result<Value, HandlerError> {
    let reason = reason_for(event, cause);
    match action {
        Action::Notify { severity } => {
            let (ty, title, message) = match event {
                Event::Drift { severity: s } => (
                    NotificationType::DriftDetected,
                    format!("{} drift detected on {model}", capitalise(s)),
                    if s == Severity::Significant {
                        "Policy paused the strategies trading it and triggered retraining; see `tradai incident list`".to_string()
                    } else {
                        "Investigate; retraining scheduled (force: false)".to_string()
                    },
                ),
                Event::RetrainingFinished { outcome: RetrainingOutcome::Promoted } => {
                    (NotificationType::ModelPromoted, format!("{model}: retrained version promoted, trading resumed"), "Drift state reset; watching closely".to_string())
                }
                Event::RetrainingFinished { outcome: RetrainingOutcome::Failed } => {
                    (NotificationType::RetrainingFailed, format!("{model}: retraining failed, current model kept"), "Trading stays as it is; see `tradai retrain status`".to_string())
                }
                Event::RetrainingFinished { outcome } => (
                    NotificationType::RetrainingSuccess,
                    format!("{model}: retrained version not promoted ({outcome:?})"),
                    "Trading stays paused; a person decides (`tradai model compare`, `tradai model promote`, `tradai trading resume`)".to_string(),
                ),
            };
            let n = notify::note(
                ctx,
                ty,
                severity,
                title,
                message,
                Some(model.as_str()),
                json!({"cause": cause}),
            );
            let o = notify::send(ctx, n).await?;
            Ok(json!({"summary": format!("notified ({severity})"), "notify": o}))
        }
        Action::ScheduleRetraining { force } => {
            let r = Box::pin(retraining_scheduler::schedule_one(
                ctx,
                model.as_str(),
                force,
                false,
                "policy",
                Value::Null,
            ))
            .await?;
            Ok(
                json!({"summary": format!("retraining {} ({})", r.status, r.reason.as_deref().or(r.task_arn.as_deref()).unwrap_or("-")), "result": r}),
            )
        }
        Action::ReduceStake { factor } => {
            let mut changed = vec![];
            for s in ctx.rb.strategies_for_model(model.as_str()).await? {
                let stake = s.config.stake_amount * factor;
                let (b, a) = ctx
                    .rb
                    .strategy_set_stake(&s.config.strategy_id, stake, actor, Some(&reason))
                    .await?;
                changed.push(json!({"strategy_id": a.config.strategy_id, "from": b.config.stake_amount, "to": a.config.stake_amount}));
            }
            Ok(
                json!({"summary": format!("stake x{factor} on {} strategies", changed.len()), "strategies": changed}),
            )
        }
        Action::OpenIncident { severity } => {
            if let Some(inc) = ctx.rb.incident_active_for_model(model).await? {
                return Ok(
                    json!({"summary": format!("incident {} already open", inc.id), "incident_id": inc.id}),
                );
            }
            let inc = ctx
                .rb
                .incident_open(
                    NewIncident {
                        title: format!("Significant drift on {model}"),
                        model_name: Some(model.clone()),
                        strategy_id: None,
                        severity,
                    },
                    actor,
                )
                .await?;
            ctx.rb
                .incident_note(
                    &inc.id,
                    actor,
                    "action",
                    &format!("opened by the response policy: {reason}"),
                    json!({"cause": cause}),
                )
                .await?;
            Ok(json!({"summary": format!("opened {}", inc.id), "incident_id": inc.id}))
        }
        Action::PauseStrategies => {
            let mut paused = vec![];
            for s in ctx.rb.strategies_for_model(model.as_str()).await? {
                let st = ctx.rb.trading_status(&s.config.strategy_id).await?;
                if matches!(st.status, TradingStatus::Running | TradingStatus::Warmup) {
                    ctx.rb
                        .trading_set_status(
                            &s.config.strategy_id,
                            TradingStatus::Paused,
                            actor,
                            &reason,
                        )
                        .await?;
                    paused.push(s.config.strategy_id.to_string());
                }
            }
            Ok(
                json!({"summary": format!("paused {}", if paused.is_empty() { "nothing (no active strategy)".into() } else { paused.join(", ") }), "strategies": paused}),
            )
        }
        Action::ResetDrift => {
            ctx.rb.drift_reset(model, actor, &reason).await?;
            Ok(json!({"summary": "drift state reset"}))
        }
        Action::ResumePolicyPaused => {
            let mut resumed = vec![];
            let mut left = vec![];
            for s in ctx.rb.strategies_for_model(model.as_str()).await? {
                let st = ctx.rb.trading_status(&s.config.strategy_id).await?;
                if st.status != TradingStatus::Paused {
                    continue;
                }
                // Never undo a person's pause.
                if st.updated_by.as_deref() == Some(Actor::POLICY) {
                    ctx.rb
                        .trading_set_status(
                            &s.config.strategy_id,
                            TradingStatus::Running,
                            actor,
                            &reason,
                        )
                        .await?;
                    resumed.push(s.config.strategy_id.to_string());
                } else {
                    left.push(format!(
                        "{} (paused by {})",
                        s.config.strategy_id,
                        st.updated_by.as_deref().unwrap_or("someone")
                    ));
                }
            }
            let mut summary = format!(
                "resumed {}",
                if resumed.is_empty() {
                    "nothing".into()
                } else {
                    resumed.join(", ")
                }
            );
            if !left.is_empty() {
                summary.push_str(&format!("; left paused: {}", left.join(", ")));
            }
            Ok(json!({"summary": summary, "resumed": resumed, "left_paused": left}))
        }
        Action::MitigateIncident => match ctx.rb.incident_active_for_model(model).await? {
            Some(inc) if inc.status == IncidentStatus::Open => {
                ctx.rb
                    .incident_set_status(&inc.id, IncidentStatus::Mitigated, actor, &reason)
                    .await?;
                Ok(json!({"summary": format!("{} mitigated", inc.id), "incident_id": inc.id}))
            }
            Some(inc) => Ok(
                json!({"summary": format!("{} already {}", inc.id, inc.status), "incident_id": inc.id}),
            ),
            None => Ok(json!({"summary": "no open incident"})),
        },
        Action::WatchClosely {
            hours,
            interval_minutes,
        } => {
            let now = ctx.rb.clock.now();
            let w = Watch {
                model_name: model.clone(),
                until: now + Duration::hours(i64::from(hours)),
                interval_minutes,
                since: now,
            };
            let doc =
                serde_json::to_value(&w).map_err(|e| HandlerError::Internal(e.to_string()))?;
            ctx.rb
                .store
                .write(Write {
                    table: Table::WATCHES,
                    key: Key::pk(model.as_str()),
                    doc: Some(doc),
                    expect: Expect::Anything,
                    at: now,
                    audit: None,
                })
                .await?;
            Ok(
                json!({"summary": format!("watching closely for {hours} h (drift every {interval_minutes} min)"), "until": w.until}),
            )
        }
    }
}

fn capitalise(s: Severity) -> String {
    let t = s.to_string();
    let mut c = t.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}
