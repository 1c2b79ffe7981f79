//! `tradai audit`

use crate::app::{Global, usage};
use crate::output::{emit, table, ts};
use clap::Args;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries since a time (2024-02-07T12:00:00Z) or a duration ago (24h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries about a strategy, model or incident (`S1`, `PascalStrategy`, `INC-1`) or a
    /// table (`trading-state`).
    #[arg(long)]
    pub entity: Option<String>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
}

fn short(v: &Option<serde_json::Value>) -> String {
    match v {
        None => "-".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(59).collect::<String>())
            } else {
                s
            }
        }
    }
}

pub async fn run(a: AuditArgs, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    let since = a
        .since
        .as_deref()
        .map(|s| tradai_domain::time::parse_since("--since", s, chrono::Utc::now()))
        .transpose()
        .map_err(|e| usage(e.to_string()))?;
    let entries = rb.audit(since, a.entity, Some(a.limit)).await?;
    emit(g.json, &entries, || {
        if entries.is_empty() {
            return "no audit entries".into();
        }
        table(
            &["time", "actor", "action", "entity", "reason", "after"],
            entries
                .iter()
                .map(|e| {
                    vec![
                        ts(&e.at),
                        e.actor.clone(),
                        e.action.clone(),
                        e.entity.clone(),
                        e.reason.clone().unwrap_or_default(),
                        short(&e.after),
                    ]
                })
                .collect(),
        )
    })?;
    Ok(0)
}
