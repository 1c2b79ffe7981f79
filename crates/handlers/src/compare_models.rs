//! compare-models (contracts §3): champion and challenger backtested on the same most recent
//! window, then `tradai_domain::decide::compare` (rules, weights and the confidence formula are
//! documented there). Any error keeps the champion.

use crate::{Ctx, HandlerError, parse, to_json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tradai_domain::ModelName;
use tradai_domain::decide::compare::{Comparison, Verdict, compare as decide};

/// The contract's input.
#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    pub model_name: String,
    /// A version number, or a stage name (`Production`, `Staging`).
    #[serde(default = "production")]
    pub champion_version: Value,
    #[serde(default = "staging")]
    pub challenger_version: Value,
}

fn production() -> Value {
    Value::from("Production")
}
fn staging() -> Value {
    Value::from("Staging")
}

/// The contract's output, plus the rules, the window and both metric sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub decision: Verdict,
    pub confidence: f64,
    pub profit_improvement: Option<f64>,
    pub recommendation: String,
    pub champion_version: Option<String>,
    pub challenger_version: Option<String>,
    #[serde(default)]
    pub details: Value,
}

fn keep(why: String, champion: Option<u64>, challenger: Option<u64>) -> Output {
    Output {
        decision: Verdict::Keep,
        confidence: 0.0,
        profit_improvement: None,
        recommendation: format!("Keep the champion: {why}"),
        champion_version: champion.map(|v| v.to_string()),
        challenger_version: challenger.map(|v| v.to_string()),
        details: Value::Null,
    }
}

async fn resolve(ctx: &Ctx, m: &ModelName, v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("invalid version {n}")),
        Value::String(s) if s.eq_ignore_ascii_case("production") => ctx
            .rb
            .model_serving(m)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|p| p.model_version.parse().ok())
            .ok_or_else(|| format!("{m} has no Production version")),
        Value::String(s) if s.eq_ignore_ascii_case("staging") => ctx
            .rb
            .model_latest_staging(m)
            .await
            .map_err(|e| e.to_string())?
            .map(|v| v.version)
            .ok_or_else(|| format!("{m} has no Staging version")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("invalid version '{s}' (a number, Production or Staging)")),
        other => Err(format!("invalid version {other}")),
    }
}

/// Compares two versions (never fails: errors become KEEP).
pub async fn compare(ctx: &Ctx, m: &ModelName, champion: u64, challenger: u64) -> Output {
    match ctx
        .evaluator
        .evaluate(m.as_str(), champion, challenger)
        .await
    {
        Err(e) => keep(
            format!("comparison failed ({e})"),
            Some(champion),
            Some(challenger),
        ),
        Ok(ev) => {
            let c: Comparison = decide(
                &ev.champion,
                &ev.challenger,
                ctx.rb.config.retraining.min_confidence_threshold,
            );
            Output {
                decision: c.decision,
                confidence: c.confidence,
                profit_improvement: c.profit_improvement,
                recommendation: c.recommendation,
                champion_version: Some(champion.to_string()),
                challenger_version: Some(challenger.to_string()),
                details: serde_json::json!({"rules": c.rules, "window_start": ev.window_start, "window_end": ev.window_end,
                                             "champion_metrics": ev.champion, "challenger_metrics": ev.challenger}),
            }
        }
    }
}

/// The handler.
pub async fn handle(ctx: &Ctx, payload: Value) -> Result<Value, HandlerError> {
    let input: Input = parse("compare-models", payload)?;
    let m = ModelName::new(input.model_name.clone())?;
    let champion = resolve(ctx, &m, &input.champion_version).await;
    let challenger = resolve(ctx, &m, &input.challenger_version).await;
    let out = match (champion, challenger) {
        (Ok(a), Ok(b)) if a == b => keep(
            format!("champion and challenger are the same version {a}"),
            Some(a),
            Some(b),
        ),
        (Ok(a), Ok(b)) => compare(ctx, &m, a, b).await,
        (Err(e), b) => keep(e, None, b.ok()),
        (a, Err(e)) => keep(e, a.ok(), None),
    };
    to_json(&out)
}
