//! trading-heartbeat-check (contracts §3): stale `warmup`/`running` strategies, an alert after
//! `CONSECUTIVE_FAILURES_THRESHOLD` consecutive stale checks, and the `heartbeat-stale` alarm.

use crate::{Ctx, HandlerError, alarms, notify, to_json};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tradai_domain::IncidentSeverity;
use tradai_domain::decide::alarm::Band;
use tradai_domain::decide::heartbeat::{Health, health, next_count};
use tradai_ports::{Key, NotificationType, Table};

/// The contract's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub active_strategies: usize,
    pub stale: usize,
    pub healthy: usize,
    pub alerts_sent: usize,
    pub latency_ms: u64,
}

/// Output: `{"summary": …}` plus the stale strategies' ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub summary: Summary,
    pub stale_strategies: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Count {
    consecutive_stale: u32,
}

/// The handler (input is ignored: it checks every strategy).
pub async fn handle(ctx: &Ctx, _payload: Value) -> Result<Value, HandlerError> {
    let started = std::time::Instant::now();
    let now = ctx.rb.clock.now();
    let cfg = &ctx.rb.config.notify;
    let threshold = Duration::minutes(i64::from(cfg.heartbeat_threshold_minutes));
    let mut s = Summary {
        active_strategies: 0,
        stale: 0,
        healthy: 0,
        alerts_sent: 0,
        latency_ms: 0,
    };
    let mut stale_ids = Vec::new();
    for st in ctx.rb.trading_status_all().await? {
        let h = health(st.status, st.last_heartbeat.as_deref(), now, threshold);
        if h == Health::Inactive {
            continue;
        }
        s.active_strategies += 1;
        let key = Key::pk(st.strategy_id.as_str());
        let prev = ctx.rb.store.get(Table::HEARTBEAT_CHECKS, &key).await?;
        let prev_count = prev
            .as_ref()
            .and_then(|i| serde_json::from_value::<Count>(i.doc.clone()).ok())
            .map_or(0, |c| c.consecutive_stale);
        let (count, alert) = next_count(prev_count, h, cfg.consecutive_failures_threshold);
        let doc = serde_json::to_value(Count {
            consecutive_stale: count,
        })
        .map_err(|e| HandlerError::Internal(e.to_string()))?;
        let w = tradai_ports::Write {
            table: Table::HEARTBEAT_CHECKS,
            key,
            doc: Some(doc),
            expect: tradai_ports::Expect::Anything,
            at: now,
            audit: None,
        };
        ctx.rb.store.write(w).await?;
        match h {
            Health::Stale => {
                s.stale += 1;
                stale_ids.push(st.strategy_id.to_string());
            }
            _ => s.healthy += 1,
        }
        if alert {
            let n = notify::note(
                ctx,
                NotificationType::Generic,
                IncidentSeverity::Error,
                format!("Strategy {} heartbeat is stale", st.strategy_id),
                format!(
                    "{} consecutive checks without a heartbeat newer than {} minutes (last: {})",
                    count,
                    cfg.heartbeat_threshold_minutes,
                    st.last_heartbeat.as_deref().unwrap_or("never")
                ),
                None,
                serde_json::json!({"strategy_id": st.strategy_id, "status": st.status, "last_heartbeat": st.last_heartbeat}),
            );
            let n = tradai_ports::Notification {
                strategy_name: Some(st.strategy_id.to_string()),
                ..n
            };
            if notify::send(ctx, n).await?.sent {
                s.alerts_sent += 1;
            }
        }
    }
    // The alarm is in ALARM while any strategy is stale (no hysteresis needed for a count).
    let name = ctx.alarm_name("heartbeat-stale");
    let reason = if stale_ids.is_empty() {
        "all active strategies are healthy".to_string()
    } else {
        format!("stale: {}", stale_ids.join(", "))
    };
    alarms::evaluate(
        ctx,
        &name,
        s.stale as f64,
        Band {
            enter: 1.0,
            exit: 1.0,
        },
        &reason,
    )
    .await?;
    s.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    to_json(&Output {
        summary: s,
        stale_strategies: stale_ids,
    })
}
