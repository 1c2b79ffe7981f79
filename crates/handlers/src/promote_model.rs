//! promote-model (contracts §3): archive the current Production version, promote the new one
//! (default: the latest Staging), move the serving pointer, notify.

use crate::{Ctx, HandlerError, notify, parse, to_json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tradai_domain::{Actor, IncidentSeverity, ModelName};
use tradai_ports::NotificationType;

/// The contract's input.
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    pub model_name: String,
    /// Version to promote (text or number); default the latest Staging version.
    #[serde(default)]
    pub new_version: Option<Value>,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The contract's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub promoted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_version: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub already_promoted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_path: Option<String>,
}

/// Parses a version given as `"3"` or `3`.
pub(crate) fn version_of(v: &Value) -> Result<u64, HandlerError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        HandlerError::BadInput(format!(
            "invalid version {v}: expected a positive whole number such as \"3\""
        ))
    })
}

/// Promotes as `actor`.
pub async fn promote(ctx: &Ctx, input: &Input, actor: &Actor) -> Result<Output, HandlerError> {
    let model = ModelName::new(input.model_name.clone())?;
    let version = match &input.new_version {
        Some(v) => version_of(v)?,
        None => match ctx.rb.model_latest_staging(&model).await? {
            Some(v) => v.version,
            None => {
                return Ok(Output {
                    promoted: false,
                    new_version: None,
                    new_stage: None,
                    archived_version: None,
                    already_promoted: false,
                    reason: Some("No Staging version found".into()),
                    model_path: None,
                });
            }
        },
    };
    let why = input
        .reason
        .clone()
        .or_else(|| input.confidence.map(|c| format!("confidence {c:.2}")));
    let o = ctx
        .rb
        .model_promote(&model, version, actor, why.as_deref())
        .await?;
    if !o.already_promoted {
        let n = notify::note(
            ctx,
            NotificationType::ModelPromoted,
            IncidentSeverity::Info,
            format!("{model} version {} promoted to Production", o.new_version),
            format!(
                "archived version: {}",
                o.archived_version.as_deref().unwrap_or("none")
            ),
            Some(model.as_str()),
            json!({"new_version": o.new_version, "archived_version": o.archived_version, "confidence": input.confidence}),
        );
        notify::send(ctx, n).await?;
    }
    Ok(Output {
        promoted: true,
        new_version: Some(o.new_version),
        new_stage: Some(o.new_stage.to_string()),
        archived_version: o.archived_version,
        already_promoted: o.already_promoted,
        reason: None,
        model_path: Some(o.model_path),
    })
}

/// The handler (actor `system`).
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("promote-model", payload)?;
    to_json(&promote(ctx, &input, &Actor::system()).await?)
}
