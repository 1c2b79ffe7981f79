//! `tradai incident …`

use super::name;
use crate::app::Global;
use crate::output::{emit, fields, opt, table, ts};
use clap::{Args, Subcommand};
use tradai_domain::{IncidentSeverity, IncidentStatus};
use tradai_runbook::incidents::NewIncident;

#[derive(Debug, Subcommand)]
pub enum IncidentCmd {
    /// Incidents, newest first.
    List {
        /// open, mitigated or resolved.
        #[arg(long)]
        status: Option<String>,
    },
    /// An incident and its timeline: the story of what happened.
    Show { id: String },
    /// Open an incident.
    Open(OpenArgs),
    /// Add a note to an incident's timeline.
    Note {
        id: String,
        /// The note.
        #[arg(long)]
        text: String,
    },
    /// Mark an incident mitigated.
    Mitigate {
        id: String,
        #[arg(long)]
        note: String,
    },
    /// Resolve an incident with the resolution details (the runbook's "update incident log").
    Resolve {
        id: String,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[arg(long)]
    pub title: String,
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long)]
    pub strategy: Option<String>,
    /// INFO, WARNING, ERROR or CRITICAL.
    #[arg(long, default_value = "WARNING")]
    pub severity: String,
}

pub async fn run(cmd: IncidentCmd, g: &Global) -> anyhow::Result<u8> {
    let rb = g.runbook()?;
    let actor = g.actor();
    match cmd {
        IncidentCmd::List { status } => {
            let status: Option<IncidentStatus> = status.as_deref().map(name).transpose()?;
            let list = rb.incident_list(status).await?;
            emit(g.json, &list, || {
                if list.is_empty() {
                    return "no incidents".into();
                }
                table(
                    &[
                        "id", "status", "severity", "model", "strategy", "opened", "title",
                    ],
                    list.iter()
                        .map(|i| {
                            vec![
                                i.id.clone(),
                                i.status.to_string(),
                                i.severity.to_string(),
                                opt(&i.model_name),
                                opt(&i.strategy_id),
                                ts(&i.opened_at),
                                i.title.clone(),
                            ]
                        })
                        .collect(),
                )
            })?;
        }
        IncidentCmd::Show { id } => {
            let story = rb.incident_show(&id).await?;
            emit(g.json, &story, || {
                let i = &story.incident;
                let mut s = fields(&[
                    ("incident", format!("{} — {}", i.id, i.title)),
                    ("status", i.status.to_string()),
                    ("severity", i.severity.to_string()),
                    ("model", opt(&i.model_name)),
                    ("strategy", opt(&i.strategy_id)),
                    ("opened", format!("{} by {}", ts(&i.opened_at), i.opened_by)),
                    ("resolution", opt(&i.resolution)),
                ]);
                s.push_str("\ntimeline:\n");
                for e in &story.timeline {
                    s.push_str(&format!(
                        "  {}  {:<8} {:<7} {}\n",
                        ts(&e.at),
                        e.actor,
                        e.kind,
                        e.text
                    ));
                }
                s
            })?;
        }
        IncidentCmd::Open(a) => {
            let new = NewIncident {
                title: a.title,
                model_name: a.model.as_deref().map(name).transpose()?,
                strategy_id: a.strategy.as_deref().map(name).transpose()?,
                severity: name::<IncidentSeverity>(&a.severity)?,
            };
            let inc = rb.incident_open(new, &actor).await?;
            emit(g.json, &inc, || {
                format!("opened {} — {}", inc.id, inc.title)
            })?;
        }
        IncidentCmd::Note { id, text } => {
            let e = rb
                .incident_note(&id, &actor, "note", &text, serde_json::Value::Null)
                .await?;
            emit(g.json, &e, || format!("noted on {id}"))?;
        }
        IncidentCmd::Mitigate { id, note } => {
            let inc = rb
                .incident_set_status(&id, IncidentStatus::Mitigated, &actor, &note)
                .await?;
            emit(g.json, &inc, || format!("{} is {}", inc.id, inc.status))?;
        }
        IncidentCmd::Resolve { id, note } => {
            let inc = rb
                .incident_set_status(&id, IncidentStatus::Resolved, &actor, &note)
                .await?;
            emit(g.json, &inc, || format!("{} is {}", inc.id, inc.status))?;
        }
    }
    Ok(0)
}
