//! The demo's timeline: what happened, read back from the store and the handlers' outputs.
//!
//! Nothing here is scripted: every line comes from a drift-monitor result, an audit entry, a
//! workflow transition, a delivered notification or the runner's own report.

use crate::DemoError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tradai_daemon::TickReport;
use tradai_domain::{ModelName, Severity};
use tradai_handlers::drift_monitor::ModelResult;
use tradai_handlers::{Ctx, workflow};
use tradai_ports::Notification;
use tradai_runner::StepReport;

/// One line of the story.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// Market time.
    pub at: DateTime<Utc>,
    /// Who acted: `policy`, `system`, `drift-monitor`, `workflow`, `runner`, the operator.
    pub who: String,
    pub what: String,
}

/// Audit actions too frequent to tell (they are in `tradai audit`).
const QUIET: &[&str] = &[
    "drift.update",
    "drift.record",
    "alarm.",
    "incident.timeline",
];

pub(crate) struct Tracker {
    pub notifications: Arc<Mutex<Vec<Notification>>>,
    last_audit: Option<String>,
    /// Time of the last told audit entry: the next read starts there (inclusive), not at the
    /// beginning of the log.
    last_audit_at: Option<DateTime<Utc>>,
    last_severity: Severity,
    pub max_severity: Severity,
    pub outcome: Option<String>,
    pub challenger: Option<u64>,
    /// The version the incident's retraining compared the challenger with.
    pub champion: Option<u64>,
    steps_told: BTreeMap<String, usize>,
    finished: bool,
    version: Option<String>,
    told_skip: bool,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            notifications: Arc::new(Mutex::new(Vec::new())),
            last_audit: None,
            last_audit_at: None,
            last_severity: Severity::None,
            max_severity: Severity::None,
            outcome: None,
            challenger: None,
            champion: None,
            steps_told: BTreeMap::new(),
            finished: false,
            version: None,
            told_skip: false,
        }
    }
}

impl Tracker {
    /// Whether a retraining workflow has run to an outcome (promoted, kept, …).
    pub fn retraining_finished(&self) -> bool {
        self.finished
    }

    /// Starts the audit trail after the setup (which `prepare` already told).
    pub async fn skip_audit_until(
        &mut self,
        rb: &tradai_runbook::Runbook,
    ) -> Result<(), DemoError> {
        let last = rb
            .audit(None, None, None)
            .await?
            .into_iter()
            .max_by(|a, b| a.id.cmp(&b.id));
        self.last_audit_at = last.as_ref().map(|e| e.at);
        self.last_audit = last.map(|e| e.id);
        Ok(())
    }

    /// Tells audit entries written since the last call.
    pub async fn flush_audit(
        &mut self,
        ctx: &Ctx,
        out: &mut dyn FnMut(&TimelineEntry),
    ) -> Result<(), DemoError> {
        let mut entries = ctx.rb.audit(self.last_audit_at, None, None).await?;
        entries.retain(|e| self.last_audit.as_ref().is_none_or(|l| e.id > *l));
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        for e in entries {
            self.last_audit = Some(e.id.clone());
            self.last_audit_at = Some(e.at);
            if QUIET.iter().any(|q| e.action.starts_with(q)) || e.action.is_empty() {
                continue;
            }
            let entity = readable_entity(&e.entity);
            out(&TimelineEntry {
                at: e.at,
                who: e.actor.clone(),
                what: match &e.reason {
                    Some(r) if !r.is_empty() => format!("{} {entity}: {r}", e.action),
                    _ => format!("{} {entity}", e.action),
                },
            });
        }
        Ok(())
    }

