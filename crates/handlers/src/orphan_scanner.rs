//! orphan-scanner (contracts §3): training tasks running longer than `MAX_TASK_RUNTIME_HOURS`,
//! without a retraining-state record, or whose record says completed/failed. `dry_run` (default
//! true) only reports; otherwise the orphans are stopped.

use crate::{Ctx, HandlerError, parse, to_json};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tradai_domain::{ModelName, RetrainingStatus};
use tradai_ports::RETRAINING_STARTED_BY;

/// The input.
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    #[serde(default = "yes")]
    pub dry_run: bool,
}

fn yes() -> bool {
    true
}

/// One orphan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Orphan {
    pub task_id: String,
    pub model_name: String,
    /// `exceeded_max_runtime`, `no_state_record`, `state_finished`.
    pub reason: String,
    pub running_hours: f64,
    pub stopped: bool,
}

/// The output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub dry_run: bool,
    pub tasks_scanned: usize,
    pub orphans: Vec<Orphan>,
}

/// The handler.
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("orphan-scanner", payload)?;
    let now = ctx.rb.clock.now();
    let max = Duration::milliseconds(
        (ctx.rb.config.retraining.max_task_runtime_hours * 3_600_000.0) as i64,
    );
    let tasks = ctx.executor.list(Some(RETRAINING_STARTED_BY)).await?;
    let mut out = Output {
        dry_run: input.dry_run,
        tasks_scanned: tasks.len(),
        orphans: vec![],
    };
    for t in tasks.into_iter().filter(|t| !t.status.is_final()) {
        let started = t.started_at.unwrap_or(t.created_at);
        let running = now - started;
        let state = match ModelName::new(t.spec.model.clone()) {
            Ok(m) => ctx.rb.retrain_state(&m).await?,
            Err(_) => None,
        };
        let reason = if running > max {
            Some("exceeded_max_runtime")
        } else {
            match &state {
                None => Some("no_state_record"),
                Some(s)
                    if s.task_id.as_deref() != Some(t.task_id.as_str())
                        && !s.status.in_progress() =>
                {
                    Some("no_state_record")
                }
                Some(s)
                    if matches!(
                        s.status,
                        RetrainingStatus::Completed
                            | RetrainingStatus::Failed
                            | RetrainingStatus::Cancelled
                    ) && s.task_id.as_deref() == Some(t.task_id.as_str()) =>
                {
                    Some("state_finished")
                }
                _ => None,
            }
        };
        if let Some(reason) = reason {
            let stopped = if input.dry_run {
                false
            } else {
                ctx.executor
                    .stop(&t.task_id, &format!("orphan-scanner: {reason}"))
                    .await?;
                true
            };
            out.orphans.push(Orphan {
                task_id: t.task_id,
                model_name: t.spec.model,
                reason: reason.into(),
                running_hours: (running.num_seconds() as f64 / 360.0).round() / 10.0,
                stopped,
            });
        }
    }
    to_json(&out)
}
