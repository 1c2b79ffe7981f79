//! retraining-scheduler (contracts §3): for each model, check-retraining-needed; for each that
//! needs it, start a retraining workflow execution, which launches exactly one training task
//! (the retraining-state claim refuses a second one, even from a concurrent invocation).

use crate::check_retraining_needed::{self, Input as CheckInput};
use crate::{Ctx, HandlerError, parse, to_json, workflow};
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tradai_domain::ModelName;
use tradai_domain::decide::retraining::Decision;

/// A model in the input: a name, or an object with the name and per-run overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ModelSpec {
    Name(String),
    Full {
        name: String,
        #[serde(flatten)]
        overrides: serde_json::Map<String, Value>,
    },
}

/// The contract's input (the runbook's `{"models": [{"name": "M"}], "force": false}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    #[serde(default)]
    pub models: Option<Vec<ModelSpec>>,
    #[serde(default)]
    pub force: bool,
    /// A label recorded with the run (`manual`, `scheduled`, `policy`).
    #[serde(default)]
    pub trigger: Option<String>,
    #[serde(default)]
    pub config_version_id: Option<String>,
}

/// One model's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    pub model_name: String,
    /// `triggered`, `skipped` or `error`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours_since_last: Option<f64>,
    pub retraining_triggered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    pub timestamp: String,
}

/// Schedules one model; `label` is the caller's trigger label.
pub async fn schedule_one(
    ctx: &Ctx,
    name: &str,
    force: bool,
    manual: bool,
    label: &str,
    overrides: Value,
) -> Result<ModelResult, HandlerError> {
    let ts = ctx
        .rb
        .clock
        .now()
        .to_rfc3339_opts(SecondsFormat::Secs, false);
    let check = check_retraining_needed::check(
        ctx,
        &CheckInput {
            model_name: name.to_string(),
            force,
            manual_trigger: manual,
        },
    )
    .await?;
    let skipped = |reason: &str, hours: Option<f64>| ModelResult {
        model_name: name.to_string(),
        status: "skipped".into(),
        trigger: None,
        task_arn: None,
        reason: Some(reason.to_string()),
        hours_since_last: hours,
        retraining_triggered: false,
        execution_id: None,
        timestamp: ts.clone(),
    };
    match check.decision {
        Decision::RecentlyTrained => {
            return Ok(skipped("recently_retrained", check.hours_since_retrain));
        }
        Decision::NoRetraining => {
            return Ok(skipped("no_retraining_needed", check.hours_since_retrain));
        }
        Decision::InvalidModel => {
            return Ok(ModelResult {
                status: "error".into(),
                ..skipped(&check.reason, None)
            });
        }
        Decision::NeedsRetraining => {}
    }
    let input = workflow::Input {
        model_name: name.to_string(),
        force,
        manual_trigger: manual,
        config_version_id: None,
        overrides,
    };
    let (exec, owner) = workflow::start(ctx, input).await?;
    let exec = workflow::advance_as(ctx, &exec.execution_id, &owner).await?;
    let trigger = check
        .trigger
        .map(|t| t.to_string())
        .or(Some(label.to_string()));
    Ok(match (&exec.task_id, exec.status) {
        (Some(task), _) => ModelResult {
            model_name: name.to_string(),
            status: "triggered".into(),
            trigger,
            task_arn: Some(task.clone()),
            reason: None,
            hours_since_last: check.hours_since_retrain,
            retraining_triggered: true,
            execution_id: Some(exec.execution_id),
            timestamp: ts,
        },
        // No task of its own: another execution holds the model's retraining (the conditional
        // claim refused this one). Say so with a code, and name the task that is running.
        (None, _) => {
            let running = ctx
                .rb
                .retrain_state(&ModelName::new(name)?)
                .await?
                .filter(|r| r.status.in_progress());
            match running {
                Some(r) => ModelResult {
                    execution_id: Some(exec.execution_id.clone()),
                    task_arn: r.task_id,
                    ..skipped("already_retraining", check.hours_since_retrain)
                },
                None => ModelResult {
                    execution_id: Some(exec.execution_id.clone()),
                    ..skipped(
                        exec.error.as_deref().unwrap_or("not_started"),
                        check.hours_since_retrain,
                    )
                },
            }
        }
    })
}

/// The models the scheduler looks at when none are named: every model with a registered
/// version or traded by a strategy.
pub async fn configured_models(ctx: &Ctx) -> Result<Vec<String>, HandlerError> {
    let mut set: BTreeSet<String> = ctx
        .rb
        .model_names()
        .await?
        .into_iter()
        .map(|m| m.to_string())
        .collect();
    for s in ctx.rb.strategy_list().await? {
        set.insert(s.config.model.to_string());
    }
    Ok(set.into_iter().collect())
}

/// The handler.
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("retraining-scheduler", payload)?;
    let specs: Vec<(String, Value)> = match input.models {
        Some(list) => list
            .into_iter()
            .map(|m| match m {
                ModelSpec::Name(n) => (n, Value::Null),
                ModelSpec::Full { name, overrides } => (name, Value::Object(overrides)),
            })
            .collect(),
        None => configured_models(ctx)
            .await?
            .into_iter()
            .map(|n| (n, Value::Null))
            .collect(),
    };
    let label = input.trigger.unwrap_or_else(|| "manual".into());
    let mut results = Vec::new();
    let (mut triggered, mut skipped, mut errors) = (0, 0, 0);
    for (name, overrides) in specs {
        let r = match schedule_one(ctx, &name, input.force, false, &label, overrides).await {
            Ok(r) => r,
            Err(e) => ModelResult {
                model_name: name.clone(),
                status: "error".into(),
                trigger: None,
                task_arn: None,
                reason: Some(e.to_string()),
                hours_since_last: None,
                retraining_triggered: false,
                execution_id: None,
                timestamp: ctx
                    .rb
                    .clock
                    .now()
                    .to_rfc3339_opts(SecondsFormat::Secs, false),
            },
        };
        match r.status.as_str() {
            "triggered" => triggered += 1,
            "skipped" => skipped += 1,
            _ => errors += 1,
        }
        results.push(r);
    }
    to_json(&json!({
        "success": errors == 0,
        "data": {"summary": {"models_evaluated": results.len(), "retraining_triggered": triggered, "skipped": skipped, "errors": errors},
                 "results": results},
        "environment": ctx.env(),
    }))
}