    /// Tells what one market hour brought.
    pub async fn record(
        &mut self,
        ctx: &Ctx,
        model: &ModelName,
        step: &StepReport,
        tick: &TickReport,
        out: &mut dyn FnMut(&TimelineEntry),
    ) -> Result<(), DemoError> {
        let now = ctx.rb.clock.now();
        let mut say = |who: &str, what: String| {
            out(&TimelineEntry {
                at: now,
                who: who.into(),
                what,
            })
        };
        if let (Some(v), Some(old)) = (&step.model_version, &self.version)
            && v != old
        {
            say(
                "runner",
                format!(
                    "{}: now predicting with {model} v{v} (was v{old})",
                    step.ts.format("%H:%M")
                ),
            );
        }
        if step.model_version.is_some() {
            self.version.clone_from(&step.model_version);
        }
        match &step.action {
            tradai_runner::Action::EntrySkipped { why } if !self.told_skip && *why == "paused" => {
                self.told_skip = true;
                say("runner", "entry signal skipped: trading is paused".into());
            }
            tradai_runner::Action::Entered { .. } => self.told_skip = false,
            _ => {}
        }
        for (handler, output) in &tick.ran {
            if !handler.starts_with("drift-monitor") {
                continue;
            }
            let results: Vec<ModelResult> =
                serde_json::from_value(output["results"].clone()).unwrap_or_default();
            for r in results.iter().filter(|r| r.model_name == model.as_str()) {
                self.max_severity = self.max_severity.max(r.severity);
                if r.severity != self.last_severity {
                    let detail = match &r.feature_drift {
                        Some(f) => {
                            let sig: Vec<String> = f
                                .features
                                .iter()
                                .filter(|x| x.significant)
                                .take(3)
                                .map(|x| {
                                    format!(
                                        "{} {:.2} (n_eff {:.1}, p {:.4})",
                                        x.feature, x.psi, x.effective_samples, x.p_value
                                    )
                                })
                                .collect();
                            let top = if sig.is_empty() {
                                String::new()
                            } else {
                                format!("; significant: {}", sig.join(", "))
                            };
                            format!(
                                "feature PSI {:.3} over {} live candles of v{}{top}",
                                f.overall_psi, f.samples, f.version
                            )
                        }
                        None => match r.overall_psi {
                            Some(p) => format!("PSI {p:.3}"),
                            None => {
                                "no PSI yet: too few live candles of the serving version".into()
                            }
                        },
                    };
                    say(
                        "drift-monitor",
                        format!(
                            "{model} drift {} → {} ({detail})",
                            self.last_severity, r.severity
                        ),
                    );
                    self.last_severity = r.severity;
                }
            }
        }
        let notes: Vec<Notification> = self
            .notifications
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        for n in notes {
            say("notify", format!("[{}] {}", n.severity, n.title));
        }
        // The story: the first incident of the model, and the retraining it started.
        let incident_opened = ctx
            .rb
            .incident_list(None)
            .await?
            .into_iter()
            .filter(|i| i.model_name.as_ref() == Some(model))
            .map(|i| i.opened_at)
            .min();
        for exec in workflow::list(ctx).await? {
            if exec.model_name != model.as_str() {
                continue;
            }
            let told = self
                .steps_told
                .entry(exec.execution_id.clone())
                .or_insert(0);
            for s in exec.history.iter().skip(*told) {
                out(&TimelineEntry {
                    at: s.at,
                    who: "workflow".into(),
                    what: format!("{:?}: {}", s.state, s.note),
                });
            }
            *told = exec.history.len();
            if exec.status != workflow::Status::Running
                && incident_opened.is_some_and(|t| exec.created_at >= t)
                && let Some(o) = exec.outcome
                && !self.finished
            {
                self.finished = true;
                self.challenger = exec.new_version;
                self.champion = exec.champion_version;
                self.outcome = serde_json::to_value(o)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
            }
        }
        self.flush_audit(ctx, out).await
    }
}

/// `model-registry/demo-model#v#0000000002` → `demo-model v2`; `trading-state/S1` → `S1`.
fn readable_entity(entity: &str) -> String {
    let rest = entity.split_once('/').map_or(entity, |(_, r)| r);
    match rest.split_once("#v#") {
        Some((m, v)) => format!("{m} v{}", v.trim_start_matches('0')),
        None => rest.to_string(),
    }
}
