//! `tradai retrain status`

use super::name;
use crate::app::Global;
use crate::output::{emit, fields, opt, ts};
use clap::Subcommand;
use tradai_domain::ModelName;

#[derive(Debug, Subcommand)]
pub enum RetrainCmd {
    /// Retraining state of a model (`tradai-retraining-state-{env}`).
    Status { model: String },
}

pub async fn run(cmd: RetrainCmd, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    match cmd {
        RetrainCmd::Status { model } => {
            let model: ModelName = name(&model)?;
            let st = rb.retrain_state(&model).await?;
            let out = match &st {
                Some(s) => serde_json::to_value(s)?,
                None => {
                    serde_json::json!({"model_name": model, "status": "idle", "last_retrained": null})
                }
            };
            emit(g.json, &out, || match &st {
                Some(s) => fields(&[
                    ("model", s.model_name.to_string()),
                    ("status", s.status.to_string()),
                    (
                        "last_retrained",
                        s.last_retrained.as_ref().map_or("-".into(), ts),
                    ),
                    ("trigger", opt(&s.trigger)),
                    ("task", opt(&s.task_id)),
                    ("started", s.started_at.as_ref().map_or("-".into(), ts)),
                    ("finished", s.finished_at.as_ref().map_or("-".into(), ts)),
                    ("version", opt(&s.version)),
                    ("error", opt(&s.error)),
                ]),
                None => format!("{model} has never been retrained (status idle)"),
            })?;
        }
    }
    Ok(0)
}
