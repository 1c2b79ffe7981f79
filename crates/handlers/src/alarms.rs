//! Alarm states (`tradai-{env}-drift-moderate`, `-drift-significant`, `-heartbeat-stale`) with
//! history; a state change notifies. The hysteresis rule is `tradai_domain::decide::alarm`.

use crate::{Ctx, HandlerError, notify};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tradai_domain::IncidentSeverity;
use tradai_domain::decide::alarm::{AlarmState, Band, next};
use tradai_ports::state::new_id;
use tradai_ports::{Expect, Key, NotificationType, Query, Table, Write};

/// An alarm's current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    pub state: AlarmState,
    pub value: Option<f64>,
    pub reason: String,
    pub updated_at: DateTime<Utc>,
}

/// Evaluates alarm `name` on a new value; records and notifies a state change. Returns the
/// alarm and whether its state changed.
pub async fn evaluate(
    ctx: &Ctx,
    name: &str,
    value: f64,
    band: Band,
    reason: &str,
) -> Result<(Alarm, bool), HandlerError> {
    let now = ctx.rb.clock.now();
    let key = Key::pk(name);
    let current = ctx.rb.store.get(Table::ALARMS, &key).await?;
    let (prev, expect) = match &current {
        Some(item) => (
            serde_json::from_value::<Alarm>(item.doc.clone())
                .map(|a| a.state)
                .unwrap_or(AlarmState::Ok),
            Expect::Rev(item.rev),
        ),
        None => (AlarmState::Ok, Expect::Absent),
    };
    let state = next(prev, value, band);
    let alarm = Alarm {
        name: name.to_string(),
        state,
        value: value.is_finite().then_some(value),
        reason: reason.to_string(),
        updated_at: now,
    };
    let doc = serde_json::to_value(&alarm).map_err(|e| HandlerError::Internal(e.to_string()))?;
    ctx.rb
        .store
        .write(Write {
            table: Table::ALARMS,
            key,
            doc: Some(doc.clone()),
            expect,
            at: now,
            audit: None,
        })
        .await?;
    let changed = state != prev;
    if changed {
        let hk = Key::new(
            name,
            format!(
                "{}#{}",
                now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                new_id(now)
            ),
        );
        ctx.rb
            .store
            .write(Write {
                table: Table::ALARM_HISTORY,
                key: hk,
                doc: Some(doc),
                expect: Expect::Absent,
                at: now,
                audit: None,
            })
            .await?;
        let sev = if state == AlarmState::Alarm {
            IncidentSeverity::Warning
        } else {
            IncidentSeverity::Info
        };
        let n = notify::note(
            ctx,
            NotificationType::Generic,
            sev,
            format!("{name}: {prev} -> {state}"),
            reason.to_string(),
            None,
            serde_json::json!({"alarm_name": name, "value": value, "enter": band.enter, "exit": band.exit}),
        );
        notify::send(ctx, n).await?;
    }
    Ok((alarm, changed))
}

/// Every alarm's current state.
pub async fn list(ctx: &Ctx) -> Result<Vec<Alarm>, HandlerError> {
    Ok(ctx
        .rb
        .store
        .scan(Table::ALARMS)
        .await?
        .into_iter()
        .filter_map(|i| serde_json::from_value(i.doc).ok())
        .collect())
}

/// State changes of one alarm, newest first.
pub async fn history(ctx: &Ctx, name: &str, limit: usize) -> Result<Vec<Alarm>, HandlerError> {
    let q = Query {
        descending: true,
        limit: Some(limit),
        ..Default::default()
    };
    Ok(ctx
        .rb
        .store
        .query(Table::ALARM_HISTORY, name, q)
        .await?
        .into_iter()
        .filter_map(|i| serde_json::from_value(i.doc).ok())
        .collect())
}
