//! `tradai retrain MODEL [--force]`, `tradai retrain status MODEL`, `tradai retrain logs MODEL`.

use super::name;
use crate::app::{Global, usage};
use crate::output::{emit, fields, opt, out, ts};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;
use tradai_domain::ModelName;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RetrainArgs {
    /// Schedule retraining of MODEL now (the runbook's
    /// `{"models": [{"name": "MODEL"}], "force": false}`).
    #[arg(required = true)]
    pub model: Option<String>,
    /// Retrain even if the rules say it is not needed (recently retrained, no drift).
    #[arg(long)]
    pub force: bool,
    #[command(subcommand)]
    pub command: Option<RetrainCmd>,
}

#[derive(Debug, Subcommand)]
pub enum RetrainCmd {
    /// Retraining state of a model (`tradai-retraining-state-{env}`).
    Status { model: String },
    /// The output of the model's latest training task.
    Logs {
        model: String,
        /// Keep printing until the task ends.
        #[arg(long)]
        follow: bool,
    },
}

pub async fn run(a: RetrainArgs, g: &Global) -> anyhow::Result<u8> {
    match (a.command, a.model) {
        (Some(RetrainCmd::Status { model }), _) => status(&model, g).await,
        (Some(RetrainCmd::Logs { model, follow }), _) => logs(&model, follow, g).await,
        (None, Some(model)) => schedule(&model, a.force, g).await,
        (None, None) => Err(usage("name a model: `tradai retrain MODEL [--force]`")),
    }
}

async fn schedule(model: &str, force: bool, g: &Global) -> anyhow::Result<u8> {
    let model: ModelName = name(model)?;
    let ctx = g.ctx()?;
    let payload = json!({"models": [{"name": model}], "force": force, "trigger": "manual"});
    let result = tradai_handlers::invoke(&ctx, "retraining-scheduler", payload)
        .await
        .map_err(|e| {
            if e.is_usage() {
                usage(e.to_string())
            } else {
                anyhow::Error::new(e)
            }
        })?;
    let r = result["data"]["results"][0].clone();
    emit(g.json, &result, || match r["status"].as_str() {
        Some("triggered") => format!(
            "retraining of {model} triggered ({}): task {}, workflow {}\nfollow it with `tradai retrain logs {model} --follow`; `tradai up` carries the workflow on",
            r["trigger"].as_str().unwrap_or("-"),
            r["task_arn"].as_str().unwrap_or("-"),
            r["execution_id"].as_str().unwrap_or("-")
        ),
        _ => format!(
            "retraining of {model} not started: {} (use --force to retrain anyway)",
            r["reason"].as_str().unwrap_or("-")
        ),
    })?;
    Ok(if r["status"] == "error" { 2 } else { 0 })
}

async fn status(model: &str, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    let model: ModelName = name(model)?;
    let st = rb.retrain_state(&model).await?;
    let out = match &st {
        Some(s) => serde_json::to_value(s)?,
        None => json!({"model_name": model, "status": "idle", "last_retrained": null}),
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
            ("workflow", opt(&s.execution_id)),
            ("started", s.started_at.as_ref().map_or("-".into(), ts)),
            ("finished", s.finished_at.as_ref().map_or("-".into(), ts)),
            ("version", opt(&s.version)),
            ("error", opt(&s.error)),
        ]),
        None => format!("{model} has never been retrained (status idle)"),
    })?;
    Ok(0)
}

async fn logs(model: &str, follow: bool, g: &Global) -> anyhow::Result<u8> {
    let model: ModelName = name(model)?;
    let ctx = g.ctx()?;
    let task_id = match ctx.rb.retrain_state(&model).await?.and_then(|s| s.task_id) {
        Some(t) => t,
        None => {
            // Tasks started outside the workflow still count: the newest one for this model.
            let tasks = ctx
                .executor
                .list(Some(tradai_ports::RETRAINING_STARTED_BY))
                .await?;
            tasks
                .into_iter()
                .find(|t| t.spec.model == model.as_str())
                .map(|t| t.task_id)
                .ok_or_else(|| {
                    usage(format!(
                        "{model} has no training task yet (start one with `tradai retrain {model}`)"
                    ))
                })?
        }
    };
    let mut offset = 0u64;
    loop {
        let task = ctx.executor.describe(&task_id).await?;
        if let Ok(mut f) = std::fs::File::open(&task.log) {
            f.seek(SeekFrom::Start(offset))?;
            let mut buf = String::new();
            f.read_to_string(&mut buf)?;
            offset += buf.len() as u64;
            if !buf.is_empty() {
                out(buf.trim_end_matches('\n'))?;
            }
        }
        if !follow || task.status.is_final() {
            if follow {
                eprintln!("task {task_id} ended: {:?}", task.status);
            }
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
