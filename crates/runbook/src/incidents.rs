//! Incidents: one record per drift episode and a timeline of everything done about it.

use crate::store_ext::{self, Change};
use crate::{Incident, IncidentStory, Runbook, RunbookError, TimelineEntry};
use serde_json::Value;
use tradai_domain::{Actor, IncidentSeverity, IncidentStatus, ModelName, StrategyId, Transition};
use tradai_ports::{Key, Query, Table};

const COUNTER_PK: &str = "#counter";

/// What an incident is about.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub model_name: Option<ModelName>,
    pub strategy_id: Option<StrategyId>,
    pub severity: IncidentSeverity,
}

impl Runbook {
    /// Opens an incident (`INC-1`, `INC-2`, …) with an `opened` timeline entry.
    pub async fn incident_open(
        &self,
        new: NewIncident,
        actor: &Actor,
    ) -> Result<Incident, RunbookError> {
        if new.title.trim().is_empty() {
            return Err(tradai_domain::DomainError::invalid(
                "incident title",
                "",
                "must not be empty",
            )
            .into());
        }
        let now = self.clock.now();
        let n = store_ext::next_counter(&*self.store, Table::INCIDENTS, &Key::pk(COUNTER_PK), now)
            .await?;
        let inc = Incident {
            id: format!("INC-{n}"),
            title: new.title,
            model_name: new.model_name,
            strategy_id: new.strategy_id,
            severity: new.severity,
            status: IncidentStatus::Open,
            opened_at: now,
            opened_by: actor.to_string(),
            updated_at: now,
            resolved_at: None,
            resolution: None,
        };
        let change = Change {
            actor: actor.as_str(),
            action: "incident.open",
            reason: None,
            at: now,
        };
        store_ext::insert(
            &*self.store,
            Table::INCIDENTS,
            Key::pk(&inc.id),
            &inc,
            &change,
        )
        .await?;
        self.timeline_append(&inc.id, actor, "opened", &inc.title, Value::Null)
            .await?;
        Ok(inc)
    }

    /// One incident.
    pub async fn incident_get(&self, id: &str) -> Result<Incident, RunbookError> {
        store_ext::get(&*self.store, Table::INCIDENTS, &Key::pk(id))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| RunbookError::not_found("incident", id, "see `tradai incident list`"))
    }

    /// An incident with its timeline: the story of what happened.
    pub async fn incident_show(&self, id: &str) -> Result<IncidentStory, RunbookError> {
        let incident = self.incident_get(id).await?;
        let timeline =
            store_ext::query(&*self.store, Table::INCIDENT_TIMELINE, id, Query::default()).await?;
        Ok(IncidentStory { incident, timeline })
    }

    /// Incidents, newest first, optionally of one status.
    pub async fn incident_list(
        &self,
        status: Option<IncidentStatus>,
    ) -> Result<Vec<Incident>, RunbookError> {
        let mut all: Vec<Incident> =
            store_ext::scan(&*self.store, Table::INCIDENTS, |k| k.pk != COUNTER_PK).await?;
        all.retain(|i| status.is_none_or(|s| i.status == s));
        all.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    /// The newest incident about `model` that is not resolved.
    pub async fn incident_active_for_model(
        &self,
        model: &ModelName,
    ) -> Result<Option<Incident>, RunbookError> {
        Ok(self
            .incident_list(None)
            .await?
            .into_iter()
            .find(|i| i.status != IncidentStatus::Resolved && i.model_name.as_ref() == Some(model)))
    }

    /// Adds an entry to an incident's timeline (`note`, `action`, …).
    pub async fn incident_note(
        &self,
        id: &str,
        actor: &Actor,
        kind: &str,
        text: &str,
        data: Value,
    ) -> Result<TimelineEntry, RunbookError> {
        if text.trim().is_empty() {
            return Err(
                tradai_domain::DomainError::invalid("note", "", "must not be empty").into(),
            );
        }
        self.incident_get(id).await?;
        self.timeline_append(id, actor, kind, text, data).await
    }

    /// Moves an incident to `to` (mitigated, resolved, or re-opened) with a timeline entry.
    pub async fn incident_set_status(
        &self,
        id: &str,
        to: IncidentStatus,
        actor: &Actor,
        note: &str,
    ) -> Result<Incident, RunbookError> {
        if note.trim().is_empty() {
            return Err(tradai_domain::DomainError::invalid(
                "note",
                "",
                "must not be empty: say what resolved it",
            )
            .into());
        }
        let now = self.clock.now();
        let action = format!("incident.{to}");
        let change = Change {
            actor: actor.as_str(),
            action: &action,
            reason: Some(note),
            at: now,
        };
        let up = store_ext::update(
            &*self.store,
            Table::INCIDENTS,
            &Key::pk(id),
            &change,
            |cur: Option<Incident>| {
                let cur = cur.ok_or_else(|| {
                    RunbookError::not_found("incident", id, "see `tradai incident list`")
                })?;
                cur.status.check_transition(to)?;
                let resolved = to == IncidentStatus::Resolved;
                Ok(Incident {
                    status: to,
                    updated_at: now,
                    resolved_at: if resolved { Some(now) } else { cur.resolved_at },
                    resolution: if resolved {
                        Some(note.to_string())
                    } else {
                        cur.resolution.clone()
                    },
                    ..cur
                })
            },
        )
        .await?;
        if up.changed {
            self.timeline_append(
                id,
                actor,
                "status",
                &format!("{to}: {note}"),
                serde_json::json!({"status": to}),
            )
            .await?;
        }
        Ok(up.after)
    }

    async fn timeline_append(
        &self,
        id: &str,
        actor: &Actor,
        kind: &str,
        text: &str,
        data: Value,
    ) -> Result<TimelineEntry, RunbookError> {
        let now = self.clock.now();
        let entry = TimelineEntry {
            incident_id: id.to_string(),
            at: now,
            actor: actor.to_string(),
            kind: kind.to_string(),
            text: text.to_string(),
            data,
        };
        let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let key = Key::new(id, format!("{ts}#{}", tradai_ports::state::new_id(now)));
        let change = Change {
            actor: actor.as_str(),
            action: "incident.timeline",
            reason: Some(text),
            at: now,
        };
        store_ext::insert(&*self.store, Table::INCIDENT_TIMELINE, key, &entry, &change).await?;
        Ok(entry)
    }
}
