//! check-retraining-needed (contracts §3): gathers the facts and applies the decision order of
//! `tradai_domain::decide::retraining`.

use crate::{Ctx, HandlerError, parse, to_json};
use serde::Deserialize;
use serde_json::Value;
use tradai_domain::ModelName;
use tradai_domain::decide::retraining::{Facts, Outcome, Rules, decide};

/// The contract's input.
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    pub model_name: String,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub manual_trigger: bool,
}

/// Decides for one model.
pub async fn check(ctx: &Ctx, input: &Input) -> Result<Outcome, HandlerError> {
    let cfg = &ctx.rb.config.retraining;
    let rules = Rules {
        allowed_models: cfg.allowed_models.clone(),
        min_hours_between_retraining: cfg.min_hours_between_retraining,
        retraining_interval_days: cfg.retraining_interval_days,
    };
    let (mut last_retrained, mut drift) = (None, None);
    if let Ok(model) = ModelName::new(input.model_name.clone()) {
        last_retrained = ctx
            .rb
            .retrain_state(&model)
            .await?
            .and_then(|s| s.last_retrained);
        drift = match ctx.rb.drift_show(&model).await {
            Ok(d) => Some((d.severity, d.overall_psi)),
            Err(tradai_runbook::RunbookError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
    }
    let facts = Facts {
        model_name: input.model_name.clone(),
        force: input.force,
        manual_trigger: input.manual_trigger,
        last_retrained,
        drift,
        now: ctx.rb.clock.now(),
    };
    Ok(decide(&facts, &rules))
}

/// The handler.
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("check-retraining-needed", payload)?;
    to_json(&check(ctx, &input).await?)
}
