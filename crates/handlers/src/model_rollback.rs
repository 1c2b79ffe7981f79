//! model-rollback (contracts §3): dry run previews; otherwise refused inside the cooldown,
//! archive current Production → promote target → record rollback state → notify.

use crate::promote_model::version_of;
use crate::{Ctx, HandlerError, notify, parse, to_json};
use serde::Deserialize;
use serde_json::{Value, json};
use tradai_domain::{Actor, IncidentSeverity, ModelName, RollbackReason};
use tradai_ports::NotificationType;

/// The contract's input.
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    pub model_name: String,
    #[serde(default)]
    pub target_version: Option<Value>,
    #[serde(default = "manual")]
    pub reason: RollbackReason,
    #[serde(default)]
    pub alarm_name: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

fn manual() -> RollbackReason {
    RollbackReason::ManualRequest
}

/// The handler (actor `system`).
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("model-rollback", payload)?;
    let model = ModelName::new(input.model_name.clone())?;
    let to = input.target_version.as_ref().map(version_of).transpose()?;
    let o = ctx
        .rb
        .model_rollback(
            &model,
            to,
            input.reason,
            input.alarm_name.as_deref(),
            input.dry_run,
            &Actor::system(),
        )
        .await?;
    if o.rolled_back {
        let n = notify::note(
            ctx,
            NotificationType::DeploymentSuccess,
            IncidentSeverity::Warning,
            format!(
                "{model} rolled back from version {} to {}",
                o.from_version, o.to_version
            ),
            format!("reason: {}", o.reason),
            Some(model.as_str()),
            json!({"from_version": o.from_version, "to_version": o.to_version, "alarm_name": o.alarm_name}),
        );
        notify::send(ctx, n).await?;
    }
    to_json(&o)
}
