//! The control handlers of the drift-response runbook.
//!
//! One module per contract of `contracts.md` §3. Each handler takes the contract's JSON input
//! and returns its JSON output, working only through the ports — the same function serves
//! `tradai invoke NAME`, the daemon's schedules, and (later) a Lambda.
//!
//! Architecture invariant: handlers decide nothing themselves; rules live in `tradai-domain`,
//! state operations in `tradai-runbook`. A handler reads, calls a decision, and writes.
#![forbid(unsafe_code)]

pub mod alarms;
pub mod check_retraining_needed;
pub mod compare_models;
pub mod ctx;
pub mod drift_monitor;
pub mod error;
pub mod heartbeat_check;
pub mod model_rollback;
pub mod notify;
pub mod orphan_scanner;
pub mod policy;
pub mod promote_model;
pub mod retraining_scheduler;
pub mod workflow;

pub use ctx::Ctx;
pub use error::HandlerError;

use serde_json::Value;

/// Every handler name `tradai invoke` accepts.
pub const HANDLERS: &[&str] = &[
    "check-retraining-needed",
    "compare-models",
    "drift-monitor",
    "heartbeat-check",
    "model-rollback",
    "notify",
    "orphan-scanner",
    "promote-model",
    "retraining-scheduler",
    "retraining-workflow",
];

/// Runs handler `name` on `payload`.
pub async fn invoke(ctx: &Ctx, name: &str, payload: Value) -> Result<Value, HandlerError> {
    match name {
        "check-retraining-needed" => check_retraining_needed::handle(ctx, payload).await,
        "compare-models" => compare_models::handle(ctx, payload).await,
        "drift-monitor" => drift_monitor::handle(ctx, payload).await,
        "orphan-scanner" => orphan_scanner::handle(ctx, payload).await,
        "retraining-scheduler" => retraining_scheduler::handle(ctx, payload).await,
        "retraining-workflow" => workflow::handle(ctx, payload).await,
        "heartbeat-check" | "trading-heartbeat-check" => {
            heartbeat_check::handle(ctx, payload).await
        }
        "model-rollback" => model_rollback::handle(ctx, payload).await,
        "notify" => notify::handle(ctx, payload).await,
        "promote-model" => promote_model::handle(ctx, payload).await,
        other => Err(HandlerError::BadInput(format!(
            "unknown handler '{other}' (expected one of: {})",
            HANDLERS.join(", ")
        ))),
    }
}

/// Parses a handler's input, naming the handler in the error.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    handler: &str,
    payload: Value,
) -> Result<T, HandlerError> {
    let payload = if payload.is_null() {
        Value::Object(Default::default())
    } else {
        payload
    };
    serde_json::from_value(payload)
        .map_err(|e| HandlerError::BadInput(format!("{handler} payload: {e}")))
}

/// Serialises a handler's output.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, HandlerError> {
    serde_json::to_value(v).map_err(|e| HandlerError::Internal(e.to_string()))
}
